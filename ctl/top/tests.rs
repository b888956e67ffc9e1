//! The dashboard drawn into ratatui's `TestBackend` from scripted watch
//! items and key presses: what an operator would read on the screen.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Modifier;
use reel::proto::{ProxyStats, RecordingInfo, RecordingStatus, ReplayProgress, ReplayState};

use super::agents::HISTORY_SECONDS;
use super::keys::Key;
use super::model::{Action, ConnectionRow, Model, ProxyKey};
use super::render::{draw, spark};
use crate::commands::watch::WatchItem;
use crate::event::{EventBody, WatchEvent};
use crate::timestamp::UnixNanos;

const NOW_MS: i64 = 1_714_564_984_000;

fn stats(proxy: &str, name: &str, active: u64, c2s: u64, s2c: u64) -> WatchItem {
    WatchItem::Event(WatchEvent {
        at: UnixNanos(NOW_MS * 1_000_000),
        proxy: proxy.to_owned(),
        proxy_name: Some(name.to_owned()),
        body: EventBody::Stats(ProxyStats {
            active_connections: active,
            total_connections: active + 10,
            bytes_c2s_per_sec: c2s,
            bytes_s2c_per_sec: s2c,
            bytes_c2s: 0,
            bytes_s2c: 0,
            ..Default::default()
        }),
    })
}

fn recording(id: &str, proxy: &str, status: RecordingStatus) -> RecordingInfo {
    RecordingInfo {
        id: id.to_owned(),
        status: status as i32,
        started_at_unix_ms: NOW_MS - 75_000,
        size_bytes: 3 * 1024 * 1024,
        proxies: vec![proxy.to_owned()],
        ..RecordingInfo::default()
    }
}

/// Agent a1 up with proxies game (busy) and lobby (quiet); a2 down.
fn scripted() -> Model {
    let mut model = Model::new(vec!["a1:7700".into(), "a2:7700".into()], NOW_MS);
    model.update(0, WatchItem::Connected);
    for bytes in [0, 100, 200, 800] {
        model.update(0, stats("p1", "game", 2, bytes, 2048));
        model.update(0, stats("p2", "lobby", 5, 10, 0));
    }
    model.update(
        1,
        WatchItem::Disconnected {
            error: "cannot reach agent: connection refused".into(),
            retry_in: Duration::from_millis(400),
            was_connected: false,
        },
    );
    model
}

/// The screen, one string per line.
fn screen(model: &Model) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(150, 30)).unwrap();
    terminal.draw(|frame| draw(frame, model)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
        })
        .collect()
}

/// The one line containing `text`.
fn line<'a>(lines: &'a [String], text: &str) -> &'a str {
    let found: Vec<&String> = lines.iter().filter(|l| l.contains(text)).collect();
    assert_eq!(found.len(), 1, "{text:?} in\n{}", lines.join("\n"));
    found[0]
}

/// The index of the line containing `text`.
fn row_of(lines: &[String], text: &str) -> usize {
    lines
        .iter()
        .position(|l| l.contains(text))
        .unwrap_or_else(|| panic!("{text:?} not in\n{}", lines.join("\n")))
}

#[test]
fn rows_show_each_proxys_figures_and_sparkline() {
    let lines = screen(&scripted());
    let game = line(&lines, "│  game");
    assert!(game.contains(" 2 "), "{game}");
    assert!(game.contains(" 12 "), "total: {game}");
    assert!(game.contains("800 B/s"), "{game}");
    assert!(game.contains("2.0 KiB/s"), "{game}");
    // Four seconds of c2s+s2c: 2048, 2148, 2248, 2848 bytes.
    assert!(
        game.contains(spark(&[2048, 2148, 2248, 2848], 60).trim_start()),
        "{game}"
    );
    let lobby = line(&lines, "│  lobby");
    assert!(lobby.contains("10 B/s"), "{lobby}");
    let agent = line(&lines, "a1:7700 ");
    assert!(agent.contains(" up "), "{agent}");
    assert!(agent.contains(" 7 "), "connections summed: {agent}");
}

#[test]
fn the_sparkline_follows_the_per_second_bytes() {
    let mut model = Model::new(vec!["a1:7700".into()], NOW_MS);
    model.update(0, WatchItem::Connected);
    for bytes in [0, 100, 200, 800] {
        model.update(0, stats("p1", "game", 1, bytes, 0));
    }
    assert_eq!(spark(&[0, 100, 200, 800], 60).trim_start(), "▁▂█");
    // The newest second is next to the right border, whatever the width.
    assert!(line(&screen(&model), "│  game").ends_with(" ▁▂█│"));
    // The window keeps the last minute only, the newest at the right.
    for _ in 0..HISTORY_SECONDS {
        model.update(0, stats("p1", "game", 1, 50, 0));
    }
    model.update(0, stats("p1", "game", 1, 0, 0));
    let proxy = &model.agents[0].proxies["p1"];
    assert_eq!(proxy.history.len(), HISTORY_SECONDS);
    assert_eq!(proxy.history.back(), Some(&0));
    assert!(spark(&[5, 1], 60).ends_with(" █▂"));
    // A narrower column still covers the minute: each character the
    // busiest of two seconds here.
    let ramp: Vec<u64> = (1..=60).collect();
    let narrow = spark(&ramp, 30);
    assert_eq!(narrow.chars().count(), 30);
    assert!(narrow.starts_with('▁') && narrow.ends_with('█'), "{narrow}");
    assert_eq!(spark(&[0, 100, 200, 800], 30).trim_start(), "▁█");
}

#[test]
fn a_down_agent_shows_as_down_with_its_error() {
    let lines = screen(&scripted());
    let down = line(&lines, "a2:7700");
    assert!(down.contains("DOWN"), "{down}");
    assert!(down.contains("connection refused"), "{down}");
    assert!(down.contains("(retry in 400ms)"), "{down}");
    assert!(lines[0].contains("1/2 agents up"), "{}", lines[0]);
    // Back up: the agent row says so again.
    let mut model = scripted();
    model.update(1, WatchItem::Connected);
    assert!(line(&screen(&model), "a2:7700").contains(" up "));
}

#[test]
fn sort_filter_and_move_change_the_view() {
    let mut model = scripted();
    let lines = screen(&model);
    assert!(
        row_of(&lines, "│  game") < row_of(&lines, "│  lobby"),
        "by name"
    );
    model.press(Key::Sort);
    let lines = screen(&model);
    assert!(lines[0].contains("sort: conns"), "{}", lines[0]);
    assert!(
        row_of(&lines, "│  lobby") < row_of(&lines, "│  game"),
        "by conns"
    );

    // The cursor starts on the first agent; two rows down is game.
    model.press(Key::Down);
    model.press(Key::Down);
    let selected = model.selected_proxy().unwrap();
    assert_eq!(selected.proxy, "p1");
    let lines = screen(&model);
    let mut terminal = Terminal::new(TestBackend::new(150, 30)).unwrap();
    terminal.draw(|frame| draw(frame, &model)).unwrap();
    let y = row_of(&lines, "│  game") as u16;
    let cell = &terminal.backend().buffer()[(3, y)];
    assert!(cell.modifier.contains(Modifier::REVERSED), "highlighted");
    model.press(Key::Up);
    assert_eq!(model.selected_proxy().unwrap().proxy, "p2");

    model.press(Key::Filter);
    assert!(model.typing());
    for c in "LOB".chars() {
        model.press(Key::Char(c));
    }
    assert!(screen(&model).last().unwrap().contains("filter: LOB"));
    model.press(Key::Enter);
    let lines = screen(&model);
    assert!(lines[0].contains("filter: LOB"));
    assert!(lines.iter().any(|l| l.contains("│  lobby")));
    assert!(!lines.iter().any(|l| l.contains("│  game")));
    assert!(
        !lines.iter().any(|l| l.contains("a2:7700")),
        "no match there"
    );
    model.press(Key::Esc);
    assert!(screen(&model).iter().any(|l| l.contains("│  game")));
}

#[test]
fn r_asks_before_starting_or_stopping_a_recording() {
    let mut model = scripted();
    assert_eq!(model.press(Key::Record), None);
    assert!(screen(&model).last().unwrap().contains("select a proxy"));
    model.press(Key::Down);
    assert_eq!(model.press(Key::Record), None);
    let status = screen(&model).last().unwrap().clone();
    assert!(
        status.contains("Start recording proxy game on a1:7700? (y/n)"),
        "{status}"
    );
    assert_eq!(model.press(Key::Char('x')), None, "still asking");
    assert_eq!(
        model.press(Key::Char('y')),
        Some(Action::StartRecording(ProxyKey {
            agent: 0,
            proxy: "p1".into()
        }))
    );
    model.recorded(
        0,
        "start",
        Ok(recording("rec-1", "p1", RecordingStatus::Recording)),
    );
    let lines = screen(&model);
    assert!(line(&lines, "│  game").contains("●"), "recording mark");
    let rec = lines
        .iter()
        .find(|l| l.contains("rec-1") && l.contains("a1:7700"))
        .expect("a recordings row");
    assert!(rec.contains("game"), "{rec}");
    assert!(rec.contains("3.0 MiB"), "{rec}");
    assert!(rec.contains("1m15s"), "{rec}");

    model.press(Key::Record);
    let status = screen(&model).last().unwrap().clone();
    assert!(
        status.contains("Stop recording rec-1 of proxy game"),
        "{status}"
    );
    assert_eq!(model.press(Key::Char('n')), None);
    assert!(screen(&model).last().unwrap().contains("nothing changed"));
    model.press(Key::Record);
    assert_eq!(
        model.press(Key::Char('y')),
        Some(Action::StopRecording {
            agent: 0,
            recording: "rec-1".into()
        })
    );
    model.recorded(
        0,
        "stop",
        Ok(recording("rec-1", "p1", RecordingStatus::Complete)),
    );
    let lines = screen(&model);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("recordings in progress: none"))
    );
    assert!(lines.last().unwrap().contains("recording rec-1 stopped"));
}

#[test]
fn enter_shows_the_busiest_connections_of_a_proxy() {
    let mut model = scripted();
    model.press(Key::Down);
    let key = ProxyKey {
        agent: 0,
        proxy: "p1".into(),
    };
    assert_eq!(
        model.press(Key::Enter),
        Some(Action::ListConnections(key.clone()))
    );
    assert!(
        screen(&model)
            .iter()
            .any(|l| l.contains("listing connections"))
    );
    let connection = |id, client: &str, c2s| ConnectionRow {
        id,
        client: client.to_owned(),
        opened_at_ms: NOW_MS - 5_000,
        bytes_c2s: c2s,
        bytes_s2c: 0,
    };
    model.connections_listed(
        &key,
        Ok(vec![
            connection(7, "10.0.0.7:5000", 10),
            connection(9, "10.0.0.9:5000", 5000),
        ]),
    );
    let lines = screen(&model);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("proxy game on a1:7700: busiest"))
    );
    assert!(row_of(&lines, "10.0.0.9:5000") < row_of(&lines, "10.0.0.7:5000"));
    assert!(line(&lines, "10.0.0.9:5000").contains("4.9 KiB"));
    model.press(Key::Esc);
    assert!(!screen(&model).iter().any(|l| l.contains("busiest")));
}

#[test]
fn replays_show_progress_and_lateness() {
    let mut model = scripted();
    let replay = WatchItem::Event(WatchEvent {
        at: UnixNanos(0),
        proxy: String::new(),
        proxy_name: None,
        body: EventBody::Replay(ReplayProgress {
            id: "rp-1".into(),
            state: ReplayState::Running as i32,
            planned: 4,
            opened: 3,
            failed: 1,
            finished: 0,
            bytes_sent: 500,
            bytes_received: 0,
            expected_sent: 1000,
        }),
    });
    model.update(0, replay);
    model.replay_lateness(0, "rp-1", 1_500);
    let lines = screen(&model);
    let row = line(&lines, "rp-1");
    for text in ["running", "50%", "3/4", "1.500ms"] {
        assert!(row.contains(text), "{text} in {row}");
    }
}

#[test]
fn agent_text_cannot_move_the_cursor() {
    let mut model = Model::new(vec!["a1:7700".into()], NOW_MS);
    model.update(0, WatchItem::Connected);
    model.update(0, stats("p1", "evil\u{1b}[2J", 0, 0, 0));
    assert!(screen(&model).iter().any(|l| l.contains("evil\\u{1b}[2J")));
}
