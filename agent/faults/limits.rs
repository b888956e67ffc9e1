//! Bounds every fault value shares, at the bottom of the module so the
//! arithmetic (`bucket`) and the profile (`spec`) can both name them.

use std::time::Duration;

/// The longest duration any fault or delay accepts: a year. Longer is a
/// typo (`1e20`), and `Instant + d` would overflow for values near
/// `Duration::MAX`, so it is refused where people type it.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
