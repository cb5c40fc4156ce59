//! A small HTTP endpoint: `/metrics` (Prometheus text), `/health` (JSON; 503 when
//! unhealthy), `/runs` (JSON, `?pipeline=&state=&limit=`), `/runs/{id}` (a run and its task
//! runs), `/schedules`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::metrics::{HealthThresholds, render_prometheus};
use crate::monitor;
use crate::runner::Runner;
use crate::store::{RunFilter, RunState, Store};

/// What the endpoint serves from.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// The run store.
    pub store: Store,
    /// This process's runner, when it runs pipelines (its breaker is reported).
    pub runner: Option<Runner>,
    /// Leases older than this count as orphaned in `/health`.
    pub lease: Duration,
    /// Health limits.
    pub thresholds: HealthThresholds,
}

/// The routes.
pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/health", get(health))
        .route("/runs", get(runs))
        .route("/runs/{id}", get(run))
        .route("/schedules", get(schedules))
        .with_state(Arc::new(state))
}

/// Serves on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: ServerState,
    shutdown: CancellationToken,
) -> Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|e| Error::Serve {
            reason: e.to_string(),
        })
}

type Shared = State<Arc<ServerState>>;

fn failure(e: &Error) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": e.to_string(), "hint": e.hint()})),
    )
        .into_response()
}

async fn metrics(State(s): Shared) -> Response {
    match monitor::collect(&s.store, s.runner.as_ref()).await {
        Ok(m) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            render_prometheus(&m),
        )
            .into_response(),
        Err(e) => failure(&e),
    }
}

async fn health(State(s): Shared) -> Response {
    let h = monitor::health(&s.store, s.runner.as_ref(), s.lease, &s.thresholds).await;
    let code = if h.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(h)).into_response()
}

#[derive(Debug, Deserialize)]
struct RunsQuery {
    pipeline: Option<String>,
    state: Option<String>,
    limit: Option<u32>,
}

async fn runs(State(s): Shared, Query(q): Query<RunsQuery>) -> Response {
    let mut states = Vec::new();
    for name in q.state.iter().flat_map(|s| s.split(',')) {
        match RunState::parse(name) {
            Ok(state) => states.push(state),
            Err(e) => {
                return (
                    StatusCode::BAD_REQUEST,
                    Json(json!({"error": e.to_string()})),
                )
                    .into_response();
            }
        }
    }
    let filter = RunFilter {
        pipeline: q.pipeline,
        states,
        limit: Some(q.limit.unwrap_or(100).min(10_000)),
        ..RunFilter::default()
    };
    match s.store.list_runs(&filter).await {
        Ok(runs) => Json(runs).into_response(),
        Err(e) => failure(&e),
    }
}

async fn run(State(s): Shared, Path(id): Path<String>) -> Response {
    match s.store.get_run(&id).await {
        Ok(Some(run)) => match s.store.list_tasks(&id).await {
            Ok(tasks) => Json(json!({"run": run, "tasks": tasks})).into_response(),
            Err(e) => failure(&e),
        },
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no run '{id}'")})),
        )
            .into_response(),
        Err(e) => failure(&e),
    }
}

async fn schedules(State(s): Shared) -> Response {
    match s.store.list_schedules().await {
        Ok(list) => Json(list).into_response(),
        Err(e) => failure(&e),
    }
}
