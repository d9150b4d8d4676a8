//! Tidy checks that keep the tree honest, run with `cargo test`: every Rust file says what it is
//! for, every path a doc or comment names exists, and ARCHITECTURE.md's code map names every
//! module of every crate.

use std::path::{Path, PathBuf};

/// The workspace root (this crate is `crates/xtask`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("workspace root")
}

/// Folders that hold no source of ours: build output, installed packages, generated corpora.
const SKIPPED: &[&str] =
    &["target", "node_modules", ".venv", ".git", "dist", "corpus", "artifacts", "coverage"];

/// Every file under `dir` whose name ends with one of `extensions`, in a stable order.
fn files(dir: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !SKIPPED.contains(&name.as_str()) {
                    stack.push(path);
                }
            } else if extensions.iter().any(|extension| name.ends_with(extension)) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

#[test]
fn every_rust_file_starts_with_a_line_saying_what_it_is_for() {
    let missing: Vec<String> = files(&root(), &[".rs"])
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let first = text.lines().find(|line| !line.trim().is_empty()).unwrap_or_default();
            !first.starts_with("//!")
        })
        .map(|path| relative(&path))
        .collect();
    assert!(missing.is_empty(), "files without a `//!` line first: {missing:#?}");
}

/// The folders a repository path can start with.
const ROOTS: &[&str] = &["crates/", "docs/", "tests/", "scripts/", "www/", "tools/", "fuzz/"];

/// The repository paths named in `text`: a root folder at a word boundary, then path characters,
/// without trailing punctuation. Paths with `*`, `<` or `{` are patterns, not paths.
fn named_paths(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut paths = Vec::new();
    for (at, _) in text.char_indices() {
        let Some(root) = ROOTS.iter().find(|root| text[at..].starts_with(*root)) else { continue };
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b"/._-$~".contains(&b)) {
            continue;
        }
        let length = text[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c)))
            .unwrap_or(text.len() - at);
        let path = text[at..at + length].trim_end_matches(['.', ',', '-']);
        let next = text[at + length..].chars().next();
        if path.len() > root.len() && !matches!(next, Some('*' | '<' | '{')) {
            paths.push(path.to_owned());
        }
    }
    paths
}

#[test]
fn every_path_a_doc_or_comment_names_exists() {
    let root = root();
    let mut missing = Vec::new();
    for file in files(&root, &[".md", ".rs", ".sh", ".mjs", ".py", ".toml"]) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        // Markdown links are relative to their file; the paths checked here are named from the
        // repository's root, as the docs and comments write them.
        for path in named_paths(&text) {
            // Paths into folders that runs create (test artifacts, build output) need not exist.
            let generated = path.split('/').any(|part| SKIPPED.contains(&part));
            if !generated && !root.join(&path).exists() {
                missing.push(format!("{} names {path}", relative(&file)));
            }
        }
    }
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "paths named that do not exist: {missing:#?}");
}

/// The modules a crate declares in its root file (`mod name;` and `pub mod name;`, not inline
/// test modules).
fn modules(crate_root: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(crate_root).unwrap_or_default();
    let mut after_cfg_test = false;
    text.lines()
        .filter_map(|line| {
            // A module of tests (`#[cfg(test)] mod tests;`) is not part of the code map.
            let test_only = std::mem::replace(&mut after_cfg_test, line.trim() == "#[cfg(test)]");
            if test_only {
                return None;
            }
            let line = line.trim();
            let rest = line.strip_prefix("pub mod ").or_else(|| line.strip_prefix("mod "))?;
            Some(rest.strip_suffix(';')?.trim().to_owned())
        })
        .collect()
}

#[test]
fn the_code_map_names_every_module_of_every_crate() {
    let root = root();
    let architecture =
        std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let mut missing = Vec::new();
    for crate_dir in files(&root.join("crates"), &["Cargo.toml"]) {
        let dir = crate_dir.parent().expect("crate folder");
        let name = dir.file_name().expect("crate name").to_string_lossy().into_owned();
        // The crate's paragraph starts with its bold path and runs to the next one.
        let heading = format!("**`crates/{name}`**");
        let Some(start) = architecture.find(&heading) else {
            missing.push(format!("crates/{name} has no paragraph"));
            continue;
        };
        let paragraph = &architecture[start..];
        let end = paragraph[heading.len()..].find("\n**").map_or(paragraph.len(), |i| i + 2);
        let paragraph = &paragraph[..end];
        // Pages that grew into folders declare their parts in their own `mod.rs`.
        let nested_pages = files(&dir.join("src/pages"), &["mod.rs"])
            .into_iter()
            .filter(|path| path.file_name().is_some_and(|name| name == "mod.rs"))
            .filter_map(|path| Some(path.strip_prefix(dir).ok()?.display().to_string()));
        let roots = ["src/lib.rs", "src/main.rs", "src/pages/mod.rs", "src/wire/mod.rs"]
            .into_iter()
            .map(str::to_owned)
            .chain(nested_pages.filter(|file| file != "src/pages/mod.rs"));
        for file in roots {
            for module in modules(&dir.join(&file)) {
                if !paragraph.contains(&format!("`{module}`")) {
                    missing.push(format!("crates/{name}: module `{module}` ({file})"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "ARCHITECTURE.md's code map leaves out: {missing:#?}");
}

#[test]
fn named_paths_are_found_where_docs_write_them() {
    assert_eq!(
        named_paths("see `docs/verdicts.md`, and [x](tests/e2e/ux.test.mjs). Also crates/core."),
        ["docs/verdicts.md", "tests/e2e/ux.test.mjs", "crates/core"]
    );
    assert_eq!(named_paths("target/debug/tests/x and docs/*.md and $PWD/dist"), [] as [&str; 0]);
}

/// The public fields of `pub struct <name>` in a Rust source file, in order.
fn struct_fields(source: &str, name: &str) -> Vec<String> {
    let Some(start) = source.find(&format!("pub struct {name} {{")) else { return Vec::new() };
    let body = &source[start..];
    let body = &body[..body.find("\n}").unwrap_or(body.len())];
    body.lines()
        .filter_map(|line| line.trim().strip_prefix("pub ")?.split(':').next().map(str::to_owned))
        .filter(|field| !field.starts_with("struct"))
        .collect()
}

#[test]
fn the_consent_names_everything_the_page_sends() {
    // Every field a candidate's page sends, with the words of the consent that name it; a field
    // added to the wire without a line in the consent fails here.
    let named: &[(&str, &str, &str)] = &[
        ("BatchV1", "seq", ""),
        ("BatchV1", "strokes", "When each key goes down and comes up"),
        ("BatchV1", "pointer", "Where the pointer moves on this page and when"),
        ("BatchV1", "focus", "When this page goes out of view or comes back"),
        ("BatchV1", "rhythm", "when you tap in the two short timing tasks"),
        ("BatchV1", "tracking", "Where the pointer moves on this page and when"),
        ("BatchV1", "frames", "How long messages take to travel"),
        ("BatchV1", "client_rtt_us", "How long messages take to travel"),
        ("BatchV1", "timer_resolution_us", "to the fraction of a millisecond"),
        ("EnvironmentV1", "webdriver", "whether it is run by automation"),
        ("EnvironmentV1", "renderer", "whether its graphics are drawn in software"),
        ("EnvironmentV1", "screen_w_px", "screen size"),
        ("EnvironmentV1", "screen_h_px", "screen size"),
        ("EnvironmentV1", "time_zone", "its time zone"),
    ];
    let root = root();
    let wire = std::fs::read_to_string(root.join("crates/core/src/wire/evidence.rs"))
        .expect("wire/evidence.rs");
    let consent = std::fs::read_to_string(root.join("crates/app/src/pages/candidate/consent.rs"))
        .expect("the consent step");
    let mut drift = Vec::new();
    for structure in ["BatchV1", "EnvironmentV1"] {
        let fields = struct_fields(&wire, structure);
        assert!(!fields.is_empty(), "{structure} was not found in wire/evidence.rs");
        for field in fields {
            match named.iter().find(|(s, f, _)| *s == structure && *f == field) {
                None => drift
                    .push(format!("{structure}.{field} is sent but the consent does not name it")),
                Some((_, _, words)) if !consent.contains(words) => {
                    drift.push(format!("{structure}.{field}: the consent no longer says {words:?}"))
                }
                Some(_) => {}
            }
        }
    }
    assert!(drift.is_empty(), "{drift:#?}");
}
