//! Exports checked by an independent reader: tshark must see one TCP
//! conversation per recorded connection, valid checksums, and follow each
//! stream to exactly the recorded bytes. They run with `REEL_TEST_TSHARK`
//! set (scripts/test.sh sets it); then a missing tshark fails them with the
//! install hint.

use std::net::SocketAddr;

use super::util::{recording, sample_frames, streams};
use crate::fixtures::{self, Need, parse_follow};
use crate::pcap::export_pcapng;

/// Runs tshark (bounded); panics with the install hint if it is missing.
fn tshark(args: &[&str]) -> String {
    fixtures::tshark(args).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether `test` may run: tshark is a tool cargo does not bring, behind
/// `REEL_TEST_TSHARK` like the integration tests that need it.
fn enabled(test: &str) -> bool {
    fixtures::enabled(Need::Tshark, test)
}

/// tshark's spelling of an address: IPv6 in brackets, IPv4-mapped as IPv6.
fn node(addr: &str) -> String {
    let a: SocketAddr = addr.parse().expect("address");
    a.to_string()
}

/// Export of the sample recording, in a temporary file.
fn exported() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.pcapng");
    let file = std::fs::File::create(&path).unwrap();
    export_pcapng(recording(&sample_frames()).as_slice(), file).unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

#[test]
fn tshark_sees_one_conversation_per_connection() {
    if !enabled("tshark_sees_one_conversation_per_connection") {
        return;
    }
    let (_dir, path) = exported();
    let conv = tshark(&["-r", &path, "-q", "-z", "conv,tcp"]);
    let conversations = conv.lines().filter(|l| l.contains("<->")).count();
    assert_eq!(conversations, streams(&sample_frames()).len(), "{conv}");
}

#[test]
fn tshark_finds_valid_checksums_times_and_no_malformed_packet() {
    if !enabled("tshark_finds_valid_checksums_times_and_no_malformed_packet") {
        return;
    }
    let (_dir, path) = exported();
    let fields = tshark(&[
        "-r",
        &path,
        "-o",
        "tcp.check_checksum:TRUE",
        "-o",
        "ip.check_checksum:TRUE",
        "-T",
        "fields",
        "-e",
        "frame.time_epoch",
        "-e",
        "tcp.checksum.status",
        "-e",
        "ip.checksum.status",
        "-e",
        "_ws.malformed",
    ]);
    let mut packets = 0;
    for line in fields.lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        // 1 = good; IPv6 has no header checksum (empty).
        assert_eq!(cols[1], "1", "tcp checksum: {line}");
        assert!(cols[2] == "1" || cols[2].is_empty(), "ip checksum: {line}");
        assert!(
            cols.get(3).is_none_or(|c| c.is_empty()),
            "malformed: {line}"
        );
        packets += 1;
    }
    assert!(packets > 20, "{fields}");
    // Recording start + the first OPEN's 1 ms, to the nanosecond.
    let first_time = fields.lines().next().and_then(|l| l.split('\t').next());
    assert_eq!(first_time, Some("1700000000.124456789"));
}

#[test]
fn tshark_follows_every_stream_to_the_recorded_bytes() {
    if !enabled("tshark_follows_every_stream_to_the_recorded_bytes") {
        return;
    }
    let (_dir, path) = exported();
    let expected = streams(&sample_frames());
    let mut args = vec!["-r".to_string(), path.clone(), "-q".into()];
    for n in 0..expected.len() {
        args.push("-z".into());
        args.push(format!("follow,tcp,raw,{n}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let followed = parse_follow(&tshark(&args));
    assert_eq!(followed.len(), expected.len());
    // The exported address pair of each connection (see export's fallbacks).
    let pairs = [
        ("10.0.0.1:40001", "10.0.0.2:5630"),
        ("[2001:db8::1]:40002", "[2001:db8::2]:5630"),
        ("10.0.0.3:40003", "10.0.0.2:5630"),
        ("127.0.0.1:49156", "127.0.0.1:5630"),
        ("127.0.0.1:49157", "127.0.0.1:1"),
        ("[::ffff:10.0.0.6]:40006", "[2001:db8::2]:5630"),
    ];
    for ((conn, [c2s, s2c]), (client, server)) in expected.iter().zip(pairs) {
        let (client, server) = (node(client), node(server));
        let f = followed
            .iter()
            .find(|f| f.nodes.contains(&client) && f.nodes.contains(&server))
            .unwrap_or_else(|| {
                panic!("conn {conn}: no stream {client} <-> {server} in {followed:?}")
            });
        let from_client = usize::from(f.nodes[0] != client);
        assert_eq!(&f.sent[from_client], c2s, "conn {conn} c2s");
        assert_eq!(&f.sent[1 - from_client], s2c, "conn {conn} s2c");
    }
}
