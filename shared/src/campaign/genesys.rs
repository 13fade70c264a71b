//! The Genesys outbound campaign API: list, read and switch voice and messaging
//! campaigns, paced under the platform's per-token rate limit and honouring 429
//! `Retry-After` within the caller's deadline.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::http::{self, HttpError};
use crate::token::TokenCache;

/// Voice campaigns and messaging campaigns: the same statuses and `version` rule, on
/// two paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Voice,
    Messaging,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Voice, Kind::Messaging];

    pub fn path(self) -> &'static str {
        match self {
            Kind::Voice => "/api/v2/outbound/campaigns",
            Kind::Messaging => "/api/v2/outbound/messagingcampaigns",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Voice => "voice",
            Kind::Messaging => "messaging",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One campaign as read: the whole body is kept, because a PUT replaces the campaign.
#[derive(Clone, Debug, PartialEq)]
pub struct Campaign {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    pub status: String,
    pub version: i64,
    pub division: Option<String>,
    /// When Genesys last saw it changed (`dateModified`), if it says.
    pub modified: Option<String>,
    body: Value,
}

impl Campaign {
    pub fn from_body(kind: Kind, body: Value) -> Option<Campaign> {
        let id = body.get("id")?.as_str()?.to_string();
        // Ids go into URL paths: refuse anything but a GUID's characters.
        if !http::genesys_id(&id) {
            return None;
        }
        Some(Campaign {
            kind,
            name: body
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(120)
                .collect(),
            status: body
                .get("campaignStatus")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            version: body.get("version").and_then(Value::as_i64)?,
            division: body
                .pointer("/division/id")
                .and_then(Value::as_str)
                .map(str::to_string),
            modified: body
                .get("dateModified")
                .and_then(Value::as_str)
                .map(str::to_string),
            id,
            body,
        })
    }

    /// The body of a PUT that switches it to `status`, with the version just read.
    pub fn switched(&self, status: &str) -> Value {
        let mut b = self.body.clone();
        if let Some(o) = b.as_object_mut() {
            o.insert("campaignStatus".into(), Value::String(status.into()));
            o.insert("version".into(), Value::from(self.version));
        }
        b
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ApiError {
    #[error("no Genesys token: {0}")]
    Auth(String),
    #[error("Genesys API: {0}")]
    Http(#[from] HttpError),
    #[error("Genesys API answered without the expected fields")]
    Malformed,
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http(e) => e.status(),
            _ => None,
        }
    }

    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            ApiError::Http(HttpError::Status {
                status: 429,
                retry_after_s,
            }) => Some(retry_after_s.unwrap_or(60)),
            _ => None,
        }
    }
}

/// The campaign API through the Genesys token cache. One request at a time per
/// instance, at least `min_interval` apart: a pause of fifty campaigns must not spend
/// the token's 300 requests a minute that routing and the probe also use.
pub struct CampaignApi {
    pub http: reqwest::Client,
    pub base_url: String,
    pub tokens: Arc<TokenCache>,
    pub min_interval: Duration,
    next_slot: Mutex<Instant>,
}

/// A 429's `Retry-After` longer than this ends the attempt: the action is retried later.
const MAX_INLINE_WAIT: Duration = Duration::from_secs(5);

impl CampaignApi {
    pub fn new(
        http: reqwest::Client,
        base_url: String,
        tokens: Arc<TokenCache>,
        per_minute: u32,
    ) -> CampaignApi {
        CampaignApi {
            http,
            base_url,
            tokens,
            min_interval: Duration::from_millis(60_000 / u64::from(per_minute.max(1))),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Wait for this instance's next request slot, or fail if it is past `deadline`.
    async fn pace(&self, deadline: Instant) -> Result<(), ApiError> {
        let mut slot = self.next_slot.lock().await;
        let at = (*slot).max(Instant::now());
        if at >= deadline {
            return Err(ApiError::Http(HttpError::Timeout));
        }
        *slot = at + self.min_interval;
        drop(slot);
        tokio::time::sleep_until(at).await;
        Ok(())
    }

    /// One Genesys API request, paced, with this instance's token and a 429 waited out
    /// when it fits the deadline. The emergency groups of `overflow` use it too (this
    /// paced client should become a `genesys` module of its own once a third API does).
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, ApiError> {
        loop {
            self.pace(deadline).await?;
            let (token, _) = self
                .tokens
                .get(deadline)
                .await
                .map_err(|e| ApiError::Auth(e.to_string()))?;
            let url = format!("{}{path}", self.base_url.trim_end_matches('/'));
            let mut req = self
                .http
                .request(method.clone(), url)
                .bearer_auth(&token.access_token);
            if let Some(b) = body {
                req = req.json(b);
            }
            match http::send_json(req, deadline).await {
                Err(e @ HttpError::Status { status: 429, .. }) => {
                    let wait = Duration::from_secs(
                        ApiError::Http(e.clone()).retry_after_s().unwrap_or(60),
                    );
                    // Honoured here when it fits; otherwise the caller defers the action.
                    if wait > MAX_INLINE_WAIT || Instant::now() + wait >= deadline {
                        return Err(ApiError::Http(e));
                    }
                    tracing::warn!(
                        path,
                        wait_s = wait.as_secs(),
                        "Genesys rate limit; waiting as told"
                    );
                    tokio::time::sleep(wait).await;
                }
                r => return r.map_err(ApiError::Http),
            }
        }
    }

    /// Every campaign of `kind` whose status is `on`, in `divisions` if any are given,
    /// across all pages.
    pub async fn list_on(
        &self,
        kind: Kind,
        divisions: &[String],
        deadline: Instant,
    ) -> Result<Vec<Campaign>, ApiError> {
        let mut out = Vec::new();
        let mut filter = String::new();
        for d in divisions {
            filter.push_str(&format!("&divisionId={d}"));
        }
        // Bounded: Genesys allows 50 active campaigns; 100 pages of 100 is far beyond.
        for page in 1..=100u32 {
            let path = format!("{}?pageSize=100&pageNumber={page}{filter}", kind.path());
            let body = self
                .request(reqwest::Method::GET, &path, None, deadline)
                .await?;
            let entities = body
                .get("entities")
                .and_then(Value::as_array)
                .ok_or(ApiError::Malformed)?;
            for e in entities {
                let c = Campaign::from_body(kind, e.clone()).ok_or(ApiError::Malformed)?;
                let in_division = divisions.is_empty()
                    || c.division.as_ref().is_some_and(|d| divisions.contains(d));
                if c.status == "on" && in_division {
                    out.push(c);
                }
            }
            let pages = body.get("pageCount").and_then(Value::as_u64).unwrap_or(1);
            if u64::from(page) >= pages || entities.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    pub async fn get(&self, kind: Kind, id: &str, deadline: Instant) -> Result<Campaign, ApiError> {
        let path = format!("{}/{id}", kind.path());
        let body = self
            .request(reqwest::Method::GET, &path, None, deadline)
            .await?;
        Campaign::from_body(kind, body).ok_or(ApiError::Malformed)
    }

    /// PUT `c` back with `status` and the version it was read with. A 409 means the
    /// version moved; a 400, that Genesys refuses the transition.
    pub async fn switch(
        &self,
        c: &Campaign,
        status: &str,
        deadline: Instant,
    ) -> Result<Campaign, ApiError> {
        let path = format!("{}/{}", c.kind.path(), c.id);
        let body = self
            .request(
                reqwest::Method::PUT,
                &path,
                Some(&c.switched(status)),
                deadline,
            )
            .await?;
        Ok(Campaign::from_body(c.kind, body).unwrap_or_else(|| c.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_switch_keeps_the_whole_campaign_and_the_version_read() {
        let body = json!({"id": "c-1", "name": "Renewals", "campaignStatus": "on", "version": 7,
                          "division": {"id": "d1"}, "dialingMode": "preview", "contactList": {"id": "l1"}});
        let c = Campaign::from_body(Kind::Voice, body).unwrap_or_else(|| panic!("parses"));
        let put = c.switched("off");
        assert_eq!(put["campaignStatus"], "off");
        assert_eq!(put["version"], 7);
        assert_eq!(put["contactList"]["id"], "l1");
        assert_eq!(c.division.as_deref(), Some("d1"));
    }

    #[test]
    fn an_id_that_is_not_a_guid_is_refused() {
        for id in ["", "../users", "a b", "x?y=1"] {
            let body = json!({"id": id, "campaignStatus": "on", "version": 1});
            assert_eq!(Campaign::from_body(Kind::Voice, body), None, "{id}");
        }
    }
}
