//! Any bytes fed to the recording reader end in a frame list and an `End`
//! value (or a header error), never a panic or an unbounded allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reel::format::{Next, RecordingReader};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = RecordingReader::open(data) else {
        return;
    };
    // A reader that ended keeps answering the same end: stop at the first.
    for _ in 0..1_000_000 {
        match reader.next() {
            Ok(Next::Frame(_)) => {}
            Ok(Next::End(_)) | Err(_) => return,
        }
    }
});
