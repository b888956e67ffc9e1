//! Who may use the control plane: an optional bearer token checked on every
//! call of the reel and reflection services (health stays open so probes
//! work), and the rule that an agent reachable from other hosts must have one.

use std::net::SocketAddr;
use std::sync::Arc;

use tonic::{Request, Status};

/// Compares in time that depends only on the lengths, so response timing
/// does not reveal how much of a guessed token was right.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `authorization: Bearer <token>` when a token is configured.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<Arc<[u8]>>,
}

impl Auth {
    pub fn new(token: Option<String>) -> Self {
        Self {
            token: token.map(|t| Arc::from(t.into_bytes())),
        }
    }
}

impl tonic::service::Interceptor for Auth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.token else {
            return Ok(req);
        };
        let Some(header) = req.metadata().get("authorization") else {
            return Err(Status::unauthenticated(
                "this agent requires a token: send `authorization: Bearer <token>` (reelctl --token-file FILE)",
            ));
        };
        match header.to_str().ok().and_then(bearer_token) {
            Some(t) if constant_time_eq(t.as_bytes(), expected) => Ok(req),
            Some(_) => Err(Status::unauthenticated("invalid token")),
            None => Err(Status::unauthenticated(
                "the authorization header is not `Bearer <token>` in printable ASCII",
            )),
        }
    }
}

/// The token of an `authorization` header value in the `Bearer` scheme,
/// whose name is case-insensitive (RFC 7235 section 2.1): `bearer x` and
/// `BEARER x` are `x`. `None` for another scheme or no token.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once([' ', '\t'])?;
    let token = rest.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Refuses to serve the control plane beyond loopback without a token:
/// whoever reaches it can record player traffic and replay it anywhere.
///
/// # Errors
/// A message saying what to do instead.
pub fn check_exposure(addr: SocketAddr, has_token: bool, insecure: bool) -> Result<(), String> {
    if addr.ip().is_loopback() || has_token || insecure {
        return Ok(());
    }
    Err(format!(
        "refusing to serve the control plane on {addr} without a token: anyone who can reach it could record \
         and replay your players' traffic. Give --token-file FILE (and preferably --tls-cert/--tls-key), \
         or --insecure if the network is otherwise protected"
    ))
}

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
    use tonic::service::Interceptor;

    fn req(auth: Option<&str>) -> Request<()> {
        let mut r = Request::new(());
        if let Some(a) = auth {
            r.metadata_mut().insert("authorization", a.parse().unwrap());
        }
        r
    }

    #[test]
    fn tokens_are_checked() {
        let mut a = Auth::new(Some("s3cret".into()));
        assert!(a.call(req(Some("Bearer s3cret"))).is_ok());
        assert_eq!(
            a.call(req(Some("Bearer nope"))).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            a.call(req(None)).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert!(Auth::new(None).call(req(None)).is_ok());
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for (value, want) in [
            ("Bearer s3cret", Some("s3cret")),
            ("bearer s3cret", Some("s3cret")),
            ("BEARER s3cret", Some("s3cret")),
            ("bEaReR \t s3cret ", Some("s3cret")),
            ("Bearer\ts3cret", Some("s3cret")),
            ("Bearer", None),
            ("Bearer   ", None),
            ("Basic s3cret", None),
            ("Bearers3cret", None),
            ("s3cret", None),
            ("", None),
        ] {
            assert_eq!(bearer_token(value), want, "{value:?}");
        }
        let mut a = Auth::new(Some("s3cret".into()));
        for ok in ["bearer s3cret", "BEARER s3cret"] {
            assert!(a.call(req(Some(ok))).is_ok(), "{ok}");
        }
        let e = a.call(req(Some("Basic s3cret"))).unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated);
        assert!(e.message().contains("not `Bearer <token>`"), "{e}");
    }

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

    #[test]
    fn exposure_needs_a_token() {
        let lo: SocketAddr = "127.0.0.1:7700".parse().unwrap();
        let all: SocketAddr = "0.0.0.0:7700".parse().unwrap();
        assert!(check_exposure(lo, false, false).is_ok());
        assert!(
            check_exposure(all, false, false)
                .unwrap_err()
                .contains("--token-file")
        );
        assert!(check_exposure(all, true, false).is_ok());
        assert!(check_exposure(all, false, true).is_ok());
    }

    #[test]
    fn equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
