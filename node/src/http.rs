//! The node's HTTP endpoints: `/livez`, `/readyz`, `/metrics`, and `POST /api/v1/reload`.
//! The REST API (nebula-api) is merged into the same listener by `server`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tracing::Instrument as _;

use crate::metrics::Metrics;
use crate::zones::{ReloadReport, Reloader};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct HttpState {
    pub metrics: Arc<Metrics>,
    pub ready: Arc<AtomicBool>,
    pub reloader: Arc<Reloader>,
    pub cluster: Arc<nebula_raft::Cluster>,
}

/// The API listener's routes.
pub fn api_router(state: HttpState) -> Router {
    Router::new()
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/reload", post(reload))
        .route_layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// The metrics listener's routes.
pub fn metrics_router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn(trace_request))
        .with_state(state)
}

/// One `http_request` span per request (exported when OpenTelemetry export is configured),
/// named after the matched route, never the raw path, so span names stay few.
async fn trace_request(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let span = tracing::info_span!(
        "http_request",
        otel.name = %format_args!("{method} {route}"),
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    response
}

async fn livez() -> &'static str {
    "ok\n"
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    zones: usize,
    /// This node's Raft view: a node without quorum keeps serving DNS from its last
    /// committed data (stale but never wrong) and refuses writes.
    raft: RaftReadiness,
}

#[derive(Serialize)]
struct RaftReadiness {
    node_id: u64,
    state: String,
    leader: Option<u64>,
    has_quorum: bool,
    applied_index: Option<u64>,
}

async fn readyz(State(state): State<HttpState>) -> Response {
    let zones = state.reloader.served_zone_count();
    let ready = state.ready.load(Ordering::Acquire) && zones > 0;
    let node = state.cluster.node_status();
    let body = Readiness {
        ready,
        zones,
        raft: RaftReadiness {
            node_id: node.id,
            state: node.state,
            leader: node.leader,
            has_quorum: state.cluster.has_quorum(),
            applied_index: node.applied_index,
        },
    };
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(state): State<HttpState>) -> Response {
    state
        .metrics
        .set_ready(state.ready.load(Ordering::Acquire) && state.reloader.served_zone_count() > 0);
    let node = state.cluster.node_status();
    state.metrics.set_raft(crate::metrics::RaftView {
        term: node.term,
        leader: node.leader == Some(node.id),
        has_quorum: state.cluster.has_quorum(),
        last_log_index: node.last_log_index.unwrap_or(0),
        applied_index: node.applied_index.unwrap_or(0),
    });
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Re-reads the configured zones; swaps only if every zone validates (the running versions stay
/// otherwise), and says which zones failed and why.
async fn reload(State(state): State<HttpState>) -> Response {
    let reloader = Arc::clone(&state.reloader);
    // The blocking thread does not inherit the span; hand it over so `reload` is its child.
    let span = tracing::Span::current();
    let report = tokio::task::spawn_blocking(move || span.in_scope(|| reloader.reload())).await;
    match report {
        Ok(report) => {
            let status = if report.applied {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (status, Json::<ReloadReport>(report)).into_response()
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("reload task failed: {e}\n"),
        )
            .into_response(),
    }
}
