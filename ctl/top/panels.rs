//! The lower panes of the dashboard (recordings in progress, replays) and a
//! proxy's details over the middle of the screen, plus the labels every
//! pane uses. Text that came from an agent is escaped.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Clear, Paragraph, Row as TableRow, Table};

use crate::output::escape::safe;
use crate::output::format::{bytes, duration_ms, micros};

use super::model::{Details, Model};

/// Width of the agent (and proxy name) column in every table.
pub(super) const NAME_WIDTH: u16 = 28;

/// Most connections listed in a proxy's details.
const DETAILS_ROWS: usize = 15;

pub(super) fn agent_label(model: &Model, agent: usize) -> String {
    model
        .agents
        .get(agent)
        .map_or_else(String::new, |a| safe(&a.label).into_owned())
}

pub(super) fn proxy_label(model: &Model, proxy: &str, agent: usize) -> String {
    let label = model
        .agents
        .get(agent)
        .and_then(|a| a.proxies.get(proxy))
        .map_or(proxy, |p| p.label());
    safe(label).into_owned()
}

pub(super) fn draw_recordings(frame: &mut Frame, area: Rect, model: &Model) {
    let mut rows = Vec::new();
    for agent in &model.agents {
        for recording in agent.recordings.values() {
            let proxies: Vec<String> = recording
                .proxies
                .iter()
                .map(|id| {
                    let label = agent.proxies.get(id).map_or(id.as_str(), |p| p.label());
                    safe(label).into_owned()
                })
                .collect();
            let elapsed = u64::try_from(model.now_ms.saturating_sub(recording.started_at_unix_ms))
                .unwrap_or(0)
                .max(recording.duration_ms);
            rows.push(TableRow::new([
                safe(&agent.label).into_owned(),
                safe(&recording.id).into_owned(),
                proxies.join(","),
                bytes(recording.size_bytes),
                duration_ms(elapsed),
            ]));
        }
    }
    let empty = rows.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Length(NAME_WIDTH),
            Constraint::Length(38),
            Constraint::Min(10),
            Constraint::Length(11),
            Constraint::Length(8),
        ],
    )
    .header(TableRow::new([
        "AGENT",
        "RECORDING",
        "PROXIES",
        "SIZE",
        "DURATION",
    ]))
    .block(Block::bordered().title(if empty {
        " recordings in progress: none "
    } else {
        " recordings in progress "
    }));
    frame.render_widget(table, area);
}

pub(super) fn draw_replays(frame: &mut Frame, area: Rect, model: &Model) {
    let mut rows = Vec::new();
    for agent in &model.agents {
        let mut replays: Vec<_> = agent.replays.values().collect();
        replays.sort_by_key(|r| !r.running());
        for replay in replays {
            rows.push(TableRow::new([
                safe(&agent.label).into_owned(),
                safe(&replay.progress.id).into_owned(),
                replay.state().to_owned(),
                format!("{}%", replay.percent()),
                format!("{}/{}", replay.progress.opened, replay.progress.planned),
                replay.progress.failed.to_string(),
                replay.late_p99_us.map_or_else(|| "-".to_owned(), micros),
            ]));
        }
    }
    let empty = rows.is_empty();
    let table = Table::new(
        rows,
        [
            Constraint::Length(NAME_WIDTH),
            Constraint::Length(38),
            Constraint::Length(9),
            Constraint::Length(8),
            Constraint::Length(13),
            Constraint::Length(7),
            Constraint::Min(9),
        ],
    )
    .header(TableRow::new([
        "AGENT", "REPLAY", "STATE", "PROGRESS", "OPENED", "FAILED", "LATE P99",
    ]))
    .block(Block::bordered().title(if empty {
        " replays: none "
    } else {
        " replays "
    }));
    frame.render_widget(table, area);
}

/// The selected proxy's busiest connections, over the middle of the screen.
pub(super) fn draw_details(frame: &mut Frame, model: &Model, details: &Details) {
    let outer = frame.area();
    let area = Rect {
        x: outer.width / 10,
        y: outer.height / 6,
        width: outer.width - outer.width / 5,
        height: outer.height - outer.height / 3,
    };
    let title = format!(
        " proxy {} on {}: busiest connections ",
        proxy_label(model, &details.key.proxy, details.key.agent),
        agent_label(model, details.key.agent)
    );
    let block = Block::bordered().title(title);
    frame.render_widget(Clear, area);
    let Some(connections) = &details.connections else {
        let text = details.error.as_deref().unwrap_or("listing connections…");
        frame.render_widget(Paragraph::new(safe(text).into_owned()).block(block), area);
        return;
    };
    let mut rows: Vec<TableRow> = connections
        .iter()
        .take(DETAILS_ROWS)
        .map(|c| {
            let age = u64::try_from(model.now_ms.saturating_sub(c.opened_at_ms)).unwrap_or(0);
            TableRow::new([
                c.id.to_string(),
                safe(&c.client).into_owned(),
                duration_ms(age),
                bytes(c.bytes_c2s),
                bytes(c.bytes_s2c),
            ])
        })
        .collect();
    if connections.is_empty() {
        rows.push(TableRow::new(["", "no open connections"]));
    }
    if let Some(error) = &details.error {
        rows.push(TableRow::new([String::new(), safe(error).into_owned()]));
    }
    let table = Table::new(
        rows,
        [
            Constraint::Length(8),
            Constraint::Min(22),
            Constraint::Length(8),
            Constraint::Length(11),
            Constraint::Length(11),
        ],
    )
    .header(
        TableRow::new(["CONN", "CLIENT", "AGE", "C2S", "S2C"])
            .style(Style::new().add_modifier(Modifier::BOLD)),
    )
    .block(block);
    frame.render_widget(table, area);
}
