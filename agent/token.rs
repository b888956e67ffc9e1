//! Bearer tokens: what a token and a token file must hold. Shared by the
//! agent (which compares tokens) and reelctl (which sends them), so both
//! refuse the same files with the same words.

/// The longest token accepted: a token travels in a header of every call,
/// and anything longer is a file given by mistake (a key, a certificate).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// How much of a token file is read: its first line must fit well within
/// this, and a device or a huge file given by mistake is not read whole.
const TOKEN_FILE_READ_LIMIT: u64 = 64 * 1024;

/// Checks a token that will be sent or compared in an HTTP/2 header: at
/// most [`MAX_TOKEN_BYTES`], printable ASCII only (a header value carries
/// nothing else, so any other token could never be presented).
///
/// # Errors
/// Why, naming the offending byte by position, never the token itself.
pub fn validate_token(token: &[u8]) -> Result<(), String> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "the token is longer than {MAX_TOKEN_BYTES} bytes (the limit)"
        ));
    }
    if let Some(at) = token.iter().position(|b| !(0x20..=0x7e).contains(b)) {
        return Err(format!(
            "byte {} of the token is 0x{:02x}: a token travels in an HTTP header, \
             which carries printable ASCII only",
            at + 1,
            token[at]
        ));
    }
    Ok(())
}

/// Reads a token file: the first line, trimmed; refused when empty, longer
/// than [`MAX_TOKEN_BYTES`] or not printable ASCII, so a token that could
/// never be sent is refused at start rather than failing every call later.
///
/// # Errors
/// When the file cannot be read or holds no usable token; the message
/// names the file.
pub fn read_token_file(path: &std::path::Path) -> Result<String, String> {
    use std::io::Read;
    let fail = |why: String| format!("token file {}: {why}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(TOKEN_FILE_READ_LIMIT).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read token file {}: {e}", path.display()))?;
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let token = line.trim_ascii();
    if token.is_empty() {
        return Err(format!("token file {} is empty", path.display()));
    }
    validate_token(token).map_err(fail)?;
    // Printable ASCII, checked just above, is UTF-8.
    Ok(String::from_utf8_lossy(token).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_must_hold_a_token_that_can_be_sent() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let ok = file("ok", b"  s3cret words \r\nsecond line\n");
        assert_eq!(read_token_file(&ok).unwrap(), "s3cret words");
        let max = file("max", &[b'a'; MAX_TOKEN_BYTES]);
        assert_eq!(read_token_file(&max).unwrap().len(), MAX_TOKEN_BYTES);
        for (name, bytes, why) in [
            ("empty", &b"\n\n"[..], "is empty"),
            (
                "utf8",
                "s3cr\u{e9}t\n".as_bytes(),
                "byte 5 of the token is 0xc3",
            ),
            ("nul", b"s3c\0ret", "byte 4 of the token is 0x00"),
            ("esc", b"s3c\x1bret", "0x1b"),
            (
                "big",
                &[b'a'; MAX_TOKEN_BYTES + 1][..],
                "longer than 4096 bytes",
            ),
        ] {
            let e = read_token_file(&file(name, bytes)).unwrap_err();
            assert!(
                e.contains(&format!("token file {}", dir.path().join(name).display())),
                "{e}"
            );
            assert!(e.contains(why), "{name}: {e}");
        }
    }
}
