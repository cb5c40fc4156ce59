//! Which nodes of a pipeline a run executes.

/// The nodes of a pipeline a run executes.
///
/// Dependencies on nodes left out count as satisfied (their outputs are read from storage).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeSelection {
    /// Every node (the default).
    #[default]
    All,
    /// Only these nodes (`--node X`).
    Only(Vec<String>),
    /// These nodes and everything downstream of them.
    WithDownstream(Vec<String>),
}

impl NodeSelection {
    /// The names given, if any.
    pub fn names(&self) -> &[String] {
        match self {
            Self::All => &[],
            Self::Only(names) | Self::WithDownstream(names) => names,
        }
    }
}
