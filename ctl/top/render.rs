//! Draws the model into a ratatui frame: a title line, the table of agents
//! and proxies (with each proxy's last minute as a sparkline), the
//! recordings in progress, the replays, and a status line that holds the
//! filter being typed, a y/n question or the last notice. A proxy's details
//! open over the rest. Text that came from an agent is escaped.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Cell, Paragraph, Row as TableRow, Table, TableState};

use crate::output::escape::safe;
use crate::output::format::{delay, rate};

use super::agents::{AgentView, HISTORY_SECONDS, Link};
use super::model::{Confirm, Mode, Model, Row, SortBy};
use super::panels::{self, agent_label, proxy_label};

/// Sparkline levels, lowest first; a second without traffic is a blank.
const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// Widths of the main table's columns before the sparkline.
const NAME_WIDTH: u16 = panels::NAME_WIDTH;
const STATE_WIDTH: u16 = 6;
const CONNS_WIDTH: u16 = 7;
const TOTAL_WIDTH: u16 = 8;
const RATE_WIDTH: u16 = 13;
const REC_WIDTH: u16 = 3;

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
    panels::draw_recordings(frame, recs, model);
    panels::draw_replays(frame, reps, model);
    frame.render_widget(Paragraph::new(status_line(model)), status);
    if let Mode::Details(details) = &model.mode {
        panels::draw_details(frame, model, details);
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
        Mode::Confirm(Confirm::StopRecording { key, recording }) => {
            // Stopping a recording stops it for every proxy it records.
            let others = model
                .agents
                .get(key.agent)
                .and_then(|a| a.recordings.get(recording))
                .map_or(0, |r| r.proxies.len().saturating_sub(1));
            let also = match others {
                0 => String::new(),
                1 => " and 1 other proxy".to_owned(),
                n => format!(" and {n} other proxies"),
            };
            format!(
                "Stop recording {} of proxy {}{also} on {}? (y/n)",
                safe(recording),
                proxy_label(model, &key.proxy, key.agent),
                agent_label(model, key.agent)
            )
        }
        Mode::Details(_) => "Esc/Enter/q closes the details".to_owned(),
        Mode::Browse => match &model.notice {
            Some(notice) => safe(notice).into_owned(),
            None => "q quit · ↑↓/jk move · s sort · / filter · Enter details · r record".to_owned(),
        },
    }
}

fn draw_table(frame: &mut Frame, area: Rect, model: &Model) {
    let fixed = NAME_WIDTH + STATE_WIDTH + CONNS_WIDTH + TOTAL_WIDTH + 2 * RATE_WIDTH + REC_WIDTH;
    // What is left after the column gaps (one each) and the block's
    // borders: the sparkline takes up to a minute of it (at least its
    // heading's width: a narrow terminal cuts the row instead), the names
    // the rest, so the sparkline ends at the right border.
    let rest = area.width.saturating_sub(fixed + 7 + 2);
    let spark_width = rest.clamp(11, HISTORY_SECONDS as u16);
    let name_width = NAME_WIDTH + rest.saturating_sub(spark_width);
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
                    proxy.stats.active_connections.to_string(),
                    proxy.stats.total_connections.to_string(),
                    rate(proxy.stats.bytes_c2s_per_sec),
                    rate(proxy.stats.bytes_s2c_per_sec),
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
        Constraint::Length(name_width),
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
