//! Hybrid and streaming pipelines through the CLI on the real Spark server.

use std::path::Path;

use integration_tests::{Project, copy_dir, spark_remote, spark_rows, tauro, workspace_root};

fn hybrid_copy(dir: &Path) -> String {
    copy_dir(&workspace_root().join("examples/hybrid"), dir);
    dir.display().to_string()
}

/// Switches the hybrid example copy's stream to a 1-second processing-time trigger; returns
/// the nodes file and its original text.
fn processing_time(dir: &Path) -> (std::path::PathBuf, String) {
    let nodes = dir.join("config/nodes.yaml");
    let yaml = std::fs::read_to_string(&nodes).unwrap();
    assert!(yaml.contains("trigger: available_now"));
    let edited = yaml.replace("trigger: available_now", "trigger: \"1 second\"");
    std::fs::write(&nodes, edited).unwrap();
    (nodes, yaml)
}

#[test]
fn hybrid_example_runs_batch_then_stream_and_restarts_without_duplicates() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = hybrid_copy(dir.path());
    let events = dir.path().join("events.jsonl");
    let global = dir.path().join("config/global_settings.yaml");
    let settings = std::fs::read_to_string(&global).unwrap();
    let hook = format!(
        "{settings}\nhooks:\n  - {{type: file, path: \"{}\"}}\n",
        events.display()
    );
    std::fs::write(&global, hook).unwrap();
    let args = [
        "--output",
        "json",
        "exec",
        "--project",
        &project,
        "-p",
        "sales_stream",
        "--remote",
        &remote,
    ];

    let run = tauro(&args, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["status"], "succeeded", "{report}");
    assert_eq!(report["batch"]["nodes"][0]["status"], "completed");
    assert_eq!(report["streams"][0]["input_rows"], 8, "{report}");
    let sink = dir.path().join("out/stream/enriched_sales");
    assert_eq!(spark_rows(&remote, "parquet", &sink), 7);
    assert!(
        dir.path()
            .join("out/_checkpoints/sales_stream/enrich_events")
            .is_dir()
    );
    // Micro-batch progress reaches the hooks as stream_progress events.
    let log = std::fs::read_to_string(&events).unwrap();
    assert!(log.contains("\"event\":\"stream_progress\""), "{log}");

    // A new event file arrives: the restarted query reads only it, from the checkpoint.
    std::fs::write(
        dir.path().join("data/events/events-0004.json"),
        "{\"event_id\": 900, \"product_id\": \"P01\", \"quantity\": 2, \"event_ts\": \"2025-01-02T10:00:00\"}\n",
    )
    .unwrap();
    let again = tauro(&args, &[]);
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["streams"][0]["input_rows"], 1);
    assert_eq!(spark_rows(&remote, "parquet", &sink), 8);

    // Nothing new: nothing added.
    let idle = tauro(&args, &[]);
    assert_eq!(idle.code, 0, "{idle:?}");
    assert_eq!(spark_rows(&remote, "parquet", &sink), 8);
}

#[test]
fn a_batch_failure_starts_no_stream() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = hybrid_copy(dir.path());
    std::fs::remove_file(dir.path().join("data/products.csv")).unwrap();
    let run = tauro(
        &[
            "--output",
            "json",
            "exec",
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    assert_eq!(report["stopped_by"], "batch failed", "{report}");
    assert!(!dir.path().join("out/stream/enriched_sales").exists());
}

#[test]
fn streaming_validation_errors_name_the_node_and_file() {
    let Some(remote) = spark_remote() else { return };
    // A streaming source without a schema, and two queries sharing one checkpoint.
    let p = Project::new(
        "project_name: s\ninput_path: data\noutput_path: /tmp/tauro-stream-validation-out\n",
        "p:\n  type: streaming\n  requires_dates: false\n  nodes: [a, b]\n",
        "a:\n  input: [events]\n  output: [o1]\n  sql: SELECT * FROM events\n  streaming:\n    trigger: available_now\n    checkpoint_location: /tmp/tauro-shared-ck\n\
         b:\n  input: [events]\n  output: [o2]\n  sql: SELECT * FROM events\n  streaming:\n    trigger: available_now\n    checkpoint_location: /tmp/tauro-shared-ck\n",
        "events:\n  format: json\n  filepath: events\n",
        "o1: { format: parquet, filepath: o1 }\no2: { format: parquet, filepath: o2 }\n",
    );
    p.write("data/events/e.json", "{\"id\": 1}\n");
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
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("schema"), "{}", run.stderr);
    assert!(run.stderr.contains("checkpoint"), "{}", run.stderr);
    assert!(run.stderr.contains("nodes.yaml"), "{}", run.stderr);
}

#[test]
fn a_killed_stream_restarts_from_its_checkpoint_without_loss_or_duplicates() {
    use std::time::{Duration, Instant};

    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = hybrid_copy(dir.path());
    let (nodes, yaml) = processing_time(dir.path());

    let mut child = integration_tests::spawn_tauro(
        &[
            "exec",
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &remote,
            "--timeout",
            "3m",
        ],
        false,
    );
    // Wait for the first committed micro-batch of the stream.
    let commits = dir
        .path()
        .join("out/_checkpoints/sales_stream/enrich_events/commits/0");
    let started = Instant::now();
    while !commits.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the stream never committed a batch"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let event = |id: u32, product: &str| {
        format!(
            "{{\"event_id\": {id}, \"product_id\": \"{product}\", \"quantity\": 1, \"event_ts\": \"2025-01-03T10:00:00Z\"}}\n"
        )
    };
    std::fs::write(
        dir.path().join("data/events/events-0004.json"),
        event(901, "P01") + &event(902, "P02"),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap(); // SIGKILL: no graceful stop
    child.wait().unwrap();

    // More data while nothing runs, then a restart that finishes what is available.
    std::fs::write(
        dir.path().join("data/events/events-0005.json"),
        event(903, "P03"),
    )
    .unwrap();
    std::fs::write(&nodes, yaml).unwrap();
    let run = tauro(
        &[
            "--output",
            "json",
            "exec",
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    // 7 joined rows from the shipped events + 3 new ones, each exactly once.
    let sink = dir.path().join("out/stream/enriched_sales");
    assert_eq!(spark_rows(&remote, "parquet", &sink), 10);
}

#[test]
fn async_mode_leaves_queries_running_for_stream_status_and_stop() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = hybrid_copy(dir.path());
    processing_time(dir.path());

    let run = tauro(
        &[
            "--output",
            "json",
            "exec",
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &remote,
            "--mode",
            "async",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["stopped_by"], "detached");

    // Another process finds the query running and sees it process a new file.
    std::fs::write(
        dir.path().join("data/events/events-0009.json"),
        "{\"event_id\": 990, \"product_id\": \"P01\", \"quantity\": 1, \"event_ts\": \"2025-01-04T10:00:00Z\"}\n",
    )
    .unwrap();
    let status = tauro(
        &[
            "--output",
            "json",
            "stream",
            "status",
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(status.code, 0, "{status:?}");
    assert_eq!(status.json()[0]["active"], true, "{}", status.stdout);
    let sink = dir.path().join("out/stream/enriched_sales");
    let started = std::time::Instant::now();
    while !sink.join("_spark_metadata/0").exists() || spark_rows(&remote, "parquet", &sink) < 8 {
        assert!(
            started.elapsed().as_secs() < 60,
            "the detached query did not pick up the new file"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }

    let stop = tauro(
        &[
            "--output",
            "json",
            "stream",
            "stop",
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(stop.code, 0, "{stop:?}");
    assert_eq!(stop.json()[0]["stopped"], true, "{}", stop.stdout);
    let after = tauro(
        &[
            "--output",
            "json",
            "stream",
            "status",
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(
        after.json().as_array().map(Vec::len),
        Some(0),
        "{}",
        after.stdout
    );
}

#[test]
fn stream_stop_from_another_process_ends_a_waiting_run() {
    use std::time::{Duration, Instant};

    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = hybrid_copy(dir.path());
    processing_time(dir.path());

    let child = integration_tests::spawn_tauro(
        &[
            "--output",
            "json",
            "exec",
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &remote,
            "--timeout",
            "5m",
        ],
        true,
    );
    let registry = dir.path().join(".tauro/streams.json");
    let started = Instant::now();
    while !registry.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never recorded its queries"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let stop = tauro(
        &[
            "stream",
            "stop",
            "--project",
            &project,
            "-p",
            "sales_stream",
            "--remote",
            &remote,
        ],
        &[],
    );
    assert_eq!(stop.code, 0, "{stop:?}");
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(180),
        "the run did not end after stream stop"
    );
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["stopped_by"], "stopped", "{report}");
}

#[test]
fn a_streaming_node_computed_by_a_registered_function() {
    let Some(remote) = spark_remote() else { return };
    let out = tempfile::tempdir().unwrap();
    let p = Project::new(
        &format!(
            "project_name: f\ninput_path: data\noutput_path: {}\n",
            out.path().display()
        ),
        "p:\n  type: streaming\n  requires_dates: false\n  nodes: [big]\n",
        "big:\n  input: [events]\n  output: [big_events]\n  function: filter\n  params: {condition: \"quantity >= 2\"}\n  streaming:\n    trigger: available_now\n",
        "events:\n  format: json\n  filepath: events\n  schema: \"id INT, quantity INT\"\n",
        "big_events: { format: parquet, filepath: big }\n",
    );
    p.write("data/events/a.json", "{\"id\": 1, \"quantity\": 1}\n{\"id\": 2, \"quantity\": 2}\n{\"id\": 3, \"quantity\": 5}\n");
    let run = tauro(
        &[
            "--output",
            "json",
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
    // (Spark pushes the filter into the JSON scan, so its input row count may already be 2.)
    assert!(run.json()["streams"][0]["input_rows"].as_u64().unwrap() >= 2);
    assert_eq!(spark_rows(&remote, "parquet", &out.path().join("big")), 2);
}
