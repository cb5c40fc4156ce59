//! Node selection of incremental runs and plans (`--nodes`, `--tags`, `--exclude-tags`,
//! `--types`).
//!
//! Rules:
//! - `--nodes a,b`: `a`, `b` and everything downstream of them. `--nodes +a`: `a`, everything
//!   upstream of it (what it needs) **and** everything downstream of it (what needs it).
//!   Several entries are a union.
//! - `--tags t1,t2`: the nodes having any of the tags (like dbt: just those nodes, no
//!   upstream or downstream added).
//! - `--types x,y`: the nodes whose `type` is one of these (exact match).
//! - Combined: the *intersection* of the positive filters given (nodes, tags, types; a filter
//!   not given does not restrict), *minus* the nodes having any `--exclude-tags` tag.
//!   E.g. `--nodes +c --tags nightly --exclude-tags slow` = the tagged `nightly` nodes among
//!   `c`'s upstream, `c` and its downstream, without those tagged `slow`.
//! - Every flag accepts comma-separated values and may be repeated.
//! - A node name not in the pipeline, or a tag or type no node of the pipeline has, is an
//!   error (with a "did you mean"); so is a selection that ends up empty.
//!
//! Selected nodes follow the incremental rules (changed, failed and new ones run, with their
//! selected downstream); with `--full` every selected node runs. Nodes not selected are
//! `SKIP`: their outputs are read as they are.

use std::collections::BTreeSet;

use serde::Serialize;
use tauro_config::Context;

use crate::error::{Error, Result};
use crate::names::closest;
use crate::resolver::DependencyGraph;

/// Which nodes an incremental run or a plan considers (see the module docs for the rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SelectionSpec {
    /// `--nodes`: `name` (with downstream) or `+name` (with upstream and downstream).
    pub nodes: Vec<String>,
    /// `--tags`.
    pub tags: Vec<String>,
    /// `--exclude-tags`.
    pub exclude_tags: Vec<String>,
    /// `--types`.
    pub types: Vec<String>,
}

impl SelectionSpec {
    /// Everything (no flag given).
    pub fn all() -> Self {
        Self::default()
    }

    /// From the flags as given on the command line: each value may hold several
    /// comma-separated entries; blanks are dropped.
    pub fn from_args<S: AsRef<str>>(
        nodes: &[S],
        tags: &[S],
        exclude_tags: &[S],
        types: &[S],
    ) -> Self {
        Self {
            nodes: split(nodes),
            tags: split(tags),
            exclude_tags: split(exclude_tags),
            types: split(types),
        }
    }

    /// True when no flag is given.
    pub fn is_all(&self) -> bool {
        self.nodes.is_empty()
            && self.tags.is_empty()
            && self.exclude_tags.is_empty()
            && self.types.is_empty()
    }

    /// `--nodes a,+b --tags t`, for summaries; empty when everything is selected.
    pub fn describe(&self) -> String {
        [
            ("--nodes", &self.nodes),
            ("--tags", &self.tags),
            ("--exclude-tags", &self.exclude_tags),
            ("--types", &self.types),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(flag, v)| format!("{flag} {}", v.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// Which nodes of `graph` are selected, by graph index.
    pub(crate) fn resolve(&self, ctx: &Context, graph: &DependencyGraph) -> Result<Vec<bool>> {
        let n = graph.len();
        let mut keep = vec![true; n];
        if self.is_all() {
            return Ok(keep);
        }
        let pipeline = graph.pipeline();
        let node = |i: usize| ctx.nodes.get(graph.name(i));
        if !self.nodes.is_empty() {
            let mut by_name = vec![false; n];
            for entry in &self.nodes {
                let (upstream, name) = match entry.strip_prefix('+') {
                    Some(name) => (true, name.trim()),
                    None => (false, entry.as_str()),
                };
                let Some(i) = graph.index_of(name) else {
                    return Err(Error::UnknownSelection {
                        pipeline: pipeline.to_string(),
                        node: name.to_string(),
                        suggestion: closest(name, graph.nodes()),
                        location: Box::new(location(ctx, pipeline)),
                    });
                };
                mark(graph, i, true, &mut by_name);
                if upstream {
                    mark(graph, i, false, &mut by_name);
                }
            }
            and(&mut keep, &by_name);
        }
        let has_any = |i: usize, tags: &[String]| {
            node(i).is_some_and(|c| c.tags.iter().any(|t| tags.contains(t)))
        };
        let all_tags = || -> BTreeSet<&str> {
            (0..n)
                .filter_map(node)
                .flat_map(|c| c.tags.iter().map(String::as_str))
                .collect()
        };
        for (flag, tags) in [
            ("--tags", &self.tags),
            ("--exclude-tags", &self.exclude_tags),
        ] {
            for tag in tags {
                if !(0..n).any(|i| has_any(i, std::slice::from_ref(tag))) {
                    let known = all_tags();
                    return Err(Error::UnknownTag {
                        pipeline: pipeline.to_string(),
                        flag,
                        tag: tag.clone(),
                        suggestion: closest(tag, known.iter().copied()),
                        known: known.into_iter().map(str::to_string).collect(),
                    });
                }
            }
        }
        if !self.tags.is_empty() {
            let tagged: Vec<bool> = (0..n).map(|i| has_any(i, &self.tags)).collect();
            and(&mut keep, &tagged);
        }
        if !self.types.is_empty() {
            let known: BTreeSet<&str> = (0..n)
                .filter_map(|i| node(i)?.node_type.as_deref())
                .collect();
            for t in &self.types {
                if !known.contains(t.as_str()) {
                    return Err(Error::UnknownNodeType {
                        pipeline: pipeline.to_string(),
                        node_type: t.clone(),
                        suggestion: closest(t, known.iter().copied()),
                        known: known.iter().map(|s| (*s).to_string()).collect(),
                    });
                }
            }
            let typed: Vec<bool> = (0..n)
                .map(|i| {
                    node(i)
                        .and_then(|c| c.node_type.as_ref())
                        .is_some_and(|t| self.types.contains(t))
                })
                .collect();
            and(&mut keep, &typed);
        }
        for (i, k) in keep.iter_mut().enumerate() {
            if has_any(i, &self.exclude_tags) {
                *k = false;
            }
        }
        if !keep.contains(&true) {
            return Err(Error::EmptySelection {
                pipeline: pipeline.to_string(),
                selection: self.describe(),
            });
        }
        Ok(keep)
    }
}

fn split<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.as_ref().split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Marks `i` and everything downstream (or upstream) of it.
fn mark(graph: &DependencyGraph, i: usize, downstream: bool, marks: &mut [bool]) {
    let mut stack = vec![i];
    let mut seen = vec![false; marks.len()];
    while let Some(j) = stack.pop() {
        if std::mem::replace(&mut seen[j], true) {
            continue;
        }
        marks[j] = true;
        if downstream {
            stack.extend(graph.successors(j));
        } else {
            stack.extend(graph.predecessors(j));
        }
    }
}

fn and(keep: &mut [bool], other: &[bool]) {
    for (k, o) in keep.iter_mut().zip(other) {
        *k &= *o;
    }
}

fn location(ctx: &Context, pipeline: &str) -> tauro_config::Location {
    ctx.pipelines.get(pipeline).map_or_else(
        || tauro_config::Location {
            file: ctx.project_dir.clone(),
            line: 0,
        },
        |p| p.location.clone(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::resolver::DependencyResolver;
    use crate::testutil::{context, deps};

    /// a → b → c → d, a → e; tags and types on some.
    fn project() -> Context {
        let mut nodes = vec![
            deps("a", &[]),
            deps("b", &["a"]),
            deps("c", &["b"]),
            deps("d", &["c"]),
            deps("e", &["a"]),
        ];
        nodes[0].tags = vec!["raw".into()];
        nodes[1].tags = vec!["nightly".into()];
        nodes[2].tags = vec!["nightly".into(), "slow".into()];
        nodes[3].tags = vec!["report".into()];
        nodes[1].node_type = Some("transform".into());
        nodes[2].node_type = Some("transform".into());
        nodes[4].node_type = Some("ml".into());
        context(nodes)
    }

    fn select(spec: &SelectionSpec) -> Result<Vec<String>> {
        let ctx = project();
        let graph = DependencyResolver::new(&ctx).resolve("p").unwrap();
        let keep = spec.resolve(&ctx, &graph)?;
        Ok(graph
            .topological_order()
            .filter(|n| keep[graph.index_of(n).unwrap()])
            .map(str::to_string)
            .collect())
    }

    fn spec(nodes: &[&str], tags: &[&str], exclude: &[&str], types: &[&str]) -> SelectionSpec {
        SelectionSpec::from_args(nodes, tags, exclude, types)
    }

    #[test]
    fn no_flags_select_everything() {
        assert_eq!(select(&SelectionSpec::all()).unwrap().len(), 5);
    }

    #[test]
    fn nodes_add_their_downstream_and_plus_adds_upstream_too() {
        assert_eq!(select(&spec(&["c"], &[], &[], &[])).unwrap(), ["c", "d"]);
        assert_eq!(
            select(&spec(&["+c"], &[], &[], &[])).unwrap(),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            select(&spec(&["d,e"], &[], &[], &[])).unwrap(),
            ["d", "e"],
            "comma-separated union"
        );
    }

    #[test]
    fn tags_select_just_the_tagged_nodes() {
        assert_eq!(
            select(&spec(&[], &["nightly"], &[], &[])).unwrap(),
            ["b", "c"]
        );
        assert_eq!(
            select(&spec(&[], &["raw", "report"], &[], &[])).unwrap(),
            ["a", "d"],
            "any of the tags"
        );
    }

    #[test]
    fn combined_filters_intersect_then_exclusions_remove() {
        // downstream of b = b, c, d; tagged nightly = b, c; minus slow = b.
        assert_eq!(
            select(&spec(&["b"], &["nightly"], &["slow"], &[])).unwrap(),
            ["b"]
        );
        assert_eq!(
            select(&spec(&["+c"], &[], &[], &["transform"])).unwrap(),
            ["b", "c"]
        );
        assert_eq!(
            select(&spec(&[], &[], &["nightly"], &[])).unwrap(),
            ["a", "d", "e"]
        );
        let err = select(&spec(&["d"], &[], &[], &["ml"])).unwrap_err();
        assert!(matches!(err, Error::EmptySelection { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the selection --nodes d --types ml matches no node of pipeline 'p'"
        );
    }

    #[test]
    fn unknown_names_tags_and_types_are_errors_with_suggestions() {
        let err = select(&spec(&["cc"], &[], &[], &[])).unwrap_err();
        assert!(matches!(err, Error::UnknownSelection { .. }), "{err:?}");
        assert_eq!(err.hint().as_deref(), Some("did you mean 'c'?"));
        let err = select(&spec(&[], &["nigthly"], &[], &[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--tags nigthly: no node of pipeline 'p' has tag 'nigthly'"
        );
        assert_eq!(err.hint().as_deref(), Some("did you mean 'nightly'?"));
        let err = select(&spec(&[], &[], &["zzz"], &[])).unwrap_err();
        assert!(err.hint().unwrap().contains("nightly, raw, report, slow"));
        let err = select(&spec(&[], &[], &[], &["transfrom"])).unwrap_err();
        assert_eq!(err.hint().as_deref(), Some("did you mean 'transform'?"));
        assert!(err.is_validation());
    }

    #[test]
    fn describe_and_split() {
        let s = SelectionSpec::from_args(&["a, +b", ""], &["t"], &[], &["x,y"]);
        assert_eq!(s.nodes, ["a", "+b"]);
        assert_eq!(s.describe(), "--nodes a,+b --tags t --types x,y");
        assert!(SelectionSpec::all().is_all());
    }
}
