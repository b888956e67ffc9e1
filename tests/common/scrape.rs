//! Scraping an agent's Prometheus endpoint (`--metrics-listen`) the way a
//! Prometheus server does: a plain HTTP/1.1 GET over TCP, and the text
//! exposition parsed line by line into samples (name, labels, value).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::AgentProc;

/// One line of the exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// An HTTP answer: status code, lower-cased headers, body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// The metrics address an agent logged (`metrics endpoint listening
/// addr=...`), once it is ready.
pub fn metrics_addr(agent: &AgentProc) -> SocketAddr {
    let log = agent.log();
    log.lines()
        .filter(|l| l.contains("metrics endpoint listening"))
        .find_map(|l| {
            l.split("addr=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no metrics address in the agent's log:\n{log}"))
}

/// `GET path` with an optional `Authorization` header value, bounded by 10 s.
pub async fn get(addr: SocketAddr, path: &str, authorization: Option<&str>) -> Answer {
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut sock = TcpStream::connect(addr).await.expect("connect to metrics");
        let auth = authorization
            .map(|a| format!("Authorization: {a}\r\n"))
            .unwrap_or_default();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
        sock.write_all(request.as_bytes()).await.expect("send GET");
        let mut raw = Vec::new();
        sock.read_to_end(&mut raw).await.expect("read answer");
        parse_answer(&String::from_utf8(raw).expect("UTF-8 answer"))
    })
    .await
    .expect("metrics answered within 10 s")
}

fn parse_answer(raw: &str) -> Answer {
    let (head, body) = raw.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// Scrapes `/metrics` (200 expected) and parses every sample.
pub async fn scrape(addr: SocketAddr, authorization: Option<&str>) -> Vec<Sample> {
    let a = get(addr, "/metrics", authorization).await;
    assert_eq!(a.status, 200, "scrape failed: {}", a.body);
    parse(&a.body)
}

/// Parses the text exposition format: comments skipped, every other line
/// `name{k="v",...} value`.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| parse_line(l).unwrap_or_else(|| panic!("unparsable line {l:?}")))
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_owned();
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices();
        let mut key = String::new();
        loop {
            let (_, c) = chars.next()?;
            match c {
                '}' => break,
                ',' => {}
                '=' => {
                    let (_, quote) = chars.next()?;
                    if quote != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next()?;
                        match c {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                other => key.push(other),
            }
        }
        let consumed = chars.next().map_or(inner.len(), |(i, _)| i);
        rest = &inner[consumed..];
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// The value of the one sample named `name` whose labels include `want`;
/// panics when there is none or several.
pub fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && want.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .collect();
    match found[..] {
        [one] => one.value,
        [] => panic!("no {name} with {want:?}"),
        _ => panic!("several {name} with {want:?}: {found:?}"),
    }
}
