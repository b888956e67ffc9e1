//! The timeline as a self-contained SVG chart: bytes/s each way (left axis)
//! and online connections (right axis) over time. Hand-written SVG, no
//! external crate, font or stylesheet; `viewBox` only, so a browser scales it.

use std::fmt::Write as _;

use super::analysis::Analysis;
use super::timeline::SecondStats;

/// Drawing size in user units (the viewBox).
const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 440.0;
/// Plot area margins: room for tick labels, axis titles and the legend.
const LEFT: f64 = 90.0;
const RIGHT: f64 = 80.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 60.0;
/// Most steps drawn per series; longer timelines are averaged in groups.
const MAX_POINTS: usize = 1200;

const C2S_COLOR: &str = "#1f77b4";
const S2C_COLOR: &str = "#ff7f0e";
const ONLINE_COLOR: &str = "#2ca02c";

/// One drawn step: `len` seconds starting at `start`.
struct Step {
    start: u64,
    len: u64,
    c2s: f64,
    s2c: f64,
    online: u64,
}

/// Groups rows `group` at a time: mean bytes/s, peak online.
fn steps(rows: &[SecondStats], group: usize) -> Vec<Step> {
    rows.chunks(group)
        .map(|chunk| {
            let len: u64 = chunk.iter().map(|r| r.seconds.max(1)).sum();
            let n = len as f64;
            Step {
                start: chunk[0].second,
                len,
                c2s: chunk.iter().map(|r| r.bytes_c2s as f64).sum::<f64>() / n,
                s2c: chunk.iter().map(|r| r.bytes_s2c as f64).sum::<f64>() / n,
                online: chunk.iter().map(|r| r.online_peak).max().unwrap_or(0),
            }
        })
        .collect()
}

/// A "nice" tick step (1, 2 or 5 × 10^k) giving about five ticks up to
/// `max`, and the axis top (a multiple of the step ≥ `max`).
fn nice_scale(max: f64, integer: bool) -> (f64, f64) {
    let max = if max > 0.0 { max } else { 1.0 };
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let mut step = magnitude
        * if norm <= 1.0 {
            1.0
        } else if norm <= 2.0 {
            2.0
        } else if norm <= 5.0 {
            5.0
        } else {
            10.0
        };
    if integer {
        step = step.max(1.0).round();
    }
    (step, (max / step).ceil() * step)
}

/// A tick label with as many decimals as the step needs (at most 3).
fn label(value: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).clamp(0.0, 3.0) as usize;
    format!("{value:.decimals$}")
}

/// `text` with the five XML special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The largest binary unit not above `max` bytes/s: (divisor, name).
fn rate_unit(max: f64) -> (f64, &'static str) {
    const UNITS: [(f64, &str); 4] = [
        (1024.0 * 1024.0 * 1024.0, "GiB/s"),
        (1024.0 * 1024.0, "MiB/s"),
        (1024.0, "KiB/s"),
        (1.0, "B/s"),
    ];
    UNITS
        .into_iter()
        .find(|(div, _)| max >= *div)
        .unwrap_or((1.0, "B/s"))
}

impl Analysis {
    /// The timeline as an SVG document titled `title`: stepped areas for
    /// bytes/s c2s and s2c (left axis), a dashed line for the peak online
    /// connections of each second (right axis), tick labels with units, and
    /// a legend. Rows of several seconds are drawn as their averages.
    pub fn svg(&self, title: &str) -> String {
        let seconds = self
            .timeline
            .last()
            .map_or(1, |r| r.second + r.seconds.max(1)) as f64;
        let group = self.timeline.len().div_ceil(MAX_POINTS).max(1);
        let steps = steps(&self.timeline, group);
        let max_rate = steps.iter().map(|s| s.c2s.max(s.s2c)).fold(0.0, f64::max);
        let (unit, unit_name) = rate_unit(max_rate);
        let (rate_step, rate_top) = nice_scale(max_rate / unit, false);
        let max_online = steps.iter().map(|s| s.online).max().unwrap_or(0) as f64;
        let (online_step, online_top) = nice_scale(max_online, true);
        let (time_unit, time_name) = if seconds >= 7200.0 {
            (3600.0, "h")
        } else if seconds >= 120.0 {
            (60.0, "min")
        } else {
            (1.0, "s")
        };
        let (time_step, _) = nice_scale(seconds / time_unit, false);

        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let x = |second: f64| LEFT + second / seconds * plot_w;
        let y_rate = |rate: f64| TOP + plot_h - rate / unit / rate_top * plot_h;
        let y_online = |n: f64| TOP + plot_h - n / online_top * plot_h;

        let mut s = String::with_capacity(4096 + steps.len() * 80);
        // Writing to a String cannot fail: the results below are ignored.
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let title = escape(title);
        let _ = write!(
            s,
            r#"<title>{title}</title><rect width="{WIDTH}" height="{HEIGHT}" fill="white"/><text x="{}" y="26" text-anchor="middle" font-size="17" font-weight="bold">{title}</text>"#,
            WIDTH / 2.0
        );
        let step_s = steps.first().map_or(1, |st| st.len);
        if step_s > 1 {
            let _ = write!(
                s,
                r##"<text x="{}" y="44" text-anchor="middle" fill="#555">each step: {step_s} s average of bytes/s, peak of online</text>"##,
                WIDTH / 2.0
            );
        }
        // Grid and left ticks (bytes/s), right ticks (online), x ticks (time).
        let mut v = 0.0;
        while v <= rate_top + rate_step / 2.0 {
            let yy = y_rate(v * unit);
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                yy + 4.0,
                label(v, rate_step)
            );
            v += rate_step;
        }
        let mut n = 0.0;
        while n <= online_top + online_step / 2.0 {
            let yy = y_online(n);
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" fill="{ONLINE_COLOR}">{n}</text>"#,
                LEFT + plot_w + 6.0,
                yy + 4.0
            );
            n += online_step;
        }
        let mut t = 0.0;
        while t * time_unit <= seconds + 1e-9 {
            let xx = x(t * time_unit);
            let _ = write!(
                s,
                r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#333"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 5.0,
                TOP + plot_h + 19.0,
                label(t, time_step)
            );
            t += time_step;
        }
        // Axes and their titles.
        let _ = write!(
            s,
            r##"<path d="M{LEFT} {TOP}V{:.1}H{:.1}V{TOP}" fill="none" stroke="#333"/>"##,
            TOP + plot_h,
            LEFT + plot_w
        );
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time since recording start ({time_name})</text>"#,
            LEFT + plot_w / 2.0,
            HEIGHT - 14.0
        );
        let _ = write!(
            s,
            r#"<text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle">throughput ({unit_name})</text>"#,
            TOP + plot_h / 2.0
        );
        let _ = write!(
            s,
            r#"<text transform="translate({:.1} {:.1}) rotate(90)" text-anchor="middle" fill="{ONLINE_COLOR}">online connections</text>"#,
            WIDTH - 22.0,
            TOP + plot_h / 2.0
        );
        if self.timeline.is_empty() {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#888">no traffic</text>"##,
                LEFT + plot_w / 2.0,
                TOP + plot_h / 2.0
            );
        }
        // The series: stepped areas and lines, then online on top.
        let base = TOP + plot_h;
        for (color, value) in [
            (C2S_COLOR, (|st: &Step| st.c2s) as fn(&Step) -> f64),
            (S2C_COLOR, |st: &Step| st.s2c),
        ] {
            let mut line = String::new();
            for st in &steps {
                let yy = y_rate(value(st));
                let _ = write!(
                    line,
                    "{:.1},{yy:.1} {:.1},{yy:.1} ",
                    x(st.start as f64),
                    x((st.start + st.len) as f64)
                );
            }
            let line = line.trim_end();
            if !line.is_empty() {
                let _ = write!(
                    s,
                    r#"<polygon points="{LEFT},{base:.1} {line} {:.1},{base:.1}" fill="{color}" fill-opacity="0.15"/><polyline points="{line}" fill="none" stroke="{color}" stroke-width="1.5"/>"#,
                    x(seconds)
                );
            }
        }
        let mut online = String::new();
        for st in &steps {
            let yy = y_online(st.online as f64);
            let _ = write!(
                online,
                "{:.1},{yy:.1} {:.1},{yy:.1} ",
                x(st.start as f64),
                x((st.start + st.len) as f64)
            );
        }
        let online = online.trim_end();
        if !online.is_empty() {
            let _ = write!(
                s,
                r#"<polyline points="{online}" fill="none" stroke="{ONLINE_COLOR}" stroke-width="1.5" stroke-dasharray="6 3"/>"#
            );
        }
        // Legend, above the plot area.
        let legend = [
            (C2S_COLOR, "", "client → server (bytes/s)"),
            (S2C_COLOR, "", "server → client (bytes/s)"),
            (
                ONLINE_COLOR,
                r#" stroke-dasharray="6 3""#,
                "online connections",
            ),
        ];
        for (i, (color, dash, text)) in legend.into_iter().enumerate() {
            let lx = LEFT + i as f64 * 250.0;
            let ly = TOP - 14.0;
            let _ = write!(
                s,
                r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"{dash}/><text x="{:.1}" y="{:.1}">{text}</text>"#,
                lx + 24.0,
                lx + 30.0,
                ly + 4.0
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_scales() {
        // (max, integer, step, top)
        let cases = [
            (0.0, false, 0.2, 1.0),
            (1.0, true, 1.0, 1.0),
            (7.0, true, 2.0, 8.0),
            (950.0, false, 200.0, 1000.0),
            (3.3, false, 1.0, 4.0),
        ];
        for (max, integer, step, top) in cases {
            let (s, t) = nice_scale(max, integer);
            assert!(
                (s - step).abs() < 1e-9 && (t - top).abs() < 1e-9,
                "{max}: {s} {t}"
            );
        }
    }

    #[test]
    fn labels_units_and_escaping() {
        assert_eq!(label(0.4, 0.2), "0.4");
        assert_eq!(label(200.0, 200.0), "200");
        assert_eq!(rate_unit(3000.0), (1024.0, "KiB/s"));
        assert_eq!(rate_unit(10.0), (1.0, "B/s"));
        assert_eq!(escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }
}
