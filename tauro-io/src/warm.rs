//! A Spark Connect server kept warm between runs (`tauro-cli spark start|stop|status`).
//!
//! `start` launches a detached server (its own process group, not killed when the CLI
//! exits) and records it in `<state_dir>/warm-server.json`; `status` checks the recorded
//! pid and a gRPC answer; `stop` terminates the recorded pid. [`resolve_local`] turns the
//! `local` remote into the warm server when one is up, or an embedded [`LocalServer`].

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::local::{
    LocalServer, LocalServerOptions, STOP_GRACE, apply_env, open_log, prepare, wait_started,
};
use crate::probe::{Probe, parse_remote, probe_once};
use crate::process::{alive, is_spark_connect_server, terminate};

/// Name of the state file inside the state directory.
const STATE_FILE: &str = "warm-server.json";
/// How long `status` waits for a gRPC answer.
const STATUS_PROBE: Duration = Duration::from_secs(3);

/// What the state file records about a warm server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarmServer {
    /// The JVM's pid.
    pub pid: u32,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// `sc://127.0.0.1:<port>`.
    pub remote: String,
    /// Its log file.
    pub log: PathBuf,
    /// The `SPARK_HOME` it runs from.
    pub spark_home: PathBuf,
}

/// The state of the warm server of a state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarmStatus {
    /// No state file.
    NotRunning,
    /// Recorded, alive and answering gRPC.
    Running(WarmServer),
    /// Recorded, but the process is gone or does not answer.
    Unhealthy {
        /// What the state file says.
        server: WarmServer,
        /// What is wrong.
        reason: String,
    },
}

/// The state file of a state directory.
pub fn state_file(state_dir: &Path) -> PathBuf {
    state_dir.join(STATE_FILE)
}

fn read_state(state_dir: &Path) -> Result<Option<WarmServer>> {
    let path = state_file(state_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Error::WarmState {
            path,
            reason: e.to_string(),
        })
}

fn write_state(state_dir: &Path, server: &WarmServer) -> Result<()> {
    let path = state_file(state_dir);
    let tmp = state_dir.join(format!("{STATE_FILE}.tmp"));
    let text = serde_json::to_string_pretty(server).map_err(|e| Error::WarmState {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| Error::Io {
            action: "write",
            path,
            source,
        })
}

fn remove_state(state_dir: &Path) -> Result<()> {
    let path = state_file(state_dir);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io {
            action: "remove",
            path,
            source,
        }),
    }
}

/// Checks the recorded server: pid alive (and a Spark Connect JVM) and gRPC answering.
pub async fn status(state_dir: &Path) -> Result<WarmStatus> {
    let Some(server) = read_state(state_dir)? else {
        return Ok(WarmStatus::NotRunning);
    };
    if !alive(server.pid) || !is_spark_connect_server(server.pid) {
        return Ok(WarmStatus::Unhealthy {
            reason: format!("process {} is not running", server.pid),
            server,
        });
    }
    let builder = parse_remote(&server.remote)?;
    match probe_once(&builder, STATUS_PROBE).await? {
        Probe::Ready => Ok(WarmStatus::Running(server)),
        Probe::NotReady(reason) => Ok(WarmStatus::Unhealthy { server, reason }),
    }
}

/// Starts a detached server that outlives this process and records it. If one is already
/// running for `opts.state_dir`, returns it unchanged.
pub async fn start(opts: LocalServerOptions) -> Result<WarmServer> {
    match status(&opts.state_dir).await? {
        WarmStatus::Running(server) => return Ok(server),
        WarmStatus::Unhealthy { server, reason } => {
            tracing::warn!(pid = server.pid, %reason, "replacing an unhealthy warm server");
            stop(&opts.state_dir).await?;
        }
        WarmStatus::NotRunning => {}
    }
    // Tables of a warm server should survive its restarts: a Derby metastore in state_dir.
    let launch = prepare(&opts, &[("spark.sql.catalogImplementation", "hive")])?;
    let spark_home = launch
        .env
        .iter()
        .find(|(k, _)| k == "SPARK_HOME")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let (out, err) = open_log(&launch.log)?;
    let mut cmd = std::process::Command::new(&launch.program);
    apply_env(&mut cmd, &launch);
    // Its own process group: a Ctrl-C in the terminal that ran `spark start` must not reach it.
    cmd.stdout(out).stderr(err).process_group(0);
    let mut child = cmd.spawn().map_err(|source| Error::Io {
        action: "start",
        path: launch.program.clone(),
        source,
    })?;
    let server = WarmServer {
        pid: child.id(),
        port: launch.port,
        remote: launch.remote(),
        log: launch.log.clone(),
        spark_home,
    };
    write_state(&opts.state_dir, &server)?;
    let ready = wait_started(
        &server.remote,
        &server.log,
        opts.start_timeout,
        || match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        },
    )
    .await;
    if let Err(e) = ready {
        terminate(server.pid, Duration::from_secs(5)).await;
        let _ = child.wait();
        remove_state(&opts.state_dir)?;
        return Err(e);
    }
    // Reap the child if it exits while this process lives; the thread never blocks exit.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    tracing::info!(pid = server.pid, remote = %server.remote, "warm Spark Connect server ready");
    Ok(server)
}

/// Stops the recorded server (SIGTERM, wait, SIGKILL) and removes the state file.
/// Returns what was recorded, or `None` when nothing was.
pub async fn stop(state_dir: &Path) -> Result<Option<WarmServer>> {
    let Some(server) = read_state(state_dir)? else {
        return Ok(None);
    };
    if alive(server.pid) && is_spark_connect_server(server.pid) {
        terminate(server.pid, STOP_GRACE).await;
    }
    remove_state(state_dir)?;
    Ok(Some(server))
}

/// A remote to connect to, and the embedded server behind it (if one was started for it).
#[derive(Debug)]
pub struct ResolvedRemote {
    /// The `sc://` URL.
    pub remote: String,
    /// The embedded server started for this run; stop it when the run ends.
    pub server: Option<LocalServer>,
}

/// Resolves `spark.remote`: `local` becomes the warm server of `local.state_dir` when it is
/// up, else a freshly started embedded [`LocalServer`]; any other remote is returned as is.
pub async fn resolve_local(remote: &str, local: LocalServerOptions) -> Result<ResolvedRemote> {
    if !remote.trim().eq_ignore_ascii_case("local") {
        return Ok(ResolvedRemote {
            remote: remote.to_string(),
            server: None,
        });
    }
    // The warm server is a Spark server with an in-memory catalog; Sail starts in well
    // under a second anyway, and a persistent catalog needs a server of its own.
    if local.engine == tauro_config::EngineKind::Sail || local.catalog_dir.is_some() {
        let server = LocalServer::start(local).await?;
        return Ok(ResolvedRemote {
            remote: server.remote(),
            server: Some(server),
        });
    }
    match status(&local.state_dir).await? {
        WarmStatus::Running(server) => {
            tracing::info!(remote = %server.remote, "using the warm Spark Connect server");
            return Ok(ResolvedRemote {
                remote: server.remote,
                server: None,
            });
        }
        WarmStatus::Unhealthy { reason, .. } => {
            tracing::warn!(%reason, "warm Spark Connect server is not usable; starting an embedded one");
        }
        WarmStatus::NotRunning => {}
    }
    let server = LocalServer::start(local).await?;
    Ok(ResolvedRemote {
        remote: server.remote(),
        server: Some(server),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn state_round_trips() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| Error::Io {
            action: "create",
            path: PathBuf::from("tmp"),
            source,
        })?;
        assert_eq!(status(dir.path()).await?, WarmStatus::NotRunning);
        let server = WarmServer {
            pid: u32::MAX - 1,
            port: 1,
            remote: "sc://127.0.0.1:1".into(),
            log: dir.path().join("log"),
            spark_home: PathBuf::from("/nowhere"),
        };
        write_state(dir.path(), &server)?;
        assert!(matches!(
            status(dir.path()).await?,
            WarmStatus::Unhealthy { .. }
        ));
        assert_eq!(stop(dir.path()).await?, Some(server));
        assert_eq!(stop(dir.path()).await?, None);
        Ok(())
    }

    #[tokio::test]
    async fn remote_urls_pass_through() -> Result<()> {
        let r = resolve_local("sc://h:1", LocalServerOptions::default()).await?;
        assert_eq!(r.remote, "sc://h:1");
        assert!(r.server.is_none());
        Ok(())
    }
}
