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
