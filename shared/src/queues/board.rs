//! The queue-metrics Function URL: routes, the status board page and its data.

use serde_json::{json, Value};

use super::analytics::valid_queue_id;
use super::QueueMetrics;
use crate::breaker::BreakerStore;
use crate::clock::iso8601;

pub const PAGE: &str = include_str!("board.html");
/// At most this many queues in one request (one analytics query).
pub const MAX_QUEUES: usize = 50;

fn respond(status: u16, content_type: &str, body: String) -> Value {
    json!({
        "statusCode": status,
        "headers": {"content-type": content_type, "cache-control": "no-store", "x-content-type-options": "nosniff"},
        "multiValueHeaders": {},
        "cookies": [],
        "isBase64Encoded": false,
        "body": body,
    })
}

fn json_response(status: u16, v: &Value) -> Value {
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
    let breakers: Vec<Value> = match store.list().await {
        Ok(all) => all
            .iter()
            .map(|r| {
                json!({"name": r.name, "state": r.state, "since": iso8601(r.since_ms), "failures": r.failures,
                       "lastProbe": r.last_probe.map(|(at, ok)| format!("{} ({})", iso8601(at), if ok { "healthy" } else { "failed" })),
                       "lastError": r.last_error})
            })
            .collect(),
        Err(_) => vec![],
    };
    let queues = if queue_ids.is_empty() {
        vec![]
    } else {
        metrics.get(queue_ids).await
    };
    let banner = queues.iter().find_map(|q| q.degraded_message.clone());
    json!({"breakers": breakers, "queues": queues, "degradedMessage": banner})
}

/// Answer one Function URL request.
pub async fn handle(
    event: &Value,
    metrics: &QueueMetrics,
    store: &dyn BreakerStore,
    board_ids: &[String],
) -> Value {
    let method = event
        .pointer("/requestContext/http/method")
        .and_then(Value::as_str)
        .unwrap_or("GET");
    let path = event.get("rawPath").and_then(Value::as_str).unwrap_or("/");
    if method != "GET" {
        return json_response(405, &json!({"error": "GET only"}));
    }
    match path.trim_end_matches('/') {
        "" => respond(200, "text/html; charset=utf-8", PAGE.to_string()),
        "/board.json" => json_response(200, &board(metrics, store, board_ids).await),
        "/queues" => {
            let raw = event
                .get("rawQueryString")
                .and_then(Value::as_str)
                .unwrap_or("");
            let from_raw = raw
                .split('&')
                .find_map(|kv| kv.strip_prefix("ids="))
                .map(|v| v.replace("%2C", ","));
            let list = event
                .pointer("/queryStringParameters/ids")
                .and_then(Value::as_str)
                .map(str::to_string)
                .or(from_raw)
                .unwrap_or_default();
            match ids_from(&list) {
                Ok(ids) => json_response(200, &json!({"queues": metrics.get(&ids).await})),
                Err(e) => json_response(400, &json!({"error": e})),
            }
        }
        p => match p.strip_prefix("/queues/") {
            Some(id) if valid_queue_id(id) => {
                let v = metrics.get(&[id.to_string()]).await;
                json_response(200, &serde_json::to_value(v.first()).unwrap_or(Value::Null))
            }
            Some(_) => json_response(400, &json!({"error": "invalid queue id"})),
            None => json_response(404, &json!({"error": "not found"})),
        },
    }
}
