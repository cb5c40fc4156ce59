//! What a node computes, as a command the runner dispatches on.

use std::path::PathBuf;

use tauro_config::{NodeCompute, NodeConfig};

/// The work of one node.
///
/// `#[non_exhaustive]`: ML commands (training with hyperparameters, experiments) will be
/// added as variants; runners must reject variants they do not know.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NodeCommand {
    /// Spark SQL (`sql:` or `sql_file:`); the node's inputs are temp views, `:start_date` and
    /// `:end_date` are bound as named parameters.
    Sql {
        /// The SQL text.
        text: String,
        /// The file it came from (`sql_file:`).
        file: Option<PathBuf>,
    },
    /// A function of the node registry, called with the node's inputs.
    Function {
        /// The registered name.
        name: String,
    },
}

impl NodeCommand {
    /// The command of a configured node.
    pub fn from_node(node: &NodeConfig) -> Self {
        match &node.compute {
            NodeCompute::Sql { text, file } => Self::Sql {
                text: text.clone(),
                file: file.clone(),
            },
            NodeCompute::Function { name } => Self::Function { name: name.clone() },
        }
    }

    /// `sql` or `function`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sql { .. } => "sql",
            Self::Function { .. } => "function",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::node;

    #[test]
    fn commands_follow_the_node_config() {
        let mut n = node("a");
        assert_eq!(NodeCommand::from_node(&n).kind(), "sql");
        n.compute = NodeCompute::Function {
            name: "dedupe".into(),
        };
        assert_eq!(
            NodeCommand::from_node(&n),
            NodeCommand::Function {
                name: "dedupe".into()
            }
        );
    }
}
