//! Finding a Spark installation that can run a Spark Connect server.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// Where `scripts/setup.sh` creates its cached virtualenv, below the cache directory.
const VENV_SUBDIR: &str = "tauro/spark-venv";

/// Finds `SPARK_HOME` for the embedded server, in this order: `SPARK_HOME`, the virtualenv
/// named by `TAURO_SPARK_VENV`, the cached virtualenv `$XDG_CACHE_HOME/tauro/spark-venv`
/// (`~/.cache/tauro/spark-venv`), then the `pyspark` importable by `python3`.
///
/// A candidate must hold `bin/spark-submit` and the Spark Connect server jar
/// (`jars/spark-connect_*.jar`) of Spark 4 or later.
pub fn find_spark_home() -> Result<PathBuf> {
    let mut searched = Vec::new();
    let mut consider = |label: String, home: Option<PathBuf>| -> Option<PathBuf> {
        match home {
            None => {
                searched.push(label);
                None
            }
            Some(home) => match check_spark_home(&home) {
                Ok(()) => Some(home),
                Err(why) => {
                    searched.push(format!("{label} = {} ({why})", home.display()));
                    None
                }
            },
        }
    };

    if let Some(home) = std::env::var_os("SPARK_HOME").filter(|v| !v.is_empty()) {
        if let Some(found) = consider("SPARK_HOME".into(), Some(PathBuf::from(home))) {
            return Ok(found);
        }
    } else {
        consider("SPARK_HOME (not set)".into(), None);
    }
    if let Some(venv) = std::env::var_os("TAURO_SPARK_VENV").filter(|v| !v.is_empty()) {
        let venv = PathBuf::from(venv);
        let label = format!("TAURO_SPARK_VENV = {}", venv.display());
        if let Some(found) = consider(label, pyspark_in_venv(&venv)) {
            return Ok(found);
        }
    }
    if let Some(venv) = default_venv() {
        let label = format!("cached virtualenv {} (no pyspark)", venv.display());
        if let Some(found) = consider(label, pyspark_in_venv(&venv)) {
            return Ok(found);
        }
    }
    let label = "python3 -c 'import pyspark' (not importable)".to_string();
    if let Some(found) = consider(label, pyspark_from_python()) {
        return Ok(found);
    }
    Err(Error::SparkNotFound { searched })
}

/// Where `scripts/setup.sh` installs Sail (pysail), below the cache directory.
const SAIL_VENV_SUBDIR: &str = "tauro/sail-venv";

/// Finds the `sail` program for an embedded Sail server, in this order: `TAURO_SAIL_BIN`,
/// `bin/sail` of the virtualenv named by `TAURO_SAIL_VENV`, of the cached virtualenv
/// `$XDG_CACHE_HOME/tauro/sail-venv` (`~/.cache/tauro/sail-venv`), then `sail` on `PATH`.
pub fn find_sail() -> Result<PathBuf> {
    let mut searched = Vec::new();
    let mut candidates: Vec<(String, PathBuf)> = Vec::new();
    if let Some(bin) = std::env::var_os("TAURO_SAIL_BIN").filter(|v| !v.is_empty()) {
        candidates.push(("TAURO_SAIL_BIN".into(), PathBuf::from(bin)));
    }
    if let Some(venv) = std::env::var_os("TAURO_SAIL_VENV").filter(|v| !v.is_empty()) {
        candidates.push((
            "TAURO_SAIL_VENV".into(),
            PathBuf::from(venv).join("bin").join("sail"),
        ));
    }
    if let Some(cache) = cache_dir() {
        candidates.push((
            "cached virtualenv".into(),
            cache.join(SAIL_VENV_SUBDIR).join("bin").join("sail"),
        ));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let bin = dir.join("sail");
            if bin.is_file() {
                candidates.push(("PATH".into(), bin));
                break;
            }
        }
    }
    for (label, bin) in candidates {
        if bin.is_file() {
            return Ok(bin);
        }
        searched.push(format!("{label} = {} (missing)", bin.display()));
    }
    if searched.is_empty() {
        searched.push("PATH (no sail)".into());
    }
    Err(Error::SailNotFound { searched })
}

/// `${XDG_CACHE_HOME:-$HOME/.cache}/tauro/spark-venv`.
pub fn default_venv() -> Option<PathBuf> {
    cache_dir().map(|c| c.join(VENV_SUBDIR))
}

/// `${XDG_CACHE_HOME:-$HOME/.cache}`.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg));
    }
    std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .map(|h| PathBuf::from(h).join(".cache"))
}

/// `<venv>/lib/python3.*/site-packages/pyspark`, if there is one.
fn pyspark_in_venv(venv: &Path) -> Option<PathBuf> {
    let lib = std::fs::read_dir(venv.join("lib")).ok()?;
    let mut candidates: Vec<PathBuf> = lib
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("site-packages").join("pyspark"))
        .filter(|p| p.is_dir())
        .collect();
    candidates.sort();
    candidates.pop()
}

fn pyspark_from_python() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import pyspark, os; print(os.path.dirname(pyspark.__file__))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!dir.is_empty()).then(|| PathBuf::from(dir))
}

/// Why `home` cannot run a Spark Connect server, if it cannot.
fn check_spark_home(home: &Path) -> std::result::Result<(), String> {
    if !home.join("bin").join("spark-submit").is_file() {
        return Err("no bin/spark-submit".into());
    }
    let jars = std::fs::read_dir(home.join("jars")).map_err(|_| "no jars directory".to_string())?;
    let connect_jar = jars
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("spark-connect_") && n.ends_with(".jar"));
    let Some(jar) = connect_jar else {
        return Err("no jars/spark-connect_*.jar: Spark Connect needs pyspark/Spark >= 4".into());
    };
    match jar_version_major(&jar) {
        Some(major) if major >= 4 => Ok(()),
        Some(major) => Err(format!("Spark {major}.x is too old; Spark >= 4 is needed")),
        None => Ok(()),
    }
}

/// The major version in `spark-connect_2.13-4.3.0.jar`.
fn jar_version_major(jar: &str) -> Option<u32> {
    let stem = jar.strip_suffix(".jar")?;
    let version = stem.rsplit('-').next()?;
    version.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jar_versions() {
        assert_eq!(jar_version_major("spark-connect_2.13-4.3.0.jar"), Some(4));
        assert_eq!(jar_version_major("spark-connect_2.12-3.5.1.jar"), Some(3));
        assert_eq!(jar_version_major("spark-connect.jar"), None);
    }

    #[test]
    fn a_directory_without_spark_is_rejected() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        assert!(check_spark_home(dir.path()).is_err());
        std::fs::create_dir_all(dir.path().join("bin"))?;
        std::fs::write(dir.path().join("bin/spark-submit"), "")?;
        std::fs::create_dir_all(dir.path().join("jars"))?;
        assert!(check_spark_home(dir.path()).is_err_and(|e| e.contains("spark-connect_")),);
        std::fs::write(dir.path().join("jars/spark-connect_2.12-3.5.1.jar"), "")?;
        assert!(check_spark_home(dir.path()).is_err_and(|e| e.contains("too old")));
        std::fs::write(dir.path().join("jars/spark-connect_2.12-3.5.1.jar"), "")?;
        std::fs::remove_file(dir.path().join("jars/spark-connect_2.12-3.5.1.jar"))?;
        std::fs::write(dir.path().join("jars/spark-connect_2.13-4.3.0.jar"), "")?;
        assert_eq!(check_spark_home(dir.path()), Ok(()));
        Ok(())
    }
}
