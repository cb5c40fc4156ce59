//! Planner tests on in-memory projects and states (no files but output directories).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDate, Utc};
use tauro_config::{Context, DateWindow, NodeCompute, NodeConfig};

use super::*;
use crate::incremental::run_state::{LastRunStatus, StoredError};
use crate::testutil::{context, io};

fn sql(name: &str, inputs: &[&str], outputs: &[&str], text: &str) -> NodeConfig {
    let mut n = io(name, inputs, outputs);
    n.compute = NodeCompute::Sql {
        text: text.into(),
        file: None,
    };
    n
}

/// raw → a → b → c, and d alone; every output directory exists under `dir`.
fn project(dir: &std::path::Path) -> Context {
    let mut ctx = context(vec![
        sql("a", &["raw"], &["a_out"], "SELECT * FROM raw"),
        sql(
            "b",
            &["a_out"],
            &["b_out"],
            "SELECT id FROM a_out WHERE k = 'X'",
        ),
        sql(
            "c",
            &["b_out"],
            &["c_out"],
            "SELECT count(*) AS n FROM b_out",
        ),
        sql("d", &[], &["d_out"], "SELECT 1 AS one"),
    ]);
    for (name, out) in &mut ctx.outputs {
        let path = dir.join(name);
        std::fs::create_dir_all(&path).unwrap();
        out.filepath = Some(path.display().to_string());
    }
    ctx
}

fn plan_of(ctx: &Context, state: &RunState) -> Plan {
    Planner::new(ctx, "p").with_state(state).plan().unwrap()
}

/// The state after running `plan` with every RUN node ending in `status` (default
/// completed), as the state writer records it.
fn ran(plan: &Plan, state: &RunState, statuses: &[(&str, NodeStatus)]) -> RunState {
    let mut state = state.clone();
    let run_id = format!("run-{}", state.pipelines.len() + plan.nodes.len());
    let p = state.pipelines.entry("p".into()).or_default();
    for name in &plan.dropped_from_state {
        p.nodes.remove(name);
    }
    for node in plan.with_action(PlanAction::Run) {
        let status = statuses
            .iter()
            .find(|(n, _)| *n == node.name)
            .map_or(NodeStatus::Completed, |(_, s)| *s);
        let print = &plan.prints[&node.name];
        p.nodes.insert(
            node.name.clone(),
            NodeRunState {
                status,
                fingerprint: print.combined.clone(),
                parts: Some(print.parts.clone()),
                run_id: run_id.clone(),
                started_at: None,
                finished_at: None,
                duration_secs: None,
                rows_written: None,
                attempts: 1,
                error: (status == NodeStatus::Failed).then(|| StoredError {
                    message: "boom\nmore".into(),
                    class: "FUNCTION_FAILED".into(),
                }),
                reason: None,
                expectations: Vec::new(),
            },
        );
    }
    p.last_run = Some(LastRun {
        run_id,
        mode: plan.mode,
        status: LastRunStatus::Succeeded,
        started_at: Utc::now(),
        finished_at: None,
        window: plan.window.map(Into::into),
        nodes: plan.to_run(),
        error: None,
        ml: Default::default(),
    });
    state
}

fn actions(plan: &Plan) -> Vec<(String, PlanAction, PlanReason)> {
    plan.nodes
        .iter()
        .map(|n| (n.name.clone(), n.action, n.reason))
        .collect()
}

fn act(plan: &Plan, node: &str) -> (PlanAction, PlanReason) {
    let n = plan.node(node).unwrap();
    (n.action, n.reason)
}

fn set_sql(ctx: &mut Context, node: &str, text: &str) {
    ctx.nodes[node].compute = NodeCompute::Sql {
        text: text.into(),
        file: None,
    };
}

/// A project and the state after a first complete run.
fn after_first_run(dir: &std::path::Path) -> (Context, RunState) {
    let ctx = project(dir);
    let first = plan_of(&ctx, &RunState::default());
    let state = ran(&first, &RunState::default(), &[]);
    (ctx, state)
}

#[test]
fn first_run_runs_everything_as_new() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_of(&project(dir.path()), &RunState::default());
    assert!(plan.nodes.iter().all(|n| n.action == PlanAction::Run));
    assert!(plan.nodes.iter().all(|n| n.reason == PlanReason::New));
    assert_eq!(plan.to_run(), ["a", "b", "c", "d"]);
    assert_eq!(plan.mode, PlanMode::Incremental);
    assert!(!plan.diff.has_previous);
    assert_eq!(plan.node("c").unwrap().upstream, ["b"]);
}

#[test]
fn nothing_changed_means_everything_cached() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, state) = after_first_run(dir.path());
    let plan = plan_of(&ctx, &state);
    assert!(
        plan.nodes
            .iter()
            .all(|n| (n.action, n.reason) == (PlanAction::Cached, PlanReason::Unchanged)),
        "{:?}",
        actions(&plan)
    );
    assert!(!plan.needs_engine());
    assert_eq!(
        plan.node_selection(),
        crate::NodeSelection::Only(Vec::new())
    );
    let counts = plan.counts();
    assert_eq!((counts.total, counts.cached, counts.run), (4, 4, 0));
}

#[test]
fn a_sql_change_runs_the_node_and_its_downstream_only() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, state) = after_first_run(dir.path());
    set_sql(&mut ctx, "b", "SELECT id FROM a_out WHERE k = 'x'");
    let plan = plan_of(&ctx, &state);
    assert_eq!(act(&plan, "a"), (PlanAction::Cached, PlanReason::Unchanged));
    assert_eq!(
        act(&plan, "b"),
        (PlanAction::Run, PlanReason::ConfigChanged)
    );
    assert_eq!(
        act(&plan, "c"),
        (PlanAction::Run, PlanReason::UpstreamChanged)
    );
    assert_eq!(
        plan.node("c").unwrap().detail.as_deref(),
        Some("upstream 'b' runs")
    );
    assert_eq!(act(&plan, "d"), (PlanAction::Cached, PlanReason::Unchanged));
    assert_eq!(plan.to_run(), ["b", "c"]);
    assert_ne!(
        plan.node("b").unwrap().previous_fingerprint.as_deref(),
        Some(plan.node("b").unwrap().fingerprint.as_str())
    );
}

#[test]
fn whitespace_comment_case_description_and_tag_edits_run_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, state) = after_first_run(dir.path());
    set_sql(
        &mut ctx,
        "b",
        "-- only ids\nselect ID\n  from A_OUT /* upstream */\n  where K = 'X'\n",
    );
    ctx.nodes["c"].description = Some("counts".into());
    ctx.nodes["d"].tags = vec!["nightly".into()];
    let plan = plan_of(&ctx, &state);
    assert!(!plan.needs_engine(), "{:?}", actions(&plan));
}

#[test]
fn new_and_removed_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, state) = after_first_run(dir.path());
    ctx.nodes
        .insert("e".into(), sql("e", &["d_out"], &[], "SELECT * FROM d_out"));
    ctx.pipelines["p"].nodes = vec!["a".into(), "b".into(), "c".into(), "e".into()];
    ctx.nodes.shift_remove("d");
    let plan = plan_of(&ctx, &state);
    assert_eq!(act(&plan, "e"), (PlanAction::Run, PlanReason::New));
    assert_eq!(plan.to_run(), ["e"]);
    assert_eq!(plan.dropped_from_state, ["d"]);
    let state = ran(&plan, &state, &[]);
    assert!(!state.pipeline("p").unwrap().nodes.contains_key("d"));
}

#[test]
fn failed_and_skipped_nodes_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(dir.path());
    let first = plan_of(&ctx, &RunState::default());
    let state = ran(
        &first,
        &RunState::default(),
        &[("b", NodeStatus::Failed), ("c", NodeStatus::Skipped)],
    );
    let plan = plan_of(&ctx, &state);
    assert_eq!(act(&plan, "a"), (PlanAction::Cached, PlanReason::Unchanged));
    assert_eq!(
        act(&plan, "b"),
        (PlanAction::Run, PlanReason::FailedLastTime)
    );
    assert_eq!(
        plan.node("b").unwrap().detail.as_deref(),
        Some("FUNCTION_FAILED: boom")
    );
    assert_eq!(
        act(&plan, "c"),
        (PlanAction::Run, PlanReason::DidNotComplete)
    );
    assert_eq!(act(&plan, "d"), (PlanAction::Cached, PlanReason::Unchanged));
}

#[test]
fn the_window_reruns_only_nodes_that_use_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = project(dir.path());
    set_sql(
        &mut ctx,
        "d",
        "SELECT 1 AS one WHERE :start_date <= :end_date",
    );
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    let w1 = DateWindow {
        start: d("2025-01-01"),
        end: d("2025-01-07"),
    };
    let w2 = DateWindow {
        start: d("2025-01-08"),
        end: d("2025-01-14"),
    };
    let first = Planner::new(&ctx, "p")
        .with_window(Some(w1))
        .plan()
        .unwrap();
    let state = ran(&first, &RunState::default(), &[]);
    let plan = Planner::new(&ctx, "p")
        .with_state(&state)
        .with_window(Some(w2))
        .plan()
        .unwrap();
    assert_eq!(plan.to_run(), ["d"]);
    let node = plan.node("d").unwrap();
    assert_eq!(node.reason, PlanReason::WindowChanged);
    assert_eq!(
        node.detail.as_deref(),
        Some("2025-01-08..2025-01-14 (was 2025-01-01..2025-01-07)")
    );
}

#[test]
fn full_runs_every_selected_node() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, state) = after_first_run(dir.path());
    let plan = Planner::new(&ctx, "p")
        .with_state(&state)
        .with_full(true)
        .plan()
        .unwrap();
    assert_eq!(plan.mode, PlanMode::Full);
    assert!(
        plan.nodes
            .iter()
            .all(|n| (n.action, n.reason) == (PlanAction::Run, PlanReason::Selected))
    );
    let plan = Planner::new(&ctx, "p")
        .with_state(&state)
        .with_full(true)
        .with_selection(SelectionSpec::from_args(&["b"], &[], &[], &[]))
        .plan()
        .unwrap();
    assert_eq!(plan.to_run(), ["b", "c"]);
    assert_eq!(act(&plan, "a"), (PlanAction::Skip, PlanReason::NotSelected));
    assert_eq!(plan.selection, "--nodes b");
}

#[test]
fn selected_nodes_follow_the_incremental_rules() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, state) = after_first_run(dir.path());
    set_sql(&mut ctx, "a", "SELECT * FROM raw WHERE 1 = 1");
    set_sql(&mut ctx, "d", "SELECT 2 AS two");
    let plan = Planner::new(&ctx, "p")
        .with_state(&state)
        .with_selection(SelectionSpec::from_args(&["b", "d"], &[], &[], &[]))
        .plan()
        .unwrap();
    // a changed but is not selected; b and c see a's new fingerprint upstream.
    assert_eq!(act(&plan, "a"), (PlanAction::Skip, PlanReason::NotSelected));
    assert_eq!(
        act(&plan, "b"),
        (PlanAction::Run, PlanReason::UpstreamChanged)
    );
    assert_eq!(
        act(&plan, "c"),
        (PlanAction::Run, PlanReason::UpstreamChanged)
    );
    assert_eq!(
        act(&plan, "d"),
        (PlanAction::Run, PlanReason::ConfigChanged)
    );
    assert!(
        plan.warnings.is_empty(),
        "a completed before: {:?}",
        plan.warnings
    );
    // Selecting a node whose unselected upstream never completed warns.
    let fresh = Planner::new(&ctx, "p")
        .with_selection(SelectionSpec::from_args(&["c"], &[], &[], &[]))
        .plan()
        .unwrap();
    assert_eq!(fresh.to_run(), ["c"]);
    assert!(
        fresh.warnings[0].contains("'c' reads from 'b'"),
        "{:?}",
        fresh.warnings
    );
}

#[test]
fn a_missing_output_path_reruns_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let (ctx, state) = after_first_run(dir.path());
    std::fs::remove_dir(dir.path().join("d_out")).unwrap();
    let plan = plan_of(&ctx, &state);
    assert_eq!(plan.to_run(), ["d"]);
    assert_eq!(
        act(&plan, "d"),
        (PlanAction::Run, PlanReason::OutputMissing)
    );
}

#[test]
fn changed_input_files_rerun_their_readers() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = project(dir.path());
    let raw = dir.path().join("raw");
    std::fs::create_dir(&raw).unwrap();
    std::fs::write(raw.join("part-0.csv"), "id\n1\n").unwrap();
    ctx.inputs["raw"].filepath = Some(raw.display().to_string());
    let first = plan_of(&ctx, &RunState::default());
    let state = ran(&first, &RunState::default(), &[]);
    assert!(!plan_of(&ctx, &state).needs_engine());
    std::fs::write(raw.join("part-1.csv"), "id\n2\n").unwrap();
    let plan = plan_of(&ctx, &state);
    assert_eq!(
        act(&plan, "a"),
        (PlanAction::Run, PlanReason::InputsChanged)
    );
    assert_eq!(plan.to_run(), ["a", "b", "c"]);
}

#[test]
fn the_diff_is_against_the_previous_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ctx, state) = after_first_run(dir.path());
    let first = plan_of(&ctx, &RunState::default());
    let previous = ProjectManifest {
        manifest_version: 1,
        generated_at: Utc::now(),
        pipelines: [("p".to_string(), first.manifest().clone())].into(),
    };
    ctx.nodes["c"].description = Some("now documented".into());
    let plan = Planner::new(&ctx, "p")
        .with_state(&state)
        .with_previous_manifest(Some(&previous))
        .plan()
        .unwrap();
    assert!(plan.diff.has_previous);
    assert_eq!(plan.diff.modified_nodes.len(), 1);
    assert_eq!(plan.diff.modified_nodes[0].changed, ["description"]);
    assert!(!plan.needs_engine(), "a description edit runs nothing");
}

#[test]
fn resume_runs_what_did_not_complete_in_the_last_run() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = project(dir.path());
    let err = Planner::new(&ctx, "p").resume().unwrap_err();
    assert!(matches!(err, Error::NoPreviousRun { .. }), "{err:?}");
    let first = plan_of(&ctx, &RunState::default());
    // b failed, c was skipped, d never finished (the process died).
    let mut state = ran(
        &first,
        &RunState::default(),
        &[("b", NodeStatus::Failed), ("c", NodeStatus::Skipped)],
    );
    state.pipelines.get_mut("p").unwrap().nodes.remove("d");
    let plan = Planner::new(&ctx, "p").with_state(&state).resume().unwrap();
    assert_eq!(plan.mode, PlanMode::Resume);
    assert_eq!(act(&plan, "a"), (PlanAction::Cached, PlanReason::Unchanged));
    assert_eq!(
        act(&plan, "b"),
        (PlanAction::Run, PlanReason::FailedLastTime)
    );
    assert_eq!(
        act(&plan, "c"),
        (PlanAction::Run, PlanReason::DidNotComplete)
    );
    assert_eq!(
        act(&plan, "d"),
        (PlanAction::Run, PlanReason::DidNotComplete)
    );
    assert_eq!(
        plan.resumes_run.as_deref(),
        Some(
            state.pipelines["p"]
                .last_run
                .as_ref()
                .unwrap()
                .run_id
                .as_str()
        )
    );
    // After a successful resume there is nothing left.
    let state = ran(&plan, &state, &[]);
    let err = Planner::new(&ctx, "p")
        .with_state(&state)
        .resume()
        .unwrap_err();
    assert!(matches!(err, Error::NothingToResume { .. }), "{err:?}");
    assert!(err.is_validation());
}

#[test]
fn resume_reuses_the_last_window_and_warns_about_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut ctx = project(dir.path());
    let w = DateWindow {
        start: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        end: NaiveDate::from_ymd_opt(2025, 3, 2).unwrap(),
    };
    let first = Planner::new(&ctx, "p").with_window(Some(w)).plan().unwrap();
    let state = ran(&first, &RunState::default(), &[("d", NodeStatus::Failed)]);
    set_sql(&mut ctx, "a", "SELECT * FROM raw WHERE 2 = 2");
    let plan = Planner::new(&ctx, "p").with_state(&state).resume().unwrap();
    assert_eq!(plan.window, Some(w));
    assert_eq!(plan.to_run(), ["d"]);
    assert!(
        plan.warnings[0].contains("changed since run"),
        "{:?}",
        plan.warnings
    );
    assert!(plan.warnings[0].contains('a'));
}
