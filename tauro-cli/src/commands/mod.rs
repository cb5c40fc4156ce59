//! One module per subcommand.

pub mod exec;
pub mod graph;
pub mod list;
pub mod spark;
pub mod validate;
