//! The one check of a `host:port` address given by a user: a proxy's listen
//! address and upstream, a replay target, the agent's own listen address.
//!
//! A host is a DNS name (RFC 1123 labels), an IPv4 address, or an IPv6
//! address in brackets (`[::1]:9`); no scheme, no control characters, at
//! most [`MAX_HOST_LEN`] bytes. A typo is reported when the address is given,
//! not on the first client, and the error names the field.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::{Error, Result, echo};

/// Longest host name DNS allows (RFC 1035 §2.3.4, as text without the root dot).
pub const MAX_HOST_LEN: usize = 253;

/// Longest DNS label (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// Checks an address to connect to: port 1–65535.
///
/// # Errors
/// `InvalidArgument` naming `field`, saying what is wrong with `value`.
pub fn validate(field: &'static str, value: &str) -> Result<()> {
    check(field, value, false)
}

/// Checks an address to bind: as [`validate`], and port 0 (any free port).
///
/// # Errors
/// As [`validate`].
pub fn validate_listen(field: &'static str, value: &str) -> Result<()> {
    check(field, value, true)
}

fn check(field: &'static str, value: &str, port_zero: bool) -> Result<()> {
    let bad = |why: &str| Error::invalid(field, format!("{} {why}", echo(value)));
    if value.chars().any(char::is_control) {
        return Err(bad("contains control characters"));
    }
    if value.contains("://") {
        return Err(bad("has a scheme; give host:port"));
    }
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(bad("is not host:port"));
    };
    if host.is_empty() {
        return Err(bad("has no host"));
    }
    let range = if port_zero { "0-65535" } else { "1-65535" };
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("has no valid port ({range})")));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 || port_zero => {}
        _ => return Err(bad(&format!("has a port outside {range}"))),
    }
    if let Some(inner) = host.strip_prefix('[') {
        let ok = inner
            .strip_suffix(']')
            .is_some_and(|a| a.parse::<Ipv6Addr>().is_ok());
        return if ok {
            Ok(())
        } else {
            Err(bad("has no valid IPv6 address in brackets"))
        };
    }
    if host.contains(':') {
        return Err(bad(
            "has an IPv6 address without brackets; write [addr]:port",
        ));
    }
    if host.len() > MAX_HOST_LEN {
        return Err(bad(&format!("has a host over {MAX_HOST_LEN} bytes")));
    }
    if host.parse::<Ipv4Addr>().is_ok() || is_dns_name(host) {
        Ok(())
    } else {
        Err(bad(
            "has no valid host (a DNS name, an IPv4 address or [IPv6])",
        ))
    }
}

/// RFC 1123: dot-separated labels of 1–63 letters, digits and hyphens, not
/// starting or ending with a hyphen; a trailing root dot is allowed.
fn is_dns_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LEN
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_ipv4_and_bracketed_ipv6() {
        for ok in [
            "127.0.0.1:80",
            "localhost:7000",
            "[::1]:9",
            "[2001:db8::1]:65535",
            "game.example:15630",
            "game-01.eu.example.:1",
            "0.0.0.0:1",
        ] {
            validate("upstream", ok).unwrap();
        }
    }

    #[test]
    fn refuses_everything_else_naming_the_field() {
        let long = format!("{}:80", "a.".repeat(127));
        let label = format!("{}.example:80", "a".repeat(64));
        for bad in [
            "",
            "127.0.0.1",
            ":80",
            "host:",
            "host:0",
            "host:99999",
            "host:http",
            "host:+80",
            "http://evil:80",
            ":::1",
            "::1:80",
            "a\0b:1",
            "a\rb:1",
            "a\x1b[31mb:1",
            "[::1:80",
            "[nope]:80",
            "-bad.example:80",
            "bad-.example:80",
            "under_score:80",
            "a..b:80",
            "sp ace:80",
            long.as_str(),
            label.as_str(),
        ] {
            let e = validate("upstream", bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid upstream"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn only_a_listen_address_may_have_port_zero() {
        validate_listen("listen", "127.0.0.1:0").unwrap();
        validate_listen("listen", "[::1]:0").unwrap();
        let e = validate("target", "127.0.0.1:0").unwrap_err().to_string();
        assert!(
            e.starts_with("invalid target") && e.contains("1-65535"),
            "{e}"
        );
        assert!(validate_listen("listen", "http://x:0").is_err());
    }
}
