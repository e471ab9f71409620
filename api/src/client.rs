//! A small blocking HTTP client of the API, shared by `nebulactl`, tests and benchmarks.

use std::time::Duration;

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
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
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
