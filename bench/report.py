#!/usr/bin/env python3
"""The tables of bench/run.sh, from its results file.

usage: report.py RESULTS.tsv REPS IDLE_CONNS GEN_CONNS GEN_RATE DELAY_MS
         prints the markdown tables (figures, ratios, targets, details)
       report.py --splice DOC.md REPORT.md
         puts REPORT.md between the bench markers of DOC.md (created if missing)

RESULTS.tsv lines: ROW <tab> METRIC <tab> REPETITION <tab> VALUE, where a
VALUE that is not a number marks a failed measurement.
"""
import statistics
import sys

BEGIN = "<!-- bench:begin (written by bench/run.sh; edit outside these markers) -->"
END = "<!-- bench:end -->"
ROWS = ["DIRECT", "haproxy", "reel", "reel+rec"]


def load(path):
    vals, notes = {}, {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            row, metric, _rep, value = parts
            if metric == "note":
                notes.setdefault(row, []).append(value)
                continue
            try:
                v = float(value)
            except ValueError:
                continue
            vals.setdefault((row, metric), []).append(v)
    return vals, notes


def med(vals, row, metric):
    v = vals.get((row, metric))
    return statistics.median(v) if v else None


def fmt(v, digits=1):
    if v is None:
        return "—"
    if abs(v) >= 1000 or digits == 0:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def figures(vals, idle_conns):
    """(label, metric, digits, higher_is_better) of the a)-e) table."""
    return [
        ("a) bulk, 1 connection, Gbit/s", "bulk1", 2, True),
        ("a) bulk, 8 connections, Gbit/s", "bulk8", 2, True),
        ("b) RTT p50 µs, 1 CPU", "p50", 1, False),
        ("b) RTT p99 µs, 1 CPU", "p99", 1, False),
        ("b) added RTT p50 µs, 1 CPU", "added_p50", 1, False),
        ("b) added RTT p99 µs, 1 CPU", "added_p99", 1, False),
        ("b) RTT p50 µs, free", "fp50", 1, False),
        ("b) RTT p99 µs, free", "fp99", 1, False),
        ("c) connections/s", "conn", 0, True),
        (f"d) idle RSS KiB/connection ({idle_conns} held)", "idle", 2, False),
        ("proxy CPU during 1-connection bulk, % of a core", "cpu1", 0, False),
        ("e) ceiling: dd of 1 GiB into a new file where recordings go, GB/s", "ceiling", 2, True),
    ]


def derive(vals):
    """Added round trip (proxy minus DIRECT), per repetition median."""
    for row in ROWS[1:]:
        for m in ("p50", "p99"):
            d, p = med(vals, "DIRECT", m), med(vals, row, m)
            if d is not None and p is not None:
                vals[(row, "added_" + m)] = [p - d]


def main_table(vals, idle_conns):
    out = [
        "| figure | DIRECT | haproxy | reel | reel ÷ DIRECT | reel ÷ haproxy | reel+rec | ÷ DIRECT | ÷ haproxy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, metric, digits, _ in figures(vals, idle_conns):
        d, h, r, rr = (med(vals, row, metric) for row in ROWS)
        if metric.startswith("added_"):
            d = None
        cells = [fmt(d, digits), fmt(h, digits), fmt(r, digits)]
        cells += [fmt(ratio(r, d), 2), fmt(ratio(r, h), 2), fmt(rr, digits)]
        cells += [fmt(ratio(rr, d), 2), fmt(ratio(rr, h), 2)]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    return out


def targets(vals, gen_conns, gen_rate, delay_ms):
    h = lambda m: med(vals, "haproxy", m)
    r = lambda m: med(vals, "reel", m)
    rr = lambda m: med(vals, "reel+rec", m)
    rows = []

    def at_least(name, got, want, unit=""):
        ok = None if got is None or want is None else got >= want
        miss = "" if ok or ok is None else f"short by {100 * (1 - got / want):.0f}%" if want else ""
        rows.append((name, fmt(got, 2) + unit, "≥ " + fmt(want, 2) + unit, ok, miss))

    def at_most(name, got, want, unit="", strict=False):
        ok = None if got is None or want is None else (got < want if strict else got <= want)
        miss = "" if ok or ok is None else f"over by {fmt(got - want, 1)}{unit}"
        rows.append((name, fmt(got, 1) + unit, ("< " if strict else "≤ ") + fmt(want, 1) + unit, ok, miss))

    at_least("1-conn throughput, recording off (Gbit/s)", r("bulk1"), h("bulk1"))
    at_least("8-conn throughput, recording off (Gbit/s)", r("bulk8"), h("bulk8"))
    at_least("1-conn throughput, recording on (Gbit/s, ≥ 0.8 × haproxy)", rr("bulk1"), h("bulk1") and 0.8 * h("bulk1"))
    at_least("8-conn throughput, recording on (Gbit/s, ≥ 0.8 × haproxy)", rr("bulk8"), h("bulk8") and 0.8 * h("bulk8"))
    at_most("added RTT p50, 1 CPU (µs)", r("added_p50"), h("added_p50"))
    at_most("added RTT p99, 1 CPU (µs)", r("added_p99"), h("added_p99"))
    at_least("connections/s", r("conn"), h("conn"))
    at_most("idle RSS per connection (KiB)", r("idle"), h("idle"))
    at_most(f"f) replay lateness p99, {gen_conns} conns × {gen_rate}/s (µs)", med(vals, "replay", "lat99"), 1000, strict=True)
    at_most(f"g) delay error p99, {gen_conns} conns, {delay_ms} ms (µs)", med(vals, "delay", "err99"), 1000, strict=True)
    at_least("h) analysis (GB/s)", med(vals, "analysis", "gbs"), 1.0)
    out = ["| target | reel | wanted | met | miss |", "|---|---:|---:|:-:|---|"]
    for name, got, want, ok, miss in rows:
        mark = "—" if ok is None else "yes" if ok else "**no**"
        out.append(f"| {name} | {got} | {want} | {mark} | {miss} |")
    return out


def others(vals, gen_conns, gen_rate, delay_ms):
    m = lambda row, k: med(vals, row, k)
    out = [
        "| figure | p50 | p99 | max | samples | notes |",
        "|---|---:|---:|---:|---:|---|",
        f"| f) replay lateness µs ({gen_conns} conns × {gen_rate} chunks/s, timed) | {fmt(m('replay', 'lat50'), 0)} | "
        f"{fmt(m('replay', 'lat99'), 0)} | {fmt(m('replay', 'latmax'), 0)} | {fmt(m('replay', 'samples'), 0)} | "
        f"{fmt(m('replay', 'opened'), 0)} connections opened, {fmt(m('replay', 'failed'), 0)} failed |",
        f"| g) delay error µs, \\|applied − {delay_ms} ms\\| ({gen_conns} conns × {gen_rate}/s, Watch delay_us) | "
        f"{fmt(m('delay', 'err50'), 0)} | {fmt(m('delay', 'err99'), 0)} | {fmt(m('delay', 'errmax'), 0)} | "
        f"{fmt(m('delay', 'samples'), 0)} | {fmt(m('delay', 'lagged'), 0)} events missed by the watcher; client RTT p50 "
        f"{fmt(m('delay', 'rtt50'), 0)} / p99 {fmt(m('delay', 'rtt99'), 0)} µs for 2 × {delay_ms} ms |",
        f"| h) reelctl stats GB/s ({fmt(m('analysis', 'mib'), 0)} MiB recording) | {fmt(m('analysis', 'gbs'), 2)} | | | | "
        f"runs: {', '.join(fmt(v, 2) for v in vals.get(('analysis', 'gbs'), []))} |",
    ]
    return out


def details(vals, notes):
    names = {
        "bulk1": "1-conn Gbit/s", "bulk8": "8-conn Gbit/s", "p50": "1-CPU p50 µs", "p99": "1-CPU p99 µs",
        "fp50": "free p50 µs", "fp99": "free p99 µs", "conn": "conn/s", "cpu1": "CPU % in 1-conn bulk",
        "ceiling": "dd GB/s into a new file (e)'s ceiling)",
        "rss0": "RSS before KiB", "rss1": "RSS holding KiB", "idle_ok": "idle held",
    }
    out = []
    for row in ROWS:
        parts = []
        for k, label in names.items():
            v = vals.get((row, k))
            if v:
                parts.append(f"{label} [{', '.join(fmt(x, 1) for x in v)}]")
        for n in notes.get(row, []):
            parts.append(f"note: {n}")
        if parts:
            out.append(f"- **{row}**: " + "; ".join(parts))
    for row in ("replay", "delay", "analysis"):
        for n in notes.get(row, []):
            out.append(f"- **{row}**: note: {n}")
    return out


def report(args):
    path, reps, idle_conns, gen_conns, gen_rate, delay_ms = args
    vals, notes = load(path)
    derive(vals)
    lines = ["#### a)–e): throughput, round trip, connection rate, idle memory", ""]
    lines += main_table(vals, idle_conns)
    lines += ["", f"Medians of {reps} repetition(s), run order rotated; *reel+rec* = reel with a recording "
              "running (e); *added* = proxy minus DIRECT; *1 CPU* = client, proxy and echo server pinned to CPU 0; "
              "*free* = unpinned (cross-CPU wake-ups; noisy on this VM). Idle memory: a fresh instance, 20 "
              "connections of warm-up, then RSS growth ÷ connections held.", ""]
    lines += ["#### f)–h): replay, delay accuracy, analysis", ""]
    lines += others(vals, gen_conns, gen_rate, delay_ms)
    lines += ["", "#### Targets", ""]
    lines += targets(vals, gen_conns, gen_rate, delay_ms)
    lines += ["", "#### Every repetition", ""]
    lines += details(vals, notes)
    print("\n".join(lines))


def splice(doc, report_path):
    with open(report_path) as f:
        body = f.read().rstrip("\n")
    try:
        with open(doc) as f:
            text = f.read()
    except FileNotFoundError:
        text = "# Performance\n\n" + BEGIN + "\n" + END + "\n"
    if BEGIN not in text or END not in text:
        text = text.rstrip("\n") + "\n\n" + BEGIN + "\n" + END + "\n"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(doc, "w") as f:
        f.write(head + BEGIN + "\n" + body + "\n" + END + tail)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--splice":
        splice(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 7:
        report(sys.argv[1:])
    else:
        sys.exit(__doc__)
