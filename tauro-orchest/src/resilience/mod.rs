//! Resilience primitives used by the runner and the scheduler, public for embedders.
//!
//! - [`RetryPolicy`]: attempts with exponential backoff and jitter ([`Jitter`]).
//! - [`CircuitBreaker`]: closed → open after consecutive failures → half-open after a
//!   timeout → closed after successful trials; refuses calls with [`CircuitOpen`].
//! - [`Bulkhead`]: a concurrency limit with a bounded queue; refuses with [`BulkheadFull`].
//!
//! ```
//! use std::time::Duration;
//! use tauro_orchest::resilience::{CircuitBreaker, CircuitBreakerConfig, CircuitState};
//!
//! let breaker = CircuitBreaker::new("spark", CircuitBreakerConfig {
//!     failure_threshold: 1,
//!     ..CircuitBreakerConfig::default()
//! });
//! if let Ok(permit) = breaker.try_acquire() {
//!     permit.failure();
//! }
//! assert_eq!(breaker.state(), CircuitState::Open);
//! ```

mod bulkhead;
mod circuit;
mod error;
mod retry;

pub use bulkhead::{Bulkhead, BulkheadPermit, BulkheadStats};
pub use circuit::{
    CircuitBreaker, CircuitBreakerConfig, CircuitPermit, CircuitState, CircuitStats,
};
pub use error::{BulkheadFull, CircuitError, CircuitOpen};
pub use retry::{Jitter, RetryPolicy};
