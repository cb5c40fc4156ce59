//! [`SessionLedger`]: the Spark sessions a process has work in, so that the next run can end
//! what a killed one left running on the server.
//!
//! A killed `tauro-cli` (SIGKILL, a crash, a lost machine on the client side) cannot stop its
//! work: the Spark Connect server goes on running the operation the client had sent (it
//! abandons an operation only minutes after its client stopped reattaching). When `resume`
//! then runs the node again, two writes race on one output: an `overwrite` ends with the files
//! of both (every row twice), an `append` lands after the append journal looked at the
//! files. So each process records its node sessions in `.tauro/sessions/<pid>-<id>.log`, a
//! file it holds an exclusive lock on while it lives:
//!
//! - `remote <server>` first, then `open <session> <node>` when a node attempt's session is
//!   made (before its first request) and `closed <session>` once nothing of it can run any
//!   more (the attempt returned its result, or the release after a failed attempt finished).
//!   Lines are appended, not synced: they survive the process being killed, not the machine
//!   going down.
//! - The file is removed when the process ends with every session closed.
//!
//! Before a run's first node attempt, [`SessionLedger::end_leftovers`] looks at the other
//! files: one whose lock it can take belongs to a process that is gone. For each session
//! still open there on this run's server it interrupts the session's operations, waits until
//! they have ended and releases it ([`SparkEngine::end_abandoned_session`]); then it removes
//! the file. A live process's file (another run of the project) is left alone; a file of
//! another server is kept for a run against that server.

use std::collections::BTreeSet;
use std::fs::{self, File, TryLockError};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tauro_io::SparkEngine;

use super::store::StateDir;
use crate::error::{Error, Result};

/// The ledgers' directory in the state directory.
const DIR: &str = "sessions";
/// How long the work of one killed run may take to end after its interrupt.
const END_WAIT: Duration = Duration::from_secs(120);

/// The sessions of this process's node attempts (see the module docs).
#[derive(Debug)]
pub struct SessionLedger {
    dir: PathBuf,
    remote: String,
    own: Mutex<Own>,
    /// Set once the leftovers of killed runs were ended.
    ended: tokio::sync::OnceCell<()>,
}

/// This process's ledger file, made at its first session.
#[derive(Debug, Default)]
struct Own {
    file: Option<(File, PathBuf)>,
    open: BTreeSet<String>,
    /// A write failed once (warned); later ones are not tried.
    broken: bool,
}

/// What a ledger file says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Recorded {
    remote: Option<String>,
    /// Sessions opened and not closed, with their nodes.
    open: Vec<(String, String)>,
}

impl SessionLedger {
    /// A ledger in `dir` (`sessions/` below it) for sessions on the server `remote`
    /// ([`SparkEngine::remote`]).
    pub fn new(dir: &StateDir, remote: &str) -> Self {
        Self {
            dir: dir.path().join(DIR),
            remote: remote.to_string(),
            own: Mutex::new(Own::default()),
            ended: tokio::sync::OnceCell::new(),
        }
    }

    /// Records that session `session` of node `node` may now have work on the server.
    pub fn opened(&self, session: &str, node: &str) {
        let mut own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        own.open.insert(session.to_string());
        self.append(&mut own, &format!("open {session} {node}\n"));
    }

    /// Records that nothing of session `session` runs on the server any more.
    pub fn closed(&self, session: &str) {
        let mut own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        if own.open.remove(session) {
            self.append(&mut own, &format!("closed {session}\n"));
        }
    }

    /// Appends `line` to this process's file, making the file first.
    fn append(&self, own: &mut Own, line: &str) {
        if own.broken {
            return;
        }
        if own.file.is_none() {
            match self.create() {
                Ok(made) => own.file = Some(made),
                Err(e) => {
                    own.broken = true;
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot record the run's Spark sessions; work a crash leaves on the server is not ended by the next run");
                    return;
                }
            }
        }
        if let Some((file, path)) = &mut own.file
            && let Err(e) = file.write_all(line.as_bytes())
        {
            own.broken = true;
            tracing::warn!(path = %path.display(), error = %e, "cannot record the run's Spark sessions");
        }
    }

    /// Makes this process's file, locked, with its `remote` line. It is written and locked
    /// under a temporary name first, so no other run sees it unlocked.
    fn create(&self) -> std::io::Result<(File, PathBuf)> {
        fs::create_dir_all(&self.dir)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let stem = format!("{}-{nanos:x}", std::process::id());
        let tmp = self.dir.join(format!("{stem}.tmp"));
        let path = self.dir.join(format!("{stem}.log"));
        let mut file = File::options().create_new(true).append(true).open(&tmp)?;
        file.lock()?;
        file.write_all(format!("remote {}\n", self.remote).as_bytes())?;
        fs::rename(&tmp, &path)?;
        Ok((file, path))
    }

    /// Ends the work that killed earlier runs of the project left on this server (see the
    /// module docs); once per ledger, before its first attempt. On an error the next call
    /// tries again.
    pub async fn end_leftovers(&self, engine: &SparkEngine) -> Result<()> {
        self.ended
            .get_or_try_init(|| self.end_all(engine))
            .await
            .map(|_| ())
    }

    async fn end_all(&self, engine: &SparkEngine) -> Result<()> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Ok(());
        };
        // This process's own file (if any) is locked by it, so it is skipped like any live
        // process's.
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        files.sort();
        for path in files {
            self.end_file(engine, &path).await?;
        }
        Ok(())
    }

    /// Ends the open sessions of one file whose process is gone, then removes it.
    async fn end_file(&self, engine: &SparkEngine, path: &Path) -> Result<()> {
        let io_err = |action: &'static str| {
            move |source: std::io::Error| Error::StateFile {
                path: path.to_path_buf(),
                action,
                source,
            }
        };
        let mut file = match File::options().read(true).open(path) {
            Ok(f) => f,
            // Removed by another run meanwhile.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("open")(e)),
        };
        match file.try_lock() {
            Ok(()) => {}
            // Its process is alive: another run of the project.
            Err(TryLockError::WouldBlock) => return Ok(()),
            Err(TryLockError::Error(e)) => return Err(io_err("lock")(e)),
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io_err("read"))?;
        let recorded = parse(&text);
        if recorded.remote.as_deref() != Some(self.remote.as_str()) {
            if !recorded.open.is_empty() {
                tracing::warn!(
                    path = %path.display(),
                    server = recorded.remote.as_deref().unwrap_or("?"),
                    sessions = recorded.open.len(),
                    "a killed run left sessions on another server; a run against it ends them"
                );
            }
            return Ok(());
        }
        for (session, node) in &recorded.open {
            let interrupted = engine.end_abandoned_session(session, END_WAIT).await?;
            if interrupted > 0 {
                tracing::warn!(
                    node = %node, session = %session, operations = interrupted,
                    "ended Spark work that a killed earlier run left running"
                );
            } else {
                tracing::debug!(node = %node, session = %session, "released a session of a killed earlier run");
            }
        }
        match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove")(e)),
        }
    }
}

impl Drop for SessionLedger {
    /// Removes this process's file when every session in it was closed.
    fn drop(&mut self) {
        let own = self.own.get_mut().unwrap_or_else(PoisonError::into_inner);
        if own.open.is_empty()
            && let Some((_, path)) = own.file.take()
        {
            let _ = fs::remove_file(path);
        }
    }
}

/// Reads a ledger file. Only whole lines count: a line cut by the kill is ignored.
fn parse(text: &str) -> Recorded {
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut recorded = Recorded::default();
    for line in complete.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("remote"), Some(remote)) => recorded.remote = Some(remote.to_string()),
            (Some("open"), Some(session)) => {
                let node = words.collect::<Vec<_>>().join(" ");
                recorded.open.push((session.to_string(), node));
            }
            (Some("closed"), Some(session)) => recorded.open.retain(|(s, _)| s != session),
            _ => {}
        }
    }
    recorded
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "550e8400-e29b-41d4-a716-446655440000";
    const B: &str = "650e8400-e29b-41d4-a716-446655440000";

    #[test]
    fn open_sessions_are_those_not_closed_and_a_cut_line_is_ignored() {
        let text = format!("remote sc://h:1\nopen {A} load\nopen {B} agg\nclosed {A}\nclosed {B}");
        assert_eq!(
            parse(&text),
            Recorded {
                remote: Some("sc://h:1".into()),
                open: vec![(B.into(), "agg".into())],
            }
        );
        assert_eq!(parse("remote sc://h:1"), Recorded::default());
    }

    #[test]
    fn the_file_is_locked_while_the_ledger_lives_and_removed_when_all_closed() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SessionLedger::new(&StateDir::new(dir.path()), "sc://h:1");
        ledger.opened(A, "load");
        let files: Vec<PathBuf> = fs::read_dir(dir.path().join(DIR))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 1);
        assert!(files[0].extension().is_some_and(|x| x == "log"));
        let other = File::open(&files[0]).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        ledger.opened(B, "agg");
        ledger.closed(A);
        let text = fs::read_to_string(&files[0]).unwrap();
        assert_eq!(parse(&text).open, vec![(B.to_string(), "agg".to_string())]);
        ledger.closed(B);
        drop(ledger);
        assert!(!files[0].exists());
    }

    #[test]
    fn a_ledger_with_open_sessions_is_kept_and_unlocked_when_its_process_ends() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = SessionLedger::new(&StateDir::new(dir.path()), "sc://h:1");
        ledger.opened(A, "load");
        drop(ledger);
        let file = fs::read_dir(dir.path().join(DIR))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        assert!(File::open(&file).unwrap().try_lock().is_ok());
        assert_eq!(
            parse(&fs::read_to_string(&file).unwrap()).open,
            vec![(A.to_string(), "load".to_string())]
        );
    }
}
