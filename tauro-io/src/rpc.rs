//! Counting the Spark Connect RPCs a [`crate::Session`] sends, by kind, and the time spent
//! waiting for them.
//!
//! Every blocking client call of the facade runs through [`RpcMeter::call`], which counts
//! the one RPC the call sends and adds the time it took. The meter is a handful of atomics,
//! so counting costs a few nanoseconds and takes no lock. A node attempt has its own session,
//! so a session's [`RpcStats`] are the node's.
//!
//! What is not counted: a `ReattachExecute` the client sends by itself when a result stream
//! drops (it is hidden inside the client's stream), and the connection handshake. The client
//! never sends `ReleaseExecute`, `AddArtifacts` nor `FetchErrorDetails` as Tauro uses it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The Spark Connect RPCs Tauro sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RpcKind {
    /// `ExecutePlan`: a query whose rows come back, or a command (write, temp view, SQL
    /// statement, catalog or streaming operation).
    ExecutePlan,
    /// `AnalyzePlan`: a schema, the server's version, ...; no job runs.
    AnalyzePlan,
    /// `Config`: reading or setting session confs.
    Config,
    /// `Interrupt`: cancelling a session's operations.
    Interrupt,
    /// `ReleaseSession`: ending a session on the server (its views, confs and cached
    /// state are freed at once instead of when the server's idle timeout expires).
    ReleaseSession,
}

impl RpcKind {
    /// Every kind.
    pub const ALL: [RpcKind; 5] = [
        RpcKind::ExecutePlan,
        RpcKind::AnalyzePlan,
        RpcKind::Config,
        RpcKind::Interrupt,
        RpcKind::ReleaseSession,
    ];

    /// The RPC's name in the Spark Connect protocol.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ExecutePlan => "ExecutePlan",
            Self::AnalyzePlan => "AnalyzePlan",
            Self::Config => "Config",
            Self::Interrupt => "Interrupt",
            Self::ReleaseSession => "ReleaseSession",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::ExecutePlan => 0,
            Self::AnalyzePlan => 1,
            Self::Config => 2,
            Self::Interrupt => 3,
            Self::ReleaseSession => 4,
        }
    }
}

impl fmt::Display for RpcKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Counts RPCs by kind and sums the time spent in them (lock-free).
#[derive(Debug, Default)]
pub struct RpcMeter {
    counts: [AtomicU64; RpcKind::ALL.len()],
    nanos: AtomicU64,
}

impl RpcMeter {
    /// Runs `f`, which sends exactly one RPC of `kind`, counting it and its time (also when
    /// it fails: the request was sent).
    pub fn call<T>(&self, kind: RpcKind, f: impl FnOnce() -> T) -> T {
        let started = Instant::now();
        let value = f();
        self.record(kind, started.elapsed());
        value
    }

    /// Counts one RPC of `kind` that took `took`.
    pub fn record(&self, kind: RpcKind, took: Duration) {
        self.counts[kind.index()].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// What was counted so far.
    pub fn snapshot(&self) -> RpcStats {
        let mut by_kind = BTreeMap::new();
        let mut rpcs = 0;
        for kind in RpcKind::ALL {
            let n = self.counts[kind.index()].load(Ordering::Relaxed);
            if n > 0 {
                by_kind.insert(kind.as_str().to_string(), n);
                rpcs += n;
            }
        }
        RpcStats {
            rpcs,
            rpc_secs: Duration::from_nanos(self.nanos.load(Ordering::Relaxed)).as_secs_f64(),
            by_kind,
        }
    }
}

/// The Spark Connect RPCs of a session (a node attempt): how many, how long they took in
/// total, and how many of each kind (`ExecutePlan`, `AnalyzePlan`, `Config`, `Interrupt`,
/// `ReleaseSession`; kinds not sent are left out). In a run's JSON report as each node's `spark` field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RpcStats {
    /// RPCs sent.
    pub rpcs: u64,
    /// Seconds spent waiting for them (from sending the request to the last response).
    pub rpc_secs: f64,
    /// RPCs by kind.
    pub by_kind: BTreeMap<String, u64>,
}

impl RpcStats {
    /// RPCs of `kind`.
    pub fn count(&self, kind: RpcKind) -> u64 {
        self.by_kind.get(kind.as_str()).copied().unwrap_or(0)
    }

    /// The time spent in RPCs.
    pub fn wait(&self) -> Duration {
        Duration::try_from_secs_f64(self.rpc_secs).unwrap_or_default()
    }

    /// What was added to `self` after `earlier` (a snapshot of the same meter).
    pub fn since(&self, earlier: &RpcStats) -> RpcStats {
        let by_kind = self
            .by_kind
            .iter()
            .filter_map(|(kind, n)| {
                let d = n.saturating_sub(earlier.by_kind.get(kind).copied().unwrap_or(0));
                (d > 0).then(|| (kind.clone(), d))
            })
            .collect();
        RpcStats {
            rpcs: self.rpcs.saturating_sub(earlier.rpcs),
            rpc_secs: (self.rpc_secs - earlier.rpc_secs).max(0.0),
            by_kind,
        }
    }

    /// `self` and `other` together.
    pub fn add(&mut self, other: &RpcStats) {
        self.rpcs += other.rpcs;
        self.rpc_secs += other.rpc_secs;
        for (kind, n) in &other.by_kind {
            *self.by_kind.entry(kind.clone()).or_default() += n;
        }
    }
}

impl fmt::Display for RpcStats {
    /// `5 RPCs in 3.1 ms (ExecutePlan 3, AnalyzePlan 2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<String> = RpcKind::ALL
            .iter()
            .filter_map(|k| self.by_kind.get(k.as_str()).map(|n| format!("{k} {n}")))
            .collect();
        write!(
            f,
            "{} RPCs in {:.1} ms ({})",
            self.rpcs,
            self.rpc_secs * 1000.0,
            kinds.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_what_was_counted_after_a_snapshot() {
        let meter = RpcMeter::default();
        meter.record(RpcKind::Config, Duration::from_millis(2));
        meter.record(RpcKind::ExecutePlan, Duration::from_millis(3));
        let before = meter.snapshot();
        meter.record(RpcKind::ExecutePlan, Duration::from_millis(5));
        meter.record(RpcKind::AnalyzePlan, Duration::from_millis(1));
        let d = meter.snapshot().since(&before);
        assert_eq!(d.rpcs, 2);
        assert!((d.rpc_secs - 0.006).abs() < 1e-9, "{d:?}");
        assert_eq!(d.count(RpcKind::ExecutePlan), 1);
        assert_eq!(d.count(RpcKind::AnalyzePlan), 1);
        assert!(!d.by_kind.contains_key("Config"));
    }

    #[test]
    fn calls_are_counted_by_kind_and_timed() {
        let meter = RpcMeter::default();
        let v = meter.call(RpcKind::ExecutePlan, || 7);
        assert_eq!(v, 7);
        meter.call(RpcKind::ExecutePlan, || ());
        meter.record(RpcKind::Config, Duration::from_millis(2));
        let stats = meter.snapshot();
        assert_eq!(stats.rpcs, 3);
        assert_eq!(stats.count(RpcKind::ExecutePlan), 2);
        assert_eq!(stats.count(RpcKind::Config), 1);
        assert_eq!(stats.count(RpcKind::AnalyzePlan), 0);
        assert!(!stats.by_kind.contains_key("AnalyzePlan"));
        assert!(stats.wait() >= Duration::from_millis(2));
        let json = serde_json::to_value(&stats).unwrap_or_default();
        assert_eq!(json["by_kind"]["ExecutePlan"], 2);
        assert_eq!(json["rpcs"], 3);
    }

    #[test]
    fn stats_add_up_and_display() {
        let meter = RpcMeter::default();
        meter.record(RpcKind::AnalyzePlan, Duration::from_millis(1));
        let mut total = meter.snapshot();
        total.add(&meter.snapshot());
        assert_eq!(total.rpcs, 2);
        assert_eq!(total.count(RpcKind::AnalyzePlan), 2);
        assert_eq!(total.to_string(), "2 RPCs in 2.0 ms (AnalyzePlan 2)");
    }
}
