//! The agent's modules depend on each other one way only (issue 14): no
//! cycle between top-level modules (`crate::x` paths), nor between the
//! files of one module folder (`super::x` paths). Read from the source, as
//! `../shared/hooks/module-cycles.py` does, with tests left out; a cycle
//! fails with the loop spelled out. And reelctl never imports the agent's
//! gRPC layer (`reel::service`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Non-test source of a file: everything before its first `#[cfg(test)]`.
fn source(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    match text.find("#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// Names following `prefix` (`crate::`, `super::`) in `text`.
fn referenced(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = text[i + prefix.len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
        // `use crate::{a, b::c}` names several.
        if text[i + prefix.len()..].starts_with('{') {
            let list = &text[i + prefix.len() + 1..];
            let end = list.find('}').unwrap_or(list.len());
            for part in list[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        }
    }
    out
}

/// Every `.rs` file under `dir`, test files and folders left out.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name == "tests" || name == "tests.rs" {
            continue;
        }
        if path.is_dir() {
            out.extend(files(&path));
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
    out
}

fn module_name(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().to_string()
}

/// One cycle of `graph`, if any, as the path that closes it.
fn cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        u: &str,
        graph: &Graph,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(u.to_string(), 1);
        stack.push(u.to_string());
        for v in graph.get(u).into_iter().flatten() {
            match state.get(v) {
                Some(1) => {
                    let at = stack.iter().position(|s| s == v).unwrap();
                    let mut c = stack[at..].to_vec();
                    c.push(v.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(v, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(u.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for u in graph.keys() {
        if !state.contains_key(u)
            && let Some(c) = visit(u, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

fn agent_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("agent")
}

/// The agent's top-level modules: its files and folders but the roots.
fn top_modules() -> BTreeSet<String> {
    std::fs::read_dir(agent_dir())
        .unwrap()
        .map(|e| module_name(&e.unwrap().path()))
        .filter(|m| !["lib", "main", "tests"].contains(&m.as_str()))
        .collect()
}

#[test]
fn top_level_modules_depend_one_way() {
    let mods = top_modules();
    let mut graph = Graph::new();
    for m in &mods {
        let file = agent_dir().join(format!("{m}.rs"));
        let dir = agent_dir().join(m);
        let mut sources = if dir.is_dir() {
            files(&dir)
        } else {
            Vec::new()
        };
        if file.exists() {
            sources.push(file);
        }
        let deps = graph.entry(m.clone()).or_default();
        for f in sources {
            for r in referenced(&source(&f), "crate::") {
                if mods.contains(&r) && &r != m {
                    deps.insert(r);
                }
            }
        }
    }
    assert!(graph.len() > 10, "read the module graph: {graph:?}");
    if let Some(c) = cycle(&graph) {
        panic!("import cycle between agent modules: {}", c.join(" -> "));
    }
}

#[test]
fn files_of_one_module_folder_depend_one_way() {
    let mut cycles = Vec::new();
    for m in top_modules() {
        let dir = agent_dir().join(&m);
        if !dir.is_dir() {
            continue;
        }
        // Siblings: the folder's own files (mod.rs is their parent).
        let siblings: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .map(|p| module_name(&p))
            .filter(|n| n != "mod" && n != "tests")
            .collect();
        let mut graph = Graph::new();
        for name in &siblings {
            let mut sources = vec![dir.join(format!("{name}.rs"))];
            let sub = dir.join(name);
            if sub.is_dir() {
                sources.extend(files(&sub));
            }
            let deps = graph.entry(name.clone()).or_default();
            for f in sources {
                let text = source(&f);
                let named = referenced(&text, "super::")
                    .into_iter()
                    .chain(referenced(&text, &format!("crate::{m}::")));
                for r in named {
                    if siblings.contains(&r) && &r != name {
                        deps.insert(r);
                    }
                }
            }
        }
        if let Some(c) = cycle(&graph) {
            cycles.push(format!("agent/{m}/: {}", c.join(" -> ")));
        }
    }
    assert!(cycles.is_empty(), "import cycles: {cycles:#?}");
}

/// reelctl talks to agents through the generated types and the shared
/// `wire` conversions, never through the agent's gRPC layer: the service
/// can change without reelctl following it (issue 14, item 3).
#[test]
fn reelctl_never_imports_the_agents_service_layer() {
    let ctl = Path::new(env!("CARGO_MANIFEST_DIR")).join("ctl");
    let offenders: Vec<String> = files(&ctl)
        .into_iter()
        .filter(|f| referenced(&source(f), "reel::").contains("service"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(offenders.is_empty(), "reel::service in {offenders:?}");
}

#[test]
fn the_checker_finds_a_cycle() {
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        cycle(&g).unwrap(),
        ["a", "b", "c", "a"].map(String::from).to_vec()
    );
    let found = referenced(
        "use crate::{events::Bus, tap};\nx = crate::ids::new();",
        "crate::",
    );
    assert_eq!(
        found,
        ["events", "ids", "tap"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}
