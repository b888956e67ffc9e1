//! Bad input gives a typed error naming the problem, never a panic: a
//! table of broken files, then arbitrary and mutated bytes (proptest).

use proptest::prelude::*;

use super::util::*;
use crate::format::FormatError;
use crate::pcap::{
    PcapError, ServerFilter, export_pcapng, import_pcap, import_pcap_file, import_reader,
};

fn import_bytes(bytes: &[u8]) -> Result<crate::pcap::ImportSummary, PcapError> {
    let server: ServerFilter = "*:5630".parse().unwrap();
    import_reader(bytes, &server, &mut memory_writer())
}

/// A pcapng block: type, total length, body, total length (little-endian).
fn block(kind: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len()) as u32;
    [
        &kind.to_le_bytes()[..],
        &len.to_le_bytes(),
        body,
        &len.to_le_bytes(),
    ]
    .concat()
}

/// A little-endian pcapng section header block.
fn shb() -> Vec<u8> {
    let body = [
        &0x1a2b_3c4du32.to_le_bytes()[..],
        &1u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &(-1i64).to_le_bytes(),
    ]
    .concat();
    block(0x0a0d_0d0a, &body)
}

/// An interface description block of link type `lt`.
fn idb(lt: u16) -> Vec<u8> {
    block(
        1,
        &[&lt.to_le_bytes()[..], &[0, 0], &0u32.to_le_bytes()].concat(),
    )
}

/// An enhanced packet block on `interface` with `data`.
fn epb(interface: u32, data: &[u8]) -> Vec<u8> {
    let mut body = [
        &interface.to_le_bytes()[..],
        &[0; 8],
        &(data.len() as u32).to_le_bytes(),
        &(data.len() as u32).to_le_bytes(),
        data,
    ]
    .concat();
    body.resize(body.len().div_ceil(4) * 4, 0);
    block(6, &body)
}

#[test]
fn broken_captures_name_their_problem() {
    let pcap = pcap_file(1, &[icmp(0)]);
    let mut bad_len = [shb(), idb(1)].concat();
    bad_len.extend_from_slice(&block(6, &[0; 20])[..4]);
    bad_len.extend_from_slice(&13u32.to_le_bytes());
    bad_len.extend_from_slice(&[0; 12]);
    let mut bad_bom = shb();
    bad_bom[8] = 0x77;
    // (case, bytes, expected message fragment)
    let cases: [(&str, Vec<u8>, &str); 9] = [
        ("empty", Vec::new(), "empty"),
        (
            "text",
            b"hello, world".to_vec(),
            "not a pcap or pcapng file (it starts with 68 65 6c 6c)",
        ),
        (
            "pcap magic only",
            pcap[..4].to_vec(),
            "ends inside its file header, after 4 bytes",
        ),
        (
            "half pcap header",
            pcap[..20].to_vec(),
            "ends inside its file header",
        ),
        (
            "pcapng magic only",
            shb()[..6].to_vec(),
            "ends inside its file header",
        ),
        (
            "pcapng bad byte-order magic",
            bad_bom,
            "corrupted capture at byte offset 0",
        ),
        (
            "pcapng bad block length",
            bad_len,
            "corrupted capture at byte offset",
        ),
        (
            "undeclared interface",
            [shb(), idb(1), epb(3, &[0; 40])].concat(),
            "undeclared interface 3",
        ),
        (
            "unsupported link type",
            [shb(), idb(147), epb(0, &[0; 40])].concat(),
            "unsupported link type 147",
        ),
    ];
    for (name, bytes, needle) in cases {
        let err = import_bytes(&bytes).expect_err(name);
        assert!(err.to_string().contains(needle), "{name}: {err}");
    }
    let usb = pcap_file(189, &[icmp(0)]); // LINKTYPE_USB_LINUX
    assert!(matches!(
        import_bytes(&usb),
        Err(PcapError::UnsupportedLinkType(189))
    ));
}

#[test]
fn a_record_claiming_more_than_the_file_holds_is_a_truncation() {
    let mut pcap = pcap_file(1, &[icmp(0)]);
    let record = pcap.len();
    pcap.extend_from_slice(&[0; 8]);
    pcap.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    pcap.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    pcap.extend_from_slice(b"partial");
    let s = import_bytes(&pcap).unwrap();
    assert_eq!(s.packets, 1);
    let t = s.truncated.unwrap();
    assert_eq!((t.offset, t.bytes), (record as u64, 23));
}

#[test]
fn files_and_recordings_that_are_not_there_or_not_valid() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pcap");
    let server: ServerFilter = "*:5630".parse().unwrap();
    let err = import_pcap(&missing, &server, &mut memory_writer()).unwrap_err();
    assert!(err.to_string().contains("missing.pcap"), "{err}");
    // A failed import to a file leaves no output behind: a good first
    // packet, then a block whose length is not a multiple of 4.
    let junk = dir.path().join("junk.pcap");
    let good = epb(0, &link_frame(1, &icmp(0).ip));
    let bad = [&6u32.to_le_bytes()[..], &13u32.to_le_bytes(), &[0; 12]].concat();
    std::fs::write(&junk, [shb(), idb(1), good, bad].concat()).unwrap();
    let output = dir.path().join("out.reel");
    let err = import_pcap_file(&junk, &server, &output, Default::default()).unwrap_err();
    assert!(matches!(err, PcapError::Corrupted { .. }), "{err}");
    assert!(!output.exists());
    // Export of something that is not a recording.
    let err = export_pcapng(&b"REELREC? not really"[..], Vec::new()).unwrap_err();
    assert!(
        matches!(err, PcapError::Recording(FormatError::NotARecording)),
        "{err}"
    );
}

fn valid_captures() -> Vec<Vec<u8>> {
    let pkts = [
        tcp(0, "10.0.0.1:1", "10.0.0.2:5630", 1, SYN, b""),
        tcp(5, "10.0.0.1:1", "10.0.0.2:5630", 2, ACK, b"data"),
    ];
    vec![
        pcap_file(1, &pkts),
        pcapng_file(276, &pkts),
        pcap_file(0, &pkts),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = import_bytes(&bytes);
    }

    #[test]
    fn arbitrary_records_after_a_valid_header_never_panic(
        which in 0usize..3,
        tail in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let headers = [pcap_file(1, &[])[..24].to_vec(), [shb(), idb(1)].concat(), [shb(), idb(101)].concat()];
        let _ = import_bytes(&[headers[which].clone(), tail].concat());
    }

    #[test]
    fn mutated_captures_never_panic(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = valid_captures()[which].clone();
        for (at, value) in edits {
            let at = at % bytes.len();
            bytes[at] = value;
        }
        let _ = import_bytes(&bytes);
        let _ = import_bytes(&bytes[..cut % (bytes.len() + 1)]);
    }
}
