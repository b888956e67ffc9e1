//! Draws the model into a ratatui frame: a title line, the table of agents
//! and proxies (with each proxy's last minute as a sparkline), the
//! recordings in progress, the replays, and a status line that holds the
//! filter being typed, a y/n question or the last notice. A proxy's details
//! open over the rest. Text that came from an agent is escaped.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row as TableRow, Table, TableState};

use crate::output::escape::safe;
use crate::output::format::{bytes, delay, duration_ms, micros, rate};

use super::agents::{AgentView, HISTORY_SECONDS, Link};
use super::model::{Confirm, Details, Mode, Model, Row, SortBy};

/// Sparkline levels, lowest first; a second without traffic is a blank.
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Widths of the main table's columns before the sparkline.
const NAME_WIDTH: u16 = 28;
const STATE_WIDTH: u16 = 6;
const CONNS_WIDTH: u16 = 7;
const TOTAL_WIDTH: u16 = 8;
const RATE_WIDTH: u16 = 13;
const REC_WIDTH: u16 = 3;

/// Most connections listed in a proxy's details.
const DETAILS_ROWS: usize = 15;

/// Draws the whole dashboard.
pub(crate) fn draw(frame: &mut Frame, model: &Model) {
    let recordings: usize = model.agents.iter().map(|a| a.recordings.len()).sum();
    let replays: usize = model.agents.iter().map(|a| a.replays.len()).sum();
    // Borders and the header, then at most 6 rows.
    let panel = |rows: usize| Constraint::Length((rows.min(6) + 3) as u16);
    let [title, table, recs, reps, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(4),
        panel(recordings),
        panel(replays),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(title_line(model)), title);
    draw_table(frame, table, model);
    draw_recordings(frame, recs, model);
    draw_replays(frame, reps, model);
    frame.render_widget(Paragraph::new(status_line(model)), status);
    if let Mode::Details(details) = &model.mode {
        draw_details(frame, model, details);
    }
}

fn title_line(model: &Model) -> String {
    let up = model.agents.iter().filter(|a| a.link == Link::Up).count();
    let mut line = format!(
        "reel top · {up}/{} agents up · sort: {}",
        model.agents.len(),
        model.sort.as_str()
    );
    if !model.filter.is_empty() {
        line.push_str(&format!(" · filter: {}", safe(&model.filter)));
    }
    line
}

fn status_line(model: &Model) -> String {
    match &model.mode {
        Mode::Filter => format!("filter: {}▏ (Enter keeps, Esc clears)", safe(&model.filter)),
        Mode::Confirm(Confirm::StartRecording(key)) => format!(
            "Start recording proxy {} on {}? (y/n)",
            proxy_label(model, &key.proxy, key.agent),
            agent_label(model, key.agent)
        ),
        Mode::Confirm(Confirm::StopRecording { key, recording }) => format!(
            "Stop recording {} of proxy {} on {}? (y/n)",
            safe(recording),
            proxy_label(model, &key.proxy, key.agent),
            agent_label(model, key.agent)
        ),
        Mode::Details(_) => "Esc/Enter/q closes the details".to_owned(),
        Mode::Browse => match &model.notice {
            Some(notice) => safe(notice).into_owned(),
            None => "q quit · ↑↓/jk move · s sort · / filter · Enter details · r record".to_owned(),
        },
    }
}

fn agent_label(model: &Model, agent: usize) -> String {
    model
        .agents
        .get(agent)
        .map_or_else(String::new, |a| safe(&a.label).into_owned())
}

fn proxy_label(model: &Model, proxy: &str, agent: usize) -> String {
    let label = model
        .agents
        .get(agent)
        .and_then(|a| a.proxies.get(proxy))
        .map_or(proxy, |p| p.label());
    safe(label).into_owned()
}

fn draw_table(frame: &mut Frame, area: Rect, model: &Model) {
    let fixed = NAME_WIDTH + STATE_WIDTH + CONNS_WIDTH + TOTAL_WIDTH + 2 * RATE_WIDTH + REC_WIDTH;
    // Column gaps (one each) and the block's borders; at least the
    // heading's width (a narrow terminal cuts the row instead).
    let spark_width = area
        .width
        .saturating_sub(fixed + 7 + 2)
        .clamp(11, HISTORY_SECONDS as u16);
    let heading = |text: &str, by: Option<SortBy>| {
        let marked = by == Some(model.sort);
        Cell::from(if marked {
            format!("{text}▼")
        } else {
            text.to_owned()
        })
    };
    let header = TableRow::new([
        heading("NAME", Some(SortBy::Name)),
        heading("STATE", None),
        heading("CONNS", Some(SortBy::Connections)),
        heading("TOTAL", None),
        heading("C2S/S", Some(SortBy::C2s)),
        heading("S2C/S", Some(SortBy::S2c)),
        heading("REC", None),
        heading("LAST MINUTE", None),
    ])
    .style(Style::new().add_modifier(Modifier::BOLD));
    let rows = model.rows();
    let lines: Vec<TableRow> = rows
        .iter()
        .filter_map(|row| match row {
            Row::Agent(index) => model.agents.get(*index).map(agent_row),
            Row::Proxy(index, id) => {
                let agent = model.agents.get(*index)?;
                let proxy = agent.proxies.get(id)?;
                let recording = agent.recording_of(id).is_some();
                let cells = [
                    format!("  {}", safe(proxy.label())),
                    String::new(),
                    proxy.active.to_string(),
                    proxy.total.to_string(),
                    rate(proxy.c2s_per_sec),
                    rate(proxy.s2c_per_sec),
                    if recording { "●" } else { "" }.to_owned(),
                    spark(
                        &proxy.history.iter().copied().collect::<Vec<_>>(),
                        usize::from(spark_width),
                    ),
                ];
                let style = if agent.link == Link::Up {
                    Style::new()
                } else {
                    Style::new().add_modifier(Modifier::DIM)
                };
                Some(TableRow::new(cells).style(style))
            }
        })
        .collect();
    let widths = [
        Constraint::Length(NAME_WIDTH),
        Constraint::Length(STATE_WIDTH),
        Constraint::Length(CONNS_WIDTH),
        Constraint::Length(TOTAL_WIDTH),
        Constraint::Length(RATE_WIDTH),
        Constraint::Length(RATE_WIDTH),
        Constraint::Length(REC_WIDTH),
        Constraint::Length(spark_width),
    ];
    let table = Table::new(lines, widths)
        .header(header)
        .block(Block::bordered().title(" agents and proxies "))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(model.selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// An agent's line: its link, and its proxies' sums while it is up.
fn agent_row(agent: &AgentView) -> TableRow<'static> {
    let name = safe(&agent.label).into_owned();
    let bold = Style::new().add_modifier(Modifier::BOLD);
    match &agent.link {
        Link::Up => {
            let lagged = if agent.lagged > 0 {
                format!("missed {} events", agent.lagged)
            } else {
                String::new()
            };
            TableRow::new([
                name,
                "up".to_owned(),
                agent.active().to_string(),
                String::new(),
                rate(agent.c2s_per_sec()),
                rate(agent.s2c_per_sec()),
                String::new(),
                lagged,
            ])
            .style(bold)
        }
        Link::Connecting => TableRow::new([name, "…".to_owned()]).style(bold),
        Link::Down { error, retry_in } => {
            let why = format!("{} (retry in {})", safe(error), delay(*retry_in));
            TableRow::new([
                name,
                "DOWN".to_owned(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                why,
            ])
            .style(bold)
        }
    }
}

/// The last minute of `history` (per-second bytes, oldest first) in
/// `width` characters, the newest at the right: one character a second when
/// the column is a minute wide, else each character the busiest of its
/// seconds (a burst never vanishes); scaled to the busiest one shown.
pub(crate) fn spark(history: &[u64], width: usize) -> String {
    if width == 0 {
        return String::new();
    }
    let per_char = HISTORY_SECONDS.div_ceil(width).max(1);
    let mut columns: Vec<u64> = history
        .rchunks(per_char)
        .take(width)
        .map(|seconds| seconds.iter().copied().max().unwrap_or(0))
        .collect();
    columns.reverse();
    let max = columns.iter().copied().max().unwrap_or(0);
    let mut line = " ".repeat(width - columns.len());
    for value in columns {
        line.push(if value == 0 || max == 0 {
            ' '
        } else {
            // value/max in eighths, rounded up, so any traffic shows.
            let level = (u128::from(value) * 8).div_ceil(u128::from(max));
            LEVELS[(level as usize).clamp(1, 8) - 1]
        });
    }
    line
}

fn draw_recordings(frame: &mut Frame, area: Rect, model: &Model) {
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
            let elapsed = u64::try_from(model.now_ms.saturating_sub(recording.started_at.0))
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

fn draw_replays(frame: &mut Frame, area: Rect, model: &Model) {
    let mut rows = Vec::new();
    for agent in &model.agents {
        let mut replays: Vec<_> = agent.replays.values().collect();
        replays.sort_by_key(|r| !r.running());
        for replay in replays {
            rows.push(TableRow::new([
                safe(&agent.label).into_owned(),
                safe(&replay.id).into_owned(),
                replay.state.to_owned(),
                format!("{}%", replay.percent()),
                format!("{}/{}", replay.opened, replay.planned),
                replay.failed.to_string(),
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
fn draw_details(frame: &mut Frame, model: &Model, details: &Details) {
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
