//! Value parsers for flags: positive durations and the replay speed. Their
//! errors become clap usage errors (exit status 2) naming the flag.

use std::time::Duration;

/// Parses `--timeout`: a humantime duration greater than zero.
pub(super) fn parse_timeout(text: &str) -> Result<Duration, String> {
    parse_positive(text)
}

/// A humantime duration greater than zero.
pub(super) fn parse_positive(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if duration.is_zero() {
        return Err("must be greater than zero".to_owned());
    }
    Ok(duration)
}

/// Parses `--speed`: a number within the agent's accepted range.
pub(super) fn parse_speed(text: &str) -> Result<f64, String> {
    let (lo, hi) = reel::replay::SPEED_RANGE;
    let speed: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if !speed.is_finite() || !(lo..=hi).contains(&speed) {
        return Err(format!("must be from {lo} to {hi}"));
    }
    Ok(speed)
}
