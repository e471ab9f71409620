//! The API's one error type: an HTTP status, a stable machine-readable code and a message
//! that names the problem and the fix. Rendered as `{"error": code, "message": text}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use nebula_raft::ClusterError;
use nebula_store::state::{RejectKind, Rejection};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A stable code: `bad_request`, `unauthorized`, `forbidden`, `not_found`, `conflict`,
    /// `no_quorum`, `outcome_unknown`, `payload_too_large`, `internal`.
    pub error: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<ClusterError> for ApiError {
    fn from(e: ClusterError) -> ApiError {
        match e {
            ClusterError::NoLeader(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "no_quorum", m)
            }
            ClusterError::Unknown(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "outcome_unknown", m)
            }
            ClusterError::Refused(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            ClusterError::NotFound(m) => ApiError::not_found(m),
            ClusterError::Invalid(m) => ApiError::bad_request(m),
            ClusterError::Internal(m) => ApiError::internal(m),
        }
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> ApiError {
        match r.kind {
            RejectKind::NotFound => ApiError::not_found(r.message),
            RejectKind::Conflict => ApiError::new(StatusCode::CONFLICT, "conflict", r.message),
            RejectKind::Invalid => ApiError::bad_request(r.message),
        }
    }
}

impl From<nebula_store::db::DbError> for ApiError {
    fn from(e: nebula_store::db::DbError) -> ApiError {
        ApiError::internal(e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_owned(),
            message: self.message,
        };
        (self.status, axum::Json(body)).into_response()
    }
}
