//! The embedded server, the warm server, and start failures.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tauro_io::warm::{self, WarmStatus};
use tauro_io::{EngineOptions, Error, LocalServer, LocalServerOptions, SparkEngine};

use crate::common::*;

/// A fake SPARK_HOME whose `spark-submit` runs `script`.
fn fake_spark_home(dir: &Path, script: &str) -> PathBuf {
    let home = dir.join("spark");
    std::fs::create_dir_all(home.join("bin")).unwrap();
    let submit = home.join("bin/spark-submit");
    std::fs::write(&submit, format!("#!/bin/sh\n{script}\n")).unwrap();
    std::fs::set_permissions(&submit, std::fs::Permissions::from_mode(0o755)).unwrap();
    home
}

fn options(state: &Path) -> LocalServerOptions {
    LocalServerOptions {
        state_dir: state.to_path_buf(),
        start_timeout: Duration::from_secs(180),
        ..LocalServerOptions::default()
    }
}

/// Kills a pid if the test fails half-way.
struct KillOnDrop(Option<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

#[tokio::test]
async fn a_server_that_exits_is_reported_with_its_log() {
    let dir = tempdir();
    let home = fake_spark_home(dir.path(), "echo 'Error: JAVA_HOME is not set' >&2; exit 3");
    let err = LocalServer::start(LocalServerOptions {
        spark_home: Some(home),
        ..options(&dir.path().join("state"))
    })
    .await
    .unwrap_err();
    match &err {
        Error::ServerStart {
            reason,
            log_tail,
            log,
        } => {
            assert!(reason.contains("exited"), "{reason}");
            assert!(log_tail.contains("JAVA_HOME is not set"), "{log_tail}");
            assert!(log.starts_with(dir.path()));
        }
        other => panic!("expected ServerStart, got {other:?}"),
    }
    assert!(err.hint().unwrap().contains("Java 17"));
}

#[tokio::test]
async fn a_server_that_never_answers_is_stopped_after_the_start_timeout() {
    let dir = tempdir();
    let pid_file = dir.path().join("pid");
    let home = fake_spark_home(
        dir.path(),
        &format!(
            "echo $$ > {}; echo starting; exec sleep 60",
            pid_file.display()
        ),
    );
    let started = Instant::now();
    let err = LocalServer::start(LocalServerOptions {
        spark_home: Some(home),
        start_timeout: Duration::from_secs(2),
        ..options(&dir.path().join("state"))
    })
    .await
    .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        matches!(&err, Error::ServerStart { log_tail, .. } if log_tail.contains("starting")),
        "{err:?}"
    );
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!alive(pid), "the half-started server was left running");
}

#[tokio::test]
async fn local_resolves_to_an_embedded_server_that_stops_cleanly() {
    if tokio::task::spawn_blocking(remote).await.unwrap().is_none() {
        return;
    }
    let dir = tempdir();
    let resolved = warm::resolve_local("local", options(dir.path()))
        .await
        .unwrap();
    let server = resolved.server.expect("an embedded server");
    let mut guard = KillOnDrop(Some(server.pid()));
    assert_eq!(resolved.remote, server.remote());
    let engine = SparkEngine::connect(&resolved.remote, EngineOptions::default())
        .await
        .unwrap();
    assert!(engine.version().await.unwrap().starts_with('4'));
    // Logs and state stay out of SPARK_HOME.
    assert!(server.log().starts_with(dir.path()));
    let pid = server.pid();
    server.stop().await.unwrap();
    assert!(!alive(pid));
    guard.0 = None;
}

#[tokio::test]
async fn a_warm_server_is_started_found_and_stopped() {
    if tokio::task::spawn_blocking(remote).await.unwrap().is_none() {
        return;
    }
    let dir = tempdir();
    let state = dir.path();
    assert_eq!(warm::status(state).await.unwrap(), WarmStatus::NotRunning);
    let server = warm::start(options(state)).await.unwrap();
    let mut guard = KillOnDrop(Some(server.pid));
    assert!(warm::state_file(state).is_file());
    assert_eq!(
        warm::status(state).await.unwrap(),
        WarmStatus::Running(server.clone())
    );
    // Starting again reuses it.
    assert_eq!(warm::start(options(state)).await.unwrap(), server);

    let resolved = warm::resolve_local("local", options(state)).await.unwrap();
    assert!(resolved.server.is_none());
    assert_eq!(resolved.remote, server.remote);
    let engine = SparkEngine::connect(&resolved.remote, EngineOptions::default())
        .await
        .unwrap();
    let session = engine.new_session().await.unwrap();
    assert_eq!(
        session
            .sql("SELECT 1")
            .await
            .unwrap()
            .count()
            .await
            .unwrap(),
        1
    );

    assert_eq!(warm::stop(state).await.unwrap(), Some(server.clone()));
    assert!(!alive(server.pid));
    guard.0 = None;
    assert_eq!(warm::status(state).await.unwrap(), WarmStatus::NotRunning);
    assert_eq!(warm::stop(state).await.unwrap(), None);
}
