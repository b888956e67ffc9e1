//! Human renderings of `proxy start`, `proxy ls` and `proxy stop`: one
//! sentence per proxy started or stopped, a table for the list (with the
//! FAULTS, REFUSED and RESTORED columns only when some proxy needs them).

use std::io::{self, Write};

use crate::commands::proxy::{ProxyList, ProxyView, StartedProxy, StoppedProxies};
use crate::output::escape::safe;
use crate::output::format::bytes;
use crate::output::human::{Human, list, quoted};
use crate::output::table::{Align, Table};
use crate::plural::count;

impl Human for StartedProxy {
    fn write_human(&self, out: &mut dyn Write, _verbose: bool) -> io::Result<()> {
        let ProxyView { info, faults } = &self.0;
        let name = if info.name.is_empty() || info.name == info.id {
            String::new()
        } else {
            quoted(&info.name)
        };
        write!(
            out,
            "started proxy {}{name}: {} -> {}",
            safe(&info.id),
            safe(&info.listen),
            safe(&info.upstream)
        )?;
        if !faults.is_none() {
            write!(out, ", faults: {}", faults.summary)?;
        }
        writeln!(out)
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.0.info.id)
    }
}

impl Human for ProxyList {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        if self.proxies.is_empty() {
            return writeln!(out, "no proxies");
        }
        let mut columns = vec![
            ("ID", Align::Left),
            ("NAME", Align::Left),
            ("LISTEN", Align::Left),
            ("UPSTREAM", Align::Left),
            ("ACTIVE", Align::Right),
            ("TOTAL", Align::Right),
            ("C2S", Align::Right),
            ("S2C", Align::Right),
        ];
        if verbose {
            columns.extend([("FAILED", Align::Right), ("RECORDINGS", Align::Left)]);
        }
        // Only when some proxy has faults, so plain listings stay narrow.
        let faults = self.proxies.iter().any(|p| !p.faults.is_none());
        if faults {
            columns.push(("FAULTS", Align::Left));
        }
        // Only once some client was turned away, so plain listings stay narrow.
        let refused = self.proxies.iter().any(|p| p.info.refused_connections > 0);
        if refused {
            columns.push(("REFUSED", Align::Right));
        }
        // Only after a restart that brought saved proxies back.
        let restored = self.proxies.iter().any(|p| p.info.restored);
        if restored {
            columns.push(("RESTORED", Align::Left));
        }
        // Only when some proxy relays UDP: ACTIVE and TOTAL then count its
        // sessions, and the datagrams each way are shown.
        let udp = self.proxies.iter().any(|p| p.info.udp);
        if udp {
            columns.extend([
                ("PROTO", Align::Left),
                ("DGRAMS C2S", Align::Right),
                ("DGRAMS S2C", Align::Right),
            ]);
        }
        // Only once a UDP proxy's faults did something.
        let dgram_faults = self.proxies.iter().any(|p| datagram_faults(&p.info) != "-");
        if dgram_faults {
            columns.push(("DGRAM FAULTS", Align::Left));
        }
        let mut table = Table::new(&columns);
        for p in &self.proxies {
            let mut cells = vec![
                p.info.id.clone(),
                p.info.name.clone(),
                p.info.listen.clone(),
                p.info.upstream.clone(),
                p.info.active_connections.to_string(),
                p.info.total_connections.to_string(),
                bytes(p.info.bytes_c2s),
                bytes(p.info.bytes_s2c),
            ];
            if verbose {
                cells.extend([
                    p.info.failed_connections.to_string(),
                    list(&p.info.recordings),
                ]);
            }
            if faults {
                cells.push(p.faults.summary.clone());
            }
            if refused {
                cells.push(p.info.refused_connections.to_string());
            }
            if restored {
                cells.push(if p.info.restored { "yes" } else { "no" }.to_owned());
            }
            if udp {
                let (proto, c2s, s2c) = if p.info.udp {
                    let n = |d: u64| d.to_string();
                    ("udp", n(p.info.datagrams_c2s), n(p.info.datagrams_s2c))
                } else {
                    ("tcp", "-".to_owned(), "-".to_owned())
                };
                cells.extend([proto.to_owned(), c2s, s2c]);
            }
            if dgram_faults {
                cells.push(datagram_faults(&p.info));
            }
            table.row(cells);
        }
        table.write(out)
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        self.proxies
            .iter()
            .try_for_each(|p| writeln!(out, "{}", p.info.id))
    }
}

/// What a UDP proxy's faults did, per direction and only what happened:
/// `c2s 1021 lost, 50 dup; s2c 3 dropped`, or `-`.
fn datagram_faults(info: &reel::proto::ProxyInfo) -> String {
    let side = |name: &str, c: &Option<reel::proto::DatagramFaultCounts>| {
        let c = c.unwrap_or_default();
        let items: Vec<String> = [
            (c.lost, "lost"),
            (c.duplicated, "dup"),
            (c.reordered, "reordered"),
            (c.dropped, "dropped"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        (!items.is_empty()).then(|| format!("{name} {}", items.join(", ")))
    };
    let sides: Vec<String> = [side("c2s", &info.faults_c2s), side("s2c", &info.faults_s2c)]
        .into_iter()
        .flatten()
        .collect();
    if sides.is_empty() {
        "-".to_owned()
    } else {
        sides.join("; ")
    }
}

impl Human for StoppedProxies {
    fn write_human(&self, out: &mut dyn Write, verbose: bool) -> io::Result<()> {
        if self.stopped.is_empty() {
            return writeln!(out, "no proxies to stop");
        }
        for p in &self.stopped {
            write!(
                out,
                "stopped proxy {}: {}, c2s {}, s2c {}",
                p.info.id,
                count(p.info.total_connections, "connection", "connections"),
                bytes(p.info.bytes_c2s),
                bytes(p.info.bytes_s2c)
            )?;
            if verbose {
                write!(
                    out,
                    " ({} -> {}, {} failed)",
                    safe(&p.info.listen),
                    safe(&p.info.upstream),
                    p.info.failed_connections
                )?;
            }
            writeln!(out)?;
        }
        Ok(())
    }

    fn write_ids(&self, _out: &mut dyn Write) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::faults::FaultsView;
    use reel::faults::FaultSpec;

    fn render(value: &dyn Human, verbose: bool) -> String {
        let mut out = Vec::new();
        value.write_human(&mut out, verbose).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn proxy_table() {
        let list = ProxyList {
            proxies: vec![ProxyView {
                info: reel::proto::ProxyInfo {
                    id: "p1".into(),
                    name: "game".into(),
                    listen: "0.0.0.0:15631".into(),
                    upstream: "127.0.0.1:15630".into(),
                    active_connections: 3,
                    total_connections: 120,
                    bytes_c2s: 12_595,
                    bytes_s2c: 4 * 1024 * 1024,
                    failed_connections: 1,
                    refused_connections: 0,
                    recordings: vec![],
                    restored: false,
                    ..Default::default()
                },
                faults: FaultsView::from(&FaultSpec::default()),
            }],
        };
        assert_eq!(
            render(&list, false),
            "ID  NAME  LISTEN         UPSTREAM         ACTIVE  TOTAL       C2S      S2C\n\
             p1  game  0.0.0.0:15631  127.0.0.1:15630       3    120  12.3 KiB  4.0 MiB\n"
        );
        assert!(
            render(&list, true)
                .lines()
                .next()
                .unwrap()
                .ends_with("FAILED  RECORDINGS")
        );
        assert_eq!(
            render(&ProxyList { proxies: vec![] }, false),
            "no proxies\n"
        );
        let mut list = list;
        list.proxies[0].info.restored = true;
        let text = render(&list, false);
        let mut lines = text.lines();
        assert!(lines.next().unwrap().ends_with("RESTORED"), "{text}");
        assert!(lines.next().unwrap().ends_with("yes"), "{text}");
        list.proxies[0].info.refused_connections = 378;
        let text = render(&list, false);
        let mut lines = text.lines();
        assert!(
            lines.next().unwrap().ends_with("REFUSED  RESTORED"),
            "{text}"
        );
        assert!(lines.next().unwrap().ends_with("378  yes"), "{text}");
    }
}
