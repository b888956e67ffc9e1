//! Nearest-rank percentiles of microsecond samples.

/// Sorts `samples` and returns the value at quantile `q` (0..=1); 0 when empty.
pub fn at(samples: &mut [f64], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_by(f64::total_cmp);
    let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}
