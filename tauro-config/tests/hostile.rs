//! Malformed and hostile configurations: each gives a clean error (message and `file:line`)
//! in bounded time — no panic, no stack overflow, no exponential expansion.
//!
//! The corpus is in `tests/hostile/` (it also seeds the `config_loader` fuzz target, see
//! `scripts/fuzz.sh`); inputs too large to keep in the repository are generated here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::Project;
use tauro_config::{Context, DateWindow, Error, NodeCompute, Source, Sources, parse_date};

/// Time any single load may take (debug build, busy machine); a hang fails the test.
const LIMIT: Duration = Duration::from_secs(30);

/// A corpus file as bytes.
macro_rules! corpus {
    ($name:literal) => {
        include_bytes!(concat!("hostile/", $name)).as_slice()
    };
}

/// A corpus file as text.
macro_rules! corpus_text {
    ($name:literal) => {
        include_str!(concat!("hostile/", $name))
    };
}

/// Runs `f` on its own thread and fails the test if it takes longer than [`LIMIT`].
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after {LIMIT:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            panic!("{what}: panicked after {:?}", started.elapsed())
        }
    }
}

/// The diagnostics of loading `p` (which must fail), within [`LIMIT`].
fn errors(p: Project) -> Vec<String> {
    let p = Arc::new(p);
    let q = Arc::clone(&p);
    within("load", move || q.errors())
}

fn one(p: Project) -> String {
    let errors = errors(p);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    errors.into_iter().next().unwrap()
}

/// Loads `p` (which must succeed) within [`LIMIT`].
fn load(p: Project) -> Context {
    let p = Arc::new(p);
    let q = Arc::clone(&p);
    within("load", move || q.load())
}

/// A project whose document `rel` is replaced by `bytes`.
fn with(rel: &str, bytes: &[u8]) -> Project {
    let p = Project::new();
    let path = p.path(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    p
}

/// In-memory documents (the valid defaults of [`Project::new`]) with document `slot`
/// (0 global settings … 4 output) replaced by `text`.
fn sources_with(slot: usize, text: &str) -> Sources {
    let mut docs = [
        "input_path: /data\n".to_owned(),
        "p:\n  nodes: [n]\n".to_owned(),
        "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT * FROM raw\n".to_owned(),
        "raw:\n  format: csv\n  filepath: raw.csv\n".to_owned(),
        "clean:\n  format: parquet\n  filepath: clean\n".to_owned(),
    ];
    docs[slot] = text.to_owned();
    let [g, p, n, i, o] = docs.map(Source::Text);
    Sources::new(g, p, n, i, o).with_vars(HashMap::new())
}

/// Builds `sources` within [`LIMIT`]; the error's diagnostics as `file:line: message`.
fn memory_errors(sources: Sources) -> Vec<String> {
    match within("from_sources", move || {
        Context::from_sources(sources, "base")
    }) {
        Ok(_) => panic!("expected the load to fail"),
        Err(err) => err.diagnostics().iter().map(ToString::to_string).collect(),
    }
}

const SLOTS: [&str; 5] = ["global_settings", "pipelines", "nodes", "input", "output"];

const FILES: [&str; 5] = [
    "config/global_settings.yaml",
    "config/pipelines.yaml",
    "config/nodes.yaml",
    "config/input.yaml",
    "config/output.yaml",
];

#[test]
fn alias_bomb_is_capped() {
    // serde-saphyr replays aliases; the loader caps the replayed events (200,000) instead of
    // building 10^10 items.
    let msg = one(with(
        "config/global_settings.yaml",
        corpus!("alias_bomb.yaml"),
    ));
    assert!(
        msg.starts_with("config/global_settings.yaml:") && msg.contains(": invalid YAML: the document is too large, too deeply nested or expands too many aliases (alias replay limit exceeded"),
        "{msg}"
    );
    let errors = memory_errors(sources_with(0, corpus_text!("alias_bomb.yaml")));
    assert!(
        errors[0].starts_with("<memory:global_settings>:"),
        "{errors:?}"
    );
}

#[test]
fn merge_key_bomb_is_capped() {
    let msg = one(with(
        "config/global_settings.yaml",
        corpus!("merge_bomb.yaml"),
    ));
    assert!(
        msg.starts_with("config/global_settings.yaml:")
            && msg.contains("invalid YAML: the document is too large"),
        "{msg}"
    );
}

#[test]
fn recursive_and_unknown_aliases() {
    assert_eq!(
        one(with(
            "config/global_settings.yaml",
            corpus!("recursive_alias.yaml")
        )),
        "config/global_settings.yaml:3: invalid YAML: an alias refers to the anchor it is inside (recursive data)"
    );
    assert_eq!(
        one(with("config/nodes.yaml", corpus!("unknown_anchor.yaml"))),
        "config/nodes.yaml:5: invalid YAML: alias references unknown anchor"
    );
}

#[test]
fn deep_nesting_is_rejected_without_stack_overflow() {
    for (name, bytes, line) in [
        ("flow lists", corpus!("deep_flow_list.yaml"), 2),
        ("flow maps", corpus!("deep_flow_map.yaml"), 2),
        ("block maps", corpus!("deep_block.yaml"), 34),
    ] {
        let msg = one(with("config/nodes.yaml", bytes));
        assert!(
            msg.starts_with(&format!("config/nodes.yaml:{line}: invalid YAML: ")),
            "{name}: {msg}"
        );
    }
    // 100,000 levels in each of the five documents, in memory.
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    for (slot, label) in SLOTS.iter().enumerate() {
        let errors = memory_errors(sources_with(slot, &deep));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with(&format!("<memory:{label}>:1: invalid YAML: ")),
            "{errors:?}"
        );
    }
}

#[test]
fn deep_json_is_rejected() {
    let p = Project::new();
    let settings = common::SETTINGS.replace("config/nodes.yaml", "config/nodes.json");
    p.write("settings_yml.json", &settings);
    std::fs::write(p.path("config/nodes.json"), corpus!("deep.json")).unwrap();
    assert_eq!(
        one(p),
        "config/nodes.json:1: invalid JSON: recursion limit exceeded"
    );
    // The settings file itself.
    let p = Project::new();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    p.write("settings_yml.json", &deep);
    assert_eq!(
        one(p),
        "settings_yml.json:1: invalid JSON: recursion limit exceeded"
    );
}

#[test]
fn documents_over_the_size_limit() {
    let huge = format!("a: '{}'\n", "x".repeat(tauro_config::MAX_DOCUMENT_BYTES));
    // The settings file names the document at line 7.
    assert_eq!(
        one(with("config/nodes.yaml", huge.as_bytes())),
        "settings_yml.json:7: config/nodes.yaml is larger than the 16 MiB limit for a configuration document"
    );
    assert_eq!(
        memory_errors(sources_with(2, &huge)),
        vec![
            "<memory:nodes>: the document is larger than the 16 MiB limit for a configuration document"
        ]
    );
    let p = Project::new();
    p.write("sql/huge.sql", &huge).write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql_file: sql/huge.sql\n",
    );
    assert_eq!(
        one(p),
        "config/nodes.yaml:4: node 'n': `sql_file`: sql/huge.sql is larger than the 16 MiB limit for a configuration document"
    );
}

#[cfg(unix)]
#[test]
fn special_files_as_documents() {
    // An endless device is read up to the limit, not forever.
    let p = Project::new();
    p.write(
        "settings_yml.json",
        &common::SETTINGS.replace("config/global_settings.yaml", "/dev/zero"),
    );
    assert_eq!(
        one(p),
        "settings_yml.json:5: /dev/zero is larger than the 16 MiB limit for a configuration document"
    );
    let p = Project::new();
    p.write(
        "settings_yml.json",
        &common::SETTINGS.replace("config/global_settings.yaml", "config"),
    );
    assert_eq!(
        one(p),
        "settings_yml.json:5: config is a directory, not a file"
    );
    // Opening a named pipe would wait for a writer forever.
    let p = Project::new();
    let fifo = p.path("config/nodes.yaml");
    std::fs::remove_file(&fifo).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        assert_eq!(
            one(p),
            "settings_yml.json:7: config/nodes.yaml is a pipe or socket, not a file"
        );
    }
}

#[test]
fn sql_with_quotes_comments_and_semicolons_is_kept_verbatim() {
    let expected = "-- totals; per \"region\" (it's a comment)\n\
        SELECT 'O''Brien' AS name, \"quoted id\", `back tick`, '--not a comment', '/* nor this */'\n\
        /* block comment; with 'quotes' and ; */\n\
        FROM raw WHERE note <> ';' AND price > $5 AND d >= :start_date; -- trailing\n";
    let ctx = load(with("config/nodes.yaml", corpus!("sql_text.yaml")));
    let NodeCompute::Sql { text, .. } = &ctx.nodes["n"].compute else {
        panic!("not SQL")
    };
    assert_eq!(text, expected);
    // The same text from a file.
    let p = Project::new();
    p.write("sql/n.sql", expected).write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql_file: sql/n.sql\n",
    );
    let ctx = load(p);
    let NodeCompute::Sql { text, .. } = &ctx.nodes["n"].compute else {
        panic!("not SQL")
    };
    assert_eq!(text, expected);
}

#[test]
fn impossible_dates_in_global_settings() {
    assert_eq!(
        errors(with(
            "config/global_settings.yaml",
            corpus!("bad_dates.yaml")
        )),
        vec![
            "config/global_settings.yaml:3: global settings: `start_date` must be a date YYYY-MM-DD, found '2025-02-30'",
            "config/global_settings.yaml:4: global settings: `end_date` must be a date YYYY-MM-DD, found '2025-13-01'",
        ]
    );
    assert_eq!(
        one(with(
            "config/global_settings.yaml",
            corpus!("reversed_dates.yaml")
        )),
        "config/global_settings.yaml:4: global settings: `end_date` 2025-02-01 is before `start_date` 2025-03-01"
    );
}

#[test]
fn impossible_dates_on_the_command_line() {
    // `--start` / `--end` go through `parse_date`.
    for bad in [
        "2025-02-30",
        "2025-13-01",
        "2025-00-10",
        "2025-01-32",
        "2025-1-1",
        "2025-01-01'; DROP TABLE x; --",
        "2025-01-01 ",
        "2025-01-0\0",
        "２０２５-01-01",
        "+2025-01-01",
        "99999-01-01",
        "",
    ] {
        let err = parse_date(bad).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("invalid date '{bad}': expected YYYY-MM-DD"),
        );
    }
    let (march, feb) = (
        parse_date("2025-03-01").unwrap(),
        parse_date("2025-02-01").unwrap(),
    );
    let err = DateWindow::new(march, feb).unwrap_err();
    assert_eq!(
        err.to_string(),
        "end date 2025-02-01 is before start date 2025-03-01"
    );
    let ctx = load(Project::new());
    assert!(matches!(
        ctx.window_for(Some(march), Some(feb)),
        Err(Error::InvalidWindow { .. })
    ));
}

#[test]
fn sql_in_a_date_setting_is_rejected() {
    assert_eq!(
        one(with(
            "config/global_settings.yaml",
            corpus!("drop_dates.yaml")
        )),
        "config/global_settings.yaml:3: global settings: `start_date` must be a date YYYY-MM-DD, found '2025-01-01'; DROP TABLE x; --'"
    );
}

/// Where parameters meet SQL:
/// - run dates are typed (`parse_date`) and bound by tauro-exec as named `DATE` parameters
///   (`:start_date`), never spliced;
/// - node `params` and `hyperparams` are values (JSON), never SQL text;
/// - `${tauro.ml.…}` is left as written (Spark substitutes the session conf at run time);
/// - `${NAME}` is configuration templating: the value of an environment variable or global
///   setting (as trusted as the file itself) is spliced into the text as is.
#[test]
fn sql_in_parameters_stays_a_value() {
    let drop = "eu'; DROP TABLE x; --";
    let mut p = with("config/nodes.yaml", corpus!("drop_params.yaml"));
    p.var("REGION", drop);
    let ctx = load(p);
    let node = &ctx.nodes["n"];
    assert_eq!(node.params["table"], "x'; DROP TABLE x; --");
    assert_eq!(
        node.params["nested"],
        serde_json::json!({"where": "1=1; DROP TABLE y"})
    );
    assert_eq!(node.hyperparams["note"], "'; DROP TABLE x; --");
    let NodeCompute::Sql { text, .. } = &node.compute else {
        panic!("not SQL")
    };
    assert_eq!(
        text,
        &format!("SELECT * FROM raw WHERE region = '{drop}' AND note = '${{tauro.ml.note}}'")
    );
}

#[test]
fn nul_bytes() {
    assert_eq!(
        one(with("config/nodes.yaml", corpus!("nul_byte.yaml"))),
        "config/nodes.yaml:5: invalid YAML: unexpected character: `\\u{0}'"
    );
    let p = Project::new();
    p.write("settings_yml.json", "{\"base_path\": \"\0\"}");
    let msg = one(p);
    assert!(
        msg.starts_with("settings_yml.json:1: invalid JSON: control character"),
        "{msg}"
    );
}

#[test]
fn non_utf8_bytes() {
    assert_eq!(
        one(with("config/nodes.yaml", corpus!("non_utf8.yaml"))),
        "settings_yml.json:7: config/nodes.yaml is not valid UTF-8 text"
    );
    let p = with("sql/n.sql", corpus!("non_utf8.yaml"));
    p.write(
        "config/nodes.yaml",
        "n:\n  input: [raw]\n  output: [clean]\n  sql_file: sql/n.sql\n",
    );
    assert_eq!(
        one(p),
        "config/nodes.yaml:4: node 'n': `sql_file`: sql/n.sql is not valid UTF-8 text"
    );
}

#[test]
fn documents_that_are_not_mappings() {
    let what = [
        "the global settings document must be a mapping of settings",
        "the pipelines document must be a mapping of names to settings",
        "the nodes document must be a mapping of names to settings",
        "the input document must be a mapping of names to settings",
        "the output document must be a mapping of names to settings",
    ];
    for (slot, file) in FILES.iter().enumerate() {
        for (bytes, found) in [
            (corpus!("scalar.yaml"), "a string"),
            (corpus!("list.yaml"), "a list"),
        ] {
            let expected = format!("{file}:2: {}, found {found}", what[slot]);
            let found = errors(with(file, bytes));
            assert!(found.contains(&expected), "{expected}\n{found:#?}");
        }
    }
    let p = Project::new();
    p.write("settings_yml.json", "[1, 2]\n");
    let msg = one(p);
    assert!(msg.starts_with("settings_yml.json:1: "), "{msg}");
}

#[test]
fn duplicate_keys() {
    assert_eq!(
        one(with("config/nodes.yaml", corpus!("duplicate_keys.yaml"))),
        "config/nodes.yaml:6: invalid YAML: duplicate key 'sql' (a key may appear once in a mapping)"
    );
    assert_eq!(
        one(with("config/nodes.yaml", corpus!("duplicate_nodes.yaml"))),
        "config/nodes.yaml:6: invalid YAML: duplicate key 'n' (a key may appear once in a mapping)"
    );
    // JSON documents too (serde_json alone would keep the last value).
    let p = Project::new();
    let settings = common::SETTINGS.replace("config/nodes.yaml", "config/nodes.json");
    p.write("settings_yml.json", &settings);
    std::fs::write(p.path("config/nodes.json"), corpus!("duplicate_keys.json")).unwrap();
    assert_eq!(
        one(p),
        "config/nodes.json:6: invalid YAML: duplicate key 'sql' (a key may appear once in a mapping)"
    );
}

#[test]
fn several_yaml_documents_in_one_file() {
    assert_eq!(
        one(with(
            "config/global_settings.yaml",
            corpus!("multi_document.yaml")
        )),
        "config/global_settings.yaml:4: invalid YAML: a second YAML document (`---`) in the file; a configuration file holds one"
    );
}

#[test]
fn tags_never_read_files() {
    let p = with("config/global_settings.yaml", corpus!("include_tag.yaml"));
    let root = p.root().display().to_string();
    let ctx = load(p);
    assert_eq!(ctx.global.input_path, "/etc/passwd");
    assert_eq!(ctx.global.output_path, format!("{root}/out"));
}

#[test]
fn interpolation_cycles() {
    assert_eq!(
        errors(with(
            "config/global_settings.yaml",
            corpus!("interp_cycle.yaml")
        )),
        vec![
            "config/global_settings.yaml:4: settings reference each other in a cycle: a -> b -> a",
            "config/global_settings.yaml:5: settings reference each other in a cycle: self -> self",
        ]
    );
}

#[test]
fn interpolation_bomb_is_capped() {
    // s21 would be 32 MiB (s40 16 TiB): the first string over the limit fails, the rest
    // fail with it silently.
    assert_eq!(
        one(with(
            "config/global_settings.yaml",
            corpus!("interp_bomb.yaml")
        )),
        "config/global_settings.yaml:24: this text grows beyond the 16 MiB limit when its `${…}` references are expanded"
    );
}

#[test]
fn huge_variables() {
    let node = "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT '${HUGE}'\n";
    let mut p = Project::new();
    p.var("HUGE", &"x".repeat(17 << 20));
    p.write("config/nodes.yaml", node);
    assert_eq!(
        one(p),
        "config/nodes.yaml:4: this text grows beyond the 16 MiB limit when its `${…}` references are expanded"
    );
    // 1 MiB used 100 times: over the 64 MiB total.
    let mut p = Project::new();
    p.var("HUGE", &"x".repeat(1 << 20));
    let mut nodes =
        String::from("n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT 1\n  params:\n");
    for i in 0..100 {
        nodes.push_str(&format!("    p{i}: '${{HUGE}}'\n"));
    }
    p.write("config/nodes.yaml", &nodes);
    assert_eq!(
        one(p),
        "config/nodes.yaml:69: `${…}` references expand to more than 64 MiB of text in total"
    );
    // Unused, it is harmless.
    let mut p = Project::new();
    p.var("HUGE", &"x".repeat(17 << 20));
    load(p);
}

#[test]
fn dependency_cycles_load_for_the_executor_to_reject() {
    // The configuration layer keeps dependencies as written; tauro-exec's resolver orders
    // a pipeline's nodes and reports "dependency cycle in pipeline 'p': a -> c -> b -> a".
    let p = with("config/nodes.yaml", corpus!("dependency_cycle.yaml"));
    p.write("config/pipelines.yaml", "p:\n  nodes: [a, b, c]\n");
    let ctx = load(p);
    assert_eq!(ctx.nodes["a"].dependencies, vec!["c"]);
    assert_eq!(ctx.nodes["b"].dependencies, vec!["a"]);
}

#[test]
fn ten_thousand_nodes_load_in_reasonable_time() {
    let p = Project::new();
    let (mut nodes, mut outputs, mut list) = (String::new(), String::new(), String::new());
    for i in 0..10_000 {
        let input = if i == 0 {
            "raw".to_owned()
        } else {
            format!("out_{}", i - 1)
        };
        nodes.push_str(&format!(
            "node_{i}:\n  input: [{input}]\n  output: [out_{i}]\n  sql: SELECT * FROM {input}\n"
        ));
        outputs.push_str(&format!(
            "out_{i}:\n  format: parquet\n  filepath: out_{i}\n"
        ));
        list.push_str(&format!("    - node_{i}\n"));
    }
    p.write("config/nodes.yaml", &nodes)
        .write("config/output.yaml", &outputs)
        .write("config/pipelines.yaml", &format!("p:\n  nodes:\n{list}"));
    let started = Instant::now();
    let ctx = load(p);
    eprintln!("10,000 nodes loaded in {:?}", started.elapsed());
    assert_eq!(ctx.pipeline("p").unwrap().nodes.len(), 10_000);
}

#[test]
fn many_misspelt_and_huge_names_stay_fast() {
    // "Did you mean" compares names pairwise: 3,000 misses among 3,000 nodes, and
    // 100,000-character names, must not take minutes.
    let p = Project::new();
    let (mut nodes, mut list) = (String::new(), String::from("p:\n  nodes:\n"));
    for i in 0..3_000 {
        nodes.push_str(&format!(
            "node_{i:05}:\n  input: [raw]\n  output: [clean]\n  sql: SELECT 1\n"
        ));
        list.push_str(&format!("    - nade_{i:05}\n"));
    }
    p.write("config/nodes.yaml", &nodes)
        .write("config/pipelines.yaml", &list);
    let misses = errors(p);
    assert_eq!(misses.len(), 3_000);
    assert!(
        misses[0].ends_with("names node 'nade_00000', which is not defined in the nodes document; did you mean 'node_00000'?"),
        "{}",
        misses[0]
    );

    let long = "a".repeat(100_000);
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        &format!("? {long}b\n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT 1\n"),
    )
    .write(
        "config/pipelines.yaml",
        &format!("p:\n  nodes: [{long}c]\n"),
    );
    let msg = one(p);
    assert!(
        msg.ends_with("c', which is not defined in the nodes document"),
        "{}",
        &msg[msg.len() - 80..]
    );

    // 100,000 distinct unknown dependencies of one node.
    let deps: Vec<String> = (0..100_000).map(|i| format!("d{i}")).collect();
    let p = Project::new();
    p.write(
        "config/nodes.yaml",
        &format!(
            "n:\n  input: [raw]\n  output: [clean]\n  sql: SELECT 1\n  dependencies: [{}]\n",
            deps.join(", ")
        ),
    );
    assert_eq!(errors(p).len(), 100_000);
}

/// Every corpus file in every document, in memory: an error or a context, never a panic.
#[test]
fn every_corpus_file_in_every_document() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    for path in files {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        for (slot, label) in SLOTS.iter().enumerate() {
            let sources = sources_with(slot, &text);
            let what = format!("{} as {label}", path.display());
            let _ = within(&what, move || Context::from_sources(sources, "base"));
        }
    }
}
