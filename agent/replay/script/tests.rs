//! Tests of `script`.

use super::*;
use crate::fixtures;
use crate::replay::plan::PlanBuilder;

fn open(conn: u64, ts: u64) -> Frame {
    let client = format!("127.0.0.1:{}", 5000 + conn);
    fixtures::frame(
        conn,
        ts,
        fixtures::open_to(&client, "127.0.0.1:6379", false),
    )
}

fn data(conn: u64, ts: u64, dir: Direction, b: &'static [u8]) -> Frame {
    fixtures::frame(conn, ts, fixtures::data(dir, b))
}

fn close(conn: u64, ts: u64) -> Frame {
    fixtures::frame(conn, ts, fixtures::close("client closed"))
}

fn frames() -> Vec<Frame> {
    vec![
        open(1, 0),
        data(1, 10, Direction::C2s, b"SET a 1"),
        data(1, 20, Direction::S2c, b"OK"),
        open(2, 30),
        data(2, 40, Direction::C2s, b"GET a"),
        data(2, 50, Direction::S2c, b"1"),
        data(1, 60, Direction::C2s, b"INCR a"),
        close(1, 1_000_070),
        close(2, 1_000_080),
    ]
}

fn plan_of(frames: &[Frame]) -> Plan {
    let mut b = PlanBuilder::new();
    let r = b.recording("rec");
    for f in frames {
        b.add(r, f);
    }
    b.finish()
}

fn events(plan: &Plan, frames: Vec<Frame>, max_idle: Option<u64>) -> Vec<Event> {
    let mut s = Scripter::new(plan, max_idle, None);
    let mut out = Vec::new();
    for f in frames {
        s.frame(plan, 0, f, &mut out);
    }
    out
}

#[test]
fn the_plan_counts_steps_and_bytes() {
    let p = plan_of(&frames());
    assert_eq!(p.conns.len(), 2);
    let c1 = &p.conns[0];
    assert_eq!((c1.steps, c1.c2s_total, c1.s2c_total), (3, 13, 2));
    assert_eq!(p.c2s_total(), 18);
    assert_eq!(p.s2c_total(), 3);
    assert_eq!(&*c1.upstream, "127.0.0.1:6379");
}

#[test]
fn events_follow_the_recorded_order_and_know_what_came_before() {
    let p = plan_of(&frames());
    let ev = events(&p, frames(), None);
    let g: Vec<u64> = ev.iter().map(|e| e.g).collect();
    assert_eq!(g, (0..9).collect::<Vec<_>>());
    assert_eq!(ev[0].kind, EventKind::Open);
    assert_eq!(
        ev[2].kind,
        EventKind::Expect {
            payload: Bytes::from_static(b"OK"),
            total: 2,
            answer_ns: 10
        }
    );
    assert_eq!(
        ev[6].kind,
        EventKind::Step {
            step: 1,
            s2c_before: 2,
            action: Action::Send(Bytes::from_static(b"INCR a"))
        }
    );
    assert_eq!((ev[6].conn, ev[8].conn), (0, 1));
    assert!(matches!(
        ev[8].kind,
        EventKind::Step {
            step: 1,
            action: Action::Close,
            ..
        }
    ));
}

#[test]
fn idle_gaps_are_clamped_everywhere() {
    let p = plan_of(&frames());
    let ev = events(&p, frames(), Some(100));
    // The 999_990 ns gap before the closes became 100 ns.
    let ts: Vec<u64> = ev.iter().map(|e| e.ts_ns).collect();
    assert_eq!(ts, vec![0, 10, 20, 30, 40, 50, 60, 160, 170]);
}

#[test]
fn shards_split_connections_without_loss_or_overlap() {
    let p = plan_of(&frames());
    let a = p.clone().shard(0, 2);
    let b = p.clone().shard(1, 2);
    assert_eq!(a.conns.len() + b.conns.len(), p.conns.len());
    assert_eq!(a.conns[0].rec_conn, 1);
    assert_eq!(b.conns[0].rec_conn, 2);
    let ea = events(&a, frames(), Some(100));
    let eb = events(&b, frames(), Some(100));
    assert_eq!(ea.len() + eb.len(), 9);
    assert!(eb.iter().all(|e| e.conn == 0));
    // Every shard keeps the whole log's clamped times.
    assert_eq!(eb.last().map(|e| e.ts_ns), Some(170));
}

#[test]
fn a_connection_without_open_is_replayed_mid_session() {
    let f = vec![data(7, 5, Direction::C2s, b"x")];
    let p = plan_of(&f);
    assert!(p.conns[0].mid_session);
    assert_eq!(&*p.conns[0].upstream, "");
    let ev = events(&p, f, None);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].kind, EventKind::Open);
}

fn udp_frames() -> Vec<Frame> {
    let d = |ts, dir, b: &'static [u8]| fixtures::frame(3, ts, fixtures::datagram(dir, b));
    vec![
        fixtures::frame(3, 0, fixtures::open_udp("127.0.0.1:7000", "127.0.0.1:7777")),
        d(10, Direction::C2s, b"join"),
        d(20, Direction::S2c, b"welcome, player 1"),
        d(21, Direction::S2c, b"state 0"),
        d(30, Direction::C2s, b"move"),
        d(40, Direction::S2c, b""),
        fixtures::frame(3, 60_000_000_040, fixtures::close("idle")),
    ]
}

#[test]
fn a_udp_session_counts_datagrams_not_bytes() {
    let p = plan_of(&udp_frames());
    let c = &p.conns[0];
    assert_eq!(c.transport, crate::format::Transport::Udp);
    assert_eq!((c.steps, c.c2s_total, c.s2c_total), (3, 8, 24));
    assert_eq!((c.c2s_datagrams, c.s2c_datagrams), (2, 3));
    assert_eq!(c.s2c_units, 3, "each server datagram is one unit");
    assert!(p.has_udp());
    // Framing rules do not change that: one datagram is one message.
    let rules = crate::rewrite::Rules::parse("[framing]\ndelimiter = \"\\n\"\n").unwrap();
    let mut b = PlanBuilder::with_framing(crate::replay::units::framing_of(Some(&rules)));
    let r = b.recording("rec");
    for f in udp_frames() {
        b.add(r, &f);
    }
    assert_eq!(b.finish().conns[0].s2c_units, 3);
}

#[test]
fn a_udp_session_scripts_one_send_per_datagram_and_waits_in_datagrams() {
    let p = plan_of(&udp_frames());
    let ev = events(&p, udp_frames(), None);
    let kinds: Vec<&EventKind> = ev.iter().map(|e| &e.kind).collect();
    assert_eq!(kinds.len(), 7);
    assert_eq!(
        kinds[1],
        &EventKind::Step {
            step: 0,
            s2c_before: 0,
            action: Action::Send(Bytes::from_static(b"join"))
        }
    );
    assert!(matches!(kinds[3], EventKind::Expect { total: 2, .. }));
    // "move" waits for the two server datagrams before it, whatever
    // their size.
    assert_eq!(
        kinds[4],
        &EventKind::Step {
            step: 1,
            s2c_before: 2,
            action: Action::Send(Bytes::from_static(b"move"))
        }
    );
    assert!(matches!(kinds[5], EventKind::Expect { total: 3, .. }));
    assert!(matches!(
        kinds[6],
        EventKind::Step {
            step: 2,
            s2c_before: 3,
            action: Action::Close
        }
    ));
}

#[test]
fn a_session_without_open_made_of_datagrams_is_udp() {
    let f = vec![fixtures::frame(
        4,
        5,
        fixtures::datagram(Direction::C2s, b"x"),
    )];
    let p = plan_of(&f);
    assert_eq!(p.conns[0].transport, crate::format::Transport::Udp);
    assert!(p.conns[0].mid_session);
}

#[test]
fn multiply_loops_and_spread_see_udp_sessions_as_connections() {
    // Two UDP sessions and one TCP connection split over two agents
    // keep every session whole on one of them.
    let mut all = udp_frames();
    all.extend(frames_of_conn(5));
    all.extend(frames());
    all.sort_by_key(|f| f.ts_ns);
    let p = plan_of(&all);
    assert_eq!(p.conns.len(), 4);
    let a = p.clone().shard(0, 2);
    let b = p.clone().shard(1, 2);
    assert_eq!(a.conns.len() + b.conns.len(), 4);
    let udp = |p: &Plan| {
        p.conns
            .iter()
            .filter(|c| c.transport == crate::format::Transport::Udp)
            .map(|c| (c.rec_conn, c.s2c_datagrams))
            .collect::<Vec<_>>()
    };
    let mut both = [udp(&a), udp(&b)].concat();
    both.sort();
    assert_eq!(both, vec![(3, 3), (5, 1)]);
}

fn frames_of_conn(conn: u64) -> Vec<Frame> {
    vec![
        fixtures::frame(
            conn,
            1,
            fixtures::open_udp("127.0.0.1:7001", "127.0.0.1:7777"),
        ),
        fixtures::frame(conn, 2, fixtures::datagram(Direction::C2s, b"ping")),
        fixtures::frame(conn, 3, fixtures::datagram(Direction::S2c, b"pong")),
    ]
}

#[test]
fn a_mid_session_connection_expects_no_server_bytes_before_its_first_client_step() {
    let caught = |ts, dir, b| data(9, ts, dir, b);
    let f = vec![
        fixtures::frame(
            9,
            0,
            fixtures::open_to("127.0.0.1:5009", "127.0.0.1:6379", true),
        ),
        // The answer to a request from before the window.
        caught(5, Direction::S2c, b"old answer"),
        caught(10, Direction::C2s, b"ask"),
        caught(20, Direction::S2c, b"answer"),
    ];
    let p = plan_of(&f);
    assert_eq!(
        p.conns[0].s2c_total, 6,
        "only the answer after the first step"
    );
    let ev = events(&p, f, None);
    let expected: Vec<_> = ev
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Expect { payload, .. } => Some(payload.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(expected, vec![bytes::Bytes::from_static(b"answer")]);
    // A connection opened in the recording keeps a server greeting.
    let g = vec![open(1, 0), data(1, 5, Direction::S2c, b"hello")];
    assert_eq!(plan_of(&g).conns[0].s2c_total, 5);
}
