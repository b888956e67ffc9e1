//! Any bytes given to the pcap importer end in a summary or a typed error,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reel::format::{Header, RecordingWriter};
use reel::pcap::{ServerFilter, import_reader};

fuzz_target!(|data: &[u8]| {
    let server: ServerFilter = "*:6379".parse().expect("valid filter");
    let Ok(mut out) = RecordingWriter::new(Vec::new(), &Header::default()) else {
        return;
    };
    let _ = import_reader(data, &server, &mut out);
});
