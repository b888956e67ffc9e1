//! What one subscriber wants: a set of kinds and, optionally, a set of
//! proxies. The fan-out applies it before an event goes anywhere near the
//! subscriber, so an event it does not want costs that subscriber nothing.

use std::collections::HashSet;

use super::event::{Event, EventKind};

/// A set of [`EventKind`]s, one bit each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KindSet(u8);

impl KindSet {
    pub const NONE: KindSet = KindSet(0);
    pub const ALL: KindSet = KindSet((1 << EventKind::ALL.len()) - 1);

    pub fn with(self, kind: EventKind) -> KindSet {
        KindSet(self.0 | 1 << kind.index())
    }

    pub fn without(self, kind: EventKind) -> KindSet {
        KindSet(self.0 & !(1 << kind.index()))
    }

    pub fn contains(self, kind: EventKind) -> bool {
        self.0 & 1 << kind.index() != 0
    }

    pub fn iter(self) -> impl Iterator<Item = EventKind> {
        EventKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }
}

impl FromIterator<EventKind> for KindSet {
    fn from_iter<I: IntoIterator<Item = EventKind>>(iter: I) -> Self {
        iter.into_iter().fold(KindSet::NONE, KindSet::with)
    }
}

/// Which events a subscriber receives.
#[derive(Debug, Clone)]
pub struct Filter {
    kinds: KindSet,
    /// Proxy ids; empty means every proxy (and agent-wide events).
    proxies: HashSet<String>,
}

impl Filter {
    /// Events of `kinds` from the proxies with these ids (none: from all,
    /// agent-wide events included; some: only events of those proxies).
    pub fn new(kinds: KindSet, proxies: impl IntoIterator<Item = String>) -> Self {
        Self {
            kinds,
            proxies: proxies.into_iter().collect(),
        }
    }

    /// Every event.
    pub fn everything() -> Self {
        Self::new(KindSet::ALL, [])
    }

    pub fn kinds(&self) -> KindSet {
        self.kinds
    }

    /// Whether the filter looks at kinds only, so counting what it matches in
    /// a batch needs only per-kind totals.
    pub fn any_proxy(&self) -> bool {
        self.proxies.is_empty()
    }

    pub fn matches(&self, event: &Event) -> bool {
        self.kinds.contains(event.kind())
            && (self.proxies.is_empty()
                || event
                    .proxy_id
                    .as_deref()
                    .is_some_and(|p| self.proxies.contains(p)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::events::{EventBody, ProxyStats};
    use crate::format::Direction;

    fn transfer(proxy: Option<&str>) -> Event {
        Event::new(
            proxy.map(Arc::from),
            EventBody::Transfer {
                conn: 1,
                dir: Direction::C2s,
                bytes: 1,
                delay: Duration::ZERO,
                drawn: Duration::ZERO,
            },
        )
    }

    #[test]
    fn kind_sets_add_and_remove() {
        let s = KindSet::ALL.without(EventKind::Transfer);
        assert!(!s.contains(EventKind::Transfer));
        assert!(s.contains(EventKind::Stats));
        assert_eq!(s.iter().count(), EventKind::ALL.len() - 1);
        let t: KindSet = [EventKind::Transfer, EventKind::Transfer]
            .into_iter()
            .collect();
        assert_eq!(t, KindSet::NONE.with(EventKind::Transfer));
    }

    #[test]
    fn filters_match_kind_and_proxy() {
        let transfers_of_p1 = Filter::new(KindSet::NONE.with(EventKind::Transfer), ["p1".into()]);
        assert!(transfers_of_p1.matches(&transfer(Some("p1"))));
        assert!(!transfers_of_p1.matches(&transfer(Some("p2"))));
        assert!(!transfers_of_p1.matches(&transfer(None)));
        let stats = Event::new(Some("p1".into()), EventBody::Stats(ProxyStats::default()));
        assert!(!transfers_of_p1.matches(&stats));
        assert!(Filter::everything().matches(&transfer(None)));
        assert!(Filter::everything().matches(&stats));
    }
}
