//! Fuzzes the configuration loader: arbitrary bytes become a project's documents, and
//! loading must return (a context or an error) without panicking.
//!
//! Input layout: one mode byte, then documents separated by `0xFF` (a byte that never
//! occurs in UTF-8): global settings, pipelines, nodes, input, output, then up to five
//! overrides of the same documents for an environment `dev`. Invalid UTF-8 is replaced
//! (U+FFFD) in memory and written as is to files.
//!
//! Mode (first byte): even = YAML text in memory ([`Source::Text`]); odd = `.json` files
//! (the strict-JSON-then-YAML path) in a scratch directory: `$TAURO_FUZZ_DIR` (set by
//! `scripts/fuzz.sh`, which removes it) or a per-process directory under the temp dir.
#![no_main]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tauro_config::{Context, EnvSources, Source, Sources, parse_date};

const NAMES: [&str; 5] = ["global", "pipelines", "nodes", "input", "output"];

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base =
            std::env::var_os("TAURO_FUZZ_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
        let dir = base.join(format!("tauro-fuzz-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        dir
    })
}

/// Variables for `${…}`: fixed (the process environment is not read), one hostile.
fn vars() -> HashMap<String, String> {
    HashMap::from([
        ("REGION".to_owned(), "eu'; DROP TABLE x; --".to_owned()),
        ("EMPTY".to_owned(), String::new()),
        ("LONG".to_owned(), "x".repeat(4096)),
    ])
}

/// Document `i` of the input: text in memory, or a `.json` file in the scratch directory.
fn source(json_files: bool, i: usize, part: &[u8]) -> Source {
    if json_files {
        let name = format!("{}{}.json", NAMES[i % 5], if i < 5 { "" } else { "_dev" });
        let path = scratch().join(&name);
        if std::fs::write(&path, part).is_ok() {
            return Source::Path(PathBuf::from(name));
        }
    }
    Source::Text(String::from_utf8_lossy(part).into_owned())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let json_files = mode % 2 == 1;
    let parts: Vec<&[u8]> = rest.split(|&b| b == 0xFF).take(10).collect();
    let doc = |i: usize| source(json_files, i, parts.get(i).copied().unwrap_or(b""));
    let mut sources = Sources::new(doc(0), doc(1), doc(2), doc(3), doc(4))
        .with_project_dir(scratch().clone())
        .with_vars(vars());
    let env = if parts.len() > 5 {
        let over = |i: usize| parts.get(i).map(|_| doc(i));
        sources = sources.with_env(
            "dev",
            EnvSources {
                global_settings: over(5),
                pipelines: over(6),
                nodes: over(7),
                input: over(8),
                output: over(9),
            },
        );
        "dev"
    } else {
        "base"
    };
    for part in &parts {
        let _ = parse_date(&String::from_utf8_lossy(&part[..part.len().min(32)]));
    }
    if let Ok(ctx) = Context::from_sources(sources, env) {
        // What the executor and the CLI ask of a loaded context.
        let _ = ctx.window_for(None, None);
        let _ = ctx.redacted_json();
        for name in ctx.pipelines.keys() {
            let _ = ctx.pipeline_nodes(name);
        }
    }
});
