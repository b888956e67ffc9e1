//! The `listing` of a recording about to be stored, read from its sealed
//! segments in the data directory: label and agent from the headers, totals
//! from the footers (a connection that spans segments counted once, by its
//! id in the footers' tables).

use std::collections::HashSet;
use std::path::Path;

use super::index::{Index, Listing};
use crate::format::read_footer;

/// Describes the recording whose segments `index` lists in `dir`. A
/// segment without a readable footer adds nothing but is not an error: the
/// listing is a convenience, the segments are the recording.
pub fn describe(dir: &Path, index: &Index) -> Listing {
    let mut listing = Listing::default();
    let mut conns = HashSet::new();
    let mut untabled = 0u64;
    let mut ended_ns = i64::MIN;
    let mut first = true;
    for s in &index.segments {
        let Ok(Some((header, footer))) = read_footer(&dir.join(&s.name)) else {
            continue;
        };
        if first {
            listing.label = header.label.clone();
            listing.agent_name = header.agent_name.clone();
            listing.started_at_unix_ns = header.started_at_unix_ns;
            first = false;
        }
        listing.started_at_unix_ns = listing.started_at_unix_ns.min(header.started_at_unix_ns);
        for p in &header.proxies {
            if !listing.proxies.contains(&p.id) {
                listing.proxies.push(p.id.clone());
            }
        }
        let sum = &footer.summary;
        listing.bytes_c2s += sum.bytes_c2s;
        listing.bytes_s2c += sum.bytes_s2c;
        listing.frames += sum.frames;
        listing.lost_bytes = listing.lost_bytes.saturating_add(sum.lost_bytes);
        if footer.connection_detail_omitted {
            untabled += sum.connections;
        } else {
            conns.extend(footer.connections.iter().map(|c| c.conn));
        }
        ended_ns = ended_ns.max(footer.ended_unix_ns);
        if listing.error.is_none() {
            listing.error = footer.error.clone();
        }
    }
    listing.connections = conns.len() as u64 + untabled;
    if ended_ns > listing.started_at_unix_ns {
        let ns = ended_ns.saturating_sub(listing.started_at_unix_ns);
        listing.duration_ms = u64::try_from(ns / 1_000_000).unwrap_or(0);
    }
    listing
}
