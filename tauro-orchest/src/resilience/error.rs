//! Errors of the resilience primitives.

use std::time::Duration;

/// A call refused because its circuit breaker is open (or half-open and already trying).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker '{name}' is open: calls are refused for up to {retry_after:?}")]
pub struct CircuitOpen {
    /// The breaker's name.
    pub name: String,
    /// Time left until the breaker lets a trial call through (zero when half-open).
    pub retry_after: Duration,
}

/// The outcome of [`super::CircuitBreaker::call`] when it is not a success.
#[derive(Debug, thiserror::Error)]
pub enum CircuitError<E> {
    /// The breaker refused the call; the function did not run.
    #[error(transparent)]
    Open(#[from] CircuitOpen),
    /// The function ran and failed (counted as a failure by the breaker).
    #[error("the call failed")]
    Failed(#[source] E),
}

/// An [`super::Bulkhead`] refused a caller: all slots busy and the queue full.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bulkhead '{name}' is at capacity: {max_concurrent} running and {max_queue} waiting")]
pub struct BulkheadFull {
    /// The bulkhead's name.
    pub name: String,
    /// Its concurrency limit.
    pub max_concurrent: usize,
    /// Its queue limit.
    pub max_queue: usize,
}
