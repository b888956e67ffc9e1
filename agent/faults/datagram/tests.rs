//! The datagram faults against their models: loss inside the binomial
//! interval, Gilbert–Elliott bursts of the model's mean length, every
//! datagram accounted for through duplication and reordering, and the same
//! seed giving the same fate datagram for datagram.

use std::time::{Duration, Instant};

use super::*;
use crate::faults::random::rng;

fn faults(spec: DatagramSpec, seed: u64) -> DatagramFaults<u64> {
    DatagramFaults::new(spec, rng(Some(seed), 0, 1))
}

/// Sends datagrams 0..n through; the sequence numbers that come out, in
/// sending order, then what a final flush releases.
fn run(f: &mut DatagramFaults<u64>, n: u64) -> Vec<u64> {
    let now = Instant::now();
    let mut out: Vec<u64> = (0..n)
        .flat_map(|i| f.admit(i, now))
        .map(|(d, _)| d)
        .collect();
    out.extend(f.flush(now).into_iter().map(|(d, _)| d));
    out
}

#[test]
fn random_loss_lands_in_the_binomial_interval_and_a_seed_repeats_it() {
    let spec = DatagramSpec {
        loss: Some(Loss::Random(0.10)),
        ..DatagramSpec::default()
    };
    let n = 100_000u64;
    let mut a = faults(spec, 42);
    let sent = run(&mut a, n);
    let lost = a.counts().lost;
    assert_eq!(sent.len() as u64 + lost, n);
    // 99.9 % two-sided: mean ± 3.29 sd of Binomial(100000, 0.1).
    let (mean, sd) = (10_000.0, (n as f64 * 0.1 * 0.9).sqrt());
    assert!(
        (lost as f64 - mean).abs() <= 3.29 * sd,
        "{lost} lost of {n}, expected {mean} ± {}",
        3.29 * sd
    );
    let mut b = faults(spec, 42);
    assert_eq!(
        run(&mut b, n),
        sent,
        "the same seed drops the same datagrams"
    );
    let mut c = faults(spec, 43);
    assert_ne!(run(&mut c, n), sent, "another seed drops others");
}

#[test]
fn gilbert_elliott_bursts_have_the_models_mean_length() {
    // Simple Gilbert: in bursts of mean length 1/r = 4, a share of
    // p / (p + r) = 3.85 % lost in the long run.
    let ge = GilbertElliott::simple(0.01, 0.25);
    let spec = DatagramSpec {
        loss: Some(Loss::Bursts(ge)),
        ..DatagramSpec::default()
    };
    let n = 400_000u64;
    let mut f = faults(spec, 7);
    let sent = run(&mut f, n);
    let mut bursts = Vec::new();
    let mut expected = 0u64;
    for &d in &sent {
        if d > expected {
            bursts.push(d - expected);
        }
        expected = d + 1;
    }
    let mean_burst = bursts.iter().sum::<u64>() as f64 / bursts.len() as f64;
    assert!(
        (mean_burst - 4.0).abs() < 0.2,
        "mean burst {mean_burst} over {} bursts",
        bursts.len()
    );
    let share = f.counts().lost as f64 / n as f64;
    assert!(
        (share - ge.mean_loss()).abs() < 0.003,
        "{share} lost, model {}",
        ge.mean_loss()
    );
}

#[test]
fn duplicates_and_reordered_datagrams_are_all_accounted_for() {
    let spec = DatagramSpec {
        duplicate: 0.05,
        reorder: Some(Reorder {
            probability: 0.10,
            window: 3,
        }),
        ..DatagramSpec::default()
    };
    let n = 10_000u64;
    let mut f = faults(spec, 11);
    let out = run(&mut f, n);
    let counts = f.counts();
    assert_eq!(counts.seen, n);
    assert_eq!(counts.lost, 0);
    assert!(counts.duplicated > 0 && counts.reordered > 0, "{counts:?}");
    assert_eq!(out.len() as u64, n + counts.duplicated);
    let mut seen = vec![0u32; n as usize];
    for &d in &out {
        seen[d as usize] += 1;
    }
    assert!(
        seen.iter().all(|&k| k == 1 || k == 2),
        "every datagram comes out once or twice"
    );
    assert_eq!(
        seen.iter().filter(|&&k| k == 2).count() as u64,
        counts.duplicated
    );
    // A held datagram comes out behind at most `window` of its followers
    // (a few more when those were duplicated or released beside it).
    for (at, &d) in out.iter().enumerate() {
        let later_before = out[..at].iter().filter(|&&e| e > d).count();
        assert!(
            later_before <= 6,
            "datagram {d} came out behind {later_before} later ones"
        );
    }
    // What a receiver sees out of order is what was counted reordered.
    let mut highest = None;
    let mut behind = 0u64;
    for &d in &out {
        if highest.is_some_and(|h| d < h) {
            behind += 1;
        }
        highest = highest.max(Some(d));
    }
    assert_eq!(behind, counts.reordered);
    // The same seed gives exactly the same counts and order.
    let mut again = faults(spec, 11);
    assert_eq!(run(&mut again, n), out);
    assert_eq!(again.counts(), counts);
}

#[test]
fn jitter_reorders_unless_order_is_kept() {
    let jitter = Latency::Uniform(Duration::ZERO, Duration::from_millis(50));
    let dues = |keep_order| {
        let spec = DatagramSpec {
            latency: Some(jitter),
            keep_order,
            ..DatagramSpec::default()
        };
        let mut f = faults(spec, 3);
        let t0 = Instant::now();
        (0..1_000u64)
            .flat_map(|i| f.admit(i, t0 + Duration::from_millis(i)))
            .map(|(_, due)| due)
            .collect::<Vec<_>>()
    };
    let free = dues(false);
    assert!(
        free.windows(2).any(|w| w[1] < w[0]),
        "jitter lets datagrams overtake"
    );
    let kept = dues(true);
    assert!(
        kept.windows(2).all(|w| w[1] >= w[0]),
        "keep_order holds them in line"
    );
}

#[test]
fn no_faults_pass_everything_at_once_in_order() {
    let mut f = faults(DatagramSpec::default(), 1);
    let now = Instant::now();
    let out = f.admit(9, now);
    assert_eq!(out, vec![(9, now)]);
    assert_eq!(run(&mut f, 100), (0..100).collect::<Vec<_>>());
}

impl Datagram for u64 {
    fn size(&self) -> usize {
        8
    }
}

#[test]
fn an_update_applies_from_the_next_datagram_and_releases_what_is_held() {
    let spec = DatagramSpec {
        reorder: Some(Reorder {
            probability: 1.0,
            window: 1_000,
        }),
        ..DatagramSpec::default()
    };
    let mut f = faults(spec, 5);
    let now = Instant::now();
    for i in 0..10 {
        assert!(f.admit(i, now).is_empty(), "held for reordering");
    }
    // Cleared: the held ten go at once, then everything passes untouched.
    let released = f.update(DatagramSpec::default(), None, now);
    assert_eq!(released.len(), 10);
    assert_eq!(
        f.counts().reordered,
        0,
        "nothing passed them: late, not reordered"
    );
    assert_eq!(f.admit(10, now), vec![(10, now)]);
    // Loss from now on.
    let lossy = DatagramSpec {
        loss: Some(Loss::Random(1.0)),
        ..DatagramSpec::default()
    };
    assert!(f.update(lossy, None, now).is_empty());
    assert!(f.admit(11, now).is_empty());
    assert_eq!(f.counts().lost, 1);
}

#[test]
fn a_bandwidth_cap_delays_then_drops_and_counts() {
    let spec = DatagramSpec {
        // 800 B/s: a burst of 100 eight-byte datagrams, then one every 10 ms.
        bandwidth: Some(800),
        ..DatagramSpec::default()
    };
    let mut f = faults(spec, 1);
    let now = Instant::now();
    let out: Vec<_> = (0..2_000).flat_map(|i| f.admit(i, now)).collect();
    assert_eq!(out.len(), 100 + QUEUE_LIMIT);
    assert_eq!(f.counts().dropped, 2_000 - 100 - QUEUE_LIMIT as u64);
    let waits: Vec<Duration> = out.iter().map(|(_, at)| *at - now).collect();
    assert!(waits[..100].iter().all(Duration::is_zero));
    assert_eq!(waits[100].as_millis(), 10);
    // The order is kept: a queue, not a jitter.
    assert!(out.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
}
