//! From five merged documents to a validated [`Context`]: interpolate, then type and
//! cross-check every entry, collecting all problems.

use std::path::Path;

use indexmap::IndexSet;

use crate::diag::{Diags, Files};
use crate::error::Result;
use crate::interp::{Interpolator, VarSource};
use crate::model::Context;
use crate::nodes::Known;
use crate::tree::{Kind, Loc, Node};
use crate::{global, inputs, nodes, outputs, pipelines};

/// The five merged documents, in [`crate::descriptor::DocKind`] order.
pub(crate) type Docs = [Node; 5];

/// What a build needs besides the documents.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuildEnv<'a> {
    pub env: &'a str,
    pub project_dir: &'a Path,
    pub vars: VarSource<'a>,
}

/// Interpolates and validates `docs` into a [`Context`].
pub(crate) fn build(mut docs: Docs, how: BuildEnv<'_>, files: &Files) -> Result<Context> {
    let mut diags = Diags::default();
    {
        let [global_doc, rest @ ..] = &mut docs;
        let mut interp = Interpolator::new(how.vars, global_doc, how.project_dir);
        interp.walk_global(global_doc, &mut diags);
        for doc in rest {
            interp.walk(doc, &mut diags);
        }
    }
    diags.finish(files)?;

    let [global_doc, pipelines_doc, nodes_doc, input_doc, output_doc] = &docs;
    let mut diags = Diags::default();
    let location = |loc: Loc| files.location(loc);
    let global = global::build(global_doc, how.project_dir, location, &mut diags);
    let known = Known {
        nodes: names(nodes_doc),
        inputs: names(input_doc),
        outputs: names(output_doc),
    };
    let pipelines = pipelines::build(pipelines_doc, &known.nodes, location, &mut diags);
    let nodes = nodes::build(nodes_doc, &known, how.project_dir, location, &mut diags);
    let inputs = inputs::build(input_doc, &global.input_path, location, &mut diags);
    let outputs = outputs::build(
        output_doc,
        &global.output_path,
        how.env,
        location,
        &mut diags,
    );
    crate::ml_parse::check(pipelines_doc, &pipelines, &nodes, &mut diags);
    crate::kafka::check_reads(input_doc, &pipelines, &nodes, &inputs, &mut diags);
    diags.finish(files)?;
    Ok(Context {
        env: how.env.to_owned(),
        project_dir: how.project_dir.to_path_buf(),
        global,
        pipelines,
        nodes,
        inputs,
        outputs,
    })
}

fn names(doc: &Node) -> IndexSet<&str> {
    match &doc.kind {
        Kind::Map(map) => map.keys().map(String::as_str).collect(),
        Kind::Null | Kind::Bool(_) | Kind::Num(_) | Kind::Str(_) | Kind::Seq(_) => IndexSet::new(),
    }
}
