//! Orchestration through the real binary on the real Spark server: scheduled runs seen in
//! the run list and in `/metrics`, a killed runner's orphan handled by the next start, and
//! two schedulers sharing one PostgreSQL store without firing a tick twice.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use integration_tests::{Project, copy_dir, spark_remote, spawn_tauro, tauro, workspace_root};
use serde_json::Value;

/// `tauro-cli --output json ARGS`, which must succeed; its JSON.
fn ok_json(args: &[&str], envs: &[(&str, &str)]) -> Value {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    let run = tauro(&all, envs);
    assert_eq!(run.code, 0, "tauro-cli {args:?} failed:\n{run:?}");
    run.json()
}

/// A background `tauro-cli`, killed (SIGKILL) and reaped on drop, also when a test fails.
struct Background(Child);

impl Background {
    fn spawn(args: &[&str], capture_stdout: bool) -> Self {
        Self(spawn_tauro(args, capture_stdout))
    }

    /// Kills the process at once (no graceful stop) and waits for it.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for the process to exit; its stdout as JSON.
    fn json(mut self) -> Value {
        let mut out = String::new();
        if let Some(mut stdout) = self.0.stdout.take() {
            stdout.read_to_string(&mut out).unwrap();
        }
        let status = self.0.wait().unwrap();
        assert!(status.success(), "{status}: {out}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.kill();
    }
}

fn time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

// --- HTTP -------------------------------------------------------------------------------

/// `GET path` on 127.0.0.1:`port`: the status code and the body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP response: {response}"));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    (code, body.to_string())
}

/// The value of the Prometheus sample `series` (name and labels, as printed).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(series)?.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}

/// The port of `serve --port 0`, read from its first line of stdout.
fn served_port(server: &mut Background) -> u16 {
    let stdout = server.0.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    line.split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("serve printed no address: {line:?}"))
}

// --- 1. A scheduled example, seen in the run list and in /metrics ---------------------------

#[test]
fn scheduled_daily_etl_is_visible_in_run_list_and_metrics() {
    let Some(remote) = spark_remote() else { return };
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    copy_dir(&workspace_root().join("examples/daily_etl"), &project);
    let project = project.display().to_string();
    let out = dir.path().join("out");
    let out_arg = out.display().to_string();
    let envs = [("DAILY_ETL_OUTPUT", out_arg.as_str())];

    let schedule = ok_json(
        &[
            "schedule",
            "add",
            "--project",
            &project,
            "--pipeline",
            "daily_etl",
            "--every",
            "5s",
            "--window",
            "none",
        ],
        &envs,
    );
    let schedule_id = schedule["id"].as_str().unwrap().to_string();
    // Ticks at +5 s and +10 s. `--max-runs 2` instead of a bare `--for 14s`: with the
    // default max_concurrency of 1, a run slower than 5 s on a busy server rightly skips
    // the next tick, and a bare `--for 14s` would then see one run.
    let started = Instant::now();
    let scheduler = ok_json(
        &[
            "schedule",
            "start",
            "--project",
            &project,
            "--for",
            "40s",
            "--max-runs",
            "2",
            "--remote",
            &remote,
        ],
        &envs,
    );
    eprintln!(
        "scheduler: {scheduler} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(scheduler["finished_runs"], 2, "{scheduler}");

    let runs = ok_json(
        &[
            "run",
            "list",
            "--project",
            &project,
            "--pipeline",
            "daily_etl",
        ],
        &[],
    );
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    let mut fires = Vec::new();
    for run in runs {
        assert_eq!(run["state"], "success", "{run}");
        assert_eq!(run["schedule_id"], schedule_id.as_str(), "{run}");
        fires.push(time(&run["fire_time"]));
        let id = run["id"].as_str().unwrap();
        let tasks = ok_json(&["run", "tasks", "--project", &project, id], &[]);
        let tasks = tasks.as_array().unwrap();
        assert_eq!(tasks.len(), 8, "{tasks:?}");
        assert!(tasks.iter().all(|t| t["state"] == "success"), "{tasks:?}");
    }
    fires.sort();
    eprintln!("daily_etl fired at {fires:?}");
    assert_eq!(
        (fires[1] - fires[0]).num_milliseconds() % 5000,
        0,
        "{fires:?}"
    );
    assert!(out.join("gold/daily_revenue").is_dir());

    let mut server = Background::spawn(&["serve", "--project", &project, "--port", "0"], true);
    let port = served_port(&mut server);
    let (code, metrics) = http_get(port, "/metrics");
    assert_eq!(code, 200, "{metrics}");
    assert_eq!(
        sample(&metrics, "tauro_runs{state=\"success\"}"),
        Some(2.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "tauro_tasks{state=\"success\"}"),
        Some(16.0),
        "{metrics}"
    );
    let lag = format!("tauro_scheduler_lag_seconds{{schedule=\"{schedule_id}\"}}");
    assert!(
        sample(&metrics, &lag).is_some_and(|s| s >= 0.0),
        "{metrics}"
    );
    let (code, health) = http_get(port, "/health");
    assert_eq!(code, 200, "{health}");
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["healthy"], true, "{health}");
    let (code, listed) = http_get(port, "/runs");
    assert_eq!(code, 200, "{listed}");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    let id = runs[0]["id"].as_str().unwrap();
    let (code, one) = http_get(port, &format!("/runs/{id}"));
    assert_eq!(code, 200, "{one}");
    let one: Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["run"]["id"], id, "{one}");
    server.kill();
}

// --- 2. A killed runner leaves an orphan -----------------------------------------------------

/// How long the slow node's Spark task runs. It sleeps instead of computing: the 2-core
/// test server stays free for other tests, and the time is the same on every machine
/// (`count(*)` over a 2·10⁹-row `range` took only ~1.5 s here, too short to catch).
const SLEEP_MS: u64 = 8_000;

fn slow_project() -> Project {
    let nodes = format!(
        "spin:\n  output: [slept]\n  \
         sql: SELECT reflect('java.lang.Thread', 'sleep', CAST({SLEEP_MS} AS BIGINT)) AS slept\n\
         quick:\n  sql: SELECT 1 AS x\n"
    );
    Project::new(
        "project_name: orphans\ninput_path: data\noutput_path: out\n",
        "slow:\n  requires_dates: false\n  nodes: [spin]\n\
         quick:\n  requires_dates: false\n  nodes: [quick]\n",
        &nodes,
        "{}\n",
        "slept: { format: parquet, filepath: slept }\n",
    )
}

fn status(project: &str, id: &str) -> Value {
    ok_json(&["run", "status", "--project", project, id], &[])
}

fn has_running_task(status: &Value) -> bool {
    status["tasks"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t["state"] == "running"))
}

/// Starts a slow run, SIGKILLs its runner while its node runs, then starts a quick run with
/// `--orphans policy` once the lease expired. Returns the orphan as stored afterwards.
fn kill_and_recover(remote: &str, policy: &str) -> Value {
    let p = slow_project();
    let project = p.arg();
    let created = ok_json(
        &["run", "create", "--project", &project, "--pipeline", "slow"],
        &[],
    );
    let orphan = created["id"].as_str().unwrap().to_string();
    let lease = ["--heartbeat", "1s", "--lease", "3s"];
    let mut args = vec!["run", "start", "--project", &project, &orphan];
    args.extend_from_slice(&lease);
    args.extend_from_slice(&["--remote", remote]);
    let mut runner = Background::spawn(&args, false);

    let started = Instant::now();
    loop {
        let now = status(&project, &orphan);
        if now["run"]["state"] == "running" && has_running_task(&now) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the run never ran: {now}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    runner.kill();
    let killed = Instant::now();
    // Nothing told the store: the run still looks like it runs.
    let before = status(&project, &orphan);
    assert_eq!(before["run"]["state"], "running", "{before}");

    // The next start, once the lease (3 s) expired, handles it before its own run. It must
    // pass `--heartbeat 1s` too: the CLI raises the lease to twice the heartbeat (5 s by
    // default), so `--lease 3s` alone means 10 s.
    std::thread::sleep(Duration::from_millis(3_500));
    let next = ok_json(
        &[
            "run",
            "create",
            "--project",
            &project,
            "--pipeline",
            "quick",
        ],
        &[],
    );
    let next = next["id"].as_str().unwrap();
    let mut args = vec![
        "--output",
        "json",
        "run",
        "start",
        "--project",
        &project,
        next,
    ];
    args.extend_from_slice(&lease);
    args.extend_from_slice(&["--orphans", policy, "--remote", remote]);
    let run = tauro(&args, &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json()["run"]["state"], "success", "{run:?}");
    assert!(
        run.stderr
            .contains(&format!("recovered orphaned run {orphan}")),
        "{run:?}"
    );

    let after = status(&project, &orphan);
    assert!(!has_running_task(&after), "{after}");
    let error = after["run"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("orphaned"), "{after}");

    // The kill did not stop the Spark work: the killed runner's write still lands. Wait for
    // it (the temp project must outlive it) and say how long it ran on.
    let success = p.path().join("out/slept/_SUCCESS");
    let deadline = Duration::from_millis(SLEEP_MS) + Duration::from_secs(30);
    while !success.exists() && killed.elapsed() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "orphans {policy}: the killed runner's Spark job {} {:.1}s after the kill",
        if success.exists() {
            "finished its write"
        } else {
            "had not written"
        },
        killed.elapsed().as_secs_f64()
    );
    after
}

#[test]
fn killed_runner_leaves_an_orphan_that_the_next_start_handles() {
    let Some(remote) = spark_remote() else { return };

    let failed = kill_and_recover(&remote, "fail");
    assert_eq!(failed["run"]["state"], "failed", "{failed}");
    let task = &failed["tasks"][0];
    assert_eq!(task["state"], "failed", "{failed}");
    assert!(
        task["error"]
            .as_str()
            .is_some_and(|e| e.contains("orphaned")),
        "{failed}"
    );

    let requeued = kill_and_recover(&remote, "requeue");
    assert_eq!(requeued["run"]["state"], "queued", "{requeued}");
}

// --- 3. Two schedulers on one PostgreSQL store ---------------------------------------------

/// A fresh PostgreSQL schema, dropped on drop (as in tauro-orchest's store tests).
struct PgSchema {
    admin_url: String,
    name: String,
    /// A store URL whose connections use only this schema.
    url: String,
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

impl PgSchema {
    /// A new schema, or `None` (skip) when PostgreSQL is unreachable and not required.
    fn create() -> Option<Self> {
        use sqlx::Connection;
        let admin_url = std::env::var("TAURO_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_string());
        let name = format!("t_{:016x}", rand::random::<u64>());
        let created = block_on(async {
            let connect = sqlx::PgConnection::connect(&admin_url);
            let mut conn = match tokio::time::timeout(Duration::from_secs(5), connect).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("no answer in 5 s".to_string()),
            };
            sqlx::raw_sql(&format!("CREATE SCHEMA {name}"))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            let _ = conn.close().await;
            Ok(())
        });
        if let Err(why) = created {
            assert!(
                !std::env::var("TAURO_REQUIRE_POSTGRES").is_ok_and(|v| v == "1"),
                "TAURO_REQUIRE_POSTGRES=1 but PostgreSQL at {admin_url} is unreachable: {why}"
            );
            eprintln!("skipping: PostgreSQL at {admin_url} is unreachable ({why})");
            return None;
        }
        let sep = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{sep}options=-c%20search_path%3D{name}");
        Some(Self {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        use sqlx::Connection;
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let dropped = block_on(async {
            let mut conn = sqlx::PgConnection::connect(&self.admin_url).await.ok()?;
            let done = sqlx::raw_sql(&sql).execute(&mut conn).await.ok();
            let _ = conn.close().await;
            done
        });
        if dropped.is_none() {
            eprintln!("could not drop test schema {}", self.name);
        }
    }
}

/// Checks one schedule's runs: fire times unique, `step` apart with no gap, the first
/// within a step of the schedulers' start and the last within a step of their stop.
fn check_ticks(
    what: &str,
    runs: &[&Value],
    step: chrono::Duration,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) {
    let mut fires: Vec<DateTime<Utc>> = runs.iter().map(|r| time(&r["fire_time"])).collect();
    fires.sort();
    let unique: BTreeSet<_> = fires.iter().collect();
    assert_eq!(
        unique.len(),
        fires.len(),
        "{what}: a tick fired twice: {fires:?}"
    );
    for pair in fires.windows(2) {
        assert_eq!(pair[1] - pair[0], step, "{what}: ticks lost: {fires:?}");
    }
    let slack = chrono::Duration::seconds(3);
    let (first, last) = (fires[0], fires[fires.len() - 1]);
    assert!(
        first <= from + step + slack,
        "{what}: late first tick: {fires:?}"
    );
    assert!(
        last >= to - step - slack,
        "{what}: early last tick: {fires:?}"
    );
}

#[test]
fn two_schedulers_on_postgres_never_fire_a_tick_twice() {
    let Some(remote) = spark_remote() else { return };
    let Some(schema) = PgSchema::create() else {
        return;
    };
    let store = schema.url.as_str();
    let p = Project::new(
        "project_name: ticks\ninput_path: data\noutput_path: out\n",
        "tick:\n  requires_dates: false\n  nodes: [one]\n",
        "one:\n  sql: SELECT 1 AS x\n",
        "{}\n",
        "{}\n",
    );
    let project = p.arg();
    let mut steps = BTreeMap::new();
    for (how, spec, secs) in [
        ("--every", "4s", 4),
        ("--every", "6s", 6),
        ("--cron", "*/5 * * * * *", 5),
    ] {
        let s = ok_json(
            &[
                "schedule",
                "add",
                "--project",
                &project,
                "--store",
                store,
                "--pipeline",
                "tick",
                how,
                spec,
                "--max-concurrency",
                "2",
            ],
            &[],
        );
        steps.insert(s["id"].as_str().unwrap().to_string(), secs);
    }

    let from = Utc::now();
    let args = [
        "--output",
        "json",
        "schedule",
        "start",
        "--project",
        &project,
        "--store",
        store,
        "--for",
        "60s",
        "--remote",
        &remote,
    ];
    let schedulers = [
        Background::spawn(&args, true),
        Background::spawn(&args, true),
    ];
    let finished: Vec<u64> = schedulers
        .into_iter()
        .map(|s| s.json()["finished_runs"].as_u64().unwrap())
        .collect();
    let to = Utc::now();

    let runs = ok_json(
        &[
            "run",
            "list",
            "--project",
            &project,
            "--store",
            store,
            "--limit",
            "1000",
        ],
        &[],
    );
    let runs = runs.as_array().unwrap();
    let mut by_owner = BTreeMap::<&str, usize>::new();
    for run in runs {
        assert_eq!(run["state"], "success", "{run}");
        *by_owner.entry(run["owner"].as_str().unwrap()).or_default() += 1;
    }
    for (id, secs) in &steps {
        let mine: Vec<&Value> = runs.iter().filter(|r| r["schedule_id"] == *id).collect();
        let lag = mine
            .iter()
            .map(|r| (time(&r["created_at"]) - time(&r["fire_time"])).num_milliseconds())
            .max()
            .unwrap_or_default();
        eprintln!(
            "schedule every {secs}s: {} runs, largest lag {lag} ms",
            mine.len()
        );
        check_ticks(id, &mine, chrono::Duration::seconds(*secs), from, to);
    }
    eprintln!(
        "{} runs; executed per owner: {by_owner:?}; finished_runs reported: {finished:?}",
        runs.len()
    );
    assert_eq!(by_owner.len(), 2, "the work was not shared: {by_owner:?}");
    // Each scheduler reports the runs it executed; together, every run once.
    assert_eq!(
        finished.iter().sum::<u64>(),
        runs.len() as u64,
        "finished_runs {finished:?} vs runs per owner {by_owner:?}"
    );
}
