//! queue-metrics with moto and a fake Genesys API: live, degraded with a cache, degraded
//! with none, and the Function URL routes.

use std::sync::Arc;
use std::time::Duration;

use failsoft::board::{self, Board};
use failsoft::breaker::Policy;
use failsoft::queues::store::DynamoMetricsStore;
use failsoft::queues::{QueueMetrics, NO_DATA, UNKNOWN_QUEUE};
use failsoft::token::{DynamoTokenStore, Provider, TokenCache, TokenSettings};
use failsoft_testkit::fakes::genesys::QUERY;
use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::World;
use lambda_http::{Body, Request, Response as UrlResponse};
use serde_json::{json, Value};

/// A world with queue-metrics built in it, on Genesys's fake, and patient store calls.
struct Metrics {
    world: World,
    metrics: Arc<QueueMetrics>,
}

impl std::ops::Deref for Metrics {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl Metrics {
    /// The board as queue-metrics builds it, showing `queue_ids`, with no campaign
    /// ledger, write-back or overflow configured.
    fn board(&self, queue_ids: &[String]) -> Board {
        Board {
            metrics: self.metrics.clone(),
            store: self.services.store.clone(),
            queue_ids: queue_ids.to_vec(),
            ledger: None,
            writeback: None,
            overflow: None,
        }
    }
}

async fn world() -> anyhow::Result<Metrics> {
    let world = World::builder().build().await?;
    let tokens = Arc::new(TokenCache::new(
        Provider::Genesys {
            secret_id: world.var("GENESYS_SECRET_ID"),
            token_url: world.var("GENESYS_LOGIN_URL"),
        },
        Arc::new(DynamoTokenStore::new(world.dynamo().await, &world.table)),
        world.breaker("genesys-auth", Policy::default()).await,
        reqwest::Client::new(),
        world.services.secrets.clone(),
        world.clock.clone(),
        TokenSettings::default(),
    ));
    let metrics = QueueMetrics {
        breaker: world.breaker("genesys-analytics", Policy::default()).await,
        tokens,
        http: reqwest::Client::new(),
        api_url: world.genesys.server.url.clone(),
        store: Arc::new(DynamoMetricsStore {
            client: world.dynamo().await,
            table: world.table.clone(),
        }),
        clock: world.clock.clone(),
        stale_tolerance_ms: 300_000,
        deadline: Duration::from_millis(1_500),
    };
    Ok(Metrics {
        world,
        metrics: Arc::new(metrics),
    })
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn repeated_and_unknown_queues_are_neither_doubled_nor_zeros_marked_live(
) -> anyhow::Result<()> {
    let w = world().await?;
    let v = serde_json::to_value(w.metrics.get(&ids(&["q1", "q1", "unknown-x"])).await)?;
    let rows = v.as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2, "each queue once: {v}");
    let q = w
        .genesys
        .server
        .requests()
        .last()
        .map(|r| r.body.clone())
        .unwrap_or_default();
    let query: Value = serde_json::from_str(&q)?;
    assert_eq!(
        query["filter"]["predicates"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(
        (rows[0]["queueId"].as_str(), rows[0]["isDegraded"].as_bool()),
        (Some("q1"), Some(false))
    );
    assert_eq!(
        (
            rows[1]["isDegraded"].as_bool(),
            rows[1]["degradedMessage"].as_str()
        ),
        (Some(true), Some(UNKNOWN_QUEUE)),
        "a queue the answer lacks is unknown, not zero and live"
    );
    // Only what the answer contained was cached: no caller can create items.
    assert!(w.metrics.store.load("unknown-x").await?.is_none());
    assert!(w.metrics.store.load("q1").await?.is_some());
    Ok(())
}

#[tokio::test]
async fn live_then_cached_then_zeroed() -> anyhow::Result<()> {
    let w = world().await?;
    let live = w.metrics.get(&ids(&["q1", "q2"])).await;
    assert_eq!(
        w.genesys.server.count(QUERY),
        1,
        "several queues, one analytics query"
    );
    let v = serde_json::to_value(&live)?;
    assert_eq!(v[0]["interactionsWaiting"], 3);
    assert_eq!(v[1]["interactionsWaiting"], 6);
    assert_eq!(
        (
            v[0]["agentsAvailable"].as_u64(),
            v[0]["agentsInteracting"].as_u64()
        ),
        // Agents from the user metric (oOnQueueUsers INTERACTING: 7), never the
        // conversation count oInteracting (5) that the board once showed as agents.
        (Some(2), Some(7))
    );
    assert_eq!(v[0]["isDegraded"], false);
    assert!(v[0].get("degradedMessage").is_none());

    // Analytics goes down; 2 minutes later the cached values come back, labelled.
    w.genesys.server.fault(QUERY, Fault::Status(503), None);
    w.clock.advance(120_000);
    let v = serde_json::to_value(w.metrics.get(&ids(&["q1", "q2", "q9"])).await)?;
    assert_eq!(v[0]["interactionsWaiting"], 3);
    assert_eq!(
        (
            v[0]["isDegraded"].as_bool(),
            v[0]["cacheAgeSeconds"].as_i64()
        ),
        (Some(true), Some(120))
    );
    assert_eq!(
        v[0]["degradedMessage"],
        "Analytics API unavailable. Showing data from 2 minutes ago."
    );
    // q9 was never fetched: zeroed, with the no-data message.
    assert_eq!(
        (
            v[2]["interactionsWaiting"].as_u64(),
            v[2]["degradedMessage"].as_str()
        ),
        (Some(0), Some(NO_DATA))
    );

    // Past the stale tolerance (300 s): zeroed too.
    w.clock.advance(181_000);
    let v = serde_json::to_value(w.metrics.get(&ids(&["q1"])).await)?;
    assert_eq!(
        (
            v[0]["interactionsWaiting"].as_u64(),
            v[0]["degradedMessage"].as_str()
        ),
        (Some(0), Some(NO_DATA))
    );
    assert!(v[0].get("cacheAgeSeconds").is_none());
    Ok(())
}

#[tokio::test]
async fn a_hanging_api_still_answers_within_the_deadline() -> anyhow::Result<()> {
    let w = world().await?;
    w.metrics.get(&ids(&["q1"])).await;
    w.genesys.server.fault(QUERY, Fault::Hang, None);
    let started = std::time::Instant::now();
    let v = serde_json::to_value(w.metrics.get(&ids(&["q1"])).await)?;
    assert!(
        started.elapsed() < Duration::from_millis(2_500),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        (
            v[0]["isDegraded"].as_bool(),
            v[0]["interactionsWaiting"].as_u64()
        ),
        (Some(true), Some(3))
    );
    Ok(())
}

/// A Function URL event (payload 2.0), as Lambda delivers it, parsed the way the
/// runtime parses it.
fn url_event(path: &str, query: Option<&str>) -> Request {
    let qs: Value = match query {
        Some(q) => json!({"ids": q}),
        None => json!({}),
    };
    let event = json!({"version": "2.0", "routeKey": "$default", "rawPath": path,
           "rawQueryString": query.map(|q| format!("ids={q}")).unwrap_or_default(),
           "headers": {"host": "abc.lambda-url.us-east-1.on.aws"},
           "queryStringParameters": qs, "isBase64Encoded": false,
           "requestContext": {"accountId": "anonymous", "apiId": "abc", "domainName": "abc.lambda-url.us-east-1.on.aws",
                              "domainPrefix": "abc", "requestId": "r", "routeKey": "$default", "stage": "$default",
                              "time": "28/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
                              "http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                                       "sourceIp": "127.0.0.1", "userAgent": "test"}}});
    lambda_http::request::from_str(&event.to_string()).unwrap_or_default()
}

/// (status, content type, body) of an answer.
fn parts(r: &UrlResponse<Body>) -> (u16, String, String) {
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = match r.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        Body::Empty => String::new(),
    };
    (r.status().as_u16(), ct, body)
}

#[tokio::test]
async fn function_url_routes() -> anyhow::Result<()> {
    let w = world().await?;
    let b = w.board(&ids(&["q1"]));
    let page = board::handle(&url_event("/", None), &b).await;
    let (status, ct, html) = parts(&page);
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert_eq!(
        page.headers()
            .get("x-content-type-options")
            .map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("src="),
        "external assets"
    );
    assert!(!html.contains("innerHTML"), "values must go in as text");

    let one = board::handle(&url_event("/queues/q1", None), &b).await;
    let body: Value = serde_json::from_str(&parts(&one).2)?;
    assert_eq!(body["queueId"], "q1");
    let many = board::handle(&url_event("/queues", Some("q1,q2,q3")), &b).await;
    let body: Value = serde_json::from_str(&parts(&many).2)?;
    assert_eq!(body["queues"].as_array().map(Vec::len), Some(3));
    for bad in [
        url_event("/queues/<script>", None),
        url_event("/queues", Some("q1,a'b")),
        url_event("/queues", None),
    ] {
        let path = bad.uri().to_string();
        assert_eq!(parts(&board::handle(&bad, &b).await).0, 400, "{path}");
    }
    assert_eq!(
        parts(&board::handle(&url_event("/nope", None), &b).await).0,
        404
    );
    let data = board::handle(&url_event("/board.json", None), &b).await;
    let body: Value = serde_json::from_str(&parts(&data).2)?;
    assert_eq!(body["queues"][0]["queueId"], "q1");
    assert_eq!(body["degradedMessage"], Value::Null);
    assert!(body["breakers"].as_array().is_some());
    // A breaker that never moved shows no invented 1970 date.
    let note = failsoft::breaker::Op::NoteHealthCheck {
        at: 1_800_000_000_000,
        healthy: true,
    };
    w.services.store.apply("genesys-api", &note).await?;
    let data = board::handle(&url_event("/board.json", None), &b).await;
    let body: Value = serde_json::from_str(&parts(&data).2)?;
    let row = body["breakers"]
        .as_array()
        .and_then(|b| b.iter().find(|r| r["name"] == "genesys-api").cloned())
        .unwrap_or_default();
    assert_eq!(
        (row["state"].as_str(), &row["since"]),
        (Some("CLOSED"), &Value::Null),
        "{row}"
    );
    Ok(())
}
