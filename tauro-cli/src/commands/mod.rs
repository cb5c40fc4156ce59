//! One module per subcommand, plus what `exec` and `resume` share.

pub mod backfill;
pub mod db;
pub mod delta;
pub mod exec;
pub mod experiment;
pub mod graph;
pub mod lineage;
pub mod list;
pub mod orchest;
pub mod plan;
pub mod progress;
pub mod resume;
pub mod run;
pub mod runs;
pub mod schedule;
pub mod serve;
pub mod spark;
pub mod stream;
pub mod validate;
