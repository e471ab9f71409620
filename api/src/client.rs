//! A small blocking HTTP client of the API, shared by `nebulactl`, tests and benchmarks.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Json(serde_json::Value),
    /// Master-file text (`text/dns`).
    Text(String),
}

/// A response: status and body text.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON (`null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The error message of an error body, or the body itself.
    pub fn message(&self) -> String {
        match self.json().get("message").and_then(|m| m.as_str()) {
            Some(message) => message.to_owned(),
            None => self.body.trim().to_owned(),
        }
    }
}

/// Why a request got no HTTP answer at all.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {message}")]
pub struct ClientError {
    pub url: String,
    pub message: String,
}

/// An API endpoint with a token.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// `base` is `http://host:port`.
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Client {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build();
        let agent = ureq::Agent::with_parts(config, DefaultConnector::new(), Literals::default());
        Client {
            base: base.trim_end_matches('/').to_owned(),
            token,
            agent,
        }
    }

    pub fn get(&self, path: &str) -> Result<Reply, ClientError> {
        self.request("GET", path, None, &[])
    }

    /// Sends a request; `path` starts with `/`.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Body>,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ClientError> {
        let url = format!("{}{path}", self.base);
        let fail = |message: String| ClientError {
            url: url.clone(),
            message,
        };
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        macro_rules! prepare {
            ($builder:expr) => {{
                let mut builder = $builder;
                if let Some(auth) = &auth {
                    builder = builder.header("Authorization", auth);
                }
                for (name, value) in headers {
                    builder = builder.header(*name, *value);
                }
                builder
            }};
        }
        let result = match (method, body) {
            ("GET", _) => prepare!(self.agent.get(&url)).call(),
            ("DELETE", _) => prepare!(self.agent.delete(&url)).call(),
            (method, body) => {
                let builder = match method {
                    "POST" => self.agent.post(&url),
                    "PUT" => self.agent.put(&url),
                    other => return Err(fail(format!("unsupported method {other}"))),
                };
                let builder = prepare!(builder);
                match body {
                    None => builder.send_empty(),
                    Some(Body::Json(value)) => builder.send_json(value),
                    Some(Body::Text(text)) => builder.header("Content-Type", "text/dns").send(text),
                }
            }
        };
        let mut response = result.map_err(|e| fail(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(512 << 20)
            .read_to_string()
            .map_err(|e| fail(e.to_string()))?;
        Ok(Reply { status, body })
    }
}

/// Takes an IP address in the URL as it is. ureq's own resolver, when a timeout is set, looks
/// every request's host up on a thread of its own, IP addresses too: a thread started and ended
/// per request (~0.1 ms each, measured in the write benchmark's client). Host names still go
/// to it.
#[derive(Debug, Default)]
struct Literals(DefaultResolver);

impl Resolver for Literals {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if let Some(address) = literal(uri) {
            let mut addresses = self.empty();
            addresses.push(address);
            return Ok(addresses);
        }
        self.0.resolve(uri, config, timeout)
    }
}

/// The address of a URL whose host is an IP address (`http://127.0.0.1:8080`, `http://[::1]`).
fn literal(uri: &Uri) -> Option<SocketAddr> {
    let authority = uri.authority()?;
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = host.parse().ok()?;
    let port = authority.port_u16().or(match uri.scheme_str()? {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    })?;
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ip_literals_resolve_without_a_lookup_and_names_do_not() {
        let at = |url: &str| literal(&url.parse().unwrap());
        assert_eq!(
            at("http://127.0.0.1:18081/api"),
            Some(([127, 0, 0, 1], 18081).into())
        );
        assert_eq!(at("http://[::1]:8080"), Some("[::1]:8080".parse().unwrap()));
        assert_eq!(at("http://192.0.2.1/x"), Some(([192, 0, 2, 1], 80).into()));
        assert_eq!(at("https://192.0.2.1"), Some(([192, 0, 2, 1], 443).into()));
        assert_eq!(at("http://localhost:8080"), None);
    }
}
