//! [`LocalServer`]: the embedded Spark Connect server (`spark.remote: local`).
//!
//! `spark-submit` execs into the JVM, so the child's pid is the server's pid and signals
//! reach it directly.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep};

use crate::error::{Error, Result};
use crate::probe::{Probe, parse_remote, probe_once};
use crate::process::{free_port, tail, terminate};
use crate::spark_home::{cache_dir, find_sail, find_spark_home};
use tauro_config::EngineKind;

/// The server's main class.
const SERVER_CLASS: &str = "org.apache.spark.sql.connect.service.SparkConnectServer";
/// How long `stop` waits after SIGTERM before SIGKILL.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(30);
/// Log lines shown when the server fails to start.
const LOG_TAIL_LINES: usize = 40;

/// Options of [`LocalServer::start`] (and of the warm server).
#[derive(Debug, Clone)]
pub struct LocalServerOptions {
    /// `SPARK_HOME`; `None` = [`find_spark_home`].
    pub spark_home: Option<PathBuf>,
    /// Spark master (`local[2]`).
    pub master: String,
    /// Port to serve on; `None` = a free loopback port.
    pub port: Option<u16>,
    /// Directory for logs, pid files, the warehouse and the Derby home.
    pub state_dir: PathBuf,
    /// How long to wait for the server to answer gRPC (120 s).
    pub start_timeout: Duration,
    /// Extra `--conf key=value` for `spark-submit` (they override the defaults).
    pub conf: BTreeMap<String, String>,
    /// Which server to start: Apache Spark (default) or Sail ([`crate::find_sail`]).
    pub engine: EngineKind,
    /// A persistent catalog (Spark only): the Hive catalog with its Derby metastore in
    /// `<dir>/metastore` and the warehouse in `<dir>/warehouse`, so tables survive a restart.
    /// `None`: Spark's in-memory catalog.
    pub catalog_dir: Option<PathBuf>,
}

impl Default for LocalServerOptions {
    fn default() -> Self {
        Self {
            spark_home: None,
            master: "local[2]".into(),
            port: None,
            state_dir: default_state_dir(),
            start_timeout: Duration::from_secs(120),
            conf: BTreeMap::new(),
            engine: EngineKind::Spark,
            catalog_dir: None,
        }
    }
}

/// `${XDG_CACHE_HOME:-~/.cache}/tauro/spark-connect` (or under the temp dir without a home).
pub fn default_state_dir() -> PathBuf {
    cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("tauro")
        .join("spark-connect")
}

/// A prepared `spark-submit` invocation.
pub(crate) struct Launch {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, PathBuf)>,
    pub(crate) port: u16,
    pub(crate) log: PathBuf,
}

impl Launch {
    pub(crate) fn remote(&self) -> String {
        format!("sc://127.0.0.1:{}", self.port)
    }
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|source| Error::Io {
        action: "create directory",
        path: path.to_path_buf(),
        source,
    })
}

/// The port asked for, or a free loopback port.
fn port_of(opts: &LocalServerOptions) -> Result<u16> {
    match opts.port {
        Some(p) => Ok(p),
        None => free_port().map_err(|source| Error::Io {
            action: "find a free port on",
            path: PathBuf::from("127.0.0.1"),
            source,
        }),
    }
}

/// Builds the `spark-submit` command line, creating the state directories.
pub(crate) fn prepare(opts: &LocalServerOptions, defaults: &[(&str, &str)]) -> Result<Launch> {
    let spark_home = match &opts.spark_home {
        Some(home) => home.clone(),
        None => find_spark_home()?,
    };
    let state = &opts.state_dir;
    for sub in ["logs", "pid", "warehouse", "tmp"] {
        create_dir(&state.join(sub))?;
    }
    let port = port_of(opts)?;
    let mut conf: BTreeMap<String, String> = BTreeMap::new();
    conf.insert(
        "spark.connect.grpc.binding.address".into(),
        "127.0.0.1".into(),
    );
    conf.insert("spark.connect.grpc.binding.port".into(), port.to_string());
    conf.insert("spark.ui.enabled".into(), "false".into());
    conf.insert(
        "spark.sql.warehouse.dir".into(),
        state.join("warehouse").display().to_string(),
    );
    conf.insert("spark.sql.shuffle.partitions".into(), "4".into());
    conf.insert(
        "spark.local.dir".into(),
        state.join("tmp").display().to_string(),
    );
    let mut derby_home = state.clone();
    if let Some(dir) = &opts.catalog_dir {
        create_dir(&dir.join("warehouse"))?;
        create_dir(&dir.join("metastore"))?;
        conf.insert("spark.sql.catalogImplementation".into(), "hive".into());
        conf.insert(
            "spark.sql.warehouse.dir".into(),
            dir.join("warehouse").display().to_string(),
        );
        derby_home = dir.join("metastore");
    }
    for (k, v) in defaults {
        conf.insert((*k).to_string(), (*v).to_string());
    }
    for (k, v) in &opts.conf {
        conf.insert(k.clone(), v.clone());
    }
    let mut args = vec![
        "--class".to_string(),
        SERVER_CLASS.to_string(),
        "--name".to_string(),
        "Spark Connect server (tauro)".to_string(),
        "--master".to_string(),
        opts.master.clone(),
    ];
    for (k, v) in conf {
        args.push("--conf".into());
        args.push(format!("{k}={v}"));
    }
    args.push("--driver-java-options".into());
    args.push(format!("-Dderby.system.home={}", derby_home.display()));
    let env = vec![
        ("SPARK_HOME".to_string(), spark_home.clone()),
        ("SPARK_LOG_DIR".to_string(), state.join("logs")),
        ("SPARK_PID_DIR".to_string(), state.join("pid")),
    ];
    Ok(Launch {
        program: spark_home.join("bin").join("spark-submit"),
        args,
        env,
        port,
        log: state.join("logs").join(format!("spark-connect-{port}.log")),
    })
}

/// Builds the `sail spark server` command line; its working directory (where Sail's
/// in-memory catalog puts managed tables) is `<state_dir>/sail`.
pub(crate) fn prepare_sail(opts: &LocalServerOptions) -> Result<Launch> {
    if opts.catalog_dir.is_some() {
        return Err(Error::EngineUnsupported {
            engine: "sail".into(),
            what: "a persistent catalog (Sail's catalog lives in memory)".into(),
        });
    }
    let program = find_sail()?;
    let state = &opts.state_dir;
    for sub in ["logs", "sail"] {
        create_dir(&state.join(sub))?;
    }
    let port = port_of(opts)?;
    let args = [
        "spark",
        "server",
        "--ip",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "-C",
        &state.join("sail").display().to_string(),
    ]
    .map(String::from)
    .to_vec();
    Ok(Launch {
        program,
        args,
        env: Vec::new(),
        port,
        log: state.join("logs").join(format!("sail-{port}.log")),
    })
}

/// Opens the log file for the server's stdout and stderr.
pub(crate) fn open_log(path: &Path) -> Result<(File, File)> {
    let io = |source| Error::Io {
        action: "open log file",
        path: path.to_path_buf(),
        source,
    };
    let out = File::create(path).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    Ok((out, err))
}

/// Applies the environment every server launch gets.
pub(crate) fn apply_env(cmd: &mut std::process::Command, launch: &Launch) {
    cmd.args(&launch.args)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        // The launcher scripts would otherwise switch to Spark Connect client mode.
        .env("SPARK_CONNECT_MODE", "0")
        .stdin(Stdio::null());
    if std::env::var_os("SPARK_LOCAL_IP").is_none() {
        cmd.env("SPARK_LOCAL_IP", "127.0.0.1");
    }
}

/// Waits until the server at `remote` answers gRPC, failing early when `exited()` says the
/// process is gone.
pub(crate) async fn wait_started(
    remote: &str,
    log: &Path,
    start_timeout: Duration,
    mut exited: impl FnMut() -> Option<String>,
) -> Result<()> {
    let builder = parse_remote(remote)?;
    let deadline = Instant::now() + start_timeout;
    loop {
        if let Some(status) = exited() {
            return Err(Error::ServerStart {
                reason: format!("the server process exited ({status})"),
                log: log.to_path_buf(),
                log_tail: tail(log, LOG_TAIL_LINES),
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::ServerStart {
                reason: format!(
                    "it did not answer on {remote} within {}s",
                    start_timeout.as_secs()
                ),
                log: log.to_path_buf(),
                log_tail: tail(log, LOG_TAIL_LINES),
            });
        }
        if let Probe::Ready = probe_once(&builder, left).await? {
            return Ok(());
        }
        sleep(Duration::from_millis(250).min(left)).await;
    }
}

/// A Spark Connect server run as a child of this process.
///
/// [`LocalServer::stop`] shuts it down cleanly; dropping it kills the JVM (best effort).
#[derive(Debug)]
pub struct LocalServer {
    child: Child,
    pid: u32,
    remote: String,
    log: PathBuf,
}

impl LocalServer {
    /// Starts the server and waits until it answers gRPC.
    pub async fn start(opts: LocalServerOptions) -> Result<LocalServer> {
        let launch = match opts.engine {
            EngineKind::Spark => prepare(&opts, &[])?,
            EngineKind::Sail => prepare_sail(&opts)?,
        };
        let (out, err) = open_log(&launch.log)?;
        let mut std_cmd = std::process::Command::new(&launch.program);
        apply_env(&mut std_cmd, &launch);
        std_cmd.stdout(out).stderr(err);
        let mut cmd = Command::from(std_cmd);
        cmd.kill_on_drop(true);
        let child = cmd.spawn().map_err(|source| Error::Io {
            action: "start",
            path: launch.program.clone(),
            source,
        })?;
        let pid = child.id().unwrap_or_default();
        let mut server = LocalServer {
            child,
            pid,
            remote: launch.remote(),
            log: launch.log.clone(),
        };
        tracing::info!(pid, remote = %server.remote, log = %server.log.display(), "starting local Spark Connect server");
        let started = Instant::now();
        let remote = server.remote.clone();
        let child = &mut server.child;
        let ready = wait_started(&remote, &launch.log, opts.start_timeout, || {
            match child.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                Ok(None) => None,
                Err(e) => Some(e.to_string()),
            }
        })
        .await;
        if let Err(e) = ready {
            // Do not leave a half-started JVM behind.
            let _ = server.child.start_kill();
            let _ = server.child.wait().await;
            return Err(e);
        }
        tracing::info!(pid, elapsed = ?started.elapsed(), "local Spark Connect server ready");
        Ok(server)
    }

    /// `sc://127.0.0.1:<port>`.
    pub fn remote(&self) -> String {
        self.remote.clone()
    }

    /// The JVM's pid.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The server's log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Stops the server: SIGTERM, wait, then SIGKILL.
    pub async fn stop(mut self) -> Result<()> {
        if let Ok(Some(_)) = self.child.try_wait() {
            return Ok(());
        }
        crate::process::signal(self.pid, "TERM");
        let graceful = tokio::time::timeout(STOP_GRACE, self.child.wait()).await;
        match graceful {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(source)) => Err(Error::Io {
                action: "wait for",
                path: self.log.clone(),
                source,
            }),
            Err(_) => {
                tracing::warn!(
                    pid = self.pid,
                    "Spark Connect server ignored SIGTERM; killing it"
                );
                let _ = self.child.start_kill();
                terminate(self.pid, Duration::from_secs(1)).await;
                let _ = self.child.wait().await;
                Ok(())
            }
        }
    }
}
