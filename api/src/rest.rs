//! The REST handlers under `/api/v1`, each documented for the OpenAPI description.
//!
//! Reads are linearizable (Raft read index) unless `?stale=true`. Writes take `?dry_run=true`
//! (answer with what would happen, change nothing) and an `Idempotency-Key` header (a retry
//! gets the first attempt's answer), are forwarded to the leader, and land in the audit log.
// utoipa's `path` macro repeats the handlers' extractor types fully qualified.
#![allow(unused_qualifications)]

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use nebula_raft::{Cluster, ClusterStatus, NodeInfo};
use nebula_store::diff::diff;
use nebula_store::export::{to_master_file, to_master_file_hashed};
use nebula_store::format::{from_document, to_document, RecordEntry, Ttl, ZoneDocument};
use nebula_store::meta::{
    list_tsig_keys, read_tsig_key, PeerAddr, Secondary, SecondaryMode, TsigKeyRecord,
};
use nebula_store::serial::SerialPolicy;
use nebula_store::state::{
    list_heads, list_tokens, parse_zone_name, read_audit, read_head, read_history, read_version,
    verify_audit, AuditEntry, ChangeAction, Command, HistoryEntry, Outcome, RecordChange, Role,
    WriteResult, ZoneHead,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::{generate, Auth, Principal};
use crate::error::{ApiError, ErrorBody};

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub cluster: Arc<Cluster>,
    pub auth: Arc<Auth>,
    pub node: Arc<dyn NodeView>,
}

/// What the API asks of the node it runs in, beyond the replicated state.
pub trait NodeView: Send + Sync + std::fmt::Debug {
    /// The secondaries this node knows: its configuration's and the API's.
    fn secondaries(&self) -> Vec<nebula_store::records::Secondary>;
    /// Sends NOTIFY for `zone` (lower-case, absolute) to its secondaries now; returns their names.
    fn notify(&self, zone: &str) -> Vec<String>;
}

impl ApiState {
    pub(crate) fn principal(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        self.auth.authenticate(self.cluster.db(), headers)
    }

    /// The caller, if it has at least `role` and may touch `zone`; and the zone's key.
    pub(crate) fn authorize_zone(
        &self,
        headers: &HeaderMap,
        role: Role,
        zone: &str,
    ) -> Result<(Principal, String), ApiError> {
        let principal = self.principal(headers)?;
        principal.require(role)?;
        let (key, _) = zone_key(zone)?;
        principal.require_zone(&key)?;
        Ok((principal, key))
    }
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct WriteParams {
    /// Validate and report what would happen; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    /// Answer from this node's state without the read-index round trip (may be stale).
    #[serde(default)]
    pub stale: bool,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    /// First version (history) or sequence number (audit) to return.
    #[serde(default)]
    pub from: u64,
    /// At most this many entries (default 100, at most 1000).
    pub limit: Option<usize>,
    #[serde(default)]
    pub stale: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DiffParams {
    /// The older version.
    pub from: u64,
    /// The newer version; the current one when absent.
    pub to: Option<u64>,
    #[serde(default)]
    pub stale: bool,
}

/// A zone to create or replace: master-file text in `master`, or JSON records.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneRequest {
    /// The zone name; required on create, must match the path on replace.
    pub name: Option<String>,
    /// The zone as RFC 1035 master-file text.
    pub master: Option<String>,
    /// TTL for records without one (with `records`).
    #[schema(value_type = Option<Object>)]
    pub default_ttl: Option<Ttl>,
    /// The zone's records (`name`, `type`, `ttl`, `data`).
    #[schema(value_type = Option<Vec<Object>>)]
    pub records: Option<Vec<RecordEntry>>,
    /// `increment` (default), `unixtime` or `dateserial`.
    #[schema(value_type = Option<String>)]
    pub serial_policy: Option<SerialPolicy>,
}

/// Record changes applied together or not at all.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRequest {
    /// Each: `{"action": "add"|"delete"|"replace", "name", "type", "ttl"?, "data"?}`.
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<RecordChange>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The version whose content becomes the zone's again (with a new serial).
    pub to_version: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddNodeRequest {
    /// A new id (ids of removed nodes are never reused).
    pub id: u64,
    /// Its node-to-node RPC address, `host:port`.
    pub rpc_addr: String,
    /// Its HTTP API address, `host:port`.
    pub api_addr: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// `viewer`, `editor` or `admin`.
    #[schema(value_type = String)]
    pub role: Role,
    /// Limit the token to these zones (default: all).
    #[serde(default)]
    pub zones: Vec<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    pub id: String,
    /// The token; shown once, stored only as a hash.
    pub token: String,
    #[schema(value_type = Object)]
    pub result: WriteResult,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub zones: Vec<String>,
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneView {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub head: ZoneHead,
    #[schema(value_type = Object)]
    pub document: ZoneDocument,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DiffView {
    pub zone: String,
    pub from: u64,
    pub to: u64,
    pub summary: String,
    /// Records only in `from`, presentation format.
    pub removed: Vec<String>,
    /// Records only in `to`.
    pub added: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerify {
    pub ok: bool,
    pub entries: u64,
    /// The first sequence number whose hash does not follow, when not ok.
    pub broken_at: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Message {
    pub message: String,
}

/// Parses a JSON body, naming the exact problem (400) when it cannot.
pub(crate) fn json_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; send JSON",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => {
            let key = value
                .to_str()
                .map_err(|_| ApiError::bad_request("Idempotency-Key must be visible ASCII"))?
                .trim();
            if key.is_empty() || key.len() > 200 {
                return Err(ApiError::bad_request(
                    "Idempotency-Key must be 1 to 200 characters",
                ));
            }
            Ok(Some(key.to_owned()))
        }
    }
}

pub(crate) fn zone_key(text: &str) -> Result<(String, nebula_wire::Name), ApiError> {
    parse_zone_name(text).map_err(ApiError::from)
}

pub(crate) async fn barrier(state: &ApiState, stale: bool) -> Result<(), ApiError> {
    if !stale {
        state.cluster.read_barrier().await?;
    }
    Ok(())
}

/// Runs (or, with `dry_run`, previews) a write under the caller's name and idempotency key.
pub(crate) async fn run_write(
    state: &ApiState,
    principal: &Principal,
    headers: &HeaderMap,
    dry_run: bool,
    command: Command,
) -> Result<WriteResult, ApiError> {
    let key = idempotency_key(headers)?;
    let author = principal.author();
    let result = if dry_run {
        state.cluster.preview(&author, key, command).await?
    } else {
        state.cluster.write(&author, key, command).await?
    };
    Ok(result?)
}

/// Runs (or previews) a write and turns its result into a response.
pub(crate) async fn submit(
    state: &ApiState,
    principal: &Principal,
    headers: &HeaderMap,
    dry_run: bool,
    command: Command,
    created: bool,
) -> Result<Response, ApiError> {
    let result = run_write(state, principal, headers, dry_run, command).await?;
    let status = if created && result.outcome == Outcome::Applied {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(result)).into_response())
}

/// [`submit`] for a caller that must be an admin.
pub(crate) async fn submit_as_admin(
    state: &ApiState,
    headers: &HeaderMap,
    dry_run: bool,
    command: Command,
    created: bool,
) -> Result<Response, ApiError> {
    let principal = state.principal(headers)?;
    principal.require(Role::Admin)?;
    submit(state, &principal, headers, dry_run, command, created).await
}

/// Turns a zone request into master-file text for the log.
fn zone_body(request: ZoneRequest, name: &str) -> Result<(String, Option<SerialPolicy>), ApiError> {
    if let Some(given) = &request.name {
        let (given_key, _) = zone_key(given)?;
        let (path_key, _) = zone_key(name)?;
        if given_key != path_key {
            return Err(ApiError::bad_request(format!(
                "the body names zone {given_key} but the path is {path_key}"
            )));
        }
    }
    let text = match (request.master, request.records) {
        (Some(master), None) => master,
        (None, Some(records)) => {
            let document = ZoneDocument {
                name: name.to_owned(),
                default_ttl: request.default_ttl,
                class: None,
                records,
            };
            let parsed = from_document(&document, "request")
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
            to_master_file(&parsed.zone)
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give the zone as `master` text or as `records`, not both",
            ))
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "the zone has no content: give `master` (master-file text) or `records`",
            ))
        }
    };
    Ok((text, request.serial_policy))
}

/// A zone body from a request: JSON (`application/json`) or master-file text (anything else).
fn zone_payload(
    headers: &HeaderMap,
    body: &Bytes,
    name: Option<&str>,
) -> Result<(String, String, Option<SerialPolicy>), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        let request: ZoneRequest = json_body(body)?;
        let name = match (name, &request.name) {
            (Some(path), _) => path.to_owned(),
            (None, Some(given)) => given.clone(),
            (None, None) => {
                return Err(ApiError::bad_request(
                    "the body needs `name`, the zone to create",
                ))
            }
        };
        let (text, policy) = zone_body(request, &name)?;
        Ok((name, text, policy))
    } else {
        let name = name.ok_or_else(|| ApiError::bad_request("creating a zone from master-file text: send JSON {\"name\", \"master\"} or PUT /api/v1/zones/{zone}"))?;
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::bad_request(format!("the master file is not UTF-8: {e}")))?;
        if text.trim().is_empty() {
            return Err(ApiError::bad_request(
                "the request body is empty; send the zone's master file",
            ));
        }
        Ok((name.to_owned(), text.to_owned(), None))
    }
}

#[utoipa::path(get, path = "/api/v1/zones", params(ReadParams), tag = "zones",
    responses((status = 200, description = "Zones and their current versions", body = Vec<Object>), (status = 401, body = ErrorBody)))]
pub async fn list_zones(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    let principal = state.principal(&headers)?;
    principal.require(Role::Viewer)?;
    barrier(&state, params.stale).await?;
    let heads: Vec<ZoneHead> = list_heads(state.cluster.db())?
        .into_iter()
        .filter(|h| !h.deleted && principal.may_see(&h.name))
        .collect();
    Ok(Json(heads).into_response())
}

#[utoipa::path(post, path = "/api/v1/zones", params(WriteParams), tag = "zones", request_body = ZoneRequest,
    responses((status = 201, description = "Created", body = Object), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_zone(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    put_zone(&state, &headers, params.dry_run, &body, None).await
}

/// Creates (no zone in the path) or creates-or-replaces a zone from a request body.
async fn put_zone(
    state: &ApiState,
    headers: &HeaderMap,
    dry_run: bool,
    body: &Bytes,
    path_zone: Option<&str>,
) -> Result<Response, ApiError> {
    state.principal(headers)?.require(Role::Editor)?;
    let (name, text, policy) = zone_payload(headers, body, path_zone)?;
    let (principal, key) = state.authorize_zone(headers, Role::Editor, &name)?;
    let command = Command::PutZone {
        zone: key,
        body: text,
        policy,
        create_only: path_zone.is_none(),
    };
    submit(state, &principal, headers, dry_run, command, true).await
}

#[utoipa::path(get, path = "/api/v1/zones/{zone}", params(("zone" = String, Path), ReadParams), tag = "zones",
    responses((status = 200, body = ZoneView), (status = 404, body = ErrorBody)))]
pub async fn get_zone(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    let (head, current) = current_zone(&state, &headers, &zone, params.stale).await?;
    Ok(Json(ZoneView {
        head,
        document: to_document(&current),
    })
    .into_response())
}

async fn current_zone(
    state: &ApiState,
    headers: &HeaderMap,
    zone: &str,
    stale: bool,
) -> Result<(ZoneHead, nebula_store::Zone), ApiError> {
    let (_, key) = state.authorize_zone(headers, Role::Viewer, zone)?;
    barrier(state, stale).await?;
    let db = state.cluster.db();
    let head = read_head(db, &key)?
        .filter(|h| !h.deleted)
        .ok_or_else(|| ApiError::not_found(format!("zone {key} does not exist")))?;
    let (_, zone) = read_version(db, &key, head.version)?.ok_or_else(|| {
        ApiError::internal(format!(
            "zone {key} version {} has no content",
            head.version
        ))
    })?;
    Ok((head, zone))
}

#[utoipa::path(get, path = "/api/v1/zones/{zone}/export", params(("zone" = String, Path), ReadParams), tag = "zones",
    responses((status = 200, description = "The zone as a master file", content_type = "text/dns", body = String)))]
pub async fn export_zone(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    let (head, current) = current_zone(&state, &headers, &zone, params.stale).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/dns; charset=utf-8")],
        to_master_file_hashed(&current, &head.hash),
    )
        .into_response())
}

#[utoipa::path(put, path = "/api/v1/zones/{zone}", params(("zone" = String, Path), WriteParams), tag = "zones",
    request_body(content = String, description = "Master-file text (text/dns), or JSON ZoneRequest", content_type = "text/dns"),
    responses((status = 200, description = "Replaced or unchanged", body = Object), (status = 201, body = Object), (status = 400, body = ErrorBody)))]
pub async fn replace_zone(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    put_zone(&state, &headers, params.dry_run, &body, Some(&zone)).await
}

#[utoipa::path(delete, path = "/api/v1/zones/{zone}", params(("zone" = String, Path), WriteParams), tag = "zones",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn delete_zone(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<WriteParams>,
) -> Result<Response, ApiError> {
    let (principal, key) = state.authorize_zone(&headers, Role::Editor, &zone)?;
    submit(
        &state,
        &principal,
        &headers,
        params.dry_run,
        Command::DeleteZone { zone: key },
        false,
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/zones/{zone}/records", params(("zone" = String, Path), WriteParams), tag = "zones",
    request_body = ChangeRequest, responses((status = 200, body = Object), (status = 400, body = ErrorBody)))]
pub async fn change_records(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (principal, key) = state.authorize_zone(&headers, Role::Editor, &zone)?;
    let request: ChangeRequest = json_body(&body)?;
    if request.changes.is_empty() {
        return Err(ApiError::bad_request("`changes` is empty; nothing to do"));
    }
    if let Some(bad) = request
        .changes
        .iter()
        .find(|c| c.action != ChangeAction::Delete && c.data.is_none())
    {
        return Err(ApiError::bad_request(format!(
            "{:?} of {} {} needs `data`",
            bad.action, bad.name, bad.rtype
        )));
    }
    let command = Command::ChangeRecords {
        zone: key,
        changes: request.changes,
    };
    submit(&state, &principal, &headers, params.dry_run, command, false).await
}

#[utoipa::path(get, path = "/api/v1/zones/{zone}/history", params(("zone" = String, Path), PageParams), tag = "zones",
    responses((status = 200, description = "Versions, oldest first", body = Vec<Object>)))]
pub async fn history(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    let (_, key) = state.authorize_zone(&headers, Role::Viewer, &zone)?;
    barrier(&state, params.stale).await?;
    let entries: Vec<HistoryEntry> = read_history(
        state.cluster.db(),
        &key,
        params.from,
        page_limit(params.limit),
    )?;
    if entries.is_empty() && read_head(state.cluster.db(), &key)?.is_none() {
        return Err(ApiError::not_found(format!("zone {key} has no history")));
    }
    Ok(Json(entries).into_response())
}

fn page_limit(limit: Option<usize>) -> usize {
    limit.unwrap_or(100).clamp(1, 1000)
}

#[utoipa::path(get, path = "/api/v1/zones/{zone}/versions/{version}", params(("zone" = String, Path), ("version" = u64, Path), ReadParams), tag = "zones",
    responses((status = 200, description = "That version as a master file", content_type = "text/dns", body = String), (status = 404, body = ErrorBody)))]
pub async fn version(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((zone, version)): Path<(String, u64)>,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    let (_, key) = state.authorize_zone(&headers, Role::Viewer, &zone)?;
    barrier(&state, params.stale).await?;
    let (entry, content) = read_version(state.cluster.db(), &key, version)?.ok_or_else(|| {
        ApiError::not_found(format!("zone {key} has no version {version} with content"))
    })?;
    Ok((
        [(header::CONTENT_TYPE, "text/dns; charset=utf-8")],
        to_master_file_hashed(&content, &entry.hash),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/zones/{zone}/diff", params(("zone" = String, Path), DiffParams), tag = "zones",
    responses((status = 200, body = DiffView), (status = 404, body = ErrorBody)))]
pub async fn diff_versions(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<DiffParams>,
) -> Result<Response, ApiError> {
    let (_, key) = state.authorize_zone(&headers, Role::Viewer, &zone)?;
    barrier(&state, params.stale).await?;
    let db = state.cluster.db();
    let to = match params.to {
        Some(to) => to,
        None => {
            read_head(db, &key)?
                .ok_or_else(|| ApiError::not_found(format!("zone {key} does not exist")))?
                .version
        }
    };
    let load = |v: u64| -> Result<nebula_store::Zone, ApiError> {
        read_version(db, &key, v)?.map(|(_, z)| z).ok_or_else(|| {
            ApiError::not_found(format!("zone {key} has no version {v} with content"))
        })
    };
    let (old, new) = (load(params.from)?, load(to)?);
    let changes = diff(&old, &new);
    let (removed, added) = changes.to_ixfr();
    Ok(Json(DiffView {
        zone: key,
        from: params.from,
        to,
        summary: changes.summary(),
        removed: removed.iter().map(ToString::to_string).collect(),
        added: added.iter().map(ToString::to_string).collect(),
    })
    .into_response())
}

#[utoipa::path(post, path = "/api/v1/zones/{zone}/rollback", params(("zone" = String, Path), WriteParams), tag = "zones",
    request_body = RollbackRequest, responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn rollback(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(zone): Path<String>,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (principal, key) = state.authorize_zone(&headers, Role::Editor, &zone)?;
    let request: RollbackRequest = json_body(&body)?;
    let command = Command::Rollback {
        zone: key,
        to_version: request.to_version,
    };
    submit(&state, &principal, &headers, params.dry_run, command, false).await
}

#[utoipa::path(get, path = "/api/v1/cluster", tag = "cluster",
    responses((status = 200, description = "Members, roles, leader, term, indexes and lag", body = Object)))]
pub async fn cluster_status(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Viewer)?;
    let status: ClusterStatus = state.cluster.status().await;
    Ok(Json(status).into_response())
}

#[utoipa::path(post, path = "/api/v1/cluster/nodes", tag = "cluster", request_body = AddNodeRequest,
    responses((status = 200, body = Message), (status = 409, body = ErrorBody)))]
pub async fn add_node(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Admin)?;
    let request: AddNodeRequest = json_body(&body)?;
    for (what, addr) in [
        ("rpc_addr", &request.rpc_addr),
        ("api_addr", &request.api_addr),
    ] {
        if addr.parse::<std::net::SocketAddr>().is_err() && !addr.contains(':') {
            return Err(ApiError::bad_request(format!(
                "{what} {addr:?} is not host:port"
            )));
        }
    }
    let node = NodeInfo {
        rpc_addr: request.rpc_addr,
        api_addr: request.api_addr,
    };
    let message = state.cluster.add_learner(request.id, node).await?;
    Ok(Json(Message { message }).into_response())
}

#[utoipa::path(post, path = "/api/v1/cluster/nodes/{id}/promote", params(("id" = u64, Path)), tag = "cluster",
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
pub async fn promote_node(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Admin)?;
    let message = state.cluster.promote(id).await?;
    Ok(Json(Message { message }).into_response())
}

#[utoipa::path(delete, path = "/api/v1/cluster/nodes/{id}", params(("id" = u64, Path)), tag = "cluster",
    responses((status = 200, body = Message), (status = 404, body = ErrorBody)))]
pub async fn remove_node(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Admin)?;
    let message = state.cluster.remove(id).await?;
    Ok(Json(Message { message }).into_response())
}

#[utoipa::path(get, path = "/api/v1/audit", params(PageParams), tag = "audit",
    responses((status = 200, description = "Audit entries in order", body = Vec<Object>)))]
pub async fn audit(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<PageParams>,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Admin)?;
    barrier(&state, params.stale).await?;
    let entries: Vec<AuditEntry> =
        read_audit(state.cluster.db(), params.from, page_limit(params.limit))?;
    Ok(Json(entries).into_response())
}

#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200, body = AuditVerify)))]
pub async fn audit_verify(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Admin)?;
    barrier(&state, false).await?;
    let verdict = match verify_audit(state.cluster.db())? {
        Ok(entries) => AuditVerify {
            ok: true,
            entries,
            broken_at: None,
        },
        Err(at) => AuditVerify {
            ok: false,
            entries: at.saturating_sub(1),
            broken_at: Some(at),
        },
    };
    Ok(Json(verdict).into_response())
}

#[utoipa::path(post, path = "/api/v1/tokens", params(WriteParams), tag = "tokens", request_body = TokenRequest,
    responses((status = 201, body = TokenCreated)))]
pub async fn create_token(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let principal = state.principal(&headers)?;
    principal.require(Role::Admin)?;
    let request: TokenRequest = json_body(&body)?;
    let mut zones = Vec::new();
    for zone in &request.zones {
        zones.push(zone_key(zone)?.0);
    }
    let token = generate(request.role, zones, request.description)?;
    let id = token.record.id.clone();
    let command = Command::PutToken {
        token: token.record,
    };
    let result = run_write(&state, &principal, &headers, params.dry_run, command).await?;
    Ok((
        StatusCode::CREATED,
        Json(TokenCreated {
            id,
            token: token.text,
            result,
        }),
    )
        .into_response())
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", responses((status = 200, body = Vec<TokenInfo>)))]
pub async fn list_token_ids(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Admin)?;
    barrier(&state, false).await?;
    let tokens: Vec<TokenInfo> = list_tokens(state.cluster.db())?
        .into_iter()
        .map(|t| TokenInfo {
            id: t.id,
            role: t.role,
            zones: t.zones,
            description: t.description,
        })
        .collect();
    Ok(Json(tokens).into_response())
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", params(("id" = String, Path), WriteParams), tag = "tokens",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<WriteParams>,
) -> Result<Response, ApiError> {
    submit_as_admin(
        &state,
        &headers,
        params.dry_run,
        Command::RevokeToken { id },
        false,
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyRequest {
    /// The key's name, a domain name (`transfer.example.com.`); the peers must use the same.
    pub name: String,
    /// `hmac-sha256` (default), `hmac-sha384` or `hmac-sha512`.
    pub algorithm: Option<String>,
    /// The secret in base64, to import a key a peer already has; generated (256 bits) when absent.
    pub secret: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TsigRotateRequest {
    /// The new secret in base64; generated when absent.
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TsigKeyCreated {
    pub name: String,
    pub algorithm: String,
    /// The secret in base64: shown only in this answer.
    pub secret: String,
    #[schema(value_type = Object)]
    pub result: WriteResult,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TsigKeyInfo {
    pub name: String,
    pub algorithm: String,
    pub created_ms: u64,
    pub rotated_ms: Option<u64>,
}

/// A new 256-bit secret in base64.
fn new_secret() -> Result<String, ApiError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    Ok(data_encoding::BASE64.encode(&secret))
}

/// Runs a TSIG key write and answers with the secret (the only time it is shown).
async fn put_tsig_key(
    state: &ApiState,
    headers: &HeaderMap,
    dry_run: bool,
    record: TsigKeyRecord,
    rotate: bool,
) -> Result<Response, ApiError> {
    let principal = state.principal(headers)?;
    principal.require(Role::Admin)?;
    // Checked here too, so a bad key is a 400 naming the problem before anything is proposed.
    let parsed = record.key().map_err(ApiError::bad_request)?;
    let secret = record.secret.clone();
    let key = idempotency_key(headers)?;
    let command = Command::PutTsigKey {
        key: record,
        rotate,
    };
    let author = principal.author();
    let result = if dry_run {
        state.cluster.preview(&author, key, command).await?
    } else {
        state.cluster.write(&author, key, command).await?
    }?;
    let status = if rotate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(TsigKeyCreated {
            name: parsed.name.to_lowercase().to_string(),
            algorithm: parsed.algorithm.as_str().to_owned(),
            secret,
            result,
        }),
    )
        .into_response())
}

#[utoipa::path(post, path = "/api/v1/tsig-keys", params(WriteParams), tag = "tsig", request_body = TsigKeyRequest,
    responses((status = 201, body = TsigKeyCreated), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_tsig_key(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: TsigKeyRequest = json_body(&body)?;
    let secret = match request.secret {
        Some(secret) => secret,
        None => new_secret()?,
    };
    let record = TsigKeyRecord {
        name: request.name,
        algorithm: request
            .algorithm
            .unwrap_or_else(|| "hmac-sha256".to_owned()),
        secret,
        created_ms: 0,
        rotated_ms: None,
    };
    put_tsig_key(&state, &headers, params.dry_run, record, false).await
}

#[utoipa::path(post, path = "/api/v1/tsig-keys/{name}/rotate", params(("name" = String, Path), WriteParams), tag = "tsig",
    request_body = TsigRotateRequest, responses((status = 200, body = TsigKeyCreated), (status = 404, body = ErrorBody)))]
pub async fn rotate_tsig_key(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: TsigRotateRequest = if body.is_empty() {
        TsigRotateRequest::default()
    } else {
        json_body(&body)?
    };
    let Some(existing) = read_tsig_key(state.cluster.db(), &name)? else {
        return Err(ApiError::not_found(format!("no TSIG key {name}")));
    };
    let secret = match request.secret {
        Some(secret) => secret,
        None => new_secret()?,
    };
    let record = TsigKeyRecord { secret, ..existing };
    put_tsig_key(&state, &headers, params.dry_run, record, true).await
}

#[utoipa::path(get, path = "/api/v1/tsig-keys", tag = "tsig", responses((status = 200, body = Vec<TsigKeyInfo>)))]
pub async fn list_tsig_key_info(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<ReadParams>,
) -> Result<Response, ApiError> {
    state.principal(&headers)?.require(Role::Viewer)?;
    barrier(&state, params.stale).await?;
    let keys: Vec<TsigKeyInfo> = list_tsig_keys(state.cluster.db())?
        .into_iter()
        .map(|k| TsigKeyInfo {
            name: k.name,
            algorithm: k.algorithm,
            created_ms: k.created_ms,
            rotated_ms: k.rotated_ms,
        })
        .collect();
    Ok(Json(keys).into_response())
}

#[utoipa::path(delete, path = "/api/v1/tsig-keys/{name}", params(("name" = String, Path), WriteParams), tag = "tsig",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_tsig_key(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<WriteParams>,
) -> Result<Response, ApiError> {
    submit_as_admin(
        &state,
        &headers,
        params.dry_run,
        Command::DeleteTsigKey { name },
        false,
    )
    .await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecondaryRequest {
    /// A name for logs, the API and metrics (`bind-ams1`).
    pub name: String,
    /// Its DNS address: `192.0.2.53` (port 53, or `port`) or `192.0.2.53:5300`.
    pub address: String,
    pub port: Option<u16>,
    /// The zones it takes; empty: every zone.
    #[serde(default)]
    pub zones: Vec<String>,
    /// The TSIG key its transfers and our NOTIFYs are signed with.
    pub key: Option<String>,
    /// `required` (default) or `best-effort`.
    #[schema(value_type = Option<String>)]
    pub mode: Option<SecondaryMode>,
}

#[utoipa::path(post, path = "/api/v1/secondaries", params(WriteParams), tag = "secondaries", request_body = SecondaryRequest,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody)))]
pub async fn create_secondary(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(params): Query<WriteParams>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: SecondaryRequest = json_body(&body)?;
    let mut address: PeerAddr = request
        .address
        .parse()
        .map_err(|e: String| ApiError::bad_request(format!("address: {e}")))?;
    if let Some(port) = request.port {
        address.0.set_port(port);
    }
    let secondary = Secondary {
        name: request.name,
        address,
        zones: request.zones,
        key: request.key,
        mode: request.mode.unwrap_or_default(),
    };
    secondary.check().map_err(ApiError::bad_request)?;
    let command = Command::PutSecondary { secondary };
    submit_as_admin(&state, &headers, params.dry_run, command, true).await
}

#[utoipa::path(delete, path = "/api/v1/secondaries/{name}", params(("name" = String, Path), WriteParams), tag = "secondaries",
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)))]
pub async fn delete_secondary(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(params): Query<WriteParams>,
) -> Result<Response, ApiError> {
    submit_as_admin(
        &state,
        &headers,
        params.dry_run,
        Command::DeleteSecondary { name },
        false,
    )
    .await
}
