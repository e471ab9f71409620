//! Secondaries, propagation and deploys under `/api/v1`: what each secondary serves, its
//! software and its last errors; whether a zone's current serial has reached every secondary;
//! deploys (opened by every write, or on demand) and their verdicts.
// utoipa's `path` macro repeats the handlers' extractor types fully qualified.
#![allow(unused_qualifications)]

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nebula_store::deploys::{
    latest_deploy, read_deploy, read_peer_status, read_transfer_log, DeployRecord, DeployState,
    PeerStatus, TransferLog, DEFAULT_SLA_SECONDS,
};
use nebula_store::meta::list_upstreams;
use nebula_store::records::{PeerAddr, Secondary, SecondaryMode, Upstream};
use nebula_store::serial::serial_gt;
use nebula_store::state::{now_ms, read_head, Command, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody};
use crate::rest::{
    barrier, json_body, run_write, submit, zone_key, ApiState, ReadParams, WriteParams,
};

/// A secondary with everything known about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecondaryHealth {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub secondary: Secondary,
    /// Software, version, `version.bind` and `hostname.bind` answers; per zone the serial it
    /// served at the last check or the wire error of that check.
    #[schema(value_type = Object)]
    pub status: Option<PeerStatus>,
    /// The last transfer from us that worked and the last that did not (which node, when,
    /// AXFR or IXFR, bytes, the wire reason).
    #[schema(value_type = Object)]
    pub transfers: TransferLog,
}

fn health_of(state: &ApiState, secondary: Secondary) -> Result<SecondaryHealth, ApiError> {
    let db = state.cluster.db();
    Ok(SecondaryHealth {
        status: read_peer_status(db, &secondary.name)?,
        transfers: read_transfer_log(db, &secondary.name)?,
        secondary,
    })
}

#[utoipa::path(get, path = "/api/v1/secondaries", params(ReadParams), tag = "secondaries",
    responses((status = 200, body = Vec<SecondaryHealth>)))]
pub async fn list_secondaries(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Viewer)?;
    barrier(&state, params.stale).await?;
    let all = state
        .node
        .secondaries()
        .into_iter()
        .map(|s| health_of(&state, s))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(all).into_response())
}

#[utoipa::path(get, path = "/api/v1/secondaries/{name}/health", params(("name" = String, Path), ReadParams),
    tag = "secondaries", responses((status = 200, body = SecondaryHealth), (status = 404, body = ErrorBody)))]
pub async fn secondary_health(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Viewer)?;
    barrier(&state, params.stale).await?;
    let secondary = state
        .node
        .secondaries()
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no secondary named {name}")))?;
    Ok(Json(health_of(&state, secondary)?).into_response())
}

/// One secondary's view of a zone.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeerPropagation {
    pub name: String,
    pub required: bool,
    pub observed_serial: Option<u32>,
    /// It serves our serial (or a newer one).
    pub converged: bool,
    /// How long it has been behind.
    pub lag_seconds: f64,
    /// The wire error of the last SOA check.
    pub error: Option<String>,
    pub software: Option<String>,
    pub version: Option<String>,
    #[schema(value_type = Object)]
    pub transfers: TransferLog,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZonePropagation {
    pub zone: String,
    pub version: u64,
    pub serial: u32,
    /// Every required secondary serves `serial`.
    pub converged: bool,
    pub secondaries: Vec<PeerPropagation>,
    /// The deploy of the current version.
    #[schema(value_type = Option<Object>)]
    pub deploy: Option<DeployRecord>,
}

#[utoipa::path(get, path = "/api/v1/zones/{zone}/propagation", params(("zone" = String, Path), ReadParams),
    tag = "secondaries", responses((status = 200, body = ZonePropagation), (status = 404, body = ErrorBody)))]
pub async fn zone_propagation(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    let (_, key) = state.authorize_zone(&headers, Role::Viewer, &zone)?;
    barrier(&state, params.stale).await?;
    let db = state.cluster.db();
    let head = read_head(db, &key)?
        .filter(|h| !h.deleted)
        .ok_or_else(|| ApiError::not_found(format!("zone {key} does not exist")))?;
    let now = now_ms();
    let mut secondaries = Vec::new();
    for secondary in state
        .node
        .secondaries()
        .into_iter()
        .filter(|s| s.takes(&key))
    {
        let status = read_peer_status(db, &secondary.name)?;
        let observed = status.as_ref().and_then(|s| s.zones.get(&key)).cloned();
        let serial = observed.as_ref().and_then(|o| o.serial);
        let converged = serial.is_some_and(|s| !serial_gt(head.serial, s));
        let behind = observed.as_ref().map_or(0, |o| o.behind_since_ms);
        secondaries.push(PeerPropagation {
            required: secondary.mode == SecondaryMode::Required,
            observed_serial: serial,
            converged,
            lag_seconds: if converged || behind == 0 {
                0.0
            } else {
                now.saturating_sub(behind) as f64 / 1000.0
            },
            error: observed.map(|o| o.error).filter(|e| !e.is_empty()),
            software: status.as_ref().map(|s| s.fingerprint.software.clone()),
            version: status.map(|s| s.fingerprint.version),
            transfers: read_transfer_log(db, &secondary.name)?,
            name: secondary.name,
        });
    }
    let converged = secondaries.iter().all(|p| p.converged || !p.required);
    Ok(Json(ZonePropagation {
        deploy: latest_deploy(db, &key, head.version)?,
        zone: key,
        version: head.version,
        serial: head.serial,
        converged,
        secondaries,
    })
    .into_response())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Notified {
    pub zone: String,
    /// The secondaries a NOTIFY went to.
    pub secondaries: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/zones/{zone}/notify", params(("zone" = String, Path)), tag = "secondaries",
    responses((status = 200, body = Notified), (status = 404, body = ErrorBody)))]
pub async fn notify_zone(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
) -> Result<Response, ApiError> {
    let (_, key) = state.authorize_zone(&headers, Role::Editor, &zone)?;
    if read_head(state.cluster.db(), &key)?.is_none_or(|h| h.deleted) {
        return Err(ApiError::not_found(format!("zone {key} does not exist")));
    }
    let secondaries = state.node.notify(&key);
    Ok(Json(Notified {
        zone: key,
        secondaries,
    })
    .into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// The zone whose current version must reach every required secondary.
    pub zone: String,
    /// How long they have (default 60 s).
    pub sla_seconds: Option<u64>,
}

#[utoipa::path(post, path = "/api/v1/deploy", params(WriteParams), tag = "secondaries", request_body = DeployRequest,
    responses((status = 201, body = Object), (status = 404, body = ErrorBody)))]
pub async fn create_deploy(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: DeployRequest = json_body(&body)?;
    let (principal, key) = state.authorize_zone(&headers, Role::Editor, &request.zone)?;
    let sla_seconds = request.sla_seconds.unwrap_or(DEFAULT_SLA_SECONDS);
    if !(1..=86_400).contains(&sla_seconds) {
        return Err(ApiError::bad_request("sla_seconds must be 1 to 86400"));
    }
    zone_key(&key)?;
    state.cluster.read_barrier().await?;
    let head = read_head(state.cluster.db(), &key)?
        .filter(|h| !h.deleted)
        .ok_or_else(|| ApiError::not_found(format!("zone {key} does not exist")))?;
    let mut suffix = [0u8; 4];
    getrandom::fill(&mut suffix).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let now = now_ms();
    let deploy = DeployRecord {
        id: format!(
            "{key}@{}-{}",
            head.version,
            data_encoding::HEXLOWER.encode(&suffix)
        ),
        zone: key,
        version: head.version,
        serial: head.serial,
        state: DeployState::Pending,
        created_ms: now,
        sla_seconds,
        updated_ms: now,
        peers: Vec::new(),
        reason: String::new(),
    };
    let command = Command::PutDeploys {
        deploys: vec![deploy.clone()],
    };
    run_write(&state, &principal, &headers, params.dry_run, command).await?;
    Ok((StatusCode::CREATED, Json(deploy)).into_response())
}

#[utoipa::path(get, path = "/api/v1/deploys/{id}", params(("id" = String, Path), ReadParams), tag = "secondaries",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn get_deploy(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Viewer)?;
    barrier(&state, params.stale).await?;
    let deploy = read_deploy(state.cluster.db(), &id)?
        .ok_or_else(|| ApiError::not_found(format!("no deploy {id}")))?;
    Ok(Json(deploy).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamRequest {
    /// The zone to take from external primaries.
    pub zone: String,
    /// Their addresses (`192.0.2.1`, `192.0.2.1:5300`), tried in order.
    pub primaries: Vec<String>,
    /// The TSIG key transfers and NOTIFYs are signed with.
    pub key: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/upstreams", params(WriteParams), tag = "secondaries", request_body = UpstreamRequest,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody)))]
pub async fn create_upstream(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: UpstreamRequest = json_body(&body)?;
    let (principal, key) = state.authorize_zone(&headers, Role::Admin, &request.zone)?;
    let primaries = request
        .primaries
        .iter()
        .map(|p| {
            p.parse::<PeerAddr>()
                .map_err(|e| ApiError::bad_request(format!("primaries: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let command = Command::PutUpstream {
        upstream: Upstream {
            zone: key,
            primaries,
            key: request.key,
        },
    };
    submit(&state, &principal, &headers, params.dry_run, command, true).await
}

#[utoipa::path(get, path = "/api/v1/upstreams", params(ReadParams), tag = "secondaries",
    responses((status = 200, body = Vec<Object>)))]
pub async fn list_upstream_zones(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Viewer)?;
    barrier(&state, params.stale).await?;
    Ok(Json(list_upstreams(state.cluster.db())?).into_response())
}

#[utoipa::path(delete, path = "/api/v1/upstreams/{zone}", params(("zone" = String, Path), WriteParams), tag = "secondaries",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn delete_upstream(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<WriteParams>,
) -> Result<Response, ApiError> {
    let (principal, key) = state.authorize_zone(&headers, Role::Admin, &zone)?;
    let command = Command::DeleteUpstream { zone: key };
    submit(&state, &principal, &headers, params.dry_run, command, false).await
}
