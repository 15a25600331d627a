//! The layering docs/architecture.md promises, checked against the source:
//! which modules may name which, no import cycles between the server's
//! modules, no function over 100 lines and no line over 150 characters.
//! Imports are read from parsed `use` trees (nested groups included) and
//! from every `crate::`/`$crate::` path in the token stream, macro bodies
//! included; function lengths are counted in the text as written, so bodies
//! inside `macro_rules!` count too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
const MAX_FUNCTION_LINES: usize = 100;
const MAX_LINE_CHARS: usize = 150;

struct SourceFile {
    /// Relative to server/src, with `/`.
    path: String,
    /// The top-level module it belongs to (`cases`, `auth`, ...); `lib` for
    /// lib.rs and main.rs, the composition root.
    module: String,
    text: String,
}

fn source_files() -> Vec<SourceFile> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }
    let mut paths = Vec::new();
    walk(Path::new(SOURCE), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(SOURCE).unwrap().to_string_lossy().replace('\\', "/");
            let first = relative.split('/').next().unwrap().trim_end_matches(".rs").to_owned();
            let module = if first == "main" { "lib".to_owned() } else { first };
            SourceFile { path: relative, module, text: std::fs::read_to_string(&path).unwrap() }
        })
        .collect()
}

/// Every crate path a file names: `use` trees expanded, plus `crate::a::b`
/// and `$crate::a::b` sequences anywhere in its tokens (macro bodies too).
fn crate_paths(file: &SourceFile) -> BTreeSet<String> {
    struct Uses(BTreeSet<String>);
    impl<'ast> Visit<'ast> for Uses {
        fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
            expand(&item.tree, String::new(), &mut self.0);
        }
    }
    fn expand(tree: &syn::UseTree, prefix: String, out: &mut BTreeSet<String>) {
        let join = |name: &str| if prefix.is_empty() { name.to_owned() } else { format!("{prefix}::{name}") };
        match tree {
            syn::UseTree::Path(path) => expand(&path.tree, join(&path.ident.to_string()), out),
            syn::UseTree::Name(name) => {
                out.insert(join(&name.ident.to_string()));
            }
            syn::UseTree::Rename(rename) => {
                out.insert(join(&rename.ident.to_string()));
            }
            syn::UseTree::Glob(_) => {
                out.insert(join("*"));
            }
            syn::UseTree::Group(group) => group.items.iter().for_each(|item| expand(item, prefix.clone(), out)),
        }
    }
    fn scan(tokens: TokenStream, out: &mut BTreeSet<String>) {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (index, token) in tokens.iter().enumerate() {
            match token {
                TokenTree::Group(group) => scan(group.stream(), out),
                TokenTree::Ident(ident) if ident == "crate" => {
                    let mut path = vec!["crate".to_owned()];
                    let mut next = index + 1;
                    while let (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)), Some(TokenTree::Ident(name))) =
                        (tokens.get(next), tokens.get(next + 1), tokens.get(next + 2))
                    {
                        if a.as_char() != ':' || b.as_char() != ':' {
                            break;
                        }
                        path.push(name.to_string());
                        next += 3;
                    }
                    if path.len() > 1 {
                        out.insert(path.join("::"));
                    }
                }
                _ => {}
            }
        }
    }
    let syntax = syn::parse_file(&file.text).unwrap_or_else(|error| panic!("{}: {error}", file.path));
    let mut uses = Uses(BTreeSet::new());
    uses.visit_file(&syntax);
    let mut paths = uses.0;
    scan(file.text.parse().unwrap(), &mut paths);
    paths
}

/// The top-level module a crate path reaches, if any.
fn target_module(path: &str) -> Option<&str> {
    let mut parts = path.split("::");
    (parts.next() == Some("crate")).then(|| parts.next()).flatten()
}

fn names(text: &str, ident: &str) -> bool {
    fn walk(tokens: TokenStream, ident: &str) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(found) => found == ident,
            TokenTree::Group(group) => walk(group.stream(), ident),
            _ => false,
        })
    }
    walk(text.parse().unwrap(), ident)
}

#[test]
fn domain_code_knows_nothing_of_the_edges() {
    const BELOW_THE_EDGE: &[&str] =
        &["cases", "rooms", "sfu", "store", "auth", "admin", "tree", "time", "vocab", "validate", "access", "demo"];
    const EDGES: &[&str] = &["http", "signaling", "error"];
    let mut violations = Vec::new();
    for file in source_files().iter().filter(|file| BELOW_THE_EDGE.contains(&file.module.as_str())) {
        for path in crate_paths(file) {
            if target_module(&path).is_some_and(|module| EDGES.contains(&module)) {
                violations.push(format!("{} reaches {path}", file.path));
            }
        }
        for ident in ["AppError", "axum"] {
            if names(&file.text, ident) {
                violations.push(format!("{} names {ident}", file.path));
            }
        }
    }
    assert!(violations.is_empty(), "HTTP below the edge:\n{}", violations.join("\n"));
}

#[test]
fn the_media_plane_does_not_know_who_serves_it() {
    let mut violations = Vec::new();
    for file in source_files().iter().filter(|file| file.module == "sfu") {
        for path in crate_paths(file) {
            if matches!(target_module(&path), Some("rooms" | "signaling" | "http" | "store" | "cases")) {
                violations.push(format!("{} reaches {path}", file.path));
            }
        }
    }
    assert!(violations.is_empty(), "the SFU imports what it serves:\n{}", violations.join("\n"));
}

#[test]
fn no_import_cycles_between_modules() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in source_files().iter().filter(|file| file.module != "lib") {
        let edges = graph.entry(file.module.clone()).or_default();
        for path in crate_paths(file) {
            if let Some(target) = target_module(&path)
                && target != file.module
                && graph_member(target)
            {
                edges.insert(target.to_owned());
            }
        }
    }
    // The reader sees the imports it should (a check that cannot pass on an
    // empty graph).
    assert!(graph["http"].contains("cases") && graph["store"].contains("tree"), "{graph:#?}");
    let cycles = find_cycles(&graph);
    assert!(cycles.is_empty(), "import cycles: {cycles:?}\ngraph: {graph:#?}");
}

/// Names that are modules of the crate, not items of its root (`AppState`,
/// the `text_enum!` macro exported at the root).
fn graph_member(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && name != "text_enum"
}

fn find_cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        cycles: &mut Vec<Vec<String>>,
    ) {
        if let Some(start) = stack.iter().position(|n| n == node) {
            cycles.push(stack[start..].to_vec());
            return;
        }
        if !done.insert(node.to_owned()) {
            return;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, cycles);
        }
        stack.pop();
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut cycles);
    }
    cycles
}

#[test]
fn the_cycle_finder_finds_cycles() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]
    .into();
    assert_eq!(find_cycles(&graph), vec![vec!["a".to_owned(), "b".to_owned(), "c".to_owned()]]);
}

/// Every `fn` item's span in lines, found in the text: from the line of
/// `fn` to the line of its closing brace, skipping strings, chars and
/// comments. Declarations without a body (`;`) are left out.
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let bytes = text.as_bytes();
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = text[at..].find("fn ") {
        let start = at + offset;
        at = start + 3;
        let boundary = start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        if !boundary || in_comment_or_string(text, start) {
            continue;
        }
        let name: String = text[at..].chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
        if name.is_empty() {
            continue;
        }
        let Some(open) = body_start(bytes, at) else { continue };
        let Some(close) = matching_brace(bytes, open) else { continue };
        found.push((name, line_of(start), line_of(close) - line_of(start) + 1));
    }
    found
}

/// The `{` that opens the body, or none when a `;` ends the signature first.
fn body_start(bytes: &[u8], mut at: usize) -> Option<usize> {
    let mut depth = 0i32;
    while at < bytes.len() {
        match bytes[at] {
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            b';' if depth == 0 => return None,
            b'{' if depth == 0 => return Some(at),
            _ => {}
        }
        at += 1;
    }
    None
}

fn matching_brace(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut at = open;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => at = skip_string(bytes, at),
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                while at < bytes.len() && bytes[at] != b'\n' {
                    at += 1;
                }
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(at);
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// The index of the closing quote of the string starting at `at`.
fn skip_string(bytes: &[u8], mut at: usize) -> usize {
    at += 1;
    while at < bytes.len() && bytes[at] != b'"' {
        if bytes[at] == b'\\' {
            at += 1;
        }
        at += 1;
    }
    at
}

/// A rough test for `fn ` inside a `//` comment or a one-line string.
fn in_comment_or_string(text: &str, at: usize) -> bool {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..at];
    before.contains("//") || before.matches('"').count() % 2 == 1
}

#[test]
fn no_function_is_longer_than_100_lines() {
    let mut long = Vec::new();
    for file in source_files() {
        for (name, line, length) in function_lengths(&file.text) {
            if length > MAX_FUNCTION_LINES {
                long.push(format!("{}:{line} fn {name}: {length} lines", file.path));
            }
        }
    }
    assert!(long.is_empty(), "split these:\n{}", long.join("\n"));
}

#[test]
fn the_function_counter_sees_into_macros() {
    let body = "    let x = 1;\n".repeat(120);
    let text = format!("macro_rules! m {{ () => {{ fn inside() {{\n{body}}} }}; }}\nfn small() {{ \"}}\"; }}\n");
    let lengths = function_lengths(&text);
    assert_eq!(lengths[0].0, "inside");
    assert_eq!(lengths[0].2, 122);
    assert_eq!(lengths[1], ("small".to_owned(), 123, 1));
}

#[test]
fn no_line_is_longer_than_150_characters() {
    let mut long = Vec::new();
    for file in source_files() {
        for (index, line) in file.text.lines().enumerate() {
            let chars = line.chars().count();
            if chars > MAX_LINE_CHARS {
                long.push(format!("{}:{}: {chars} characters", file.path, index + 1));
            }
        }
    }
    assert!(long.is_empty(), "wrap these:\n{}", long.join("\n"));
}
