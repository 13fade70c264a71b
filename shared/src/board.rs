//! The status board and the queue-metrics Function URL: routes, the page and its data.
//! The board gathers what every part shows people (breakers, outage actions, campaigns
//! held off, the write-back's backlog, the overflow and the backup's readiness, queue
//! metrics), so it sits above them all and `queues` stays a leaf. Routing, status codes
//! and headers go through `lambda_http`'s typed request and response.

use lambda_http::http::{header, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};

use std::sync::Arc;

use crate::actions::History;
use crate::breaker::BreakerStore;
use crate::campaign::ledger::Ledger;
use crate::clock::iso8601;
use crate::config::Env;
use crate::overflow::Switches;
use crate::queues::analytics::valid_queue_id;
use crate::queues::{MetricsConfig, QueueMetrics};
use crate::service::{InitError, Services};
use crate::writeback::Watch;

pub const PAGE: &str = include_str!("board.html");
/// At most this many queues in one request (one analytics query).
pub const MAX_QUEUES: usize = 50;

/// What the board reads, built once per function.
pub struct Board {
    pub metrics: Arc<QueueMetrics>,
    pub store: Arc<dyn BreakerStore>,
    /// The queues the board shows (`BOARD_QUEUE_IDS`).
    pub queue_ids: Vec<String>,
    /// The campaign ledger and the history of actions done, when the campaign pause is on.
    pub ledger: Option<(Ledger, History)>,
    /// The write-back's backlog, when its queues are configured.
    pub writeback: Option<Watch>,
    /// The regional overflow's last switch.
    pub overflow: Option<Switches>,
}

impl Board {
    pub fn build(services: &Services, env: &impl Env) -> Result<Board, InitError> {
        let pause_on = crate::campaign::CampaignConfig::from_env(env)?.is_some();
        Ok(Board {
            metrics: Arc::new(QueueMetrics::build(services, env)?),
            store: services.store.clone(),
            queue_ids: MetricsConfig::from_env(env)?.board_queue_ids,
            ledger: pause_on.then(|| (services.ledger(), services.history())),
            writeback: Watch::from_env(services, env).ok(),
            overflow: Some(Switches {
                client: services.dynamo.clone(),
                table: services.table.clone(),
            }),
        })
    }
}

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
pub async fn board(b: &Board) -> Value {
    let (metrics, store, queue_ids) = (&b.metrics, b.store.as_ref(), &b.queue_ids);
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
    if let Some((_, history)) = &b.ledger {
        for r in &records {
            done.extend(history.recent(&r.name, until).await.unwrap_or_default());
        }
        done.sort_by_key(|d| std::cmp::Reverse(d.at_ms));
        done.truncate(10);
    }
    let campaigns: Vec<Value> = match &b.ledger {
        Some((l, _)) => l
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
    let writeback = match &b.writeback {
        Some(w) => Some(w.status(now, until).await),
        None => None,
    };
    // The regional overflow: the last switch, and whether the backup would take calls.
    let overflow = match &b.overflow {
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
pub async fn handle(req: &Request, b: &Board) -> Response<Body> {
    let metrics = &b.metrics;
    if req.method() != Method::GET {
        return json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": "GET only"}),
        );
    }
    match req.uri().path().trim_end_matches('/') {
        "" => respond(StatusCode::OK, "text/html; charset=utf-8", PAGE.to_string()),
        "/board.json" => json_response(StatusCode::OK, &board(b).await),
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
