//! Node failures on the real Spark server: continue-on-error, stop on first failure,
//! timeouts and the circuit breaker, through the real binary.

use integration_tests::{Project, Run, spark_remote, tauro};
use serde_json::Value;

const INPUT: &str = "src:\n  format: csv\n  filepath: src.csv\n  options: { inferSchema: true }\n";

fn global(extra: &str) -> String {
    format!("project_name: failures\ninput_path: data\noutput_path: out\n{extra}")
}

fn project(global: &str, pipelines: &str, nodes: &str, output: &str) -> Project {
    let p = Project::new(global, pipelines, nodes, INPUT, output);
    p.write("data/src.csv", "id,name\n1,a\n2,b\n3,c\n");
    p
}

fn exec(p: &Project, remote: &str, extra: &[&str]) -> Run {
    let project = p.arg();
    let mut args = vec![
        "--output",
        "json",
        "exec",
        "--project",
        &project,
        "--pipeline",
        "p",
        "--remote",
        remote,
    ];
    args.extend_from_slice(extra);
    tauro(&args, &[])
}

fn status<'a>(report: &'a Value, node: &str) -> &'a str {
    report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == node)
        .and_then(|n| n["status"].as_str())
        .unwrap_or_else(|| panic!("node {node} missing from {report}"))
}

const BRANCHES: &str = "\
good:
  input: [src]
  output: [good_out]
  sql: SELECT id, name FROM src
good_child:
  input: [good_out]
  output: [good_child_out]
  sql: SELECT id FROM good_out
bad:
  input: [src]
  output: [bad_out]
  sql: SELECT no_such_column FROM src
bad_child:
  input: [bad_out]
  output: [bad_child_out]
  sql: SELECT * FROM bad_out
";

const BRANCH_OUTPUTS: &str = "\
good_out: { format: parquet, filepath: good }
good_child_out: { format: parquet, filepath: good_child }
bad_out: { format: parquet, filepath: bad }
bad_child_out: { format: parquet, filepath: bad_child }
";

const BRANCH_PIPELINE: &str =
    "p:\n  requires_dates: false\n  nodes: [good, bad, good_child, bad_child]\n";

#[test]
fn continue_on_error_runs_independent_branches_and_skips_dependents() {
    let Some(remote) = spark_remote() else { return };
    let p = project(&global(""), BRANCH_PIPELINE, BRANCHES, BRANCH_OUTPUTS);
    let run = exec(&p, &remote, &["--continue-on-error"]);
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(report["status"], "failed");
    assert_eq!(status(&report, "good"), "completed");
    assert_eq!(status(&report, "good_child"), "completed");
    assert_eq!(status(&report, "bad"), "failed");
    assert_eq!(status(&report, "bad_child"), "skipped");
    let bad = report["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "bad")
        .unwrap();
    // The Spark error class survives to the report.
    assert_eq!(
        bad["error"]["class"], "UNRESOLVED_COLUMN.WITH_SUGGESTION",
        "{bad}"
    );
    assert!(p.path().join("out/good_child").is_dir());
}

#[test]
fn without_continue_on_error_dependents_never_run() {
    let Some(remote) = spark_remote() else { return };
    let p = project(&global(""), BRANCH_PIPELINE, BRANCHES, BRANCH_OUTPUTS);
    let run = exec(&p, &remote, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(status(&report, "bad"), "failed");
    assert_ne!(status(&report, "bad_child"), "completed");
    assert!(!p.path().join("out/bad_child").exists());
    assert_eq!(report["stop_reason"]["reason"], "node_failed", "{report}");
}

#[test]
fn human_output_shows_progress_and_the_spark_error() {
    let Some(remote) = spark_remote() else { return };
    let p = project(&global(""), BRANCH_PIPELINE, BRANCHES, BRANCH_OUTPUTS);
    let project_dir = p.arg();
    let run = tauro(
        &[
            "exec",
            "--project",
            &project_dir,
            "-p",
            "p",
            "--remote",
            &remote,
            "--continue-on-error",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("FAILED bad"), "{}", run.stderr);
    assert!(run.stderr.contains("OK good"), "{}", run.stderr);
    assert!(run.stderr.contains("no_such_column"), "{}", run.stderr);
    assert!(
        run.stderr.contains("error: pipeline 'p' failed"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("skipped"), "{}", run.stdout);
}

#[test]
fn node_timeout_cancels_the_slow_node() {
    let Some(remote) = spark_remote() else { return };
    let nodes = "\
slow:
  output: [slow_out]
  timeout: 3
  sql: SELECT reflect('java.lang.Thread', 'sleep', CAST(120000 AS BIGINT)) AS slept
";
    let p = project(
        &global(""),
        "p:\n  requires_dates: false\n  nodes: [slow]\n",
        nodes,
        "slow_out: { format: parquet, filepath: slow }\n",
    );
    let run = exec(&p, &remote, &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(status(&report, "slow"), "failed");
    let slow = &report["nodes"][0];
    assert_eq!(slow["error"]["class"], "TIMEOUT", "{slow}");
    // Cancelled long before the two-minute sleep would have finished.
    assert!(run.elapsed.as_secs() < 90, "took {:?}", run.elapsed);
}

#[test]
fn circuit_breaker_opens_after_consecutive_failures() {
    let Some(remote) = spark_remote() else { return };
    let nodes = "\
f1: { input: [src], output: [o1], sql: SELECT missing_a FROM src }
f2: { input: [src], output: [o2], sql: SELECT missing_b FROM src }
f3: { input: [src], output: [o3], sql: SELECT missing_c FROM src }
";
    let outputs = "o1: { format: parquet, filepath: o1 }\no2: { format: parquet, filepath: o2 }\n\
                   o3: { format: parquet, filepath: o3 }\n";
    // Independent nodes, one at a time: with continue_on_error all three would run, but the
    // breaker stops the run after two failures in a row.
    let p = project(
        &global("circuit_breaker_threshold: 2\nmax_retries: 0\nmax_workers: 1\n"),
        "p:\n  requires_dates: false\n  nodes: [f1, f2, f3]\n",
        nodes,
        outputs,
    );
    let run = exec(&p, &remote, &["--continue-on-error"]);
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(
        report["stop_reason"]["reason"], "circuit_breaker_open",
        "{report}"
    );
    assert_eq!(status(&report, "f1"), "failed");
    assert_eq!(status(&report, "f2"), "failed");
    assert_eq!(status(&report, "f3"), "cancelled");
}

#[test]
fn retries_are_reported_per_node() {
    let Some(remote) = spark_remote() else { return };
    let nodes = "bad: { input: [src], output: [o1], sql: SELECT missing FROM src }\n";
    let p = project(
        &global("retry_delay: 0.1\n"),
        "p:\n  requires_dates: false\n  nodes: [bad]\n",
        nodes,
        "o1: { format: parquet, filepath: o1 }\n",
    );
    let run = exec(&p, &remote, &["--retry", "2"]);
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(report["nodes"][0]["attempts"], 3, "{report}");
}
