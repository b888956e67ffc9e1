//! Reproducible randomness: with a seed, connection k of a proxy always gets
//! the same draws, whatever else happens on the agent; without one, draws
//! come from the OS.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::spec::Latency;
use crate::format::Direction;

/// Mixes a seed with a connection ordinal and a stream number (SplitMix64),
/// so neighbouring connections get unrelated generators.
fn mix(seed: u64, ordinal: u64, stream: u64) -> u64 {
    let mut z = seed
        ^ ordinal.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of one stream of draws of one connection.
pub fn rng(seed: Option<u64>, ordinal: u64, stream: u64) -> StdRng {
    match seed {
        Some(s) => StdRng::seed_from_u64(mix(s, ordinal, stream)),
        None => StdRng::seed_from_u64(rand::random()),
    }
}

/// Stream numbers: toxicity decision, and one per direction.
pub const STREAM_TOXIC: u64 = 0;

pub fn stream_of(dir: Direction) -> u64 {
    match dir {
        Direction::C2s => 1,
        Direction::S2c => 2,
    }
}

/// One delay drawn from `latency`.
pub fn draw(latency: &Latency, rng: &mut StdRng) -> Duration {
    match *latency {
        Latency::Fixed(d) => d,
        Latency::Uniform(lo, hi) => {
            if hi <= lo {
                return lo;
            }
            let span = (hi - lo).as_nanos() as u64;
            lo + Duration::from_nanos(rng.random_range(0..=span))
        }
        Latency::Normal(mean, sd) => {
            // Box–Muller; clamped at zero (no negative delays).
            let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let u2: f64 = rng.random();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let ns = mean.as_nanos() as f64 + z * sd.as_nanos() as f64;
            Duration::from_nanos(ns.max(0.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws_and_streams_differ() {
        let lat = Latency::Uniform(Duration::from_millis(50), Duration::from_millis(80));
        let a: Vec<_> = (0..5)
            .map({
                let mut r = rng(Some(7), 3, 1);
                move |_| draw(&lat, &mut r)
            })
            .collect();
        let b: Vec<_> = (0..5)
            .map({
                let mut r = rng(Some(7), 3, 1);
                move |_| draw(&lat, &mut r)
            })
            .collect();
        let c: Vec<_> = (0..5)
            .map({
                let mut r = rng(Some(7), 4, 1);
                move |_| draw(&lat, &mut r)
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(
            a.iter()
                .all(|d| *d >= Duration::from_millis(50) && *d <= Duration::from_millis(80))
        );
    }

    #[test]
    fn normal_draws_center_on_the_mean() {
        let mut r = rng(Some(1), 0, 0);
        let lat = Latency::Normal(Duration::from_millis(100), Duration::from_millis(10));
        let n = 4000;
        let mean = (0..n)
            .map(|_| draw(&lat, &mut r).as_secs_f64())
            .sum::<f64>()
            / n as f64;
        assert!((mean - 0.100).abs() < 0.002, "{mean}");
    }
}
