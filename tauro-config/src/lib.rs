//! Tauro configuration (layer 1 of 6: `config ← io ← exec ← streaming ← orchest ← cli`).
//!
//! Loads a project's five sources (global settings, pipelines, nodes, input, output), merges
//! an environment over `base`, interpolates variables and validates everything into a typed
//! [`Context`]. Pure: no network, no Spark.
#![warn(missing_docs)]

pub mod model;

pub use model::*;
