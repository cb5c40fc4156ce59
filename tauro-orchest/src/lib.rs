//! Tauro orchest layer.
#![warn(missing_docs)]
