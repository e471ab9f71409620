//! `nebula-api`: the NebulaDNS control plane.
//!
//! The REST API under `/api/v1` ([`rest`]), its OpenAPI description at `/api/openapi.json`
//! and Swagger UI at `/api/docs` (generated from the handlers by utoipa), bearer-token
//! authentication with roles ([`auth`]), and a small blocking client ([`client`]) that
//! `nebulactl`, tests and benchmarks share.
#![forbid(unsafe_code)]

pub mod auth;
pub mod client;
pub mod error;
pub mod propagation;
pub mod rest;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use rest::{ApiState, NodeView};

/// The OpenAPI description of every route.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "NebulaDNS API", description = "Zones, versions, cluster membership, audit and tokens. Every request needs `Authorization: Bearer <token>`."),
    paths(
        rest::list_zones, rest::create_zone, rest::get_zone, rest::export_zone, rest::replace_zone, rest::delete_zone,
        rest::change_records, rest::history, rest::version, rest::diff_versions, rest::rollback,
        rest::cluster_status, rest::add_node, rest::promote_node, rest::remove_node,
        rest::audit, rest::audit_verify, rest::create_token, rest::list_token_ids, rest::revoke_token,
        rest::create_tsig_key, rest::rotate_tsig_key, rest::list_tsig_key_info, rest::delete_tsig_key,
        rest::create_secondary, rest::delete_secondary,
        propagation::list_secondaries, propagation::secondary_health, propagation::zone_propagation,
        propagation::notify_zone, propagation::create_deploy, propagation::get_deploy,
        propagation::create_upstream, propagation::list_upstream_zones, propagation::delete_upstream,
    ),
    components(schemas(
        error::ErrorBody, rest::ZoneRequest, rest::ChangeRequest, rest::RollbackRequest, rest::AddNodeRequest,
        rest::TokenRequest, rest::TokenCreated, rest::TokenInfo, rest::ZoneView, rest::DiffView, rest::AuditVerify, rest::Message,
        rest::TsigKeyRequest, rest::TsigRotateRequest, rest::TsigKeyCreated, rest::TsigKeyInfo, rest::SecondaryRequest,
        propagation::SecondaryHealth, propagation::PeerPropagation, propagation::ZonePropagation,
        propagation::Notified, propagation::DeployRequest, propagation::UpstreamRequest,
    )),
    tags((name = "zones"), (name = "cluster"), (name = "audit"), (name = "tokens"), (name = "tsig"), (name = "secondaries"))
)]
pub struct ApiDoc;

/// The API's routes; `max_body` bytes is the largest request body accepted (413 beyond).
pub fn router(state: ApiState, max_body: usize) -> Router {
    let api = Router::new()
        .route("/zones", get(rest::list_zones).post(rest::create_zone))
        .route(
            "/zones/{zone}",
            get(rest::get_zone)
                .put(rest::replace_zone)
                .delete(rest::delete_zone),
        )
        .route("/zones/{zone}/export", get(rest::export_zone))
        .route("/zones/{zone}/records", post(rest::change_records))
        .route("/zones/{zone}/history", get(rest::history))
        .route("/zones/{zone}/versions/{version}", get(rest::version))
        .route("/zones/{zone}/diff", get(rest::diff_versions))
        .route("/zones/{zone}/rollback", post(rest::rollback))
        .route("/cluster", get(rest::cluster_status))
        .route("/cluster/nodes", post(rest::add_node))
        .route("/cluster/nodes/{id}/promote", post(rest::promote_node))
        .route(
            "/cluster/nodes/{id}",
            axum::routing::delete(rest::remove_node),
        )
        .route("/audit", get(rest::audit))
        .route("/audit/verify", get(rest::audit_verify))
        .route(
            "/tokens",
            get(rest::list_token_ids).post(rest::create_token),
        )
        .route("/tokens/{id}", axum::routing::delete(rest::revoke_token))
        .route(
            "/tsig-keys",
            get(rest::list_tsig_key_info).post(rest::create_tsig_key),
        )
        .route(
            "/tsig-keys/{name}",
            axum::routing::delete(rest::delete_tsig_key),
        )
        .route("/tsig-keys/{name}/rotate", post(rest::rotate_tsig_key))
        .route(
            "/secondaries",
            get(propagation::list_secondaries).post(rest::create_secondary),
        )
        .route(
            "/secondaries/{name}/health",
            get(propagation::secondary_health),
        )
        .route(
            "/zones/{zone}/propagation",
            get(propagation::zone_propagation),
        )
        .route("/zones/{zone}/notify", post(propagation::notify_zone))
        .route("/deploy", post(propagation::create_deploy))
        .route(
            "/upstreams",
            get(propagation::list_upstream_zones).post(propagation::create_upstream),
        )
        .route(
            "/upstreams/{zone}",
            axum::routing::delete(propagation::delete_upstream),
        )
        .route("/deploys/{id}", get(propagation::get_deploy))
        .route(
            "/secondaries/{name}",
            axum::routing::delete(rest::delete_secondary),
        )
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(state);
    Router::new()
        .nest("/api/v1", api)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", ApiDoc::openapi()))
}
