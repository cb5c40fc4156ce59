//! Incremental runs through the CLI on the real Spark server: plans, a killed run and
//! `resume`, a failure and `resume`, lineage, and hooks that fail.

use std::path::Path;
use std::time::{Duration, Instant};

use integration_tests::{
    Project, Run, copy_dir, report_statuses, spark_remote, spark_rows, tauro, workspace_root,
};
use serde_json::Value;

fn example_copy(dir: &Path) -> String {
    copy_dir(&workspace_root().join("examples/daily_etl"), dir);
    dir.display().to_string()
}

fn exec_json(project: &str, remote: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "--output",
        "json",
        "exec",
        "--project",
        project,
        "-p",
        "daily_etl",
        "--start",
        "2025-01-01",
        "--end",
        "2025-01-07",
        "--remote",
        remote,
    ];
    args.extend_from_slice(extra);
    tauro(&args, &[])
}

fn gold_rows(remote: &str, project: &Path) -> (u64, u64, u64) {
    let out = project.join("out/gold");
    (
        spark_rows(remote, "parquet", &out.join("daily_revenue")),
        spark_rows(remote, "json", &out.join("category_sales")),
        spark_rows(remote, "parquet", &out.join("customer_summary")),
    )
}

#[test]
fn killed_run_leaves_valid_state_and_resume_completes_it() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    let state = dir.path().join(".tauro/run_state.json");

    let mut child = integration_tests::spawn_tauro(
        &[
            "exec",
            "--project",
            &project,
            "-p",
            "daily_etl",
            "--start",
            "2025-01-01",
            "--end",
            "2025-01-07",
            "--remote",
            &remote,
            "--max-workers",
            "1",
        ],
        false,
    );
    // Kill it (SIGKILL: no chance to clean up) once some, but not all, nodes completed.
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no node completed in time"
        );
        let completed = std::fs::read_to_string(&state)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .map(|v| {
                v["pipelines"]["daily_etl"]["nodes"]
                    .as_object()
                    .map(|m| m.values().filter(|n| n["status"] == "completed").count())
                    .unwrap_or(0)
            })
            .unwrap_or(0);
        if completed >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let text = std::fs::read_to_string(&state).unwrap();
    let saved: Value =
        serde_json::from_str(&text).expect("run_state.json is valid JSON after a kill");
    let done: Vec<String> = saved["pipelines"]["daily_etl"]["nodes"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, n)| n["status"] == "completed")
        .map(|(k, _)| k.clone())
        .collect();
    assert!(done.len() >= 2 && done.len() < 8, "{done:?}");

    let resumed = tauro(
        &[
            "--output",
            "json",
            "resume",
            "--project",
            &project,
            "-p",
            "daily_etl",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let report = resumed.json();
    for (node, status) in report_statuses(&report) {
        if done.contains(&node) {
            assert_eq!(
                status, "cached",
                "{node} completed before the kill and must be reused"
            );
        } else {
            assert_eq!(status, "completed", "{node} must run on resume");
        }
    }

    // The outputs equal those of a clean full run.
    let clean = tempfile::tempdir().unwrap();
    let clean_project = example_copy(clean.path());
    let full = exec_json(&clean_project, &remote, &["--full"]);
    assert_eq!(full.code, 0, "{full:?}");
    assert_eq!(
        gold_rows(&remote, dir.path()),
        gold_rows(&remote, clean.path())
    );
}

#[test]
fn failure_then_resume_runs_only_failed_and_never_run_nodes() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    // The customers file is missing at first: extract_customers fails, its downstream is
    // skipped, the orders branch completes.
    let customers = dir.path().join("data/customers/customers.json");
    let saved = std::fs::read_to_string(&customers).unwrap();
    std::fs::remove_file(&customers).unwrap();
    std::fs::remove_dir(customers.parent().unwrap()).unwrap();

    let first = exec_json(&project, &remote, &["--continue-on-error"]);
    assert_eq!(first.code, 1, "{first:?}");
    let report = first.json();
    let st = report_statuses(&report);
    let status = |n: &str| st.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(status("extract_customers"), "failed");
    assert_eq!(status("clean_orders"), "completed");
    assert_eq!(status("enrich_orders"), "skipped");

    std::fs::create_dir_all(customers.parent().unwrap()).unwrap();
    std::fs::write(&customers, saved).unwrap();
    let plan = tauro(
        &[
            "--output",
            "json",
            "resume",
            "--project",
            &project,
            "-p",
            "daily_etl",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(plan.code, 0, "{plan:?}");
    let resumed = tauro(
        &[
            "--output",
            "json",
            "resume",
            "--project",
            &project,
            "-p",
            "daily_etl",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let st = report_statuses(&resumed.json());
    let status = |n: &str| st.iter().find(|(k, _)| k == n).unwrap().1.clone();
    assert_eq!(status("extract_orders"), "cached");
    assert_eq!(status("clean_orders"), "cached");
    assert_eq!(status("extract_customers"), "completed");
    assert_eq!(status("enrich_orders"), "completed");
    assert_eq!(status("customer_summary"), "completed");

    // Nothing left to resume.
    let again = tauro(
        &[
            "resume",
            "--project",
            &project,
            "-p",
            "daily_etl",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(again.code, 2, "{again:?}");
}

#[test]
fn plan_reflects_edits_and_lineage_matches_the_files() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = example_copy(dir.path());
    let first = exec_json(&project, &remote, &[]);
    assert_eq!(first.code, 0, "{first:?}");
    let report = first.json();
    let run_id = report["run_id"].as_str().unwrap().to_string();

    // Lineage of the parallel run: per-node output rows equal the rows on disk.
    let lineage = tauro(
        &[
            "--output",
            "json",
            "lineage",
            "show",
            &run_id,
            "--project",
            &project,
        ],
        &[],
    );
    assert_eq!(lineage.code, 0, "{lineage:?}");
    let lineage = lineage.json();
    let text = serde_json::to_string(&lineage).unwrap();
    assert!(
        text.contains("daily_revenue") && text.contains("order_date"),
        "{text}"
    );
    let table = tauro(&["lineage", "show", "latest", "--project", &project], &[]);
    assert_eq!(table.code, 0, "{table:?}");
    assert!(table.stdout.contains("enrich_orders"), "{}", table.stdout);
    let revenue_rows = spark_rows(
        &remote,
        "parquet",
        &dir.path().join("out/gold/daily_revenue"),
    );
    let reported = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "daily_revenue")
        .unwrap()["rows_written"]
        .as_u64();
    assert_eq!(reported, Some(revenue_rows));

    // Whitespace and a comment in SQL, and a description: nothing to run.
    let sql = dir.path().join("sql/clean_customers.sql");
    let text = std::fs::read_to_string(&sql).unwrap();
    std::fs::write(
        &sql,
        format!("-- reformatted\n{}\n\n", text.replace(", ", ",\n       ")),
    )
    .unwrap();
    let nodes = dir.path().join("config/nodes.yaml");
    let yaml = std::fs::read_to_string(&nodes).unwrap();
    std::fs::write(
        &nodes,
        yaml.replace("Customer master data.", "Customer master data, v2."),
    )
    .unwrap();
    let plan = tauro(
        &[
            "plan",
            "--project",
            &project,
            "-p",
            "daily_etl",
            "--start",
            "2025-01-01",
            "--end",
            "2025-01-07",
        ],
        &[],
    );
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(plan.stdout.contains("0 to run"), "{}", plan.stdout);

    // A real change re-runs the node and its downstream only.
    std::fs::write(&sql, text.replace("UPPER(country)", "LOWER(country)")).unwrap();
    let plan = tauro(
        &[
            "--output",
            "json",
            "plan",
            "--project",
            &project,
            "-p",
            "daily_etl",
            "--start",
            "2025-01-01",
            "--end",
            "2025-01-07",
        ],
        &[],
    );
    let plan = plan.json();
    let action = |n: &str| {
        plan["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == n)
            .unwrap()["action"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(action("clean_customers"), "run");
    assert_eq!(action("enrich_orders"), "run");
    assert_eq!(action("customer_summary"), "run");
    assert_eq!(action("clean_orders"), "cached");
    assert_eq!(action("extract_orders"), "cached");
}

#[test]
fn failing_and_hanging_hooks_do_not_fail_the_run() {
    let Some(remote) = spark_remote() else { return };
    let events = tempfile::tempdir().unwrap();
    let log = events.path().join("events.jsonl");
    let global = format!(
        "project_name: hooks\ninput_path: data\noutput_path: out\nhooks:\n\
         \x20 - {{type: command, command: \"false\"}}\n\
         \x20 - {{type: command, command: sleep, args: [\"30\"], timeout_seconds: 1}}\n\
         \x20 - {{type: http, url: \"http://127.0.0.1:1/events\"}}\n\
         \x20 - {{type: file, path: \"{}\"}}\n",
        log.display()
    );
    let p = Project::new(
        &global,
        "p:\n  requires_dates: false\n  nodes: [a, b]\n",
        "a: { output: [o1], sql: SELECT 1 AS x }\nb: { input: [o1], output: [o2], sql: SELECT x FROM o1 }\n",
        "{}\n",
        "o1: { format: parquet, filepath: o1 }\no2: { format: parquet, filepath: o2 }\n",
    );
    let started = Instant::now();
    let run = tauro(
        &[
            "exec",
            "--project",
            &p.arg(),
            "-p",
            "p",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "hooks stalled the run: {:?}",
        started.elapsed()
    );
    // The file hook got every lifecycle event, in a valid order per node.
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<String> = lines
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["event"].as_str().unwrap(),
                e["node"].as_str().unwrap_or("-")
            )
        })
        .collect();
    let pos = |k: &str| {
        kinds
            .iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("{k} missing in {kinds:?}"))
    };
    assert!(pos("pipeline_start:-") < pos("node_start:a"));
    assert!(pos("node_start:a") < pos("node_complete:a"));
    assert!(pos("node_complete:a") < pos("node_start:b"));
    assert!(pos("node_complete:b") < pos("pipeline_complete:-"));
}
