//! The outage drill: plays the guide's failure scenarios against the real function
//! binaries under the Lambda runtime emulator, with moto and fake dependencies whose
//! faults it controls, and judges each from what it observed.
//!
//! Scenarios so far: `crm-down`, `crm-slow`, `analytics-down`. Not yet: token service
//! down, Genesys region unhealthy, the 2–4 AM maintenance with no calls, PagerDuty
//! flapping (those need simulated time inside the binaries).

pub mod report;

use std::time::{Duration, Instant};

use failsoft::breaker::{BreakerStore, DynamoBreakerStore};
use failsoft_tests::fake_http::{FakeServer, Fault, Response};
use failsoft_tests::fake_salesforce::{
    self, contact, API_PREFIX, CLIENT_ID, CLIENT_SECRET, TOKEN_PATH,
};
use failsoft_tests::{create_secret, fresh_table, moto, Emulator};
use report::{check, Check, Observation, Scenario};
use serde_json::{json, Value};

pub const SCENARIOS: &[&str] = &["crm-down", "crm-slow", "analytics-down"];
const PAT: &str = "tel:+13175550123";
const DEADLINE_MS: u64 = 2_500;
/// What the emulator adds around a function's own deadline.
const SLACK_MS: u64 = 400;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Extra environment for every function: how a test breaks the system on purpose.
    pub extra_env: Vec<(String, String)>,
}

/// moto, a fake Salesforce, a fake PagerDuty, secrets, and a fresh state table.
struct Stage {
    moto_url: String,
    table: String,
    sf: FakeServer,
    pd: FakeServer,
    store: DynamoBreakerStore,
}

impl Stage {
    async fn new() -> anyhow::Result<Stage> {
        let m = moto()?;
        let (client, table) = fresh_table(&m.url).await?;
        let sf = fake_salesforce::start(vec![contact(
            "003PAT",
            "Pat Platinum",
            "3175550123",
            "2026-06-01T00:00:00.000+0000",
            Some("Platinum"),
        )])
        .await?;
        let pd =
            FakeServer::start(|_, _| Response::json(202, &json!({"status": "success"}))).await?;
        let creds = json!({"token_url": format!("{}{TOKEN_PATH}", sf.url), "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET});
        create_secret(&m.url, &format!("crm-{table}"), &creds).await?;
        create_secret(
            &m.url,
            &format!("pd-{table}"),
            &json!({"routing_key": "drill"}),
        )
        .await?;
        Ok(Stage {
            moto_url: m.url.clone(),
            store: DynamoBreakerStore::new(client, table.clone()),
            table,
            sf,
            pd,
        })
    }

    fn emulator(&self, env: &[(&str, &str)], opts: &Options) -> anyhow::Result<Emulator> {
        let (crm, pd_secret, pd_url) = (
            format!("crm-{}", self.table),
            format!("pd-{}", self.table),
            format!("{}/v2/enqueue", self.pd.url),
        );
        let mut all: Vec<(&str, &str)> = Emulator::aws_env(&self.moto_url, &self.table);
        all.extend([
            ("CRM_SECRET_ID", crm.as_str()),
            ("ALERT_SECRET_ID", pd_secret.as_str()),
            ("PAGERDUTY_EVENTS_URL", pd_url.as_str()),
            ("CRM_TIER_MAP", "Platinum=vip"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "3600"),
            ("RUST_LOG", "warn"),
        ]);
        all.extend(env.iter().copied());
        all.extend(opts.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Emulator::start(&all)
    }

    async fn state(&self, name: &str) -> String {
        self.store
            .load(name)
            .await
            .map(|r| r.state.to_string())
            .unwrap_or_else(|e| format!("unknown ({e})"))
    }

    fn triggers(&self) -> usize {
        self.pd
            .requests()
            .iter()
            .filter(|r| r.body.contains("\"trigger\""))
            .count()
    }

    /// Invoke crm-lookup `n` times, observing answer, latency, breaker state and alerts.
    async fn calls(
        &self,
        emu: &Emulator,
        n: usize,
        started: Instant,
        crm_calls: &mut Vec<usize>,
    ) -> anyhow::Result<Vec<(Observation, Value)>> {
        let mut out = Vec::new();
        for _ in 0..n {
            let t = Instant::now();
            let v = emu.invoke("crm-lookup", &json!({"ani": PAT})).await?;
            let latency_ms = t.elapsed().as_millis() as u64;
            let answer = if v["found"] == true {
                format!("found {}", v["customerName"].as_str().unwrap_or(""))
            } else {
                format!("fallback {}", v["degradedReason"].as_str().unwrap_or(""))
            };
            out.push((
                Observation {
                    t_ms: started.elapsed().as_millis() as u64,
                    what: "crm-lookup".into(),
                    answer,
                    latency_ms,
                    breaker: self.state("crm").await,
                    alerts: self.triggers(),
                },
                v,
            ));
            crm_calls.push(self.sf.count(API_PREFIX));
        }
        Ok(out)
    }
}

fn within_deadline(obs: &[(Observation, Value)]) -> Check {
    let worst = obs.iter().map(|(o, _)| o.latency_ms).max().unwrap_or(0);
    check(
        "no dead air",
        worst < DEADLINE_MS + SLACK_MS,
        format!("slowest answer {worst} ms (deadline {DEADLINE_MS} ms + {SLACK_MS} ms emulator)"),
    )
}

/// After the breaker opened, the CRM got no more calls.
fn spared(obs: &[(Observation, Value)], crm_calls: &[usize]) -> Check {
    match obs.iter().position(|(o, _)| o.breaker == "OPEN") {
        Some(i) => {
            let (at, end) = (crm_calls[i], crm_calls.last().copied().unwrap_or(0));
            check(
                "CRM spared once open",
                end == at,
                format!("{} CRM calls after the breaker opened", end - at),
            )
        }
        None => check("CRM spared once open", false, "the breaker never opened"),
    }
}

async fn crm_down(opts: &Options) -> anyhow::Result<Scenario> {
    let st = Stage::new().await?;
    st.sf.fault(API_PREFIX, Fault::Status(503), None);
    let emu = st.emulator(&[], opts)?;
    emu.invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?; // warm: may build
    let started = Instant::now();
    let mut crm_calls = Vec::new();
    let obs = st.calls(&emu, 10, started, &mut crm_calls).await?;
    let fallback = obs.iter().all(|(_, v)| {
        v["customerName"] == "Unknown"
            && v["accountTier"] == "standard"
            && v["dataActionFailed"] == true
            && v["found"] == false
    });
    let opened = obs.iter().any(|(o, _)| o.breaker == "OPEN");
    let checks = vec![
        within_deadline(&obs),
        check(
            "calls route without CRM context",
            fallback,
            "every answer: Unknown, standard, dataActionFailed",
        ),
        check(
            "breaker opened",
            opened,
            format!("final state {}", st.state("crm").await),
        ),
        spared(&obs, &crm_calls),
        check(
            "on-call paged once",
            st.triggers() == 1,
            format!("{} PagerDuty triggers", st.triggers()),
        ),
    ];
    Ok(Scenario::new(
        "crm-down",
        "Guide: CRM API down → route to an agent without CRM context; page the on-call engineer.",
        checks,
        obs.into_iter().map(|(o, _)| o).collect(),
    ))
}

async fn crm_slow(opts: &Options) -> anyhow::Result<Scenario> {
    let st = Stage::new().await?;
    st.sf
        .fault(API_PREFIX, Fault::Slow(Duration::from_millis(1_200)), None);
    let emu = st.emulator(&[("BREAKER_CRM_SLOW_CALL_MS", "800")], opts)?;
    emu.invoke("crm-lookup", &json!({"ani": "anonymous"}))
        .await?;
    let started = Instant::now();
    let mut crm_calls = Vec::new();
    let obs = st.calls(&emu, 9, started, &mut crm_calls).await?;
    let last_error = st
        .store
        .load("crm")
        .await
        .ok()
        .and_then(|r| r.last_error)
        .unwrap_or_default();
    let open_fast = obs
        .iter()
        .filter(|(o, _)| o.answer == "fallback circuit_open")
        .all(|(o, _)| o.latency_ms < 200);
    let checks = vec![
        within_deadline(&obs),
        check(
            "breaker opens on slow calls",
            last_error.contains("slow call") && obs.iter().any(|(o, _)| o.breaker == "OPEN"),
            format!("last error: {last_error}"),
        ),
        check(
            "open answers are immediate",
            open_fast && obs.iter().any(|(o, _)| o.answer == "fallback circuit_open"),
            "circuit_open answers under 200 ms",
        ),
        spared(&obs, &crm_calls),
    ];
    Ok(Scenario::new("crm-slow", "Guide: a slow CRM makes Data Actions pile up → every answer within the deadline, and the breaker opens on slow calls.", checks, obs.into_iter().map(|(o, _)| o).collect()))
}

async fn analytics_down(opts: &Options) -> anyhow::Result<Scenario> {
    let st = Stage::new().await?;
    let api = FakeServer::start(|req, _| {
        if req.path == "/oauth/token" {
            return Response::json(200, &json!({"access_token": "gc", "expires_in": 86400}));
        }
        Response::json(200, &json!({"results": [{"group": {"queueId": "q-sales"}, "data": [{"metric": "oWaiting", "stats": {"count": 7}}]}]}))
    })
    .await?;
    let secret = format!("gc-{}", st.table);
    create_secret(
        &st.moto_url,
        &secret,
        &json!({"client_id": "id", "client_secret": "s"}),
    )
    .await?;
    let login = format!("{}/oauth/token", api.url);
    let env = [
        ("GENESYS_SECRET_ID", secret.as_str()),
        ("GENESYS_LOGIN_URL", login.as_str()),
        ("GENESYS_API_URL", api.url.as_str()),
    ];
    let emu = st.emulator(&env, opts)?;
    let base = format!("http://127.0.0.1:{}/lambda-url/queue-metrics", emu.port);
    let http = reqwest_client()?;
    http.get(format!("{base}/queues/q-sales")).send().await?; // warm: may build
    let started = Instant::now();
    let mut obs = Vec::new();
    let get = |path: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let t = Instant::now();
            let v: Value = http
                .get(format!("{base}{path}"))
                .send()
                .await?
                .json()
                .await?;
            anyhow::Ok((v, t.elapsed().as_millis() as u64))
        }
    };
    let (live, l1) = get("/queues/q-sales").await?;
    obs.push(Observation {
        t_ms: started.elapsed().as_millis() as u64,
        what: "queue q-sales".into(),
        answer: format!("live, waiting {}", live["interactionsWaiting"]),
        latency_ms: l1,
        breaker: st.state("genesys-analytics").await,
        alerts: 0,
    });
    api.fault("/api/", Fault::Status(503), None);
    let (cached, l2) = get("/queues/q-sales").await?;
    obs.push(Observation {
        t_ms: started.elapsed().as_millis() as u64,
        what: "queue q-sales".into(),
        answer: cached["degradedMessage"].as_str().unwrap_or("").into(),
        latency_ms: l2,
        breaker: st.state("genesys-analytics").await,
        alerts: 0,
    });
    let (none, l3) = get("/queues/q-never-seen").await?;
    obs.push(Observation {
        t_ms: started.elapsed().as_millis() as u64,
        what: "queue q-never-seen".into(),
        answer: none["degradedMessage"].as_str().unwrap_or("").into(),
        latency_ms: l3,
        breaker: st.state("genesys-analytics").await,
        alerts: 0,
    });
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
    Ok(Scenario::new("analytics-down", "Guide: Genesys analytics API slow or down → show last-known values with their staleness, then \"data unavailable\".", checks, obs))
}

fn reqwest_client() -> anyhow::Result<reqwest_shim::Client> {
    Ok(reqwest_shim::Client::builder()
        .timeout(Duration::from_secs(900))
        .build()?)
}

mod reqwest_shim {
    pub use failsoft_tests::reqwest::Client;
}

/// Run the named scenarios (all when `names` is empty), one after another.
pub async fn run(names: &[String], opts: &Options) -> anyhow::Result<Vec<Scenario>> {
    let names: Vec<String> = if names.is_empty() {
        SCENARIOS.iter().map(|s| s.to_string()).collect()
    } else {
        names.to_vec()
    };
    let mut out = Vec::new();
    for n in &names {
        out.push(match n.as_str() {
            "crm-down" => crm_down(opts).await?,
            "crm-slow" => crm_slow(opts).await?,
            "analytics-down" => analytics_down(opts).await?,
            other => anyhow::bail!(
                "unknown scenario {other:?}; known: {}",
                SCENARIOS.join(", ")
            ),
        });
    }
    Ok(out)
}
