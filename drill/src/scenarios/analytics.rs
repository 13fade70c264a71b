//! The Genesys analytics API down: the supervisor dashboard degrades honestly.

use std::time::{Duration, Instant};

use failsoft_testkit::fakes::http::{FakeServer, Fault, Response};

use serde_json::{json, Value};

use crate::report::{check, Observation, Scenario};
use crate::stage::{Stage, DEADLINE_MS, SLACK_MS};
use crate::Options;

pub async fn down(opts: &Options) -> anyhow::Result<Scenario> {
    let mut st = Stage::new().await?;
    let api = FakeServer::start(|req, _| {
        if req.path == "/oauth/token" {
            return Response::json(200, &json!({"access_token": "gc", "expires_in": 86400}));
        }
        Response::json(200, &json!({"results": [{"group": {"queueId": "q-sales"}, "data": [{"metric": "oWaiting", "stats": {"count": 7}}]}]}))
    })
    .await?;
    let secret = st.genesys_secret().await?;
    let login = format!("{}/oauth/token", api.url);
    let env = [
        ("GENESYS_SECRET_ID", secret.as_str()),
        ("GENESYS_LOGIN_URL", login.as_str()),
        ("GENESYS_API_URL", api.url.as_str()),
    ];
    let emu = st.emulator(&env, opts).await?;
    let base = format!("http://127.0.0.1:{}/lambda-url/queue-metrics", emu.port);
    let http = reqwest_client()?;
    http.get(format!("{base}/queues/q-sales")).send().await?; // warm: may build
    st.start_clock();
    let get = |path: &'static str| {
        let (http, base, st) = (http.clone(), base.clone(), &st);
        async move {
            let t = Instant::now();
            let v: Value = http
                .get(format!("{base}{path}"))
                .send()
                .await?
                .json()
                .await?;
            let latency_ms = t.elapsed().as_millis() as u64;
            let answer = match v["degradedMessage"].as_str() {
                Some(m) if v["isDegraded"] == true => m.to_string(),
                _ => format!("live, waiting {}", v["interactionsWaiting"]),
            };
            let o = Observation {
                t_ms: st.t_ms(),
                what: format!("queue {}", path.trim_start_matches("/queues/")),
                answer,
                latency_ms,
                dependency: "genesys-analytics".into(),
                breaker: st.state("genesys-analytics").await,
                alerts: st.pd.incidents().len(),
            };
            anyhow::Ok((v, latency_ms, o))
        }
    };
    let (live, l1, o1) = get("/queues/q-sales").await?;
    api.fault("/api/", Fault::Status(503), None);
    let (cached, l2, o2) = get("/queues/q-sales").await?;
    let (none, l3, o3) = get("/queues/q-never-seen").await?;
    let obs = vec![o1, o2, o3];
    let checks = vec![
        check(
            "live data while healthy",
            live["isDegraded"] == false && live["interactionsWaiting"] == 7,
            format!("{live}"),
        ),
        check(
            "cached values with their staleness",
            cached["isDegraded"] == true
                && cached["interactionsWaiting"] == 7
                && cached["cacheAgeSeconds"].is_i64()
                && cached["degradedMessage"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("Analytics API unavailable. Showing data from")),
            format!("{cached}"),
        ),
        check(
            "zeroed values without a cache",
            none["interactionsWaiting"] == 0
                && none["degradedMessage"] == failsoft::queues::NO_DATA,
            format!("{none}"),
        ),
        check(
            "within the deadline",
            [l1, l2, l3].iter().all(|l| *l < DEADLINE_MS + SLACK_MS),
            format!("{l1}, {l2}, {l3} ms"),
        ),
    ];
    Ok(Scenario::new("analytics-down", "Guide: Genesys analytics API slow or down → show last-known values with their staleness, then \"data unavailable\".", checks, obs)
    .with_marks(st.page_marks()))
}

fn reqwest_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(Duration::from_secs(900))
        .build()?)
}
