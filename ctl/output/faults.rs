//! Human renderings of the `faults` command: one line per proxy for `set`
//! and `clear`, a table for `show`; profiles in their compact form
//! (`latency 500ms..800ms both, bandwidth 64 KiB/s, toxicity 0.5, seed 7`).

use std::io::{self, Write};

use crate::commands::faults::{FaultsShown, FaultsUpdated, ProxyFaults};
use crate::output::human::{Human, quoted};
use crate::output::table::{Align, Table};

/// `p1 "game"`, or `p1` when the name is the id.
fn proxy_label(p: &ProxyFaults) -> String {
    if p.name.is_empty() || p.name == p.id {
        p.id.clone()
    } else {
        format!("{}{}", p.id, quoted(&p.name))
    }
}

impl Human for FaultsUpdated {
    fn write_human(&self, out: &mut dyn Write, _verbose: bool) -> io::Result<()> {
        let p = &self.proxy;
        writeln!(
            out,
            "faults of proxy {}: {}",
            proxy_label(p),
            p.faults.summary
        )
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "{}", self.proxy.id)
    }
}

impl Human for FaultsShown {
    fn write_human(&self, out: &mut dyn Write, _verbose: bool) -> io::Result<()> {
        if self.proxies.is_empty() {
            return writeln!(out, "no proxies");
        }
        let mut table = Table::new(&[
            ("ID", Align::Left),
            ("NAME", Align::Left),
            ("FAULTS", Align::Left),
        ]);
        for p in &self.proxies {
            table.row(vec![p.id.clone(), p.name.clone(), p.faults.summary.clone()]);
        }
        table.write(out)
    }

    fn write_ids(&self, out: &mut dyn Write) -> io::Result<()> {
        self.proxies
            .iter()
            .try_for_each(|p| writeln!(out, "{}", p.id))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use reel::faults::{FaultSpec, Latency};

    use super::*;
    use crate::commands::faults::FaultsView;

    fn render(value: &dyn Human) -> String {
        let mut out = Vec::new();
        value.write_human(&mut out, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn proxy(id: &str, name: &str, spec: &FaultSpec) -> ProxyFaults {
        ProxyFaults {
            id: id.into(),
            name: name.into(),
            faults: FaultsView::from(spec),
        }
    }

    #[test]
    fn lines_and_tables() {
        let lat = FaultSpec {
            latency: Some(Latency::Uniform(
                Duration::from_millis(500),
                Duration::from_millis(800),
            )),
            seed: Some(7),
            ..FaultSpec::default()
        };
        let updated = FaultsUpdated {
            proxy: proxy("p1", "game", &lat),
        };
        assert_eq!(
            render(&updated),
            "faults of proxy p1 \"game\": latency 500ms..800ms both, seed 7\n"
        );
        let shown = FaultsShown {
            proxies: vec![
                proxy("p1", "game", &lat),
                proxy("p2", "p2", &FaultSpec::default()),
            ],
        };
        assert_eq!(
            render(&shown),
            "ID  NAME  FAULTS\n\
             p1  game  latency 500ms..800ms both, seed 7\n\
             p2  p2    none\n"
        );
        assert_eq!(render(&FaultsShown { proxies: vec![] }), "no proxies\n");
    }

    #[test]
    fn proxy_list_gets_a_faults_column_when_any_proxy_has_faults() {
        use crate::commands::proxy::{ProxyList, ProxyView};
        let view = |id: &str, spec: &FaultSpec| ProxyView {
            info: reel::proto::ProxyInfo {
                id: id.into(),
                name: id.into(),
                listen: "127.0.0.1:1".into(),
                upstream: "127.0.0.1:2".into(),
                ..Default::default()
            },
            faults: FaultsView::from(spec),
        };
        let slow = FaultSpec {
            latency: Some(Latency::Fixed(Duration::from_millis(50))),
            ..FaultSpec::default()
        };
        let list = ProxyList {
            proxies: vec![view("p1", &slow), view("p2", &FaultSpec::default())],
        };
        let text = render(&list);
        let lines: Vec<_> = text.lines().collect();
        assert!(lines[0].ends_with("S2C  FAULTS"), "{text}");
        assert!(lines[1].ends_with("latency 50ms both"), "{text}");
        assert!(lines[2].ends_with("none"), "{text}");
        let mut verbose = Vec::new();
        list.write_human(&mut verbose, true).unwrap();
        let verbose = String::from_utf8(verbose).unwrap();
        assert!(
            verbose
                .lines()
                .next()
                .unwrap()
                .ends_with("RECORDINGS  FAULTS"),
            "{verbose}"
        );
    }
}
