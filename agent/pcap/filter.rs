//! Which side of a captured TCP flow is the server: an address and port, or
//! a port on any address. Flows without a matching endpoint are not imported.
//!
//! Syntax: `IP:PORT` (`[IPv6]:PORT` for IPv6), or `*:PORT`, `:PORT` or
//! `PORT` for the port on any address. An IPv4 address also matches its
//! IPv4-mapped IPv6 form, and the other way round.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use super::error::PcapError;

/// The server endpoint of the flows to import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerFilter {
    /// The server's address; `None` matches any.
    pub ip: Option<IpAddr>,
    /// The server's port.
    pub port: u16,
}

impl ServerFilter {
    /// Whether `addr` is the server.
    pub fn matches(&self, addr: &SocketAddr) -> bool {
        addr.port() == self.port
            && self
                .ip
                .is_none_or(|ip| ip.to_canonical() == addr.ip().to_canonical())
    }
}

impl From<SocketAddr> for ServerFilter {
    fn from(addr: SocketAddr) -> Self {
        ServerFilter {
            ip: Some(addr.ip()),
            port: addr.port(),
        }
    }
}

impl FromStr for ServerFilter {
    type Err = PcapError;

    fn from_str(text: &str) -> Result<Self, PcapError> {
        let invalid = |reason| PcapError::InvalidServer {
            input: text.to_string(),
            reason,
        };
        let text = text.trim();
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(addr.into());
        }
        let port_text = match text.rsplit_once(':') {
            Some(("*" | "", port)) => port,
            Some(_) => return Err(invalid("expected IP:PORT, [IPv6]:PORT, *:PORT or PORT")),
            None => text,
        };
        let port = port_text
            .parse()
            .map_err(|_| invalid("the port is not a number from 0 to 65535"))?;
        Ok(ServerFilter { ip: None, port })
    }
}

impl fmt::Display for ServerFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ip {
            Some(ip) => write!(f, "{}", SocketAddr::new(ip, self.port)),
            None => write!(f, "*:{}", self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        // (filter, address, matches)
        let cases = [
            ("10.0.0.2:5630", "10.0.0.2:5630", true),
            ("10.0.0.2:5630", "10.0.0.3:5630", false),
            ("10.0.0.2:5630", "10.0.0.2:5631", false),
            ("10.0.0.2:5630", "[::ffff:10.0.0.2]:5630", true),
            ("[::1]:80", "[::1]:80", true),
            ("*:5630", "[2001:db8::1]:5630", true),
            (":5630", "1.2.3.4:5630", true),
            ("5630", "1.2.3.4:5631", false),
        ];
        for (filter, addr, want) in cases {
            let f: ServerFilter = filter.parse().unwrap();
            assert_eq!(
                f.matches(&addr.parse().unwrap()),
                want,
                "{filter} vs {addr}"
            );
        }
        assert_eq!(
            "5630".parse::<ServerFilter>().unwrap().to_string(),
            "*:5630"
        );
        assert_eq!(
            "[::1]:80".parse::<ServerFilter>().unwrap().to_string(),
            "[::1]:80"
        );
    }

    #[test]
    fn rejects_what_is_not_an_address() {
        for bad in ["", "host:port", "example.com:80", "*:99999", "10.0.0.1"] {
            let err = bad.parse::<ServerFilter>().unwrap_err();
            assert!(
                matches!(err, PcapError::InvalidServer { .. }),
                "{bad}: {err}"
            );
        }
    }
}
