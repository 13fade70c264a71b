//! HTTP calls with a deadline, and the failures they can end in.

use serde_json::Value;
use tokio::time::Instant;

/// A Genesys id (a GUID): letters, digits and `-`, at most 64 characters. Ids from
/// outside go into URL paths and queries, so nothing else is let through.
pub fn genesys_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HttpError {
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("HTTP {status}")]
    Status {
        status: u16,
        retry_after_s: Option<u64>,
    },
    #[error("unreadable answer: {0}")]
    Garbage(String),
}

impl HttpError {
    /// Worth one more attempt within the same deadline: the request never got an answer
    /// or the server said it was briefly unavailable. 429 is not: retrying adds load.
    pub fn retryable(&self) -> bool {
        match self {
            HttpError::Connect(_) => true,
            HttpError::Status { status, .. } => matches!(status, 502..=504),
            HttpError::Timeout | HttpError::Garbage(_) => false,
        }
    }
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn classify(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else if e.is_decode() || e.is_body() {
        HttpError::Garbage(e.to_string())
    } else {
        // Connection refused or reset, TLS failures: no (complete) answer.
        HttpError::Connect(e.without_url().to_string())
    }
}

/// Send, wait no later than `deadline`, and read a JSON body from a 2xx answer.
pub async fn send_json(
    req: reqwest::RequestBuilder,
    deadline: Instant,
) -> Result<Value, HttpError> {
    send_json_explained(req, deadline).await.map_err(|(e, _)| e)
}

/// An error answer's `message` is read up to this many bytes: enough for a vendor's
/// sentence, never a whole page.
const MAX_ERROR_BODY: usize = 4_096;

/// As [`send_json`], and with a non-2xx answer, the `message` its JSON body carries
/// (Genesys's error bodies have `message`, `code`, `status`): some answers mean
/// different things by their message alone, such as Genesys's 400 for a stale version.
pub async fn send_json_explained(
    req: reqwest::RequestBuilder,
    deadline: Instant,
) -> Result<Value, (HttpError, Option<String>)> {
    let fut = async {
        let resp = req.send().await.map_err(|e| (classify(e), None))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let retry_after_s = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            let bytes = resp.bytes().await.unwrap_or_default();
            let message =
                serde_json::from_slice::<Value>(&bytes[..bytes.len().min(MAX_ERROR_BODY)])
                    .ok()
                    .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string));
            return Err((
                HttpError::Status {
                    status,
                    retry_after_s,
                },
                message,
            ));
        }
        let bytes = resp.bytes().await.map_err(|e| (classify(e), None))?;
        serde_json::from_slice(&bytes).map_err(|e| (HttpError::Garbage(e.to_string()), None))
    };
    tokio::time::timeout_at(deadline, fut)
        .await
        .unwrap_or(Err((HttpError::Timeout, None)))
}

/// One HTTP client per instance: rustls, short connect timeout, no redirects.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_millis(800))
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(50))
        .build()
}
