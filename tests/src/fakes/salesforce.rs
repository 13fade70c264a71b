//! A fake Salesforce: the client-credentials token endpoint and SOSL phone search over
//! a fixed set of contacts; and for the write-back, Tasks upserted by external id (one
//! by one, or through sObject Collections), searches through Composite Batch, the org's
//! API calls counted against a daily limit. On the fault-injecting server.
//!
//! It answers as the REST API Developer Guide says, not as our client expects:
//! - Composite (`/composite`) refuses Search subrequests ("Send Multiple Requests Using
//!   Composite" lists sObject resources, Collections, Query and QueryAll); Composite
//!   Batch (`/composite/batch`) runs up to 25, and each subrequest counts as an API call.
//! - Two records with one external id in one Collections upsert both fail with
//!   `DUPLICATE_VALUE`, and neither is written.
//! - A field the object does not have is a 400 `INVALID_FIELD` for the request; an
//!   object or external id field it does not have, a 404 `NOT_FOUND`; a value outside a
//!   restricted picklist, the record's `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use crate::contract::{self, Vendor};
use crate::fakes::http::{parse_form, FakeServer, Response};

pub const TOKEN_PATH: &str = "/services/oauth2/token";
pub const API_PREFIX: &str = "/services/data/";
/// The access token the fake issues; tests look for it in logs.
pub const ACCESS_TOKEN: &str = "00Dfake!AQ0AQ-secret-access-token-7f3a";
pub const CLIENT_ID: &str = "3MVG9fake-client-id";
pub const CLIENT_SECRET: &str = "fake-client-secret-5b1e9";

/// A contact the fake finds by any of its phone digits.
#[derive(Clone)]
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
    let (server, org) = start_org(contacts).await?;
    Ok((server, org.sessions))
}

/// A wrap-up note that the org's validation rule refuses (400, or a record error).
pub const INVALID_NOTE: &str = "REFUSED-BY-VALIDATION";

/// What the org holds and has counted.
#[derive(Clone, Default)]
pub struct Org {
    pub sessions: Sessions,
    /// Tasks by external id, with how many times each was written.
    pub tasks: Arc<Mutex<BTreeMap<String, (Value, u32)>>>,
    /// API calls made (everything under `/services/data/` but the versions list).
    pub api_calls: Arc<AtomicU32>,
    /// The daily allowance: past it, 403 `REQUEST_LIMIT_EXCEEDED` (0: no limit).
    pub daily_limit: Arc<AtomicU32>,
    /// HTTP requests under `/services/data/` (a Composite Batch of 25 is one).
    pub requests: Arc<AtomicU32>,
    /// Task fields the integration user may read but not edit (field-level security).
    pub read_only: Arc<Mutex<Vec<String>>>,
    /// The contacts the org holds; a test may change them (a caller's tier changes).
    pub contacts: Arc<Mutex<Vec<FakeContact>>>,
}

/// The Task's fields the fake org has: the standard ones the write-back may set
/// (Salesforce Object Reference, "Task"), and the external id field.
pub const TASK_FIELDS: [&str; 14] = [
    "Subject",
    "Status",
    "TaskSubtype",
    "ActivityDate",
    "WhoId",
    "WhatId",
    "Description",
    "CallObject",
    "CallDisposition",
    "CallDurationInSeconds",
    "CallType",
    "Priority",
    "OwnerId",
    EXTERNAL_ID_FIELD,
];
/// The org's external id field on Task.
pub const EXTERNAL_ID_FIELD: &str = "Genesys_Interaction_Id__c";
/// Restricted picklists of Task (Object Reference): `TaskSubtype` and `CallType`.
const TASK_SUBTYPES: [&str; 6] = ["Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"];
const CALL_TYPES: [&str; 3] = ["Internal", "Inbound", "Outbound"];

/// A field the Task does not have: the request's 400, as Salesforce answers it.
fn unknown_field(record: &Value) -> Option<Response> {
    let o = record.as_object()?;
    let bad = o
        .keys()
        .find(|k| k.as_str() != "attributes" && !TASK_FIELDS.contains(&k.as_str()))?;
    Some(Response::json(
        400,
        &json!([{"message": format!("No such column '{bad}' on sobject of type Task"), "errorCode": "INVALID_FIELD"}]),
    ))
}

/// Per-record errors (`statusCode`) as a request's error answer (`errorCode`).
fn as_request_errors(errors: &Value) -> Value {
    let list: Vec<Value> = errors
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| json!({"errorCode": e["statusCode"], "message": e["message"], "fields": e.get("fields").cloned().unwrap_or(json!([]))}))
        .collect();
    Value::Array(list)
}

/// A record's value outside a restricted picklist, as its errors.
fn bad_picklist(record: &Value) -> Option<Value> {
    for (field, allowed) in [
        ("TaskSubtype", &TASK_SUBTYPES[..]),
        ("CallType", &CALL_TYPES[..]),
    ] {
        if let Some(v) = record.get(field).and_then(Value::as_str) {
            if !allowed.contains(&v) {
                return Some(
                    json!([{"statusCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    "message": format!("{field}: bad value for restricted picklist field: {v}"), "fields": [field]}]),
                );
            }
        }
    }
    None
}

impl Org {
    /// Replace the contacts the org holds.
    pub fn set_contacts(&self, contacts: Vec<FakeContact>) {
        if let Ok(mut c) = self.contacts.lock() {
            *c = contacts;
        }
    }

    pub fn tasks(&self) -> BTreeMap<String, (Value, u32)> {
        self.tasks.lock().map(|t| t.clone()).unwrap_or_default()
    }
    pub fn calls(&self) -> u32 {
        self.api_calls.load(Ordering::SeqCst)
    }
    pub fn requests(&self) -> u32 {
        self.requests.load(Ordering::SeqCst)
    }

    /// Upsert one Task: (created, or the record's errors).
    /// Take the integration user's edit access to a Task field away, as a profile or
    /// permission set without it would.
    pub fn revoke_edit(&self, field: &str) {
        if let Ok(mut r) = self.read_only.lock() {
            r.push(field.to_string());
        }
    }

    fn editable(&self, field: &str) -> bool {
        self.read_only
            .lock()
            .map(|r| !r.iter().any(|f| f == field))
            .unwrap_or(true)
    }

    fn upsert(&self, ext: &str, body: &Value) -> Result<bool, Value> {
        if let Some(errors) = bad_picklist(body) {
            return Err(errors);
        }
        // A field the user cannot edit: the record's error, as Salesforce words it.
        if let Some(f) = body
            .as_object()
            .and_then(|o| o.keys().find(|k| !self.editable(k)))
        {
            return Err(json!([{"statusCode": "INVALID_FIELD_FOR_INSERT_UPDATE",
                "message": format!("Unable to create/update fields: {f}. Please check the security settings of this field and verify that it is read/write for your profile or permission set."),
                "fields": [f]}]));
        }
        if body.to_string().contains(INVALID_NOTE) {
            return Err(json!([{"statusCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
                               "message": "Notes refused by a validation rule", "fields": ["Description"]}]));
        }
        let Ok(mut all) = self.tasks.lock() else {
            return Err(json!([{"statusCode": "UNKNOWN_EXCEPTION", "message": "lock"}]));
        };
        let entry = all.entry(ext.to_string()).or_insert((Value::Null, 0));
        let created = entry.1 == 0;
        *entry = (body.clone(), entry.1 + 1);
        Ok(created)
    }
}

fn search_records(contacts: &[FakeContact], q: &str) -> Vec<Value> {
    let terms = find_terms(q);
    // Matches come back newest-last, not in the order the query asked for.
    let mut found: Vec<Value> = contacts
        .iter()
        .filter(|c| {
            terms
                .iter()
                .any(|t| c.phone_digits.ends_with(t.as_str()) && t.len() >= 7)
        })
        .map(|c| c.record.clone())
        .collect();
    found.sort_by(|a, b| {
        a["LastModifiedDate"]
            .as_str()
            .cmp(&b["LastModifiedDate"].as_str())
    });
    found
}

/// The `q` parameter of a relative search URL.
fn query_of(url: &str) -> String {
    reqwest::Url::parse(&format!("http://x{url}"))
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "q")
                .map(|(_, v)| v.to_string())
        })
        .unwrap_or_default()
}

pub async fn start_org(contacts: Vec<FakeContact>) -> anyhow::Result<(FakeServer, Org)> {
    let org = Org::default();
    org.set_contacts(contacts);
    let o = org.clone();
    let current = org.sessions.clone();
    let server = FakeServer::start(contract::checked(Vendor::Salesforce, move |req, base| {
        if req.path.starts_with(API_PREFIX) && req.path != API_PREFIX {
            o.requests.fetch_add(1, Ordering::SeqCst);
        }
        let contacts = o.contacts.lock().map(|c| c.clone()).unwrap_or_default();
        let mut r = handle(&o, &contacts, &current, req, base);
        if req.path.starts_with(API_PREFIX) && req.path != API_PREFIX {
            r.headers.push((
                "Sforce-Limit-Info".into(),
                format!("api-usage={}/15000", o.calls()),
            ));
        }
        r
    }))
    .await?;
    Ok((server, org))
}

fn handle(
    org: &Org,
    contacts: &[FakeContact],
    current: &Sessions,
    req: &crate::fakes::http::Request,
    base: &str,
) -> Response {
    {
        if req.path == TOKEN_PATH && req.method == "POST" {
            let form = parse_form(&req.body);
            let get = |k: &str| {
                form.iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            if get("grant_type") != "client_credentials"
                || get("client_id") != CLIENT_ID
                || get("client_secret") != CLIENT_SECRET
            {
                return Response::json(400, &json!({"error": "invalid_client"}));
            }
            return Response::json(
                200,
                &json!({
                "access_token": current.token(), "instance_url": base, "id": format!("{base}/id/00D/005"),
                "token_type": "Bearer", "issued_at": "1795800000000", "signature": "sig", "scope": "api"}),
            );
        }
        if req.path == API_PREFIX && req.method == "GET" {
            // The versions list: what the health probe reads.
            return Response::json(
                200,
                &json!([{"version": "61.0", "url": "/services/data/v61.0"}]),
            );
        }
        if req.path.starts_with(API_PREFIX) && req.path.ends_with("/search/") {
            if req.header("authorization") != Some(&format!("Bearer {}", current.token())) {
                return Response::json(401, &json!([{"errorCode": "INVALID_SESSION_ID"}]));
            }
            org.api_calls.fetch_add(1, Ordering::SeqCst);
            let found = search_records(contacts, req.param("q").unwrap_or_default());
            return Response::json(200, &json!({"searchRecords": found}));
        }
        if let Some(r) = describe(org, current, req) {
            return r;
        }
        if let Some(r) = writes(org, contacts, current, req) {
            return r;
        }
        Response::json(404, &json!([{"errorCode": "NOT_FOUND"}]))
    }
}

/// `GET …/sobjects/Task/describe` ("Get Field and Other Metadata for an Object"): the
/// fields the org's Task has, the external id among them (External ID, Unique), all
/// creatable and editable by the integration user unless taken away (`revoke_edit`).
fn describe(org: &Org, current: &Sessions, req: &crate::fakes::http::Request) -> Option<Response> {
    let rest = req.path.strip_prefix(API_PREFIX)?;
    let (_version, rest) = rest.split_once('/')?;
    let object = rest.strip_prefix("sobjects/")?.strip_suffix("/describe")?;
    if req.method != "GET" {
        return None;
    }
    if req.header("authorization") != Some(&format!("Bearer {}", current.token())) {
        return Some(Response::json(
            401,
            &json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]),
        ));
    }
    if object != "Task" {
        return Some(Response::json(
            404,
            &json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
        ));
    }
    let fields: Vec<Value> = TASK_FIELDS
        .iter()
        .map(|f| {
            let ext = *f == EXTERNAL_ID_FIELD;
            let edit = org.editable(f);
            json!({"name": f, "type": "string", "externalId": ext,
                   "unique": ext, "createable": edit, "updateable": edit})
        })
        .collect();
    Some(Response::json(
        200,
        &json!({"name": "Task", "createable": true, "updateable": true, "fields": fields}),
    ))
}

/// The write-back's calls: single upsert, Collections upsert, Composite searches.
fn writes(
    org: &Org,
    contacts: &[FakeContact],
    current: &Sessions,
    req: &crate::fakes::http::Request,
) -> Option<Response> {
    let rest = req.path.strip_prefix(API_PREFIX)?;
    let (_version, rest) = rest.split_once('/')?;
    if req.header("authorization") != Some(&format!("Bearer {}", current.token())) {
        return Some(Response::json(
            401,
            &json!([{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]),
        ));
    }
    let calls = org.api_calls.load(Ordering::SeqCst);
    let limit = org.daily_limit.load(Ordering::SeqCst);
    if limit > 0 && calls >= limit {
        return Some(Response::json(
            403,
            &json!([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]),
        ));
    }
    let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
        return Some(Response::json(
            400,
            &json!([{"errorCode": "JSON_PARSER_ERROR", "message": "bad body"}]),
        ));
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let not_found = || {
        Response::json(
            404,
            &json!([{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]),
        )
    };
    match (req.method.as_str(), parts.as_slice()) {
        ("PATCH", ["sobjects", object, field, ext]) => {
            org.api_calls.fetch_add(1, Ordering::SeqCst);
            if *object != "Task" || *field != EXTERNAL_ID_FIELD {
                return Some(not_found());
            }
            if let Some(r) = unknown_field(&body) {
                return Some(r);
            }
            Some(match org.upsert(ext, &body) {
                Ok(true) => Response::json(
                    201,
                    &json!({"id": "00T000000000001", "success": true, "errors": [], "created": true}),
                ),
                Ok(false) => Response {
                    status: 204,
                    headers: vec![],
                    body: String::new(),
                },
                // A single upsert's errors name their code `errorCode`; Collections'
                // per-record errors, `statusCode` ("Status Codes and Error Responses").
                Err(errors) => Response::json(400, &as_request_errors(&errors)),
            })
        }
        ("PATCH", ["composite", "sobjects", object, field]) => {
            org.api_calls.fetch_add(1, Ordering::SeqCst);
            if *object != "Task" || *field != EXTERNAL_ID_FIELD {
                return Some(not_found());
            }
            let records = body["records"].as_array().cloned().unwrap_or_default();
            if records.len() > 200 {
                return Some(Response::json(
                    400,
                    &json!([{"errorCode": "EXCEEDED_ID_LIMIT", "message": "more than 200"}]),
                ));
            }
            if let Some(r) = records.iter().find_map(unknown_field) {
                return Some(r);
            }
            // One external id twice in one request: both refused, neither written.
            let mut seen: BTreeMap<String, u32> = BTreeMap::new();
            for r in &records {
                if let Some(ext) = r[*field].as_str() {
                    *seen.entry(ext.to_string()).or_default() += 1;
                }
            }
            let results: Vec<Value> = records
                .iter()
                .map(|r| {
                    let Some(ext) = r[*field].as_str() else {
                        return json!({"success": false, "errors": [{"statusCode": "MISSING_ARGUMENT", "message": "no external id"}]});
                    };
                    if seen.get(ext).copied().unwrap_or(0) > 1 {
                        return json!({"success": false, "errors": [{"statusCode": "DUPLICATE_VALUE",
                            "message": format!("Duplicate external id specified: {ext}"), "fields": []}]});
                    }
                    let mut fields = r.clone();
                    if let Some(o) = fields.as_object_mut() {
                        o.remove("attributes");
                        o.remove(*field);
                    }
                    match org.upsert(ext, &fields) {
                        Ok(created) => json!({"id": "00T000000000001", "success": true, "errors": [], "created": created}),
                        Err(errors) => json!({"success": false, "errors": errors}),
                    }
                })
                .collect();
            Some(Response::json(200, &json!(results)))
        }
        ("POST", ["composite"]) => {
            org.api_calls.fetch_add(1, Ordering::SeqCst);
            let subs = body["compositeRequest"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            // Composite does not support Search (the guide lists the resources it
            // does); the exact code of the refusal is not documented.
            if subs
                .iter()
                .any(|s| s["url"].as_str().unwrap_or_default().contains("/search"))
            {
                return Some(Response::json(
                    400,
                    &json!([{"errorCode": "INVALID_API_INPUT", "message": "Search is not supported in a composite request"}]),
                ));
            }
            // The fake runs nothing else through Composite: Failsoft sends nothing else.
            Some(Response::json(
                501,
                &json!([{"errorCode": "NOT_IMPLEMENTED", "message": "the fake runs no other composite subrequest"}]),
            ))
        }
        ("POST", ["composite", "batch"]) => {
            let subs = body["batchRequests"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if subs.len() > 25 || subs.is_empty() {
                return Some(Response::json(
                    400,
                    &json!([{"errorCode": "INVALID_BATCH_REQUEST", "message": "a batch takes 1 to 25 subrequests"}]),
                ));
            }
            // Each subrequest counts against the org's allowance.
            org.api_calls.fetch_add(subs.len() as u32, Ordering::SeqCst);
            let results: Vec<Value> = subs
                .iter()
                .map(|s| {
                    let url = s["url"].as_str().unwrap_or_default();
                    let search = url
                        .split_once('/')
                        .is_some_and(|(v, r)| v.starts_with('v') && r.starts_with("search/?"));
                    if s["method"] != "GET" || !search {
                        return json!({"statusCode": 404, "result": [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}]});
                    }
                    let found = search_records(contacts, &query_of(&format!("/{url}")));
                    json!({"statusCode": 200, "result": {"searchRecords": found}})
                })
                .collect();
            let has_errors = results.iter().any(|r| r["statusCode"] != 200);
            Some(Response::json(
                200,
                &json!({"hasErrors": has_errors, "results": results}),
            ))
        }
        _ => None,
    }
}
