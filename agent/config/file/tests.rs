//! Config files: the shipped samples under tests/config/, and one table of
//! refused texts with the message each must give.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::faults::{Directions, Latency, Slicer};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config")
        .join(name)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn valid_sample_reads_every_field() {
    let path = sample("valid.toml");
    let file = ConfigFile::load(&path).unwrap();
    assert_eq!(file.listen.as_deref(), Some("127.0.0.1:7700"));
    assert_eq!(file.name.as_deref(), Some("eu-game-1"));
    assert_eq!(
        file.data_dir,
        Some(path.parent().unwrap().join("reel-data")),
        "relative to the file"
    );
    let names: Vec<_> = file.proxies.iter().map(|p| p.name.as_deref()).collect();
    assert_eq!(names, [Some("game"), Some("chat"), Some("void")]);

    let game = &file.proxies[0].faults;
    assert_eq!(game.latency, Some(Latency::Uniform(ms(500), ms(800))));
    assert_eq!(game.directions, Directions::BOTH);
    assert_eq!(game.bandwidth, Some(65_536));
    assert_eq!(game.toxicity, 0.5);
    assert_eq!(game.seed, Some(7));

    let chat = &file.proxies[1];
    assert_eq!(chat.upstream, "localhost:15640");
    let f = &chat.faults;
    assert_eq!(f.latency, Some(Latency::Normal(ms(100), ms(20))));
    assert_eq!(f.directions.as_str(), "s2c");
    assert_eq!(f.proxy_bandwidth, Some(1_000_000));
    assert_eq!(f.reset_after_bytes, Some(1 << 20));
    assert_eq!(f.reset_after, Some(Duration::from_secs(600)));
    assert_eq!(f.slow_close, Some(ms(250)));
    assert_eq!(
        f.slicer,
        Some(Slicer {
            size: 16,
            pause: ms(2)
        })
    );
    assert_eq!(f.limit_bytes, Some(10_000_000));
    assert_eq!(f.connect_delay, Some(ms(50)));
    assert_eq!(f.toxicity, 1.0);

    let void = &file.proxies[2].faults;
    assert!(void.black_hole);
    assert_eq!(void.black_hole_close_after, Some(Duration::from_secs(30)));
}

#[test]
fn invalid_samples_name_the_proxy_and_field() {
    let cases: &[(&str, &[&str])] = &[
        (
            "invalid-latency.toml",
            &[r#"proxy "game": latency: min 800ms is greater than max 500ms"#],
        ),
        (
            "invalid-values.toml",
            &[
                r#"proxy "game": bandwidth: "-64KiB/s" is negative"#,
                r#"proxy "game": direction: "sideways" is not one of c2s, s2c, both"#,
                r#"proxy "game": toxicity: 1.5 is outside [0, 1]"#,
                r#"proxy "chat": proxy_bandwidth: "-1000" is negative"#,
                r#"proxy "chat": slice: "0": piece size must be positive"#,
                r#"proxy "chat": black_hole_close_after: needs black_hole"#,
            ],
        ),
        (
            "invalid-proxies.toml",
            &[
                r#"listen: "localhost" is not host:port"#,
                r#"proxy "game": name: appears more than once"#,
                r#"proxy "game": upstream: "game-server" is not host:port"#,
            ],
        ),
        (
            "invalid-unknown-field.toml",
            &["line 6, column 1: unknown field `latncy`"],
        ),
    ];
    for (name, expected) in cases {
        let path = sample(name);
        let message = ConfigFile::load(&path).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("invalid config file {}: ", path.display())),
            "{name}: {message}"
        );
        for e in *expected {
            assert!(message.contains(e), "{name}: missing {e:?} in {message}");
        }
    }
}

#[test]
fn refused_texts() {
    let proxy = |extra: &str| {
        format!("[[proxy]]\nname = \"p\"\nlisten = \"127.0.0.1:0\"\nupstream = \"h:1\"\n{extra}\n")
    };
    let cases = [
        (
            proxy("bandwidth = 0"),
            r#"proxy "p": bandwidth: must be positive"#,
        ),
        (
            proxy("bandwidth = \"fast\""),
            r#"proxy "p": bandwidth: "fast" is not a rate"#,
        ),
        (
            proxy("reset_after_bytes = 0"),
            r#"proxy "p": reset_after_bytes: must be positive"#,
        ),
        (
            proxy("latency = \"soon\""),
            r#"proxy "p": latency: "soon" is not a duration"#,
        ),
        (
            proxy("toxicity = -0.1"),
            r#"proxy "p": toxicity: -0.1 is outside [0, 1]"#,
        ),
        (
            proxy("slow_close = 0"),
            r#"proxy "p": slow_close: "0" is less than 1ms"#,
        ),
        (proxy("seed = -1"), "line 5"),
        (proxy("black_hole = \"yes\""), "line 5"),
        (
            "[[proxy]]\nname = \"p\"\n".to_owned(),
            "missing field `listen`",
        ),
        (
            "[[proxy]]\nname = \"a b\"\nlisten = \"127.0.0.1:0\"\nupstream = \"h:1\"\n".to_owned(),
            r#"proxy "a b": name: "a b" contains ' '"#,
        ),
        (
            "[[proxy]]\nname = \"\"\nlisten = \"127.0.0.1:0\"\nupstream = \"h:1\"\n".to_owned(),
            "proxy #1: name: must not be empty",
        ),
        (
            format!("{}{}", proxy(""), proxy("").replace("\"p\"", "\"q\""))
                .replace("127.0.0.1:0", "127.0.0.1:9000"),
            r#"proxy "q": listen: "127.0.0.1:9000" is used by another proxy"#,
        ),
        ("name = \" \"\n".to_owned(), "name: must not be empty"),
        ("listen = 7700\n".to_owned(), "line 1"),
        ("[agent]\n".to_owned(), "unknown field `agent`"),
    ];
    for (text, expected) in cases {
        let message = ConfigFile::parse(&text).unwrap_err().to_string();
        assert!(message.contains(expected), "{text:?}: {message}");
    }
}

#[test]
fn an_empty_file_is_valid_and_sets_nothing() {
    let file = ConfigFile::parse("").unwrap();
    assert!(file.listen.is_none() && file.data_dir.is_none() && file.name.is_none());
    assert!(file.proxies.is_empty());
}

#[test]
fn a_missing_file_is_a_read_error() {
    let err = ConfigFile::load(&sample("no-such-file.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    assert!(
        err.to_string().starts_with("cannot read config file"),
        "{err}"
    );
}

#[test]
fn metrics_listen_is_read_and_checked() {
    let file = ConfigFile::parse("metrics_listen = \"127.0.0.1:9700\"\n").unwrap();
    assert_eq!(file.metrics_listen.as_deref(), Some("127.0.0.1:9700"));
    assert_eq!(ConfigFile::parse("").unwrap().metrics_listen, None);
    let e = ConfigFile::parse("metrics_listen = \"http://x:1\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("metrics_listen: "), "{e}");
    assert!(e.contains("has a scheme"), "{e}");
}

#[test]
fn udp_proxies_are_read_and_checked() {
    let file = ConfigFile::parse(
        "[[proxy]]\nname = \"game\"\nlisten = \"127.0.0.1:7777\"\nupstream = \"127.0.0.1:7778\"\n\
         udp = true\nidle_timeout = \"30s\"\n\
         [[proxy]]\nname = \"login\"\nlisten = \"127.0.0.1:7777\"\nupstream = \"127.0.0.1:7779\"\n",
    )
    .unwrap();
    assert!(file.proxies[0].udp);
    assert_eq!(
        file.proxies[0].idle_timeout,
        Some(std::time::Duration::from_secs(30))
    );
    assert!(
        !file.proxies[1].udp,
        "a TCP proxy may share the UDP one's port"
    );
    let e = ConfigFile::parse(
        "[[proxy]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\nupstream = \"127.0.0.1:2\"\n\
         idle_timeout = 5\n\
         [[proxy]]\nname = \"b\"\nlisten = \"127.0.0.1:3\"\nupstream = \"127.0.0.1:4\"\n\
         udp = true\nlatency = \"10ms\"\nblack_hole = true\nloss = \"10%\"\n\
         [[proxy]]\nname = \"c\"\nlisten = \"127.0.0.1:5\"\nupstream = \"127.0.0.1:6\"\n\
         duplicate = \"1%\"\n\
         [[proxy]]\nname = \"d\"\nlisten = \"127.0.0.1:7\"\nupstream = \"127.0.0.1:8\"\n\
         udp = true\nloss = 10\n",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("proxy \"a\": idle_timeout: applies to UDP proxies only"),
        "{e}"
    );
    assert!(e.contains("proxy \"b\": black_hole: TCP-only"), "{e}");
    assert!(!e.contains("proxy \"b\": loss"), "{e}");
    assert!(
        e.contains("proxy \"c\": duplicate: for UDP proxies only"),
        "{e}"
    );
    assert!(e.contains("proxy \"d\": loss: \"10\""), "{e}");
    let file = ConfigFile::parse(
        "[[proxy]]\nname = \"g\"\nlisten = \"127.0.0.1:1\"\nupstream = \"127.0.0.1:2\"\n\
         udp = true\nlatency = \"20ms..60ms\"\nloss_bursts = \"1%,25%\"\nduplicate = 0.01\n\
         reorder = \"5%:4\"\nkeep_order = true\nbandwidth = \"1MB/s\"\nseed = 3\n",
    )
    .unwrap();
    let f = &file.proxies[0].faults;
    assert_eq!(
        f.datagram.to_string(),
        "loss bursts 1%,25%,100%,0%, duplicate 1%, reorder 5%:4, keep order"
    );
    assert_eq!((f.bandwidth, f.seed), (Some(1_000_000), Some(3)));
}
