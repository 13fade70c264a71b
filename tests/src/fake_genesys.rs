//! A fake Genesys Cloud: the OAuth token endpoint, the health check and queue
//! observations.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::fake_http::{FakeServer, Response};

/// The region's health check, as the health probe calls it by default.
pub const HEALTH_PATH: &str = "/api/v2/health/check";
pub const QUERY: &str = "/api/v2/analytics/queues/observations/query";

/// A fake Genesys: the token endpoint and queue observations (waiting = 3 × n for the
/// n-th queue asked for).
pub async fn fake_genesys() -> anyhow::Result<FakeServer> {
    let queries = Arc::new(AtomicU64::new(0));
    FakeServer::start(move |req, _| {
        if req.path == HEALTH_PATH {
            return Response::json(200, &json!({"status": "OK"}));
        }
        if req.path == "/oauth/token" {
            return Response::json(
                200,
                &json!({"access_token": "gc-token", "token_type": "bearer", "expires_in": 86400}),
            );
        }
        if req.path == QUERY && req.header("authorization") == Some("Bearer gc-token") {
            queries.fetch_add(1, Ordering::SeqCst);
            let body: Value = serde_json::from_str(&req.body).unwrap_or_default();
            let ids: Vec<String> = body["filter"]["predicates"]
                .as_array()
                .map(|p| {
                    p.iter()
                        .filter_map(|x| x["value"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            // Queues this org does not have are absent from the answer.
            let results: Vec<Value> = ids
                .iter()
                .filter(|id| !id.starts_with("unknown-"))
                .enumerate()
                .map(|(i, id)| {
                    json!({"group": {"queueId": id}, "data": [
                    {"metric": "oWaiting", "stats": {"count": 3 * (i + 1)}},
                    {"metric": "oOnQueueUsers", "qualifier": "IDLE", "stats": {"count": 2}},
                    {"metric": "oOnQueueUsers", "qualifier": "INTERACTING", "stats": {"count": 7}},
                    {"metric": "oInteracting", "stats": {"count": 5}}]})
                })
                .collect();
            return Response::json(200, &json!({"results": results}));
        }
        Response::json(401, &json!({"message": "unauthorized"}))
    })
    .await
}
