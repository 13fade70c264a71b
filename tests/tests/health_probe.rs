//! The health probe and alerting, with moto, a fake CRM and a fake PagerDuty. Time is
//! injected: recovery timeouts and reminder intervals pass without waiting.

use std::sync::Arc;
use std::time::Duration;

use failsoft::actions::Executor;
use failsoft::alert::{PagerDuty, Runbooks, DEFAULT_BACKOFF_MS};
use failsoft::breaker::{CallError, Event, Policy, State, TripPolicy};
use failsoft::health_check::{Check, HealthChecker, Target};
use failsoft::secrets::{SecretCache, SecretsManager};
use failsoft::token::{DynamoTokenStore, Provider, TokenCache, TokenSettings};
use failsoft_testkit::fakes::http::{Fault, Response};
use failsoft_testkit::fakes::salesforce::API_PREFIX;
use failsoft_testkit::{sdk_config, Down, World};
use serde_json::{json, Value};
use tokio::time::Instant;

async fn world() -> anyhow::Result<World> {
    World::builder().build().await
}

fn crm_policy(threshold: u32) -> Policy {
    Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold },
        ..Policy::default()
    }
}

/// The health probe's pieces, built from a world as the function builds them.
trait Probe {
    async fn prober(&self, threshold: u32) -> HealthChecker;
    async fn prober_with_secret(&self, threshold: u32, crm_secret: &str) -> HealthChecker;
    async fn executor(&self, secrets: Arc<SecretCache>, role: &str) -> Executor;
    fn pagerduty(&self, secrets: Arc<SecretCache>) -> PagerDuty;
    fn events(&self) -> Vec<(String, String)>;
}

impl Probe for World {
    /// One health-probe instance (its own clients), probing the CRM API.
    async fn prober(&self, threshold: u32) -> HealthChecker {
        self.prober_with_secret(threshold, &format!("crm-{}", self.table))
            .await
    }

    /// The same, reading the CRM credentials from secret `crm_secret`.
    async fn prober_with_secret(&self, threshold: u32, crm_secret: &str) -> HealthChecker {
        let conf = sdk_config(&self.url).await;
        let secrets = Arc::new(SecretCache::new(Arc::new(SecretsManager(
            aws_sdk_secretsmanager::Client::new(&conf),
        ))));
        let tokens = Arc::new(TokenCache::new(
            Provider::Salesforce {
                secret_id: crm_secret.to_string(),
                lifetime_ms: 3_600_000,
            },
            Arc::new(DynamoTokenStore::new(
                aws_sdk_dynamodb::Client::new(&conf),
                &self.table,
            )),
            self.breaker("crm-auth", crm_policy(3)).await,
            reqwest::Client::new(),
            secrets.clone(),
            self.clock.clone(),
            TokenSettings::default(),
        ));
        HealthChecker {
            targets: vec![Target {
                breaker: self.breaker("crm", crm_policy(threshold)).await,
                check: Check::Crm {
                    tokens,
                    path: API_PREFIX.into(),
                },
            }],
            store: self.store().await,
            http: reqwest::Client::new(),
            actions: self.executor(secrets, "probe").await,
            clock: self.clock.clone(),
            timeout: Duration::from_secs(2),
            reminder_ms: 3_600_000,
        }
    }

    /// An outage-actions executor with its own claim owner, paging through the fake.
    async fn executor(&self, secrets: Arc<SecretCache>, role: &str) -> Executor {
        Executor {
            store: self.store().await,
            pager: Some(self.pagerduty(secrets)),
            campaigns: None,
            overflow: None,
            history: None,
            clock: self.clock.clone(),
            owner: format!("{role}-{:x}", rand::random::<u64>()),
        }
    }

    fn pagerduty(&self, secrets: Arc<SecretCache>) -> PagerDuty {
        PagerDuty {
            http: reqwest::Client::new(),
            url: self.pd.events_url(),
            secrets,
            secret_id: format!("pd-{}", self.table),
            runbooks: Runbooks {
                base_url: "https://runbooks.example/failsoft".into(),
            },
            backoff_ms: DEFAULT_BACKOFF_MS,
        }
    }

    /// Events PagerDuty received: (event_action, dedup_key).
    fn events(&self) -> Vec<(String, String)> {
        self.pd
            .server
            .requests()
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .map(|v| {
                (
                    v["event_action"].as_str().unwrap_or("").to_string(),
                    v["dedup_key"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(20)
}

fn crm_row(out: &Value) -> Value {
    out["dependencies"]
        .as_array()
        .and_then(|d| d.iter().find(|x| x["name"] == "crm").cloned())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_probe_alone_closes_the_breaker_after_recovery() -> anyhow::Result<()> {
    let w = world().await?;
    let p = w.prober(5).await;
    // 2 AM maintenance: the CRM fails; only the probe is running.
    w.sf.fault(API_PREFIX, Fault::Status(503), None);
    let mut transitions = Vec::new();
    for _ in 0..5 {
        let out = p.run(deadline()).await;
        assert_eq!(crm_row(&out)["healthy"], false);
        transitions.push(crm_row(&out)["transition"].clone());
        w.clock.advance(60_000);
    }
    assert_eq!(
        transitions.last(),
        Some(&json!("CLOSED->OPEN")),
        "{transitions:?}"
    );
    assert_eq!(
        w.events().len(),
        1,
        "the trigger goes out in the run that opened it"
    );

    // Still down: the breaker goes HALF_OPEN on schedule, its probe fails, it reopens.
    let out = p.run(deadline()).await;
    assert_eq!(
        (
            crm_row(&out)["state"].as_str(),
            crm_row(&out)["transition"].as_str()
        ),
        (Some("OPEN"), Some("OPEN->OPEN"))
    );

    // 4 AM: the CRM is back. No call arrives; the probe runs every minute.
    w.sf.clear_faults();
    w.clock.advance(60_000);
    let out = p.run(deadline()).await;
    let row = crm_row(&out);
    assert_eq!(
        (row["healthy"].as_bool(), row["state"].as_str()),
        (Some(true), Some("CLOSED")),
        "{out}"
    );
    assert_eq!(row["transition"], "OPEN->CLOSED");
    assert_eq!(out["alerts"], json!({"sent": 1, "pending": 0}));
    for _ in 0..3 {
        w.clock.advance(60_000);
        let out = p.run(deadline()).await;
        assert_eq!(crm_row(&out)["transition"], Value::Null);
    }
    let ev = w.events();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!((ev[0].0.as_str(), ev[1].0.as_str()), ("trigger", "resolve"));
    assert_eq!(ev[0].1, ev[1].1, "one dedup_key per episode");
    let trigger: Value = serde_json::from_str(&w.pd.server.requests()[0].body)?;
    let runbook = "https://runbooks.example/failsoft/crm-outage.md";
    assert_eq!(trigger["payload"]["custom_details"]["runbook"], runbook);
    assert_eq!(trigger["links"][0]["href"], runbook);
    Ok(())
}

/// Finding: with the CRM down and its secret missing, the health check took `crm`
/// OPEN → HALF_OPEN → CLOSED while reporting it unhealthy, and PagerDuty got a resolve.
/// A check that never reached the CRM (no token) must count for nothing.
#[tokio::test]
async fn a_check_that_never_reached_the_crm_never_closes_its_breaker() -> anyhow::Result<()> {
    let w = world().await?;
    let p = w.prober_with_secret(5, "no-such-secret").await;
    let lookup = w.breaker("crm", crm_policy(5)).await;
    for _ in 0..5 {
        let _: Result<(), CallError<Down>> = lookup
            .call(deadline(), deadline(), || async { Err(Down("503".into())) })
            .await;
    }
    p.deliver_all(deadline()).await;
    assert_eq!(w.events().len(), 1, "the trigger");
    for _ in 0..4 {
        w.clock.advance(60_000);
        let out = p.run(deadline()).await;
        let row = crm_row(&out);
        assert_eq!(row["healthy"], false, "{out}");
        assert_ne!(row["state"], "CLOSED", "{out}");
    }
    let rec = w.store().await.load("crm").await?;
    assert_eq!((rec.state, rec.successes), (State::HalfOpen, 0));
    let of = |prefix: &str| {
        w.events()
            .into_iter()
            .filter(|(_, k)| k.starts_with(prefix))
            .count()
    };
    assert_eq!(of("crm/"), 1, "no resolve: {:?}", w.events());
    // The missing secret is a configuration fault: paged once, as its own incident.
    assert_eq!(of("crm-auth/config"), 1, "{:?}", w.events());
    Ok(())
}

/// PagerDuty refuses twice and takes the third try, all within one run (it is retried
/// within the invocation); then refuses three times (a run's tries) and takes the next
/// run's: each alert reaches it once, and nothing is sent again after it was accepted.
#[tokio::test]
async fn a_flapping_pagerduty_gets_the_alert_exactly_once() -> anyhow::Result<()> {
    let w = world().await?;
    let p = w.prober(1).await;
    w.pd.server.fault("/", Fault::Status(500), Some(2));
    w.sf.fault(API_PREFIX, Fault::Status(503), None);
    let out = p.run(deadline()).await; // opens; 500, 500, then accepted
    assert_eq!(out["alerts"], json!({"sent": 1, "pending": 0}), "{out}");
    assert_eq!(
        w.pd.server.requests().len(),
        3,
        "2 refused and 1 accepted, in one run"
    );
    // The CRM recovers: the resolve meets three refusals (one run's tries), then the
    // next run's try is taken.
    w.sf.clear_faults();
    w.pd.server.fault("/", Fault::Status(500), Some(3));
    let resolves = || w.events().iter().filter(|(a, _)| a == "resolve").count();
    for _ in 0..6 {
        if resolves() >= 4 {
            break;
        }
        w.clock.advance(60_000);
        p.run(deadline()).await;
    }
    assert_eq!(
        resolves(),
        4,
        "3 refused in one run, 1 taken: {:?}",
        w.events()
    );
    let sent = w.pd.server.requests().len();
    for _ in 0..2 {
        w.clock.advance(60_000);
        p.run(deadline()).await;
    }
    assert_eq!(
        w.pd.server.requests().len(),
        sent,
        "nothing sent again after it was accepted"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_probes_and_lookups_at_once_send_one_trigger_per_episode() -> anyhow::Result<()> {
    // 48 actors at once: a moto of their own (see `private_moto`).
    let w = World::builder().private_moto().build().await?;
    let mut probers = Vec::new();
    for _ in 0..16 {
        probers.push(Arc::new(w.prober(5).await));
    }
    let mut lookups = Vec::new();
    for _ in 0..16 {
        lookups.push(Arc::new(w.breaker("crm", crm_policy(5)).await));
    }
    let conf = sdk_config(&w.url).await;
    let secrets = Arc::new(SecretCache::new(Arc::new(SecretsManager(
        aws_sdk_secretsmanager::Client::new(&conf),
    ))));
    let mut executors = Vec::new();
    for i in 0..16 {
        executors.push(Arc::new(
            w.executor(secrets.clone(), &format!("lookup-{i}")).await,
        ));
    }
    w.sf.fault(API_PREFIX, Fault::Status(503), None);
    for episode in 0..2 {
        // Everyone at the same moment: 16 probe runs and 16 failing lookups.
        let mut tasks = Vec::new();
        for p in &probers {
            let p = p.clone();
            tasks.push(tokio::spawn(async move {
                p.run(deadline()).await;
            }));
        }
        for (b, ex) in lookups.iter().zip(&executors) {
            let (b, ex) = (b.clone(), ex.clone());
            tasks.push(tokio::spawn(async move {
                let r: Result<(), CallError<Down>> = b
                    .call(deadline(), deadline(), || async { Err(Down("503".into())) })
                    .await;
                drop(r);
                // A stream delivery for every transition won.
                if !b.take_transitions().is_empty() {
                    let _ = ex.run("crm", deadline()).await;
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        // Whatever is still pending goes out with the next runs, as the probe's minutes
        // would send it (a loaded moto may make a run's 250 ms reads miss): more
        // deliveries must not page twice.
        let triggers = |w: &World| -> Vec<_> {
            w.events()
                .into_iter()
                .filter(|(a, _)| a == "trigger")
                .collect()
        };
        for _ in 0..10 {
            for p in &probers[..3] {
                p.deliver_all(deadline()).await;
            }
            if triggers(&w).len() > episode {
                break;
            }
        }
        for p in &probers[..3] {
            p.deliver_all(deadline()).await;
        }
        let triggers = triggers(&w);
        assert_eq!(
            triggers.len(),
            episode + 1,
            "episode {episode}: {triggers:?}"
        );

        // Recovery: 16 probes at once, past the timeout: one resolve.
        w.sf.clear_faults();
        w.clock.advance(31_000);
        let mut tasks = Vec::new();
        for p in &probers {
            let p = p.clone();
            tasks.push(tokio::spawn(async move { p.run(deadline()).await }));
        }
        for t in tasks {
            t.await?;
        }
        let resolves = |w: &World| {
            w.events()
                .into_iter()
                .filter(|(a, _)| a == "resolve")
                .count()
        };
        for _ in 0..10 {
            for p in &probers[..3] {
                p.deliver_all(deadline()).await;
            }
            if resolves(&w) > episode {
                break;
            }
        }
        let resolves = resolves(&w);
        assert_eq!(resolves, episode + 1, "episode {episode}");
        assert_eq!(w.store().await.load("crm").await?.state, State::Closed);
        w.sf.fault(API_PREFIX, Fault::Status(503), None);
        w.clock.advance(2_000);
    }
    let ev = w.events();
    let keys: std::collections::BTreeSet<_> = ev.iter().map(|(_, k)| k.clone()).collect();
    assert_eq!(keys.len(), 2, "two episodes, two dedup keys: {ev:?}");
    Ok(())
}

#[tokio::test]
async fn a_forced_open_breaker_stays_open_and_reminds() -> anyhow::Result<()> {
    let w = world().await?;
    let p = w.prober(5).await;
    let op = w.breaker("crm", crm_policy(5)).await;
    op.command(Event::ForceOpen {
        by: "maintenance".into(),
        until: None,
    })
    .await?;
    let out = p.run(deadline()).await;
    let row = crm_row(&out);
    assert_eq!(
        (row["state"].as_str(), row["healthy"].as_bool()),
        (Some("FORCED_OPEN"), Some(true)),
        "{out}"
    );
    assert_eq!(
        w.events().len(),
        1,
        "a forced open is an episode of its own"
    );
    for _ in 0..5 {
        w.clock.advance(600_000);
        let out = p.run(deadline()).await;
        assert_eq!(crm_row(&out)["state"], "FORCED_OPEN");
    }
    // 50 minutes: no reminder yet; past the hour: one, on the same dedup_key.
    assert_eq!(w.events().len(), 1);
    w.clock.advance(600_001);
    p.run(deadline()).await;
    p.run(deadline()).await;
    let ev = w.events();
    assert_eq!(ev.len(), 2, "{ev:?}");
    assert_eq!((ev[1].0.as_str(), &ev[1].1), ("trigger", &ev[0].1));
    op.command(Event::Release {
        by: "maintenance".into(),
    })
    .await?;
    p.run(deadline()).await;
    assert_eq!(
        w.events().last().map(|e| e.0.clone()),
        Some("resolve".into())
    );
    Ok(())
}

/// Finding 5: after 30 flaps with PagerDuty down, its return replayed 30 triggers and 30
/// resolves for episodes long over. Now episodes whose trigger could not get through are
/// folded, in the real conditional writes, into one low-urgency summary.
#[tokio::test]
async fn thirty_flaps_while_paging_is_down_become_one_summary() -> anyhow::Result<()> {
    let w = world().await?;
    let p = w.prober(1).await;
    w.pd.server.fault("/", Fault::Status(503), None);
    for _ in 0..30 {
        w.sf.fault(API_PREFIX, Fault::Status(503), None);
        let out = p.run(deadline()).await;
        assert_eq!(crm_row(&out)["state"], "OPEN", "{out}");
        w.sf.clear_faults();
        w.clock.advance(60_000);
        let out = p.run(deadline()).await;
        assert_eq!(crm_row(&out)["state"], "CLOSED", "{out}");
        w.clock.advance(60_000);
    }
    let rec = w.store().await.load("crm").await?;
    assert!(
        rec.outbox.len() <= 6,
        "{:?}",
        rec.outbox.keys().collect::<Vec<_>>()
    );
    let item = failsoft::breaker::item_size(&failsoft::breaker::to_items(&rec).main);
    assert!(item < 8 * 1024, "{item} bytes");
    // PagerDuty is back.
    let before = w.pd.server.requests().len();
    w.pd.server.clear_faults();
    for _ in 0..3 {
        w.clock.advance(600_000);
        p.run(deadline()).await;
    }
    let sent: Vec<Value> = w.pd.server.requests()[before..]
        .iter()
        .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
        .collect();
    assert!(sent.len() <= 3, "replayed {} events: {sent:?}", sent.len());
    let summary = sent
        .iter()
        .find(|v| v["payload"]["class"] == "paging_backlog")
        .cloned()
        .unwrap_or_default();
    assert_eq!(summary["payload"]["severity"], "warning", "{sent:?}");
    assert!(
        summary["payload"]["custom_details"]["undelivered"].as_u64() >= Some(25),
        "{summary}"
    );
    assert!(w.store().await.load("crm").await?.outbox.is_empty());
    Ok(())
}

/// The Genesys region is checked with a documented call (`GET /api/v2/date`, SDK
/// `UtilitiesApi.get_date`: a token, no permission), not the undocumented
/// `/api/v2/health/check` (which the fake, like the public API, does not have). A token
/// the API refuses is the token's fault: `genesys-api` does not count it.
#[tokio::test]
async fn the_region_is_checked_with_a_documented_call_and_the_token() -> anyhow::Result<()> {
    use failsoft_testkit::fakes::genesys::HEALTH_PATH;
    let w = World::builder()
        .var("BREAKER_GENESYS_API_STORE_TIMEOUT_MS", "5000")
        .build()
        .await?;
    let (g, clock, services) = (&w.genesys, &w.clock, &w.services);
    let env = w.env();
    let probe = HealthChecker::build(services, &env)?;
    let run = || async {
        clock.advance(60_000);
        probe.run(Instant::now() + Duration::from_secs(20)).await
    };
    let api = |out: &Value| {
        out["dependencies"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["name"] == "genesys-api").cloned())
            .unwrap_or_default()
    };
    let out = run().await;
    assert_eq!(api(&out)["healthy"], true, "{out}");
    let checks: Vec<_> = g
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/v2/"))
        .collect();
    assert!(!checks.is_empty());
    assert!(checks
        .iter()
        .all(|r| r.path == HEALTH_PATH && r.header("authorization") == Some("Bearer gc-token")));
    // The token refused: not the region's fault.
    g.server.fault(
        HEALTH_PATH,
        Fault::Respond(Response::json(
            401,
            &json!({"message": "expired", "status": 401}),
        )),
        Some(2),
    );
    let out = run().await;
    assert_eq!(api(&out)["healthy"], false);
    let r = services.store.load("genesys-api").await?;
    assert_eq!(
        r.failures, 0,
        "a refused token is not counted against the region"
    );
    // The region failing is.
    g.server.fault(HEALTH_PATH, Fault::Status(503), Some(1));
    run().await;
    assert_eq!(services.store.load("genesys-api").await?.failures, 1);
    Ok(())
}
