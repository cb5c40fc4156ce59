//! Collecting diagnostics while loading: a table of the files read and a list of problems.

use std::path::{Path, PathBuf};

use crate::error::{Diagnostic, Error};
use crate::model::Location;
use crate::tree::{FileId, Loc};

/// The files (or in-memory labels) a load has read, indexed by [`FileId`].
#[derive(Debug, Default)]
pub(crate) struct Files {
    paths: Vec<PathBuf>,
}

impl Files {
    /// Registers a file (or returns its id if it is already known).
    pub fn add(&mut self, path: &Path) -> FileId {
        if let Some(i) = self.paths.iter().position(|p| p == path) {
            return FileId(u32::try_from(i).unwrap_or(u32::MAX));
        }
        self.paths.push(path.to_path_buf());
        FileId(u32::try_from(self.paths.len() - 1).unwrap_or(u32::MAX))
    }

    /// The public location of `loc`.
    pub fn location(&self, loc: Loc) -> Location {
        let file = usize::try_from(loc.file.0)
            .ok()
            .and_then(|i| self.paths.get(i))
            .cloned()
            .unwrap_or_default();
        Location {
            file,
            line: usize::try_from(loc.line).unwrap_or(usize::MAX),
        }
    }
}

/// Problems found so far, in discovery order.
#[derive(Debug)]
pub(crate) struct Diags {
    list: Vec<(Loc, String, Option<String>)>,
    /// What is left of the "did you mean" work of this load.
    suggest_budget: usize,
}

impl Default for Diags {
    fn default() -> Self {
        Self {
            list: Vec::new(),
            suggest_budget: crate::suggest::LOAD_WORK,
        }
    }
}

impl Diags {
    /// `"; did you mean 'x'?"` among the project's own names (nodes, datasets), within the
    /// load's budget for suggestions.
    pub fn did_you_mean<'a>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> String {
        crate::suggest::did_you_mean_within(word, candidates, &mut self.suggest_budget)
    }

    /// Records a problem at `loc`.
    pub fn error(&mut self, loc: Loc, message: impl Into<String>) {
        self.list.push((loc, message.into(), None));
    }

    /// Records a problem at `loc` with a fix.
    pub fn error_hint(&mut self, loc: Loc, message: impl Into<String>, hint: impl Into<String>) {
        self.list.push((loc, message.into(), Some(hint.into())));
    }

    /// `Ok(())` when empty, else every problem as [`Error::Invalid`], ordered by file (in
    /// reading order) and line.
    pub fn finish(mut self, files: &Files) -> Result<(), Error> {
        if self.list.is_empty() {
            return Ok(());
        }
        self.list.sort_by_key(|(loc, _, _)| (loc.file.0, loc.line));
        let diagnostics = self
            .list
            .into_iter()
            .map(|(loc, message, hint)| Diagnostic {
                location: files.location(loc),
                message,
                hint,
            })
            .collect();
        Err(Error::Invalid(diagnostics))
    }
}

/// Helpers for unit tests of the document builders: everything is in `t.yaml`.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;

    use super::{Diags, Files};
    use crate::model::Location;
    use crate::tree::{FileId, Loc, Node};

    /// Parses YAML as `t.yaml`.
    #[allow(clippy::unwrap_used)]
    pub fn yaml(text: &str) -> Node {
        crate::parse::parse_yaml(text, FileId(0)).unwrap()
    }

    /// The location function builders take.
    pub fn location(loc: Loc) -> Location {
        files().location(loc)
    }

    fn files() -> Files {
        let mut files = Files::default();
        files.add(Path::new("t.yaml"));
        files
    }

    /// The collected messages as `t.yaml:line: message`.
    pub fn messages(diags: Diags) -> Vec<String> {
        match diags.finish(&files()) {
            Ok(()) => Vec::new(),
            Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
        }
    }
}
