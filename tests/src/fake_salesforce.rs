//! A fake Salesforce: the client-credentials token endpoint and SOSL phone search over
//! a fixed set of contacts, on the fault-injecting server.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::fake_http::{parse_form, FakeServer, Response};

pub const TOKEN_PATH: &str = "/services/oauth2/token";
pub const API_PREFIX: &str = "/services/data/";
/// The access token the fake issues; tests look for it in logs.
pub const ACCESS_TOKEN: &str = "00Dfake!AQ0AQ-secret-access-token-7f3a";
pub const CLIENT_ID: &str = "3MVG9fake-client-id";
pub const CLIENT_SECRET: &str = "fake-client-secret-5b1e9";

/// A contact the fake finds by any of its phone digits.
pub struct FakeContact {
    pub phone_digits: String,
    pub record: Value,
}

pub fn contact(
    id: &str,
    name: &str,
    phone: &str,
    modified: &str,
    tier: Option<&str>,
) -> FakeContact {
    FakeContact {
        phone_digits: phone.to_string(),
        record: json!({
            "attributes": {"type": "Contact"}, "Id": id, "Name": name, "AccountId": format!("001{id}"),
            "LastModifiedDate": modified, "Account": {"Tier__c": tier},
        }),
    }
}

/// The digit strings inside `FIND {...}`.
pub fn find_terms(q: &str) -> Vec<String> {
    let inner = q
        .split_once('{')
        .and_then(|(_, r)| r.split_once('}'))
        .map(|(i, _)| i)
        .unwrap_or_default();
    inner
        .split(" OR ")
        .map(|t| t.trim_matches('"').to_string())
        .collect()
}

/// The one contact most tests look up: a Platinum customer on +1 317 555 0123.
pub fn pat_platinum() -> FakeContact {
    contact(
        "003PAT",
        "Pat Platinum",
        "3175550123",
        "2026-06-01T00:00:00.000+0000",
        Some("Platinum"),
    )
}

/// The CRM secret's value for a fake Salesforce at `url`.
pub fn credentials(url: &str) -> serde_json::Value {
    serde_json::json!({"token_url": format!("{url}{TOKEN_PATH}"), "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
}

pub async fn start(contacts: Vec<FakeContact>) -> anyhow::Result<FakeServer> {
    Ok(start_with_sessions(contacts).await?.0)
}

/// The org's sessions: ending one makes the token issued for it fail with 401, the way a
/// Salesforce session timeout does (Salesforce tokens carry no expiry of their own).
#[derive(Clone, Default)]
pub struct Sessions(Arc<AtomicU32>);

impl Sessions {
    pub fn end(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// The token valid now: [`ACCESS_TOKEN`] for the first session.
    pub fn token(&self) -> String {
        match self.0.load(Ordering::SeqCst) {
            0 => ACCESS_TOKEN.to_string(),
            n => format!("{ACCESS_TOKEN}-{n}"),
        }
    }
}

pub async fn start_with_sessions(
    contacts: Vec<FakeContact>,
) -> anyhow::Result<(FakeServer, Sessions)> {
    let contacts = Arc::new(contacts);
    let sessions = Sessions::default();
    let current = sessions.clone();
    let server = FakeServer::start(move |req, base| {
        if req.path == TOKEN_PATH && req.method == "POST" {
            let form = parse_form(&req.body);
            let get = |k: &str| form.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap_or_default();
            if get("grant_type") != "client_credentials" || get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
                return Response::json(400, &json!({"error": "invalid_client"}));
            }
            return Response::json(200, &json!({
                "access_token": current.token(), "instance_url": base, "id": format!("{base}/id/00D/005"),
                "token_type": "Bearer", "issued_at": "1795800000000", "signature": "sig", "scope": "api"}));
        }
        if req.path == API_PREFIX && req.method == "GET" {
            // The versions list: what the health probe reads.
            return Response::json(200, &json!([{"version": "61.0", "url": "/services/data/v61.0"}]));
        }
        if req.path.starts_with(API_PREFIX) && req.path.ends_with("/search/") {
            if req.header("authorization") != Some(&format!("Bearer {}", current.token())) {
                return Response::json(401, &json!([{"errorCode": "INVALID_SESSION_ID"}]));
            }
            let terms = find_terms(req.param("q").unwrap_or_default());
            // Matches come back newest-last, not in the order the query asked for.
            let mut found: Vec<Value> = contacts
                .iter()
                .filter(|c| terms.iter().any(|t| c.phone_digits.ends_with(t.as_str()) && t.len() >= 7))
                .map(|c| c.record.clone())
                .collect();
            found.sort_by(|a, b| a["LastModifiedDate"].as_str().cmp(&b["LastModifiedDate"].as_str()));
            return Response::json(200, &json!({"searchRecords": found}));
        }
        Response::json(404, &json!([{"errorCode": "NOT_FOUND"}]))
    })
    .await?;
    Ok((server, sessions))
}
