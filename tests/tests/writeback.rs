//! The write-back's Salesforce adapter against a fake Salesforce over real HTTP: an
//! upsert by external id creates once and updates after (so a redelivered event never
//! duplicates), maps the fields, and reads each answer and fault as what it means.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failsoft::http::HttpError;
use failsoft::writeback::upsert::upsert;
use failsoft::writeback::{AfterCall, FieldMap, Target, WriteError, Written, DEFAULT_FIELD_MAP};
use failsoft_testkit::fakes::http::{FakeServer, Fault, Response};
use serde_json::{json, Value};
use tokio::time::Instant;

const PREFIX: &str = "/services/data/v61.0/sobjects/Task/Genesys_Interaction_Id__c/";

/// A fake Salesforce keeping Tasks by external id, reporting its API usage.
async fn fake() -> anyhow::Result<(FakeServer, Arc<Mutex<BTreeMap<String, Value>>>)> {
    let tasks: Arc<Mutex<BTreeMap<String, Value>>> = Arc::default();
    let t = tasks.clone();
    let server = FakeServer::start(move |req, _| {
        let Some(ext) = req.path.strip_prefix(PREFIX) else {
            return Response::json(
                404,
                &json!([{"errorCode": "NOT_FOUND", "message": "no such path"}]),
            );
        };
        if req.method != "PATCH" || req.header("authorization") != Some("Bearer sf-token") {
            return Response::json(
                401,
                &json!([{"errorCode": "INVALID_SESSION_ID", "message": "no"}]),
            );
        }
        let Ok(body) = serde_json::from_str::<Value>(&req.body) else {
            return Response::json(
                400,
                &json!([{"errorCode": "JSON_PARSER_ERROR", "message": "bad"}]),
            );
        };
        let Ok(mut all) = t.lock() else {
            return Response::json(500, &json!([]));
        };
        let created = all.insert(ext.to_string(), body).is_none();
        let mut r = if created {
            Response::json(
                201,
                &json!({"id": "00T000000000001", "success": true, "created": true}),
            )
        } else {
            Response {
                status: 204,
                headers: vec![],
                body: String::new(),
            }
        };
        r.headers.push((
            "Sforce-Limit-Info".into(),
            format!("api-usage={}/15000", all.len()),
        ));
        r
    })
    .await?;
    Ok((server, tasks))
}

fn target() -> anyhow::Result<Target> {
    Ok(Target {
        api_version: "v61.0".into(),
        object: "Task".into(),
        external_id_field: "Genesys_Interaction_Id__c".into(),
        fields: FieldMap::parse(DEFAULT_FIELD_MAP).map_err(anyhow::Error::msg)?,
    })
}

fn call() -> anyhow::Result<AfterCall> {
    let body = json!({"detail": {"topicName": "v2.detail.events.conversation.c1.acw", "eventBody": {
        "eventTime": 1_795_833_660_000_i64, "conversationId": "c1", "participantId": "p1",
        "mediaType": "VOICE", "direction": "INBOUND", "ani": "tel:+13175550123", "queueId": "q-sales",
        "wrapupCode": "Resolved", "wrapupNotes": "renewal", "wrapupDurationMs": 61000}}});
    Ok(AfterCall::parse(&body.to_string())?)
}

/// What a fault must read as.
type Expected = fn(&WriteError) -> bool;

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

#[tokio::test]
async fn a_redelivered_event_updates_and_never_duplicates() -> anyhow::Result<()> {
    let (sf, tasks) = fake().await?;
    let (http, t, c) = (reqwest::Client::new(), target()?, call()?);
    let (first, usage) = upsert(&http, &sf.url, "sf-token", &t, &c, Some("003A"), deadline()).await;
    assert_eq!(first, Ok(Written::Created));
    assert_eq!(usage, Some((1, 15_000)));
    let (again, _) = upsert(&http, &sf.url, "sf-token", &t, &c, Some("003A"), deadline()).await;
    assert_eq!(again, Ok(Written::Updated));
    let all = tasks.lock().map(|t| t.clone()).unwrap_or_default();
    assert_eq!(all.len(), 1, "one record by external id: {all:?}");
    let task = &all["c1:p1"];
    assert_eq!(task["WhoId"], "003A");
    assert_eq!(task["CallObject"], "q-sales");
    assert_eq!(task["CallDisposition"], "Resolved");
    assert_eq!(task["CallDurationInSeconds"], 61);
    assert_eq!(task["ActivityDate"], "2026-11-28");
    assert_eq!(task["Status"], "Completed");
    Ok(())
}

#[tokio::test]
async fn each_fault_means_what_it_should_and_stays_inside_the_deadline() -> anyhow::Result<()> {
    let (sf, _) = fake().await?;
    let (http, t, c) = (reqwest::Client::new(), target()?, call()?);
    let path = format!("{PREFIX}c1:p1");
    let limit = Response::json(
        403,
        &json!([{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]),
    );
    let several = Response::json(
        300,
        &json!([
            "/services/data/v61.0/sobjects/Task/00T1",
            "/services/data/v61.0/sobjects/Task/00T2"
        ]),
    );
    let cases: Vec<(Fault, Expected)> = vec![
        (Fault::Respond(several), |e| {
            matches!(e, WriteError::Poison(_))
        }),
        (Fault::Respond(limit), |e| matches!(e, WriteError::Limit)),
        (Fault::Status(503), |e| {
            matches!(e, WriteError::Retry(HttpError::Status { status: 503, .. }))
        }),
        (Fault::Garbage, |e| {
            matches!(e, WriteError::Retry(_) | WriteError::Poison(_))
        }),
        (Fault::Reset, |e| matches!(e, WriteError::Retry(_))),
        (Fault::Hang, |e| {
            matches!(e, WriteError::Retry(HttpError::Timeout))
        }),
    ];
    for (fault, expected) in cases {
        let label = format!("{fault:?}");
        sf.fault(&path, fault, Some(1));
        let started = std::time::Instant::now();
        let short = Instant::now() + Duration::from_millis(800);
        let (r, _) = upsert(&http, &sf.url, "sf-token", &t, &c, None, short).await;
        assert!(r.as_ref().err().is_some_and(expected), "{label}: {r:?}");
        assert!(
            started.elapsed() < Duration::from_millis(900),
            "{label}: {:?}",
            started.elapsed()
        );
    }
    let (r, _) = upsert(&http, &sf.url, "expired", &t, &c, None, deadline()).await;
    assert_eq!(r, Err(WriteError::Unauthorized));
    Ok(())
}
