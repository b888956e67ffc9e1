use std::fs::OpenOptions;
use std::io::{IoSlice, Write};

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};

use super::*;
use crate::record::files::create_private;

/// A directory on the filesystem the project is built on (where
/// `O_DIRECT` is usual), not a tmpfs.
fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(".direct-test-")
        .tempdir_in(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
}

fn segment(dir: &Path, name: &str, direct: bool) -> (std::path::PathBuf, SegmentFile) {
    let path = dir.join(name);
    let file = create_private(&path).unwrap();
    let seg = SegmentFile::new(&path, file, direct, "segio-test".into());
    (path, seg)
}

/// Random writes (plain and vectored, a byte to several chunks) with
/// flushes between some of them: after each flush the file holds exactly
/// what was written, no more (no padding) and no less.
fn writes_read_back_exact(direct: bool, seed: u64) {
    let d = dir();
    let (path, mut seg) = segment(d.path(), "s.reel", direct);
    if !direct {
        assert!(
            !seg.is_direct(),
            "--no-direct-io goes through the page cache"
        );
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut want = Vec::new();
    for round in 0..60 {
        let len = match round % 4 {
            0 => rng.random_range(1..100),
            1 => rng.random_range(100..20_000),
            2 => rng.random_range(20_000..600_000),
            _ => rng.random_range(CHUNK - 10..CHUNK * 2 + 10),
        };
        let mut data = vec![0u8; len];
        rng.fill_bytes(&mut data);
        if round % 3 == 0 {
            let (a, b) = data.split_at(len / 2);
            let n = seg
                .write_vectored(&[IoSlice::new(a), IoSlice::new(b)])
                .unwrap();
            assert_eq!(n, len);
        } else {
            seg.write_all(&data).unwrap();
        }
        want.extend_from_slice(&data);
        if rng.random_range(0..3) == 0 {
            seg.flush().unwrap();
            let on_disk = std::fs::read(&path).unwrap();
            assert_eq!(
                on_disk.len(),
                want.len(),
                "round {round}: length after a flush"
            );
            assert!(on_disk == want, "round {round}: bytes after a flush");
        }
    }
    seg.sync().unwrap();
    drop(seg);
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk.len(), want.len());
    assert!(on_disk == want, "bytes at the end");
}

#[test]
fn direct_writes_read_back_exact_after_every_flush() {
    writes_read_back_exact(true, 17);
    writes_read_back_exact(true, 18);
}

#[test]
fn page_cache_writes_read_back_exact_after_every_flush() {
    writes_read_back_exact(false, 19);
}

#[test]
fn dropping_the_file_hands_what_was_written_to_the_os() {
    let d = dir();
    let (path, mut seg) = segment(d.path(), "s.reel", true);
    let data: Vec<u8> = (0..CHUNK + 12_345).map(|i| (i % 251) as u8).collect();
    seg.write_all(&data).unwrap();
    drop(seg);
    assert!(std::fs::read(&path).unwrap() == data);
}

#[test]
fn a_sync_makes_the_bytes_durable_and_keeps_them_exact() {
    let d = dir();
    let (path, mut seg) = segment(d.path(), "s.reel", true);
    seg.write_all(&[5u8; 10_000]).unwrap();
    seg.sync().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), vec![5u8; 10_000]);
}

#[test]
fn a_failed_write_fails_every_later_write_and_flush() {
    let d = dir();
    let path = d.path().join("ro.reel");
    drop(create_private(&path).unwrap());
    // A descriptor that cannot write: every write fails with EBADF.
    let read_only = OpenOptions::new().read(true).open(&path).unwrap();
    let mut seg = SegmentFile::new(&path, read_only, false, "segio-test".into());
    let chunk = vec![1u8; CHUNK];
    // The first full chunk goes to the thread; its failure comes back at
    // the latest with the flush.
    let first = seg.write_all(&chunk).and_then(|()| seg.flush());
    let e = first.unwrap_err();
    assert_eq!(e.raw_os_error(), None, "a copy, not the OS error itself");
    assert!(!e.to_string().is_empty());
    assert!(seg.write(&[1, 2, 3]).is_err(), "sticky after a failure");
    assert!(seg.flush().is_err());
    assert!(seg.sync().is_err());
}
