//! Outage actions against moto, a fake Genesys with campaigns and a fake PagerDuty:
//! the campaign pause and its exact undoing, exactly once under 16 concurrent executors,
//! and a page through the stream path within 2 s under the emulator.

use std::sync::Arc;
use std::time::Duration;

use failsoft::actions::{Delivery, Executor, History};
use failsoft::alert::{PagerDuty, Runbooks};
use failsoft::breaker::{Breaker, Policy, State, TripPolicy};
use failsoft::campaign::ledger::{Ledger, Stage};
use failsoft::campaign::Campaigns;
use failsoft::genesys::GenesysApi;
use failsoft::secrets::{SecretCache, SecretsManager};
use failsoft::token::{DynamoTokenStore, Provider, TokenCache, TokenSettings};
use failsoft_testkit::fakes::genesys::{Stale, MESSAGING, VOICE};
use failsoft_testkit::fakes::http::{Fault, Response};
use failsoft_testkit::stream_pump::StreamPump;
use failsoft_testkit::{force_open as open, release, sdk_config, Emulator, World, T0};
use serde_json::json;
use tokio::time::Instant;

const DELAY: i64 = 300_000;

async fn world() -> anyhow::Result<World> {
    World::builder().build().await
}

fn pausing() -> Policy {
    Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold: 1 },
        effects: vec![(&failsoft::dependency::CAMPAIGN_PAUSE, DELAY)],
        ..Policy::default()
    }
}

/// An outage begins (as the drill's operator forces it) or ends.
fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// What these tests do with a world: the pieces of outage-actions they build, and the
/// deliveries they play.
trait Actions {
    async fn ledger(&self) -> Ledger;
    async fn executor(&self, role: &str) -> Executor;
    async fn all_at_once(&self, executors: &[Arc<Executor>], breaker: &str) -> anyhow::Result<()>;
    async fn settle(&self, ex: &Executor, breaker: &str) -> anyhow::Result<()>;
    async fn delivered(&self, ex: &Executor, breaker: &str) -> anyhow::Result<()>;
    async fn ledger_list(
        &self,
    ) -> Result<Vec<failsoft::campaign::ledger::Entry>, failsoft::store::StoreError>;
    async fn outbox_ids(&self, breaker: &str) -> anyhow::Result<Vec<String>>;
    async fn paused(&self, campaigns: &[(&str, &str)]) -> anyhow::Result<(Executor, Breaker)>;
}

impl Actions for World {
    async fn ledger(&self) -> Ledger {
        let conf = sdk_config(&self.url).await;
        Ledger {
            client: aws_sdk_dynamodb::Client::new(&conf),
            table: self.table.clone(),
        }
    }

    /// One executor instance: its own clients, token cache and claim owner.
    async fn executor(&self, role: &str) -> Executor {
        let conf = sdk_config(&self.url).await;
        let secrets = Arc::new(SecretCache::new(Arc::new(SecretsManager(
            aws_sdk_secretsmanager::Client::new(&conf),
        ))));
        let tokens = Arc::new(TokenCache::new(
            Provider::Genesys {
                secret_id: format!("gc-{}", self.table),
                token_url: format!("{}/oauth/token", self.genesys.server.url),
            },
            Arc::new(DynamoTokenStore::new(
                aws_sdk_dynamodb::Client::new(&conf),
                &self.table,
            )),
            self.breaker("genesys-auth", pausing()).await,
            reqwest::Client::new(),
            secrets.clone(),
            self.clock.clone(),
            TokenSettings::default(),
        ));
        Executor {
            store: self.store().await,
            pager: Some(PagerDuty {
                http: reqwest::Client::new(),
                url: self.pd.events_url(),
                secrets,
                secret_id: format!("pd-{}", self.table),
                runbooks: Runbooks::default(),
                backoff_ms: 1_000,
            }),
            campaigns: Some(Campaigns {
                api: Arc::new(GenesysApi::new(
                    reqwest::Client::new(),
                    self.genesys.server.url.clone(),
                    tokens,
                    60_000,
                )),
                ledger: self.ledger().await,
                divisions: Vec::new(),
                clock: self.clock.clone(),
            }),
            overflow: None,
            history: Some(History {
                client: aws_sdk_dynamodb::Client::new(&conf),
                table: self.table.clone(),
            }),
            clock: self.clock.clone(),
            owner: format!("{role}-{:x}", rand::random::<u64>()),
        }
    }

    /// `n` executors acting on `breaker` at the same moment, as stream deliveries,
    /// their retries and probe runs would.
    async fn all_at_once(&self, executors: &[Arc<Executor>], breaker: &str) -> anyhow::Result<()> {
        let mut tasks = Vec::new();
        for ex in executors {
            let (ex, b) = (ex.clone(), breaker.to_string());
            tasks.push(tokio::spawn(async move { delivered(&ex, &b).await }));
        }
        for t in tasks {
            t.await??;
        }
        Ok(())
    }

    /// The probe's backstop: a minute at a time, runs until `breaker` has no campaign
    /// action left (an attempt that met a slow moto is retried after its backoff).
    async fn settle(&self, ex: &Executor, breaker: &str) -> anyhow::Result<()> {
        for _ in 0..10 {
            let rec = self.store().await.load(breaker).await?;
            if rec.outbox.values().all(|a| a.action.is_page()) {
                return Ok(());
            }
            self.clock.advance(60_000);
            delivered(ex, breaker).await?;
        }
        anyhow::bail!("{breaker}: campaign actions still pending")
    }

    /// One stream delivery of `breaker`'s change, then the probe's backstop runs for
    /// what that delivery left to retry, as production would: under load a ledger
    /// request can miss its 250 ms, the entry is deferred (its `next_ms` moves), and the
    /// minute run after that time does the rest. The clock is moved to that time, never
    /// slept for. Tests of a retry itself use [`delivered`].
    async fn delivered(&self, ex: &Executor, breaker: &str) -> anyhow::Result<()> {
        use failsoft::clock::Clock;
        let actions = |r: failsoft::breaker::Record| -> Vec<(String, u32, i64)> {
            r.outbox
                .into_values()
                .filter(|a| !a.action.is_page())
                .map(|a| (a.id, a.attempts, a.next_ms))
                .collect()
        };
        let store = self.store().await;
        for _ in 0..6 {
            let before = actions(patiently(|| store.load(breaker)).await?);
            delivered(ex, breaker).await?;
            let after = actions(patiently(|| store.load(breaker)).await?);
            let now = self.clock.now_ms();
            let retry = after
                .iter()
                .filter(|a| a.2 > now && !before.contains(a))
                .filter(|a| before.iter().any(|b| b.0 == a.0))
                .map(|a| a.2)
                .max();
            match retry {
                Some(at) => self.clock.set(at),
                None => return Ok(()),
            }
        }
        anyhow::bail!("{breaker}: still retried after six backstop runs")
    }

    /// The ledger, as the board reads it.
    async fn ledger_list(
        &self,
    ) -> Result<Vec<failsoft::campaign::ledger::Entry>, failsoft::store::StoreError> {
        self.ledger().await.list(deadline()).await
    }

    async fn outbox_ids(&self, breaker: &str) -> anyhow::Result<Vec<String>> {
        Ok(self
            .store()
            .await
            .load(breaker)
            .await?
            .outbox
            .into_keys()
            .collect())
    }

    /// The common opening: `campaigns` (id, name) dialling in division d1, a stream
    /// executor, and `crm`'s outage delivered to it.
    async fn paused(&self, campaigns: &[(&str, &str)]) -> anyhow::Result<(Executor, Breaker)> {
        for (id, name) in campaigns {
            self.genesys.add(VOICE, id, name, "on", "d1");
        }
        let ex = self.executor("stream").await;
        let crm = self.breaker("crm", pausing()).await;
        open(&crm).await?;
        self.delivered(&ex, "crm").await?;
        Ok((ex, crm))
    }
}

/// One stream delivery of `breaker`'s change to `ex`, retried as Lambda retries a failed
/// batch: a run fails only when its first read of the record meets a slow table (250 ms
/// under sixteen clients on one moto), and what it did not do the retry does.
async fn delivered(ex: &Executor, breaker: &str) -> anyhow::Result<()> {
    let mut last = None;
    for _ in 0..5 {
        // On the heap: the run's future is large, and a test thread's stack is 2 MiB.
        match Box::pin(ex.run(breaker, deadline())).await {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(anyhow::anyhow!(
        "{breaker}: five deliveries failed: {last:?}"
    ))
}

/// Verdicts from the fake's request log: the statuses PUT to each campaign.
fn puts(w: &World, path: &str, id: &str) -> Vec<String> {
    w.genesys.puts(path, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_executors_pause_each_campaign_once_and_resume_it_at_most_once(
) -> anyhow::Result<()> {
    let w = world().await?;
    for (path, id) in [
        (VOICE, "v-1"),
        (VOICE, "v-2"),
        (VOICE, "v-3"),
        (MESSAGING, "m-1"),
    ] {
        w.genesys.add(path, id, id, "on", "d1");
    }
    let mut executors = Vec::new();
    for i in 0..16 {
        executors.push(Arc::new(w.executor(&format!("ex-{i}")).await));
    }
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.all_at_once(&executors, "crm").await?;
    // Whatever one run left (a claim lost to a slow moto), the next runs finish.
    w.settle(&executors[0], "crm").await?;
    for (path, id) in [
        (VOICE, "v-1"),
        (VOICE, "v-2"),
        (VOICE, "v-3"),
        (MESSAGING, "m-1"),
    ] {
        assert_eq!(puts(&w, path, id), vec!["off"], "{id}: one pause PUT");
        assert_eq!(w.genesys.status(path, id), "off", "{id}");
    }
    let ledger = w.ledger().await.list(deadline()).await?;
    assert_eq!(ledger.len(), 4);
    assert!(
        ledger
            .iter()
            .all(|e| e.stage == Stage::Paused && e.holds.contains_key("crm")),
        "{ledger:?}"
    );
    let triggers =
        w.pd.requests()
            .iter()
            .filter(|(a, _)| a == "trigger")
            .count();
    assert_eq!(triggers, 1, "one page: {:?}", w.pd.requests());

    release(&crm).await?;
    // Within the delay nothing is resumed, however many executors run.
    w.all_at_once(&executors, "crm").await?;
    assert!(puts(&w, VOICE, "v-1").len() == 1, "not before the delay");
    w.clock.advance(DELAY + 1);
    w.all_at_once(&executors, "crm").await?;
    w.settle(&executors[0], "crm").await?;
    for (path, id) in [
        (VOICE, "v-1"),
        (VOICE, "v-2"),
        (VOICE, "v-3"),
        (MESSAGING, "m-1"),
    ] {
        assert_eq!(
            puts(&w, path, id),
            vec!["off", "on"],
            "{id}: one resume PUT"
        );
        assert_eq!(w.genesys.status(path, id), "on", "{id}");
    }
    assert!(w.ledger().await.list(deadline()).await?.is_empty());
    assert!(w.outbox_ids("crm").await?.is_empty(), "every action done");
    Ok(())
}

/// Two breakers' actions at once: only the ledger's claims keep each campaign to one
/// pause PUT and one resume PUT (the outbox claim is per breaker).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_breakers_acting_at_once_pause_and_resume_each_campaign_once() -> anyhow::Result<()> {
    let w = world().await?;
    let ids = ["v-1", "v-2", "v-3"];
    for id in ids {
        w.genesys.add(VOICE, id, id, "on", "d1");
    }
    let mut executors = Vec::new();
    for i in 0..16 {
        executors.push(Arc::new(w.executor(&format!("ex-{i}")).await));
    }
    let breakers = [
        w.breaker("crm", pausing()).await,
        w.breaker("genesys-api", pausing()).await,
    ];
    let both = |executors: &[Arc<Executor>]| {
        let mut tasks = Vec::new();
        for (i, ex) in executors.iter().enumerate() {
            let ex = ex.clone();
            let name = if i % 2 == 0 { "crm" } else { "genesys-api" };
            tasks.push(tokio::spawn(async move { delivered(&ex, name).await }));
        }
        tasks
    };
    for b in &breakers {
        open(b).await?;
    }
    for t in both(&executors) {
        t.await??;
    }
    w.settle(&executors[0], "crm").await?;
    w.settle(&executors[0], "genesys-api").await?;
    for id in ids {
        assert_eq!(puts(&w, VOICE, id), vec!["off"], "{id}");
    }
    for b in &breakers {
        release(b).await?;
    }
    w.clock.advance(DELAY + 1);
    for t in both(&executors) {
        t.await??;
    }
    w.settle(&executors[0], "crm").await?;
    w.settle(&executors[0], "genesys-api").await?;
    for id in ids {
        assert_eq!(puts(&w, VOICE, id), vec!["off", "on"], "{id}");
    }
    Ok(())
}

/// An executor that emptied a campaign's holders and claimed its resume, then died: the
/// resume is left to it while its claim lives, and taken over, once, when it runs out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resume_claimed_by_an_executor_that_died_is_taken_over_once_its_claim_ends(
) -> anyhow::Result<()> {
    use failsoft::clock::Clock;
    let w = world().await?;
    let (ex, crm) = w.paused(&[("renewals", "Renewals")]).await?;
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    let ledger = w.ledger().await;
    let pk = failsoft::campaign::ledger::key(failsoft::campaign::api::Kind::Voice, "renewals");
    let now = w.clock.now_ms();
    use failsoft::campaign::ledger::{Write, Written};
    let generation = ledger.list(deadline()).await?[0].holds["crm"];
    let release = Write::Release {
        breaker: "crm".into(),
        generation,
    };
    assert!(matches!(
        ledger.write(&pk, &release, 0, deadline()).await?,
        Written::Now(_)
    ));
    let claim = Write::ClaimResume {
        owner: "dead".into(),
        now,
        until: now + 120_000,
    };
    assert!(matches!(
        ledger.write(&pk, &claim, 0, deadline()).await?,
        Written::Now(_)
    ));
    delivered(&ex, "crm").await?;
    assert_eq!(
        puts(&w, VOICE, "renewals"),
        vec!["off"],
        "left to its claimant"
    );
    assert!(
        w.outbox_ids("crm").await?.contains(&"resume".to_string()),
        "not done yet"
    );
    w.clock.advance(600_000);
    w.delivered(&ex, "crm").await?;
    assert_eq!(puts(&w, VOICE, "renewals"), vec!["off", "on"], "taken over");
    assert!(w.outbox_ids("crm").await?.is_empty());
    Ok(())
}

/// A campaign action that keeps failing is retried with backoff, paged on its third
/// failure with what failed, and that page resolved once the action succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pause_that_keeps_failing_is_paged_with_its_error_then_resolved() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    w.genesys.server.fault(VOICE, Fault::Status(503), None);
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    let failing = |w: &World| {
        w.pd.incidents()
            .into_iter()
            .filter(|i| i.dedup_key.ends_with("/pause_campaigns"))
            .collect::<Vec<_>>()
    };
    for attempt in 1..=3 {
        delivered(&ex, "crm").await?;
        let pause = w
            .store()
            .await
            .load("crm")
            .await?
            .outbox
            .get("pause")
            .cloned();
        assert_eq!(
            pause.map(|p| p.attempts),
            Some(attempt),
            "attempt {attempt}"
        );
        assert_eq!(
            failing(&w).len(),
            usize::from(attempt == 3),
            "paged on the third"
        );
        // Not due again before its backoff.
        delivered(&ex, "crm").await?;
        assert_eq!(
            w.genesys
                .server
                .requests()
                .iter()
                .filter(|r| r.path.starts_with(VOICE))
                .count(),
            attempt as usize
        );
        w.clock.advance(600_000);
    }
    let page = &failing(&w)[0];
    assert_eq!(page.trigger["payload"]["class"], "outage_action");
    let summary = page.trigger["payload"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(
        summary.contains("failed 3 times") && summary.contains("503"),
        "{summary}"
    );
    w.genesys.server.clear_faults();
    delivered(&ex, "crm").await?;
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    assert!(
        failing(&w)[0].resolved,
        "the failure page is resolved once the pause is done"
    );
    Ok(())
}

/// Only the configured divisions are paused; Genesys's own states are never touched;
/// a campaign Genesys refuses to turn off (400, it completed meanwhile) is skipped,
/// not retried, and not resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn divisions_genesys_states_and_refused_transitions_are_respected() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "ours", "Ours", "on", "d1");
    w.genesys.add(VOICE, "theirs", "Other division", "on", "d2");
    w.genesys
        .add(VOICE, "edge", "Forced off by an Edge", "forced_off", "d1");
    w.genesys.add(
        VOICE,
        "stopping",
        "Forced stopping",
        "forced_stopping",
        "d1",
    );
    w.genesys
        .add(MESSAGING, "done", "Completes meanwhile", "on", "d1");
    let refused = Response::json(
        400,
        &json!({"message": "Invalid transition from COMPLETE to OFF", "code": "invalid.transition"}),
    );
    w.genesys
        .server
        .faults_in_turn(&format!("{MESSAGING}/done"), &[Fault::Respond(refused)]);
    let mut ex = w.executor("stream").await;
    if let Some(c) = ex.campaigns.as_mut() {
        c.divisions = vec!["d1".into()];
    }
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.delivered(&ex, "crm").await?;
    assert_eq!(puts(&w, VOICE, "ours"), vec!["off"]);
    assert!(puts(&w, VOICE, "theirs").is_empty(), "another division");
    assert!(puts(&w, VOICE, "edge").is_empty() && puts(&w, VOICE, "stopping").is_empty());
    assert_eq!(
        puts(&w, MESSAGING, "done"),
        vec!["off"],
        "tried once, refused, skipped"
    );
    let ledger = w.ledger().await.list(deadline()).await?;
    assert_eq!(
        ledger.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["ours"]
    );
    assert!(
        !w.outbox_ids("crm").await?.contains(&"pause".to_string()),
        "the pause is done"
    );
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.delivered(&ex, "crm").await?;
    assert_eq!(puts(&w, VOICE, "ours"), vec!["off", "on"]);
    assert_eq!(puts(&w, MESSAGING, "done"), vec!["off"], "never resumed");
    assert_eq!(w.genesys.status(VOICE, "edge"), "forced_off");
    Ok(())
}

/// The history of what is done stays bounded: a ring of the last 16, newest first.
#[tokio::test]
async fn the_history_keeps_the_last_sixteen_actions_done() -> anyhow::Result<()> {
    let w = world().await?;
    let history = History {
        client: aws_sdk_dynamodb::Client::new(&sdk_config(&w.url).await),
        table: w.table.clone(),
    };
    let mut retried = 0u32;
    for i in 0..40i64 {
        let d = failsoft::actions::Done {
            breaker: "crm".into(),
            action: "trigger".into(),
            episode: format!("crm/{i}/0"),
            at: String::new(),
            outcome: "accepted ".repeat(40),
            at_ms: T0 + i,
        };
        // Each request has the store's 250 ms; the serialised moto, shared with the
        // other tests of this file, sometimes takes longer. A write that timed out is
        // written again (a ring's line, not an action: at worst one slot is skipped).
        let mut attempt = 0;
        loop {
            match history.record(&d, deadline()).await {
                Err(failsoft::store::StoreError::Timeout) if attempt < 4 => attempt += 1,
                other => break other?,
            }
        }
        retried += attempt;
    }
    let recent = history.recent("crm", deadline()).await?;
    // A retried write whose first attempt landed fills two slots with one line, shown
    // once: one line fewer per retry at most.
    assert!(recent.len() <= 16, "{}", recent.len());
    assert!(
        recent.len() as u32 + retried >= 16,
        "{} lines, {retried} retries",
        recent.len()
    );
    assert_eq!(recent[0].episode, "crm/39/0", "newest first");
    assert!(
        recent.windows(2).all(|w| w[0].at_ms > w[1].at_ms),
        "newest first"
    );
    let index = |d: &failsoft::actions::Done| {
        d.episode
            .split('/')
            .nth(1)
            .and_then(|i| i.parse::<u32>().ok())
            .unwrap_or(0)
    };
    // Each retried write may have bumped the counter before it timed out, skipping a
    // slot that keeps a line from 16 writes before: one stale line per retry at most.
    let recent_lines = recent.iter().filter(|d| index(d) >= 24).count() as u32;
    assert!(
        recent_lines + retried >= 16,
        "{recent_lines} recent lines, {retried} retries"
    );
    if retried == 0 {
        assert_eq!(recent[15].episode, "crm/24/0");
    }
    assert!(recent[0].outcome.len() <= 200);
    Ok(())
}

/// The drill's campaign-pause scenario, verdicts from the fake's request log and the
/// ledger: four campaigns, three on and one a person paused before the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_outage_pauses_what_dials_and_recovery_resumes_only_what_nobody_touched(
) -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    w.genesys.add(VOICE, "winback", "Win-back", "on", "d1");
    w.genesys
        .add(MESSAGING, "reminders", "SMS reminders", "on", "d1");
    w.genesys.add(VOICE, "survey", "Survey", "off", "d1");
    // One 409 on the way: the first request to win-back finds its version moved.
    let conflict = Response::json(
        409,
        &json!({"message": "version must match", "code": "conflict"}),
    );
    w.genesys
        .server
        .faults_in_turn(&format!("{VOICE}/winback"), &[Fault::Respond(conflict)]);
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.delivered(&ex, "crm").await?;
    for (path, id) in [
        (VOICE, "renewals"),
        (VOICE, "winback"),
        (MESSAGING, "reminders"),
    ] {
        assert_eq!(w.genesys.status(path, id), "off", "{id} paused");
    }
    assert_eq!(
        puts(&w, VOICE, "winback"),
        vec!["off", "off"],
        "the 409, then the PUT at the new version"
    );
    assert!(
        puts(&w, VOICE, "survey").is_empty(),
        "a campaign already off is not ours"
    );
    // Mid-outage a supervisor turns SMS reminders back on by hand.
    w.genesys
        .person_sets(MESSAGING, "reminders", "on", "2026-11-28T02:41:00Z");
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.delivered(&ex, "crm").await?;
    assert_eq!(puts(&w, VOICE, "renewals"), vec!["off", "on"]);
    assert_eq!(puts(&w, VOICE, "winback"), vec!["off", "off", "on"]);
    assert_eq!(
        puts(&w, MESSAGING, "reminders"),
        vec!["off"],
        "the person's choice stands"
    );
    assert!(
        puts(&w, VOICE, "survey").is_empty(),
        "never resume what we did not pause"
    );
    assert_eq!(w.genesys.status(VOICE, "survey"), "off");
    // What is done is visible: the page, the pause and the resume.
    let history = History {
        client: aws_sdk_dynamodb::Client::new(&sdk_config(&w.url).await),
        table: w.table.clone(),
    };
    let recent = history.recent("crm", deadline()).await?;
    let done: Vec<&str> = recent.iter().map(|d| d.action.as_str()).collect();
    for a in ["trigger", "pause_campaigns", "resolve", "resume_campaigns"] {
        assert!(done.contains(&a), "{a} not in {done:?}");
    }
    // The resume's line names what it left, and why.
    let resumed = recent
        .iter()
        .find(|d| d.action == "resume_campaigns")
        .map(|d| d.outcome.as_str())
        .unwrap_or_default();
    assert!(
        resumed.contains("messaging SMS reminders (reminders): left")
            && resumed.contains("changed by someone"),
        "{resumed}"
    );
    let ledger = w.ledger().await.list(deadline()).await?;
    assert_eq!(ledger.len(), 1, "{ledger:?}");
    assert_eq!(ledger[0].stage, Stage::Left);
    let note = ledger[0].note.clone().unwrap_or_default();
    assert!(
        note.contains("changed by someone at 2026-11-28T02:41:00Z"),
        "{note}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_second_breaker_holds_a_campaign_off_until_both_have_closed() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let ex = w.executor("stream").await;
    let (crm, api) = (
        w.breaker("crm", pausing()).await,
        w.breaker("genesys-api", pausing()).await,
    );
    open(&crm).await?;
    w.delivered(&ex, "crm").await?;
    open(&api).await?;
    ex.run("genesys-api", deadline()).await?;
    let held = w.ledger().await.list(deadline()).await?;
    assert_eq!(held[0].holds.len(), 2, "{held:?}");
    // The history says what the second pause did: joined the hold, turned off nothing.
    let history = History {
        client: aws_sdk_dynamodb::Client::new(&sdk_config(&w.url).await),
        table: w.table.clone(),
    };
    let done = history.recent("genesys-api", deadline()).await?;
    let pause = done
        .iter()
        .find(|d| d.action == "pause_campaigns")
        .ok_or_else(|| anyhow::anyhow!("{done:?}"))?;
    assert!(
        pause.outcome.contains(r#""paused":[],"joined":1"#),
        "{}",
        pause.outcome
    );
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.delivered(&ex, "crm").await?;
    assert_eq!(
        puts(&w, VOICE, "renewals"),
        vec!["off"],
        "genesys-api still holds it"
    );
    release(&api).await?;
    w.clock.advance(DELAY + 1);
    ex.run("genesys-api", deadline()).await?;
    assert_eq!(puts(&w, VOICE, "renewals"), vec!["off", "on"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rate_limited_pause_waits_as_told_and_an_outage_within_the_delay_cancels_the_resume(
) -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let limited = Response {
        headers: vec![("Retry-After".into(), "1".into())],
        ..Response::json(
            429,
            &json!({"message": "rate limit", "code": "too.many.requests"}),
        )
    };
    w.genesys
        .server
        .faults_in_turn(&format!("{VOICE}/renewals"), &[Fault::Respond(limited)]);
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.delivered(&ex, "crm").await?;
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    let reqs = w.genesys.server.requests();
    let to_it: Vec<_> = reqs
        .iter()
        .filter(|r| r.path == format!("{VOICE}/renewals"))
        .collect();
    assert!(to_it.len() >= 2, "{to_it:?}");
    assert!(
        to_it[1].at.duration_since(to_it[0].at) >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    release(&crm).await?;
    // The dependency fails again within the delay: the waiting resume goes.
    w.clock.advance(DELAY / 2);
    open(&crm).await?;
    w.clock.advance(DELAY);
    w.delivered(&ex, "crm").await?;
    assert_eq!(
        puts(&w, VOICE, "renewals"),
        vec!["off", "off"],
        "the 429'd PUT, its retry, and no resume while the outage is back"
    );
    assert_eq!(w.store().await.load("crm").await?.state, State::ForcedOpen);
    Ok(())
}

/// Under the emulator: token-cache opens `genesys-auth`; the stream carries the
/// transition to outage-actions, which pages. Nobody else pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_auth_breaker_opened_by_token_cache_is_paged_within_two_seconds() -> anyhow::Result<()> {
    let w = world().await?;
    let login = format!("{}/oauth/token", w.genesys.server.url);
    w.genesys
        .server
        .fault("/oauth/token", Fault::Status(503), None);
    let (gc, pd) = (format!("gc-{}", w.table), format!("pd-{}", w.table));
    let events = w.pd.events_url();
    let mut env = Emulator::aws_env(&w.url, &w.table);
    env.extend([
        ("GENESYS_SECRET_ID", gc.as_str()),
        ("GENESYS_LOGIN_URL", login.as_str()),
        ("ALERT_SECRET_ID", pd.as_str()),
        ("PAGERDUTY_EVENTS_URL", events.as_str()),
        ("BREAKER_GENESYS_AUTH_FAILURE_THRESHOLD", "1"),
    ]);
    let emu = Arc::new(Emulator::start(&env)?);
    // Both functions built and warm before the clock starts.
    emu.invoke("outage-actions", &json!({"Records": []}))
        .await?;
    emu.invoke("token-cache", &json!({"provider": "none"}))
        .await?;
    let _pump = StreamPump::start(&w.url, &w.table, emu.clone(), "outage-actions").await?;
    let started = std::time::Instant::now();
    let v = emu
        .invoke("token-cache", &json!({"provider": "genesys"}))
        .await?;
    assert_eq!(v["providers"][0]["degraded"], true, "{v}");
    let mut paged = None;
    for _ in 0..100 {
        if let Some(r) = w.pd.server.requests().first() {
            paged = Some(r.at.duration_since(started));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let paged = paged.ok_or_else(|| anyhow::anyhow!("never paged"))?;
    let incidents = w.pd.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert!(
        incidents[0].dedup_key.starts_with("genesys-auth/"),
        "{incidents:?}"
    );
    assert!(
        paged < Duration::from_secs(2),
        "paged {paged:?} after the token-cache call began"
    );
    eprintln!("stream page latency (upper bound, from the token-cache invoke): {paged:?}");
    Ok(())
}

/// A stale version answered 400 (as Genesys may: its Terraform provider retries "409,
/// or 400 ... does not match the current version") is a version conflict: read again
/// and paused. It used to be taken for a refused transition, and the campaign was
/// skipped and forgotten, left dialing through the outage.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_version_answered_400_is_paused_not_skipped() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    w.genesys
        .add(MESSAGING, "reminders", "SMS reminders", "on", "d1");
    for (path, id) in [(VOICE, "renewals"), (MESSAGING, "reminders")] {
        w.genesys.server.faults_in_turn(
            &format!("{path}/{id}"),
            &[Fault::Respond(Stale::BadRequest400.answer())],
        );
    }
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.delivered(&ex, "crm").await?;
    for (path, id) in [(VOICE, "renewals"), (MESSAGING, "reminders")] {
        assert_eq!(w.genesys.status(path, id), "off", "{id} paused");
        assert_eq!(puts(&w, path, id), vec!["off", "off"], "{id}: read again");
    }
    Ok(())
}

/// A voice campaign's decimal pacing survives the pause and the resume: every PUT says
/// useMaxCallsPerAgentDecimal=true (SDK OutboundApi.put_outbound_campaign; Genesys's
/// provider always sends it). Without it the fake, as the worst reading of the docs,
/// keeps only the integer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_decimal_pacing_survives_the_pause_and_the_resume() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    w.genesys.set_pacing("renewals", 1.5);
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.delivered(&ex, "crm").await?;
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.delivered(&ex, "crm").await?;
    assert_eq!(puts(&w, VOICE, "renewals"), vec!["off", "on"]);
    let c = w.genesys.campaign(VOICE, "renewals");
    assert_eq!(c["maxCallsPerAgentDecimal"], 1.5, "{c}");
    let flagged = w
        .genesys
        .server
        .requests()
        .iter()
        .filter(|r| r.method == "PUT")
        .all(|r| r.param("useMaxCallsPerAgentDecimal") == Some("true"));
    assert!(flagged, "every voice campaign PUT asks for the decimal");
    Ok(())
}

/// A campaign deleted in Genesys during the outage (404 on its read) has nothing to
/// restore: its ledger entry is forgotten, and the resume of the others, and every later
/// pause and resume, go on. It used to fail the resume for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_deleted_mid_outage_does_not_wedge_the_ledger() -> anyhow::Result<()> {
    let w = world().await?;
    let (ex, crm) = w
        .paused(&[("renewals", "Renewals"), ("winback", "Win-back")])
        .await?;
    assert_eq!(w.genesys.status(VOICE, "winback"), "off");
    if let Ok(mut book) = w.genesys.book.lock() {
        book.campaigns
            .remove(&(VOICE.to_string(), "winback".to_string()));
    }
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.delivered(&ex, "crm").await?;
    assert_eq!(
        w.genesys.status(VOICE, "renewals"),
        "on",
        "the other resumed"
    );
    assert!(
        w.ledger().await.list(deadline()).await?.is_empty(),
        "the deleted campaign's entry is gone"
    );
    assert!(
        w.outbox_ids("crm").await?.is_empty(),
        "nothing left failing in the outbox"
    );
    // The next outage pauses what dials, as before.
    open(&crm).await?;
    w.delivered(&ex, "crm").await?;
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    Ok(())
}

/// The resume's read of a paused campaign fails (503, a degraded region) for a while:
/// the campaign is only gone on a 404. Its ledger entry stays, and the campaign is
/// resumed once Genesys answers. Found by the action code's mutation run (any failed
/// read taken for a deletion: the entry forgotten, the campaign off for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_failing_during_the_resume_forgets_no_campaign() -> anyhow::Result<()> {
    let w = world().await?;
    let (ex, crm) = w.paused(&[("renewals", "Renewals")]).await?;
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    let path = format!("{VOICE}/renewals");
    let reads = || w.genesys.server.hits("GET", &path);
    let before = reads();
    w.genesys.server.fault(&path, Fault::Status(503), None);
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    runs_until(&ex, "crm", || reads() > before).await;
    assert!(reads() > before, "the resume read it, and failed");
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    let held: Vec<String> = w.ledger_list().await?.into_iter().map(|e| e.id).collect();
    assert_eq!(held, vec!["renewals"], "still in the ledger");
    w.genesys.server.clear_faults();
    w.settle(&ex, "crm").await?;
    assert_eq!(w.genesys.status(VOICE, "renewals"), "on", "resumed");
    assert!(w.ledger_list().await?.is_empty());
    Ok(())
}

/// More actions due at once than a run takes (`MAX_PER_RUN`: PagerDuty's pace per
/// key, and the run's own time): a run acts on at most that many and leaves the rest
/// pending, and the next runs send them, each once. Found by the action code's mutation
/// run (the count of acted entries never moving). Today's slots give a breaker fewer
/// entries than that; the bound holds whatever a later slot adds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_acts_on_at_most_its_bound_and_leaves_the_rest_to_the_next() -> anyhow::Result<()> {
    use failsoft::actions::MAX_PER_RUN;
    use failsoft::breaker::{outbox, Op};
    use failsoft::clock::Clock;
    let w = world().await?;
    let ex = w.executor("stream").await;
    let store = w.store().await;
    let now = w.clock.now_ms();
    let queued = MAX_PER_RUN + 5;
    for i in 0..queued {
        let alert = outbox::work_fault("crm", &format!("x{i}"), "a work page", "why", now);
        let page = Op::Page {
            alert,
            now,
            every_ms: 0,
        };
        patiently(|| store.apply("crm", &page)).await?;
    }
    assert_eq!(w.outbox_ids("crm").await?.len(), queued);
    let first = Box::pin(ex.run("crm", deadline())).await?;
    assert!(
        first.sent as usize <= MAX_PER_RUN && first.pending >= 5,
        "{first:?}"
    );
    assert!(w.pd.requests().len() <= MAX_PER_RUN);
    for _ in 0..6 {
        if w.outbox_ids("crm").await?.is_empty() {
            break;
        }
        let _ = Box::pin(ex.run("crm", deadline())).await;
    }
    assert!(w.outbox_ids("crm").await?.is_empty(), "all sent in the end");
    let mut keys: Vec<String> = w.pd.requests().into_iter().map(|(_, k)| k).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(
        (w.pd.requests().len(), keys.len()),
        (queued, queued),
        "each once"
    );
    Ok(())
}

/// A history write retried after its first attempt landed (the answer timed out) fills
/// two slots with one line: shown once. This is what made the ring's test flaky on a
/// loaded moto (two lines with one time, so not "newest first").
#[tokio::test]
async fn a_line_written_twice_is_shown_once() -> anyhow::Result<()> {
    let w = world().await?;
    let history = History {
        client: aws_sdk_dynamodb::Client::new(&sdk_config(&w.url).await),
        table: w.table.clone(),
    };
    let d = failsoft::actions::Done {
        breaker: "crm".into(),
        action: "trigger".into(),
        episode: "crm/1/0".into(),
        at: String::new(),
        outcome: "accepted".into(),
        at_ms: T0,
    };
    history.record(&d, deadline()).await?;
    history.record(&d, deadline()).await?;
    let recent = history.recent("crm", deadline()).await?;
    assert_eq!(recent.len(), 1, "{recent:?}");
    Ok(())
}

/// The generations of the episodes holding each ledger entry of `breaker`.
async fn holds(w: &World, breaker: &str) -> anyhow::Result<Vec<Option<u64>>> {
    Ok(w.ledger()
        .await
        .list(deadline())
        .await?
        .iter()
        .map(|e| e.holds.get(breaker).copied())
        .collect())
}

/// A re-trip while the resume is turning campaigns back on (resuming outbound dialling
/// is itself load on the CRM): the new outage's pause holds every campaign, the late
/// resume hands back what it turned on, and every campaign is off for the new outage.
/// It used to leave most of them on: holds were breaker names, and the new pause found
/// the campaigns "already held by crm" just before the resume let go of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_re_trip_during_the_resume_keeps_every_campaign_off_for_the_new_outage(
) -> anyhow::Result<()> {
    let w = world().await?;
    let ids: Vec<String> = (0..6).map(|i| format!("c{i}")).collect();
    for id in &ids {
        w.genesys.add(VOICE, id, id, "on", "d1");
    }
    let (resumer, pauser) = (w.executor("stream").await, w.executor("probe").await);
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.settle(&pauser, "crm").await?;
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    // Slow enough that the new outage comes during the resume.
    w.genesys
        .server
        .fault(VOICE, Fault::Slow(Duration::from_millis(250)), None);
    let resuming = tokio::spawn(async move {
        // Again if a run missed moto's 250 ms on its first read, before it acted.
        for _ in 0..5 {
            if resumer.run("crm", deadline()).await.is_ok() {
                break;
            }
        }
        resumer
    });
    let on_puts = |w: &World| ids.iter().filter(|id| puts(w, VOICE, id).len() > 1).count();
    let started = Instant::now();
    while on_puts(&w) == 0 {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(20), "no resume PUT");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !resuming.is_finished(),
        "the re-trip comes during the resume"
    );
    open(&crm).await?;
    // One delivery: the pause waits for the resume still running beside it (its entries
    // are being resumed); the settling below finishes it once the resumer is done.
    delivered(&pauser, "crm").await?;
    // A run that missed moto's 250 ms on its first read is done by the settling below.
    let resumer = resuming.await?;
    w.genesys.server.clear_faults();
    // At the same instant, before any claim of the resumer's could run out: what it
    // turned on after the re-trip it handed back to the pause and turned off again (the
    // two roles share the pausing step). Without the hand-back, a campaign stays on,
    // dialling, until its resume claim runs out (120 s).
    let all_off = || ids.iter().all(|id| w.genesys.status(VOICE, id) == "off");
    runs_until(&pauser, "crm", all_off).await;
    assert!(
        all_off(),
        "handed back and off at once, not after the resumer's claims"
    );
    w.settle(&pauser, "crm").await?;
    w.settle(&resumer, "crm").await?;
    for id in &ids {
        assert_eq!(
            w.genesys.status(VOICE, id),
            "off",
            "{id}: off for the new outage"
        );
    }
    let generation = w.store().await.load("crm").await?.generation;
    assert!(
        holds(&w, "crm")
            .await?
            .iter()
            .all(|g| *g == Some(generation)),
        "held by the new episode"
    );
    // And the new outage's end turns each one on again.
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.settle(&pauser, "crm").await?;
    for id in &ids {
        assert_eq!(
            w.genesys.status(VOICE, id),
            "on",
            "{id}: resumed after the second"
        );
    }
    assert!(w.ledger().await.list(deadline()).await?.is_empty());
    Ok(())
}

/// A pause PUT that fails (503), then a person who turns the campaign off by hand, as
/// the runbook says: the retry does not take the person's `off` for Failsoft's, and
/// recovery leaves it off. It used to be adopted, and turned on after recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_s_off_after_a_failed_pause_put_is_not_adopted() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    w.genesys
        .server
        .faults_in_turn(&format!("{VOICE}/renewals"), &[Fault::Status(503)]);
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    // Runs until the pause has met its 503 (a run may miss moto's 250 ms and act later).
    runs_until(&ex, "crm", || !puts(&w, VOICE, "renewals").is_empty()).await;
    assert_eq!(
        puts(&w, VOICE, "renewals"),
        vec!["off"],
        "the pause PUT was made"
    );
    assert_eq!(w.genesys.status(VOICE, "renewals"), "on", "the PUT failed");
    w.genesys
        .person_sets(VOICE, "renewals", "off", "2026-11-28T02:41:00Z");
    w.settle(&ex, "crm").await?;
    assert!(
        w.ledger().await.list(deadline()).await?.is_empty(),
        "not ours"
    );
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.settle(&ex, "crm").await?;
    assert_eq!(puts(&w, VOICE, "renewals"), vec!["off"], "never turned on");
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    Ok(())
}

/// A resume that does not fit in one run (the probe's budget, a slow Genesys) goes on
/// in the next runs: never `Busy` with its own claim, never counted as failing, never
/// paged "do it by hand" while it is being done.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resume_longer_than_a_run_goes_on_and_is_never_paged_as_failing() -> anyhow::Result<()> {
    let w = world().await?;
    let ids: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    for id in &ids {
        w.genesys.add(VOICE, id, id, "on", "d1");
    }
    let ex = w.executor("probe").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.settle(&ex, "crm").await?;
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.genesys
        .server
        .fault(VOICE, Fault::Slow(Duration::from_millis(400)), None);
    let mut runs = 0;
    while !w.outbox_ids("crm").await?.iter().all(|i| i != "resume") {
        runs += 1;
        anyhow::ensure!(runs <= 12, "the resume never finished");
        // A short budget, as the probe's: room for about two campaigns.
        let _ = ex
            .run("crm", Instant::now() + Duration::from_millis(5_500))
            .await;
        let rec = w.store().await.load("crm").await?;
        if let Some(a) = rec.outbox.get("resume") {
            assert_eq!(a.attempts, 0, "progress is not a failed attempt");
        }
        w.clock.advance(10_000);
    }
    assert!(runs > 1, "it took more than one run ({runs})");
    for id in &ids {
        assert_eq!(w.genesys.status(VOICE, id), "on", "{id}");
    }
    assert!(
        !w.pd
            .requests()
            .iter()
            .any(|(_, k)| k.ends_with("/resume_campaigns")),
        "never paged as failing"
    );
    Ok(())
}

/// Every read of the ledger is strongly consistent, the index included: a pause must
/// see the campaign another breaker's pause just claimed. Read from the requests that
/// reached the table (moto is always consistent, so only the request can tell).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_ledger_read_is_strongly_consistent() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let front = failsoft_testkit::fakes::aws::front(&w.url).await?;
    let conf = sdk_config(&front.url).await;
    let ledger = Ledger {
        client: aws_sdk_dynamodb::Client::new(&conf),
        table: w.table.clone(),
    };
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.settle(&ex, "crm").await?;
    assert_eq!(patiently(|| ledger.list(deadline())).await?.len(), 1);
    let gets: Vec<serde_json::Value> = front
        .requests()
        .iter()
        .filter(|r| r.header("x-amz-target") == Some("DynamoDB_20120810.GetItem"))
        .filter_map(|r| serde_json::from_str(&r.body).ok())
        .collect();
    assert!(gets.len() >= 2, "the index and the item: {}", gets.len());
    for g in &gets {
        assert_eq!(g["ConsistentRead"], json!(true), "{g}");
    }
    Ok(())
}

/// The table adapter makes each ledger write exactly as `Write::apply`, the reference
/// the model checks, says: the same writes, in a sequence that meets each condition
/// both holding and not, leave moto's item and the pure one equal at every step.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_ledger_writes_what_the_reference_says() -> anyhow::Result<()> {
    use failsoft::campaign::api::Kind;
    use failsoft::campaign::ledger::{Entry, Write, Written};
    let w = world().await?;
    let ledger = w.ledger().await;
    let pk = failsoft::campaign::ledger::key(Kind::Voice, "c1");
    let claim = |b: &str, g: u64| Write::Claim {
        kind: Kind::Voice,
        id: "c1".into(),
        name: "Renewals".into(),
        breaker: b.into(),
        generation: g,
        now: T0,
    };
    let join = |b: &str, g: u64| Write::Join {
        breaker: b.into(),
        generation: g,
    };
    let release = |b: &str, g: u64| Write::Release {
        breaker: b.into(),
        generation: g,
    };
    let claim_resume = |o: &str, now: i64| Write::ClaimResume {
        owner: o.into(),
        now,
        until: now + 1_000,
    };
    let leave = Write::Leave {
        note: "left on: changed by someone".into(),
        now: T0,
    };
    let script = vec![
        Write::Acked,
        release("crm", 3),
        claim("crm", 3),
        claim("crm", 4),
        join("crm", 3),
        join("crm", 5),
        join("genesys-api", 1),
        Write::Sent { version: 7, at: T0 },
        Write::Unsent,
        Write::Sent { version: 7, at: T0 },
        Write::Acked,
        claim_resume("a", T0),
        Write::Paused { version: 9 },
        Write::Acked,
        release("crm", 4),
        release("crm", 5),
        claim_resume("a", T0),
        release("genesys-api", 1),
        Write::Resumed { owner: "a".into() },
        claim_resume("a", T0),
        claim_resume("b", T0),
        claim_resume("a", T0 + 500),
        claim_resume("b", T0 + 1_400),
        Write::TakeOver { now: T0 + 5_000 },
        join("crm", 6),
        Write::Resumed { owner: "b".into() },
        Write::TakeOver { now: T0 + 1_000 },
        Write::TakeOver { now: T0 + 5_000 },
        Write::Paused { version: 9 },
        Write::Unclaim { owner: "b".into() },
        release("crm", 6),
        claim_resume("b", T0),
        Write::Unclaim { owner: "a".into() },
        Write::Unclaim { owner: "b".into() },
        claim_resume("a", T0),
        Write::HandBack { owner: "a".into() },
        join("crm", 7),
        Write::Paused { version: 10 },
        release("crm", 7),
        claim_resume("a", T0),
        Write::Resumed { owner: "a".into() },
        claim("crm", 8),
        leave.clone(),
        join("crm", 9),
        claim("crm", 9),
        Write::Forget,
        Write::Forget,
        claim("crm", 10),
    ];
    // Recovery from episode 10 began: its pause, running late, claims and joins nothing.
    let late = [claim("crm", 10), join("crm", 10), join("crm", 11)];
    let mut model: Option<Entry> = None;
    for (i, write) in script.iter().enumerate() {
        let rev = model.as_ref().map_or(0, |e| e.rev);
        let over = patiently(|| ledger.over(deadline())).await?;
        let expected = write.apply(model.as_ref(), rev, &over);
        let got = written(&ledger, &pk, write, rev, &model).await?;
        match (&expected, &got) {
            (None, Written::Refused) => {}
            (Some(None), Written::Gone) => model = None,
            (Some(Some(e)), Written::Now(_)) => model = Some(e.clone()),
            _ => anyhow::bail!("step {i} {write:?}: reference {expected:?}, table {got:?}"),
        }
        let stored = patiently(|| ledger.get(&pk, deadline())).await?;
        assert_eq!(stored, model, "step {i}: {write:?}");
        if matches!(write, Write::Leave { .. }) {
            // A campaign a person took over is remembered for a week, then expires
            // (the entry's model has no TTL, so it is read from the item).
            let item = w
                .dynamo()
                .await
                .get_item()
                .table_name(&w.table)
                .key(
                    "pk",
                    aws_sdk_dynamodb::types::AttributeValue::S(pk.to_string()),
                )
                .consistent_read(true)
                .send()
                .await?;
            let ttl = item
                .item()
                .and_then(|i| i.get("expires_at"))
                .and_then(|v| v.as_n().ok())
                .cloned();
            let week = failsoft::campaign::step::LEFT_KEPT_MS;
            assert_eq!(ttl, Some(((T0 + week) / 1000).to_string()), "step {i}");
        }
    }
    patiently(|| ledger.end("crm", 10, deadline())).await?;
    patiently(|| ledger.end("crm", 9, deadline())).await?;
    let over = patiently(|| ledger.over(deadline())).await?;
    assert_eq!(over.get("crm"), Some(&10));
    for (write, refused) in late.iter().zip([true, true, false]) {
        let rev = model.as_ref().map_or(0, |e| e.rev);
        let expected = write.apply(model.as_ref(), rev, &over);
        let got = written(&ledger, &pk, write, rev, &model).await?;
        assert_eq!(expected.is_none(), got == Written::Refused, "{write:?}");
        assert_eq!(expected.is_none(), refused, "{write:?}");
        if let Some(after) = expected {
            model = after;
        }
        let stored = patiently(|| ledger.get(&pk, deadline())).await?;
        assert_eq!(stored, model, "{write:?}");
    }
    Ok(())
}

/// Runs `ex` on `breaker` as the stream's deliveries and retries would, until `done`
/// holds (five runs at most: a run whose first read misses its 250 ms on a loaded moto
/// fails as a stream batch would, and the next run is its retry). What follows judges.
async fn runs_until(ex: &Executor, breaker: &str, done: impl Fn() -> bool) {
    for _ in 0..5 {
        if done() {
            return;
        }
        let _ = ex.run(breaker, deadline()).await;
    }
}

/// The executor's campaign pause, which every executor of these tests has.
fn campaigns(ex: &Executor) -> anyhow::Result<&Campaigns> {
    ex.campaigns
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("campaigns configured"))
}

/// A campaign Genesys keeps `stopping` for `longer` reads after its pause PUT, and
/// crm's outage, whose first pause attempt has turned it off and waits for it: the
/// world, the executor, crm and the pause's episode.
async fn stopping(longer: u32) -> anyhow::Result<(World, Executor, Breaker, String)> {
    use failsoft::campaign::CampaignError;
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    if let Ok(mut book) = w.genesys.book.lock() {
        book.stopping_longer = longer;
    }
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    let episode = episode_of(&w, "crm", "pause").await?;
    let c = campaigns(&ex)?;
    let first = campaign_call(|| c.pause(&episode, deadline())).await;
    anyhow::ensure!(first == Err(CampaignError::Stopping(1)), "{first:?}");
    Ok((w, ex, crm, episode))
}

/// The first of up to `tries` campaign calls that succeeds.
async fn first_ok<T, F, Fut>(tries: usize, f: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, failsoft::campaign::CampaignError>>,
{
    for _ in 0..tries {
        if let Ok(r) = campaign_call(&f).await {
            return Some(r);
        }
    }
    None
}

/// `c` with its ledger reached through a fault front: what a test does to the front,
/// it does to the ledger's table.
async fn through_front(
    w: &World,
    c: &Campaigns,
) -> anyhow::Result<(failsoft_testkit::fakes::http::FakeServer, Campaigns)> {
    let front = failsoft_testkit::fakes::aws::front(&w.url).await?;
    let through = Campaigns {
        api: c.api.clone(),
        ledger: Ledger {
            client: aws_sdk_dynamodb::Client::new(&sdk_config(&front.url).await),
            table: w.table.clone(),
        },
        divisions: Vec::new(),
        clock: w.clock.clone(),
    };
    Ok((front, through))
}

/// A ledger read asked again when moto, under a loaded test run, misses the ledger's
/// 250 ms request timeout.
async fn patiently<T, F, Fut>(f: F) -> anyhow::Result<T>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, failsoft::store::StoreError>>,
{
    for _ in 0..20 {
        match f().await {
            Err(failsoft::store::StoreError::Timeout) => continue,
            r => return Ok(r?),
        }
    }
    anyhow::bail!("the table never answered in time")
}

/// `Ledger::write`; one that timed out is learned by reading the item: changed (it
/// landed) or as it was (asked again).
async fn written(
    ledger: &Ledger,
    pk: &str,
    write: &failsoft::campaign::ledger::Write,
    rev: u64,
    before: &Option<failsoft::campaign::ledger::Entry>,
) -> anyhow::Result<failsoft::campaign::ledger::Written> {
    use failsoft::campaign::ledger::Written;
    for _ in 0..20 {
        match ledger.write(pk, write, rev, deadline()).await {
            Err(failsoft::store::StoreError::Timeout) => {
                let now_is = patiently(|| ledger.get(pk, deadline())).await?;
                if now_is == *before {
                    continue;
                }
                return Ok(now_is.map_or(Written::Gone, Written::Now));
            }
            r => return Ok(r?),
        }
    }
    anyhow::bail!("the write never got an answer")
}

/// PagerDuty refuses a page once (500): the run tries again within its invocation, and
/// the page is delivered seconds later, not at the next run (the probe's next minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_refused_once_is_delivered_within_the_same_run() -> anyhow::Result<()> {
    use failsoft_testkit::fakes::pagerduty::EVENTS_PATH;
    let w = world().await?;
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    w.pd.server
        .faults_in_turn(EVENTS_PATH, &[Fault::Status(500)]);
    open(&crm).await?;
    // The clock stands still: a page deferred after the 500 would not be due again, so
    // a delivery proves the retry within the run. (Runs repeat only when one missed
    // moto's 250 ms before it acted.)
    runs_until(&ex, "crm", || !w.pd.incidents().is_empty()).await;
    assert!(
        w.pd.incidents()
            .iter()
            .any(|i| i.dedup_key.starts_with("crm/")),
        "delivered in the run that met the 500"
    );
    assert!(
        !w.outbox_ids("crm").await?.contains(&"trigger".to_string()),
        "nothing left for a later run: {:?}",
        w.outbox_ids("crm").await?
    );
    Ok(())
}

/// PagerDuty asks for a pause longer than the run should wait (429, Retry-After 3 s):
/// the run does not sleep on it; the page waits in the outbox for its time. Found by the
/// action code's mutation run (a `>` made `==` on the pause's bound went unnoticed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_told_to_wait_longer_than_a_run_waits_is_left_for_later() -> anyhow::Result<()> {
    use failsoft_testkit::fakes::pagerduty::EVENTS_PATH;
    let w = world().await?;
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    w.pd.server
        .faults_in_turn(EVENTS_PATH, &[Fault::TooMany { retry_after_s: 3 }]);
    open(&crm).await?;
    runs_until(&ex, "crm", || !w.pd.requests().is_empty()).await;
    assert_eq!(
        w.pd.requests().len(),
        1,
        "one try: the run did not wait 3 s to try again"
    );
    assert!(w.pd.incidents().is_empty());
    assert!(
        w.outbox_ids("crm")
            .await?
            .iter()
            .any(|i| i.ends_with("trigger")),
        "the page waits for later: {:?}",
        w.outbox_ids("crm").await?
    );
    Ok(())
}

/// A page PagerDuty refused through its tries is not due again until its backoff has
/// passed: a run in between (the next stream record) sends nothing; one after it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_page_waits_for_its_backoff_before_the_next_try() -> anyhow::Result<()> {
    use failsoft_testkit::fakes::pagerduty::EVENTS_PATH;
    let w = world().await?;
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    w.pd.server.fault(EVENTS_PATH, Fault::Status(500), None);
    open(&crm).await?;
    runs_until(&ex, "crm", || !w.pd.requests().is_empty()).await;
    let tried = w.pd.requests().len();
    assert!(tried > 0, "the page was tried");
    // The clock stands still: the page is not due.
    let _ = ex.run("crm", deadline()).await;
    assert_eq!(
        w.pd.requests().len(),
        tried,
        "tried again before its backoff"
    );
    // Past the backoff (10 s by default, doubled per attempt), it is tried again.
    w.pd.server.clear_faults();
    w.clock.advance(120_000);
    runs_until(&ex, "crm", || !w.pd.incidents().is_empty()).await;
    assert!(w.pd.requests().len() > tried);
    assert_eq!(w.pd.incidents().len(), 1, "delivered once due");
    Ok(())
}

/// A campaign action keeps failing, and PagerDuty does not take the page that says so:
/// the page waits in the outbox and is delivered once PagerDuty is back. It used to be
/// sent once and lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_actions_page_that_pagerduty_refused_is_delivered_later() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    w.genesys.server.fault(VOICE, Fault::Status(500), None);
    w.pd.server.fault_if_body(
        "content-type",
        "application/json",
        "pause_campaigns",
        Fault::Status(500),
    );
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    let failing = |w: &World| {
        w.pd.incidents()
            .into_iter()
            .filter(|i| i.dedup_key.ends_with("/pause_campaigns"))
            .count()
    };
    for _ in 0..10 {
        let attempts = w
            .store()
            .await
            .load("crm")
            .await?
            .outbox
            .get("pause")
            .map_or(0, |a| a.attempts);
        if attempts >= 3 {
            break;
        }
        let _ = ex.run("crm", deadline()).await;
        w.clock.advance(60_000);
    }
    assert_eq!(failing(&w), 0, "PagerDuty refused it");
    assert!(
        w.outbox_ids("crm")
            .await?
            .iter()
            .any(|i| i == "work-failing-pause_campaigns"),
        "queued: {:?}",
        w.outbox_ids("crm").await?
    );
    w.pd.server.clear_faults();
    for _ in 0..5 {
        if failing(&w) > 0 {
            break;
        }
        w.clock.advance(60_000);
        let _ = ex.run("crm", deadline()).await;
    }
    assert_eq!(failing(&w), 1, "delivered once PagerDuty is back");
    Ok(())
}

/// A ledger item written before campaigns were held by episodes (`holders` SS with the
/// breaker's name, `acked`), as a deployment upgraded mid-outage has: the recovery of
/// that breaker's episode lets go of it and resumes the campaign, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ledger_item_from_before_episodes_is_resumed_by_the_upgrade() -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "off", "d1");
    let version = w.genesys.campaign(VOICE, "renewals")["version"]
        .as_i64()
        .unwrap_or(0);
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(&w.url).await);
    let pk = "campaign#voice#renewals";
    client
        .put_item()
        .table_name(&w.table)
        .item("pk", V::S(pk.into()))
        .item("kind", V::S("voice".into()))
        .item("cid", V::S("renewals".into()))
        .item("name", V::S("Renewals".into()))
        .item("holders", V::Ss(vec!["crm".into()]))
        .item("state", V::S("paused".into()))
        .item("version", V::N(version.to_string()))
        .item("paused_ms", V::N(T0.to_string()))
        .item("acked", V::Bool(true))
        .send()
        .await?;
    client
        .put_item()
        .table_name(&w.table)
        .item("pk", V::S("campaign#index".into()))
        .item("keys", V::Ss(vec![pk.into()]))
        .send()
        .await?;
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.settle(&ex, "crm").await?;
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.settle(&ex, "crm").await?;
    assert_eq!(puts(&w, VOICE, "renewals"), vec!["on"], "resumed once");
    assert!(patiently(|| w.ledger_list()).await?.is_empty());
    Ok(())
}

/// Genesys rate-limits the campaign with a pause longer than a run waits (429,
/// Retry-After 600 s): the pause is not tried again until then, however often the
/// executor runs, and goes through after it. Found by the action code's mutation run
/// (the campaign error's Retry-After dropped: the pause came back after the 10 s backoff).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_rate_limit_longer_than_a_run_is_waited_out_across_runs() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let path = format!("{VOICE}/renewals");
    w.genesys
        .server
        .fault(&path, Fault::TooMany { retry_after_s: 600 }, None);
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    let to_it = || w.genesys.server.hits("*", &path);
    runs_until(&ex, "crm", || to_it() > 0).await;
    let tried = to_it();
    assert!(tried > 0, "the pause was tried");
    // Past any backoff of the first attempts, short of Retry-After.
    w.clock.advance(120_000);
    let _ = ex.run("crm", deadline()).await;
    assert_eq!(to_it(), tried, "tried again before its Retry-After");
    w.genesys.server.clear_faults();
    w.clock.advance(600_000);
    w.delivered(&ex, "crm").await?;
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    Ok(())
}

/// An executor dies while PagerDuty holds its page's request (the run's future is
/// dropped, as a Lambda instance ends): its claim on the page keeps others off while it
/// may still be sending, and ends, so that the next executor sends the page. Found by
/// the action code's mutation run (a claim without end went unnoticed).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_page_claimed_by_an_executor_that_died_is_sent_once_its_claim_ends() -> anyhow::Result<()>
{
    use failsoft_testkit::fakes::pagerduty::EVENTS_PATH;
    let w = world().await?;
    let died = w.executor("stream").await;
    let next = w.executor("probe").await;
    let crm = w.breaker("crm", pausing()).await;
    w.pd.server.fault(EVENTS_PATH, Fault::Hang, None);
    open(&crm).await?;
    for _ in 0..5 {
        let _ = tokio::time::timeout(Duration::from_secs(2), died.run("crm", deadline())).await;
        if !w.pd.requests().is_empty() {
            break;
        }
    }
    assert!(!w.pd.requests().is_empty(), "the dead executor was sending");
    w.pd.server.clear_faults();
    let _ = next.run("crm", deadline()).await;
    assert!(
        w.pd.incidents().is_empty(),
        "nobody else sends while the claim holds"
    );
    // Past the page's claim (15 s).
    w.clock.advance(15_001);
    runs_until(&next, "crm", || !w.pd.incidents().is_empty()).await;
    assert_eq!(w.pd.incidents().len(), 1, "the page is sent, once");
    Ok(())
}

/// A resume out of time says how many campaigns it left for the next run: those still
/// off, not more. Found by the action code's mutation run (the count made `total + i`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resume_out_of_time_counts_what_it_left() -> anyhow::Result<()> {
    use failsoft::campaign::CampaignError;
    let w = world().await?;
    let ids = ["c0", "c1", "c2"];
    for id in ids {
        w.genesys.add(VOICE, id, id, "on", "d1");
    }
    let ex = w.executor("probe").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.settle(&ex, "crm").await?;
    release(&crm).await?;
    let episode = w
        .store()
        .await
        .load("crm")
        .await?
        .outbox
        .get("resume")
        .map(|a| a.dedup_key.clone())
        .ok_or_else(|| anyhow::anyhow!("a resume is queued"))?;
    w.clock.advance(DELAY + 1);
    let c = campaigns(&ex)?;
    // Each campaign's read and PUT take 1.5 s: room for one in 6 s (a campaign wants 4).
    w.genesys
        .server
        .fault(VOICE, Fault::Slow(Duration::from_millis(1_500)), None);
    let r = c
        .resume(&episode, "probe-x", Instant::now() + Duration::from_secs(6))
        .await;
    let off = ids
        .iter()
        .filter(|id| w.genesys.status(VOICE, id) == "off")
        .count();
    assert!(off > 0, "not all resumed in 6 s");
    assert_eq!(r, Err(CampaignError::Unfinished(off)));
    Ok(())
}

/// Every request counts against the org's rate limit, shared with the contact center's
/// own integrations. A pause takes the campaign from its list, PUTs it off, reads it once
/// to see it settle, and once more in its pass over every entry still stopping; a resume
/// reads it once and PUTs it on. Nothing more. Found by the action code's mutation run
/// (what a claim kept of the campaign read, made to be dropped and read again).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pause_and_a_resume_spend_no_request_they_do_not_need() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let path = format!("{VOICE}/renewals");
    let to_it = |method: &str| w.genesys.server.hits(method, &path);
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.delivered(&ex, "crm").await?;
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    assert_eq!((to_it("GET"), to_it("PUT")), (2, 1), "the pause");
    release(&crm).await?;
    w.clock.advance(DELAY + 1);
    w.delivered(&ex, "crm").await?;
    assert_eq!(w.genesys.status(VOICE, "renewals"), "on");
    assert_eq!((to_it("GET"), to_it("PUT")), (3, 2), "and the resume");
    Ok(())
}

/// The pause's PUT is answered 503 (it may have landed, and here it did not): its fate is
/// read back; once a read made after the PUT's bound finds the campaign still `on` at the
/// version sent, the PUT is known not to have landed and is sent again, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pause_put_that_did_not_land_is_sent_again_once() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let path = format!("{VOICE}/renewals");
    let to_it = |method: &str| w.genesys.server.hits(method, &path);
    w.genesys
        .server
        .faults_in_turn(&path, &[Fault::Status(503)]);
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    runs_until(&ex, "crm", || to_it("PUT") > 0).await;
    assert_eq!(to_it("PUT"), 1);
    assert_eq!(w.genesys.status(VOICE, "renewals"), "on", "it did not land");
    w.clock.advance(60_000);
    w.delivered(&ex, "crm").await?;
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    assert_eq!(to_it("PUT"), 2, "sent again, once");
    Ok(())
}

/// An outage opens and ends before PagerDuty takes its trigger (it answers 500): the
/// resolve waits behind the trigger of its episode, never reaching PagerDuty first (a
/// resolve before its trigger is dropped, and the trigger then opens an incident nobody
/// closes). Once PagerDuty answers, both go, in order. Found by the action code's
/// mutation run (the lane's block ignored).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resolve_never_overtakes_its_refused_trigger() -> anyhow::Result<()> {
    use failsoft_testkit::fakes::pagerduty::EVENTS_PATH;
    let w = world().await?;
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", Policy::default()).await;
    w.pd.server.fault(EVENTS_PATH, Fault::Status(500), None);
    open(&crm).await?;
    release(&crm).await?;
    let mut run = None;
    for _ in 0..5 {
        run = ex.run("crm", deadline()).await.ok();
        if run.is_some() {
            break;
        }
    }
    // The run says so: the trigger tried and refused, the resolve held behind it.
    assert_eq!(
        run,
        Some(Delivery {
            sent: 0,
            pending: 2
        })
    );
    let actions: Vec<String> = w.pd.requests().into_iter().map(|(a, _)| a).collect();
    assert!(!actions.is_empty(), "the trigger was tried");
    assert!(
        actions.iter().all(|a| a == "trigger"),
        "nothing but the trigger: {actions:?}"
    );
    w.pd.server.clear_faults();
    w.clock.advance(3_600_000);
    w.delivered(&ex, "crm").await?;
    let actions: Vec<String> = w.pd.requests().into_iter().map(|(a, _)| a).collect();
    assert!(actions.iter().any(|a| a == "resolve"), "{actions:?}");
    let incidents = w.pd.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert!(incidents[0].resolved, "the incident is resolved");
    Ok(())
}

/// An instance that cannot page (no `ALERT_SECRET_ID`) leaves pages alone: it does its
/// campaign work, and the page is neither claimed nor counted as failing, so the first
/// instance that can page sends it at once, not after a backoff.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_that_cannot_page_leaves_the_page_to_one_that_can() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let mut mute = w.executor("mute").await;
    mute.pager = None;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    w.delivered(&mute, "crm").await?;
    assert_eq!(
        w.genesys.status(VOICE, "renewals"),
        "off",
        "its own work done"
    );
    assert!(w.pd.requests().is_empty());
    let rec = w.store().await.load("crm").await?;
    let trigger = rec
        .outbox
        .values()
        .find(|a| a.id.ends_with("trigger"))
        .ok_or_else(|| anyhow::anyhow!("the page waits: {:?}", rec.outbox.keys()))?;
    assert_eq!((trigger.attempts, trigger.claim.is_none()), (0, true));
    // The clock stands still: a page deferred by a backoff would not go now.
    let ex = w.executor("stream").await;
    w.delivered(&ex, "crm").await?;
    assert_eq!(w.pd.incidents().len(), 1, "sent at once");
    Ok(())
}

/// The probe's backstop (`run_all`) acts on every breaker that has work, and accounts for
/// it: one breaker's page sent; the other's, whose claim the table refused (500s), not
/// sent, counted pending (the `ActionsPending` metric), and sent by a later run.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_probes_backstop_acts_on_every_breaker_and_counts_what_waits() -> anyhow::Result<()> {
    let w = world().await?;
    let front = failsoft_testkit::fakes::aws::front(&w.url).await?;
    let through = failsoft_testkit::services(&front.url, &w.table, w.clock.clone()).await;
    let ex = Executor::build(&through, &w.env(), "probe")?;
    let crm = w.breaker("crm", Policy::default()).await;
    let api = w.breaker("genesys-api", Policy::default()).await;
    open(&crm).await?;
    open(&api).await?;
    front.fault_if_body(
        "x-amz-target",
        "DynamoDB_20120810.UpdateItem",
        "breaker#crm",
        failsoft_testkit::fakes::aws::internal_error(),
    );
    // Runs until genesys-api's page is out and crm's has been counted waiting (a run
    // whose read of a breaker misses moto's 250 ms leaves that breaker to the next).
    let mut total = Delivery::default();
    for _ in 0..5 {
        total += ex.run_all(deadline()).await;
        if total.sent > 0 && total.pending > 0 {
            break;
        }
    }
    assert_eq!(total.sent, 1, "{total:?}");
    assert!(total.pending > 0, "{total:?}");
    let keys =
        |w: &World| -> Vec<String> { w.pd.incidents().into_iter().map(|i| i.dedup_key).collect() };
    assert_eq!(keys(&w).len(), 1);
    assert!(keys(&w)[0].starts_with("genesys-api/"), "{:?}", keys(&w));
    front.clear_faults();
    for _ in 0..5 {
        if keys(&w).len() == 2 {
            break;
        }
        ex.run_all(deadline()).await;
    }
    assert_eq!(keys(&w).len(), 2, "crm's page sent once the table answers");
    Ok(())
}

/// A campaign call of `Campaigns`, asked again when a ledger request missed its 250 ms
/// on a loaded moto; any other answer is the call's.
async fn campaign_call<T, F, Fut>(f: F) -> Result<T, failsoft::campaign::CampaignError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, failsoft::campaign::CampaignError>>,
{
    use failsoft::campaign::CampaignError;
    let mut last = None;
    for _ in 0..5 {
        match f().await {
            Err(e @ CampaignError::Ledger(_)) => last = Some(e),
            r => return r,
        }
    }
    Err(last.unwrap_or(CampaignError::Unfinished(0)))
}

/// The episode of `breaker`'s queued campaign action `id` (`pause` or `resume`).
async fn episode_of(w: &World, breaker: &str, id: &str) -> anyhow::Result<String> {
    w.store()
        .await
        .load(breaker)
        .await?
        .outbox
        .get(id)
        .map(|a| a.dedup_key.clone())
        .ok_or_else(|| anyhow::anyhow!("no {id} queued"))
}

/// A pause PUT that meets a moved version (409, a person's edit in between) is read and
/// sent again within the same attempt: one conflict is not a failure. Found by the
/// action code's mutation run (the conflict limit's `>=` made `<`: the first conflict
/// failed the attempt, and the campaign dialled on until the retry).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_version_conflict_is_read_again_within_the_attempt() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let conflict = Response::json(
        409,
        &json!({"message": "version must match", "code": "conflict"}),
    );
    w.genesys
        .server
        .faults_in_turn(&format!("{VOICE}/renewals"), &[Fault::Respond(conflict)]);
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    let episode = episode_of(&w, "crm", "pause").await?;
    let c = campaigns(&ex)?;
    let r = campaign_call(|| c.pause(&episode, deadline())).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    assert_eq!(puts(&w, VOICE, "renewals"), vec!["off", "off"]);
    Ok(())
}

/// Genesys answers every resume PUT 503: the resume fails, says so, and keeps its entry
/// for the retry (the campaign stays off, Failsoft's to turn on). It must never report
/// done for a campaign it could not turn on. Found by the action code's mutation run (a
/// failed PUT to `on` taken as a step done: the resume reported success).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resume_whose_puts_fail_says_so_and_keeps_the_campaign() -> anyhow::Result<()> {
    use failsoft::campaign::CampaignError;
    let w = world().await?;
    let (ex, crm) = w.paused(&[("renewals", "Renewals")]).await?;
    release(&crm).await?;
    let episode = episode_of(&w, "crm", "resume").await?;
    w.clock.advance(DELAY + 1);
    // The PUTs alone (a JSON body); the reads pass.
    w.genesys
        .server
        .fault_if_body("content-type", "application/json", "", Fault::Status(503));
    let c = campaigns(&ex)?;
    let r = campaign_call(|| c.resume(&episode, "stream-x", deadline())).await;
    assert!(matches!(r, Err(CampaignError::Api(_))), "{r:?}");
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    assert_eq!(
        w.ledger().await.list(deadline()).await?.len(),
        1,
        "kept for the retry"
    );
    Ok(())
}

/// A ledger item DynamoDB's TTL removed (a campaign left off a week ago) leaves the
/// index with it, at the next listing: the index stays as small as the ledger. Found by
/// the action code's mutation run (the pruning made a no-op: the index only grew).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_item_the_ttl_removed_leaves_the_index_too() -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::AttributeValue;
    use failsoft::campaign::ledger::INDEX;
    let w = world().await?;
    w.paused(&[("renewals", "Renewals"), ("winback", "Win-back")])
        .await?;
    let ledger = w.ledger().await;
    let entries = patiently(|| ledger.list(deadline())).await?;
    assert_eq!(entries.len(), 2);
    let gone = entries[0].key();
    // As DynamoDB's TTL deletes an expired item: the item alone.
    ledger
        .client
        .delete_item()
        .table_name(&w.table)
        .key("pk", AttributeValue::S(gone.clone()))
        .send()
        .await?;
    let left = patiently(|| ledger.list(deadline())).await?;
    assert_eq!(left.len(), 1);
    let index = ledger
        .client
        .get_item()
        .table_name(&w.table)
        .key("pk", AttributeValue::S(INDEX.into()))
        .consistent_read(true)
        .send()
        .await?;
    let keys = index
        .item()
        .and_then(|i| i.get("keys"))
        .and_then(|v| v.as_ss().ok())
        .cloned()
        .unwrap_or_default();
    assert_eq!(keys, vec![left[0].key()], "{gone} pruned from the index");
    Ok(())
}

/// A campaign that stays `stopping` (its calls in progress still ending) keeps the
/// pause unfinished: the pause is done only once every campaign is seen `off`. Found by
/// the action code's mutation run (the count of campaigns still stopping made to stay
/// 0: the pause reported done while one was still stopping).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pause_is_done_only_once_every_campaign_is_seen_off() -> anyhow::Result<()> {
    let (w, ex, _crm, episode) = stopping(2).await?;
    let c = campaigns(&ex)?;
    let done = first_ok(3, || c.pause(&episode, deadline())).await;
    assert!(done.is_some(), "done once it is seen off");
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    Ok(())
}

/// The outage ends while a paused campaign is still `stopping` in Genesys (its pause
/// not yet settled): the resume waits for it, says so (`Stopping`), and turns it on
/// once it is seen off. It must never report done with the campaign still to settle:
/// nothing would turn it on again. Found by the action code's mutation run (the count of
/// campaigns still stopping never read).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resume_waits_for_a_campaign_still_stopping_and_then_turns_it_on() -> anyhow::Result<()> {
    use failsoft::campaign::CampaignError;
    let (w, ex, crm, _) = stopping(3).await?;
    release(&crm).await?;
    let resume = episode_of(&w, "crm", "resume").await?;
    let c = campaigns(&ex)?;
    let waited = campaign_call(|| c.resume(&resume, "ex", deadline())).await;
    assert_eq!(waited, Err(CampaignError::Stopping(1)), "not done yet");
    let done = first_ok(5, || c.resume(&resume, "ex", deadline())).await;
    assert!(done.is_some(), "done once it is seen off");
    assert_eq!(w.genesys.status(VOICE, "renewals"), "on");
    assert!(w.ledger_list().await?.is_empty());
    Ok(())
}

/// A second breaker's pause that runs after its own outage's resume (a late delivery):
/// its episode is over, so its hold is refused, and it stops there, having joined
/// nothing, with one refused write per campaign. Found by the action code's mutation run
/// (a refused join read as a lost race: tried again, up to the step limit).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_pause_of_an_ended_outage_joins_nothing_and_stops() -> anyhow::Result<()> {
    let w = world().await?;
    let (ex, _crm) = w.paused(&[("renewals", "Renewals")]).await?;
    let api = w.breaker("genesys-api", pausing()).await;
    open(&api).await?;
    let pause = episode_of(&w, "genesys-api", "pause").await?;
    release(&api).await?;
    let resume = episode_of(&w, "genesys-api", "resume").await?;
    let c = campaigns(&ex)?;
    campaign_call(|| c.resume(&resume, "ex", deadline())).await?;
    // The late pause's ledger requests, counted at a front.
    let (front, through) = through_front(&w, c).await?;
    let late = campaign_call(|| through.pause(&pause, deadline())).await?;
    assert_eq!((late.paused.len(), late.joined), (0, 0), "{late:?}");
    let writes = front
        .requests()
        .iter()
        .filter(|r| {
            r.header("x-amz-target")
                .is_some_and(|t| t.ends_with("UpdateItem") || t.ends_with("TransactWriteItems"))
        })
        .count();
    assert!(writes <= 2, "{writes} ledger writes");
    let held = w.ledger_list().await?;
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].holds.keys().collect::<Vec<_>>(),
        vec!["crm"],
        "crm's hold alone"
    );
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    Ok(())
}

/// The ledger's transactions are refused (an IAM policy without
/// `dynamodb:TransactWriteItems`: DynamoDB's 400 AccessDeniedException, through a fault
/// front), then throttled: the pause fails and says so, and turns nothing off
/// unrecorded; it never takes the refusal for another pause's claim, which would leave
/// the campaign dialling with the pause done. Once the table answers, the retry pauses
/// it. Found by the action code's mutation run (every failed transaction read as a
/// condition that did not hold).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_ledger_fails_the_pause_and_is_never_taken_for_a_claim() -> anyhow::Result<()> {
    let w = world().await?;
    w.genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    let ex = w.executor("stream").await;
    let crm = w.breaker("crm", pausing()).await;
    open(&crm).await?;
    let episode = episode_of(&w, "crm", "pause").await?;
    let (front, through) = through_front(&w, campaigns(&ex)?).await?;
    for fault in [
        failsoft_testkit::fakes::aws::aws_error(
            400,
            "AccessDeniedException",
            "not authorized to perform: dynamodb:TransactWriteItems",
        ),
        failsoft_testkit::fakes::aws::throttled(),
    ] {
        front.clear_faults();
        front.fault_if_body(
            "x-amz-target",
            "DynamoDB_20120810.TransactWriteItems",
            "campaign#",
            fault,
        );
        let r = through.pause(&episode, deadline()).await;
        assert!(
            matches!(r, Err(failsoft::campaign::CampaignError::Ledger(_))),
            "{r:?}"
        );
        let status = w.genesys.status(VOICE, "renewals");
        assert_eq!(status, "on", "nothing unrecorded");
    }
    front.clear_faults();
    let r = campaign_call(|| through.pause(&episode, deadline())).await;
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(w.genesys.status(VOICE, "renewals"), "off");
    Ok(())
}
