//! The model registry hook and its file-based default.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::error::{BoxError, Error, Result};

/// One version of a model, as registered by a successful run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersionRecord {
    /// The model.
    pub model: String,
    /// The version.
    pub version: String,
    /// The run that produced it.
    pub run_id: String,
    /// The pipeline of that run.
    pub pipeline: String,
    /// When it was registered.
    pub registered_at: DateTime<Utc>,
    /// The hyperparameters of the run.
    pub hyperparams: IndexMap<String, serde_json::Value>,
    /// Its metrics.
    #[serde(default)]
    pub metrics: IndexMap<String, f64>,
}

/// Where model versions are kept. An embedding program may implement it over its own
/// registry; [`FileModelRegistry`] keeps a JSON file per model.
pub trait ModelRegistry: Send + Sync {
    /// Registers (or re-registers) a version of a model.
    fn register_version(&self, record: &ModelVersionRecord) -> Result<()>;

    /// Records metrics of a registered version (merged over what it has).
    fn record_metrics(
        &self,
        model: &str,
        version: &str,
        metrics: &IndexMap<String, f64>,
    ) -> Result<()>;

    /// The most recently registered version of `model`, if any (what `latest` resolves to).
    fn latest(&self, model: &str) -> Result<Option<ModelVersionRecord>>;
}

/// Every version of one model (the file of [`FileModelRegistry`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelRecord {
    /// The model.
    pub model: String,
    /// Its versions, oldest registration first.
    pub versions: Vec<ModelVersionRecord>,
}

/// A registry in a directory: `<dir>/<model>.json` per model (by default the project's
/// `.tauro/models/`). Writes are atomic (temp file + rename).
#[derive(Debug, Clone)]
pub struct FileModelRegistry {
    dir: PathBuf,
}

impl FileModelRegistry {
    /// A registry in `dir` (created on first write).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The registry of a project: `<project>/.tauro/models`.
    pub fn for_project(project_dir: &Path) -> Self {
        Self::new(project_dir.join(".tauro").join("models"))
    }

    /// The file of `model`.
    pub fn path(&self, model: &str) -> PathBuf {
        let safe: String = model
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("{safe}.json"))
    }

    /// Every version of `model` (empty when none).
    pub fn record(&self, model: &str) -> Result<ModelRecord> {
        let path = self.path(model);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| fail("read", &path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ModelRecord {
                model: model.to_string(),
                versions: Vec::new(),
            }),
            Err(e) => Err(fail("read", &path, e)),
        }
    }

    fn write(&self, record: &ModelRecord) -> Result<()> {
        let path = self.path(&record.model);
        std::fs::create_dir_all(&self.dir).map_err(|e| fail("create", &self.dir, e))?;
        let text = serde_json::to_string_pretty(record).map_err(|e| fail("encode", &path, e))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| fail("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| fail("replace", &path, e))
    }
}

fn fail(action: &str, path: &Path, e: impl Into<BoxError>) -> Error {
    Error::ModelRegistry {
        action: format!("{action} {}", path.display()),
        source: e.into(),
    }
}

impl ModelRegistry for FileModelRegistry {
    fn register_version(&self, record: &ModelVersionRecord) -> Result<()> {
        let mut all = self.record(&record.model)?;
        all.versions.retain(|v| v.version != record.version);
        all.versions.push(record.clone());
        self.write(&all)
    }

    fn record_metrics(
        &self,
        model: &str,
        version: &str,
        metrics: &IndexMap<String, f64>,
    ) -> Result<()> {
        let mut all = self.record(model)?;
        let Some(v) = all.versions.iter_mut().find(|v| v.version == version) else {
            return Err(Error::NoModelVersion {
                model: format!("{model}@{version}"),
            });
        };
        v.metrics
            .extend(metrics.iter().map(|(k, v)| (k.clone(), *v)));
        self.write(&all)
    }

    fn latest(&self, model: &str) -> Result<Option<ModelVersionRecord>> {
        Ok(self.record(model)?.versions.pop())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(version: &str) -> ModelVersionRecord {
        ModelVersionRecord {
            model: "churn model".into(),
            version: version.into(),
            run_id: format!("run-{version}"),
            pipeline: "p".into(),
            registered_at: Utc::now(),
            hyperparams: IndexMap::new(),
            metrics: IndexMap::new(),
        }
    }

    #[test]
    fn registers_versions_and_resolves_latest() {
        let dir = tempfile::tempdir().unwrap();
        let r = FileModelRegistry::new(dir.path());
        assert!(r.latest("churn model").unwrap().is_none());
        r.register_version(&record("v1")).unwrap();
        r.register_version(&record("v2")).unwrap();
        r.record_metrics("churn model", "v1", &IndexMap::from([("f1".into(), 0.5)]))
            .unwrap();
        assert_eq!(r.latest("churn model").unwrap().unwrap().version, "v2");
        // Re-registering v1 makes it the latest again.
        r.register_version(&record("v1")).unwrap();
        let all = r.record("churn model").unwrap();
        assert_eq!(all.versions.len(), 2);
        assert_eq!(all.versions[1].version, "v1");
        assert!(r.path("churn model").ends_with("churn_model.json"));
        assert!(
            r.record_metrics("churn model", "v9", &IndexMap::new())
                .is_err()
        );
    }
}
