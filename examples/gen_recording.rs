//! Writes a synthetic recording of a given size, for benchmarks
//! (`bench/analysis.sh`) and for trying `reelctl stats` / `export` by hand.
//!
//! ```text
//! cargo run --release --example gen_recording -- OUT.reel SIZE_MIB [CONNECTIONS] [SECONDS]
//! ```
//!
//! CONNECTIONS clients (default 200) open during the first tenth of SECONDS
//! (default 600) and close during the last tenth; in between they exchange
//! u16be-framed messages of 64 to 2 800 bytes (`--framing u16be` counts
//! them), client and server in turn, until the file holds SIZE_MIB MiB.
//! Deterministic: the same arguments give the same file.

use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;

use bytes::Bytes;
use reel::format::{Direction, Frame, FrameBody, Header, OpenInfo, ProxyMeta, RecordingWriter};

const NS_PER_SEC: u64 = 1_000_000_000;
/// Message sizes, header included.
const MIN_MESSAGE: u64 = 64;
const MAX_MESSAGE: u64 = 2_800;

/// xorshift64: fast, deterministic, good enough for traffic shapes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [out, mib, rest @ ..] if rest.len() <= 2 => (|| {
            let mib: u64 = mib.parse().ok()?;
            let conns: u64 = rest.first().map_or(Some(200), |s| s.parse().ok())?;
            let secs: u64 = rest.get(1).map_or(Some(600), |s| s.parse().ok())?;
            (mib > 0 && conns > 0 && secs >= 10).then(|| (out.clone(), mib, conns, secs))
        })(),
        _ => None,
    };
    let Some((out, mib, conns, secs)) = parsed else {
        eprintln!("usage: gen_recording OUT.reel SIZE_MIB [CONNECTIONS] [SECONDS>=10]");
        return ExitCode::from(2);
    };
    match generate(&out, mib << 20, conns, secs) {
        Ok(frames) => {
            println!("wrote {out}: {mib} MiB, {conns} connections, {secs} s, {frames} frames");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(
    out: &str,
    size: u64,
    conns: u64,
    secs: u64,
) -> Result<u64, Box<dyn std::error::Error>> {
    let id = std::path::Path::new(out)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("bench")
        .to_owned();
    let upstream = "10.0.0.1:5630";
    let header = Header {
        id,
        label: "synthetic".into(),
        agent_name: "gen_recording".into(),
        started_at_unix_ns: 1_700_000_000_000_000_000,
        proxies: vec![ProxyMeta {
            id: "p1".into(),
            upstream: upstream.into(),
            ..ProxyMeta::default()
        }],
        ..Header::default()
    };
    let mut w = RecordingWriter::new(
        BufWriter::with_capacity(1 << 20, File::create(out)?),
        &header,
    )?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let noise: Vec<u8> = (0..MAX_MESSAGE + 8).map(|_| rng.next() as u8).collect();
    let span = secs * NS_PER_SEC;
    let (open_end, close_start) = (span / 10, span - span / 10);
    let mut frames = 0u64;
    for c in 1..=conns {
        let body = FrameBody::Open(OpenInfo {
            client: format!(
                "10.1.{}.{}:{}",
                c / 250 % 250,
                c % 250 + 1,
                40_000 + c % 20_000
            ),
            proxy_id: "p1".into(),
            upstream: upstream.into(),
            mid_session: false,
            opened_unix_ns: 0,
            ..OpenInfo::default()
        });
        w.write_frame(&Frame {
            conn: c,
            ts_ns: open_end * (c - 1) / conns,
            body,
        })?;
        frames += 1;
    }
    // Data until the file is big enough: timestamps spread evenly, so the
    // expected number of chunks is estimated from the mean chunk size.
    let mean = (MIN_MESSAGE + MAX_MESSAGE) / 2 + 24;
    let expected = (size / mean).max(1);
    let mut i = 0u64;
    while w.position() < size {
        let ts = open_end + (close_start - open_end) * i.min(expected) / expected;
        let len = rng.between(MIN_MESSAGE, MAX_MESSAGE);
        let start = (rng.next() % 8) as usize;
        let mut payload = Vec::with_capacity(len as usize);
        payload.extend_from_slice(&((len - 2) as u16).to_be_bytes());
        payload.extend_from_slice(&noise[start..start + len as usize - 2]);
        let dir = if i.is_multiple_of(2) {
            Direction::C2s
        } else {
            Direction::S2c
        };
        w.write_frame(&Frame {
            conn: 1 + (i / 2) % conns,
            ts_ns: ts,
            body: FrameBody::Data {
                dir,
                payload: Bytes::from(payload),
            },
        })?;
        i += 1;
        frames += 1;
    }
    for c in 1..=conns {
        w.write_frame(&Frame {
            conn: c,
            ts_ns: close_start + (span - close_start) * c / conns,
            body: FrameBody::Close {
                reason: "client closed".into(),
            },
        })?;
        frames += 1;
    }
    w.finish(header.started_at_unix_ns + span as i64, "generated", None)?;
    Ok(frames)
}
