//! The layer rules of `docs/architecture.md`, checked: a change that breaks one fails the test
//! suite (and so the build), not a review.
//!
//! - `shared` is pure: no async runtime, window toolkit, media framework, HTTP or database.
//! - The engine has no window toolkit, argument parser or terminal prompts, and knows neither the
//!   app nor the server; the server knows neither the engine nor the app.
//! - Only the app (`client/`) names iced; the engine and the core name no argument parser.
//! - Within the engine, media does not know the call machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Each workspace package's normal (non-dev) dependencies, from `cargo metadata`.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("metadata JSON");
    v["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap_or("").to_string())
                .collect();
            (p["name"].as_str().unwrap_or("").to_string(), deps)
        })
        .collect()
}

fn refuse(package: &str, deps: &[String], forbidden: &[&str], why: &str) -> Vec<String> {
    deps.iter()
        .filter(|d| {
            forbidden
                .iter()
                .any(|f| *d == f || (f.ends_with('*') && d.starts_with(&f[..f.len() - 1])))
        })
        .map(|d| format!("{package} depends on {d}: {why}"))
        .collect()
}

/// Rust sources under `dir` that contain `needle` outside comments.
fn naming(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for p in rust_files(dir) {
        let text = std::fs::read_to_string(&p).expect("source");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains(needle) {
                found.push(format!("{}:{}: {}", p.display(), i + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_crates_depend_only_downwards() {
    let deps = dependencies();
    let get = |p: &str| deps.get(p).unwrap_or_else(|| panic!("no package {p}"));
    let mut broken = Vec::new();
    broken.extend(refuse(
        "assent-shared",
        get("assent-shared"),
        &[
            "tokio",
            "iced",
            "gst*",
            "axum",
            "reqwest",
            "rusqlite",
            "assent-engine",
            "assent-rendezvous",
        ],
        "the core is pure (no runtime, window, media, HTTP or database)",
    ));
    broken.extend(refuse(
        "assent-engine",
        get("assent-engine"),
        &[
            "iced",
            "iced_test",
            "clap",
            "rpassword",
            "axum",
            "assent-rendezvous",
            "assent",
        ],
        "the engine has no window, argument parser or prompts, and does not know the server or \
         the app",
    ));
    broken.extend(refuse(
        "assent-rendezvous",
        get("assent-rendezvous"),
        &["assent-engine", "assent", "iced", "gst*"],
        "the server knows only the shared core",
    ));
    assert!(
        broken.is_empty(),
        "layer rules broken:\n{}",
        broken.join("\n")
    );
}

#[test]
fn only_the_app_names_the_window_toolkit() {
    let mut found = Vec::new();
    for (dir, needles) in [
        ("engine/src", &["iced::", "clap::", "rpassword::"][..]),
        (
            "shared/src",
            &["iced::", "clap::", "rpassword::", "tokio::"][..],
        ),
        // The server has its own command line; it has no window.
        ("rendezvous/src", &["iced::"][..]),
    ] {
        for needle in needles {
            found.extend(naming(&root().join(dir), needle));
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// Media reports WebRTC events in its own terms (`media::MediaEvent`); the call layer maps them
/// to its machine's inputs. Media never names the call layer.
#[test]
fn media_does_not_know_the_call_machine() {
    let media = root().join("engine/src/media");
    let mut found = naming(&media, "crate::call");
    found.extend(naming(&media, "call::machine"));
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The app sees the engine only through its facade: the engine's modules are private, so the
/// compiler refuses any path past what `engine/src/lib.rs` re-exports.
#[test]
fn the_engine_is_a_facade_over_private_modules() {
    let lib = std::fs::read_to_string(root().join("engine/src/lib.rs")).expect("engine lib.rs");
    let public: Vec<&str> = lib
        .lines()
        .filter(|l| l.trim_start().starts_with("pub mod "))
        .collect();
    assert!(
        public.is_empty(),
        "engine modules must stay private (re-export what the app needs instead):\n{}",
        public.join("\n")
    );
    assert!(
        lib.contains("pub use library::"),
        "the facade re-exports the library"
    );
}

/// The server's services know nothing of HTTP: they take the parts of the server they use (not
/// `AppState`) and answer with `error::ApiError` (a code and a sentence); the HTTP edges
/// (`http*.rs`) map those to statuses in one place, and `state.rs`, `jobs.rs`, `lib.rs` and
/// `main.rs` put the server together. The signaling fan-out (`signaling/mod.rs`) keeps the
/// socket's text frames, serialised once for every recipient.
#[test]
fn server_services_do_not_know_http_or_the_whole_state() {
    let src = root().join("rendezvous/src");
    let edge = |p: &Path| {
        let rel = p
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .to_string();
        rel.starts_with("http")
            || ["state.rs", "jobs.rs", "lib.rs", "main.rs"].contains(&rel.as_str())
    };
    let mut found = Vec::new();
    for needle in ["axum", "AppState"] {
        found.extend(naming(&src, needle).into_iter().filter(|hit| {
            let path = Path::new(hit.split(':').next().unwrap_or(""));
            let fan_out = needle == "axum" && path.ends_with("signaling/mod.rs");
            !(edge(path) || fan_out)
        }));
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The server's SQL is in its store modules (`store.rs` of each service, `kt/storage.rs`,
/// the call history, the schema in `db.rs`): no statement runs and no SQL text is written
/// anywhere else. Services keep the rules and call the stores, so
/// another database (the PostgreSQL issue) replaces the stores and nothing else. Unit tests
/// may set up rows themselves.
#[test]
fn server_sql_lives_in_store_modules() {
    let src = root().join("rendezvous/src");
    let store = |rel: &str| {
        rel.ends_with("store.rs")
            || ["kt/storage.rs", "signaling/history.rs", "db.rs"].contains(&rel)
            || rel.ends_with("tests.rs")
            || rel == "testing.rs"
    };
    let mut found = Vec::new();
    for p in rust_files(&src) {
        let rel = p
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .to_string();
        if store(&rel) {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("source");
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        for (i, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or("");
            let sql = [
                ".execute(",
                ".query_row(",
                ".prepare(",
                ".execute_batch(",
                "\"SELECT ",
                "\"INSERT INTO",
                "\"UPDATE ",
                "\"DELETE FROM",
            ];
            if sql.iter().any(|s| line.contains(s)) {
                found.push(format!("{rel}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "move these statements into the module's store:\n{}",
        found.join("\n")
    );
}

/// Every Rust file under `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

const CRATES: [&str; 6] = ["shared", "engine", "client", "rendezvous", "tests", "xtask"];

/// No file grows past 800 lines (code and tests alike): a file that large holds more than one
/// concern and is split by concern.
#[test]
fn no_source_file_is_over_800_lines() {
    let mut long = Vec::new();
    for krate in CRATES {
        for f in rust_files(&root().join(krate)) {
            let n = std::fs::read_to_string(&f).expect("source").lines().count();
            if n > 800 {
                long.push(format!("{}: {n} lines", f.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "split these by concern:\n{}",
        long.join("\n")
    );
}

/// Which of a crate's top-level modules import which (`crate::name` outside comments).
fn module_graph(src: &Path) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let top = |f: &Path| {
        let rel = f.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("a component");
        first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string()
    };
    let files = rust_files(src);
    let modules: std::collections::BTreeSet<String> = files
        .iter()
        .map(|f| top(f))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut graph: BTreeMap<String, std::collections::BTreeSet<String>> = modules
        .iter()
        .map(|m| (m.clone(), Default::default()))
        .collect();
    for f in &files {
        let from = top(f);
        let Some(edges) = graph.get_mut(&from) else {
            continue;
        };
        let text = std::fs::read_to_string(f).expect("source");
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if name != from && modules.contains(&name) {
                    edges.insert(name);
                }
            }
        }
    }
    graph
}

/// The groups of modules that import each other in a circle (Tarjan's strongly connected
/// components with more than one module).
fn cycles(graph: &BTreeMap<String, std::collections::BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<String, std::collections::BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in &self.graph[v] {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.stack.contains(&w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    group.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.out.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.out
}

/// Modules depend one way inside a crate: none imports another that imports it back, directly
/// or around a circle.
#[test]
fn modules_do_not_import_each_other_in_a_circle() {
    for krate in [
        "shared/src",
        "engine/src",
        "client/src",
        "rendezvous/src",
        "xtask/src",
    ] {
        let found = cycles(&module_graph(&root().join(krate)));
        assert!(found.is_empty(), "{krate}: modules in a circle: {found:?}");
    }
}
