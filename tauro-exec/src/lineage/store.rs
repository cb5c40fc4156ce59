//! The lineage files: `<project_dir>/.tauro/lineage/<run_id>.json`.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tauro_config::Context;

use super::{LINEAGE_SCHEMA_VERSION, RunLineage};
use crate::report::RunReport;
use crate::run_id::is_valid_run_id;

/// Why a lineage file could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LineageStoreError {
    /// The run id cannot name a file.
    #[error(
        "run id '{0}' cannot name a lineage file (use ASCII letters, digits, '.', '_' and '-')"
    )]
    InvalidRunId(String),
    /// No lineage for this run.
    #[error("no lineage recorded for run '{run_id}' in {}{}", dir.display(), recent_hint(recent))]
    NotFound {
        /// The run asked for.
        run_id: String,
        /// The lineage directory.
        dir: PathBuf,
        /// The most recent runs that have lineage (newest first, at most 5).
        recent: Vec<String>,
    },
    /// No lineage at all yet (`latest` asked).
    #[error("no lineage recorded yet in {}", .0.display())]
    Empty(PathBuf),
    /// A file operation failed.
    #[error("could not {action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a lineage file (or is damaged).
    #[error("{} is not a valid lineage file", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The file was written by a newer Tauro.
    #[error(
        "{} has lineage schema version {found}; this Tauro reads version {supported}",
        path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// Its `schema_version`.
        found: u64,
        /// [`LINEAGE_SCHEMA_VERSION`].
        supported: u32,
    },
}

fn recent_hint(recent: &[String]) -> String {
    if recent.is_empty() {
        String::new()
    } else {
        format!(" (recent runs: {})", recent.join(", "))
    }
}

type Result<T> = std::result::Result<T, LineageStoreError>;

/// The lineage directory of a project.
fn lineage_dir(project_dir: &Path) -> PathBuf {
    project_dir.join(".tauro").join("lineage")
}

/// Writes run lineage files into a project's `.tauro/lineage/`.
#[derive(Debug, Clone)]
pub struct LineageWriter {
    dir: PathBuf,
}

impl LineageWriter {
    /// A writer for the project in `project_dir`.
    pub fn new(project_dir: &Path) -> Self {
        Self {
            dir: lineage_dir(project_dir),
        }
    }

    /// The directory files go to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `lineage` to `<dir>/<run_id>.json` atomically (a temp file in the same
    /// directory, flushed, then renamed over the target) and returns the path.
    pub fn write(&self, lineage: &RunLineage) -> Result<PathBuf> {
        if !is_valid_run_id(&lineage.run_id) {
            return Err(LineageStoreError::InvalidRunId(lineage.run_id.clone()));
        }
        let path = self.dir.join(format!("{}.json", lineage.run_id));
        let mut text =
            serde_json::to_vec_pretty(lineage).map_err(|source| LineageStoreError::Parse {
                path: path.clone(),
                source,
            })?;
        text.push(b'\n');
        write_atomic(&path, &text)?;
        Ok(path)
    }

    /// Builds the lineage of `report` (see [`RunLineage::from_report`]) and writes it.
    pub fn write_run(&self, ctx: &Context, report: &RunReport) -> Result<PathBuf> {
        self.write(&RunLineage::from_report(ctx, report))
    }
}

/// Writes the lineage of `report` to `<ctx.project_dir>/.tauro/lineage/<run_id>.json`.
pub fn write_lineage(ctx: &Context, report: &RunReport) -> Result<PathBuf> {
    LineageWriter::new(&ctx.project_dir).write_run(ctx, report)
}

/// `bytes` to `path` via a temp file and a rename (readers never see half a file).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| LineageStoreError::Io {
            action,
            path,
            source,
        }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io("create the directory", dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io("write", &tmp)(source));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("replace", path)(e)
    })
}

/// One run with lineage, as listed by [`list_lineage`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineageEntry {
    /// The run.
    pub run_id: String,
    /// The pipeline.
    pub pipeline: String,
    /// How it ended.
    pub status: String,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_secs: f64,
    /// Nodes in the run.
    pub nodes: usize,
    /// The file.
    pub path: PathBuf,
}

/// The header fields [`list_lineage`] reads.
#[derive(Deserialize)]
struct Header {
    schema_version: u64,
    run_id: String,
    pipeline: String,
    status: String,
    started_at: DateTime<Utc>,
    duration_secs: f64,
    nodes: Vec<serde::de::IgnoredAny>,
}

/// The runs with lineage in the project, oldest first (by start time, then run id). Files
/// that are not lineage files are skipped (and logged).
pub fn list_lineage(project_dir: &Path) -> Result<Vec<LineageEntry>> {
    let dir = lineage_dir(project_dir);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(LineageStoreError::Io {
                action: "list",
                path: dir,
                source,
            });
        }
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let is_json = path.extension().is_some_and(|e| e == "json");
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if !is_json || hidden {
            continue;
        }
        let header = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Header>(&b).map_err(|e| e.to_string()));
        match header {
            Ok(h) if h.schema_version >= 1 => out.push(LineageEntry {
                run_id: h.run_id,
                pipeline: h.pipeline,
                status: h.status,
                started_at: h.started_at,
                duration_secs: h.duration_secs,
                nodes: h.nodes.len(),
                path,
            }),
            Ok(_) => tracing::warn!(path = %path.display(), "not a lineage file; skipped"),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "not a lineage file; skipped");
            }
        }
    }
    out.sort_by(|a, b| {
        (a.started_at, &a.run_id)
            .partial_cmp(&(b.started_at, &b.run_id))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(out)
}

/// The lineage of the run `run_id` (`latest`: the most recently started run).
pub fn read_lineage(project_dir: &Path, run_id: &str) -> Result<RunLineage> {
    let dir = lineage_dir(project_dir);
    let path = if run_id == "latest" {
        let runs = list_lineage(project_dir)?;
        match runs.last() {
            Some(latest) => latest.path.clone(),
            None => return Err(LineageStoreError::Empty(dir)),
        }
    } else {
        if !is_valid_run_id(run_id) {
            return Err(LineageStoreError::InvalidRunId(run_id.to_string()));
        }
        dir.join(format!("{run_id}.json"))
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let recent = list_lineage(project_dir)
                .unwrap_or_default()
                .into_iter()
                .rev()
                .take(5)
                .map(|e| e.run_id)
                .collect();
            return Err(LineageStoreError::NotFound {
                run_id: run_id.to_string(),
                dir,
                recent,
            });
        }
        Err(source) => {
            return Err(LineageStoreError::Io {
                action: "read",
                path,
                source,
            });
        }
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|source| LineageStoreError::Parse {
            path: path.clone(),
            source,
        })?;
    let found = value
        .get("schema_version")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if found > u64::from(LINEAGE_SCHEMA_VERSION) {
        return Err(LineageStoreError::UnsupportedVersion {
            path,
            found,
            supported: LINEAGE_SCHEMA_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|source| LineageStoreError::Parse { path, source })
}
