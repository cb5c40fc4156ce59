//! Reliability under faults and load, on the real Spark server (issue #9): a hybrid run
//! SIGKILLed and restarted again and again while its source keeps growing, and 20 pipeline
//! runs at once against one server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use integration_tests::{
    Project, Run, copy_dir, query_json, spark_remote, spawn_tauro_logged, tauro,
    tauro_concurrently, workspace_root,
};
use serde_json::{Value, json};

/// One sale event of the hybrid example's source: `(event_id, product_id, quantity)`.
type Event = (u64, String, u64);

/// Products of the example's dimension, and one (`P99`) the join drops.
const PRODUCTS: [&str; 5] = ["P01", "P02", "P03", "P04", "P99"];

/// The rows the shipped event files put in the sink (event 6 is a `P99`).
fn shipped_rows() -> Vec<Event> {
    [
        (1, "P01", 2),
        (2, "P02", 1),
        (3, "P03", 1),
        (4, "P04", 1),
        (5, "P01", 3),
        (7, "P02", 5),
        (8, "P03", 2),
    ]
    .into_iter()
    .map(|(id, p, q)| (id, p.to_string(), q))
    .collect()
}

/// Drops a new event file into the source every 300 ms until stopped. Each file is written
/// outside the watched directory and renamed into it, so the stream never sees half a file.
struct Producer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Vec<Event>>>,
}

impl Producer {
    fn start(dir: &Path) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let events = dir.join("data/events");
        let staging = dir.join("staging");
        std::fs::create_dir_all(&staging).unwrap();
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut joined = Vec::new();
            let mut file = 0_u64;
            while !flag.load(Ordering::Relaxed) {
                file += 1;
                let mut text = String::new();
                for n in 0..5 {
                    let id = 10_000 + file * 10 + n;
                    let product = PRODUCTS[usize::try_from(id % 5).unwrap()];
                    let quantity = id % 7 + 1;
                    text.push_str(&format!(
                        "{{\"event_id\": {id}, \"product_id\": \"{product}\", \"quantity\": {quantity}, \"event_ts\": \"2025-02-01T10:00:00Z\"}}\n"
                    ));
                    if product != "P99" {
                        joined.push((id, product.to_string(), quantity));
                    }
                }
                let name = format!("produced-{file:05}.json");
                std::fs::write(staging.join(&name), text).unwrap();
                std::fs::rename(staging.join(&name), events.join(&name)).unwrap();
                std::thread::sleep(Duration::from_millis(300));
            }
            joined
        });
        Self {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops producing; the joined rows of every event written.
    fn finish(mut self) -> Vec<Event> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Producer {
    /// Stops the thread when a test fails before [`Producer::finish`].
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A copy of the hybrid example with a lifecycle-event log, on the suite's server.
struct Hybrid {
    dir: tempfile::TempDir,
    remote: String,
    /// Every query a killed run left behind (its registry entry).
    orphans: Vec<Value>,
}

impl Hybrid {
    fn new(remote: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&workspace_root().join("examples/hybrid"), dir.path());
        let global = dir.path().join("config/global_settings.yaml");
        let settings = std::fs::read_to_string(&global).unwrap();
        let events = dir.path().join("events.jsonl");
        std::fs::write(
            &global,
            format!(
                "{settings}\nhooks:\n  - {{type: file, path: \"{}\"}}\n",
                events.display()
            ),
        )
        .unwrap();
        Self {
            dir,
            remote: remote.to_string(),
            orphans: Vec::new(),
        }
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    fn project(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Sets the stream's trigger: `available_now` (as shipped) or `"1 second"`.
    fn trigger(&self, trigger: &str) {
        let nodes = self.path("config/nodes.yaml");
        let yaml = std::fs::read_to_string(&nodes).unwrap();
        let line = yaml
            .lines()
            .find(|l| l.trim_start().starts_with("trigger:"))
            .unwrap()
            .to_string();
        let indent = &line[..line.len() - line.trim_start().len()];
        std::fs::write(
            &nodes,
            yaml.replace(&line, &format!("{indent}trigger: {trigger}")),
        )
        .unwrap();
    }

    /// `--output json <command> --project … -p sales_stream --remote …`.
    fn args(&self, command: &[&str]) -> Vec<String> {
        let project = self.project();
        let target = [
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &self.remote,
        ];
        ["--output", "json"]
            .iter()
            .chain(command)
            .chain(&target)
            .map(|s| s.to_string())
            .collect()
    }

    /// Runs `tauro-cli` with [`args`](Self::args) and waits for it.
    fn run(&self, command: &[&str]) -> Run {
        let args = self.args(command);
        tauro(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[])
    }

    /// Starts a run whose stream runs until killed (or 5 minutes).
    fn spawn(&self) -> std::process::Child {
        let args = self.args(&["exec", "--timeout", "5m"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        spawn_tauro_logged(&args, &self.path("runs.log"))
    }

    /// Polls `ready` every 10 ms while `child` runs; panics with `what` and the runs' output
    /// after `limit` or when `child` ends first.
    fn wait_for(
        &self,
        child: &mut std::process::Child,
        what: &str,
        limit: Duration,
        mut ready: impl FnMut() -> bool,
    ) {
        let started = Instant::now();
        while !ready() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "the run ended ({status}) before {what}; the runs said:\n{}",
                    self.log_tail()
                );
            }
            assert!(
                started.elapsed() < limit,
                "{what} did not happen within {limit:?}; the runs said:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The end of the killed runs' output, for failure messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.path("runs.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// How many lifecycle events named `kind` the runs logged so far.
    fn logged(&self, kind: &str) -> usize {
        std::fs::read_to_string(self.path("events.jsonl"))
            .unwrap_or_default()
            .matches(&format!("\"event\":\"{kind}\""))
            .count()
    }

    /// The registry's entry of the streaming node (recorded by a run once its query started).
    fn recorded(&self) -> Option<Value> {
        let text = std::fs::read_to_string(self.path(".tauro/streams.json")).ok()?;
        let file: Value = serde_json::from_str(&text).ok()?;
        file["streams"].as_array()?.first().cloned()
    }

    /// `tauro-cli stream status` on these registry entries (written as the registry for the
    /// call; the registry the runs wrote is put back after).
    fn states(&self, entries: &[Value]) -> Vec<Value> {
        let registry = self.path(".tauro/streams.json");
        let kept = std::fs::read(&registry).ok();
        std::fs::create_dir_all(self.path(".tauro")).unwrap();
        std::fs::write(&registry, json!({ "streams": entries }).to_string()).unwrap();
        let run = self.run(&["stream", "status"]);
        match kept {
            Some(bytes) => std::fs::write(&registry, bytes).unwrap(),
            None => std::fs::remove_file(&registry).unwrap(),
        }
        assert_eq!(run.code, 0, "{run:?}");
        run.json().as_array().unwrap().clone()
    }

    /// The sink's rows, sorted (duplicates kept).
    fn sink_rows(&self) -> Vec<Event> {
        let sink = self.path("out/stream/enriched_sales");
        query_json(
            &self.remote,
            &format!(
                "SELECT event_id, product_id, quantity FROM parquet.`{}` \
                 ORDER BY event_id, product_id, quantity",
                sink.display()
            ),
        )
        .iter()
        .map(|r| {
            (
                r["event_id"].as_u64().unwrap(),
                r["product_id"].as_str().unwrap().to_string(),
                r["quantity"].as_u64().unwrap(),
            )
        })
        .collect()
    }

    /// Fails on any event id the sink holds twice.
    fn assert_no_duplicates(&self, when: &str) {
        let rows = self.sink_rows();
        let mut ids: Vec<u64> = rows.iter().map(|r| r.0).collect();
        ids.dedup();
        assert_eq!(ids.len(), rows.len(), "duplicated rows in the sink {when}");
    }
}

impl Drop for Hybrid {
    /// Stops whatever query a failed test left running on the shared server.
    fn drop(&mut self) {
        let mut entries = self.orphans.clone();
        entries.extend(self.recorded());
        if entries.is_empty() {
            return;
        }
        let registry = json!({ "streams": entries }).to_string();
        if std::fs::write(self.path(".tauro/streams.json"), registry).is_ok() {
            self.run(&["stream", "stop"]);
        }
    }
}

fn kill(child: &mut std::process::Child) {
    child.kill().unwrap(); // SIGKILL: no graceful stop, no registry clean-up
    child.wait().unwrap();
}

/// Three SIGKILLs at different points of a hybrid run, each followed by a restart, while new
/// event files keep arriving; then a run that catches up. A killed `tauro-cli` leaves its
/// streaming query running on the server (the query belongs to the server-side session,
/// which outlives the client) and recorded in the project's stream registry; the next run
/// stops it before its batch part, then carries on from the checkpoint. The sink must hold
/// every joined source row exactly once.
#[test]
fn a_hybrid_run_killed_and_restarted_three_times_ends_with_the_sink_equal_to_the_source() {
    let Some(remote) = spark_remote() else { return };
    let mut h = Hybrid::new(&remote);
    h.trigger("\"1 second\"");
    let checkpoint = h.path("out/_checkpoints/sales_stream/enrich_events");
    let minutes = |n: u64| Duration::from_secs(60 * n);
    let producer = Producer::start(h.dir.path());

    // 1. Killed while the stream processes a micro-batch: after the first one committed,
    //    as soon as a later batch's offsets are logged and before it commits.
    let mut child = h.spawn();
    h.wait_for(&mut child, "the first micro-batch", minutes(3), || {
        checkpoint.join("commits/0").exists()
    });
    let mut batch = 0;
    h.wait_for(&mut child, "a micro-batch in flight", minutes(1), || {
        let in_flight = (1..100).find(|b| {
            checkpoint.join(format!("offsets/{b}")).exists()
                && !checkpoint.join(format!("commits/{b}")).exists()
        });
        batch = in_flight.unwrap_or(0);
        in_flight.is_some()
    });
    kill(&mut child);
    eprintln!("killed run 1 during micro-batch {batch}");
    let orphan = h.recorded().expect("run 1 recorded its query");
    let state = &h.states(std::slice::from_ref(&orphan))[0];
    assert_eq!(
        (&state["found"], &state["active"]),
        (&json!(true), &json!(true)),
        "the killed run's query keeps running on the server: {state}"
    );
    h.orphans.push(orphan.clone());
    h.assert_no_duplicates("after run 1");

    // 2. Killed during the batch part (building the product dimension). Before it, the run
    //    stopped run 1's query and took it off the registry; it never reached its stream.
    let started = h.logged("node_start");
    let mut child = h.spawn();
    h.wait_for(&mut child, "the batch node to start", minutes(2), || {
        h.logged("node_start") > started
    });
    kill(&mut child);
    assert_eq!(
        h.recorded(),
        None,
        "run 2 took run 1's query off the registry"
    );
    let state = &h.states(std::slice::from_ref(&orphan))[0];
    assert_eq!(
        state["active"], false,
        "run 2 stopped run 1's query: {state}"
    );
    h.assert_no_duplicates("after run 2");

    // 3. Killed right after the restarted stream started.
    let mut child = h.spawn();
    h.wait_for(&mut child, "the restarted query", minutes(3), || {
        h.recorded().is_some()
    });
    kill(&mut child);
    let orphan3 = h.recorded().unwrap();
    assert_ne!(orphan3["session_id"], orphan["session_id"]);
    let state = &h.states(std::slice::from_ref(&orphan3))[0];
    assert_eq!(state["active"], true, "run 3's query runs on: {state}");
    h.orphans.push(orphan3);
    h.assert_no_duplicates("after run 3");

    // 4. The source stops growing; a run with the shipped available-now trigger stops run 3's
    //    query and catches up.
    let produced = producer.finish();
    h.trigger("available_now");
    let run = h.run(&["exec"]);
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["stopped_by"], "available_now finished", "{report}");
    assert_eq!(h.recorded(), None, "a finished run leaves nothing recorded");
    let states = h.states(&h.orphans);
    assert!(
        states.iter().all(|s| s["active"] == false),
        "no query of a killed run is left running: {states:?}"
    );
    h.orphans.clear();

    let mut expected = shipped_rows();
    expected.extend(produced);
    expected.sort();
    let sink = h.sink_rows();
    eprintln!(
        "sink: {} rows, source: {} joined rows",
        sink.len(),
        expected.len()
    );
    assert_eq!(sink.len(), expected.len(), "rows lost or duplicated");
    assert_eq!(sink, expected, "the sink differs from the source");
}

/// Runs at once.
const RUNS: usize = 20;

/// Rows of each run's source.
const ROWS: u64 = 200;

/// A project whose nodes, inputs and outputs have the same names as every other's, and
/// whose source holds only its own ids (`n * 1,000,000 + 1..=ROWS`) and tag `project-n`.
fn load_project(n: u64) -> Project {
    let p = Project::new(
        "project_name: load\ninput_path: data\noutput_path: out\nmax_workers: 2\n",
        "load:\n  type: batch\n  requires_dates: false\n  nodes: [clean, totals, buckets]\n",
        "clean:\n  input: [events]\n  output: [cleaned]\n  sql: SELECT id, tag FROM events WHERE id IS NOT NULL\n\
         totals:\n  input: [cleaned]\n  output: [summary]\n  dependencies: [clean]\n  \
         sql: SELECT tag, count(*) AS n, min(id) AS lo, max(id) AS hi, sum(id) AS total FROM cleaned GROUP BY tag\n\
         buckets:\n  input: [events]\n  output: [by_bucket]\n  \
         sql: SELECT tag, id % 5 AS bucket, count(*) AS n FROM events GROUP BY tag, id % 5\n",
        "events:\n  format: csv\n  filepath: events.csv\n  schema: \"id BIGINT, tag STRING\"\n  options: { header: true }\n",
        "cleaned: { format: parquet, filepath: cleaned }\n\
         summary: { format: parquet, filepath: summary }\n\
         by_bucket: { format: parquet, filepath: by_bucket }\n",
    );
    let mut csv = String::from("id,tag\n");
    for id in 1..=ROWS {
        csv.push_str(&format!("{},project-{n}\n", n * 1_000_000 + id));
    }
    p.write("data/events.csv", &csv);
    p
}

fn load_args(p: &Project, remote: &str) -> Vec<String> {
    [
        "--output",
        "json",
        "exec",
        "--project",
        &p.arg(),
        "-p",
        "load",
        "--remote",
        remote,
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// One row per project and output: what the output of project `n` holds, grouped by tag.
fn load_outputs(remote: &str, projects: &[Project], output: &str, select: &str) -> Vec<Value> {
    let union: Vec<String> = projects
        .iter()
        .enumerate()
        .map(|(n, p)| {
            format!(
                "SELECT {n} AS project, {select} FROM parquet.`{}` GROUP BY tag",
                p.path().join("out").join(output).display()
            )
        })
        .collect();
    query_json(
        remote,
        &format!("{} ORDER BY project", union.join(" UNION ALL ")),
    )
}

/// 20 `tauro-cli exec` at once against one server, on projects with the same node, input
/// and output names (so the same temp view names) but their own data: every run succeeds,
/// every output holds exactly its own project's rows (a temp view shared between runs would
/// mix them), and no process grows beyond a bound.
///
/// The memory bound: a batch run keeps no data rows in `tauro-cli` (the writes run on the
/// server; only plans, metrics and the report cross the wire), so its peak resident set is
/// the binary, its runtimes and gRPC buffers, the same with 1 or 20 runs on the server.
/// Each concurrent run must stay within twice the peak of the same run alone, and under
/// 256 MiB in any case.
#[test]
fn twenty_concurrent_runs_on_one_server_keep_their_own_data_and_bounded_memory() {
    let Some(remote) = spark_remote() else { return };
    let alone = load_project(RUNS as u64);
    let solo = tauro_concurrently(&[load_args(&alone, &remote)], Duration::from_secs(300));
    assert_eq!(solo[0].run.code, 0, "{:?}", solo[0].run);
    let solo_kib = solo[0].peak_rss_kib;
    assert!(solo_kib > 0, "no VmHWM read for the solo run");

    let projects: Vec<Project> = (0..RUNS as u64).map(load_project).collect();
    let args: Vec<Vec<String>> = projects.iter().map(|p| load_args(p, &remote)).collect();
    let started = Instant::now();
    let runs = tauro_concurrently(&args, Duration::from_secs(600));
    let wall = started.elapsed();
    for (n, m) in runs.iter().enumerate() {
        assert_eq!(m.run.code, 0, "run {n}: {:?}", m.run);
        let report = m.run.json();
        assert_eq!(report["status"], "succeeded", "run {n}: {report}");
        let nodes = report["nodes"].as_array().unwrap();
        assert_eq!(nodes.len(), 3, "run {n}: {report}");
        assert!(
            nodes.iter().all(|node| node["status"] == "completed"),
            "run {n}: {report}"
        );
    }
    let peaks: Vec<u64> = runs.iter().map(|m| m.peak_rss_kib).collect();
    let secs: Vec<f64> = runs.iter().map(|m| m.run.elapsed.as_secs_f64()).collect();
    eprintln!(
        "{RUNS} concurrent runs: wall {:.1} s, per run {:.1}..{:.1} s; peak RSS (KiB) solo {solo_kib} \
         ({:.1} s), concurrent min {} max {}: {peaks:?}",
        wall.as_secs_f64(),
        secs.iter().copied().fold(f64::INFINITY, f64::min),
        secs.iter().copied().fold(0.0, f64::max),
        solo[0].run.elapsed.as_secs_f64(),
        peaks.iter().min().unwrap(),
        peaks.iter().max().unwrap(),
    );
    for (n, &kib) in peaks.iter().enumerate() {
        assert!(kib > 0, "run {n}: no VmHWM read");
        assert!(
            kib <= 2 * solo_kib && kib < 256 * 1024,
            "run {n}: peak RSS {kib} KiB (alone: {solo_kib} KiB)"
        );
    }

    // Each output holds its own project's rows and nothing else.
    let base = |n: usize| u64::try_from(n).unwrap() * 1_000_000;
    let cleaned = load_outputs(
        &remote,
        &projects,
        "cleaned",
        "tag, count(*) AS n, count(DISTINCT id) AS d, min(id) AS lo, max(id) AS hi",
    );
    let summary = load_outputs(
        &remote,
        &projects,
        "summary",
        "tag, sum(n) AS n, min(lo) AS lo, max(hi) AS hi, sum(total) AS total",
    );
    let buckets = load_outputs(
        &remote,
        &projects,
        "by_bucket",
        "tag, sum(n) AS n, count(*) AS buckets",
    );
    assert_eq!(cleaned.len(), RUNS, "one tag per output: {cleaned:?}");
    assert_eq!(summary.len(), RUNS, "one tag per output: {summary:?}");
    assert_eq!(buckets.len(), RUNS, "one tag per output: {buckets:?}");
    for n in 0..RUNS {
        let tag = format!("project-{n}");
        let (lo, hi) = (base(n) + 1, base(n) + ROWS);
        assert_eq!(
            cleaned[n],
            json!({"project": n, "tag": tag, "n": ROWS, "d": ROWS, "lo": lo, "hi": hi})
        );
        assert_eq!(
            summary[n],
            json!({"project": n, "tag": tag, "n": ROWS, "lo": lo, "hi": hi,
                   "total": (lo + hi) * ROWS / 2})
        );
        assert_eq!(
            buckets[n],
            json!({"project": n, "tag": tag, "n": ROWS, "buckets": 5})
        );
    }
}
