//! The bus end to end inside one runtime: publishing never waits, every
//! lost event is counted and told, filters apply before any conversion, and
//! the Watch limit is a permit.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::error::Error;
use crate::format::Direction;

fn transfer(conn: u64) -> EventBody {
    EventBody::Transfer {
        conn,
        dir: Direction::C2s,
        bytes: 1,
        delay: Duration::ZERO,
        drawn: Duration::ZERO,
    }
}

fn transfers() -> Filter {
    Filter::new(KindSet::NONE.with(EventKind::Transfer), [])
}

/// Asserts that `seen` is exactly the events numbered `want`, without
/// printing thousands of numbers when it is not.
fn assert_run(seen: &[u64], want: std::ops::Range<u64>) {
    let expected: Vec<u64> = want.clone().collect();
    assert!(
        seen == expected,
        "expected {want:?}, got {} events: first {:?}, last {:?}",
        seen.len(),
        seen.first(),
        seen.last()
    );
}

/// What a subscriber got: events (by connection number) and missed counts,
/// until `total` are accounted for.
async fn account(sub: &mut Subscription, total: u64) -> (Vec<u64>, u64) {
    let (mut seen, mut missed) = (Vec::new(), 0);
    while seen.len() as u64 + missed < total {
        match tokio::time::timeout(Duration::from_secs(10), sub.recv()).await {
            Ok(Some(Delivery::Event(e))) => match e.body {
                EventBody::Transfer { conn, .. } => seen.push(conn),
                ref other => panic!("unexpected {other:?}"),
            },
            Ok(Some(Delivery::Missed(n))) => missed += n,
            Ok(None) => panic!("bus gone"),
            Err(_) => panic!("stuck at {} seen + {missed} missed of {total}", seen.len()),
        }
    }
    (seen, missed)
}

#[tokio::test]
async fn publish_never_waits_and_a_full_queue_is_counted_as_missed() {
    let bus = EventBus::new();
    let mut sub = bus.subscribe(transfers());
    // The fan-out task cannot run until this one yields: the shared queue
    // fills and the rest are dropped on the spot, counted.
    let total = EVENT_QUEUE as u64 + 10;
    for i in 0..total {
        bus.publish(None, transfer(i));
    }
    let (seen, missed) = account(&mut sub, total).await;
    assert_run(&seen, 0..EVENT_QUEUE as u64);
    assert_eq!(missed, 10);
}

#[tokio::test]
async fn a_subscriber_that_never_reads_loses_events_and_is_told_how_many() {
    let bus = EventBus::new();
    let mut stuck = bus.watch(transfers()).unwrap();
    let mut reader = bus.watch(transfers()).unwrap();
    let total = 3_000u64;
    let reading = tokio::spawn(async move { account(&mut reader, total).await });
    for i in 0..total {
        bus.publish(None, transfer(i));
        if i % 100 == 99 {
            // Lets the fan-out (one pass at most every PASS_EVERY) and the
            // reader run.
            tokio::time::sleep(PASS_EVERY * 2).await;
        }
    }
    let (seen, missed) = reading.await.unwrap();
    assert_eq!(missed, 0, "the reader kept up and lost nothing");
    assert_run(&seen, 0..total);
    // The stuck one kept the oldest events its queue holds, then one count.
    let (seen, missed) = account(&mut stuck, total).await;
    assert_run(&seen, 0..WATCHER_QUEUE as u64);
    assert_eq!(missed, total - WATCHER_QUEUE as u64);
    // The metrics count what subscribers were told they missed.
    let m = bus.meters();
    assert_eq!(m.missed_told, total - WATCHER_QUEUE as u64);
    assert_eq!((m.watchers, m.dropped), (1, 0));
    // Told in order: later events follow the count.
    bus.publish(None, transfer(total));
    let (seen, missed) = account(&mut stuck, 1).await;
    assert_eq!((seen, missed), (vec![total], 0));
}

#[tokio::test]
async fn filters_apply_before_conversion_and_each_event_converts_once() {
    let conversions = Arc::new(AtomicUsize::new(0));
    let render = {
        let c = Arc::clone(&conversions);
        move |e: &Event| {
            c.fetch_add(1, Ordering::Relaxed);
            format!("{:?}", e.body)
        }
    };
    let bus = EventBus::new();
    let p1 = || Filter::new(KindSet::NONE.with(EventKind::Transfer), ["p1".to_owned()]);
    let mut readers: Vec<Subscription> = (0..3).map(|_| bus.watch(p1()).unwrap()).collect();
    let mut stats_only = bus
        .watch(Filter::new(KindSet::NONE.with(EventKind::Stats), []))
        .unwrap();
    assert!(
        !bus.wants(EventKind::Replay),
        "a kind nobody wants is not even built"
    );

    let (p1_id, p2_id): (Arc<str>, Arc<str>) = ("p1".into(), "p2".into());
    bus.publish(Some(&p2_id), transfer(2));
    bus.publish(Some(&p1_id), transfer(1));
    bus.publish(Some(&p2_id), transfer(3));
    for r in &mut readers {
        let Some(Delivery::Event(e)) = r.recv().await else {
            panic!("expected the p1 transfer")
        };
        assert_eq!(e.proxy_id.as_deref(), Some("p1"));
        assert!(e.rendered(&render).contains("conn: 1"));
    }
    assert_eq!(
        conversions.load(Ordering::Relaxed),
        1,
        "one conversion for three readers"
    );
    // Nothing else reached anyone: p2's transfers were filtered out before
    // any subscriber saw them, so they were never converted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for r in readers.iter_mut().chain([&mut stats_only]) {
        assert!(r.rx_is_empty());
    }
    assert_eq!(conversions.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn the_watch_limit_is_a_permit() {
    let bus = EventBus::with_max_watchers(2);
    let a = bus.watch(transfers()).unwrap();
    let _b = bus.watch(transfers()).unwrap();
    match bus.watch(transfers()) {
        Err(e @ Error::TooManyWatchers { limit: 2 }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("at most 2") && msg.contains("--max-watchers"),
                "{msg}"
            );
        }
        other => panic!("expected TooManyWatchers, got {other:?}"),
    }
    // Internal subscribers do not count.
    let _log = bus.subscribe(Filter::everything());
    assert_eq!((bus.meters().watchers, bus.meters().max_watchers), (2, 2));
    drop(a);
    assert_eq!(bus.meters().watchers, 1);
    assert!(
        bus.watch(transfers()).is_ok(),
        "a place freed by leaving is reused"
    );
}

#[tokio::test]
async fn interest_follows_subscriptions() {
    let bus = EventBus::new();
    assert!(!bus.wants_transfers());
    let plain = bus
        .watch(Filter::new(KindSet::ALL.without(EventKind::Transfer), []))
        .unwrap();
    assert!(!bus.wants_transfers());
    assert!(bus.wants(EventKind::Stats));
    let sub = bus.watch(transfers()).unwrap();
    assert!(bus.wants_transfers());
    drop(sub);
    drop(plain);
    assert!(!bus.wants_transfers());
    assert!(!bus.wants(EventKind::Stats));
}
