//! Errors of the configuration layer.
//!
//! Problems in the project's files are collected as [`Diagnostic`]s (each names a file and a
//! line) and reported together as [`Error::Invalid`], so a user fixes every mistake in one go.
//! Messages never contain the value of a secret-looking key.

use std::fmt;
use std::path::PathBuf;

use chrono::NaiveDate;

use crate::model::Location;

/// Result of the configuration layer.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Where the problem is (the offending key's line where known).
    pub location: Location,
    /// What is wrong, including a "did you mean" suggestion where one exists.
    pub message: String,
    /// How to fix it, when known beyond the message.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// An error of the configuration layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No settings file was found at or above the given directory.
    #[error(
        "no Tauro project found in {}: expected one of {}",
        start.display(),
        crate::descriptor::SETTINGS_FILE_NAMES.join(", ")
    )]
    ProjectNotFound {
        /// Where the search started.
        start: PathBuf,
    },
    /// The settings file itself could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// The project's files contain one or more mistakes.
    #[error("{}", render_diagnostics(.0))]
    Invalid(Vec<Diagnostic>),
    /// The requested environment is not declared in the settings file.
    #[error("unknown environment '{env}'{}{} (available: {})",
        if suggestion.is_some() { "; did you mean " } else { "" },
        suggestion.as_deref().map(|s| format!("'{s}'?")).unwrap_or_default(),
        available.join(", "))]
    UnknownEnvironment {
        /// The environment asked for.
        env: String,
        /// The environments the settings file declares.
        available: Vec<String>,
        /// The closest declared name, if any is close.
        suggestion: Option<String>,
        /// The settings file (line of `env_config`).
        location: Location,
    },
    /// The requested pipeline does not exist.
    #[error("unknown pipeline '{name}'{}{} (available: {})",
        if suggestion.is_some() { "; did you mean " } else { "" },
        suggestion.as_deref().map(|s| format!("'{s}'?")).unwrap_or_default(),
        if available.is_empty() { "none".to_owned() } else { available.join(", ") })]
    UnknownPipeline {
        /// The pipeline asked for.
        name: String,
        /// The pipelines of the project.
        available: Vec<String>,
        /// The closest name, if any is close.
        suggestion: Option<String>,
    },
    /// A date is not a valid `YYYY-MM-DD` calendar date.
    #[error("invalid date '{value}': expected YYYY-MM-DD")]
    InvalidDate {
        /// The text given.
        value: String,
    },
    /// A date window ends before it starts.
    #[error("end date {end} is before start date {start}")]
    InvalidWindow {
        /// First day.
        start: NaiveDate,
        /// Last day.
        end: NaiveDate,
    },
    /// An end date was given without any start date (neither given nor in global settings).
    #[error("end date {end} was given without a start date")]
    MissingStart {
        /// The end date given.
        end: NaiveDate,
    },
}

fn render_diagnostics(diagnostics: &[Diagnostic]) -> String {
    match diagnostics {
        [] => "invalid configuration".to_owned(),
        [one] => one.to_string(),
        many => {
            let mut out = format!("{} configuration errors:", many.len());
            for d in many {
                out.push_str("\n  ");
                out.push_str(&d.to_string());
            }
            out
        }
    }
}

impl Error {
    /// Where the (first) problem is, when it comes from a file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Invalid(diagnostics) => diagnostics.first().map(|d| &d.location),
            Error::UnknownEnvironment { location, .. } => Some(location),
            Error::ProjectNotFound { .. }
            | Error::Read { .. }
            | Error::UnknownPipeline { .. }
            | Error::InvalidDate { .. }
            | Error::InvalidWindow { .. }
            | Error::MissingStart { .. } => None,
        }
    }

    /// The collected diagnostics (empty unless [`Error::Invalid`]).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Invalid(diagnostics) => diagnostics,
            Error::ProjectNotFound { .. }
            | Error::Read { .. }
            | Error::UnknownEnvironment { .. }
            | Error::UnknownPipeline { .. }
            | Error::InvalidDate { .. }
            | Error::InvalidWindow { .. }
            | Error::MissingStart { .. } => &[],
        }
    }

    /// How to fix the problem, when known.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::ProjectNotFound { .. } => Some(
                "run from a project directory, pass the project path, or create one with `tauro-cli init`"
                    .to_owned(),
            ),
            Error::Read { .. } => None,
            Error::Invalid(diagnostics) => match diagnostics.as_slice() {
                [one] => one.hint.clone(),
                _ => None,
            },
            Error::UnknownEnvironment { available, .. } => Some(format!(
                "choose one of the environments declared under `env_config`: {}",
                available.join(", ")
            )),
            Error::UnknownPipeline { .. } => {
                Some("`tauro-cli list` shows the project's pipelines".to_owned())
            }
            Error::InvalidDate { .. } => Some("write dates as YYYY-MM-DD, e.g. 2025-01-31".to_owned()),
            Error::InvalidWindow { .. } => Some("swap the dates or widen the window".to_owned()),
            Error::MissingStart { .. } => {
                Some("give a start date too, or set `start_date` in the global settings".to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(line: usize, message: &str, hint: Option<&str>) -> Diagnostic {
        Diagnostic {
            location: Location {
                file: PathBuf::from("a.yaml"),
                line,
            },
            message: message.to_owned(),
            hint: hint.map(str::to_owned),
        }
    }

    #[test]
    fn one_or_many_diagnostics() {
        let one = Error::Invalid(vec![diag(3, "bad", Some("fix it"))]);
        assert_eq!(one.to_string(), "a.yaml:3: bad");
        assert_eq!(one.hint().as_deref(), Some("fix it"));
        assert_eq!(
            one.location().map(ToString::to_string).as_deref(),
            Some("a.yaml:3")
        );
        let many = Error::Invalid(vec![diag(1, "x", Some("h")), diag(0, "y", None)]);
        assert_eq!(
            many.to_string(),
            "2 configuration errors:\n  a.yaml:1: x\n  a.yaml: y"
        );
        assert_eq!(many.hint(), None);
        assert_eq!(many.diagnostics().len(), 2);
    }
}
