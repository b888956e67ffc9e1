//! What the rules did, counted per rule and kind: the figures a replay
//! report shows and `rules check` prints. Mergeable, so a replay sums
//! its connections.

use serde::{Deserialize, Serialize};

use super::rules::Rules;

/// The four kinds of rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    /// `[[capture]]`
    Capture,
    /// `[[rewrite]]`
    Rewrite,
    /// `[[checksum]]`
    Checksum,
    /// `[[ignore]]`
    Ignore,
}

impl RuleKind {
    /// The table name: `capture`, `rewrite`, `checksum`, `ignore`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Capture => "capture",
            RuleKind::Rewrite => "rewrite",
            RuleKind::Checksum => "checksum",
            RuleKind::Ignore => "ignore",
        }
    }
}

/// The counts of one rule. Each kind uses some of them; the others stay 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStats {
    /// Messages of the rule's direction that met its `when` (captures:
    /// recorded and live ones).
    pub matched: u64,
    /// Rewrites: values written (for `anywhere`, each occurrence replaced).
    pub applied: u64,
    /// Rewrites: matched messages that kept their recorded value (the live
    /// value not known yet, the field outside the message, a value of
    /// another length or too large for the field). Captures: matched
    /// messages without the field. Checksums: matched messages too short
    /// for the range or the field. Ignores: matched messages without the field.
    pub missed: u64,
    /// Captures: values learned from the recording.
    pub learned_recorded: u64,
    /// Captures: values learned from the live server.
    pub learned_live: u64,
    /// Checksums: values computed and written.
    pub checksums_fixed: u64,
    /// Ignores: bytes left out of `--verify`'s comparison.
    pub bytes_ignored: u64,
}

impl RuleStats {
    /// Adds `other`'s counts.
    pub fn add(&mut self, other: &RuleStats) {
        self.matched += other.matched;
        self.applied += other.applied;
        self.missed += other.missed;
        self.learned_recorded += other.learned_recorded;
        self.learned_live += other.learned_live;
        self.checksums_fixed += other.checksums_fixed;
        self.bytes_ignored += other.bytes_ignored;
    }
}

/// The counts of every rule of a rules file, by kind and index in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// `capture[i]`.
    pub capture: Vec<RuleStats>,
    /// `rewrite[i]`.
    pub rewrite: Vec<RuleStats>,
    /// `checksum[i]`.
    pub checksum: Vec<RuleStats>,
    /// `ignore[i]`.
    pub ignore: Vec<RuleStats>,
    /// Messages passed on unparsed because the framing broke or a message
    /// never completed. The rewriter does not see framers: the caller adds
    /// [`Framer::unparsed`](super::Framer::unparsed) here.
    pub unparsed: u64,
}

impl Stats {
    /// All zero, one entry per rule of `rules`.
    pub fn new(rules: &Rules) -> Stats {
        Stats {
            capture: vec![RuleStats::default(); rules.captures().len()],
            rewrite: vec![RuleStats::default(); rules.rewrites().len()],
            checksum: vec![RuleStats::default(); rules.checksums().len()],
            ignore: vec![RuleStats::default(); rules.ignores().len()],
            unparsed: 0,
        }
    }

    /// Adds `other`'s counts rule by rule (a shorter side grows).
    pub fn add(&mut self, other: &Stats) {
        for (mine, theirs) in [
            (&mut self.capture, &other.capture),
            (&mut self.rewrite, &other.rewrite),
            (&mut self.checksum, &other.checksum),
            (&mut self.ignore, &other.ignore),
        ] {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), RuleStats::default());
            }
            for (m, t) in mine.iter_mut().zip(theirs) {
                m.add(t);
            }
        }
        self.unparsed += other.unparsed;
    }

    /// Every rule's counts with its kind and index, in file order by kind.
    pub fn iter(&self) -> impl Iterator<Item = (RuleKind, usize, &RuleStats)> {
        [
            (RuleKind::Capture, &self.capture),
            (RuleKind::Rewrite, &self.rewrite),
            (RuleKind::Checksum, &self.checksum),
            (RuleKind::Ignore, &self.ignore),
        ]
        .into_iter()
        .flat_map(|(kind, list)| list.iter().enumerate().map(move |(i, s)| (kind, i, s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_add_up_rule_by_rule() {
        let one = RuleStats {
            matched: 2,
            applied: 1,
            missed: 1,
            learned_recorded: 1,
            learned_live: 1,
            checksums_fixed: 1,
            bytes_ignored: 4,
        };
        let mut total = Stats {
            rewrite: vec![one],
            unparsed: 1,
            ..Stats::default()
        };
        let other = Stats {
            rewrite: vec![one, one],
            unparsed: 2,
            ..Stats::default()
        };
        total.add(&other);
        assert_eq!(total.rewrite[0].matched, 4);
        assert_eq!(total.rewrite[0].bytes_ignored, 8);
        assert_eq!(total.rewrite[1], one);
        assert_eq!(total.unparsed, 3);
        let listed: Vec<_> = total.iter().map(|(k, i, _)| (k.as_str(), i)).collect();
        assert_eq!(listed, [("rewrite", 0), ("rewrite", 1)]);
    }
}
