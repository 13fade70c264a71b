//! The Salesforce side of a write-back: one Task upserted by its external id
//! (`PATCH /sobjects/<object>/<field>/<conversationId>:<participantId>`), so that a
//! redelivered event updates and never duplicates; and what each answer means for the
//! message: written, poison (never retried), the org's API limit, or a retry.

use serde_json::{json, Map, Value};
use tokio::time::Instant;

use super::event::{AfterCall, Direction, MediaType};
use crate::http::HttpError;

/// Which of the event's values go into which Task field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldMap {
    pub queue: Option<String>,
    pub wrapup: Option<String>,
    pub notes: Option<String>,
    pub duration: Option<String>,
    pub direction: Option<String>,
}

/// A Salesforce API name: a letter, then letters, digits and single underscores
/// (`__c` at the end for a custom field). Nothing else reaches a URL or a body key.
pub fn api_name(s: &str) -> bool {
    let base = s.strip_suffix("__c").unwrap_or(s);
    !base.is_empty()
        && s.len() <= 80
        && base.starts_with(|c: char| c.is_ascii_alphabetic())
        && base.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !base.contains("__")
        && !base.ends_with('_')
}

impl FieldMap {
    /// `queue=CallObject,wrapup=CallDisposition,...`: known keys only, API names only.
    pub fn parse(s: &str) -> Result<FieldMap, String> {
        let mut m = FieldMap::default();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: expected key=Field"))?;
            let v = v.trim();
            if !api_name(v) {
                return Err(format!("{v:?} is not a Salesforce field name"));
            }
            let slot = match k.trim() {
                "queue" => &mut m.queue,
                "wrapup" => &mut m.wrapup,
                "notes" => &mut m.notes,
                "duration" => &mut m.duration,
                "direction" => &mut m.direction,
                other => {
                    return Err(format!(
                        "{other:?}: the keys are queue, wrapup, notes, duration, direction"
                    ))
                }
            };
            *slot = Some(v.to_string());
        }
        Ok(m)
    }
}

/// The Task fields that describe a telephone call: written for calls only.
pub const CALL_FIELDS: [&str; 4] = [
    "CallType",
    "CallDurationInSeconds",
    "CallObject",
    "CallDisposition",
];

/// Where and how a call is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub api_version: String,
    pub object: String,
    pub external_id_field: String,
    pub fields: FieldMap,
}

impl Target {
    /// The upsert's path, below the instance URL.
    pub fn path(&self, call: &AfterCall) -> String {
        format!(
            "/services/data/{}/sobjects/{}/{}/{}",
            self.api_version,
            self.object,
            self.external_id_field,
            call.external_id()
        )
    }

    /// The record: a completed activity of the interaction's own kind, linked to `who`
    /// (the contact found by ANI) when there is one, with the mapped fields. Only a
    /// call is a "Call" Task with call fields; an email is an "Email" Task; anything
    /// else a plain Task (`TaskSubtype` picklist: Task, Email, Call, ...).
    pub fn body(&self, call: &AfterCall, who: Option<&str>) -> Value {
        let mut o = Map::new();
        o.insert(
            "Subject".into(),
            json!(format!(
                "{}: {}",
                call.media.label(),
                call.wrapup_code.as_deref().unwrap_or("no wrap-up")
            )),
        );
        o.insert("Status".into(), json!("Completed"));
        let subtype = match &call.media {
            m if m.is_call() => "Call",
            MediaType::Email => "Email",
            _ => "Task",
        };
        o.insert("TaskSubtype".into(), json!(subtype));
        if let Some(day) = call.activity_date() {
            o.insert("ActivityDate".into(), json!(day));
        }
        if let Some(w) = who {
            o.insert("WhoId".into(), json!(w));
        }
        let f = &self.fields;
        let pairs = [
            (&f.queue, call.queue_id.clone().map(Value::from)),
            (&f.wrapup, call.wrapup_code.clone().map(Value::from)),
            (&f.notes, call.notes.clone().map(Value::from)),
            (&f.duration, call.duration_ms.map(|ms| json!(ms / 1000))),
            // Task.CallType's picklist values are `Inbound` and `Outbound`; an unknown
            // direction is left unset, not guessed.
            (
                &f.direction,
                call.direction.map(|d| match d {
                    Direction::Outbound => json!("Outbound"),
                    Direction::Inbound => json!("Inbound"),
                }),
            ),
        ];
        for (field, value) in pairs {
            if let (Some(field), Some(value)) = (field, value) {
                if !call.media.is_call() && CALL_FIELDS.contains(&field.as_str()) {
                    continue;
                }
                o.insert(field.clone(), value);
            }
        }
        Value::Object(o)
    }
}

/// A write that reached Salesforce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Created,
    Updated,
}

/// A write that did not happen.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// Salesforce refused this record for good (300: several matched; 400: invalid):
    /// to the DLQ, never retried.
    #[error("refused for good: {0}")]
    Poison(String),
    /// The org's API limit is spent (403 `REQUEST_LIMIT_EXCEEDED`).
    #[error("Salesforce API limit reached")]
    Limit,
    /// The token was refused (401): the token cache drops it.
    #[error("token refused")]
    Unauthorized,
    /// Salesforce says our request, or our configuration, is wrong (a request-level
    /// 400 or 404, a missing permission, a field that does not exist): no record is at
    /// fault, so none is poison and Salesforce is not failing. Kept, and paged.
    #[error("our request or configuration is wrong: {0}")]
    Config(String),
    /// Anything else: retried later.
    #[error("Salesforce: {0}")]
    Retry(HttpError),
}

/// What one answer means.
pub fn classify(
    status: u16,
    body: &str,
    retry_after_s: Option<u64>,
) -> Result<Written, WriteError> {
    let errors = || -> String {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .map(|a| {
                a.iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e["errorCode"].as_str().unwrap_or("?"),
                            e["message"]
                                .as_str()
                                .unwrap_or("")
                                .chars()
                                .take(160)
                                .collect::<String>()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_else(|| format!("HTTP {status}"))
    };
    // A success whose body is not Salesforce's is no proof of a write: the upsert is
    // idempotent, so it is retried rather than counted.
    let readable = body.trim().is_empty() || serde_json::from_str::<Value>(body).is_ok();
    match status {
        200 | 201 if !readable => Err(WriteError::Retry(HttpError::Garbage(format!(
            "HTTP {status} with an unreadable body"
        )))),
        201 => Ok(Written::Created),
        200 | 204 => Ok(Written::Updated),
        300 => Err(WriteError::Poison(
            "several records match this external id".into(),
        )),
        400 if configuration_fault(body) => Err(WriteError::Config(errors())),
        400 => Err(WriteError::Poison(errors())),
        // The object, the field or the API version does not exist.
        404 => Err(WriteError::Config(errors())),
        401 => Err(WriteError::Unauthorized),
        403 if body.contains("REQUEST_LIMIT_EXCEEDED") => Err(WriteError::Limit),
        // Refused for want of a permission: the integration user's, not the record's.
        403 => Err(WriteError::Config(errors())),
        _ => Err(WriteError::Retry(HttpError::Status {
            status,
            retry_after_s,
        })),
    }
}

/// Salesforce error codes that say the request is wrong, not the record in it (REST
/// API Developer Guide, "Status Codes and Error Responses"; "If the request isn't well
/// formed, the API returns a 400"): a field, object or type that does not exist, a body
/// or query Salesforce cannot read, or access the integration user lacks.
pub const CONFIG_CODES: [&str; 12] = [
    "INVALID_FIELD",
    "INVALID_FIELD_FOR_INSERT_UPDATE",
    "INVALID_TYPE",
    "NOT_FOUND",
    "JSON_PARSER_ERROR",
    "METHOD_NOT_ALLOWED",
    "MALFORMED_QUERY",
    "MALFORMED_SEARCH",
    "INVALID_SEARCH",
    "INSUFFICIENT_ACCESS",
    "API_DISABLED_FOR_ORG",
    "INVALID_BATCH_REQUEST",
];

/// Whether an error answer (Salesforce's array of `{errorCode|statusCode, message}`)
/// names one of [`CONFIG_CODES`].
pub fn configuration_fault(body: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    let errors = v.as_array().cloned().unwrap_or_else(|| vec![v]);
    errors.iter().any(|e| {
        ["errorCode", "statusCode"]
            .iter()
            .any(|k| e[*k].as_str().is_some_and(|c| CONFIG_CODES.contains(&c)))
    })
}

/// `Sforce-Limit-Info: api-usage=18/15000`: (used, limit).
pub fn api_usage(header: &str) -> Option<(u64, u64)> {
    let usage = header
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("api-usage="))?;
    let (used, limit) = usage.split_once('/')?;
    Some((used.trim().parse().ok()?, limit.trim().parse().ok()?))
}

/// A Salesforce answer: status, body, Retry-After and the API usage it reported.
pub(super) struct Answer {
    pub status: u16,
    pub body: String,
    pub retry_after_s: Option<u64>,
    pub usage: Option<(u64, u64)>,
}

/// Send one Salesforce request and read its whole answer, within `deadline`.
pub(super) async fn send(
    req: reqwest::RequestBuilder,
    deadline: Instant,
) -> Result<Answer, HttpError> {
    let fut = async {
        let resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                HttpError::Timeout
            } else {
                HttpError::Connect(e.without_url().to_string())
            }
        })?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let usage = header("sforce-limit-info").as_deref().and_then(api_usage);
        let retry_after_s = header("retry-after").and_then(|v| v.trim().parse().ok());
        let status = resp.status().as_u16();
        let body = resp
            .text()
            .await
            .map_err(|e| HttpError::Garbage(e.to_string()))?;
        Ok(Answer {
            status,
            body,
            retry_after_s,
            usage,
        })
    };
    tokio::time::timeout_at(deadline, fut)
        .await
        .unwrap_or(Err(HttpError::Timeout))
}

/// Upsert `call` as one record, within `deadline`. Returns the API usage Salesforce
/// reported alongside.
pub async fn upsert(
    http: &reqwest::Client,
    instance_url: &str,
    token: &str,
    target: &Target,
    call: &AfterCall,
    who: Option<&str>,
    deadline: Instant,
) -> (Result<Written, WriteError>, Option<(u64, u64)>) {
    let url = format!(
        "{}{}",
        instance_url.trim_end_matches('/'),
        target.path(call)
    );
    let req = http
        .patch(url)
        .bearer_auth(token)
        .json(&target.body(call, who));
    match send(req, deadline).await {
        Ok(a) => (classify(a.status, &a.body, a.retry_after_s), a.usage),
        Err(e) => (Err(WriteError::Retry(e)), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_api_names_only() {
        for ok in [
            "CallObject",
            "Genesys_Interaction_Id__c",
            "Description",
            "A1_b__c",
        ] {
            assert!(api_name(ok), "{ok}");
        }
        for bad in [
            "",
            "1x",
            "a b",
            "x/../y",
            "Name__c__c",
            "x__y",
            "Desc'",
            "_x",
            "x_",
        ] {
            assert!(!api_name(bad), "{bad:?}");
        }
        assert!(FieldMap::parse("queue=CallObject, notes=Description").is_ok());
        assert!(FieldMap::parse("colour=Description").is_err());
        assert!(FieldMap::parse("notes=Description; DROP").is_err());
    }

    #[test]
    fn each_answer_means_one_thing() {
        assert_eq!(classify(201, "", None), Ok(Written::Created));
        assert_eq!(classify(204, "", None), Ok(Written::Updated));
        assert!(matches!(
            classify(200, "<html>", None),
            Err(WriteError::Retry(HttpError::Garbage(_)))
        ));
        assert!(matches!(
            classify(300, "[]", None),
            Err(WriteError::Poison(_))
        ));
        let invalid =
            r#"[{"message":"Description: data value too large","errorCode":"STRING_TOO_LONG"}]"#;
        assert_eq!(
            classify(400, invalid, None),
            Err(WriteError::Poison(
                "STRING_TOO_LONG: Description: data value too large".into()
            ))
        );
        let limit =
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert_eq!(classify(403, limit, None), Err(WriteError::Limit));
        assert_eq!(classify(401, "", None), Err(WriteError::Unauthorized));
        assert!(matches!(
            classify(503, "", Some(5)),
            Err(WriteError::Retry(HttpError::Status {
                status: 503,
                retry_after_s: Some(5)
            }))
        ));
        assert!(matches!(
            classify(403, "[]", None),
            Err(WriteError::Config(_))
        ));
        // Our own mistakes are configuration faults, never poison.
        let no_field = r#"[{"message":"No such column 'Colour__c' on sobject of type Task","errorCode":"INVALID_FIELD"}]"#;
        assert!(matches!(
            classify(400, no_field, None),
            Err(WriteError::Config(_))
        ));
        assert!(matches!(
            classify(
                404,
                r#"[{"errorCode":"NOT_FOUND","message":"The requested resource does not exist"}]"#,
                None
            ),
            Err(WriteError::Config(_))
        ));
    }

    #[test]
    fn reads_the_api_usage() {
        assert_eq!(api_usage("api-usage=18/15000"), Some((18, 15_000)));
        assert_eq!(
            api_usage("per-app-api-usage=2/250(appName=x), api-usage=7/100"),
            Some((7, 100))
        );
        assert_eq!(api_usage("nonsense"), None);
    }
}
