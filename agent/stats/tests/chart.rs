//! The SVG chart of an analysis: self-contained, labelled, well formed.

use super::sample::*;
use crate::format::Direction;
use crate::stats::*;

/// Tag names of `svg` are balanced (a light well-formedness check).
fn assert_balanced(svg: &str) {
    let mut stack = Vec::new();
    for tag in svg.split('<').skip(1) {
        let tag = &tag[..tag.find('>').expect("unclosed tag")];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop(), Some(name.to_string()));
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().unwrap().to_string());
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

#[test]
fn svg_is_self_contained_and_labelled() {
    let a = analyze(&sample(), AnalyzeOptions::default());
    let svg = a.svg("boss <fight> & co");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 "));
    let root = &svg[..svg.find('>').unwrap()];
    assert!(!root.contains("width=") && !svg.contains("href"), "{root}");
    for needle in [
        "<title>boss &lt;fight&gt; &amp; co</title>",
        "client → server (bytes/s)",
        "server → client (bytes/s)",
        "online connections",
        "throughput (B/s)",
        "time since recording start (s)",
    ] {
        assert!(svg.contains(needle), "missing {needle}");
    }
    assert_eq!(svg.matches("<polyline").count(), 3);
    assert_balanced(&svg);
    let empty = analyze(&[], AnalyzeOptions::default()).svg("empty");
    assert!(empty.contains("no traffic"));
    assert_balanced(&empty);
}

#[test]
fn long_timelines_are_grouped_in_the_chart() {
    use Direction::C2s;
    let frames = [
        frame(1, 0, open("a:1", false)),
        frame(1, 3 * 3600 * S, data(C2s, &[0; 3000])),
    ];
    let a = analyze(&frames, AnalyzeOptions::default());
    // 10,801 seconds in rows of 11 s.
    assert_eq!(a.timeline.len(), 10_801_usize.div_ceil(11));
    assert_eq!((a.timeline[0].seconds, a.timeline[981].seconds), (11, 10));
    let svg = a.svg("long");
    assert!(svg.contains("each step: 11 s average"), "{}", &svg[..400]);
    assert!(svg.contains("time since recording start (h)"));
    assert_balanced(&svg);
}
