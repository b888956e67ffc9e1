//! Tests of how global options resolve into settings: precedence, fleet
//! files, bad addresses.

use super::*;
use crate::args::Cli;
use clap::Parser;
use std::io::Write;

fn resolve(argv: &[&str], env: Option<&str>) -> Result<Settings, SettingsError> {
    let mut full = vec!["reelctl"];
    full.extend_from_slice(argv);
    full.push("agents");
    let cli = Cli::try_parse_from(full).unwrap();
    Settings::resolve(&cli.global, env)
}

fn addresses(settings: &Settings) -> Vec<&str> {
    settings.agents.iter().map(|a| a.address.as_str()).collect()
}

fn fleet(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

const FLEET: &str = "[[agent]]\nname = \"web-1\"\naddress = \"10.0.0.1:7700\"\n\
                     [[agent]]\nname = \"web-2\"\naddress = \"10.0.0.2:7700\"\n";

#[test]
fn precedence_flags_env_fleet_default() {
    let file = fleet(FLEET);
    let path = file.path().to_str().unwrap();
    let cases: &[(&[&str], Option<&str>, &[&str])] = &[
        (&["--agent", "a:1"], Some("e:1"), &["a:1"]),
        (&["--agent", "a:1", "--fleet", path], Some("e:1"), &["a:1"]),
        (&["--fleet", path], Some("e:1,e:2"), &["e:1", "e:2"]),
        (
            &["--fleet", path],
            None,
            &["10.0.0.1:7700", "10.0.0.2:7700"],
        ),
        (
            &["--fleet", path],
            Some(" , "),
            &["10.0.0.1:7700", "10.0.0.2:7700"],
        ),
        (&[], None, &[DEFAULT_AGENT]),
        (&[], Some(""), &[DEFAULT_AGENT]),
    ];
    for (argv, env, expected) in cases {
        let settings = resolve(argv, *env).unwrap();
        assert_eq!(addresses(&settings), *expected, "{argv:?} {env:?}");
    }
}

#[test]
fn lists_split_on_commas_trim_and_dedupe() {
    let settings = resolve(
        &["--agent", "a:1, b:2,", "-a", "a:1", "-a", "[::1]:7"],
        None,
    );
    assert_eq!(addresses(&settings.unwrap()), ["a:1", "b:2", "[::1]:7"]);
    let settings = resolve(&[], Some(" x:1 ,y:2 ")).unwrap();
    assert_eq!(addresses(&settings), ["x:1", "y:2"]);
}

#[test]
fn fleet_agents_keep_their_names() {
    let file = fleet(FLEET);
    let settings = resolve(&["--fleet", file.path().to_str().unwrap()], None).unwrap();
    assert_eq!(settings.agents[0].name.as_deref(), Some("web-1"));
    assert_eq!(settings.agents[1].label(), "web-2 (10.0.0.2:7700)");
    assert!(settings.warnings.is_empty());
}

#[test]
fn an_overridden_fleet_file_is_reported_not_read() {
    let settings = resolve(&["--fleet", "/nonexistent/f.toml"], Some("e:1")).unwrap();
    assert_eq!(addresses(&settings), ["e:1"]);
    assert!(settings.warnings[0].contains("/nonexistent/f.toml ignored"));
}

#[test]
fn bad_fleet_files_name_the_file() {
    let file = fleet("[[agent]]\nname = \"a\"\naddress = \"h:1\"\ncolor = \"red\"\n");
    let path = file.path().to_str().unwrap();
    let err = resolve(&["--fleet", path], None).unwrap_err().to_string();
    assert!(
        err.contains(path) && err.contains("unknown field `color`"),
        "{err}"
    );

    let err = resolve(&["--fleet", "/nonexistent/f.toml"], None).unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read fleet file /nonexistent/f.toml")
    );

    let file = fleet("[[agent]]\nname = \"a\"\naddress = \"nope\"\n");
    let err = resolve(&["--fleet", file.path().to_str().unwrap()], None).unwrap_err();
    assert!(err.to_string().contains("agent \"a\""), "{err}");
}

#[test]
fn bad_addresses_are_usage_errors() {
    for address in [
        "localhost",
        ":7700",
        "h:0",
        "h:99999",
        "h:x",
        "::1:7700",
        "a b:1",
    ] {
        let err = resolve(&["--agent", address], None).unwrap_err();
        assert!(matches!(err, SettingsError::BadAddress { .. }), "{address}");
    }
    assert!(matches!(
        resolve(&["--agent", ","], None).unwrap_err(),
        SettingsError::NoAgents
    ));
    assert!(resolve(&[], Some("nope")).is_err());
}

#[test]
fn output_mode_and_timeout() {
    let settings = resolve(&["--json", "-q", "--timeout", "250ms"], None).unwrap();
    assert_eq!(
        settings.output,
        OutputMode {
            json: true,
            verbosity: Verbosity::Quiet
        }
    );
    assert_eq!(settings.timeout, Duration::from_millis(250));
    let settings = resolve(&["-v"], None).unwrap();
    assert_eq!(settings.output.verbosity, Verbosity::Verbose);
    assert_eq!(settings.timeout, Duration::from_secs(5));
}
