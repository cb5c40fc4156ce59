//! Delta outputs on a real Sail server (it writes Delta natively): overwrite, append,
//! partitions, `replace_where`, `merge` upserts, re-run idempotence, table properties, schema
//! merge, and reading back with version travel.
//!
//! The server is `TAURO_SAIL_REMOTE` (scripts/test.sh starts one). Without it the tests skip,
//! unless `TAURO_REQUIRE_SAIL=1`, in which case they fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;

use serde_json::{Value, json};
use tauro_config::{Context, EngineKind, Sources};
use tauro_io::{EngineOptions, InputLoader, OutputManager, Session, SparkEngine};

async fn session() -> Option<Session> {
    let remote = match std::env::var("TAURO_SAIL_REMOTE") {
        Ok(r) if !r.trim().is_empty() => r,
        _ => {
            if std::env::var("TAURO_REQUIRE_SAIL").as_deref() == Ok("1") {
                panic!("TAURO_REQUIRE_SAIL=1 but TAURO_SAIL_REMOTE is not set");
            }
            eprintln!(
                "skipping: set TAURO_SAIL_REMOTE=sc://host:port (scripts/sail-local.sh start)"
            );
            return None;
        }
    };
    let options = EngineOptions {
        engine: EngineKind::Sail,
        ..EngineOptions::default()
    };
    let engine = SparkEngine::connect(&remote, options)
        .await
        .unwrap_or_else(|e| panic!("Sail at {remote}: {e}"));
    Some(engine.new_session().await.unwrap())
}

/// A project whose outputs and inputs are the given documents (paths under `dir`).
fn project(dir: &Path, inputs: Value, outputs: Value) -> Context {
    let mut sources = Sources::new(
        json!({"input_path": dir.display().to_string(), "output_path": dir.display().to_string()}),
        json!({"p": {"nodes": ["n"], "requires_dates": false}}),
        json!({"n": {"sql": "SELECT 1", "output": []}}),
        inputs,
        outputs,
    );
    sources.project_dir = dir.to_path_buf();
    Context::from_sources(sources, "base").unwrap()
}

async fn write(ctx: &Context, session: &Session, output: &str, rows: &str) -> Option<u64> {
    let frame = session
        .sql(&format!("SELECT * FROM VALUES {rows} AS t(id, name, day)"))
        .await
        .unwrap();
    OutputManager::new(ctx, session)
        .write(output, &frame, None)
        .await
        .unwrap_or_else(|e| panic!("write {output}: {e:?}"))
        .rows
}

/// The rows of `sql`, as `id:name:day` strings in id order.
async fn rows(session: &Session, sql: &str) -> Vec<String> {
    let rows = session
        .sql(&format!("SELECT * FROM ({sql}) ORDER BY id"))
        .await
        .unwrap()
        .collect_json(1000)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
    rows.iter()
        .map(|r| {
            let field = |k: &str| match &r[k] {
                Value::String(s) => s.clone(),
                Value::Null => "null".into(),
                other => other.to_string(),
            };
            format!("{}:{}:{}", field("id"), field("name"), field("day"))
        })
        .collect()
}

fn table(path: &Path) -> String {
    format!("SELECT * FROM delta.`{}`", path.display())
}

/// Versions in the Delta log.
fn versions(path: &Path) -> usize {
    std::fs::read_dir(path.join("_delta_log"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count()
}

const A: &str = "(1, 'a', '2025-01-01'), (2, 'b', '2025-01-01'), (3, 'c', '2025-01-02')";
const B: &str = "(4, 'd', '2025-01-02'), (5, 'e', '2025-01-03')";

#[tokio::test]
async fn overwrite_and_append_and_read_back_by_version() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t");
    let path = out.display().to_string();
    let ctx = project(
        dir.path(),
        json!({"v0": {"format": "delta", "filepath": path, "version": 0},
               "latest": {"format": "delta", "filepath": path}}),
        json!({"over": {"format": "delta", "filepath": path, "write_mode": "overwrite"},
               "add": {"format": "delta", "filepath": path, "write_mode": "append"}}),
    );
    assert_eq!(write(&ctx, &session, "over", A).await, Some(3));
    // Re-running the overwrite leaves the same rows (a new version of them).
    assert_eq!(write(&ctx, &session, "over", A).await, Some(3));
    assert_eq!(
        rows(&session, &table(&out)).await,
        ["1:a:2025-01-01", "2:b:2025-01-01", "3:c:2025-01-02"]
    );
    assert_eq!(write(&ctx, &session, "add", B).await, Some(2));
    assert_eq!(versions(&out), 3);
    let loader = InputLoader::new(&ctx, &session);
    let latest = loader.load("latest", None).await.unwrap();
    assert_eq!(latest.count().await.unwrap(), 5);
    // `version: 0` on the input reads the first commit.
    let v0 = loader.load("v0", None).await.unwrap();
    v0.create_temp_view("v0").await.unwrap();
    assert_eq!(
        rows(&session, "SELECT * FROM v0").await,
        ["1:a:2025-01-01", "2:b:2025-01-01", "3:c:2025-01-02"]
    );
}

#[tokio::test]
async fn partitioned_output_and_replace_where() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("p");
    let path = out.display().to_string();
    let ctx = project(
        dir.path(),
        json!({}),
        json!({"daily": {"format": "delta", "filepath": path, "partition_by": ["day"], "write_mode": "overwrite"},
               "day2": {"format": "delta", "filepath": path, "partition_by": ["day"], "write_mode": "overwrite",
                        "replace_where": "day = '2025-01-02'"}}),
    );
    write(&ctx, &session, "daily", A).await;
    assert!(out.join("day=2025-01-01").is_dir() && out.join("day=2025-01-02").is_dir());
    // Only the rows of 2025-01-02 are replaced.
    write(
        &ctx,
        &session,
        "day2",
        "(3, 'C', '2025-01-02'), (6, 'f', '2025-01-02')",
    )
    .await;
    assert_eq!(
        rows(&session, &table(&out)).await,
        [
            "1:a:2025-01-01",
            "2:b:2025-01-01",
            "3:C:2025-01-02",
            "6:f:2025-01-02"
        ]
    );
}

#[tokio::test]
async fn merge_upserts_on_keys_and_reruns_idempotently() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m");
    let path = out.display().to_string();
    let ctx = project(
        dir.path(),
        json!({}),
        json!({"customers": {"format": "delta", "filepath": path, "write_mode": "merge", "merge_keys": ["id"],
                             "table_properties": {"owner": "sales", "delta.appendOnly": "false"}}}),
    );
    // The first merge creates the table.
    assert_eq!(write(&ctx, &session, "customers", A).await, Some(3));
    let upsert = "(2, 'B', '2025-01-05'), (4, 'd', '2025-01-05')";
    assert_eq!(write(&ctx, &session, "customers", upsert).await, Some(2));
    let expected = [
        "1:a:2025-01-01",
        "2:B:2025-01-05",
        "3:c:2025-01-02",
        "4:d:2025-01-05",
    ];
    assert_eq!(rows(&session, &table(&out)).await, expected);
    // The same upsert again changes nothing.
    write(&ctx, &session, "customers", upsert).await;
    assert_eq!(rows(&session, &table(&out)).await, expected);
    // The first version is still readable.
    assert_eq!(
        rows(&session, &format!("{} VERSION AS OF 0", table(&out))).await,
        ["1:a:2025-01-01", "2:b:2025-01-01", "3:c:2025-01-02"]
    );
    // Table properties are in the log's latest metadata.
    let mut logs: Vec<_> = std::fs::read_dir(out.join("_delta_log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    logs.sort();
    let metadata: Vec<Value> = logs
        .iter()
        .flat_map(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
        .filter_map(|v| v.get("metaData").cloned())
        .collect();
    let config = &metadata.last().expect("a metaData action")["configuration"];
    assert_eq!(config["owner"], "sales", "{metadata:#?}");
}

#[tokio::test]
async fn maintenance_is_refused_on_sail_with_a_clear_error() {
    let Some(session) = session().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x").display().to_string();
    let ctx = project(
        dir.path(),
        json!({}),
        json!({"x": {"format": "delta", "filepath": path}}),
    );
    let err = tauro_io::delta::maintain(
        &session,
        &ctx.outputs["x"],
        &tauro_io::delta::Maintenance::History,
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("engine `sail` cannot run this: Delta history"),
        "{err}"
    );
}
