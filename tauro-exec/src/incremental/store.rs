//! The project's `.tauro/` directory: file names, atomic writes, the writers' lock.
//!
//! Every file is replaced atomically: written to a temp file in the same directory, flushed
//! to disk (`fsync`), then renamed over the old one (and the directory synced), so a reader
//! or a crash sees either the old or the new file, never half of one. Writers of one project
//! (threads or processes) take an exclusive lock on `.tauro/.lock` around each
//! read-modify-write, so runs of different pipelines do not lose each other's updates.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// The state directory of a project (`<project_dir>/.tauro` by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// `<project_dir>/.tauro`.
    pub fn for_project(project_dir: &Path) -> Self {
        Self::new(project_dir.join(".tauro"))
    }

    /// A state directory somewhere else.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// `manifest.json`: the compiled pipelines of the last run of each.
    pub fn manifest(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    /// `manifest.prev.json`: the manifest file before the last write.
    pub fn previous_manifest(&self) -> PathBuf {
        self.dir.join("manifest.prev.json")
    }

    /// `run_state.json`: per pipeline and node, what the last runs did.
    pub fn run_state(&self) -> PathBuf {
        self.dir.join("run_state.json")
    }

    /// `run_state.json.bak`: the previous good run state.
    pub fn run_state_backup(&self) -> PathBuf {
        self.dir.join("run_state.json.bak")
    }

    /// Takes the writers' lock (blocking), creating the directory if needed.
    pub(crate) fn lock(&self) -> Result<DirLock> {
        let path = self.dir.join(".lock");
        let file = fs::create_dir_all(&self.dir)
            .and_then(|()| {
                File::options()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)
            })
            .and_then(|f| f.lock().map(|()| f))
            .map_err(|source| Error::StateFile {
                path: path.clone(),
                action: "lock",
                source,
            })?;
        Ok(DirLock { _file: file })
    }
}

/// Held while a writer reads, merges and replaces a file; released on drop.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Replaces `path` with `bytes` atomically. With `backup`, the old file (if any) is kept
/// there first (a hard link, or a copy where links are not supported).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], backup: Option<&Path>) -> Result<()> {
    let io_err = |source: io::Error| Error::StateFile {
        path: path.to_path_buf(),
        action: "write",
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err)?;
    let tmp = temp_name(path);
    let written = File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    if let Some(backup) = backup
        && path.exists()
    {
        let _ = fs::remove_file(backup);
        if fs::hard_link(path, backup).is_err()
            && let Err(e) = fs::copy(path, backup)
        {
            tracing::warn!(path = %backup.display(), error = %e, "could not keep a backup");
        }
    }
    if let Err(e) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e));
    }
    sync_dir(dir);
    Ok(())
}

/// Reads a file; `Ok(None)` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn temp_name(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Makes the rename durable (best effort: not every platform can sync a directory).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn atomic_write_keeps_a_backup_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let sd = StateDir::new(dir.path().join(".tauro"));
        let (file, bak) = (sd.run_state(), sd.run_state_backup());
        write_atomic(&file, b"one", Some(&bak)).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"one");
        assert!(!bak.exists(), "nothing to back up the first time");
        write_atomic(&file, b"two", Some(&bak)).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"two");
        assert_eq!(fs::read(&bak).unwrap(), b"one");
        write_atomic(&file, b"three", Some(&bak)).unwrap();
        assert_eq!(fs::read(&bak).unwrap(), b"two");
        let names: Vec<String> = fs::read_dir(sd.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp-")), "{names:?}");
        assert_eq!(read_optional(&sd.manifest()).unwrap(), None);
        let _lock = sd.lock().unwrap();
    }
}
