//! Tauro exec layer.
#![warn(missing_docs)]
