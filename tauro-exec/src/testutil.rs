//! Builders of in-memory configuration for unit tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use tauro_config::{
    Context, DataFormat, GlobalSettings, InputConfig, Location, NodeCompute, NodeConfig,
    OutputConfig, PipelineConfig, PipelineType, SparkSettings, WriteMode,
};

pub(crate) fn loc(line: usize) -> Location {
    Location {
        file: PathBuf::from("nodes.yml"),
        line,
    }
}

pub(crate) fn node(name: &str) -> NodeConfig {
    NodeConfig {
        name: name.to_string(),
        input: Vec::new(),
        output: Vec::new(),
        dependencies: Vec::new(),
        compute: NodeCompute::Sql {
            text: "SELECT 1".to_string(),
            file: None,
        },
        params: IndexMap::new(),
        hyperparams: IndexMap::new(),
        metrics: Vec::new(),
        model_version: None,
        model: None,
        expectations: Vec::new(),
        description: None,
        tags: Vec::new(),
        node_type: None,
        timeout: None,
        retries: None,
        streaming: None,
        location: loc(name.len()),
    }
}

pub(crate) fn deps(name: &str, deps: &[&str]) -> NodeConfig {
    let mut n = node(name);
    n.dependencies = deps.iter().map(|d| d.to_string()).collect();
    n
}

pub(crate) fn io(name: &str, inputs: &[&str], outputs: &[&str]) -> NodeConfig {
    let mut n = node(name);
    n.input = inputs.iter().map(|d| d.to_string()).collect();
    n.output = outputs.iter().map(|d| d.to_string()).collect();
    n
}

pub(crate) fn global() -> GlobalSettings {
    GlobalSettings {
        project_name: "test".to_string(),
        input_path: "/tmp/in".to_string(),
        output_path: "/tmp/out".to_string(),
        mode: "local".to_string(),
        spark: SparkSettings::default(),
        start_date: None,
        end_date: None,
        max_workers: 4,
        max_retries: 0,
        retry_delay: Duration::from_millis(1),
        node_timeout: None,
        circuit_breaker_threshold: 5,
        continue_on_error: false,
        hooks: Vec::new(),
        lineage: Default::default(),
        extra: IndexMap::new(),
    }
}

/// A project with one pipeline `p` made of `nodes` (in order); every input and output the
/// nodes name is declared as a parquet dataset.
pub(crate) fn context(nodes: Vec<NodeConfig>) -> Context {
    let mut ctx = Context {
        env: "base".to_string(),
        project_dir: PathBuf::from("/tmp/project"),
        global: global(),
        pipelines: IndexMap::new(),
        nodes: IndexMap::new(),
        inputs: IndexMap::new(),
        outputs: IndexMap::new(),
    };
    let pipeline = PipelineConfig {
        name: "p".to_string(),
        nodes: nodes.iter().map(|n| n.name.clone()).collect(),
        pipeline_type: PipelineType::Batch,
        description: None,
        requires_dates: false,
        max_workers: None,
        ml: Default::default(),
        location: Location {
            file: PathBuf::from("pipelines.yml"),
            line: 1,
        },
    };
    ctx.pipelines.insert("p".to_string(), pipeline);
    for n in nodes {
        for o in &n.output {
            ctx.outputs.insert(o.clone(), output(o));
        }
        ctx.nodes.insert(n.name.clone(), n);
    }
    let reads: Vec<String> = ctx.nodes.values().flat_map(|n| n.input.clone()).collect();
    for i in reads {
        if !ctx.outputs.contains_key(&i) {
            ctx.inputs.insert(i.clone(), input(&i));
        }
    }
    ctx
}

fn input(name: &str) -> InputConfig {
    InputConfig {
        name: name.to_string(),
        format: DataFormat::Parquet,
        filepath: Some(format!("/tmp/in/{name}")),
        table: None,
        query: None,
        options: BTreeMap::new(),
        schema: None,
        date_column: None,
        partition_filter: None,
        expectations: Vec::new(),
        kafka: None,
        location: loc(1),
    }
}

fn output(name: &str) -> OutputConfig {
    OutputConfig {
        name: name.to_string(),
        format: DataFormat::Parquet,
        filepath: Some(format!("/tmp/out/{name}")),
        table: None,
        table_format: None,
        write_mode: WriteMode::Overwrite,
        partition_by: Vec::new(),
        options: BTreeMap::new(),
        kafka: None,
        delta: None,
        location: loc(1),
    }
}
