//! The backup region's readiness: the health probe logs in to the backup org
//! with its own credentials, finds the overflow flow published and the DIDs routed,
//! every run. A backup that would not take the calls opens `genesys-backup` and pages
//! once, at low urgency, saying why; the board says it too. The probe is built as the
//! function builds it, against moto, a fake backup region and a fake PagerDuty, on an
//! injected clock.

use std::sync::Arc;
use std::time::Duration;

use failsoft::breaker::State;
use failsoft::clock::ManualClock;
use failsoft::health_check::HealthChecker;
use failsoft::service::Services;
use failsoft_testkit::contract::genesys::BACKUP_CLIENT;
use failsoft_testkit::fakes::genesys::{FakeGenesys, DIDS as DID_LIST, IVRS};
use failsoft_testkit::fakes::http::{Fault, Response};
use failsoft_testkit::fakes::pagerduty::FakePagerDuty;
use failsoft_testkit::{create_secret, fresh_table, moto};
use serde_json::json;
use tokio::time::Instant;

const FLOW: &str = "Backup inbound";
const DIDS: &str = "+61290000000,+61290000001";
const START: i64 = 1_800_000_000_000;

struct Rig {
    backup: FakeGenesys,
    pd: FakePagerDuty,
    services: Services,
    clock: Arc<ManualClock>,
    table: String,
    secret: bool,
}

impl Rig {
    async fn new() -> anyhow::Result<Rig> {
        let m = moto()?;
        let (_, table) = fresh_table(&m.url).await?;
        // The backup org's client holds only what the README lists: read-only.
        let backup = FakeGenesys::start_granted(BACKUP_CLIENT).await?;
        backup.set_flow(FLOW, true);
        for d in DIDS.split(',') {
            backup.set_did(d, true);
        }
        let pd = FakePagerDuty::start().await?;
        create_secret(
            &m.url,
            &format!("backup-{table}"),
            &json!({"client_id": "id", "client_secret": "s"}),
        )
        .await?;
        create_secret(
            &m.url,
            &format!("pd-{table}"),
            &json!({"routing_key": "rk"}),
        )
        .await?;
        let clock = Arc::new(ManualClock::new(START));
        let services = failsoft_testkit::services(&m.url, &table, clock.clone()).await;
        Ok(Rig {
            backup,
            pd,
            services,
            clock,
            table,
            secret: true,
        })
    }

    fn probe(&self) -> anyhow::Result<HealthChecker> {
        let url = self.backup.server.url.clone();
        let table = self.table.clone();
        let pd = self.pd.events_url();
        let secret = self.secret;
        let env = move |k: &str| match k {
            "BACKUP_GENESYS_API_URL" => Some(url.clone()),
            "BACKUP_GENESYS_LOGIN_URL" => Some(format!("{url}/oauth/token")),
            "BACKUP_GENESYS_SECRET_ID" => Some(if secret {
                format!("backup-{table}")
            } else {
                "no-such-secret".into()
            }),
            "BACKUP_FLOW_NAME" => Some(FLOW.into()),
            "BACKUP_DIDS" => Some(DIDS.into()),
            "ALERT_SECRET_ID" => Some(format!("pd-{table}")),
            "PAGERDUTY_EVENTS_URL" => Some(pd.clone()),
            // What is tested is the readiness, not the 250 ms store budget: a count
            // missed on a moto loaded by the rest of the suite would shift the counts.
            "BREAKER_GENESYS_BACKUP_STORE_TIMEOUT_MS" => Some("5000".into()),
            _ => None,
        };
        Ok(HealthChecker::build(&self.services, &env)?)
    }

    /// One scheduled run, a minute after the last.
    async fn run(&self, probe: &HealthChecker) -> serde_json::Value {
        self.clock.advance(60_000);
        probe.run(Instant::now() + Duration::from_secs(20)).await
    }

    async fn backup_record(&self) -> anyhow::Result<failsoft::breaker::Record> {
        Ok(self.services.store.load("genesys-backup").await?)
    }

    fn pages(&self) -> Vec<failsoft_testkit::fakes::pagerduty::Incident> {
        self.pd
            .incidents()
            .into_iter()
            .filter(|i| i.dedup_key.starts_with("genesys-backup/"))
            .collect()
    }
}

#[tokio::test]
async fn a_ready_backup_is_checked_every_run_and_says_so() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let probe = rig.probe()?;
    let out = rig.run(&probe).await;
    let dep = out["dependencies"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == "genesys-backup").cloned())
        .unwrap_or_default();
    assert_eq!(dep["healthy"], true, "{out}");
    let r = rig.backup_record().await?;
    assert_eq!(r.state, State::Closed);
    let view = failsoft::overflow::readiness(&r, START + 60_000 + 40_000).unwrap_or_default();
    assert_eq!(view["text"], "Backup region: ready, checked 40 s ago");
    // The backup org's token is kept between runs: one login for three checks.
    rig.run(&probe).await;
    rig.run(&probe).await;
    assert_eq!(rig.backup.server.count("/oauth/token"), 1);
    assert_eq!(rig.backup.server.count("/api/v2/flows"), 3);
    assert!(rig.pages().is_empty());
    // With a read-only client: the DIDs are seen through the IVR configurations. The
    // DID list needs telephony:plugin:all, which this client does not hold, and is
    // never asked.
    assert_eq!(rig.backup.server.count(IVRS), 6, "two DIDs, three runs");
    assert_eq!(rig.backup.server.count(DID_LIST), 0);
    let refused = reqwest::Client::new()
        .get(format!("{}{DID_LIST}", rig.backup.server.url))
        .bearer_auth("gc-token")
        .send()
        .await?;
    assert_eq!(
        refused.status().as_u16(),
        403,
        "the DID list is not read-only"
    );
    Ok(())
}

#[tokio::test]
async fn an_unpublished_flow_pages_once_at_low_urgency_and_the_board_says_why() -> anyhow::Result<()>
{
    let rig = Rig::new().await?;
    let probe = rig.probe()?;
    rig.backup.set_flow(FLOW, false);
    rig.run(&probe).await;
    assert_eq!(
        rig.backup_record().await?.state,
        State::Closed,
        "one failed check"
    );
    rig.run(&probe).await;
    rig.run(&probe).await;
    let r = rig.backup_record().await?;
    assert_eq!(r.state, State::Open);
    let pages = rig.pages();
    assert_eq!(pages.len(), 1, "one page: {pages:?}");
    assert_eq!(pages[0].triggers, 1);
    let payload = &pages[0].trigger["payload"];
    assert_eq!(payload["severity"], "warning");
    let summary = payload["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("flow \"Backup inbound\" is not published in the backup region"),
        "{summary}"
    );
    let view = failsoft::overflow::readiness(&r, START + 4 * 60_000).unwrap_or_default();
    let text = view["text"].as_str().unwrap_or_default();
    assert!(text.starts_with("Backup region: NOT READY"), "{text}");
    assert!(text.contains("not published"), "{text}");

    // Published again: the next runs close it and resolve the page.
    rig.backup.set_flow(FLOW, true);
    rig.run(&probe).await;
    rig.run(&probe).await;
    assert_eq!(rig.backup_record().await?.state, State::Closed);
    let pages = rig.pages();
    assert!(pages[0].resolved, "{pages:?}");
    Ok(())
}

#[tokio::test]
async fn an_unassigned_did_or_a_refused_login_is_not_ready() -> anyhow::Result<()> {
    let rig = Rig::new().await?;
    let probe = rig.probe()?;
    rig.backup.set_did("+61290000001", false);
    rig.run(&probe).await;
    let r = rig.backup_record().await?;
    assert_eq!(r.failures, 1);
    let err = r.last_error.unwrap_or_default();
    assert!(
        err.contains("DID +61290000001 is not routed to a call flow"),
        "{err}"
    );
    rig.backup.set_did("+61290000001", true);
    // A fresh probe (a cold start) must log in: the backup org refuses the client.
    let cold = rig.probe()?;
    rig.backup.server.fault(
        "/oauth/token",
        Fault::Respond(Response::json(401, &json!({"error": "invalid_client"}))),
        None,
    );
    rig.run(&cold).await;
    let r = rig.backup_record().await?;
    assert_eq!(r.state, State::Open, "two failed checks");
    let err = r.last_error.unwrap_or_default();
    assert!(err.contains("backup region login failed"), "{err}");
    Ok(())
}

/// The backup's credentials cannot be read: our fault, not the backup region's. Its
/// breaker does not count it (a configuration fault is logged), so no false page says
/// the backup is broken.
#[tokio::test]
async fn an_unreadable_backup_secret_is_not_blamed_on_the_backup() -> anyhow::Result<()> {
    let mut rig = Rig::new().await?;
    rig.secret = false;
    let probe = rig.probe()?;
    for _ in 0..3 {
        rig.run(&probe).await;
    }
    let r = rig.backup_record().await?;
    assert_eq!((r.state, r.failures), (State::Closed, 0));
    assert_eq!(rig.backup.server.count("/oauth/token"), 0);
    assert!(rig.pages().is_empty());
    Ok(())
}
