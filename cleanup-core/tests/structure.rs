//! The shape DESIGN "Structure" and "Platforms" ask of the runtime, read
//! from its source: the top-level modules import one another without a
//! circle, and `unsafe` lives only in the platform layer (`sys`) and the
//! registry's lock-free slots.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
    found
}

/// The top-level module a file belongs to (`registry` for
/// `registry/slots.rs`), or `None` for the crate root.
fn module_of(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(src()).unwrap();
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib").then(|| name.to_owned())
}

/// The text without comments (line and doc comments), so prose that names
/// a module or the word "unsafe" counts for nothing.
fn code(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules `text` names through `crate::`, grouped imports
/// (`crate::{a, b::c}`) included.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let head: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                named.insert(head);
            }
        } else {
            let head: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            named.insert(head);
        }
    }
    named.retain(|name| modules.contains(name));
    named
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let all = files(&src());
    let modules: BTreeSet<String> = all.iter().filter_map(|path| module_of(path)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in &all {
        let Some(module) = module_of(path) else {
            continue;
        };
        let text = code(&fs::read_to_string(path).unwrap());
        let targets = edges.entry(module.clone()).or_default();
        targets.extend(imports(&text, &modules));
        targets.remove(&module);
    }
    edges
}

/// A circle through `from`, if there is one: the path back to it.
fn circle_from(from: &str, edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn walk(
        at: &str,
        goal: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        seen: &mut BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> bool {
        for next in edges.get(at).into_iter().flatten() {
            if next == goal {
                path.push(next.clone());
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(next, goal, edges, seen, path) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![from.to_owned()];
    walk(from, from, edges, &mut BTreeSet::new(), &mut path).then_some(path)
}

#[test]
fn no_import_circle_between_top_level_modules() {
    let edges = graph();
    assert!(edges.len() > 10, "the modules were not found: {edges:?}");
    let circles: Vec<String> = edges
        .keys()
        .filter_map(|module| circle_from(module, &edges))
        .map(|path| path.join(" → "))
        .collect();
    assert!(
        circles.is_empty(),
        "import circles between cleanup-core's top-level modules:\n{}",
        circles.join("\n")
    );
}

#[test]
fn unsafe_only_in_the_platform_layer_and_the_slots() {
    let allowed = |path: &Path| {
        let relative = path.strip_prefix(src()).unwrap();
        relative.starts_with("sys")
            || relative.starts_with("registry/slots")
            || relative == Path::new("registry/slots.rs")
    };
    let mut offenders = Vec::new();
    for path in files(&src()) {
        if allowed(&path) {
            continue;
        }
        let text = code(&fs::read_to_string(&path).unwrap());
        for (number, line) in text.lines().enumerate() {
            let lint = line.contains("unsafe_code");
            if line.contains("unsafe") && !lint {
                offenders.push(format!(
                    "{}:{}: {}",
                    path.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "`unsafe` outside `sys` and the registry's slots:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_crate_denies_unsafe_code() {
    let root = fs::read_to_string(src().join("lib.rs")).unwrap();
    assert!(root.contains("#![deny(unsafe_code)]"));
}
