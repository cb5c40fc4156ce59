//! Tauro streaming layer.
#![warn(missing_docs)]
