//! The node registry: Rust functions that `function:` nodes name.
//!
//! There is no global registration: an embedding program builds a [`NodeRegistry`] at
//! start-up ([`NodeRegistry::with_builtins`] plus its own functions) and hands it to the
//! runner.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use tauro_config::{Context, DateWindow, NodeCompute, NodeConfig};

use crate::runner::NodeJob;
use tauro_io::{Frame, Session};

use crate::error::{Error, Result};
use crate::ml::{MetricSink, MlContext};

/// A boxed, sendable future (the return type of object-safe async trait methods).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a node function produced.
#[derive(Debug, Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "one value per node attempt; boxing the frame would only burden function authors"
)]
#[non_exhaustive]
pub enum NodeOutput {
    /// One frame, written to every output of the node.
    Frame(Frame),
    /// One frame per output name; must name each output of the node exactly once.
    PerOutput(Vec<(String, Frame)>),
    /// Nothing to write (the node must declare no outputs).
    Nothing,
}

impl NodeOutput {
    /// One frame, written to every output of the node.
    pub fn frame(frame: Frame) -> Self {
        Self::Frame(frame)
    }
}

/// What a node function gets besides its input frames.
#[derive(Debug, Clone)]
pub struct NodeContext {
    job: NodeJob,
    session: Session,
    ml: Option<MlContext>,
    metrics: MetricSink,
}

impl NodeContext {
    /// The context for running `job`'s function in `session` (runners build these; tests
    /// may too).
    pub fn new(job: NodeJob, session: Session) -> Self {
        let metrics = MetricSink::default();
        let ml = job.ml().map(|settings| {
            MlContext::new(
                Arc::clone(settings),
                job.run_id().map(str::to_string),
                metrics.clone(),
            )
        });
        Self {
            job,
            session,
            ml,
            metrics,
        }
    }

    /// The ML context (hyperparameters, model version, metrics to compute), for ML nodes:
    /// nodes of `type: ml` pipelines and nodes with `hyperparams`, `metrics` or `model`.
    pub fn ml(&self) -> Option<&MlContext> {
        self.ml.as_ref()
    }

    /// Records a metric of this node; it is reported with the run (declared `metrics:` must
    /// all be recorded or returned in the node's frame).
    pub fn record_metric(&self, name: &str, value: f64) {
        self.metrics.record(name, value);
    }

    /// The metrics recorded so far (the runner takes them when the function returns).
    pub(crate) fn metric_sink(&self) -> &MetricSink {
        &self.metrics
    }

    /// The node being run.
    pub fn node(&self) -> &NodeConfig {
        self.job.node()
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.node().name
    }

    /// The function name the node uses (empty for SQL nodes).
    pub fn function(&self) -> &str {
        match &self.node().compute {
            NodeCompute::Function { name } => name,
            NodeCompute::Sql { .. } => "",
        }
    }

    /// The pipeline being run.
    pub fn pipeline(&self) -> &str {
        self.job.pipeline()
    }

    /// The whole project.
    pub fn context(&self) -> &Context {
        self.job.context()
    }

    /// The run's date window (`:start_date` / `:end_date`), if any.
    pub fn window(&self) -> Option<DateWindow> {
        self.job.window()
    }

    /// The node's own Spark session; its inputs are visible there as temp views.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// 1 for the first attempt, 2 for the first retry, ...
    pub fn attempt(&self) -> u32 {
        self.job.attempt()
    }

    /// The node's `params`.
    pub fn params(&self) -> &IndexMap<String, serde_json::Value> {
        &self.node().params
    }

    /// `params.<key>` converted to `T`; `Ok(None)` when absent (or null).
    pub fn param<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.node().params.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(value) => serde_json::from_value(value.clone())
                .map(Some)
                .map_err(|e| Error::InvalidParam {
                    function: self.function().to_string(),
                    param: key.to_string(),
                    reason: e.to_string(),
                }),
        }
    }

    /// `params.<key>`, which must be present.
    pub fn required_param<T: DeserializeOwned>(&self, key: &str) -> Result<T> {
        self.param(key)?.ok_or_else(|| Error::InvalidParam {
            function: self.function().to_string(),
            param: key.to_string(),
            reason: "missing".to_string(),
        })
    }
}

/// A Rust function a `function:` node can name:
/// `async fn(NodeContext, Vec<Frame>) -> Result<NodeOutput>`, inputs in the node's `input`
/// order.
///
/// Closures and `async fn`s with that shape implement it:
/// ```ignore
/// registry.register("double", |ctx: NodeContext, inputs: Vec<Frame>| async move {
///     inputs[0].create_temp_view("src").await?;
///     Ok(NodeOutput::frame(ctx.session().sql("SELECT x * 2 AS x FROM src").await?))
/// })?;
/// ```
pub trait NodeFunction: Send + Sync {
    /// Runs the function.
    fn call(&self, ctx: NodeContext, inputs: Vec<Frame>) -> BoxFuture<'static, Result<NodeOutput>>;
}

impl<F, Fut> NodeFunction for F
where
    F: Fn(NodeContext, Vec<Frame>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<NodeOutput>> + Send + 'static,
{
    fn call(&self, ctx: NodeContext, inputs: Vec<Frame>) -> BoxFuture<'static, Result<NodeOutput>> {
        Box::pin(self(ctx, inputs))
    }
}

/// Named node functions.
#[derive(Clone, Default)]
pub struct NodeRegistry {
    functions: BTreeMap<String, Arc<dyn NodeFunction>>,
}

impl NodeRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding the built-ins: `passthrough`, `union_all`, `dedupe`, `filter`,
    /// `select` (see [`crate::builtins`]).
    pub fn with_builtins() -> Self {
        let mut registry = Self::new();
        crate::builtins::register_all(&mut registry);
        registry
    }

    /// Registers `function` under `name`; a name can be registered once.
    pub fn register(
        &mut self,
        name: impl Into<String>,
        function: impl NodeFunction + 'static,
    ) -> Result<&mut Self> {
        let name = name.into();
        if self.functions.contains_key(&name) {
            return Err(Error::DuplicateFunction { name });
        }
        self.functions.insert(name, Arc::new(function));
        Ok(self)
    }

    /// Registers `function` under `name`, replacing any function of that name (e.g. a
    /// built-in).
    pub fn replace(
        &mut self,
        name: impl Into<String>,
        function: impl NodeFunction + 'static,
    ) -> &mut Self {
        self.functions.insert(name.into(), Arc::new(function));
        self
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn NodeFunction>> {
        self.functions.get(name).cloned()
    }

    /// True when `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// Registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    /// Number of functions.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// True without functions.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

impl fmt::Debug for NodeRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.functions.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn noop(_ctx: NodeContext, _inputs: Vec<Frame>) -> Result<NodeOutput> {
        Ok(NodeOutput::Nothing)
    }

    #[test]
    fn registers_closures_and_async_fns_once() {
        let mut r = NodeRegistry::new();
        r.register("noop", noop).unwrap();
        r.register("closure", |_c: NodeContext, _i: Vec<Frame>| async {
            Ok(NodeOutput::Nothing)
        })
        .unwrap();
        assert!(matches!(
            r.register("noop", noop),
            Err(Error::DuplicateFunction { .. })
        ));
        assert_eq!(r.names().collect::<Vec<_>>(), ["closure", "noop"]);
        assert!(r.get("noop").is_some() && r.get("nope").is_none());
    }

    #[test]
    fn builtins_are_registered() {
        let r = NodeRegistry::with_builtins();
        for name in ["passthrough", "union_all", "dedupe", "filter", "select"] {
            assert!(r.contains(name), "{name}");
        }
        assert_eq!(format!("{r:?}").matches(',').count(), r.len() - 1);
    }
}
