//! The queue-metrics Function URL: routes, the status board page and its data. Routing,
//! status codes and headers go through `lambda_http`'s typed request and response.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};

use super::analytics::valid_queue_id;
use super::QueueMetrics;
use crate::breaker::BreakerStore;
use crate::clock::iso8601;

pub const PAGE: &str = include_str!("board.html");
/// At most this many queues in one request (one analytics query).
pub const MAX_QUEUES: usize = 50;

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Body> {
    let mut r = Response::new(Body::Text(body));
    *r.status_mut() = status;
    let h = r.headers_mut();
    for (k, v) in [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(v) {
            h.insert(k, v);
        }
    }
    r
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    respond(status, "application/json", v.to_string())
}

fn ids_from(list: &str) -> Result<Vec<String>, String> {
    let ids: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if ids.is_empty() || ids.len() > MAX_QUEUES {
        return Err(format!("give 1 to {MAX_QUEUES} queue ids"));
    }
    match ids.iter().find(|id| !valid_queue_id(id)) {
        Some(_) => Err("invalid queue id".into()),
        None => Ok(ids),
    }
}

/// The board's data: every breaker and the configured queues, with the first degraded
/// message as the banner.
pub async fn board(
    metrics: &QueueMetrics,
    store: &dyn BreakerStore,
    queue_ids: &[String],
) -> Value {
    // Each read is bounded by the store timeout; all of them by a second.
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    let records = crate::dependency::records(store, until).await;
    let now = metrics.clock.now_ms();
    let actions: Vec<crate::actions::ActionView> = records
        .iter()
        .flat_map(|r| crate::actions::views(r, now))
        .collect();
    // What the outages did to outbound campaigns (absent when the pause is off, or the
    // ledger cannot be read within the second).
    // The last actions done, newest first (the history is read with the ledger).
    let mut done: Vec<crate::actions::Done> = Vec::new();
    if let Some(l) = &metrics.ledger {
        let history = crate::actions::History {
            client: l.client.clone(),
            table: l.table.clone(),
        };
        for r in &records {
            done.extend(history.recent(&r.name, until).await.unwrap_or_default());
        }
        done.sort_by_key(|d| std::cmp::Reverse(d.at_ms));
        done.truncate(10);
    }
    let campaigns: Vec<Value> = match &metrics.ledger {
        Some(l) => l
            .list(until)
            .await
            .map(|es| es.iter().map(|e| e.view()).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let breakers: Vec<Value> = records
        .iter()
            .map(|r| {
                json!({"name": r.name, "state": r.state, "since": (r.since_ms > 0).then(|| iso8601(r.since_ms)), "failures": r.failures,
                       "lastCheck": r.last_check.map(|(at, ok)| format!("{} ({})", iso8601(at), if ok { "healthy" } else { "failed" })),
                       "lastError": r.last_error})
            })
        .collect();
    let queues = if queue_ids.is_empty() {
        vec![]
    } else {
        metrics.get(queue_ids).await
    };
    let banner = queues.iter().find_map(|q| q.degraded_message.clone());
    let writeback = match &metrics.writeback {
        Some(w) => Some(w.status(now, until).await),
        None => None,
    };
    // The regional overflow: the last switch, and whether the backup would take calls.
    let overflow = match &metrics.overflow {
        Some(o) => o.load(until).await.ok().flatten().map(|s| s.view()),
        None => None,
    };
    let backup = records
        .iter()
        .find(|r| r.name == crate::dependency::Dependency::GenesysBackup.name())
        .and_then(|r| crate::overflow::readiness(r, now));
    json!({"breakers": breakers, "actions": actions, "done": done, "campaigns": campaigns,
           "writeback": writeback, "overflow": overflow, "backup": backup,
           "queues": queues, "degradedMessage": banner})
}

/// Answer one Function URL request.
pub async fn handle(
    req: &Request,
    metrics: &QueueMetrics,
    store: &dyn BreakerStore,
    board_ids: &[String],
) -> Response<Body> {
    if req.method() != Method::GET {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "GET only"}),
        );
    }
    match req.uri().path().trim_end_matches('/') {
        "" => respond(StatusCode::OK, "text/html; charset=utf-8", PAGE.to_string()),
        "/board.json" => json_response(StatusCode::OK, &board(metrics, store, board_ids).await),
        "/queues" => {
            let params = req.query_string_parameters();
            match ids_from(params.first("ids").unwrap_or_default()) {
                Ok(ids) => {
                    json_response(StatusCode::OK, &json!({"queues": metrics.get(&ids).await}))
                }
                Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({"error": e})),
            }
        }
        p => match p.strip_prefix("/queues/") {
            Some(id) if valid_queue_id(id) => {
                let v = metrics.get(&[id.to_string()]).await;
                json_response(
                    StatusCode::OK,
                    &serde_json::to_value(v.first()).unwrap_or(Value::Null),
                )
            }
            Some(_) => json_response(
                StatusCode::BAD_REQUEST,
                &json!({"error": "invalid queue id"}),
            ),
            None => json_response(StatusCode::NOT_FOUND, &json!({"error": "not found"})),
        },
    }
}
