//! Where the passes of a replay put what they find as connections end:
//! the bounded report collector, the first reading error, and the sum of
//! what the rewriting rules did.

use std::sync::{Arc, Mutex, MutexGuard};

use super::collect::Collector;
use super::pass::Outcomes;
use super::report::{ConnReport, Relaxation, RuleCount};
use crate::rewrite::{Rules, Stats};

/// What the passes of a replay report as they go: connections and
/// relaxations into the bounded collector, the first reading error aside.
pub(super) struct Feed {
    pub(super) collector: Arc<Mutex<Collector>>,
    pub(super) error: Mutex<Option<String>>,
    /// What the rules did, summed over the connections that ended.
    pub(super) rules: Mutex<Option<Stats>>,
}

impl Feed {
    fn collector(&self) -> MutexGuard<'_, Collector> {
        self.collector.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Messages the framing could not split, so far.
    pub(super) fn unparsed(&self) -> u64 {
        let stats = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        stats.as_ref().map_or(0, |s| s.unparsed)
    }

    /// The rules' counts so far, rule by rule.
    pub(super) fn rule_counts(&self, rules: Option<&Rules>) -> Vec<RuleCount> {
        let stats = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        match (rules, stats.as_ref()) {
            (Some(r), Some(s)) => RuleCount::all(r, s),
            (Some(r), None) => RuleCount::all(r, &Stats::new(r)),
            _ => Vec::new(),
        }
    }
}

impl Outcomes for Feed {
    fn connection(&self, r: ConnReport) {
        self.collector().add(r);
    }

    fn relaxation(&self, r: Relaxation) {
        self.collector().relaxation(r);
    }

    fn error(&self, e: String) {
        self.error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_or_insert(e);
    }

    fn rules(&self, stats: &Stats) {
        let mut sum = self.rules.lock().unwrap_or_else(|e| e.into_inner());
        match sum.as_mut() {
            Some(s) => s.add(stats),
            None => *sum = Some(stats.clone()),
        }
    }
}
