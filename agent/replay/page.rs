//! Paging of ListReplays: replays newest first, a page size with a default
//! and a cap, and an opaque token that names the last replay of the
//! previous page, so a replay added or pruned between two pages neither
//! repeats nor shifts the rest.

use std::time::SystemTime;

use crate::error::{Error, Result, echo};
use crate::ids;
use crate::record::time_to_unix_ns;

/// Reports in a page when the caller names no size.
pub const DEFAULT_PAGE_SIZE: usize = 50;
/// Most reports in one page: a page of summaries stays far below the gRPC
/// message limit.
pub const MAX_PAGE_SIZE: usize = 500;

/// Where a replay sorts: when it was accepted, then its id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageKey {
    pub accepted_ns: i64,
    pub id: String,
}

impl PageKey {
    pub fn new(accepted: SystemTime, id: &str) -> PageKey {
        PageKey {
            accepted_ns: time_to_unix_ns(accepted),
            id: id.to_string(),
        }
    }

    /// The token that continues after this key.
    fn token(&self) -> String {
        format!("{}.{}", self.accepted_ns, self.id)
    }
}

/// A page request made sense of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub size: usize,
    /// Start after this key; `None` = from the newest.
    pub after: Option<PageKey>,
}

impl PageRequest {
    /// # Errors
    /// `InvalidArgument` naming `page_token` for a token this agent did not
    /// give.
    pub fn parse(size: u32, token: &str) -> Result<PageRequest> {
        let size = match size as usize {
            0 => DEFAULT_PAGE_SIZE,
            n => n.min(MAX_PAGE_SIZE),
        };
        let token = token.trim();
        if token.is_empty() {
            return Ok(PageRequest { size, after: None });
        }
        let bad = || {
            Error::invalid(
                "page_token",
                format!("{} is not a next_page_token this agent gave", echo(token)),
            )
        };
        let (ns, id) = token.split_once('.').ok_or_else(bad)?;
        let accepted_ns = ns.parse::<i64>().map_err(|_| bad())?;
        ids::validate("page_token", id).map_err(|_| bad())?;
        Ok(PageRequest {
            size,
            after: Some(PageKey {
                accepted_ns,
                id: id.to_string(),
            }),
        })
    }

    /// Picks this page from `keys` sorted newest first: the positions of
    /// its items and the token of the next page (empty on the last).
    pub fn select(&self, keys: &[PageKey]) -> (std::ops::Range<usize>, String) {
        let start = match &self.after {
            None => 0,
            Some(after) => keys.partition_point(|k| k >= after),
        };
        let end = (start + self.size).min(keys.len());
        let next = if end < keys.len() && end > start {
            keys[end - 1].token()
        } else {
            String::new()
        };
        (start..end, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: i64) -> Vec<PageKey> {
        // Newest first; two replays share an instant.
        let mut k: Vec<PageKey> = (0..n)
            .map(|i| PageKey {
                accepted_ns: i / 2,
                id: format!("rp-{i:03}"),
            })
            .collect();
        k.sort_by(|a, b| b.cmp(a));
        k
    }

    /// Follows every page like `replay ls`.
    fn walk(keys: &[PageKey], size: u32) -> (Vec<String>, usize) {
        let mut token = String::new();
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let req = PageRequest::parse(size, &token).unwrap();
            let (range, next) = req.select(keys);
            pages += 1;
            seen.extend(keys[range].iter().map(|k| k.id.clone()));
            if next.is_empty() {
                return (seen, pages);
            }
            token = next;
        }
    }

    #[test]
    fn pages_cover_everything_once_newest_first() {
        let k = keys(23);
        for (size, pages) in [(5, 5), (1, 23), (23, 1), (50, 1), (0, 1)] {
            let (seen, n) = walk(&k, size);
            let all: Vec<String> = k.iter().map(|k| k.id.clone()).collect();
            assert_eq!(seen, all, "size {size}");
            assert_eq!(n, pages, "size {size}");
        }
        assert_eq!(walk(&[], 5), (Vec::new(), 1));
    }

    #[test]
    fn sizes_default_and_cap() {
        assert_eq!(PageRequest::parse(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(PageRequest::parse(7, "").unwrap().size, 7);
        assert_eq!(PageRequest::parse(100_000, "").unwrap().size, MAX_PAGE_SIZE);
    }

    #[test]
    fn a_token_survives_changes_between_pages() {
        let mut k = keys(10);
        let (first, token) = PageRequest::parse(4, "").unwrap().select(&k);
        assert_eq!(first, 0..4);
        // The last item of the page is pruned, a newer replay arrives.
        k.remove(3);
        k.insert(
            0,
            PageKey {
                accepted_ns: 99,
                id: "rp-new".into(),
            },
        );
        let (second, _) = PageRequest::parse(4, &token).unwrap().select(&k);
        let ids: Vec<&str> = k[second].iter().map(|k| k.id.as_str()).collect();
        assert_eq!(ids, ["rp-005", "rp-004", "rp-003", "rp-002"]);
    }

    #[test]
    fn bad_tokens_name_the_field() {
        for bad in ["x", "12", "abc.rp-1", "1.rp/1", "1.", ".rp-1"] {
            let e = PageRequest::parse(0, bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid page_token"), "{bad}: {e}");
        }
    }
}
