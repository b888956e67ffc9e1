//! The per-second view of human `watch` output: which proxies' stats lines
//! are worth a line, and the total across proxies and agents. Pure state
//! (stats in, decisions out), so it is tested without agents or clocks.
//!
//! A proxy is idle in a second when nothing moved (both rates 0) and no
//! connection opened or closed (its active and total counts did not change).
//! Its first stats line is printed, and the first idle one after activity
//! (so the screen shows it went quiet), then nothing until it moves again.

use std::collections::HashMap;

/// The counters of one stats event that matter here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatsFigures {
    pub(crate) active: u64,
    pub(crate) total: u64,
    pub(crate) c2s_per_sec: u64,
    pub(crate) s2c_per_sec: u64,
}

/// The sums of one second across every live proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Total {
    pub(crate) proxies: u64,
    pub(crate) agents: u64,
    pub(crate) active: u64,
    pub(crate) c2s_per_sec: u64,
    pub(crate) s2c_per_sec: u64,
}

/// What was last seen of one proxy.
#[derive(Debug, Clone, Copy)]
struct Seen {
    figures: StatsFigures,
    /// Its last line was an idle one: further idle seconds print nothing.
    quiet: bool,
    /// The second (count of `second` calls) it last reported in.
    second: u64,
}

/// Seconds without stats after which a proxy no longer counts in the total.
/// A stopped proxy and a lost agent leave at once (their events); this only
/// catches what slipped through, so it is generous: a watch starved of CPU
/// for a few seconds must not forget, then re-print, its idle proxies.
const STALE_SECONDS: u64 = 5;

/// The stats state of every proxy on every agent.
#[derive(Debug, Default)]
pub(crate) struct Seconds {
    /// By (agent index, proxy id).
    proxies: HashMap<(usize, String), Seen>,
    /// `second` calls so far.
    now: u64,
    /// Stats lines printed since the last `second`.
    printed: u64,
}

impl Seconds {
    /// Records a stats event; says whether its line should be printed.
    pub(crate) fn stats(&mut self, agent: usize, proxy: &str, figures: StatsFigures) -> bool {
        let now = self.now;
        let moved = figures.c2s_per_sec > 0 || figures.s2c_per_sec > 0;
        let (print, quiet) = match self.proxies.get(&(agent, proxy.to_owned())) {
            None => (true, !moved),
            Some(seen) => {
                let idle = !moved
                    && seen.figures.active == figures.active
                    && seen.figures.total == figures.total;
                match (idle, seen.quiet) {
                    (false, _) => (true, false),
                    (true, false) => (true, true),
                    (true, true) => (false, true),
                }
            }
        };
        self.proxies.insert(
            (agent, proxy.to_owned()),
            Seen {
                figures,
                quiet,
                second: now,
            },
        );
        if print {
            self.printed += 1;
        }
        print
    }

    /// Counts a stats line printed anyway (`-v` prints idle proxies too).
    pub(crate) fn printed_anyway(&mut self) {
        self.printed += 1;
    }

    /// A proxy stopped: it leaves the total.
    pub(crate) fn proxy_stopped(&mut self, agent: usize, proxy: &str) {
        self.proxies.remove(&(agent, proxy.to_owned()));
    }

    /// An agent's stream ended: its proxies leave the total until it is back.
    pub(crate) fn agent_gone(&mut self, agent: usize) {
        self.proxies.retain(|(a, _), _| *a != agent);
    }

    /// A second passed: the total to print, when a stats line was printed
    /// in it and more than one proxy is live (with one, its own line says
    /// it all).
    pub(crate) fn second(&mut self) -> Option<Total> {
        let now = self.now;
        self.proxies
            .retain(|_, seen| now.saturating_sub(seen.second) < STALE_SECONDS);
        let printed = std::mem::take(&mut self.printed);
        self.now += 1;
        if printed == 0 || self.proxies.len() < 2 {
            return None;
        }
        let mut agents: Vec<usize> = self.proxies.keys().map(|(a, _)| *a).collect();
        agents.sort_unstable();
        agents.dedup();
        let figures = self.proxies.values().map(|s| s.figures);
        Some(Total {
            proxies: self.proxies.len() as u64,
            agents: agents.len() as u64,
            active: figures.clone().map(|f| f.active).sum(),
            c2s_per_sec: figures.clone().map(|f| f.c2s_per_sec).sum(),
            s2c_per_sec: figures.map(|f| f.s2c_per_sec).sum(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(active: u64, total: u64, c2s: u64) -> StatsFigures {
        StatsFigures {
            active,
            total,
            c2s_per_sec: c2s,
            s2c_per_sec: 0,
        }
    }

    #[test]
    fn an_idle_proxy_is_printed_once_then_not_until_it_moves() {
        let mut s = Seconds::default();
        let steps = [
            (figures(0, 0, 0), true, "first sight"),
            (figures(0, 0, 0), false, "idle since the start"),
            (figures(1, 1, 0), true, "a connection opened"),
            (figures(1, 1, 300), true, "bytes moved"),
            (figures(1, 1, 0), true, "went quiet: shown once"),
            (figures(1, 1, 0), false, "still quiet"),
            (figures(1, 1, 0), false, "still quiet"),
            (figures(0, 1, 0), true, "a connection closed"),
            (figures(0, 1, 0), true, "quiet after the close: shown once"),
            (figures(0, 1, 0), false, "quiet"),
        ];
        for (i, (f, print, why)) in steps.into_iter().enumerate() {
            assert_eq!(s.stats(0, "p1", f), print, "step {i}: {why}");
            s.second();
        }
    }

    #[test]
    fn the_total_sums_live_proxies_of_every_agent() {
        let mut s = Seconds::default();
        assert!(s.stats(0, "p1", figures(2, 5, 100)));
        assert!(s.stats(1, "p1", figures(3, 3, 50)));
        assert!(s.stats(1, "p2", figures(1, 1, 0)));
        assert_eq!(
            s.second(),
            Some(Total {
                proxies: 3,
                agents: 2,
                active: 6,
                c2s_per_sec: 150,
                s2c_per_sec: 0
            })
        );
        // p2 was idle from the start; p1s go quiet (shown once), then
        // a second with only idle lines has no total.
        assert!(!s.stats(1, "p2", figures(1, 1, 0)));
        assert!(s.stats(0, "p1", figures(2, 5, 0)));
        assert!(s.stats(1, "p1", figures(3, 3, 0)));
        s.second();
        assert!(!s.stats(0, "p1", figures(2, 5, 0)));
        assert!(!s.stats(1, "p1", figures(3, 3, 0)));
        assert_eq!(s.second(), None, "every line was idle");
    }

    #[test]
    fn one_proxy_needs_no_total_and_gone_ones_leave_it() {
        let mut s = Seconds::default();
        s.stats(0, "p1", figures(1, 1, 10));
        assert_eq!(s.second(), None, "a single proxy");
        s.stats(0, "p1", figures(1, 1, 10));
        s.stats(1, "p9", figures(1, 1, 10));
        assert_eq!(s.second().map(|t| t.proxies), Some(2));
        s.agent_gone(1);
        s.stats(0, "p1", figures(1, 1, 10));
        assert_eq!(s.second(), None, "agent 1 left");
        s.stats(0, "p1", figures(1, 1, 10));
        s.stats(0, "p2", figures(1, 1, 10));
        s.proxy_stopped(0, "p2");
        assert_eq!(s.second(), None, "p2 stopped");
        // A proxy silent for STALE_SECONDS drops out.
        s.stats(0, "p2", figures(1, 1, 10));
        for _ in 0..STALE_SECONDS {
            s.stats(0, "p1", figures(1, 1, 10));
            assert_eq!(s.second().map(|t| t.proxies), Some(2), "p2 still counts");
        }
        s.stats(0, "p1", figures(1, 1, 10));
        assert_eq!(s.second(), None, "p2 is stale");
    }
}
