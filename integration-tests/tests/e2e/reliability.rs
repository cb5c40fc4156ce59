//! Crashes in the middle of a run (issue #9): the Spark Connect server SIGKILLed while a node
//! runs, and `tauro-cli` itself SIGKILLed at seeded points and right after an `append`
//! output landed. Each time the run state stays valid JSON and `resume` (after restarting
//! the server) finishes the run with outputs equal to those of a clean run, without
//! duplicated rows.

use std::path::Path;
use std::time::{Duration, Instant};

use integration_tests::{
    PrivateSpark, Project, Run, query_json, report_statuses, sigkill, spark_remote, spawn_tauro,
    spawn_tauro_env, tauro,
};
use serde_json::Value;

/// 100 rows: `id` 1..=100, `k` = id mod 7.
fn raw_csv() -> String {
    let mut text = String::from("id,k\n");
    for id in 1..=100 {
        text.push_str(&format!("{id},{}\n", id % 7));
    }
    text
}

/// `load` → `slow` → `agg`; `slow` sleeps `SLEEP_MS` milliseconds (environment) on the
/// server while it computes, so the server can be killed while it runs.
fn slow_project() -> Project {
    let p = Project::new(
        "project_name: slow\ninput_path: data\noutput_path: out\n",
        "p:\n  requires_dates: false\n  nodes: [load, slow, agg]\n",
        "load: { input: [raw], output: [stage], sql: \"SELECT CAST(id AS BIGINT) AS id, CAST(k AS INT) AS k FROM raw\" }\n\
         slow:\n  input: [stage]\n  output: [mid]\n  dependencies: [load]\n  sql: >-\n\
         \x20   SELECT id, k, reflect('java.lang.Thread', 'sleep', CAST(${SLEEP_MS:-0} AS BIGINT)) AS z\n\
         \x20   FROM stage WHERE id = 1\n\
         \x20   UNION ALL SELECT id, k, NULL AS z FROM stage WHERE id > 1\n\
         agg: { input: [mid], output: [res], dependencies: [slow], sql: \"SELECT k, count(*) AS n, sum(id) AS s FROM mid GROUP BY k\" }\n",
        "raw: { format: csv, filepath: raw.csv, options: { header: true } }\n",
        "stage: { format: parquet, filepath: stage, write_mode: overwrite }\n\
         mid: { format: parquet, filepath: mid, write_mode: overwrite }\n\
         res: { format: parquet, filepath: res, write_mode: overwrite }\n",
    );
    p.write("data/raw.csv", &raw_csv());
    p
}

/// `load` → (`side`, `log`) → `agg`. `log` appends to `events` (so a node run twice shows
/// as duplicated rows) and then writes `events_copy`: between the two writes the append
/// has landed and the node is not completed yet.
fn append_project() -> Project {
    let p = Project::new(
        "project_name: crash\ninput_path: data\noutput_path: out\n",
        "p:\n  requires_dates: false\n  nodes: [load, side, log, agg]\n",
        "load: { input: [raw], output: [stage], sql: \"SELECT CAST(id AS BIGINT) AS id, CAST(k AS INT) AS k FROM raw\" }\n\
         side: { input: [stage], output: [side_out], dependencies: [load], sql: \"SELECT k, max(id) AS m FROM stage GROUP BY k\" }\n\
         log: { input: [stage], output: [events, events_copy], dependencies: [load], sql: \"SELECT id, k, id * 10 AS v FROM stage\" }\n\
         agg:\n  input: [events, side_out]\n  output: [res]\n  dependencies: [log, side]\n\
         \x20 sql: \"SELECT e.k, count(*) AS n, sum(e.v) AS s, max(x.m) AS m FROM events e JOIN side_out x ON e.k = x.k GROUP BY e.k\"\n",
        "raw: { format: csv, filepath: raw.csv, options: { header: true } }\n",
        "stage: { format: parquet, filepath: stage, write_mode: overwrite }\n\
         side_out: { format: parquet, filepath: side, write_mode: overwrite }\n\
         events: { format: parquet, filepath: events, write_mode: append }\n\
         events_copy: { format: json, filepath: events_copy, write_mode: overwrite }\n\
         res: { format: parquet, filepath: res, write_mode: overwrite }\n",
    );
    p.write("data/raw.csv", &raw_csv());
    p
}

fn state_path(project: &Path) -> std::path::PathBuf {
    project.join(".tauro/run_state.json")
}

/// The run state as JSON; panics when it is not valid JSON. `None` when absent.
fn read_state(project: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(state_path(project)).ok()?;
    Some(serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!("run_state.json is not valid JSON after a crash ({e}):\n{text}")
    }))
}

/// Every other file tauro keeps in `.tauro/` that must stay valid JSON.
fn assert_state_files_valid(project: &Path) {
    for name in ["run_state.json.bak", "append_journal.json", "manifest.json"] {
        let path = project.join(".tauro").join(name);
        if let Ok(text) = std::fs::read_to_string(&path) {
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("{name} is not valid JSON ({e}):\n{text}"));
        }
    }
}

fn node_statuses(state: &Value) -> Vec<(String, String)> {
    state["pipelines"]["p"]["nodes"]
        .as_object()
        .map(|nodes| {
            nodes
                .iter()
                .map(|(k, v)| (k.clone(), v["status"].as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn completed(state: &Value) -> Vec<String> {
    node_statuses(state)
        .into_iter()
        .filter(|(_, s)| s == "completed")
        .map(|(n, _)| n)
        .collect()
}

/// The rows of a parquet output, ordered by its first column, as JSON text.
fn rows(remote: &str, path: &Path, columns: &str) -> String {
    let rows = query_json(
        remote,
        &format!(
            "SELECT {columns} FROM parquet.`{}` ORDER BY 1",
            path.display()
        ),
    );
    serde_json::to_string(&rows).unwrap()
}

/// `(rows, distinct ids)` of the append output `events`.
fn events_counts(remote: &str, project: &Path) -> (u64, u64) {
    let row = &query_json(
        remote,
        &format!(
            "SELECT count(*) AS n, count(DISTINCT id) AS d FROM parquet.`{}`",
            project.join("out/events").display()
        ),
    )[0];
    (row["n"].as_u64().unwrap(), row["d"].as_u64().unwrap())
}

/// Waits up to `limit` until `done` holds, checking every 20 ms.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn exec_args<'a>(project: &'a str, remote: &'a str) -> Vec<&'a str> {
    vec!["exec", "--project", project, "-p", "p", "--remote", remote]
}

fn resume(project: &str, remote: &str, envs: &[(&str, &str)]) -> Run {
    tauro(
        &[
            "--output",
            "json",
            "resume",
            "--project",
            project,
            "-p",
            "p",
            "--remote",
            remote,
        ],
        envs,
    )
}

/// Runs a fresh [`slow_project`] cleanly and compares `project`'s outputs with its.
fn assert_outputs_equal_a_clean_slow_run(remote: &str, project: &Project) {
    let clean = slow_project();
    let run = tauro(&exec_args(&clean.arg(), remote), &[("SLEEP_MS", "0")]);
    assert_eq!(run.code, 0, "{run:?}");
    for (output, columns) in [("out/mid", "id, k"), ("out/res", "k, n, s")] {
        assert_eq!(
            rows(remote, &project.path().join(output), columns),
            rows(remote, &clean.path().join(output), columns),
            "{output}"
        );
    }
}

/// Starts `exec` of a [`slow_project`] whose `slow` sleeps `sleep_ms` on the server, logging
/// to `log`, and returns once `load` completed and `slow` has been running for 2 s.
fn start_until_slow_sleeps(
    project: &Project,
    remote: &str,
    sleep_ms: &str,
    log: &Path,
) -> std::process::Child {
    let child = spawn_tauro_env(
        &exec_args(&project.arg(), remote),
        &[("SLEEP_MS", sleep_ms)],
        log,
    );
    wait_until(Duration::from_secs(180), "load completed", || {
        read_state(project.path()).is_some_and(|s| completed(&s).contains(&"load".to_string()))
    });
    std::thread::sleep(Duration::from_secs(2));
    child
}

#[test]
fn killed_spark_server_fails_the_run_clearly_and_resume_after_a_restart_completes_it() {
    if spark_remote().is_none() {
        return;
    }
    // A server of this test's own: the run's shared server keeps serving the other tests.
    let server = PrivateSpark::start();
    let remote = server.remote();
    let project = slow_project();
    let log = project.path().join("run.log");
    let mut child = start_until_slow_sleeps(&project, &remote, "60000", &log);
    server.kill();
    let killed = Instant::now();

    // The client's own retries would hang for ten minutes; tauro gives up within its
    // connect timeout (15 s) per attempt.
    let deadline = Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if killed.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tauro-cli still running {deadline:?} after the server died:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(&log).unwrap();
    eprintln!(
        "tauro-cli exited {:?} after {:.1?} with:\n{text}",
        status.code(),
        killed.elapsed()
    );
    assert_ne!(status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("lost the Spark Connect server at {remote}")),
        "the error must name the server and say it is gone:\n{text}"
    );
    assert!(
        !text.contains("transport error"),
        "raw client error shown:\n{text}"
    );

    // The state is valid and keeps what completed.
    let state = read_state(project.path()).expect("a run state");
    assert_state_files_valid(project.path());
    let statuses = node_statuses(&state);
    assert!(
        statuses.contains(&("load".into(), "completed".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("slow".into(), "failed".into())),
        "{statuses:?}"
    );
    assert_eq!(state["pipelines"]["p"]["last_run"]["status"], "failed");

    // Restart the server on the same port: resume runs only what did not complete.
    server.restart();
    let resumed = resume(&project.arg(), &remote, &[("SLEEP_MS", "0")]);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    let statuses = report_statuses(&resumed.json());
    assert_eq!(
        statuses,
        [
            ("load".to_string(), "cached".to_string()),
            ("slow".to_string(), "completed".to_string()),
            ("agg".to_string(), "completed".to_string()),
        ]
    );

    // Outputs equal those of a clean run.
    assert_outputs_equal_a_clean_slow_run(&remote, &project);
}

#[test]
fn a_write_left_running_by_a_killed_cli_is_ended_before_resume_runs_the_node_again() {
    let Some(remote) = spark_remote() else { return };
    let project = slow_project();
    let log = project.path().join("run.log");
    // `slow`'s write sleeps 12 s in one task on the server.
    let mut child = start_until_slow_sleeps(&project, &remote, "12000", &log);
    sigkill(child.id());
    child.wait().unwrap();
    let killed = Instant::now();
    assert!(
        project.path().join(".tauro/sessions").is_dir(),
        "the killed run recorded its sessions"
    );

    // The killed run's write is still running on the server: resume ends it first.
    let resumed = resume(&project.arg(), &remote, &[("SLEEP_MS", "0")]);
    assert_eq!(resumed.code, 0, "{resumed:?}");
    assert!(
        resumed
            .stderr
            .contains("ended Spark work that a killed earlier run left running"),
        "{}",
        resumed.stderr
    );
    assert!(
        resumed.stderr.contains("node=slow"),
        "the warning names the node: {}",
        resumed.stderr
    );
    // Every ledger was ended and removed, the resumed run's own included.
    let left: Vec<_> = std::fs::read_dir(project.path().join(".tauro/sessions"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");

    // Had it gone on, the killed run's write would have landed by now.
    std::thread::sleep(Duration::from_secs(15).saturating_sub(killed.elapsed()));
    assert_outputs_equal_a_clean_slow_run(&remote, &project);
}

/// A deterministic number in [0, 1) for `seed` (SplitMix64).
fn fraction(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    // The top 53 bits, exactly representable.
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// After a crash: the state files are valid JSON; `resume` (or `exec` when nothing was
/// saved) completes the run; the outputs equal `clean`'s, with no duplicated rows.
fn finish_after_crash(remote: &str, project: &Project, clean: &Project, label: &str) {
    let state = read_state(project.path());
    assert_state_files_valid(project.path());
    let done = state.as_ref().map(completed).unwrap_or_default();
    eprintln!("{label}: completed before the kill: {done:?}");
    let run = match &state {
        Some(_) => resume(&project.arg(), remote, &[]),
        None => tauro(&exec_args(&project.arg(), remote), &[]),
    };
    // Killed after the last node was recorded: nothing is left to resume.
    let nothing_left = run.code == 2 && done.len() == 4;
    assert!(run.code == 0 || nothing_left, "{label}: {run:?}");
    let state = read_state(project.path()).expect("a run state");
    assert_eq!(completed(&state).len(), 4, "{label}: {state}");

    let (n, distinct) = events_counts(remote, project.path());
    assert_eq!(
        (n, distinct),
        (100, 100),
        "{label}: the append output has duplicated rows"
    );
    for (output, columns) in [("out/res", "k, n, s, m"), ("out/side", "k, m")] {
        assert_eq!(
            rows(remote, &project.path().join(output), columns),
            rows(remote, &clean.path().join(output), columns),
            "{label}: {output}"
        );
    }
}

#[test]
fn sigkilled_cli_at_seeded_points_leaves_valid_state_and_resume_never_duplicates() {
    let Some(remote) = spark_remote() else { return };
    // The clean run: the reference outputs, and how long a run takes.
    let clean = append_project();
    let started = Instant::now();
    let run = tauro(&exec_args(&clean.arg(), &remote), &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let length = started.elapsed();
    assert_eq!(events_counts(&remote, clean.path()), (100, 100));

    for seed in 1..=4u64 {
        let project = append_project();
        let delay = length.mul_f64(fraction(seed));
        let label = format!("seed {seed} (kill after {delay:.2?} of a {length:.2?} run)");
        let mut child = spawn_tauro(&exec_args(&project.arg(), &remote), false);
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            sigkill(child.id());
        }
        child.wait().unwrap();
        finish_after_crash(&remote, &project, &clean, &label);
    }
}

#[test]
fn sigkill_right_after_an_append_landed_does_not_append_again_on_resume() {
    let Some(remote) = spark_remote() else { return };
    let clean = append_project();
    let run = tauro(&exec_args(&clean.arg(), &remote), &[]);
    assert_eq!(run.code, 0, "{run:?}");

    let project = append_project();
    let mut child = spawn_tauro(&exec_args(&project.arg(), &remote), false);
    // Spark writes `_SUCCESS` when it commits the append; `log` then still writes
    // `events_copy`, so its completion is not recorded yet.
    let success = project.path().join("out/events/_SUCCESS");
    wait_until(Duration::from_secs(180), "the append committed", || {
        success.exists()
    });
    sigkill(child.id());
    child.wait().unwrap();
    let state = read_state(project.path()).expect("a run state");
    assert!(
        !completed(&state).contains(&"log".to_string()),
        "the kill came after `log` was recorded; the test needs it before: {state}"
    );
    assert_eq!(events_counts(&remote, project.path()), (100, 100));
    finish_after_crash(&remote, &project, &clean, "after the append");
}
