//! Bearer tokens and roles. A token is `nbl_<id>_<secret>`; the cluster stores only the
//! SHA-256 of the secret (replicated, so every node accepts every token). A node's bootstrap
//! admin token is also accepted from memory, so it works before its hash has replicated.

use std::path::{Path, PathBuf};

use axum::http::HeaderMap;
use nebula_store::db::Db;
use nebula_store::state::{read_token, Role, TokenRecord};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: String,
    pub role: Role,
    /// Zones the token is limited to (lower-case, absolute); empty: all.
    pub zones: Vec<String>,
}

impl Principal {
    /// The author recorded in history and the audit log.
    pub fn author(&self) -> String {
        format!("token:{}", self.token_id)
    }

    /// Refuses (403) unless the role is at least `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ApiError> {
        if self.role >= needed {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "token {} has role {:?}; this needs {:?} or higher",
                self.token_id, self.role, needed
            )))
        }
    }

    /// Refuses (403) unless the token may touch `zone_key`.
    pub fn require_zone(&self, zone_key: &str) -> Result<(), ApiError> {
        if self.may_see(zone_key) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "token {} is not allowed zone {zone_key}",
                self.token_id
            )))
        }
    }

    pub fn may_see(&self, zone_key: &str) -> bool {
        self.zones.is_empty() || self.zones.iter().any(|z| z == zone_key)
    }
}

/// A freshly generated token: the text to hand out once, and the record to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub text: String,
    pub record: TokenRecord,
}

/// Generates a token with 256 random bits of secret.
pub fn generate(role: Role, zones: Vec<String>, description: String) -> Result<NewToken, ApiError> {
    let mut id = [0u8; 4];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    getrandom::fill(&mut secret).map_err(|e| ApiError::internal(format!("no randomness: {e}")))?;
    let id = data_encoding::HEXLOWER.encode(&id);
    let secret = data_encoding::BASE32_NOPAD
        .encode(&secret)
        .to_ascii_lowercase();
    Ok(NewToken {
        text: format!("nbl_{id}_{secret}"),
        record: TokenRecord {
            id,
            secret_sha256: digest(&secret),
            role,
            zones,
            description,
        },
    })
}

fn digest(secret: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(secret.as_bytes()))
}

/// Splits `nbl_<id>_<secret>`.
fn parse(text: &str) -> Option<(&str, &str)> {
    text.strip_prefix("nbl_")?.split_once('_')
}

/// Compares without an early exit, so timing does not reveal how much of a hash matched.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Checks bearer tokens.
#[derive(Debug, Clone)]
pub struct Auth {
    /// This node's bootstrap admin token, accepted before its hash has replicated.
    local: Option<TokenRecord>,
}

impl Auth {
    pub fn new(local: Option<TokenRecord>) -> Auth {
        Auth { local }
    }

    /// The caller, or 401 naming what is wrong with the credentials.
    pub fn authenticate(&self, db: &Db, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let header = headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("no Authorization header; send `Authorization: Bearer <token>` (nebulactl reads <data-dir>/admin.token, --token or NEBULA_TOKEN)"))?;
        let text = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header is not `Bearer <token>`")
            })?
            .trim();
        let (id, secret) = parse(text)
            .ok_or_else(|| ApiError::unauthorized("malformed token: expected nbl_<id>_<secret>"))?;
        let record = match &self.local {
            Some(local) if local.id == id => Some(local.clone()),
            _ => read_token(db, id).map_err(|e| ApiError::internal(e.to_string()))?,
        };
        match record {
            Some(record) if same(&record.secret_sha256, &digest(secret)) => Ok(Principal {
                token_id: record.id,
                role: record.role,
                zones: record.zones,
            }),
            _ => Err(ApiError::unauthorized(format!(
                "token {id} is unknown or revoked"
            ))),
        }
    }
}

/// Where a node keeps its bootstrap admin token.
pub fn admin_token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.token")
}

/// Reads `<data-dir>/admin.token`, or on first start creates it (mode 0600). Returns the
/// record to register and whether the file was created now.
pub fn load_or_create_admin_token(data_dir: &Path) -> Result<(TokenRecord, bool), ApiError> {
    let path = admin_token_path(data_dir);
    let io = |what: &str, e: std::io::Error| {
        ApiError::internal(format!("{what} {}: {e}", path.display()))
    };
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| io("cannot read", e))?;
        let (id, secret) = parse(text.trim()).ok_or_else(|| {
            ApiError::internal(format!(
                "{} does not hold a token (nbl_<id>_<secret>); delete it to get a new one",
                path.display()
            ))
        })?;
        let record = TokenRecord {
            id: id.to_owned(),
            secret_sha256: digest(secret),
            role: Role::Admin,
            zones: Vec::new(),
            description: "bootstrap admin token".to_owned(),
        };
        return Ok((record, false));
    }
    let token = generate(Role::Admin, Vec::new(), "bootstrap admin token".to_owned())?;
    write_private(&path, &format!("{}\n", token.text)).map_err(|e| io("cannot write", e))?;
    Ok((token.record, true))
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_and_compare() {
        let token = generate(Role::Editor, vec![], String::new()).unwrap();
        let (id, secret) = parse(&token.text).unwrap();
        assert_eq!(id, token.record.id);
        assert!(same(&digest(secret), &token.record.secret_sha256));
        assert!(!same(&digest("other"), &token.record.secret_sha256));
        assert_eq!(parse("Bearer x"), None);
    }

    #[test]
    fn admin_token_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = load_or_create_admin_token(dir.path()).unwrap();
        assert!(created);
        let (again, created) = load_or_create_admin_token(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(first, again);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(admin_token_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
