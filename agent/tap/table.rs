//! A proxy's open connections (or UDP sessions) and the recordings tapping
//! it, under one lock, so that a recording starting and a connection
//! opening or closing always agree on which connections the recording must
//! describe as mid-session. TCP and UDP proxies both keep one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{ConnMeta, Tap};

#[derive(Debug, Default)]
struct State {
    conns: BTreeMap<u64, Arc<ConnMeta>>,
    taps: Arc<[Tap]>,
}

/// Connections and taps of one proxy.
#[derive(Debug, Default)]
pub struct TapTable {
    state: Mutex<State>,
}

impl TapTable {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain maps behind; keep serving.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The recordings to hand the next chunk or datagram to.
    pub fn taps(&self) -> Arc<[Tap]> {
        self.state().taps.clone()
    }

    /// Adds a connection to the table; returns the taps that must hear of it.
    pub fn register(&self, conn: &Arc<ConnMeta>) -> Arc<[Tap]> {
        let mut st = self.state();
        st.conns.insert(conn.id, conn.clone());
        st.taps.clone()
    }

    /// Removes a connection; returns the taps that must hear it closed.
    pub fn unregister(&self, id: u64) -> Arc<[Tap]> {
        let mut st = self.state();
        st.conns.remove(&id);
        st.taps.clone()
    }

    /// Starts feeding `tap`; returns the connections already open, which the
    /// recording must describe as mid-session.
    pub fn attach(&self, tap: Tap) -> Vec<Arc<ConnMeta>> {
        let mut st = self.state();
        let mut taps: Vec<Tap> = st.taps.iter().cloned().collect();
        taps.push(tap);
        st.taps = taps.into();
        st.conns.values().cloned().collect()
    }

    /// Stops feeding the recording `recording_id`.
    pub fn detach(&self, recording_id: &str) {
        let mut st = self.state();
        let taps: Vec<Tap> = st
            .taps
            .iter()
            .filter(|t| &*t.recording_id != recording_id)
            .cloned()
            .collect();
        st.taps = taps.into();
    }

    /// The connections open now, by id.
    pub fn connections(&self) -> Vec<Arc<ConnMeta>> {
        self.state().conns.values().cloned().collect()
    }

    /// The ids of the recordings tapping the proxy.
    pub fn recording_ids(&self) -> Vec<String> {
        self.state()
            .taps
            .iter()
            .map(|t| t.recording_id.to_string())
            .collect()
    }
}
