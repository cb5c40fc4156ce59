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
