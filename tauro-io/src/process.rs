//! Small process helpers: signals by pid, liveness, log tails, free ports.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::time::{Instant, sleep};

/// Sends `signal` (`TERM`, `KILL`, `0`) to `pid` with the system `kill`; true on success.
///
/// (`unsafe` is forbidden in this workspace, so no `libc::kill`.)
pub(crate) fn signal(pid: u32, signal: &str) -> bool {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// True while `pid` runs (a zombie counts as gone).
pub(crate) fn alive(pid: u32) -> bool {
    let proc_dir = Path::new("/proc");
    if proc_dir.is_dir() {
        match std::fs::read_to_string(proc_dir.join(pid.to_string()).join("stat")) {
            // Field 3, after the parenthesised command name, is the state.
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        }
    } else {
        signal(pid, "0")
    }
}

/// True when `pid` is a Spark Connect server JVM (guards against a recycled pid).
/// Where `/proc` is missing we cannot tell and trust the pid.
pub(crate) fn is_spark_connect_server(pid: u32) -> bool {
    let cmdline = Path::new("/proc").join(pid.to_string()).join("cmdline");
    match std::fs::read(&cmdline) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).contains("SparkConnectServer"),
        Err(_) => !Path::new("/proc").is_dir(),
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL; returns once `pid` is gone (or after a
/// further short wait for the kill to land).
pub(crate) async fn terminate(pid: u32, grace: Duration) {
    if !alive(pid) {
        return;
    }
    signal(pid, "TERM");
    if wait_gone(pid, grace).await {
        return;
    }
    tracing::warn!(pid, "Spark Connect server ignored SIGTERM; killing it");
    signal(pid, "KILL");
    wait_gone(pid, Duration::from_secs(5)).await;
}

/// Polls until `pid` is gone; false if it still runs after `limit`.
pub(crate) async fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        sleep(Duration::from_millis(100)).await;
    }
    true
}

/// The last `lines` lines of a text file (empty if unreadable).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A loopback TCP port that was free a moment ago.
pub(crate) fn free_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_not_spark() {
        assert!(alive(std::process::id()));
        assert!(!is_spark_connect_server(std::process::id()));
        assert!(!alive(u32::MAX - 1));
    }

    #[test]
    fn tail_keeps_the_last_lines() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let f = dir.path().join("log");
        std::fs::write(&f, "a\nb\nc\n")?;
        assert_eq!(tail(&f, 2), "b\nc");
        assert_eq!(tail(&dir.path().join("missing"), 2), "");
        Ok(())
    }
}
