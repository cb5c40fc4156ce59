//! Data quality expectations on real Spark: each built-in's exact failing count, and what
//! `warn`, `drop` and `fail` write (a module of the `spark_runner` test binary).

use std::sync::Arc;

use serde_json::json;
use tauro_config::{Context, Sources};
use tauro_exec::{Executor, NodeRegistry, NodeSelection, NodeStatus, RunReport, SparkNodeRunner};
use tauro_io::SparkEngine;

use super::{count_parquet, engine};

const ROWS: &str = "SELECT * FROM VALUES (1, 'a', 10), (2, 'b', -5), (3, NULL, 20), (3, 'c', 30) \
                    AS t(id, name, amount)";

fn project(dir: &std::path::Path, expectations: serde_json::Value) -> Context {
    let mut sources = Sources::new(
        json!({"input_path": dir.display().to_string(), "output_path": dir.display().to_string()}),
        json!({"p": {"nodes": ["n"], "requires_dates": false}}),
        json!({"n": {"sql": ROWS, "output": ["out"], "expectations": expectations}}),
        json!({}),
        json!({"out": {"format": "parquet", "filepath": dir.join("out").display().to_string()}}),
    );
    sources.project_dir = dir.to_path_buf();
    Context::from_sources(sources, "base").unwrap()
}

async fn run(engine: &SparkEngine, ctx: Context) -> RunReport {
    run_window(engine, ctx, None).await
}

/// Runs pipeline `p` over the days `from..=to`.
async fn run_window(engine: &SparkEngine, ctx: Context, days: Option<(&str, &str)>) -> RunReport {
    let window = days.map(|(from, to)| tauro_config::DateWindow {
        start: super::date(from),
        end: super::date(to),
    });
    Executor::new(SparkNodeRunner::new(
        engine.clone(),
        NodeRegistry::with_builtins(),
    ))
    .run(Arc::new(ctx), "p", window, &NodeSelection::All)
    .await
    .unwrap()
}

fn failed_rows(report: &RunReport) -> Vec<(String, u64, String)> {
    report.nodes[0]
        .expectations
        .iter()
        .map(|e| (e.name.clone(), e.failed_rows, e.outcome.clone()))
        .collect()
}

#[tokio::test]
async fn every_builtin_counts_its_violations_and_warn_writes_everything() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(
        dir.path(),
        json!([
            {"name": "positive", "expect": "amount >= 0", "action": "warn"},
            {"name": "names", "not_null": ["name"], "action": "warn"},
            {"name": "known", "accepted_values": {"column": "name", "values": ["a", "b"]}, "action": "warn"},
            {"name": "amounts", "range": {"column": "amount", "min": 0, "max": 25}, "action": "warn"},
            {"name": "ids", "unique": ["id"], "action": "warn"},
            {"name": "enough", "row_count": {"min": 5}, "action": "warn"},
            {"name": "few", "row_count": {"max": 10}, "action": "warn"},
        ]),
    );
    let report = run(&engine, ctx).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        failed_rows(&report),
        [
            ("positive".to_string(), 1, "warned".to_string()),
            ("names".into(), 1, "warned".into()),
            ("known".into(), 1, "warned".into()),
            ("amounts".into(), 2, "warned".into()),
            ("ids".into(), 1, "warned".into()),
            ("enough".into(), 1, "warned".into()),
            ("few".into(), 0, "passed".into()),
        ]
    );
    assert!(
        report.nodes[0]
            .expectations
            .iter()
            .all(|e| e.total_rows == 4)
    );
    // The lineage record of the node carries them too.
    let lineage = report.nodes[0].lineage.as_ref().unwrap();
    assert_eq!(lineage.expectations, report.nodes[0].expectations);
    assert_eq!(count_parquet(&engine, &dir.path().join("out")).await, 4);
}

#[tokio::test]
async fn drop_writes_exactly_the_rows_that_pass() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(
        dir.path(),
        json!([
            {"name": "positive", "expect": "amount >= 0", "action": "drop"},
            {"name": "names", "not_null": ["name"], "action": "drop"},
            {"name": "ids", "unique": ["id"], "action": "drop"},
        ]),
    );
    let report = run(&engine, ctx).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        failed_rows(&report),
        [
            ("positive".to_string(), 1, "dropped".to_string()),
            ("names".into(), 1, "dropped".into()),
            // A table-level check cannot drop rows: it warns.
            ("ids".into(), 1, "warned".into()),
        ]
    );
    let session = engine.new_session().await.unwrap();
    let query = format!(
        "SELECT id FROM parquet.`{}` ORDER BY id",
        dir.path().join("out").display()
    );
    let ids = session
        .sql(&query)
        .await
        .unwrap()
        .collect_json(10)
        .await
        .unwrap();
    assert_eq!(ids, [json!({"id": 1}), json!({"id": 3})]);
    assert_eq!(report.nodes[0].rows_written, Some(2));
}

#[tokio::test]
async fn fail_leaves_the_previous_output_untouched() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let first = run(&engine, project(dir.path(), json!([]))).await;
    assert!(first.succeeded());
    let marker = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect::<std::collections::BTreeSet<_>>();
    let ctx = project(
        dir.path(),
        json!([{"name": "positive", "expect": "amount >= 0"}]),
    );
    let report = run(&engine, ctx).await;
    assert!(!report.succeeded());
    let node = &report.nodes[0];
    assert_eq!(node.status, NodeStatus::Failed);
    let error = node.error.as_ref().unwrap();
    assert_eq!(error.class, "EXPECTATIONS_FAILED");
    assert!(
        error.message.contains("positive (1 of 4 rows)"),
        "{}",
        error.message
    );
    let after = std::fs::read_dir(dir.path().join("out"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(marker, after, "the previous output's files are unchanged");
    assert_eq!(count_parquet(&engine, &dir.path().join("out")).await, 4);
}

#[tokio::test]
async fn input_expectations_and_freshness_against_the_run_window() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("raw.csv"),
        "id,amount,ts\n1,10,2025-01-06 08:00:00\n2,-5,2025-01-07 10:00:00\n3,7,2025-01-05 09:00:00\n",
    )
    .unwrap();
    let mut sources = Sources::new(
        json!({"input_path": dir.path().display().to_string(), "output_path": dir.path().display().to_string()}),
        json!({"p": {"nodes": ["n"]}}),
        json!({"n": {"input": ["raw"], "output": ["out"], "sql": "SELECT * FROM raw",
                     "expectations": [
                        {"name": "fresh_day", "freshness": {"column": "ts", "max_age": "2d"}},
                        {"name": "fresh_hour", "freshness": {"column": "ts", "max_age": "1h"}, "action": "warn"}]}}),
        json!({"raw": {"format": "csv", "filepath": "raw.csv",
                       "schema": "id INT, amount INT, ts TIMESTAMP",
                       "expectations": [{"name": "positive", "expect": "amount >= 0", "action": "drop"}]}}),
        json!({"out": {"format": "parquet", "filepath": dir.path().join("out").display().to_string()}}),
    );
    sources.project_dir = dir.path().to_path_buf();
    let ctx = Context::from_sources(sources, "base").unwrap();
    let report = run_window(&engine, ctx, Some(("2025-01-01", "2025-01-07"))).await;
    assert!(report.succeeded(), "{report:#?}");
    let results: Vec<(String, Option<String>, u64, String)> = report.nodes[0]
        .expectations
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                e.input.clone(),
                e.failed_rows,
                e.outcome.clone(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            (
                "positive".to_string(),
                Some("raw".to_string()),
                1,
                "dropped".to_string()
            ),
            // The newest kept row is 2025-01-06 08:00: within 2 days of the window's end,
            // not within an hour.
            ("fresh_day".into(), None, 0, "passed".into()),
            ("fresh_hour".into(), None, 1, "warned".into()),
        ]
    );
    assert_eq!(count_parquet(&engine, &dir.path().join("out")).await, 2);
}

#[tokio::test]
async fn referential_and_sql_assertions_in_the_same_query() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "id,customer,amount\n1,10,50\n2,11,500\n3,99,20\n4,,30\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("customers.csv"), "customer\n10\n11\n").unwrap();
    let csv =
        |file: &str, schema: &str| json!({"format": "csv", "filepath": file, "schema": schema});
    let mut sources = Sources::new(
        json!({"input_path": dir.path().display().to_string(), "output_path": dir.path().display().to_string()}),
        json!({"p": {"nodes": ["n"], "requires_dates": false}}),
        json!({"n": {"input": ["orders", "customers"], "output": ["out"], "sql": "SELECT * FROM orders",
                     "expectations": [
                        {"name": "known_customer", "referential": {"column": "customer", "to": "customers"}, "action": "warn"},
                        {"name": "no_big_orders", "sql": "SELECT * FROM __checked WHERE amount > 100", "action": "warn"}]}}),
        json!({"orders": csv("orders.csv", "id INT, customer INT, amount INT"),
               "customers": csv("customers.csv", "customer INT")}),
        json!({"out": {"format": "parquet", "filepath": dir.path().join("out").display().to_string()}}),
    );
    sources.project_dir = dir.path().to_path_buf();
    let report = run(&engine, Context::from_sources(sources, "base").unwrap()).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        failed_rows(&report),
        [
            // customer 99 is unknown; the NULL customer is not checked.
            ("known_customer".to_string(), 1, "warned".to_string()),
            ("no_big_orders".into(), 1, "warned".into()),
        ]
    );
}

#[tokio::test]
async fn expectations_are_analysed_on_the_server_without_running() {
    let Some(engine) = engine().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(
        dir.path(),
        json!([
            {"name": "good", "expect": "amount >= 0"},
            {"name": "typo", "expect": "amout >= 0"},
            {"name": "missing_column", "not_null": ["nme"]},
            {"name": "broken", "expect": "amount >>= 0"},
        ]),
    );
    let session = engine.new_session().await.unwrap();
    let node = &ctx.nodes["n"];
    let (problems, notes) = tauro_exec::analyze_expectations(&ctx, node, &session, None).await;
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].contains("'typo'") && problems[0].contains("UNRESOLVED_COLUMN"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains("'missing_column'") && problems[1].contains("nme"),
        "{problems:#?}"
    );
    assert!(problems[2].contains("'broken'"), "{problems:#?}");
    assert!(problems.iter().all(|p| !p.contains('\n')), "one line each");
    // Nothing ran: no output was written.
    assert!(!dir.path().join("out").exists());
}

/// The Spark UI's REST API of the test server (`TAURO_SPARK_UI=http://127.0.0.1:<port>`,
/// exported by scripts/test.sh, which starts the server with its UI on).
fn spark_ui() -> Option<String> {
    match std::env::var("TAURO_SPARK_UI") {
        Ok(u) if !u.trim().is_empty() => Some(u.trim().trim_end_matches('/').to_string()),
        _ => {
            if std::env::var("TAURO_REQUIRE_SPARK").as_deref() == Ok("1") {
                panic!(
                    "TAURO_REQUIRE_SPARK=1 but TAURO_SPARK_UI is not set: start the server with \
                     SC_UI_PORT=<port> scripts/spark-connect-local.sh start and set \
                     TAURO_SPARK_UI=http://127.0.0.1:<port> (scripts/test.sh does both)"
                );
            }
            eprintln!("skipping: set TAURO_SPARK_UI=http://host:port (the Spark UI of the server)");
            None
        }
    }
}

/// GET `url` (plain HTTP/1.0, so no chunked body) as JSON.
fn get_json(url: &str) -> serde_json::Value {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("{url}: {e}"));
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_default();
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{url}: {head}"
    );
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

/// The jobs of the server's application carrying the operation tag `tag` (job tags look like
/// `SparkConnect_SessionTag_User_…_Tag_<tag>`), once every one of them has finished.
fn jobs_tagged(ui: &str, tag: &str) -> Vec<serde_json::Value> {
    let apps = get_json(&format!("{ui}/api/v1/applications"));
    let app = apps[0]["id"]
        .as_str()
        .expect("an application id")
        .to_string();
    let suffix = format!("_Tag_{tag}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let jobs = get_json(&format!("{ui}/api/v1/applications/{app}/jobs"));
        let tagged: Vec<serde_json::Value> = jobs
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| {
                j["jobTags"].as_array().is_some_and(|tags| {
                    tags.iter()
                        .any(|t| t.as_str().is_some_and(|t| t.ends_with(&suffix)))
                })
            })
            .cloned()
            .collect();
        // The UI learns of jobs through an asynchronous listener: wait until it has seen the
        // check query's jobs finish.
        if !tagged.is_empty() && tagged.iter().all(|j| j["status"] != "RUNNING") {
            return tagged;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no finished job tagged {tag} in 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[tokio::test]
async fn ten_expectations_cost_at_most_two_spark_jobs() {
    let Some(engine) = engine().await else { return };
    let Some(ui) = spark_ui() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "id,customer,status,amount,ts\n1,10,new,50,2025-01-06 08:00:00\n2,11,shipped,500,2025-01-07 10:00:00\n\
         3,99,lost,20,2025-01-05 09:00:00\n3,,new,-30,2025-01-07 11:00:00\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("customers.csv"), "customer\n10\n11\n").unwrap();
    let csv =
        |file: &str, schema: &str| json!({"format": "csv", "filepath": file, "schema": schema});
    // A node name no earlier run on this server used, so its tag picks out this run's jobs.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let node = format!("ten_checks_{}_{nanos}", std::process::id());
    let mut sources = Sources::new(
        json!({"input_path": dir.path().display().to_string(), "output_path": dir.path().display().to_string()}),
        json!({"p": {"nodes": [node], "requires_dates": false}}),
        json!({node.clone(): {"input": ["orders", "customers"], "output": ["out"], "sql": "SELECT * FROM orders",
                     "expectations": [
                        {"name": "positive", "expect": "amount >= 0", "action": "warn"},
                        {"name": "small", "expect": "amount < 1000", "action": "warn"},
                        {"name": "keys", "not_null": ["id", "customer"], "action": "warn"},
                        {"name": "status", "accepted_values": {"column": "status", "values": ["new", "shipped"]}, "action": "warn"},
                        {"name": "amounts", "range": {"column": "amount", "min": 0, "max": 100}, "action": "warn"},
                        {"name": "ids", "unique": ["id"], "action": "warn"},
                        {"name": "enough", "row_count": {"min": 1, "max": 100}, "action": "warn"},
                        {"name": "fresh", "freshness": {"column": "ts", "max_age": "1d"}, "action": "warn"},
                        {"name": "known_customer", "referential": {"column": "customer", "to": "customers"}, "action": "warn"},
                        {"name": "no_big_orders", "sql": "SELECT * FROM __checked WHERE amount > 100", "action": "warn"}]}}),
        json!({"orders": csv("orders.csv", "id INT, customer INT, status STRING, amount INT, ts TIMESTAMP"),
               "customers": csv("customers.csv", "customer INT")}),
        json!({"out": {"format": "parquet", "filepath": dir.path().join("out").display().to_string()}}),
    );
    sources.project_dir = dir.path().to_path_buf();
    let ctx = Context::from_sources(sources, "base").unwrap();
    let report = run_window(&engine, ctx, Some(("2025-01-07", "2025-01-07"))).await;
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(
        failed_rows(&report)
            .iter()
            .map(|(n, f, _)| (n.as_str(), *f))
            .collect::<Vec<_>>(),
        [
            ("positive", 1),
            ("small", 0),
            ("keys", 1),
            ("status", 1),
            ("amounts", 2),
            ("ids", 1),
            ("enough", 0),
            ("fresh", 0),
            ("known_customer", 1),
            ("no_big_orders", 1),
        ]
    );
    assert_eq!(count_parquet(&engine, &dir.path().join("out")).await, 4);

    let tag = tauro_exec::expectation_job_tag(&node, None);
    let jobs = jobs_tagged(&ui, &tag);
    let ids: Vec<i64> = jobs.iter().filter_map(|j| j["jobId"].as_i64()).collect();
    eprintln!(
        "the ten expectations of {node} ran {} Spark job(s): {ids:?}",
        jobs.len()
    );
    assert!(
        (1..=2).contains(&jobs.len()),
        "ten expectations ran {} Spark jobs (tag {tag}): {jobs:#?}",
        jobs.len()
    );
}
