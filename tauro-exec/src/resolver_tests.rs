#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::testutil::{context, deps, io};

fn resolve(nodes: Vec<NodeConfig>) -> Result<DependencyGraph> {
    let ctx = context(nodes);
    DependencyResolver::new(&ctx).resolve("p")
}

fn order(g: &DependencyGraph) -> Vec<&str> {
    g.topological_order().collect()
}

#[test]
fn order_is_deterministic_and_follows_pipeline_order_on_ties() {
    // d and b are independent roots; pipeline order puts d first.
    let g = resolve(vec![
        deps("d", &[]),
        deps("b", &[]),
        deps("c", &["b", "d"]),
        deps("a", &["c"]),
        deps("e", &[]),
    ])
    .unwrap();
    assert_eq!(order(&g), ["d", "b", "c", "a", "e"]);
    for _ in 0..20 {
        let again = resolve(vec![
            deps("d", &[]),
            deps("b", &[]),
            deps("c", &["b", "d"]),
            deps("a", &["c"]),
            deps("e", &[]),
        ])
        .unwrap();
        assert_eq!(order(&again), order(&g));
    }
    assert_eq!(g.dependencies("c"), ["d", "b"]);
    assert_eq!(g.dependents("b"), ["c"]);
}

#[test]
fn a_node_reading_another_nodes_output_depends_on_it() {
    // `load` is listed first but reads what `transform` writes.
    let g = resolve(vec![
        io("load", &["clean"], &["final"]),
        io("transform", &["raw"], &["clean"]),
    ])
    .unwrap();
    assert_eq!(order(&g), ["transform", "load"]);
    let edges: Vec<_> = g.edges().collect();
    assert_eq!(
        edges,
        [(
            "transform",
            "load",
            &EdgeKind::Data {
                dataset: "clean".into()
            }
        )]
    );
}

#[test]
fn reading_its_own_output_is_not_a_self_dependency() {
    let g = resolve(vec![io("append", &["log"], &["log"])]).unwrap();
    assert_eq!(order(&g), ["append"]);
}

#[test]
fn explicit_and_implicit_edges_are_not_doubled() {
    let mut b = io("b", &["x"], &[]);
    b.dependencies = vec!["a".into()];
    let g = resolve(vec![io("a", &[], &["x"]), b]).unwrap();
    assert_eq!(g.edges().count(), 1);
}

#[test]
fn cycle_error_prints_the_path_and_a_location() {
    let err = resolve(vec![
        deps("start", &[]),
        deps("a", &["b"]),
        deps("b", &["c"]),
        deps("c", &["a"]),
        deps("after", &["c"]),
    ])
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("a -> b -> c -> a"), "{msg}");
    let Error::Cycle { path, location, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(path, &["a", "b", "c", "a"]);
    assert_eq!(err.location(), Some(&**location));
    assert_eq!(location.to_string(), "nodes.yml:1");
}

#[test]
fn cycle_through_data_names_the_dataset() {
    let err = resolve(vec![
        io("x", &["from_y"], &["from_x"]),
        io("y", &["from_x"], &["from_y"]),
    ])
    .unwrap_err();
    assert!(err.to_string().contains("x -> y -> x"), "{err}");
    let hint = err.hint().unwrap();
    assert!(
        hint.contains("'x' reads 'from_y', written by 'y'"),
        "{hint}"
    );
}

#[test]
fn self_dependency_is_a_cycle() {
    let err = resolve(vec![deps("a", &["a"])]).unwrap_err();
    assert!(err.to_string().contains("a -> a"), "{err}");
}

#[test]
fn dependency_outside_the_pipeline_is_named() {
    let mut ctx = context(vec![deps("a", &[]), deps("b", &["elsewhere"])]);
    ctx.nodes
        .insert("elsewhere".into(), crate::testutil::node("elsewhere"));
    let err = DependencyResolver::new(&ctx).resolve("p").unwrap_err();
    assert_eq!(
        err.to_string(),
        "node 'b' depends on 'elsewhere', which is not in pipeline 'p'"
    );
    assert!(err.hint().unwrap().contains("add 'elsewhere' to the nodes"));
    assert_eq!(err.location().unwrap().line, 1);

    let err = resolve(vec![deps("extract", &[]), deps("b", &["extrat"])]).unwrap_err();
    assert_eq!(err.hint().as_deref(), Some("did you mean 'extract'?"));
}

#[test]
fn unknown_pipeline_and_undefined_node() {
    let ctx = context(vec![deps("a", &[])]);
    let err = DependencyResolver::new(&ctx).resolve("q").unwrap_err();
    assert!(matches!(err, Error::PipelineNotFound { .. }));
    assert_eq!(err.hint().as_deref(), Some("did you mean 'p'?"));

    let mut ctx = context(vec![deps("a", &[])]);
    ctx.pipelines[0].nodes.push("ghost".into());
    let err = DependencyResolver::new(&ctx).resolve("p").unwrap_err();
    assert!(matches!(err, Error::NodeNotDefined { .. }), "{err:?}");
    assert_eq!(err.location().unwrap().to_string(), "pipelines.yml:1");
}

#[test]
fn downstream_closure_in_order() {
    let g = resolve(vec![
        deps("a", &[]),
        deps("b", &["a"]),
        deps("c", &[]),
        deps("d", &["b", "c"]),
    ])
    .unwrap();
    assert_eq!(g.with_downstream(&["b"]), ["b", "d"]);
    assert_eq!(g.with_downstream(&["c", "a"]), ["a", "b", "c", "d"]);
}
