//! Tauro io layer.
#![warn(missing_docs)]
