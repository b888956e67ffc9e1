//! One shell line as an action: the original recorder's menu items become
//! the reelctl command lines that do the same, so they run through the same
//! parser and dispatch as anything typed in full. Pure, so every accepted
//! and refused line is a table row in the tests.

use std::net::Ipv6Addr;

/// What a line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Blank, or a `#` comment (scripts may carry them).
    Nothing,
    /// `q`, `quit`, `exit`.
    Quit,
    /// `h`, `?`, `help` alone: the menu.
    Help,
    /// `5`: the records, one line each as the recorder printed them.
    ShowRecords,
    /// A reelctl command line (without the program name), typed or made
    /// from a menu item.
    Command(Vec<String>),
}

/// Parses one line.
///
/// # Errors
/// A message naming what was wrong: an unknown menu item, a menu item's
/// missing or malformed value, unbalanced quotes.
pub(crate) fn parse(line: &str) -> Result<Action, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(Action::Nothing);
    }
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    match first {
        "q" | "quit" | "exit" if rest.is_empty() => Ok(Action::Quit),
        "h" | "?" if rest.is_empty() => Ok(Action::Help),
        "help" if rest.is_empty() => Ok(Action::Help),
        "1" => start_proxy(&rest),
        "2" => fixed("2", &rest, &["proxy", "stop", "--all"]),
        "3" => fixed("3", &rest, &["record", "start"]),
        "4" => fixed("4", &rest, &["record", "stop", "--all"]),
        "5" => no_values("5", &rest).map(|()| Action::ShowRecords),
        "6" => replay(line[1..].trim()),
        item if item.chars().all(|c| c.is_ascii_digit()) => Err(format!(
            "no menu item {item:?}: the menu has 1 to 6, h (help) and q (quit)"
        )),
        _ => match shlex::split(line) {
            Some(words) => Ok(Action::Command(words)),
            None => Err(format!("unbalanced quotes or a trailing \\ in {line:?}")),
        },
    }
}

/// `1 PORT IP PORT` → `proxy start --listen 0.0.0.0:PORT --upstream IP:PORT`.
/// The recorder listened on every interface (Twisted's default); a
/// `HOST:PORT` in the first place picks one instead.
fn start_proxy(values: &[&str]) -> Result<Action, String> {
    const USAGE: &str = "menu item 1 is `1 PORT IP PORT`, e.g. `1 1111 10.4.4.22 5630`";
    let listen = match values.first() {
        Some(listen) => listen_address(listen)?,
        None => return Err(format!("{USAGE}: the listen port is missing")),
    };
    let [_, host, port] = values else {
        return Err(format!(
            "{USAGE}: got {} value{} instead of 3",
            values.len(),
            if values.len() == 1 { "" } else { "s" }
        ));
    };
    let port = parse_port("server port", port)?;
    if port == 0 {
        return Err("menu item 1: server port 0 is not a port a server listens on".to_owned());
    }
    let upstream = if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let words = [
        "proxy",
        "start",
        "--listen",
        &listen,
        "--upstream",
        &upstream,
    ];
    Ok(Action::Command(words.map(str::to_owned).to_vec()))
}

/// `PORT` on every interface, or `HOST:PORT` as given (port checked).
fn listen_address(value: &str) -> Result<String, String> {
    match value.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => {
            parse_port("listen port", port)?;
            Ok(value.to_owned())
        }
        _ => Ok(format!("0.0.0.0:{}", parse_port("listen port", value)?)),
    }
}

fn parse_port(what: &str, value: &str) -> Result<u16, String> {
    value
        .parse::<u16>()
        .map_err(|_| format!("menu item 1: {what} {value:?} is not a port number (0-65535)"))
}

/// `6 REC,REC,..` → `replay REC REC ..` (commas or spaces between them).
fn replay(values: &str) -> Result<Action, String> {
    let recordings: Vec<String> = values
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if recordings.is_empty() {
        return Err(
            "menu item 6 is `6 REC,REC,..`: name the recordings to replay (ids from 5, \
             or local .reel files)"
                .to_owned(),
        );
    }
    Ok(Action::Command(
        std::iter::once("replay".to_owned())
            .chain(recordings)
            .collect(),
    ))
}

/// A menu item that takes no values, as a fixed command line.
fn fixed(item: &str, values: &[&str], words: &[&str]) -> Result<Action, String> {
    no_values(item, values)?;
    Ok(Action::Command(
        words.iter().map(|w| (*w).to_owned()).collect(),
    ))
}

fn no_values(item: &str, values: &[&str]) -> Result<(), String> {
    match values.first() {
        None => Ok(()),
        Some(value) => Err(format!(
            "menu item {item} takes no values (got {value:?}); reelctl commands give \
             more control, e.g. `proxy stop ID`, `record start --proxy ID`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(words: &[&str]) -> Action {
        Action::Command(words.iter().map(|w| (*w).to_owned()).collect())
    }

    #[test]
    fn menu_items_become_commands() {
        let cases: &[(&str, Action)] = &[
            ("", Action::Nothing),
            ("   ", Action::Nothing),
            ("# a comment", Action::Nothing),
            ("q", Action::Quit),
            ("quit", Action::Quit),
            (" exit ", Action::Quit),
            ("h", Action::Help),
            ("?", Action::Help),
            ("help", Action::Help),
            (
                "1 1111 10.4.4.22 5630",
                command(&[
                    "proxy",
                    "start",
                    "--listen",
                    "0.0.0.0:1111",
                    "--upstream",
                    "10.4.4.22:5630",
                ]),
            ),
            (
                "1  127.0.0.1:0\t127.0.0.1 9",
                command(&[
                    "proxy",
                    "start",
                    "--listen",
                    "127.0.0.1:0",
                    "--upstream",
                    "127.0.0.1:9",
                ]),
            ),
            (
                "1 0 ::1 5630",
                command(&[
                    "proxy",
                    "start",
                    "--listen",
                    "0.0.0.0:0",
                    "--upstream",
                    "[::1]:5630",
                ]),
            ),
            (
                "1 1111 game.example 5630",
                command(&[
                    "proxy",
                    "start",
                    "--listen",
                    "0.0.0.0:1111",
                    "--upstream",
                    "game.example:5630",
                ]),
            ),
            ("2", command(&["proxy", "stop", "--all"])),
            ("3", command(&["record", "start"])),
            ("4", command(&["record", "stop", "--all"])),
            ("5", Action::ShowRecords),
            ("6 r1", command(&["replay", "r1"])),
            ("6 r1,r2,,r3", command(&["replay", "r1", "r2", "r3"])),
            ("6 r1, r2", command(&["replay", "r1", "r2"])),
            ("6 dir/a.reel", command(&["replay", "dir/a.reel"])),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line).as_ref(), Ok(expected), "{line:?}");
        }
    }

    #[test]
    fn other_lines_are_split_like_a_shell() {
        let cases: &[(&str, &[&str])] = &[
            ("record ls --json", &["record", "ls", "--json"]),
            (
                "record start --label 'boss fight'",
                &["record", "start", "--label", "boss fight"],
            ),
            (
                r#"proxy start --name "a b" x"#,
                &["proxy", "start", "--name", "a b", "x"],
            ),
            ("help record", &["help", "record"]),
            ("q now", &["q", "now"]),
            (
                "--agent 127.0.0.1:1 agents",
                &["--agent", "127.0.0.1:1", "agents"],
            ),
        ];
        for (line, words) in cases {
            assert_eq!(parse(line), Ok(command(words)), "{line:?}");
        }
    }

    #[test]
    fn bad_lines_name_what_is_wrong() {
        let cases: &[(&str, &str)] = &[
            ("7", "no menu item \"7\""),
            ("0", "no menu item \"0\""),
            ("1", "the listen port is missing"),
            (
                "1 notaport",
                "listen port \"notaport\" is not a port number",
            ),
            ("1 70000 1.2.3.4 5", "listen port \"70000\""),
            ("1 1111", "got 1 value instead of 3"),
            ("1 1111 1.2.3.4", "got 2 values instead of 3"),
            ("1 1111 1.2.3.4 5 6", "got 4 values instead of 3"),
            ("1 1111 1.2.3.4 http", "server port \"http\""),
            ("1 1111 1.2.3.4 0", "server port 0"),
            ("1 host: 1.2.3.4 5", "listen port \"\""),
            ("2 p1", "menu item 2 takes no values (got \"p1\")"),
            ("3 x", "menu item 3 takes no values"),
            ("4 x", "menu item 4 takes no values"),
            ("5 x", "menu item 5 takes no values"),
            ("6", "name the recordings"),
            ("6 , ,", "name the recordings"),
            ("record start --label 'open", "unbalanced quotes"),
        ];
        for (line, wanted) in cases {
            let error = parse(line).unwrap_err();
            assert!(error.contains(wanted), "{line:?}: {error}");
        }
    }
}
