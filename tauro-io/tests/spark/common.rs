//! The shared Spark Connect server of this test binary, and helpers to build contexts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::NaiveDate;
use indexmap::IndexMap;
use tauro_config::{
    Context, DataFormat, DateWindow, GlobalSettings, InputConfig, Location, OutputConfig,
    SparkSettings, WriteMode,
};
use tauro_io::{EngineOptions, LocalServer, LocalServerOptions, Session, SparkEngine};

/// Where the shared server lives: `None` when Spark is unavailable and tests skip.
static REMOTE: OnceLock<Option<String>> = OnceLock::new();

fn require_spark() -> bool {
    std::env::var("TAURO_REQUIRE_SPARK").is_ok_and(|v| v == "1")
}

/// The remote of the shared server: `TAURO_SPARK_REMOTE`, or one `LocalServer` started for
/// this test binary. `None` (test skips) when no Spark is found, unless
/// `TAURO_REQUIRE_SPARK=1`, which makes it fail.
pub fn remote() -> Option<String> {
    REMOTE.get_or_init(init_remote).clone()
}

fn init_remote() -> Option<String> {
    if let Ok(remote) = std::env::var("TAURO_SPARK_REMOTE")
        && !remote.trim().is_empty()
    {
        return Some(remote);
    }
    if let Err(e) = tauro_io::find_spark_home() {
        if require_spark() {
            panic!("TAURO_REQUIRE_SPARK=1 but no Spark was found: {e}");
        }
        eprintln!("skipping Spark tests: {e}");
        return None;
    }
    // Start on a thread with its own runtime that outlives no test: the server must live
    // for the whole binary. A watchdog stops it once this process exits.
    let started = std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            LocalServer::start(LocalServerOptions {
                state_dir: state_dir(),
                start_timeout: Duration::from_secs(180),
                ..LocalServerOptions::default()
            })
            .await
        })
    })
    .join()
    .expect("server thread");
    match started {
        Ok(server) => {
            let remote = server.remote();
            watchdog(server.pid(), &state_dir());
            // The watchdog owns the server's lifetime from here.
            std::mem::forget(server);
            Some(remote)
        }
        Err(e) => panic!(
            "could not start the test Spark Connect server: {e}\nhint: {:?}",
            e.hint()
        ),
    }
}

/// The shared server's logs, warehouse and temp files.
fn state_dir() -> PathBuf {
    std::env::temp_dir().join(format!("tauro-io-tests-{}", std::process::id()))
}

/// Stops `pid` once this test process is gone, then removes its state directory.
fn watchdog(pid: u32, state: &std::path::Path) {
    let me = std::process::id();
    let state = state.display();
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill -TERM {pid} 2>/dev/null; \
         for i in $(seq 1 60); do kill -0 {pid} 2>/dev/null || break; sleep 0.5; done; \
         kill -KILL {pid} 2>/dev/null; rm -rf '{state}'"
    );
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// An engine on the shared server, or `None` to skip.
pub async fn engine() -> Option<SparkEngine> {
    let remote = tokio::task::spawn_blocking(remote).await.expect("remote")?;
    Some(
        SparkEngine::connect(&remote, EngineOptions::default())
            .await
            .expect("connect to the shared Spark Connect server"),
    )
}

/// A fresh session on the shared server, or `None` to skip.
pub async fn session() -> Option<Session> {
    Some(engine().await?.new_session().await.expect("new session"))
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

pub fn window(start: &str, end: &str) -> DateWindow {
    DateWindow {
        start: date(start),
        end: date(end),
    }
}

fn loc() -> Location {
    Location {
        file: PathBuf::from("<test>"),
        line: 0,
    }
}

/// An input with only the format and path set.
pub fn input(name: &str, format: DataFormat, filepath: Option<String>) -> InputConfig {
    InputConfig {
        name: name.into(),
        format,
        filepath,
        table: None,
        query: None,
        options: BTreeMap::new(),
        schema: None,
        date_column: None,
        partition_filter: None,
        expectations: Vec::new(),
        kafka: None,
        location: loc(),
    }
}

/// An output with only the format, path and mode set.
pub fn output(
    name: &str,
    format: DataFormat,
    filepath: Option<String>,
    mode: WriteMode,
) -> OutputConfig {
    OutputConfig {
        name: name.into(),
        format,
        filepath,
        table: None,
        table_format: None,
        write_mode: mode,
        partition_by: Vec::new(),
        options: BTreeMap::new(),
        kafka: None,
        delta: None,
        location: loc(),
    }
}

/// A context holding these datasets.
pub fn context(inputs: Vec<InputConfig>, outputs: Vec<OutputConfig>) -> Context {
    Context {
        env: "test".into(),
        project_dir: std::env::temp_dir(),
        global: GlobalSettings {
            project_name: "tauro-io-tests".into(),
            input_path: String::new(),
            output_path: String::new(),
            mode: "local".into(),
            spark: SparkSettings::default(),
            start_date: None,
            end_date: None,
            max_workers: 4,
            max_retries: 0,
            retry_delay: Duration::from_secs(1),
            node_timeout: None,
            circuit_breaker_threshold: 5,
            continue_on_error: false,
            hooks: Vec::new(),
            lineage: Default::default(),
            extra: IndexMap::new(),
        },
        pipelines: IndexMap::new(),
        nodes: IndexMap::new(),
        inputs: inputs.into_iter().map(|i| (i.name.clone(), i)).collect(),
        outputs: outputs.into_iter().map(|o| (o.name.clone(), o)).collect(),
    }
}

/// A unique temp directory (removed on drop).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// `path` as the string form Spark wants.
pub fn path_str(p: &std::path::Path) -> String {
    p.display().to_string()
}
