//! A bulkhead: at most `max_concurrent` callers inside, at most `max_queue` waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::BulkheadFull;

/// Counters of a bulkhead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BulkheadStats {
    /// Callers inside.
    pub active: usize,
    /// Callers waiting for a slot.
    pub queued: usize,
    /// Callers refused because the queue was full.
    pub rejected: u64,
    /// Callers admitted so far.
    pub admitted: u64,
}

#[derive(Debug)]
struct Shared {
    name: String,
    max_concurrent: usize,
    max_queue: usize,
    slots: Arc<Semaphore>,
    queued: AtomicUsize,
    rejected: AtomicU64,
    admitted: AtomicU64,
}

/// Limits concurrency with a queue of bounded length (a tokio semaphore, fair: waiters get
/// slots in arrival order). Cloning shares the limits.
#[derive(Debug, Clone)]
pub struct Bulkhead {
    shared: Arc<Shared>,
}

/// A slot inside a [`Bulkhead`]; freed when dropped.
#[derive(Debug)]
pub struct BulkheadPermit {
    _slot: OwnedSemaphorePermit,
}

/// Takes a place in the queue back when the waiting caller is admitted or gives up
/// (its future dropped).
struct QueuePlace<'a>(&'a AtomicUsize);

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Bulkhead {
    /// A bulkhead named `name` with `max_concurrent` slots (at least 1) and room for
    /// `max_queue` waiting callers (0 = refuse whenever all slots are busy).
    pub fn new(name: impl Into<String>, max_concurrent: usize, max_queue: usize) -> Self {
        let max_concurrent = max_concurrent.max(1);
        Self {
            shared: Arc::new(Shared {
                name: name.into(),
                max_concurrent,
                max_queue,
                slots: Arc::new(Semaphore::new(max_concurrent)),
                queued: AtomicUsize::new(0),
                rejected: AtomicU64::new(0),
                admitted: AtomicU64::new(0),
            }),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    fn full(&self) -> BulkheadFull {
        self.shared.rejected.fetch_add(1, Ordering::Relaxed);
        BulkheadFull {
            name: self.shared.name.clone(),
            max_concurrent: self.shared.max_concurrent,
            max_queue: self.shared.max_queue,
        }
    }

    fn admit(&self, slot: OwnedSemaphorePermit) -> BulkheadPermit {
        self.shared.admitted.fetch_add(1, Ordering::Relaxed);
        BulkheadPermit { _slot: slot }
    }

    /// A slot: at once if one is free, after waiting in the queue if there is room in it,
    /// otherwise [`BulkheadFull`] at once. Waiting callers that are cancelled leave the
    /// queue.
    pub async fn acquire(&self) -> Result<BulkheadPermit, BulkheadFull> {
        let s = &self.shared;
        if let Ok(slot) = Arc::clone(&s.slots).try_acquire_owned() {
            return Ok(self.admit(slot));
        }
        let joined = s
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| {
                (q < s.max_queue).then_some(q + 1)
            });
        if joined.is_err() {
            return Err(self.full());
        }
        let _place = QueuePlace(&s.queued);
        // The semaphore is never closed, so this only fails in theory.
        match Arc::clone(&s.slots).acquire_owned().await {
            Ok(slot) => Ok(self.admit(slot)),
            Err(_) => Err(self.full()),
        }
    }

    /// The counters.
    pub fn stats(&self) -> BulkheadStats {
        let s = &self.shared;
        BulkheadStats {
            active: s.max_concurrent.saturating_sub(s.slots.available_permits()),
            queued: s.queued.load(Ordering::Acquire),
            rejected: s.rejected.load(Ordering::Relaxed),
            admitted: s.admitted.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::task::JoinSet;

    #[tokio::test]
    async fn admits_up_to_the_limit_queues_then_rejects() {
        let bulkhead = Bulkhead::new("runs", 2, 1);
        let a = bulkhead.acquire().await.unwrap();
        let _b = bulkhead.acquire().await.unwrap();
        let waiter = {
            let bulkhead = bulkhead.clone();
            tokio::spawn(async move { bulkhead.acquire().await.map(|_permit| ()) })
        };
        while bulkhead.stats().queued == 0 {
            tokio::task::yield_now().await;
        }
        let refused = bulkhead.acquire().await.err().unwrap();
        assert_eq!((refused.max_concurrent, refused.max_queue), (2, 1));
        assert_eq!(
            bulkhead.stats(),
            BulkheadStats {
                active: 2,
                queued: 1,
                rejected: 1,
                admitted: 2
            }
        );
        drop(a);
        assert!(
            matches!(waiter.await, Ok(Ok(()))),
            "the waiter got the freed slot"
        );
        assert_eq!(bulkhead.stats().queued, 0);
        assert_eq!(bulkhead.stats().admitted, 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_load_concurrency_never_exceeds_the_limit() {
        let bulkhead = Bulkhead::new("load", 3, 5);
        let inside = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        for _ in 0..40 {
            let (bulkhead, inside, peak) =
                (bulkhead.clone(), Arc::clone(&inside), Arc::clone(&peak));
            tasks.spawn(async move {
                let Ok(_permit) = bulkhead.acquire().await else {
                    return false;
                };
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                inside.fetch_sub(1, Ordering::SeqCst);
                true
            });
        }
        let mut admitted = 0u64;
        while let Some(done) = tasks.join_next().await {
            admitted += u64::from(done.unwrap());
        }
        let stats = bulkhead.stats();
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(
            stats.rejected > 0,
            "40 callers against 3 slots and 5 places"
        );
        assert_eq!(admitted + stats.rejected, 40);
        assert_eq!(stats.admitted, admitted);
        assert_eq!((stats.active, stats.queued), (0, 0));
    }

    #[tokio::test]
    async fn a_cancelled_waiter_leaves_the_queue() {
        let bulkhead = Bulkhead::new("runs", 1, 1);
        let _held = bulkhead.acquire().await.unwrap();
        let wait = tokio::time::timeout(Duration::from_millis(10), bulkhead.acquire()).await;
        assert!(wait.is_err(), "timed out waiting");
        assert_eq!(bulkhead.stats().queued, 0);
        let again = tokio::time::timeout(Duration::from_millis(10), bulkhead.acquire()).await;
        assert!(
            again.is_err(),
            "queued again (not rejected) after the first left"
        );
        assert_eq!(bulkhead.stats().rejected, 0);
    }
}
