//! Lifecycle events and hooks.
//!
//! [`EventBus`] is a [`ProgressSink`]: attach it to an [`crate::Executor`] and it turns the
//! run's progress into typed [`LifecycleEvent`]s (`pipeline_start`, `node_start`,
//! `node_retry`, `node_complete`, `node_error`, `node_skipped`, `node_cancelled`,
//! `node_cached`, `stream_progress`, `pipeline_complete`, `pipeline_error`) and hands them to
//! its hooks: Rust [`EventHook`]s or closures ([`EventBus::register_fn`]), and the hooks of
//! the project's `hooks:` settings ([`EventBus::from_settings`]: JSON lines to a file, POST
//! to a URL, a command with the event on stdin, a Prometheus metrics file).
//!
//! Isolation: the executor only puts events in queues, it never waits for a hook.
//! - Each hook has its own worker task and bounded queue ([`BusOptions::queue_capacity`]);
//!   when the queue is full the event is dropped for that hook (counted, logged). A slow
//!   hook never delays another hook or the run.
//! - Each call runs as its own task under the hook's timeout (default 5 s): an error, a
//!   panic or a timeout is logged and counted, and the next event is delivered. A hook that
//!   times out 3 times in a row is disabled for the rest of the bus's life (its stuck
//!   calls would otherwise pile up).
//! - [`EventBus::flush`] waits, up to a deadline, for the queued events to be delivered:
//!   call it after the run, before the process exits.
//!
//! Priority: each event is handed to the hooks in priority order (lower first; equal
//! priorities keep registration order), and flushed in that order. Hooks run concurrently
//! on their own workers, so a lower priority means "offered first", not "finished first".
//! Each hook sees its events in the order they happened.
//!
//! Closures passed to [`EventBus::register_fn`] run on the blocking thread pool; async
//! [`EventHook`]s must not block their thread.

mod builtin;
mod event;
mod http;

use std::collections::BTreeSet;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tauro_config::{Context, HookConfig, HookTarget};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::BoxError;
use crate::events::{ProgressEvent, ProgressSink, RunInfo};
use crate::lineage::OpenLineageHook;
use crate::registry::BoxFuture;

pub use builtin::{
    CommandHook, FileHook, HttpHook, MetricsHook, NodeSummary, RunSummary, SummaryHook,
    render_prometheus,
};
pub use event::{EventKind, LifecycleEvent};
pub(crate) use http::post_json;

/// Something that handles lifecycle events.
pub trait EventHook: Send + Sync + 'static {
    /// The hook's name, for logs and [`HookReport`]s.
    fn name(&self) -> &str;

    /// Handles one event. Runs on its own task under the hook's timeout; an error is logged
    /// and counted, never propagated.
    fn handle<'a>(&'a self, event: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>>;
}

impl<H: EventHook + ?Sized> EventHook for Arc<H> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn handle<'a>(&'a self, event: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        (**self).handle(event)
    }
}

/// A hook calling a closure on the blocking thread pool.
pub struct FnHook<F> {
    name: String,
    f: Arc<F>,
}

impl<F> fmt::Debug for FnHook<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FnHook").field("name", &self.name).finish()
    }
}

impl<F> FnHook<F>
where
    F: Fn(&LifecycleEvent) -> Result<(), BoxError> + Send + Sync + 'static,
{
    /// A hook named `name` calling `f`.
    pub fn new(name: impl Into<String>, f: F) -> Self {
        Self {
            name: name.into(),
            f: Arc::new(f),
        }
    }
}

impl<F> EventHook for FnHook<F>
where
    F: Fn(&LifecycleEvent) -> Result<(), BoxError> + Send + Sync + 'static,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn handle<'a>(&'a self, event: &'a LifecycleEvent) -> BoxFuture<'a, Result<(), BoxError>> {
        let f = Arc::clone(&self.f);
        let event = event.clone();
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || f(&event)).await {
                Ok(result) => result,
                Err(e) if e.is_panic() => Err(panic_message(e.into_panic()).into()),
                Err(e) => Err(e.to_string().into()),
            }
        })
    }
}

/// How a hook is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookOptions {
    /// Lower runs first (default 100, as in the settings).
    pub priority: i32,
    /// Only these event kinds (`node_complete`, ...); `None`: all.
    pub events: Option<BTreeSet<String>>,
    /// Longest one call may take (default: [`BusOptions::default_timeout`]).
    pub timeout: Option<Duration>,
}

impl Default for HookOptions {
    fn default() -> Self {
        Self {
            priority: tauro_config::DEFAULT_HOOK_PRIORITY,
            events: None,
            timeout: None,
        }
    }
}

impl HookOptions {
    /// Default options with `priority`.
    pub fn priority(priority: i32) -> Self {
        Self {
            priority,
            ..Self::default()
        }
    }

    /// Only the event kinds `events` (empty: all).
    pub fn events<I, S>(mut self, events: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let set: BTreeSet<String> = events.into_iter().map(Into::into).collect();
        self.events = (!set.is_empty()).then_some(set);
        self
    }

    /// A timeout per call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// Settings of an [`EventBus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusOptions {
    /// Events queued per hook before new ones are dropped for it (default 1024).
    pub queue_capacity: usize,
    /// Timeout of a call for hooks registered without one (default 5 s).
    pub default_timeout: Duration,
    /// Consecutive timeouts after which a hook is disabled (default 3; 0: never).
    pub disable_after_timeouts: u32,
}

impl Default for BusOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 1024,
            default_timeout: tauro_config::DEFAULT_HOOK_TIMEOUT,
            disable_after_timeouts: 3,
        }
    }
}

/// What happened to one hook's events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HookReport {
    /// The hook.
    pub name: String,
    /// Its priority.
    pub priority: i32,
    /// Calls that returned `Ok`.
    pub delivered: u64,
    /// Calls that returned an error.
    pub failed: u64,
    /// Calls that panicked.
    pub panicked: u64,
    /// Calls cut off by the timeout.
    pub timed_out: u64,
    /// Events dropped because the hook's queue was full (or it was disabled).
    pub dropped: u64,
    /// Events still queued or running (after a flush whose deadline passed).
    pub pending: u64,
    /// Whether the hook was disabled after repeated timeouts.
    pub disabled: bool,
}

/// The result of [`EventBus::flush`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BusReport {
    /// True when every queued event was handled before the deadline.
    pub complete: bool,
    /// Per hook, in priority order.
    pub hooks: Vec<HookReport>,
}

#[derive(Default)]
struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    panicked: AtomicU64,
    timed_out: AtomicU64,
    dropped: AtomicU64,
    pending: AtomicU64,
    consecutive_timeouts: AtomicU32,
    disabled: AtomicBool,
}

enum Msg {
    Event(Arc<LifecycleEvent>),
    Flush(oneshot::Sender<()>),
}

struct Slot {
    name: String,
    priority: i32,
    events: Option<BTreeSet<String>>,
    timeout: Duration,
    hook: Arc<dyn EventHook>,
    tx: mpsc::Sender<Msg>,
    /// The receiver until the worker is spawned (on the first event, inside a runtime).
    rx: Mutex<Option<mpsc::Receiver<Msg>>>,
    counters: Arc<Counters>,
}

impl Slot {
    fn accepts(&self, kind: &str) -> bool {
        self.events.as_ref().is_none_or(|e| e.contains(kind))
    }

    /// Spawns the worker if it is not running yet; false when no runtime is available.
    fn ensure_worker(&self, options: &BusOptions) -> bool {
        let mut rx = self.rx.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(receiver) = rx.take() else {
            return true;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            *rx = Some(receiver);
            return false;
        };
        runtime.spawn(worker(
            self.name.clone(),
            Arc::clone(&self.hook),
            receiver,
            self.timeout,
            Arc::clone(&self.counters),
            options.disable_after_timeouts,
        ));
        true
    }

    fn report(&self) -> HookReport {
        let c = &self.counters;
        HookReport {
            name: self.name.clone(),
            priority: self.priority,
            delivered: c.delivered.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            panicked: c.panicked.load(Ordering::Relaxed),
            timed_out: c.timed_out.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            pending: c.pending.load(Ordering::Relaxed),
            disabled: c.disabled.load(Ordering::Relaxed),
        }
    }
}

struct Inner {
    options: BusOptions,
    /// Sorted by (priority, registration order).
    slots: Mutex<Vec<Arc<Slot>>>,
}

/// Dispatches lifecycle events to hooks (see the module docs). Cheap to clone; clones
/// share hooks and queues.
#[derive(Clone)]
pub struct EventBus {
    inner: Arc<Inner>,
}

impl fmt::Debug for EventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.slots().iter().map(|s| s.name.clone()).collect();
        f.debug_struct("EventBus")
            .field("options", &self.inner.options)
            .field("hooks", &names)
            .finish()
    }
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus without hooks, with default options.
    pub fn new() -> Self {
        Self::with_options(BusOptions::default())
    }

    /// A bus without hooks.
    pub fn with_options(options: BusOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                options: BusOptions {
                    queue_capacity: options.queue_capacity.max(1),
                    ..options
                },
                slots: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A bus with the hooks of the project's `hooks:` settings, and an
    /// [`OpenLineageHook`] when `lineage.openlineage` is set.
    pub fn from_settings(ctx: &Arc<Context>) -> Self {
        let bus = Self::new();
        bus.register_settings(ctx);
        bus
    }

    /// Registers the hooks of the project's `hooks:` settings and, when
    /// `lineage.openlineage` is set, an [`OpenLineageHook`] (priority 100).
    pub fn register_settings(&self, ctx: &Arc<Context>) {
        for config in &ctx.global.hooks {
            self.register_config(ctx, config);
        }
        if let Some(ol) = &ctx.global.lineage.openlineage {
            self.register(
                OpenLineageHook::from_settings(Arc::clone(ctx), ol),
                HookOptions::default().timeout(ol.timeout),
            );
        }
    }

    fn register_config(&self, ctx: &Context, config: &HookConfig) {
        let options = HookOptions::priority(config.priority)
            .events(config.events.iter().cloned())
            .timeout(config.timeout);
        let name = config.name.clone();
        match &config.target {
            HookTarget::File { path } => {
                self.register(FileHook::new(name, path), options);
            }
            HookTarget::Http { url, headers } => self.register(
                HttpHook::new(name, url)
                    .with_headers(headers.iter().map(|(k, v)| (k.clone(), v.clone())))
                    .with_timeout(config.timeout),
                options,
            ),
            HookTarget::Command { command, args } => self.register(
                CommandHook::new(name, command)
                    .with_args(args.iter().cloned())
                    .in_dir(&ctx.project_dir),
                options,
            ),
            HookTarget::Metrics { path } => {
                self.register(MetricsHook::new(name, path), options);
            }
            _ => tracing::warn!(hook = %config.name, "unsupported hook type; ignored"),
        }
    }

    /// Registers `hook`.
    pub fn register(&self, hook: impl EventHook, options: HookOptions) {
        self.register_arc(Arc::new(hook), options);
    }

    /// Registers a shared hook (keep a clone to read its state, e.g. a [`SummaryHook`]).
    pub fn register_arc(&self, hook: Arc<dyn EventHook>, options: HookOptions) {
        let (tx, rx) = mpsc::channel(self.inner.options.queue_capacity);
        let slot = Arc::new(Slot {
            name: hook.name().to_string(),
            priority: options.priority,
            events: options.events,
            timeout: options
                .timeout
                .unwrap_or(self.inner.options.default_timeout),
            hook,
            tx,
            rx: Mutex::new(Some(rx)),
            counters: Arc::default(),
        });
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let at = slots.partition_point(|s| s.priority <= slot.priority);
        slots.insert(at, slot);
    }

    /// Registers a closure (run on the blocking pool) as a hook named `name`.
    pub fn register_fn<F>(&self, name: impl Into<String>, options: HookOptions, f: F)
    where
        F: Fn(&LifecycleEvent) -> Result<(), BoxError> + Send + Sync + 'static,
    {
        self.register(FnHook::new(name, f), options);
    }

    /// Builder form of [`EventBus::register`].
    pub fn with_hook(self, hook: impl EventHook, options: HookOptions) -> Self {
        self.register(hook, options);
        self
    }

    /// The names of the hooks, in priority order.
    pub fn hook_names(&self) -> Vec<String> {
        self.slots().iter().map(|s| s.name.clone()).collect()
    }

    fn slots(&self) -> Vec<Arc<Slot>> {
        self.inner
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Queues `event` for every hook that takes it. Never waits.
    pub fn emit(&self, event: LifecycleEvent) {
        let event = Arc::new(event);
        let kind = event.kind();
        for slot in self.slots() {
            if !slot.accepts(kind) {
                continue;
            }
            let c = &slot.counters;
            if c.disabled.load(Ordering::Relaxed) || !slot.ensure_worker(&self.inner.options) {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            c.pending.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = slot.tx.try_send(Msg::Event(Arc::clone(&event))) {
                c.pending.fetch_sub(1, Ordering::Relaxed);
                let dropped = c.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped == 1 || dropped % 100 == 0 {
                    let why = match e {
                        mpsc::error::TrySendError::Full(_) => "its queue is full",
                        mpsc::error::TrySendError::Closed(_) => "its worker stopped",
                    };
                    tracing::warn!(hook = %slot.name, event = kind, dropped, "event dropped for hook: {why}");
                }
            }
        }
    }

    /// Waits until every queued event was handled, at most `deadline`, and reports what
    /// each hook did. Events that arrive meanwhile are not waited for.
    pub async fn flush(&self, deadline: Duration) -> BusReport {
        let until = Instant::now() + deadline;
        let mut complete = true;
        for slot in self.slots() {
            let spawned = slot
                .rx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none();
            if !spawned || slot.counters.pending.load(Ordering::Relaxed) == 0 {
                continue;
            }
            let (done, wait) = oneshot::channel();
            let delivered = tokio::time::timeout_at(until, async {
                slot.tx.send(Msg::Flush(done)).await.is_ok() && wait.await.is_ok()
            })
            .await;
            if !matches!(delivered, Ok(true)) {
                complete = false;
                tracing::warn!(
                    hook = %slot.name,
                    pending = slot.counters.pending.load(Ordering::Relaxed),
                    "hook did not finish its events before the flush deadline"
                );
            }
        }
        BusReport {
            complete,
            hooks: self.report(),
        }
    }

    /// What each hook did so far, in priority order.
    pub fn report(&self) -> Vec<HookReport> {
        self.slots().iter().map(|s| s.report()).collect()
    }
}

impl ProgressSink for EventBus {
    /// Without the run's identity the event cannot be stamped: ignored (the executor calls
    /// [`ProgressSink::on_run_event`]).
    fn on_event(&self, _event: &ProgressEvent) -> Result<(), BoxError> {
        Ok(())
    }

    fn on_run_event(&self, run: &RunInfo, event: &ProgressEvent) -> Result<(), BoxError> {
        if let Some(event) = LifecycleEvent::from_progress(run, event) {
            self.emit(event);
        }
        Ok(())
    }
}

/// One hook's worker: handles its events in order, each under the timeout.
async fn worker(
    name: String,
    hook: Arc<dyn EventHook>,
    mut rx: mpsc::Receiver<Msg>,
    timeout: Duration,
    c: Arc<Counters>,
    disable_after: u32,
) {
    while let Some(msg) = rx.recv().await {
        let event = match msg {
            Msg::Flush(done) => {
                let _ = done.send(());
                continue;
            }
            Msg::Event(event) => event,
        };
        if c.disabled.load(Ordering::Relaxed) {
            c.dropped.fetch_add(1, Ordering::Relaxed);
            c.pending.fetch_sub(1, Ordering::Relaxed);
            continue;
        }
        let call = {
            let hook = Arc::clone(&hook);
            let event = Arc::clone(&event);
            tokio::spawn(async move { hook.handle(&event).await })
        };
        tokio::pin!(call);
        let outcome = tokio::time::timeout(timeout, &mut call).await;
        let kind = event.kind();
        match outcome {
            Ok(Ok(Ok(()))) => {
                c.delivered.fetch_add(1, Ordering::Relaxed);
                c.consecutive_timeouts.store(0, Ordering::Relaxed);
            }
            Ok(Ok(Err(e))) => {
                c.failed.fetch_add(1, Ordering::Relaxed);
                c.consecutive_timeouts.store(0, Ordering::Relaxed);
                tracing::warn!(hook = %name, event = kind, error = %e, "event hook failed");
            }
            Ok(Err(join)) => {
                c.panicked.fetch_add(1, Ordering::Relaxed);
                c.consecutive_timeouts.store(0, Ordering::Relaxed);
                let message = if join.is_panic() {
                    panic_message(join.into_panic())
                } else {
                    join.to_string()
                };
                tracing::warn!(hook = %name, event = kind, panic = %message, "event hook panicked");
            }
            Err(_) => {
                call.abort();
                c.timed_out.fetch_add(1, Ordering::Relaxed);
                let streak = c.consecutive_timeouts.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(hook = %name, event = kind, ?timeout, "event hook timed out");
                if disable_after > 0 && streak >= disable_after {
                    c.disabled.store(true, Ordering::Relaxed);
                    tracing::warn!(hook = %name, streak, "event hook disabled after repeated timeouts");
                }
            }
        }
        c.pending.fetch_sub(1, Ordering::Relaxed);
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// Sends progress events to several sinks (e.g. the CLI's progress printer and an
/// [`EventBus`]). A sink that fails or panics does not keep the others from their events.
#[derive(Clone, Default)]
pub struct FanoutSink {
    sinks: Vec<Arc<dyn ProgressSink>>,
}

impl fmt::Debug for FanoutSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FanoutSink")
            .field("sinks", &self.sinks.len())
            .finish()
    }
}

impl FanoutSink {
    /// No sinks yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a sink.
    pub fn with(mut self, sink: impl ProgressSink + 'static) -> Self {
        self.sinks.push(Arc::new(sink));
        self
    }

    /// Adds a shared sink.
    pub fn with_arc(mut self, sink: Arc<dyn ProgressSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    fn each(
        &self,
        deliver: impl Fn(&dyn ProgressSink) -> Result<(), BoxError>,
    ) -> Result<(), BoxError> {
        let mut first: Option<BoxError> = None;
        for sink in &self.sinks {
            let problem = match catch_unwind(AssertUnwindSafe(|| deliver(sink.as_ref()))) {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(_) => "a progress sink panicked".into(),
            };
            first.get_or_insert(problem);
        }
        first.map_or(Ok(()), Err)
    }
}

impl ProgressSink for FanoutSink {
    fn on_event(&self, event: &ProgressEvent) -> Result<(), BoxError> {
        self.each(|s| s.on_event(event))
    }

    fn on_run_event(&self, run: &RunInfo, event: &ProgressEvent) -> Result<(), BoxError> {
        self.each(|s| s.on_run_event(run, event))
    }
}

#[cfg(test)]
mod tests;
