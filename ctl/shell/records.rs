//! Menu item 5: every recording on one line, as the recorder's console
//! listed its record files (`Wed Sep  7 15:29:04 2016  0.640KB
//! 160907152758-160907152904`), plus what reel knows beyond a file: the
//! status and the id to replay or pull. Times are UTC, sizes the file's.

use std::io::{self, Write};

use serde::Serialize;

use reel::proto::RecordingInfo;

use crate::commands::record::{self, RecordingExt, RecordingList};
use crate::exit::Exit;
use crate::fleet;
use crate::output::{self, human::Human};
use crate::settings::Settings;
use crate::timestamp::UnixMillis;

/// `record ls` shown the recorder's way; its JSON is `record ls --json`'s.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub(crate) struct SeedRecords(pub(crate) RecordingList);

impl Human for SeedRecords {
    fn write_human(&self, out: &mut dyn Write, _verbose: bool) -> io::Result<()> {
        if self.0.recordings.is_empty() {
            return writeln!(out, "no recordings");
        }
        self.0
            .recordings
            .iter()
            .try_for_each(|r| writeln!(out, "{}", line(r)))
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        self.0
            .recordings
            .iter()
            .try_for_each(|r| writeln!(out, "{}", r.id))
    }
}

/// Lists the recordings of every selected agent and prints them.
pub(crate) fn show(settings: &Settings) -> Exit {
    let runtime = match output::runtime() {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    // A line before may have installed other credentials.
    crate::access::install(settings.access.clone());
    let report = fleet::map_ok(runtime.block_on(record::list(settings)), SeedRecords);
    match output::print_report(&report, settings.output) {
        Ok(exit) => exit,
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Exit::Success,
        Err(error) => {
            output::print_error(&format!("cannot write output: {error}"));
            Exit::Internal
        }
    }
}

/// `Mon Dec  7 03:53:06 2026  0.640KB  261207035306-261207035410  complete  ID`
/// (and the label, quoted, when there is one).
pub(crate) fn line(r: &RecordingInfo) -> String {
    let start = r.started_at();
    let end = UnixMillis(
        start
            .0
            .saturating_add(i64::try_from(r.duration_ms).unwrap_or(i64::MAX)),
    );
    // The recorder's KB: bytes / 1024, three decimals.
    let kb = r.size_bytes as f64 / 1024.0;
    let mut text = format!(
        "{}  {kb:.3}KB  {}-{}  {}  {}",
        ctime(start),
        compact(start),
        compact(end),
        r.status_word(),
        r.id
    );
    if !r.label.is_empty() {
        text.push_str(&format!(" {:?}", r.label));
    }
    text
}

/// The fields of `2026-12-07 03:53:06`: year, month, day, `HH:MM:SS`.
fn fields(at: UnixMillis) -> (String, usize, String, String) {
    let text = at.date_time();
    let part = |range: std::ops::Range<usize>| text.get(range).unwrap_or_default().to_owned();
    let month = part(5..7).parse::<usize>().unwrap_or(1);
    (part(0..4), month, part(8..10), part(11..19))
}

/// C's `ctime`: `Wed Sep  7 15:29:04 2016` (UTC).
fn ctime(at: UnixMillis) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (year, month, day, time) = fields(at);
    // 1970-01-01 was a Thursday.
    let days = at.0.div_euclid(86_400_000).rem_euclid(7);
    let weekday = DAYS[usize::try_from(days).unwrap_or(0)];
    let month = MONTHS[month.clamp(1, 12) - 1];
    let day = day.trim_start_matches('0');
    format!("{weekday} {month} {day:>2} {time} {year}")
}

/// The recorder's file-name stamp: `160907152758` (yymmddHHMMSS, UTC).
fn compact(at: UnixMillis) -> String {
    let (year, month, day, time) = fields(at);
    format!(
        "{}{month:02}{day}{}",
        year.get(2..).unwrap_or_default(),
        time.replace(':', "")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(started_ms: i64, duration_ms: u64, size: u64, label: &str) -> RecordingInfo {
        RecordingInfo {
            id: "rec-1".to_owned(),
            label: label.to_owned(),
            status: reel::proto::RecordingStatus::Complete as i32,
            started_at_unix_ms: started_ms,
            duration_ms,
            size_bytes: size,
            ..Default::default()
        }
    }

    #[test]
    fn the_recorder_example_line_with_its_start_time() {
        // 2016-09-07 15:27:58 UTC, 66 s long, 655 bytes.
        let r = view(1_473_262_078_000, 66_000, 655, "");
        assert_eq!(
            line(&r),
            "Wed Sep  7 15:27:58 2016  0.640KB  160907152758-160907152904  complete  rec-1"
        );
    }

    #[test]
    fn dates_and_labels() {
        assert_eq!(ctime(UnixMillis(0)), "Thu Jan  1 00:00:00 1970");
        assert_eq!(
            ctime(UnixMillis(1_796_615_586_000)),
            "Mon Dec  7 03:53:06 2026"
        );
        assert_eq!(compact(UnixMillis(1_796_615_586_999)), "261207035306");
        let r = view(1_796_615_586_000, 0, 0, "boss fight");
        assert_eq!(
            line(&r),
            "Mon Dec  7 03:53:06 2026  0.000KB  261207035306-261207035306  complete  rec-1 \"boss fight\""
        );
    }

    #[test]
    fn an_empty_list_says_so() {
        let mut out = Vec::new();
        SeedRecords(RecordingList {
            recordings: Vec::new(),
        })
        .write_human(&mut out, false)
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "no recordings\n");
    }
}
