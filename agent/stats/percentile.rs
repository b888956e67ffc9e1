//! The one percentile rule of the analysis: nearest rank, so every reported
//! percentile is a value that was actually observed.

/// 1-based rank of the `pct` percentile among `n` sorted values, by the
/// nearest-rank method: `ceil(pct / 100 × n)`, at least 1. `n` must be > 0.
pub(crate) fn nearest_rank(n: u64, pct: u64) -> u64 {
    (pct * n).div_ceil(100).max(1)
}

/// The `pct` percentile of `values` (sorted in place); 0 when empty.
pub(crate) fn percentile(values: &mut [u64], pct: u64) -> u64 {
    if values.is_empty() {
        return 0;
    }
    values.sort_unstable();
    let rank = nearest_rank(values.len() as u64, pct);
    values[(rank - 1) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_table() {
        // (n, pct, rank)
        let cases = [
            (1, 95, 1),
            (10, 95, 10),
            (20, 95, 19),
            (100, 95, 95),
            (101, 95, 96),
            (3, 0, 1),
        ];
        for (n, pct, rank) in cases {
            assert_eq!(nearest_rank(n, pct), rank, "n={n} pct={pct}");
        }
    }

    #[test]
    fn percentile_of_values() {
        let mut v: Vec<u64> = (1..=20).rev().collect();
        assert_eq!(percentile(&mut v, 95), 19);
        assert_eq!(percentile(&mut v, 100), 20);
        assert_eq!(percentile(&mut [], 95), 0);
        assert_eq!(percentile(&mut [7], 95), 7);
    }
}
