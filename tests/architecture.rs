//! The parts rule, checked rather than remembered (README, "Layout").
//!
//! The library has three kinds of module: the **core** (every top-level module of `src/`
//! that is not an adapter: money, services, targets, drift, policy, planner, risk, math,
//! optimizer, execution, metrics, backtest, …), and the **adapters** `venue`, `sim` and
//! `store`. The actors live in another package. This test reads every source file of the
//! library, resolves the module paths each one names (`use` trees, `crate::…`, `super::…`,
//! `self::…`), and fails when
//! - a core module reaches an adapter or the actors, or does I/O (files, sockets, the
//!   async runtime, HTTP, SQLite);
//! - an adapter reaches the actors;
//! - the simulated venue reaches the venue client (it may use only `venue::protocol`), or
//!   the venue client reaches the simulator;
//! - the store reaches the venue or the simulator;
//! - two modules import each other, directly or around a longer loop: at every level of
//!   the tree, the imports between sibling modules form no cycle.
//!
//! Test code (`#[cfg(test)]` modules and `tests.rs` files) is held to the same rules
//! except the cycle rule: a test may drive its module through a sibling.
//!
//! # Invariants
//! - A new top-level module is core unless it is added to [`ADAPTERS`]: the default is
//!   the strict one.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

/// The adapters; every other top-level module is core.
const ADAPTERS: [&str; 3] = ["venue", "sim", "store"];

/// Paths a core module may not name: I/O crates and std's I/O modules.
const CORE_FORBIDDEN_EXTERNAL: [&str; 10] = [
    "std::fs",
    "std::net",
    "std::process",
    "std::io::stdin",
    "tokio",
    "reqwest",
    "rusqlite",
    "axum",
    "tokio_tungstenite",
    "ballast_actors",
];

/// One resolved reference from a module to a path.
#[derive(Debug, Clone)]
struct Reference {
    /// The file it is in, relative to the package root.
    file: String,
    /// 1-based line.
    line: usize,
    /// The module the referring code is in (`sim::ledger::cash`; test modules included).
    from: Vec<String>,
    /// The absolute path named, starting with `crate` or an external crate name.
    to: Vec<String>,
    /// Inside test code.
    test: bool,
}

#[test]
fn the_core_reaches_no_adapter_and_adapters_reach_only_what_they_may() {
    let references = library_references();
    let mut violations = Vec::new();
    for r in &references {
        if let Some(why) = forbidden(r) {
            violations.push(format!(
                "{}:{}: {} uses {}: {why}",
                r.file,
                r.line,
                r.from.join("::"),
                r.to.join("::")
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "the parts rule is broken ({} reference(s)):\n{}",
        violations.len(),
        violations.join("\n")
    );
}

#[test]
fn no_import_cycles_between_modules() {
    let references = library_references();
    let modules = module_tree();
    // Edges between siblings: lift each reference to the children of the lowest common
    // ancestor of its two ends; a reference to an ancestor or a descendant is no edge.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<(String, String)>> = BTreeMap::new();
    let mut witness: BTreeMap<(Vec<String>, String, String), String> = BTreeMap::new();
    for r in references.iter().filter(|r| !r.test) {
        if r.to.first().map(String::as_str) != Some("crate") {
            continue;
        }
        let target = longest_module(&modules, &r.to[1..]);
        let common = r
            .from
            .iter()
            .zip(&target)
            .take_while(|(a, b)| a == b)
            .count();
        if common >= r.from.len() || common >= target.len() {
            continue;
        }
        let parent = r.from[..common].to_vec();
        let edge = (r.from[common].clone(), target[common].clone());
        witness
            .entry((parent.clone(), edge.0.clone(), edge.1.clone()))
            .or_insert_with(|| format!("{}:{}", r.file, r.line));
        edges.entry(parent).or_default().insert(edge);
    }
    let mut cycles = Vec::new();
    for (parent, level) in &edges {
        for cycle in find_cycles(level) {
            let shown: Vec<String> = cycle
                .windows(2)
                .map(|pair| {
                    let at = &witness[&(parent.clone(), pair[0].clone(), pair[1].clone())];
                    format!("{} -> {} ({at})", pair[0], pair[1])
                })
                .collect();
            let scope = if parent.is_empty() {
                "crate".to_owned()
            } else {
                parent.join("::")
            };
            cycles.push(format!("in {scope}: {}", shown.join(", ")));
        }
    }
    assert!(
        cycles.is_empty(),
        "modules import each other:\n{}",
        cycles.join("\n")
    );
}

/// Why a reference breaks the parts rule, if it does.
fn forbidden(r: &Reference) -> Option<&'static str> {
    let part = r.from.first()?.as_str();
    let to: Vec<&str> = r.to.iter().map(String::as_str).collect();
    let joined = to.join("::");
    if to.first() == Some(&"ballast_actors") {
        return Some("the library never reaches the actors");
    }
    let target_part = (to.first() == Some(&"crate"))
        .then(|| to.get(1).copied())
        .flatten();
    if !ADAPTERS.contains(&part) {
        if let Some(target) = target_part
            && ADAPTERS.contains(&target)
        {
            return Some("the core imports no adapter (venue, sim, store)");
        }
        if CORE_FORBIDDEN_EXTERNAL
            .iter()
            .any(|p| joined == *p || joined.starts_with(&format!("{p}::")))
        {
            return Some("the core does no I/O");
        }
        return None;
    }
    match (part, target_part) {
        ("sim", Some("venue")) if to.get(2) != Some(&"protocol") => {
            Some("the simulator shares only the protocol types with the client")
        }
        ("sim", Some("store")) => Some("the simulator does not use the store"),
        ("venue", Some("sim")) => Some("the venue client does not reach the simulator"),
        ("venue", Some("store")) => Some("the venue adapter does not use the store"),
        ("store", Some("venue" | "sim")) => Some("the store does not reach venue or simulator"),
        _ => None,
    }
}

/// Every module path of the library, from its files and inline `mod x {` blocks.
fn module_tree() -> BTreeSet<Vec<String>> {
    let mut modules = BTreeSet::new();
    for (file, module) in library_files() {
        let text = strip_comments_and_strings(&fs::read_to_string(&file).unwrap_or_default());
        for prefix in 1..=module.len() {
            modules.insert(module[..prefix].to_vec());
        }
        for (inline, _) in inline_modules(&text) {
            let mut path = module.clone();
            path.extend(inline);
            modules.insert(path);
        }
    }
    modules
}

/// The longest known module that `path` (without `crate`) starts with.
fn longest_module(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Vec<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|candidate| modules.contains(candidate))
        .unwrap_or_else(|| path.iter().take(1).cloned().collect())
}

/// Every `.rs` file of `src/` with its module path (`src/sim/ledger/cash.rs` ->
/// `[sim, ledger, cash]`; `mod.rs` and `lib.rs` name their folder; `x_tests.rs` is the
/// `tests` module of `x`).
fn library_files() -> Vec<(PathBuf, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    collect_rs(&root, &mut files);
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&root).unwrap_or(&file).to_path_buf();
            let mut module: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if let Some(last) = module.pop() {
                let stem = last.trim_end_matches(".rs").to_owned();
                if let Some(parent) = stem.strip_suffix("_tests") {
                    // `#[path = "x_tests.rs"] mod tests;` inside `x.rs`.
                    module.push(parent.to_owned());
                    module.push("tests".to_owned());
                } else if stem != "mod" && stem != "lib" {
                    module.push(stem);
                }
            }
            (file, module)
        })
        .collect()
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every reference of every library file.
fn library_references() -> Vec<Reference> {
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut references = Vec::new();
    for (file, module) in library_files() {
        let source = fs::read_to_string(&file).unwrap_or_default();
        let text = strip_comments_and_strings(&source);
        let shown = file
            .strip_prefix(package)
            .unwrap_or(&file)
            .display()
            .to_string();
        let file_is_test = module
            .last()
            .is_some_and(|m| m == "tests" || m == "test_support");
        let inline = inline_modules(&text);
        for (offset, path) in paths_in(&text) {
            // The innermost inline module containing the reference.
            let mut from = module.clone();
            let mut test = file_is_test;
            for (name, (start, end, is_test)) in &inline {
                if offset > *start && offset < *end {
                    from = module.clone();
                    from.extend(name.iter().cloned());
                    test |= *is_test;
                }
            }
            if let Some(to) = resolve(&from, &path) {
                references.push(Reference {
                    file: shown.clone(),
                    line: text[..offset].matches('\n').count() + 1,
                    from,
                    to,
                    test,
                });
            }
        }
    }
    references
}

/// Resolves a path as written in module `from` to an absolute one; `None` for paths that
/// name no module (`Self::`, locals, prelude items).
fn resolve(from: &[String], path: &[String]) -> Option<Vec<String>> {
    let first = path.first()?.as_str();
    match first {
        "crate" => Some(path.to_vec()),
        "self" => {
            let mut out = vec!["crate".to_owned()];
            out.extend(from.iter().cloned());
            out.extend(path[1..].iter().cloned());
            Some(out)
        }
        "super" => {
            let supers = path.iter().take_while(|s| *s == "super").count();
            let keep = from.len().checked_sub(supers)?;
            let mut out = vec!["crate".to_owned()];
            out.extend(from[..keep].iter().cloned());
            out.extend(path[supers..].iter().cloned());
            Some(out)
        }
        "std" | "tokio" | "reqwest" | "rusqlite" | "axum" | "tokio_tungstenite"
        | "ballast_actors" => Some(path.to_vec()),
        _ => None,
    }
}

/// `(name path, (start, end, is test))` of every inline `mod name { … }` block, nested
/// blocks with their full path below the file's module.
fn inline_modules(text: &str) -> Vec<(Vec<String>, (usize, usize, bool))> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut search = 0;
    while let Some(at) = find_word(text, "mod", search) {
        search = at + 3;
        let rest = &text[at + 3..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after_name = at + 3 + (rest.len() - rest.trim_start().len()) + name.len();
        let tail = text[after_name..].trim_start();
        if name.is_empty() || !tail.starts_with('{') {
            continue;
        }
        let open = after_name + (text[after_name..].len() - tail.len());
        let mut depth = 0usize;
        let mut close = text.len();
        for (i, b) in bytes.iter().enumerate().skip(open) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let before = &text[..at];
        let attributes = before.rsplit(['}', ';']).next().unwrap_or("");
        let is_test = attributes.contains("cfg(test)") || name == "tests";
        found.push((name, open, close, is_test));
    }
    // Give nested blocks their full path.
    let mut out = Vec::new();
    for (i, (name, open, close, is_test)) in found.iter().enumerate() {
        let mut path = vec![name.clone()];
        let mut test = *is_test;
        for (outer_name, outer_open, outer_close, outer_test) in found[..i].iter().rev() {
            if outer_open < open && close < outer_close {
                path.insert(0, outer_name.clone());
                test |= *outer_test;
            }
        }
        out.push((path, (*open, *close, test)));
    }
    out
}

/// Every path the text names, with its byte offset: the leaves of `use` trees, and
/// qualified paths starting with `crate`, `super`, `self` or a watched external crate.
fn paths_in(text: &str) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut use_spans = Vec::new();
    let mut search = 0;
    while let Some(at) = find_word(text, "use", search) {
        let Some(end) = text[at..].find(';').map(|e| at + e) else {
            break;
        };
        for path in expand_use_tree(&text[at + 3..end]) {
            out.push((at, path));
        }
        use_spans.push((at, end));
        search = end;
    }
    // Qualified paths outside `use` declarations.
    let roots = [
        "crate::",
        "super::",
        "self::",
        "std::",
        "tokio::",
        "reqwest::",
        "rusqlite::",
        "axum::",
        "tokio_tungstenite::",
        "ballast_actors::",
    ];
    for root in roots {
        let mut from = 0;
        while let Some(found) = text[from..].find(root) {
            let at = from + found;
            from = at + root.len();
            let preceded = text[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            if preceded || use_spans.iter().any(|(s, e)| at >= *s && at <= *e) {
                continue;
            }
            let path: Vec<String> = text[at..]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or("")
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            out.push((at, path));
        }
    }
    out
}

/// The leaf paths of a `use` tree (`crate::{a::b, c::{d, e}}` -> `crate::a::b`, …).
fn expand_use_tree(tree: &str) -> Vec<Vec<String>> {
    fn walk(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
        let tree = tree.trim();
        if tree.is_empty() {
            return;
        }
        // Split at the first top-level `{`.
        if let Some(open) = tree.find('{') {
            let head: Vec<String> = tree[..open]
                .split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let close = tree.rfind('}').unwrap_or(tree.len());
            let mut next = prefix.to_vec();
            next.extend(head);
            for part in split_top_level(&tree[open + 1..close]) {
                walk(&next, part, out);
            }
        } else {
            let leaf = tree.split(" as ").next().unwrap_or(tree);
            let mut path = prefix.to_vec();
            path.extend(
                leaf.split("::")
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && *s != "*")
                    .map(str::to_owned),
            );
            // `use x::{self}` names `x`.
            if path.last().is_some_and(|s| s == "self") && path.len() > 1 {
                path.pop();
            }
            out.push(path);
        }
    }
    let tree = tree.trim().trim_start_matches("::");
    let mut out = Vec::new();
    walk(&[], tree, &mut out);
    out
}

/// Splits at commas that are not inside braces.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// The next occurrence of `word` as a whole word at or after `from`.
fn find_word(text: &str, word: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = text.get(at..)?.find(word) {
        let start = at + found;
        let end = start + word.len();
        let before = text[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let after = text[end..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        if !before && !after {
            return Some(start);
        }
        at = end;
    }
    None
}

/// The source with comments and the contents of string and char literals blanked (same
/// length and line breaks, so offsets and line numbers still hold).
fn strip_comments_and_strings(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && raw_string_at(&chars, i) {
            // r"…" or r#"…"#
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            out.push('r');
            for _ in 0..hashes {
                out.push('#');
            }
            out.push('"');
            j += 1;
            loop {
                if j >= chars.len() {
                    break;
                }
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    out.push('"');
                    for _ in 0..hashes {
                        out.push('#');
                    }
                    j += 1 + hashes;
                    break;
                }
                out.push(blank(chars[j]));
                j += 1;
            }
            i = j;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' && char_literal_len(&chars, i).is_some() {
            let len = char_literal_len(&chars, i).unwrap_or(1);
            out.push('\'');
            for _ in 1..len - 1 {
                out.push(' ');
            }
            out.push('\'');
            i += len;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Whether `r` at `i` starts a raw string (not the end of an identifier like `for`).
fn raw_string_at(chars: &[char], i: usize) -> bool {
    let preceded = i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    if preceded {
        return false;
    }
    let mut j = i + 1;
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    chars.get(j) == Some(&'"')
}

/// The length of a char literal at `i` (`'a'`, `'\n'`, `'\u{1F}'`), or `None` for a
/// lifetime.
fn char_literal_len(chars: &[char], i: usize) -> Option<usize> {
    if chars.get(i + 1) == Some(&'\\') {
        let close = (i + 2..chars.len().min(i + 12)).find(|j| chars[*j] == '\'')?;
        return Some(close - i + 1);
    }
    (chars.get(i + 2) == Some(&'\'')).then_some(3)
}

/// Every elementary cycle's vertices (first repeated at the end), one per strongly
/// connected component of more than one vertex, found by DFS.
fn find_cycles(edges: &BTreeSet<(String, String)>) -> Vec<Vec<String>> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        if a != b {
            graph.entry(a).or_default().push(b);
        }
    }
    let mut cycles = Vec::new();
    let mut reported: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    for start in graph.keys() {
        // Depth-first search for a path back to `start`.
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        let mut on_path: Vec<&str> = vec![start];
        let mut visited: BTreeSet<&str> = BTreeSet::new();
        while let Some((node, index)) = stack.last().copied() {
            let next = graph.get(node).and_then(|n| n.get(index)).copied();
            match next {
                None => {
                    stack.pop();
                    on_path.pop();
                }
                Some(next) => {
                    if let Some(top) = stack.last_mut() {
                        top.1 += 1;
                    }
                    if next == *start {
                        let mut cycle: Vec<String> =
                            on_path.iter().map(|s| (*s).to_owned()).collect();
                        let members: BTreeSet<String> = cycle.iter().cloned().collect();
                        cycle.push((*start).to_owned());
                        if reported.insert(members) {
                            cycles.push(cycle);
                        }
                    } else if visited.insert(next) {
                        stack.push((next, 0));
                        on_path.push(next);
                    }
                }
            }
        }
    }
    cycles
}

#[test]
fn the_checker_sees_what_it_must() {
    // TC0: nested use trees expand to their leaves, `self` names the module.
    let tree = "crate::{a::{b, c::D}, venue::protocol::{self, X as Y}}";
    let leaves: Vec<String> = expand_use_tree(tree)
        .into_iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(
        leaves,
        [
            "crate::a::b",
            "crate::a::c::D",
            "crate::venue::protocol",
            "crate::venue::protocol::X"
        ]
    );
    // TC1: comments and strings do not count; code does.
    let text = strip_comments_and_strings(
        "// use crate::venue::x;\nlet s = \"crate::sim::y\";\nlet t = crate::store::Z;\n",
    );
    let paths: Vec<String> = paths_in(&text)
        .into_iter()
        .map(|(_, p)| p.join("::"))
        .collect();
    assert_eq!(paths, ["crate::store::Z"]);
    // TC2: super resolves against the module.
    assert_eq!(
        resolve(
            &["sim".into(), "ledger".into()],
            &["super".into(), "engine".into(), "E".into()]
        ),
        Some(vec![
            "crate".into(),
            "sim".into(),
            "engine".into(),
            "E".into()
        ])
    );
    // TC3: a core reference to an adapter is refused; an adapter's to the core is not.
    let reference = |from: &str, to: &str| Reference {
        file: String::new(),
        line: 1,
        from: from.split("::").map(str::to_owned).collect(),
        to: to.split("::").map(str::to_owned).collect(),
        test: false,
    };
    assert!(forbidden(&reference("policy", "crate::venue::protocol::EventFrame")).is_some());
    assert!(forbidden(&reference("math::returns", "tokio::fs")).is_some());
    assert!(forbidden(&reference("venue::client", "crate::portfolio::X")).is_none());
    assert!(forbidden(&reference("sim::engine", "crate::venue::protocol::X")).is_none());
    assert!(forbidden(&reference("sim::engine", "crate::venue::client::X")).is_some());
    assert!(forbidden(&reference("store", "crate::venue::protocol::X")).is_some());
    // TC4: a three-module loop is a cycle; a chain is not.
    let edges = |pairs: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    assert_eq!(
        find_cycles(&edges(&[("a", "b"), ("b", "c"), ("c", "a")])).len(),
        1
    );
    assert!(find_cycles(&edges(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
}

#[test]
fn the_readme_names_every_part_as_it_is() {
    // The README's layout table lists the core modules; a new module must be named there, and
    // under the right part, or a newcomer reads a wrong map.
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .unwrap_or_default();
    let row = |part: &str| {
        readme
            .lines()
            .find(|l| l.starts_with(&format!("| **{part}** |")))
            .unwrap_or_default()
            .to_owned()
    };
    let (core_row, adapter_row) = (row("core"), row("adapters"));
    // Modules compiled only for tests (`#[cfg(test)] mod testing;` in lib.rs) are no part.
    let lib = strip_comments_and_strings(
        &fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
            .unwrap_or_default(),
    );
    let test_only = |module: &str| {
        lib.split(';').any(|item| {
            item.contains("cfg(test)") && item.trim_end().ends_with(&format!("mod {module}"))
        })
    };
    let top_level: BTreeSet<String> = library_files()
        .into_iter()
        .filter_map(|(_, module)| module.first().cloned())
        .filter(|module| !test_only(module))
        .collect();
    for module in top_level {
        let named = format!("`{module}`");
        if ADAPTERS.contains(&module.as_str()) {
            assert!(
                adapter_row.contains(&named),
                "README's adapters row lacks {named}"
            );
        } else {
            assert!(core_row.contains(&named), "README's core row lacks {named}");
        }
    }
}
