//! Salesforce calls for a whole batch: the contacts found by ANI through one Composite
//! Batch request per 25 searches, and the Tasks upserted through one sObject
//! Collections request per 200 records.
//!
//! Composite (`/composite`) does not take Search subrequests (REST API Developer Guide,
//! "Send Multiple Requests Using Composite": sObject resources, Collections, Query and
//! QueryAll); Composite Batch (`/composite/batch`, "Composite Batch") does, 25 to a
//! request. A batch is one HTTP request, but each of its subrequests counts against the
//! org's API allowance, and is counted so here. A Collections request counts as one.

use serde_json::{json, Value};
use tokio::time::Instant;

use super::event::AfterCall;
use super::upsert::{classify, configuration_fault, send, Target, WriteError, Written};
use crate::crm::phone::Digits;
use crate::crm::salesforce::{choose, sosl, SalesforceConfig, Session};
use crate::http::HttpError;

/// Composite Batch takes up to 25 subrequests; Collections up to 200 records.
pub const MAX_SUBREQUESTS: usize = 25;
pub const MAX_RECORDS: usize = 200;

/// What a batch's Salesforce work cost and saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    /// Against the org's allowance: one per request, one per Composite Batch subrequest.
    pub api_calls: u32,
    /// HTTP requests sent.
    pub requests: u32,
    pub usage: Option<(u64, u64)>,
}

impl Spent {
    /// One more request costing `calls` API calls, and the usage Salesforce reported
    /// with it, if any.
    pub(super) fn add_request(&mut self, calls: u32, usage: Option<(u64, u64)>) {
        self.requests += 1;
        self.api_calls += calls;
        self.usage = usage.or(self.usage);
    }

    /// One more request of one API call.
    pub(super) fn add(&mut self, usage: Option<(u64, u64)>) {
        self.add_request(1, usage);
    }
}

/// A search as a Composite Batch subrequest names it: `vXX.X/search/?q=...`.
fn search_url(digits: &Digits, cfg: &SalesforceConfig) -> Result<String, WriteError> {
    let base = format!("http://salesforce/{}/search/", cfg.api_version);
    let url = reqwest::Url::parse_with_params(&base, &[("q", sosl(digits, cfg))])
        .map_err(|e| WriteError::Config(format!("search URL: {e}")))?;
    Ok(format!(
        "{}?{}",
        url.path().trim_start_matches('/'),
        url.query().unwrap_or_default()
    ))
}

/// A subrequest's error answer as a write error: a search Salesforce cannot read is
/// ours to fix; a refused token the session's; anything else passes.
fn subrequest_error(status: u16, result: &Value) -> WriteError {
    let body = result.to_string();
    match status {
        401 => WriteError::Unauthorized,
        403 if body.contains("REQUEST_LIMIT_EXCEEDED") => WriteError::Limit,
        400 | 403 | 404 => WriteError::Config(format!("search answered {status}: {}", clip(&body))),
        _ if configuration_fault(&body) => {
            WriteError::Config(format!("search answered {status}: {}", clip(&body)))
        }
        _ => WriteError::Retry(HttpError::Status {
            status,
            retry_after_s: None,
        }),
    }
}

/// A whole request's non-200 answer. A request-level 400 or 404 says the request is
/// not well formed, or names what does not exist ("If the request isn't well formed,
/// the API returns a 400 Bad Request"): ours to fix, whatever its code; no record in it
/// is poison.
fn request_error(status: u16, body: &str, retry_after_s: Option<u64>, what: &str) -> WriteError {
    match status {
        400 | 404 => WriteError::Config(format!("{what} answered {status}: {}", clip(body))),
        _ => match classify(status, body, retry_after_s) {
            Err(e @ (WriteError::Unauthorized | WriteError::Limit | WriteError::Config(_))) => e,
            Err(WriteError::Retry(e)) => WriteError::Retry(e),
            _ => WriteError::Retry(HttpError::Garbage(format!("{what} answered {status}"))),
        },
    }
}

fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The contact id for each of `numbers` (None: nobody has that number), through
/// Composite Batch requests of 25 searches each.
pub async fn find_contacts(
    http: &reqwest::Client,
    session: &Session,
    numbers: &[Digits],
    cfg: &SalesforceConfig,
    deadline: Instant,
    spent: &mut Spent,
) -> Result<Vec<Option<String>>, WriteError> {
    let mut out = Vec::with_capacity(numbers.len());
    for chunk in numbers.chunks(MAX_SUBREQUESTS) {
        let subrequests = chunk
            .iter()
            .map(|d| Ok(json!({"method": "GET", "url": search_url(d, cfg)?})))
            .collect::<Result<Vec<Value>, WriteError>>()?;
        let url = format!(
            "{}/services/data/{}/composite/batch",
            session.instance_url.trim_end_matches('/'),
            cfg.api_version
        );
        let req = http
            .post(url)
            .bearer_auth(&session.access_token)
            .json(&json!({"haltOnError": false, "batchRequests": subrequests}));
        let a = send(req, deadline).await.map_err(WriteError::Retry)?;
        spent.add_request(chunk.len() as u32, a.usage);
        if a.status != 200 {
            // Anything but a batch answer is the whole request's fate.
            return Err(request_error(
                a.status,
                &a.body,
                a.retry_after_s,
                "composite batch",
            ));
        }
        let body: Value = serde_json::from_str(&a.body)
            .map_err(|_| WriteError::Retry(HttpError::Garbage("composite batch body".into())))?;
        // One result per subrequest, in the order sent.
        let results = body["results"].as_array().cloned().unwrap_or_default();
        if results.len() != chunk.len() {
            return Err(WriteError::Retry(HttpError::Garbage(format!(
                "{} results for {} searches",
                results.len(),
                chunk.len()
            ))));
        }
        for r in &results {
            let status = r["statusCode"].as_u64().unwrap_or(0) as u16;
            if status != 200 {
                return Err(subrequest_error(status, &r["result"]));
            }
            let records = r["result"]["searchRecords"]
                .as_array()
                .ok_or_else(|| WriteError::Retry(HttpError::Garbage("no searchRecords".into())))?;
            out.push(choose(records, cfg).map(|c| c.id));
        }
    }
    Ok(out)
}

/// What one record's entry in a Collections answer means.
fn record_result(v: &Value) -> Result<Written, WriteError> {
    if v["success"].as_bool() == Some(true) {
        return Ok(if v["created"].as_bool() == Some(true) {
            Written::Created
        } else {
            Written::Updated
        });
    }
    let errors = v["errors"].as_array().cloned().unwrap_or_default();
    let code = |e: &Value| e["statusCode"].as_str().unwrap_or("?").to_string();
    let text = errors
        .iter()
        .map(|e| {
            let msg: String = e["message"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(160)
                .collect();
            format!("{}: {msg}", code(e))
        })
        .collect::<Vec<_>>()
        .join("; ");
    // A locked row or a slow org passes, and so does a duplicate within one request
    // (`DUPLICATE_VALUE`: the batch is de-duplicated before it is sent, so this is the
    // org's word on a request we did not make; sent alone it is written). Anything else
    // about this record will not pass.
    let transient = errors.iter().any(|e| {
        matches!(
            code(e).as_str(),
            "UNABLE_TO_LOCK_ROW" | "REQUEST_RUNNING_TOO_LONG" | "DUPLICATE_VALUE"
        )
    });
    if transient || errors.is_empty() {
        Err(WriteError::Retry(HttpError::Garbage(text)))
    } else if errors
        .iter()
        .any(|e| super::upsert::CONFIG_CODES.contains(&code(e).as_str()))
    {
        Err(WriteError::Config(text))
    } else if errors.iter().any(|e| code(e) == "DUPLICATE_EXTERNAL_ID") {
        Err(WriteError::Poison(
            "several records match this external id".into(),
        ))
    } else {
        Err(WriteError::Poison(text))
    }
}

/// Upsert `records` (each with the contact it links to) by external id, 200 to a
/// request. The outer error is the whole batch's (nothing was written); the inner
/// results are each record's, in order.
pub async fn upsert_all(
    http: &reqwest::Client,
    session: &Session,
    target: &Target,
    records: &[(&AfterCall, Option<String>)],
    deadline: Instant,
    spent: &mut Spent,
) -> Result<Vec<Result<Written, WriteError>>, WriteError> {
    let mut out = Vec::with_capacity(records.len());
    for chunk in records.chunks(MAX_RECORDS) {
        let body: Vec<Value> = chunk
            .iter()
            .map(|(call, who)| {
                let mut r = target.body(call, who.as_deref());
                r["attributes"] = json!({"type": target.object});
                r[target.external_id_field.as_str()] = json!(call.external_id());
                r
            })
            .collect();
        let url = format!(
            "{}/services/data/{}/composite/sobjects/{}/{}",
            session.instance_url.trim_end_matches('/'),
            target.api_version,
            target.object,
            target.external_id_field
        );
        let req = http
            .patch(url)
            .bearer_auth(&session.access_token)
            .json(&json!({"allOrNone": false, "records": body}));
        let a = send(req, deadline).await.map_err(WriteError::Retry)?;
        spent.add(a.usage);
        if a.status != 200 {
            return Err(request_error(
                a.status,
                &a.body,
                a.retry_after_s,
                "collections",
            ));
        }
        let results: Vec<Value> = serde_json::from_str(&a.body)
            .map_err(|_| WriteError::Retry(HttpError::Garbage("collections body".into())))?;
        if results.len() != chunk.len() {
            return Err(WriteError::Retry(HttpError::Garbage(format!(
                "{} results for {} records",
                results.len(),
                chunk.len()
            ))));
        }
        out.extend(results.iter().map(record_result));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_record_result_means_one_thing() {
        assert_eq!(
            record_result(&json!({"id": "00T1", "success": true, "created": true, "errors": []})),
            Ok(Written::Created)
        );
        assert_eq!(
            record_result(&json!({"id": "00T1", "success": true, "created": false, "errors": []})),
            Ok(Written::Updated)
        );
        let invalid = json!({"success": false, "errors": [{"statusCode": "STRING_TOO_LONG", "message": "Description: too long", "fields": ["Description"]}]});
        assert_eq!(
            record_result(&invalid),
            Err(WriteError::Poison(
                "STRING_TOO_LONG: Description: too long".into()
            ))
        );
        let locked = json!({"success": false, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "locked"}]});
        assert!(matches!(record_result(&locked), Err(WriteError::Retry(_))));
        let dup = json!({"success": false, "errors": [{"statusCode": "DUPLICATE_EXTERNAL_ID", "message": "x"}]});
        assert!(matches!(record_result(&dup), Err(WriteError::Poison(_))));
        assert!(matches!(
            record_result(&json!({})),
            Err(WriteError::Retry(_))
        ));
    }

    #[test]
    fn a_field_that_does_not_exist_is_ours_to_fix_and_a_duplicate_passes() {
        let no_field = json!({"success": false, "errors": [{"statusCode": "INVALID_FIELD", "message": "No such column"}]});
        assert!(matches!(
            record_result(&no_field),
            Err(WriteError::Config(_))
        ));
        let dup = json!({"success": false, "errors": [{"statusCode": "DUPLICATE_VALUE", "message": "Duplicate external id specified: c1:p1"}]});
        assert!(matches!(record_result(&dup), Err(WriteError::Retry(_))));
    }

    #[test]
    fn a_search_url_carries_only_the_encoded_query() {
        let cfg = SalesforceConfig {
            api_version: "v61.0".into(),
            tier_field: crate::crm::salesforce::FieldPath::parse("Account.Tier__c")
                .expect("a field path"),
            tier_map: Default::default(),
        };
        let d = crate::crm::phone::normalise("+1 317 555 0123").expect("a number");
        let url = search_url(&d, &cfg).unwrap_or_default();
        // Composite Batch's form: the version, then the resource.
        assert!(url.starts_with("v61.0/search/?q=FIND+%7B"), "{url}");
        assert!(!url.contains(' '));
    }
}
