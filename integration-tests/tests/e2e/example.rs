//! The daily_etl example through the real binary on the real Spark server.

use std::path::Path;

use chrono::{DateTime, Utc};
use integration_tests::{copy_dir, spark_remote, tauro, workspace_root};
use serde_json::Value;

/// Runs the example on a private copy of it (kept beside the outputs, so its `.tauro/`
/// state belongs to this test) with outputs under `out`.
fn exec(remote: &str, out: &Path, start: &str, end: &str) -> Value {
    let project = out.join("project");
    if !project.exists() {
        copy_dir(&workspace_root().join("examples/daily_etl"), &project);
    }
    let project = project.display().to_string();
    let run = tauro(
        &[
            "--output",
            "json",
            "exec",
            "--project",
            &project,
            "--pipeline",
            "daily_etl",
            "--start",
            start,
            "--end",
            end,
            "--remote",
            remote,
            "--full",
        ],
        &[("DAILY_ETL_OUTPUT", &out.display().to_string())],
    );
    assert_eq!(run.code, 0, "exec failed:\n{}\n{}", run.stdout, run.stderr);
    run.json()
}

fn rows(remote: &str, format: &str, path: &Path) -> u64 {
    integration_tests::spark_rows(remote, format, path)
}

fn node<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("node {name} missing from {report}"))
}

fn interval(n: &Value) -> (f64, f64) {
    let start: DateTime<Utc> = n["started_at"].as_str().unwrap().parse().unwrap();
    let start = start.timestamp_millis() as f64 / 1000.0;
    (start, start + n["duration_secs"].as_f64().unwrap())
}

#[test]
fn daily_etl_runs_end_to_end_and_reruns_idempotently() {
    let Some(remote) = spark_remote() else { return };
    let out = tempfile::tempdir().unwrap();

    let first = exec(&remote, out.path(), "2025-01-01", "2025-01-07");
    assert_eq!(first["status"], "succeeded", "{first}");
    let nodes = first["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 8);
    assert!(nodes.iter().all(|n| n["status"] == "completed"), "{first}");
    let revenue = out.path().join("gold/daily_revenue");
    let lines = out.path().join("silver/order_lines");
    let revenue_rows = rows(&remote, "parquet", &revenue);
    let line_rows = rows(&remote, "parquet", &lines);
    assert!(revenue_rows > 0 && line_rows > 0);
    assert_eq!(
        node(&first, "daily_revenue")["rows_written"].as_u64(),
        Some(revenue_rows),
        "rows reported by the write differ from the rows on disk"
    );

    // The same window again replaces its partitions instead of adding rows.
    let again = exec(&remote, out.path(), "2025-01-01", "2025-01-07");
    assert_eq!(again["status"], "succeeded", "{again}");
    assert_eq!(rows(&remote, "parquet", &revenue), revenue_rows);
    assert_eq!(rows(&remote, "parquet", &lines), line_rows);

    // A later window adds its own partitions and keeps the earlier ones.
    let later = exec(&remote, out.path(), "2025-01-08", "2025-01-09");
    assert_eq!(later["status"], "succeeded", "{later}");
    assert!(rows(&remote, "parquet", &revenue) > revenue_rows);
    assert!(
        out.path()
            .join("gold/daily_revenue/order_date=2025-01-08")
            .is_dir()
    );
    assert!(
        out.path()
            .join("gold/daily_revenue/order_date=2025-01-01")
            .is_dir()
    );
}

#[test]
fn fan_out_nodes_overlap_in_time() {
    let Some(remote) = spark_remote() else { return };
    let out = tempfile::tempdir().unwrap();
    let report = exec(&remote, out.path(), "2025-01-01", "2025-01-03");
    assert_eq!(report["status"], "succeeded", "{report}");
    // The three gold nodes depend only on enrich_orders: they must run at the same time.
    let gold: Vec<(f64, f64)> = ["daily_revenue", "category_sales", "customer_summary"]
        .iter()
        .map(|n| interval(node(&report, n)))
        .collect();
    let overlapping_pairs = (0..gold.len())
        .flat_map(|i| (i + 1..gold.len()).map(move |j| (i, j)))
        .filter(|&(i, j)| gold[i].0 < gold[j].1 && gold[j].0 < gold[i].1)
        .count();
    assert!(
        overlapping_pairs >= 2,
        "gold nodes ran one after another: {gold:?}"
    );
    // And the two extract branches overlap each other too.
    let a = interval(node(&report, "extract_orders"));
    let b = interval(node(&report, "extract_customers"));
    assert!(
        a.0 < b.1 && b.0 < a.1,
        "extract nodes did not overlap: {a:?} {b:?}"
    );
}
