//! `engine: sail`: the daily_etl example on an embedded Sail server gives the same outputs as
//! on Spark; what Sail cannot run is refused before anything starts.

use std::path::Path;

use integration_tests::{copy_dir, query_json, sail_remote, spark_remote, tauro, workspace_root};
use serde_json::Value;

/// Runs daily_etl (January 2025) on a copy of the example with outputs under `out`.
fn exec(out: &Path, engine_args: &[&str]) -> Value {
    let project = out.join("project");
    copy_dir(&workspace_root().join("examples/daily_etl"), &project);
    let project = project.display().to_string();
    let mut args = vec![
        "--output",
        "json",
        "exec",
        "--project",
        &project,
        "--pipeline",
        "daily_etl",
        "--start",
        "2025-01-01",
        "--end",
        "2025-01-31",
    ];
    args.extend_from_slice(engine_args);
    let run = tauro(&args, &[("DAILY_ETL_OUTPUT", &out.display().to_string())]);
    assert_eq!(run.code, 0, "exec failed:\n{}\n{}", run.stdout, run.stderr);
    run.json()
}

/// Every row of the dataset at `path`, as sorted JSON lines (read by Spark).
fn contents(remote: &str, format: &str, path: &Path) -> Vec<String> {
    let rows = query_json(
        remote,
        &format!(
            "SELECT to_json(struct(*)) AS row FROM {format}.`{}` ORDER BY row",
            path.display()
        ),
    );
    rows.iter()
        .map(|r| r["row"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn daily_etl_on_embedded_sail_writes_what_spark_writes() {
    let Some(spark) = spark_remote() else { return };
    if sail_remote().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (on_spark, on_sail) = (dir.path().join("spark"), dir.path().join("sail"));
    // The one-line switch: `--engine sail` starts an embedded Sail server for the run.
    let sail_report = exec(&on_sail, &["--engine", "sail"]);
    let spark_report = exec(&on_spark, &["--remote", &spark]);
    let rows = |report: &Value| -> Vec<(String, u64)> {
        let mut rows: Vec<(String, u64)> = report["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["name"].as_str().unwrap().to_string(),
                    n["rows_written"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(rows(&sail_report), rows(&spark_report));
    assert!(
        rows(&sail_report).iter().all(|(_, n)| *n > 0),
        "{sail_report}"
    );
    for (dataset, format) in [
        ("silver/orders", "parquet"),
        ("silver/customers", "parquet"),
        ("silver/order_lines", "parquet"),
        ("gold/daily_revenue", "parquet"),
        ("gold/category_sales", "json"),
        ("gold/customer_summary", "parquet"),
    ] {
        let a = contents(&spark, format, &on_spark.join(dataset));
        let b = contents(&spark, format, &on_sail.join(dataset));
        assert!(!a.is_empty(), "{dataset} is empty");
        assert_eq!(a, b, "{dataset} differs between Spark and Sail");
    }
}

#[test]
fn sail_refuses_streaming_nodes_before_starting_anything() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("hybrid");
    copy_dir(&workspace_root().join("examples/hybrid"), &project);
    let project = project.display().to_string();
    let run = tauro(
        &[
            "exec",
            "--project",
            &project,
            "--pipeline",
            "sales_stream",
            "--engine",
            "sail",
        ],
        &[(
            "HYBRID_OUTPUT",
            &dir.path().join("out").display().to_string(),
        )],
    );
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("engine `sail` cannot run this pipeline"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("node 'enrich_events' is a streaming node"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nodes.yaml:"), "{}", run.stderr);
    assert!(!run.stderr.contains("starting a local"), "{}", run.stderr);
}

#[test]
fn persistent_catalog_keeps_tables_across_server_restarts() {
    if spark_remote().is_none() {
        return;
    }
    let p = integration_tests::Project::new(
        "input_path: data\noutput_path: out\nspark:\n  remote: local\n  catalog: persistent\n",
        "write:\n  nodes: [w]\n  requires_dates: false\nread:\n  nodes: [r]\n  requires_dates: false\n",
        "w:\n  output: [kept]\n  sql: SELECT * FROM VALUES (1, 'a'), (2, 'b') AS t(id, name)\n\
         r:\n  input: [kept_table]\n  output: [copy]\n  sql: SELECT * FROM kept_table\n",
        "kept_table:\n  format: table\n  table: kept\n",
        "kept:\n  format: table\n  table: kept\n  table_format: parquet\ncopy:\n  format: parquet\n  filepath: copy\n",
    );
    let project = p.arg();
    // Each run starts (and stops) its own local server: the table outlives the first one.
    for pipeline in ["write", "read"] {
        let run = tauro(
            &[
                "--output",
                "json",
                "exec",
                "--project",
                &project,
                "--pipeline",
                pipeline,
            ],
            &[],
        );
        assert_eq!(run.code, 0, "{pipeline}:\n{}\n{}", run.stdout, run.stderr);
        assert_eq!(run.json()["rows_written"], 2, "{pipeline}: {}", run.stdout);
    }
    assert!(p.path().join(".tauro/catalog/metastore").is_dir());
    assert!(p.path().join(".tauro/catalog/warehouse/kept").is_dir());
}

#[test]
fn the_docker_environment_of_the_hybrid_example_validates() {
    // docker/ is not run here; its project overlay (Kafka source, Delta sink) is checked.
    let project = workspace_root()
        .join("examples/hybrid")
        .display()
        .to_string();
    let run = tauro(&["validate", "--project", &project, "--env", "docker"], &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
}
