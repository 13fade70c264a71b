//! The regional overflow as an outage action: the `genesys-api` breaker's
//! outage enables the emergency group through the outbox, its recovery disables it after
//! the delay, but only if Failsoft enabled it and nobody changed it since; a person's
//! switch is never undone; every switch is claimed, recorded and paged once; a switch
//! the primary region refuses is paged at once for the SBC re-route. The executors are
//! built as the functions build them (`Executor::build`), against moto, a fake Genesys
//! and a fake PagerDuty, on an injected clock.

use std::sync::Arc;
use std::time::Duration;

use failsoft::actions::Executor;
use failsoft::breaker::{Breaker, Op, Record};
use failsoft::clock::Clock;
use failsoft::dependency::Dependency;
use failsoft::overflow::{Mode, Overflow, Request, Switches};
use failsoft::service::Services;
use failsoft_testkit::fakes::genesys::EMERGENCY;
use failsoft_testkit::fakes::http::{FakeServer, Fault, Response};
use failsoft_testkit::{force_open as open, release, World};
use serde_json::json;
use tokio::time::Instant;

const IVRS: [&str; 3] = ["ivr-main", "ivr-sales", "ivr-support"];
const START: i64 = 1_800_000_000_000;
const DELAY_MS: i64 = 600_000;

/// A world whose outage-actions switch the regional overflow (`eg-1`) for the breakers
/// in `OVERFLOW_AUTO_ON`, with the backup region checked ready.
struct Rig {
    world: World,
}

impl std::ops::Deref for Rig {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

impl std::ops::DerefMut for Rig {
    fn deref_mut(&mut self) -> &mut World {
        &mut self.world
    }
}

impl Rig {
    async fn new(auto_on: &str) -> anyhow::Result<Rig> {
        let world = World::builder()
            .clock_at(START)
            .var("OVERFLOW_AUTO_ON", auto_on)
            .var("OVERFLOW_EMERGENCY_GROUP_ID", "eg-1")
            .var("OVERFLOW_RESTORE_DELAY_S", (DELAY_MS / 1000).to_string())
            .var("OVERFLOW_SWITCH_TIMEOUT_S", "5")
            .var("ALERT_BACKOFF_S", "1")
            .build()
            .await?;
        world.genesys.add_group("eg-1", "Regional overflow", &IVRS);
        let rig = Rig { world };
        rig.backup_checked(true).await?;
        Ok(rig)
    }

    /// The health probe's check of the backup region, now: passed or failed.
    async fn backup_checked(&self, healthy: bool) -> anyhow::Result<()> {
        let op = Op::NoteHealthCheck {
            at: self.clock.now_ms(),
            healthy,
        };
        self.services.store.apply("genesys-backup", &op).await?;
        Ok(())
    }

    /// One outage-actions instance, built as the function builds it.
    fn executor(&self, role: &str) -> anyhow::Result<Executor> {
        self.executor_on(&self.services, role)
    }

    /// An executor whose clients are `services` (through a fault front, say).
    fn executor_on(&self, services: &Services, role: &str) -> anyhow::Result<Executor> {
        let mut ex = Executor::build(services, &self.env(), role)?;
        if let Some(o) = ex.overflow.as_mut() {
            // Retries within the budget wait a tenth of the real first backoff.
            o.first_backoff = Duration::from_millis(100);
        }
        Ok(ex)
    }

    /// The world's services, with DynamoDB reached through a fault front: what a test
    /// does to the front, it does to the state table.
    async fn through_front(&self) -> anyhow::Result<(FakeServer, Services)> {
        let front = failsoft_testkit::fakes::aws::front(&self.url).await?;
        let services =
            failsoft_testkit::services(&front.url, &self.services.table, self.clock.clone()).await;
        Ok((front, services))
    }

    fn breaker(&self, d: Dependency) -> anyhow::Result<Breaker> {
        Ok(self.services.breaker(d, &self.env())?)
    }

    /// A person's `failsoft overflow activate|deactivate`, in-process.
    fn operator(&self) -> anyhow::Result<Overflow> {
        let api = Arc::new(failsoft::genesys::GenesysApi::build(
            &self.services,
            &self.env(),
            failsoft::genesys::DEFAULT_PER_MINUTE,
        )?);
        let mut o = Overflow::build(&self.services, &self.env(), &api)?;
        o.first_backoff = Duration::from_millis(100);
        Ok(o)
    }

    async fn record(&self, name: &str) -> anyhow::Result<Record> {
        Ok(self.services.store.load(name).await?)
    }

    async fn last_switch(&self) -> anyhow::Result<Option<failsoft::overflow::Switch>> {
        let s = Switches {
            client: self.services.dynamo.clone(),
            table: self.services.table.clone(),
        };
        Ok(s.load(deadline()).await?)
    }

    fn group_puts(&self) -> usize {
        self.genesys
            .server
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path.starts_with(EMERGENCY))
            .count()
    }

    fn enabled(&self) -> bool {
        self.genesys.group("eg-1")["enabled"] == true
    }

    fn ivrs(&self) -> usize {
        self.genesys.group("eg-1")["emergencyCallFlows"][0]["ivrs"]
            .as_array()
            .map_or(0, Vec::len)
    }

    /// The overflow events PagerDuty received, as (action, severity of the incident's
    /// trigger, dedup key).
    fn overflow_pages(&self) -> Vec<(String, String, String)> {
        let incidents = self.pd.incidents();
        self.pd
            .requests()
            .into_iter()
            .filter(|(_, key)| key.contains("/overflow"))
            .map(|(action, key)| {
                let severity = incidents
                    .iter()
                    .find(|i| i.dedup_key == key)
                    .and_then(|i| {
                        i.trigger["payload"]["severity"]
                            .as_str()
                            .map(str::to_string)
                    })
                    .unwrap_or_default();
                (action, severity, key)
            })
            .collect()
    }
}

/// Alice's `failsoft overflow activate --group <group> --reason <reason>`.
fn alice_enables(group: &str, reason: &str) -> Request {
    Request {
        group: group.into(),
        enabled: true,
        mode: Mode::Manual,
        by: "alice".into(),
        reason: reason.into(),
        breaker: "genesys-api".into(),
        confirm_only: false,
    }
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// One stream delivery, retried as Lambda retries a failed batch (a first read that
/// missed its 250 ms on a loaded moto).
async fn delivered(ex: &Executor, breaker: &str) -> anyhow::Result<()> {
    let mut last = None;
    for _ in 0..3 {
        // On the heap: the run's future is large, and a test thread's stack is 2 MiB.
        match Box::pin(ex.run(breaker, deadline())).await {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow::anyhow!(
        "{breaker}: three deliveries failed: {last:?}"
    ))
}

/// Runs as the stream and the probe would, until nothing is due now. A run whose first
/// read misses its 250 ms on a loaded moto fails as a stream batch would, and the next
/// run is its retry; the assertions that follow judge what was done.
async fn drain(ex: &Executor, breaker: &str) -> anyhow::Result<()> {
    let mut ok = 0;
    for _ in 0..6 {
        if ex.run(breaker, deadline()).await.is_ok() {
            ok += 1;
        }
        if ok == 4 {
            break;
        }
    }
    anyhow::ensure!(ok > 0, "{breaker}: no run could read the breaker");
    Ok(())
}

#[tokio::test]
async fn an_outage_enables_the_group_and_its_recovery_disables_it_after_the_delay(
) -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    open(&api).await?;
    assert!(rig
        .record("genesys-api")
        .await?
        .outbox
        .contains_key("overflow-on"));
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled(), "the outage enabled the group");
    assert_eq!(rig.ivrs(), 3, "every IVR link kept");
    let sw = rig
        .last_switch()
        .await?
        .ok_or_else(|| anyhow::anyhow!("recorded"))?;
    assert_eq!((sw.mode, sw.enabled, sw.ivrs), (Mode::Auto, true, 3));
    assert!(sw.by.contains("genesys-api"), "{sw:?}");
    // One low-urgency info page tells the on-call it happened.
    assert!(
        rig.overflow_pages().contains(&(
            "trigger".into(),
            "info".into(),
            "genesys-api/overflow".into()
        )),
        "{:?}",
        rig.overflow_pages()
    );

    release(&api).await?;
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled(), "not before the restore delay");
    rig.clock.advance(DELAY_MS + 1);
    drain(&ex, "genesys-api").await?;
    assert!(!rig.enabled(), "restored after the delay");
    assert_eq!(rig.ivrs(), 3);
    assert_eq!(rig.group_puts(), 2, "one PUT on, one PUT off");
    let sw = rig
        .last_switch()
        .await?
        .ok_or_else(|| anyhow::anyhow!("recorded"))?;
    assert_eq!((sw.mode, sw.enabled), (Mode::Auto, false));
    // The overflow incident is resolved with the restore.
    let pages = rig.overflow_pages();
    assert_eq!(
        pages.iter().filter(|p| p.0 == "resolve").count(),
        1,
        "{pages:?}"
    );
    assert!(
        rig.record("genesys-api").await?.outbox.is_empty(),
        "every action done"
    );
    Ok(())
}

#[tokio::test]
async fn a_persons_activation_is_never_undone_automatically() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    open(&api).await?;
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled());
    // The on-call takes it over by hand (already enabled: recorded as theirs).
    let r = rig
        .operator()?
        .switch(
            &alice_enables("Regional overflow", "region degraded, staying on backup"),
            "cli-alice",
            deadline(),
        )
        .await?;
    assert!(!r.changed && r.enabled);
    release(&api).await?;
    rig.clock.advance(DELAY_MS + 1);
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled(), "alice's switch stands");
    assert_eq!(rig.group_puts(), 1);
    let sw = rig
        .last_switch()
        .await?
        .ok_or_else(|| anyhow::anyhow!("recorded"))?;
    assert_eq!(
        (sw.mode, sw.by.as_str(), sw.enabled),
        (Mode::Manual, "alice", true)
    );
    assert_eq!(sw.reason, "region degraded, staying on backup");
    // What the restore did is in the action history.
    let done = failsoft::actions::History {
        client: rig.services.dynamo.clone(),
        table: rig.services.table.clone(),
    }
    .recent("genesys-api", deadline())
    .await?;
    assert!(
        done.iter()
            .any(|d| d.action == "restore_overflow" && d.outcome.contains("left as alice")),
        "{done:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_group_changed_since_failsoft_enabled_it_is_left_alone() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    open(&api).await?;
    drain(&ex, "genesys-api").await?;
    // Someone edits the group in Architect meanwhile (off and on again: a new version).
    rig.genesys.person_switches_group("eg-1", false);
    rig.genesys.person_switches_group("eg-1", true);
    release(&api).await?;
    rig.clock.advance(DELAY_MS + 1);
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled(), "left as the person set it");
    assert_eq!(rig.group_puts(), 1);
    let sw = rig
        .last_switch()
        .await?
        .ok_or_else(|| anyhow::anyhow!("recorded"))?;
    assert_eq!(sw.mode, Mode::Left);
    assert!(
        sw.note
            .as_deref()
            .unwrap_or_default()
            .contains("changed by someone"),
        "{sw:?}"
    );
    Ok(())
}

/// Two breakers that both switch (`OVERFLOW_AUTO_ON=genesys-api,genesys-analytics`) open at
/// once, each acted on by eight executors: one PUT, one info page, and the group stays
/// on until the last one recovers. Only the claim on `overflow#switch` keeps it to one
/// page: each breaker's outbox claim covers its own action only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_breakers_switching_at_once_switch_once_and_page_once() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api,genesys-analytics").await?;
    let mut executors = Vec::new();
    for i in 0..16 {
        executors.push(Arc::new(rig.executor(&format!("ex-{i}"))?));
    }
    let api = rig.breaker(Dependency::GenesysApi)?;
    let auth = rig.breaker(Dependency::GenesysAnalytics)?;
    open(&api).await?;
    open(&auth).await?;
    let mut tasks = Vec::new();
    for (i, ex) in executors.iter().enumerate() {
        let ex = ex.clone();
        let name = if i % 2 == 0 {
            "genesys-api"
        } else {
            "genesys-analytics"
        };
        tasks.push(tokio::spawn(async move {
            for _ in 0..5 {
                if ex.run(name, deadline()).await.is_ok() {
                    break;
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    for name in ["genesys-api", "genesys-analytics"] {
        for _ in 0..10 {
            if rig.record(name).await?.outbox.is_empty() {
                break;
            }
            rig.clock.advance(60_000);
            drain(&executors[0], name).await?;
        }
    }
    assert!(rig.enabled());
    assert_eq!(rig.group_puts(), 1, "one PUT");
    let triggers: Vec<_> = rig
        .overflow_pages()
        .into_iter()
        .filter(|p| p.0 == "trigger")
        .collect();
    assert_eq!(triggers.len(), 1, "one info page: {triggers:?}");

    // genesys-analytics recovers first: the overflow stays on while genesys-api is open.
    release(&auth).await?;
    rig.clock.advance(DELAY_MS + 1);
    drain(&executors[1], "genesys-analytics").await?;
    assert!(rig.enabled(), "genesys-api still holds it");
    release(&api).await?;
    rig.clock.advance(DELAY_MS + 1);
    drain(&executors[0], "genesys-api").await?;
    assert!(!rig.enabled(), "the last recovery restores it");
    assert_eq!(rig.group_puts(), 2);
    Ok(())
}

/// A switch under way elsewhere (a person's command, or another breaker's activation on
/// a slow region) holds the claim for the whole of the automatic activation's 5 s
/// attempt. The activation waits its turn: no SBC page for a switch being made, and no
/// failed try counted towards "do it by hand". It used to page "Regional overflow
/// FAILED … Re-route at the carrier/SBC now" (seen as
/// `two_breakers_switching_at_once_switch_once_and_page_once` failing once on a loaded
/// CI run: one executor's switch outlasted the others' budgets).
#[tokio::test]
async fn a_switch_waiting_for_anothers_claim_never_pages_the_sbc_reroute() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let ex = rig.executor("ex")?;
    let switches = Switches {
        client: rig.services.dynamo.clone(),
        table: rig.services.table.clone(),
    };
    let now = rig.clock.now_ms();
    switches
        .claim("cli-alice-1", now, now + 60_000, deadline())
        .await?;
    open(&rig.breaker(Dependency::GenesysApi)?).await?;
    delivered(&ex, "genesys-api").await?;
    assert!(!rig.enabled() && rig.group_puts() == 0, "the claim held");
    let waiting = rig.record("genesys-api").await?;
    assert!(
        !waiting.outbox.contains_key("work-overflow-failed")
            && waiting.outbox.values().all(|a| a.attempts == 0),
        "a wait is neither a failure nor a failed try: {:?}",
        waiting.outbox
    );
    // The other switch ends; the activation's next run makes it, paged once.
    switches.release("cli-alice-1", deadline()).await?;
    rig.clock.advance(60_000);
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled());
    assert_eq!(rig.group_puts(), 1);
    let pages = rig.overflow_pages();
    assert_eq!(
        pages,
        vec![(
            "trigger".to_string(),
            "info".to_string(),
            "genesys-api/overflow".to_string()
        )],
        "the activation's page, and no other"
    );
    Ok(())
}

/// The primary region's API refuses every switch: retried within the budget (5 s),
/// then the on-call is paged at once, critical, with the SBC steps' runbook.
#[tokio::test]
async fn a_switch_the_region_refuses_pages_at_once_for_the_sbc_reroute() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    rig.genesys.server.fault(
        EMERGENCY,
        Fault::Respond(Response::json(503, &json!({"message": "unavailable"}))),
        None,
    );
    open(&api).await?;
    let started = std::time::Instant::now();
    delivered(&ex, "genesys-api").await?;
    let took = started.elapsed();
    assert!(!rig.enabled());
    let tries = rig
        .genesys
        .server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with(EMERGENCY))
        .count();
    assert!(tries >= 3, "retried with backoff: {tries}");
    assert!(took < Duration::from_secs(20), "bounded: {took:?}");
    // The failure page is queued with the attempt, and sent on the next run.
    assert!(rig
        .record("genesys-api")
        .await?
        .outbox
        .contains_key("work-overflow-failed"));
    delivered(&ex, "genesys-api").await?;
    let failed: Vec<_> = rig
        .pd
        .incidents()
        .into_iter()
        .filter(|i| i.dedup_key == "genesys-api/overflow-failed")
        .collect();
    assert_eq!(failed.len(), 1, "one page");
    assert_eq!(failed[0].triggers, 1);
    let payload = &failed[0].trigger["payload"];
    assert_eq!(payload["severity"], "critical");
    assert!(
        payload["summary"]
            .as_str()
            .unwrap_or_default()
            .contains("SBC"),
        "{payload}"
    );
    // The region comes back: the action, retried after its backoff, switches.
    rig.genesys.server.clear_faults();
    rig.clock.advance(120_000);
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled());
    assert_eq!(rig.ivrs(), 3);
    Ok(())
}

#[tokio::test]
async fn an_unknown_group_name_is_refused_and_nothing_is_switched() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let r = rig
        .operator()?
        .switch(
            &alice_enables("Regional overflw", "typo"),
            "cli-alice",
            deadline(),
        )
        .await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.to_string().contains("no emergency group")),
        "{r:?}"
    );
    assert_eq!(rig.group_puts(), 0);
    assert!(rig.last_switch().await?.is_none());
    // And the claim was let go: the next switch goes through.
    let ok = rig
        .operator()?
        .switch(
            &alice_enables("Regional overflow", "drill"),
            "cli-alice-2",
            deadline(),
        )
        .await?;
    assert!(ok.changed && rig.enabled());
    assert!(rig.clock.now_ms() >= START);
    Ok(())
}

/// The automatic activation's PUT lands, and its confirmation is lost: the reads after
/// it answer 503, as a degraded region's do. The retry finds the group enabled at the
/// version its own PUT produced: it is Failsoft's switch, recorded as automatic and
/// paged ACTIVE, and the recovery's restore undoes it after the delay. It used to be
/// recorded as "already enabled by someone else": never paged, never restored.
#[tokio::test]
async fn an_activation_whose_confirmation_is_lost_is_still_paged_and_restored() -> anyhow::Result<()>
{
    let rig = Rig::new("genesys-api").await?;
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    // The switch's reads and its PUT pass; the read after the PUT, and the next, fail.
    rig.genesys.server.faults_in_turn(
        &format!("{EMERGENCY}/eg-1"),
        &[
            Fault::Slow(Duration::ZERO),
            Fault::Slow(Duration::ZERO),
            Fault::Slow(Duration::ZERO),
            Fault::Status(503),
            Fault::Status(503),
        ],
    );
    open(&api).await?;
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled());
    assert_eq!(
        rig.group_puts(),
        1,
        "one PUT: the retry did not switch again"
    );
    let sw = rig
        .last_switch()
        .await?
        .ok_or_else(|| anyhow::anyhow!("recorded"))?;
    assert_eq!((sw.mode, sw.enabled), (Mode::Auto, true), "{sw:?}");
    assert!(
        rig.overflow_pages().contains(&(
            "trigger".into(),
            "info".into(),
            "genesys-api/overflow".into()
        )),
        "the on-call hears of it: {:?}",
        rig.overflow_pages()
    );
    release(&api).await?;
    rig.clock.advance(DELAY_MS + 1);
    drain(&ex, "genesys-api").await?;
    assert!(!rig.enabled(), "restored after the delay");
    Ok(())
}

/// One breaker both pauses the campaigns and switches the overflow (the template's own
/// example). After its recovery the campaigns come back after their own delay (60 s),
/// not after the overflow's restore delay (600 s): the two are separate lanes. They
/// used to share one, and the resume waited for the restore.
#[tokio::test]
async fn the_campaign_resume_does_not_wait_for_the_overflow_restore() -> anyhow::Result<()> {
    use failsoft_testkit::fakes::genesys::VOICE;
    let mut rig = Rig::new("genesys-api").await?;
    rig.set_var("CAMPAIGN_PAUSE_ON", "genesys-api");
    rig.set_var("CAMPAIGN_RESUME_DELAY_S", "60");
    rig.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    open(&api).await?;
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled());
    assert_eq!(rig.genesys.status(VOICE, "renewals"), "off");
    release(&api).await?;
    rig.clock.advance(60_001);
    drain(&ex, "genesys-api").await?;
    assert_eq!(
        rig.genesys.status(VOICE, "renewals"),
        "on",
        "resumed after its own delay"
    );
    assert!(
        rig.enabled(),
        "the overflow waits for its own, longer delay"
    );
    rig.clock.advance(DELAY_MS);
    drain(&ex, "genesys-api").await?;
    assert!(!rig.enabled());
    Ok(())
}

/// The backup region is not proven ready (its last check failed): the outage does not
/// send callers there. The refusal is paged, saying why; once the probe proves the
/// backup ready, the activation waiting for it is made. It used to switch regardless.
#[tokio::test]
async fn an_automatic_overflow_goes_only_to_a_backup_proven_ready() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    rig.backup_checked(false).await?;
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    open(&api).await?;
    drain(&ex, "genesys-api").await?;
    assert!(!rig.enabled(), "not to a backup that failed its check");
    assert_eq!(rig.group_puts(), 0);
    let refused = rig
        .pd
        .incidents()
        .into_iter()
        .find(|i| i.dedup_key == "genesys-api/overflow-refused")
        .ok_or_else(|| anyhow::anyhow!("the refusal is paged"))?;
    let summary = refused.trigger["payload"]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        summary.contains("NOT activated") && summary.contains("last check failed"),
        "{summary}"
    );
    rig.backup_checked(true).await?;
    rig.clock.advance(61_000);
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled(), "made once the backup is proven ready");
    assert!(rig.overflow_pages().contains(&(
        "trigger".into(),
        "info".into(),
        "genesys-api/overflow".into()
    )));
    Ok(())
}

/// Two breakers hold the overflow; the first recovers while the table does not answer
/// for the second: the restore waits for a reading, and leaves the group on while the
/// second is still OPEN. It used to take the unread breaker for recovered and restore.
#[tokio::test]
async fn a_restore_waits_while_the_other_holder_cannot_be_read() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api,genesys-analytics").await?;
    let (front, through_front) = rig.through_front().await?;
    let ex = rig.executor_on(&through_front, "ex")?;
    let (api, analytics) = (
        rig.breaker(Dependency::GenesysApi)?,
        rig.breaker(Dependency::GenesysAnalytics)?,
    );
    open(&api).await?;
    open(&analytics).await?;
    drain(&ex, "genesys-api").await?;
    drain(&ex, "genesys-analytics").await?;
    assert!(rig.enabled());
    release(&api).await?;
    rig.clock.advance(DELAY_MS + 1);
    front.fault_if_body(
        "x-amz-target",
        "DynamoDB_20120810.GetItem",
        "genesys-analytics",
        failsoft_testkit::fakes::aws::internal_error(),
    );
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled(), "not restored on a reading that failed");
    assert_eq!(rig.group_puts(), 1);
    front.clear_faults();
    rig.clock.advance(120_000);
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled(), "genesys-analytics still holds it");
    assert!(
        rig.record("genesys-api").await?.outbox.is_empty(),
        "the restore is done: left on"
    );
    Ok(())
}

/// A person switches the group off and on again just after Failsoft's PUT, before its
/// confirming read: Failsoft records the version its own PUT produced, so the restore
/// sees the person's change and leaves the group as they set it. It used to record the
/// version it read after, take the person's change for its own, and undo it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_switch_right_after_ours_is_not_taken_for_ours() -> anyhow::Result<()> {
    let rig = Arc::new(Rig::new("genesys-api").await?);
    let ex = Arc::new(rig.executor("ex")?);
    let api = rig.breaker(Dependency::GenesysApi)?;
    // The person switches off and on again right after our PUT lands, before the read
    // that confirms it: made by the fake on the PUT itself, not raced in real time.
    rig.genesys
        .person_switches_right_after_the_next_put(&[false, true]);
    open(&api).await?;
    drain(&ex, "genesys-api").await?;
    anyhow::ensure!(rig.group_puts() == 1, "our PUT was made");
    release(&api).await?;
    rig.clock.advance(DELAY_MS + 1);
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled(), "left as the person set it");
    assert_eq!(rig.group_puts(), 1, "never switched off by Failsoft");
    let sw = rig
        .last_switch()
        .await?
        .ok_or_else(|| anyhow::anyhow!("recorded"))?;
    assert_eq!(sw.mode, Mode::Left, "{sw:?}");
    Ok(())
}

/// The activation's PUT lands, its answer and every read after it are lost, and the
/// outage ends before a retry confirms it (the activation, no longer called for, is
/// dropped). The restore finds the group enabled at the version our PUT produced: it
/// is Failsoft's, paged as having been active, and undone. Found by the overflow model:
/// it used to be "left: Failsoft did not enable it", on for good and never paged.
#[tokio::test]
async fn an_activation_lost_to_the_end_of_its_outage_is_paged_and_undone() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    // find, read, then the PUT lands unanswered; every read after it fails.
    rig.genesys.server.faults_in_turn(
        &format!("{EMERGENCY}/eg-1"),
        &[
            Fault::Slow(Duration::ZERO),
            Fault::Slow(Duration::ZERO),
            Fault::ResetAfterHandling,
        ],
    );
    open(&api).await?;
    let ran = async {
        for _ in 0..5 {
            let _ = ex.run("genesys-api", deadline()).await;
            if rig.group_puts() > 0 {
                break;
            }
        }
    };
    // After the PUT, the region answers nothing but 503 for the rest of the budget.
    let started = Instant::now();
    let fail_reads = async {
        while rig.group_puts() == 0 && started.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        rig.genesys
            .server
            .fault(&format!("{EMERGENCY}/eg-1"), Fault::Status(503), None);
    };
    tokio::join!(ran, fail_reads);
    assert!(rig.enabled(), "the PUT landed");
    assert_eq!(rig.last_switch().await?, None, "never confirmed");
    rig.genesys.server.clear_faults();
    release(&api).await?;
    rig.clock.advance(DELAY_MS + 1);
    drain(&ex, "genesys-api").await?;
    assert!(!rig.enabled(), "undone by the restore");
    let pages = rig.overflow_pages();
    assert!(
        pages
            .iter()
            .any(|p| p.0 == "trigger" && p.2 == "genesys-api/overflow"),
        "the activation is paged: {pages:?}"
    );
    assert!(
        pages
            .iter()
            .any(|p| p.0 == "resolve" && p.2 == "genesys-api/overflow"),
        "and its end: {pages:?}"
    );
    Ok(())
}

/// The restore was claimed by an executor that died (its outcome never written), and the
/// breaker re-tripped meanwhile: the trip could not cancel a claimed restore. Once the
/// claim ends, the next executor finds the restore with its breaker OPEN again: it is
/// cancelled, and the group stays on for the new outage. Found by the action code's
/// mutation run (the "breaker moved on" check made to cancel activations instead).
#[tokio::test]
async fn a_restore_left_claimed_across_a_re_trip_is_cancelled_not_made() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    open(&api).await?;
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled());
    release(&api).await?;
    rig.clock.advance(DELAY_MS + 1);
    // An executor claims the restore, and dies before it acts.
    let now = rig.clock.now_ms();
    let claim = Op::ClaimEntry {
        id: "overflow-off".into(),
        owner: "died".into(),
        now,
        until: now + 5_000,
    };
    rig.services.store.apply("genesys-api", &claim).await?;
    open(&api).await?;
    assert!(
        rig.record("genesys-api")
            .await?
            .outbox
            .contains_key("overflow-off"),
        "a claimed restore outlives the re-trip"
    );
    rig.clock.advance(5_001);
    drain(&ex, "genesys-api").await?;
    assert!(rig.enabled(), "the group stays on for the new outage");
    assert_eq!(rig.group_puts(), 1, "no PUT but the activation");
    assert!(
        !rig.record("genesys-api")
            .await?
            .outbox
            .contains_key("overflow-off"),
        "the restore is cancelled, not left to run later"
    );
    Ok(())
}

/// An executor dies in the middle of the activation (the region holds its request; the
/// run's future is dropped, as a Lambda instance ends), holding the action's claim and
/// the switch's. Both claims end: a later executor makes the activation and pages it.
/// Found by the action code's mutation run (a switch claim without end went unnoticed).
#[tokio::test]
async fn an_activation_whose_executor_died_mid_switch_is_made_once_its_claims_end(
) -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let died = rig.executor("died")?;
    let next = rig.executor("next")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    let group = format!("{EMERGENCY}/eg-1");
    rig.genesys.server.fault(&group, Fault::Hang, None);
    open(&api).await?;
    let to_group = || rig.genesys.server.hits("*", &group);
    for _ in 0..5 {
        let _ =
            tokio::time::timeout(Duration::from_secs(2), died.run("genesys-api", deadline())).await;
        if to_group() > 0 {
            break;
        }
    }
    assert!(to_group() > 0, "the dead executor was switching");
    rig.genesys.server.clear_faults();
    drain(&next, "genesys-api").await?;
    assert!(!rig.enabled(), "nobody switches while the claims hold");
    // Past the action's claim (120 s) and the switch's (its 5 s budget and 30 s).
    rig.clock.advance(120_001);
    drain(&next, "genesys-api").await?;
    assert!(rig.enabled(), "the activation is made");
    assert_eq!(rig.group_puts(), 1);
    assert!(
        rig.overflow_pages().iter().any(|p| p.0 == "trigger"),
        "and paged: {:?}",
        rig.overflow_pages()
    );
    Ok(())
}

/// The activation's PUT drops the group's IVR links (as a PUT without them does), and
/// the switch puts them back at once: the activation stands, recorded as changed (not
/// "already enabled") in the same run, and the on-call is paged about the links. Found by
/// the action code's mutation run: nothing drove the lost-links branch of the switch.
#[tokio::test]
async fn an_activation_that_lost_ivr_links_restores_them_pages_and_stands() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let ex = rig.executor("ex")?;
    let api = rig.breaker(Dependency::GenesysApi)?;
    if let Ok(mut b) = rig.genesys.book.lock() {
        b.lose_ivrs_once = true;
    }
    open(&api).await?;
    delivered(&ex, "genesys-api").await?;
    assert!(rig.enabled());
    assert_eq!(rig.ivrs(), 3, "the links are back");
    assert!(
        !rig.record("genesys-api")
            .await?
            .outbox
            .contains_key("overflow-on"),
        "the activation was done in its first run"
    );
    let sw = rig
        .last_switch()
        .await?
        .ok_or_else(|| anyhow::anyhow!("recorded"))?;
    assert_eq!((sw.mode, sw.enabled, sw.ivrs), (Mode::Auto, true, 3));
    assert_eq!(sw.note, None, "a switch made, not found made");
    drain(&ex, "genesys-api").await?;
    let pages = rig.overflow_pages();
    assert!(
        pages.iter().any(|p| p.2.contains("overflow-ivrs")),
        "{pages:?}"
    );
    Ok(())
}

/// The operator's read of the group (the preview of `failsoft overflow activate`) rides
/// out a degraded region's transient answers with the switch's backoff, and gives up at
/// once on an answer that retrying cannot change (an unknown group). The CLI's own test
/// drives it through the binary; this one runs with the action tests, so that the
/// mutation run of the action code sees it.
#[tokio::test]
async fn the_operators_read_rides_out_503s_and_not_an_unknown_group() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let o = rig.operator()?;
    let group = format!("{EMERGENCY}/eg-1");
    rig.genesys
        .server
        .faults_in_turn(&group, &[Fault::Status(503), Fault::Status(503)]);
    let reads = || rig.genesys.server.count(EMERGENCY);
    let g = o.read_patiently("eg-1", deadline()).await?;
    assert_eq!((g.id.as_str(), g.enabled), ("eg-1", false));
    assert_eq!(reads(), 3, "two refusals ridden out");
    let unknown = o.read_patiently("Storm group", deadline()).await;
    assert!(unknown.is_err(), "{unknown:?}");
    assert_eq!(reads(), 4, "one search by name, not retried");
    Ok(())
}

/// A person's activation of a group that is already on changes nothing, and is recorded
/// so ("already enabled"), not as a switch they made.
#[tokio::test]
async fn an_activation_of_a_group_already_on_is_recorded_as_found() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let o = rig.operator()?;
    o.switch(
        &alice_enables("eg-1", "region degraded"),
        "alice-1",
        deadline(),
    )
    .await?;
    let first = rig.last_switch().await?;
    assert_eq!(first.and_then(|s| s.note), None, "switched");
    o.switch(&alice_enables("eg-1", "again"), "alice-2", deadline())
        .await?;
    let again = rig.last_switch().await?;
    assert_eq!(
        again.and_then(|s| s.note).as_deref(),
        Some("already enabled")
    );
    assert_eq!(rig.group_puts(), 1);
    Ok(())
}

/// The state table refuses every request about the switch (500s): a person's switch
/// still goes through, Genesys's version check its only guard, unrecorded; the
/// automatic switch does not, since without its claim and record nobody would page it
/// or restore it.
#[tokio::test]
async fn without_the_state_table_a_person_switches_and_failsoft_does_not() -> anyhow::Result<()> {
    let rig = Rig::new("genesys-api").await?;
    let (front, through_front) = rig.through_front().await?;
    let api = Arc::new(failsoft::genesys::GenesysApi::build(
        &through_front,
        &rig.env(),
        failsoft::genesys::DEFAULT_PER_MINUTE,
    )?);
    let mut o = Overflow::build(&through_front, &rig.env(), &api)?;
    o.first_backoff = Duration::from_millis(100);
    front.fault_if_body(
        "x-amz-target",
        "DynamoDB_20120810.UpdateItem",
        failsoft::overflow::record::KEY,
        failsoft_testkit::fakes::aws::internal_error(),
    );
    let automatic = Request {
        mode: Mode::Auto,
        by: "failsoft (genesys-api OPEN)".into(),
        ..alice_enables("eg-1", "genesys-api OPEN")
    };
    let refused = o.switch(&automatic, "ex-1", deadline()).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(!rig.enabled(), "Failsoft does not switch unclaimed");
    o.switch(
        &alice_enables("eg-1", "region degraded"),
        "alice",
        deadline(),
    )
    .await?;
    assert!(rig.enabled(), "the person's switch goes through");
    assert_eq!(rig.last_switch().await?, None, "unrecorded");
    Ok(())
}
