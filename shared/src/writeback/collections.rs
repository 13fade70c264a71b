//! Salesforce calls for a whole batch: the contacts found by ANI through one Composite
//! request per 25 searches, and the Tasks upserted through one sObject Collections
//! request per 200 records. Each counts as one API call, where one call per search and
//! per record would spend the org's daily allowance a hundred times faster.

use serde_json::{json, Value};
use tokio::time::Instant;

use super::event::AfterCall;
use super::upsert::{classify, send, Target, WriteError, Written};
use crate::crm::phone::Digits;
use crate::crm::salesforce::{choose, sosl, SalesforceConfig, Session};
use crate::http::HttpError;

/// Composite takes up to 25 subrequests; Collections up to 200 records.
pub const MAX_SUBREQUESTS: usize = 25;
pub const MAX_RECORDS: usize = 200;

/// What a batch's Salesforce work cost and saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spent {
    pub api_calls: u32,
    pub usage: Option<(u64, u64)>,
}

impl Spent {
    /// One more API call, and the usage Salesforce reported with it, if any.
    pub(super) fn add(&mut self, usage: Option<(u64, u64)>) {
        self.api_calls += 1;
        self.usage = usage.or(self.usage);
    }
}

/// The relative URL of a search, as a Composite subrequest names it.
fn search_url(digits: &Digits, cfg: &SalesforceConfig) -> Result<String, WriteError> {
    let base = format!(
        "http://salesforce/services/data/{}/search/",
        cfg.api_version
    );
    let url = reqwest::Url::parse_with_params(&base, &[("q", sosl(digits, cfg))])
        .map_err(|e| WriteError::Poison(format!("search URL: {e}")))?;
    Ok(format!(
        "{}?{}",
        url.path(),
        url.query().unwrap_or_default()
    ))
}

/// The contact id for each of `numbers` (None: nobody has that number), through
/// Composite requests of 25 searches each.
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
            .enumerate()
            .map(|(i, d)| {
                Ok(json!({"method": "GET", "url": search_url(d, cfg)?, "referenceId": format!("ani{i}")}))
            })
            .collect::<Result<Vec<Value>, WriteError>>()?;
        let url = format!(
            "{}/services/data/{}/composite",
            session.instance_url.trim_end_matches('/'),
            cfg.api_version
        );
        let req = http
            .post(url)
            .bearer_auth(&session.access_token)
            .json(&json!({"allOrNone": false, "compositeRequest": subrequests}));
        let a = send(req, deadline).await.map_err(WriteError::Retry)?;
        spent.add(a.usage);
        if a.status != 200 {
            // Anything but a composite answer is the whole request's fate.
            classify(a.status, &a.body, a.retry_after_s)?;
            return Err(WriteError::Retry(HttpError::Garbage(format!(
                "composite answered {}",
                a.status
            ))));
        }
        let body: Value = serde_json::from_str(&a.body)
            .map_err(|_| WriteError::Retry(HttpError::Garbage("composite body".into())))?;
        let answers = body["compositeResponse"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for i in 0..chunk.len() {
            let reference = format!("ani{i}");
            let sub = answers
                .iter()
                .find(|s| s["referenceId"] == reference.as_str())
                .ok_or_else(|| {
                    WriteError::Retry(HttpError::Garbage(format!("no answer for {reference}")))
                })?;
            let status = sub["httpStatusCode"].as_u64().unwrap_or(0) as u16;
            if status != 200 {
                return Err(WriteError::Retry(HttpError::Status {
                    status,
                    retry_after_s: None,
                }));
            }
            let records = sub["body"]["searchRecords"]
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
    // A locked row or a slow org passes; anything else about this record will not.
    let transient = errors.iter().any(|e| {
        matches!(
            code(e).as_str(),
            "UNABLE_TO_LOCK_ROW" | "REQUEST_RUNNING_TOO_LONG"
        )
    });
    if transient || errors.is_empty() {
        Err(WriteError::Retry(HttpError::Garbage(text)))
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
            classify(a.status, &a.body, a.retry_after_s)?;
            return Err(WriteError::Retry(HttpError::Garbage(format!(
                "collections answered {}",
                a.status
            ))));
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
    fn a_search_url_carries_only_the_encoded_query() {
        let cfg = SalesforceConfig {
            api_version: "v61.0".into(),
            tier_field: crate::crm::salesforce::FieldPath::parse("Account.Tier__c")
                .expect("a field path"),
            tier_map: Default::default(),
        };
        let d = crate::crm::phone::normalise("+1 317 555 0123").expect("a number");
        let url = search_url(&d, &cfg).unwrap_or_default();
        assert!(
            url.starts_with("/services/data/v61.0/search/?q=FIND+%7B"),
            "{url}"
        );
        assert!(!url.contains(' '));
    }
}
