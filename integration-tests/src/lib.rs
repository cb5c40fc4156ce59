//! Helpers for the end-to-end tests in `tests/`: the real `tauro-cli` binary, the Spark
//! Connect server of the test run, and small projects written to temp directories.
#![allow(clippy::expect_used, clippy::panic, reason = "test support code")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `tauro-cli` binary of this workspace, built on first use if missing.
pub fn tauro_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "tauro-cli"])
            .current_dir(&root)
            .status()
            .expect("cargo build runs");
        assert!(status.success(), "building tauro-cli failed");
        target.join("debug").join("tauro-cli")
    })
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The Spark Connect server of the test run (`TAURO_SPARK_REMOTE`, set by `scripts/test.sh`).
/// `None` means skip; with `TAURO_REQUIRE_SPARK=1` a missing server fails the test instead.
pub fn spark_remote() -> Option<String> {
    match std::env::var("TAURO_SPARK_REMOTE") {
        Ok(remote) if !remote.trim().is_empty() => Some(remote),
        _ if std::env::var("TAURO_REQUIRE_SPARK").is_ok_and(|v| v == "1") => {
            panic!("TAURO_REQUIRE_SPARK=1 but TAURO_SPARK_REMOTE is not set; run scripts/test.sh")
        }
        _ => {
            eprintln!(
                "skipping: no Spark Connect server (set TAURO_SPARK_REMOTE or run scripts/test.sh)"
            );
            None
        }
    }
}

/// What one `tauro-cli` invocation did.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

impl Run {
    /// Standard output parsed as JSON (for `--output json`).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// `tauro-cli` with `args`, isolated from the suite's environment.
fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(tauro_bin());
    cmd.args(args)
        .env_remove("TAURO_ENV")
        .env_remove("TAURO_PROJECT")
        // Tests pass --remote explicitly; the suite's server must not leak into projects.
        .env_remove("TAURO_SPARK_REMOTE")
        .env_remove("TAURO_ENGINE")
        .env("NO_COLOR", "1");
    cmd
}

/// Starts `tauro-cli` in the background (to kill it, or to act while it runs); stderr is
/// discarded, stdout kept when `capture_stdout`.
pub fn spawn_tauro(args: &[&str], capture_stdout: bool) -> std::process::Child {
    let stdout = if capture_stdout {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    };
    command(args)
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tauro-cli starts")
}

/// Runs `tauro-cli` with `args` and extra environment variables.
pub fn tauro(args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = command(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out: Output = cmd.output().expect("tauro-cli runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// A project written into a temp directory: the settings file plus the five documents.
#[derive(Debug)]
pub struct Project {
    /// Keeps the directory alive.
    pub dir: tempfile::TempDir,
}

impl Project {
    /// Writes `config/<name>.yaml` for each document (global_settings, pipelines, nodes,
    /// input, output) and a settings file naming them.
    pub fn new(global: &str, pipelines: &str, nodes: &str, input: &str, output: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).expect("config dir");
        for (name, text) in [
            ("global_settings", global),
            ("pipelines", pipelines),
            ("nodes", nodes),
            ("input", input),
            ("output", output),
        ] {
            std::fs::write(config.join(format!("{name}.yaml")), text).expect("write document");
        }
        let settings = serde_json::json!({
            "base_path": ".",
            "env_config": {"base": {
                "global_settings_path": "config/global_settings.yaml",
                "pipelines_config_path": "config/pipelines.yaml",
                "nodes_config_path": "config/nodes.yaml",
                "input_config_path": "config/input.yaml",
                "output_config_path": "config/output.yaml"}}
        });
        std::fs::write(dir.path().join("settings_yml.json"), settings.to_string())
            .expect("write settings");
        Self { dir }
    }

    /// The project directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The project directory as a string, for `--project`.
    pub fn arg(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Writes a data file under the project.
    pub fn write(&self, relative: &str, text: &str) {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("data dir");
        }
        std::fs::write(path, text).expect("write data file");
    }
}

/// Copies a directory tree (the example project into a temp dir, say), skipping `out/` and
/// `.tauro/`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create target dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name();
        if name == "out" || name == ".tauro" {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).expect("copy file");
        }
    }
}

/// Rows of a dataset as Spark counts them (`format` is `parquet`, `json`, ...).
pub fn spark_rows(remote: &str, format: &str, path: &Path) -> u64 {
    let rows = query_json(
        remote,
        &format!("SELECT count(*) AS n FROM {format}.`{}`", path.display()),
    );
    rows[0]["n"].as_u64().expect("a count")
}

/// The Sail server of the test run (`TAURO_SAIL_REMOTE`, set by `scripts/test.sh`). `None`
/// means skip; with `TAURO_REQUIRE_SAIL=1` a missing server fails the test instead.
pub fn sail_remote() -> Option<String> {
    match std::env::var("TAURO_SAIL_REMOTE") {
        Ok(remote) if !remote.trim().is_empty() => Some(remote),
        _ if std::env::var("TAURO_REQUIRE_SAIL").is_ok_and(|v| v == "1") => {
            panic!("TAURO_REQUIRE_SAIL=1 but TAURO_SAIL_REMOTE is not set; run scripts/test.sh")
        }
        _ => {
            eprintln!("skipping: no Sail server (set TAURO_SAIL_REMOTE or run scripts/test.sh)");
            None
        }
    }
}

/// The rows of a query on the server at `remote`, each as JSON (at most 100,000).
pub fn query_json(remote: &str, sql: &str) -> Vec<serde_json::Value> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let remote = remote.to_string();
    let sql = sql.to_string();
    rt.block_on(async move {
        let engine = tauro_io::SparkEngine::connect(&remote, tauro_io::EngineOptions::default())
            .await
            .expect("connect");
        let session = engine.new_session().await.expect("session");
        session
            .sql(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
            .collect_json(100_000)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
    })
}

/// The peak resident set size of a running process, in KiB: `VmHWM` of
/// `/proc/<pid>/status` (Linux). `None` once the process has exited (a zombie has no
/// memory left to report) or where `/proc` does not exist.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// One of several `tauro-cli` processes run at once by [`tauro_concurrently`].
#[derive(Debug)]
pub struct MeasuredRun {
    /// What the process did (`code` is -1 when it was killed at the deadline).
    pub run: Run,
    /// The highest `VmHWM` seen while it ran, in KiB (0 if never read).
    pub peak_rss_kib: u64,
}

/// Starts one `tauro-cli` per argument list, all at once, and waits for every one (killing
/// those still running after `deadline`). While they run, each process's peak resident set
/// ([`peak_rss_kib`]) is sampled every 10 ms; `VmHWM` is the kernel's own high-water mark, so
/// only growth in the last 10 ms before a process exits can be missed. Outputs go to
/// temporary files, so no pipe fills up.
pub fn tauro_concurrently(runs: &[Vec<String>], deadline: Duration) -> Vec<MeasuredRun> {
    use std::io::{Read, Seek};

    struct Running {
        child: std::process::Child,
        stdout: std::fs::File,
        stderr: std::fs::File,
        started: Instant,
        peak: u64,
        done: Option<(i32, Duration)>,
    }
    let capture = || {
        let file = tempfile::tempfile().expect("temp file");
        let handle = file.try_clone().expect("clone temp file");
        (file, std::process::Stdio::from(handle))
    };
    let started = Instant::now();
    let mut all: Vec<Running> = runs
        .iter()
        .map(|args| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (stdout, out) = capture();
            let (stderr, err) = capture();
            let child = command(&args)
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("tauro-cli starts");
            Running {
                child,
                stdout,
                stderr,
                started: Instant::now(),
                peak: 0,
                done: None,
            }
        })
        .collect();
    while all.iter().any(|r| r.done.is_none()) {
        let late = started.elapsed() > deadline;
        for r in all.iter_mut().filter(|r| r.done.is_none()) {
            // Read the memory before reaping: after `try_wait` the pid may be reused.
            if let Some(kib) = peak_rss_kib(r.child.id()) {
                r.peak = r.peak.max(kib);
            }
            if let Some(status) = r.child.try_wait().expect("wait for tauro-cli") {
                r.done = Some((status.code().unwrap_or(-1), r.started.elapsed()));
            } else if late {
                let _ = r.child.kill();
                let _ = r.child.wait();
                r.done = Some((-1, r.started.elapsed()));
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    all.into_iter()
        .map(|mut r| {
            let read = |file: &mut std::fs::File| {
                let mut bytes = Vec::new();
                file.rewind().expect("rewind output");
                file.read_to_end(&mut bytes).expect("read output");
                String::from_utf8_lossy(&bytes).into_owned()
            };
            let stdout = read(&mut r.stdout);
            let stderr = read(&mut r.stderr);
            let (code, elapsed) = r.done.expect("every run ended");
            MeasuredRun {
                run: Run {
                    code,
                    stdout,
                    stderr,
                    elapsed,
                },
                peak_rss_kib: r.peak,
            }
        })
        .collect()
}

/// Starts `tauro-cli` in the background like [`spawn_tauro`], appending its standard output
/// and error to the file `log` (to show what a killed or stuck run did).
pub fn spawn_tauro_logged(args: &[&str], log: &Path) -> std::process::Child {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("open the run log");
    let err = file.try_clone().expect("clone the run log");
    command(args)
        .stdout(file)
        .stderr(err)
        .spawn()
        .expect("tauro-cli starts")
}

/// Starts `tauro-cli` in the background with extra environment variables, its standard
/// output and error going to the file `log` (read it once the process has exited).
pub fn spawn_tauro_env(args: &[&str], envs: &[(&str, &str)], log: &Path) -> std::process::Child {
    let file = std::fs::File::create(log).expect("create the run log");
    let err = file.try_clone().expect("clone the run log");
    let mut cmd = command(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.stdout(file)
        .stderr(err)
        .spawn()
        .expect("tauro-cli starts")
}

/// Sends SIGKILL to a process (no chance to clean up).
pub fn sigkill(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -9 {pid} failed");
}

/// A free TCP port on 127.0.0.1 (free when asked; nothing holds it afterwards).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// A Spark Connect server of a test's own (`scripts/spark-connect-local.sh` on a free port,
/// its state in a temp dir), for tests that kill it: other tests keep the run's shared
/// server. Stopped on drop, whatever state it is in.
#[derive(Debug)]
pub struct PrivateSpark {
    port: u16,
    state: tempfile::TempDir,
}

impl PrivateSpark {
    /// Starts a server on a free port; panics with the script's output if it does not come
    /// up (the script waits up to 120 s).
    pub fn start() -> Self {
        let server = Self {
            port: free_port(),
            state: tempfile::tempdir().expect("temp dir"),
        };
        server.script("start");
        server
    }

    /// `sc://127.0.0.1:<port>`.
    pub fn remote(&self) -> String {
        format!("sc://127.0.0.1:{}", self.port)
    }

    fn pid_file(&self) -> PathBuf {
        self.state.path().join("pid").join(format!(
            "spark-sc{}-org.apache.spark.sql.connect.service.SparkConnectServer-1.pid",
            self.port
        ))
    }

    /// The server JVM's pid (from the script's pid file).
    pub fn pid(&self) -> u32 {
        let file = self.pid_file();
        std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
            .trim()
            .parse()
            .expect("a pid")
    }

    /// SIGKILLs the server's JVM (a crash: no shutdown hooks run).
    pub fn kill(&self) {
        sigkill(self.pid());
    }

    /// Starts the server again on the same port, with the same state directory.
    pub fn restart(&self) {
        // The pid file names the killed JVM; `stop` would signal whatever process has
        // that pid now, so remove it instead. `start` writes a new one.
        let _ = std::fs::remove_file(self.pid_file());
        self.script("start");
    }

    fn script(&self, action: &str) {
        let out = Command::new("bash")
            .arg(workspace_root().join("scripts/spark-connect-local.sh"))
            .arg(action)
            .env("SC_PORT", self.port.to_string())
            .env("SC_STATE", self.state.path())
            .env_remove("SC_UI_PORT")
            .output()
            .expect("spark-connect-local.sh runs");
        assert!(
            out.status.success(),
            "spark-connect-local.sh {action} on port {} failed:\n{}{}",
            self.port,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivateSpark {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(workspace_root().join("scripts/spark-connect-local.sh"))
            .arg("stop")
            .env("SC_PORT", self.port.to_string())
            .env("SC_STATE", self.state.path())
            .output();
    }
}

/// `(node, status)` of every node in a `--output json` run report, in report order.
pub fn report_statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["nodes"]
        .as_array()
        .expect("the report lists its nodes")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap_or_default().to_string(),
                n["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
