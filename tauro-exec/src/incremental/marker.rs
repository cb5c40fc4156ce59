//! Cheap change markers of file inputs: the size and modification time of every file under a
//! local path (a file, a directory walked recursively, or a Spark-style glob). No file is
//! read. Remote URIs (`s3://`, `hdfs://`, `dbfs:/`, ...) get no marker.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use sha2::{Digest, Sha256};

/// Deepest directory level walked below an input path.
const MAX_DEPTH: usize = 32;

/// The marker of the files at `path`: `None` for remote URIs, `missing` when nothing is
/// there, otherwise `files:<count>:<bytes>:<digest of (path, size, mtime) of each file>`.
pub(crate) fn file_marker(path: &str) -> Option<String> {
    let local = local_path(path)?;
    let mut files = Vec::new();
    match glob_base(&local) {
        Some(base) => {
            // Spark's `{a,b}` alternatives are not glob-crate syntax: then every file under
            // the base counts (more re-runs, never a missed change).
            let pattern = if local.contains('{') {
                None
            } else {
                glob::Pattern::new(&local).ok()
            };
            walk(&base, &mut files, 0);
            if let Some(pattern) = pattern {
                // A file counts when it, or a directory it is in, matches.
                files.retain(|(p, _, _)| p.ancestors().any(|a| pattern.matches_path(a)));
            }
        }
        None => walk(Path::new(&local), &mut files, 0),
    }
    if files.is_empty() {
        return Some("missing".to_string());
    }
    files.sort();
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    for (p, size, mtime) in &files {
        bytes += size;
        hasher.update(p.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(size.to_le_bytes());
        hasher.update(mtime.to_le_bytes());
    }
    Some(format!(
        "files:{}:{bytes}:{}",
        files.len(),
        super::fingerprint::hex(&hasher.finalize())
    ))
}

/// A local path for `path`, or `None` for a remote URI. `file:` URIs are local.
fn local_path(path: &str) -> Option<String> {
    if let Some(rest) = path.strip_prefix("file://") {
        return Some(rest.to_string());
    }
    if let Some(rest) = path.strip_prefix("file:") {
        return Some(rest.to_string());
    }
    let is_uri = path.split_once(':').is_some_and(|(scheme, rest)| {
        scheme.len() >= 2
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'))
            && rest.starts_with('/')
    });
    (!is_uri).then(|| path.to_string())
}

/// For a glob, the deepest directory without glob characters; `None` for a plain path.
fn glob_base(path: &str) -> Option<PathBuf> {
    let is_glob = |s: &str| s.contains(['*', '?', '[', '{']);
    if !is_glob(path) {
        return None;
    }
    let mut base = PathBuf::new();
    for component in Path::new(path).components() {
        let text = component.as_os_str().to_string_lossy();
        if is_glob(&text) {
            break;
        }
        base.push(component);
    }
    Some(base)
}

/// Every file at or under `path` as `(path, size, mtime in ns)`. Symlinked directories are
/// not followed (no loops); unreadable entries are left out.
fn walk(path: &Path, files: &mut Vec<(PathBuf, u64, u128)>, depth: usize) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return;
    };
    if meta.is_dir() {
        if depth >= MAX_DEPTH {
            return;
        }
        let Ok(entries) = fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            walk(&entry.path(), files, depth + 1);
        }
        return;
    }
    // A symlink to a file counts with its target's size and time.
    let Ok(meta) = fs::metadata(path) else {
        return;
    };
    if meta.is_file() {
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        files.push((path.to_path_buf(), meta.len(), mtime));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::{Duration, SystemTime};

    use super::*;

    fn set_mtime(path: &Path, secs: u64) {
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    #[test]
    fn remote_uris_have_no_marker_and_missing_paths_say_so() {
        assert_eq!(file_marker("s3://bucket/data"), None);
        assert_eq!(file_marker("dbfs:/mnt/x"), None);
        assert_eq!(
            file_marker("/definitely/not/here/x.csv").as_deref(),
            Some("missing")
        );
    }

    #[test]
    fn size_and_mtime_of_files_under_a_directory_count() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("ds");
        fs::create_dir_all(data.join("day=1")).unwrap();
        let part = data.join("day=1").join("part-0.parquet");
        fs::write(&part, b"abc").unwrap();
        set_mtime(&part, 1_000);
        let path = data.display().to_string();
        let first = file_marker(&path).unwrap();
        assert!(first.starts_with("files:1:3:"), "{first}");
        assert_eq!(file_marker(&path).unwrap(), first, "stable");
        set_mtime(&part, 2_000);
        let touched = file_marker(&path).unwrap();
        assert_ne!(touched, first, "mtime counts");
        fs::write(data.join("day=1").join("part-1.parquet"), b"d").unwrap();
        assert!(file_marker(&path).unwrap().starts_with("files:2:4:"));
        // file: URIs are local.
        assert_eq!(
            file_marker(&format!("file://{path}")),
            file_marker(&path),
            "file URI"
        );
    }

    #[test]
    fn globs_count_matching_files_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.csv"), b"1").unwrap();
        fs::write(dir.path().join("notes.txt"), b"1").unwrap();
        let glob = format!("{}/*.csv", dir.path().display());
        let before = file_marker(&glob).unwrap();
        assert!(before.starts_with("files:1:1:"), "{before}");
        fs::write(dir.path().join("notes.txt"), b"changed").unwrap();
        assert_eq!(file_marker(&glob).unwrap(), before, "non-matching file");
        fs::write(dir.path().join("b.csv"), b"22").unwrap();
        assert!(file_marker(&glob).unwrap().starts_with("files:2:3:"));
        // Alternatives: every file under the base counts.
        let alt = format!("{}/{{a,b}}.csv", dir.path().display());
        assert!(file_marker(&alt).unwrap().starts_with("files:3:"));
    }
}
