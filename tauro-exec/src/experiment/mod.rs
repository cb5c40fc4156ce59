//! Experiments: a Bayesian-optimisation search over a pipeline's hyperparameters.
//!
//! - [`SearchSpace`] maps points of the unit cube to hyperparameter values and encodes the
//!   values that were run as inputs of the surrogate model.
//! - `gp` is a small Gaussian-process regression (Matérn 5/2, hyperparameters by maximum
//!   likelihood over a fixed grid) with expected improvement; plain `f64` code, no linear
//!   algebra crate (`egobox-ego` pulls ndarray, linfa and argmin, too heavy to build here;
//!   `friedrich` is unmaintained).
//! - [`BayesOptimizer`] is the ask/tell loop: a seeded Latin hypercube first, then the
//!   candidate with the largest expected improvement.
//! - [`ExperimentCommand`] runs a whole experiment with a caller's async function per trial and
//!   returns an [`ExperimentReport`] (`report`; [`render_table`] prints it).
//!
//! Everything is deterministic: the same seed and the same results give the same proposals.

mod command;
mod dimension;
mod gp;
mod optimizer;
mod report;
mod sampling;
mod space;

pub use command::{ExperimentCommand, Trial, TrialOutcome};
pub use optimizer::{BayesOptimizer, Proposal, TrialKind};
pub use report::{ExperimentReport, TrialRecord, TrialStatus, render_table};
pub use space::SearchSpace;
