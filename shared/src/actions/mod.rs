//! The outage actions executor: runs what a breaker's transitions called for (pages,
//! campaign pauses and resumes), each entry claimed with a conditional write before it
//! is acted on, so the stream, its retries and the probe never act twice. The
//! outage-actions function runs it on the state table's stream within about a second
//! of a transition; the health probe runs it every minute as the backstop.

pub mod history;
mod stream;

pub use history::{Done, History};
pub use stream::{Change, StreamEvent, StreamRecord};

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::alert::{AlertConfig, PagerDuty, Sent};
use crate::breaker::{Action, Applied, BreakerStore, Op, OutboxEntry, Record};
use crate::campaign::Campaigns;
use crate::clock::{Clock, Millis};
use crate::config::Env;
use crate::genesys::{GenesysApi, DEFAULT_PER_MINUTE};
use crate::metrics;
use crate::overflow::{Mode, Overflow, OverflowError, Request};
use crate::service::{InitError, Services};
use crate::store::{request_deadline, StoreError};

/// At most this many entries acted on per run: PagerDuty allows about 120 events a
/// minute per key.
pub const MAX_PER_RUN: usize = 20;
/// A page's claim; a campaign action's claim, which covers its whole attempt.
const PAGE_CLAIM_MS: Millis = 15_000;
const CAMPAIGN_CLAIM_MS: Millis = 120_000;
/// The longest one campaign action's attempt may run, well inside its claim.
const CAMPAIGN_ATTEMPT: Duration = Duration::from_secs(60);
/// A campaign action that made progress and must go on (Genesys still stopping a
/// campaign, another executor resuming one, the run out of time) goes on this soon.
const PROGRESS_RETRY_MS: Millis = 5_000;
/// An automatic overflow waiting for the backup to be proven ready tries again after
/// the probe's next check.
const READINESS_RETRY_S: u64 = 60;
/// A campaign action that failed this many times is paged, with what failed.
pub const PAGE_AFTER_ATTEMPTS: u32 = 3;

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub sent: u32,
    pub pending: u32,
}

impl std::ops::AddAssign for Delivery {
    fn add_assign(&mut self, o: Delivery) {
        self.sent += o.sent;
        self.pending += o.pending;
    }
}

/// One outbox entry as people read it, on the board and in `failsoft actions`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionView {
    pub breaker: String,
    pub id: String,
    pub action: String,
    pub episode: String,
    /// `in progress`, `pending`, `waiting` (a backoff or a resume's delay) or `failing`.
    pub status: &'static str,
    pub attempts: u32,
    pub next_at: String,
}

/// What `r` still calls for, oldest first.
pub fn views(r: &Record, now: Millis) -> Vec<ActionView> {
    let mut out: Vec<ActionView> = r
        .outbox
        .values()
        .map(|a| ActionView {
            breaker: r.name.clone(),
            id: a.id.clone(),
            action: a.action.as_str().to_string(),
            episode: a.dedup_key.clone(),
            status: if !a.is_free(now) {
                "in progress"
            } else if a.attempts >= PAGE_AFTER_ATTEMPTS {
                "failing"
            } else if a.next_ms > now {
                "waiting"
            } else {
                "pending"
            },
            attempts: a.attempts,
            next_at: crate::clock::iso8601(a.next_ms),
        })
        .collect();
    out.sort_by(|a, b| (&a.next_at, &a.id).cmp(&(&b.next_at, &b.id)));
    out
}

impl Executor {
    /// Run the outbox of every breaker whose actions changed in this batch, each once.
    /// Returns the partial batch response: the records of breakers that could not be
    /// read, so that Lambda retries them (and bisects), not the whole batch.
    pub async fn on_stream(&self, event: &StreamEvent, deadline: Instant) -> serde_json::Value {
        let mut failed: Vec<serde_json::Value> = Vec::new();
        for (breaker, seqs) in event.changed() {
            if let Err(e) = self.run(breaker, deadline).await {
                tracing::warn!(breaker, error = %e, "outbox unreadable; the records go back to the stream");
                failed.extend(
                    seqs.into_iter()
                        .map(|s| serde_json::json!({"itemIdentifier": s})),
                );
            }
        }
        serde_json::json!({"batchItemFailures": failed})
    }
}

/// How one attempt at an entry ended.
enum Outcome {
    /// Done, refused for good, or no longer called for: the entry leaves the outbox.
    Done(String),
    /// Try again later, not before `after_s` if the far end said so. `failed`: false
    /// when the work went on and only ran out of time or waits on others (not counted
    /// as an attempt, never paged).
    Retry {
        after_s: Option<u64>,
        why: String,
        failed: bool,
    },
}

impl Outcome {
    fn retry(why: impl Into<String>) -> Outcome {
        Outcome::Retry {
            after_s: None,
            why: why.into(),
            failed: true,
        }
    }
}

pub struct Executor {
    pub store: Arc<dyn BreakerStore>,
    pub pager: Option<PagerDuty>,
    pub campaigns: Option<Campaigns>,
    /// The automatic regional overflow (`OVERFLOW_AUTO_ON`).
    pub overflow: Option<Overflow>,
    /// Where what is done is noted, for `failsoft actions` and the board.
    pub history: Option<History>,
    pub clock: Arc<dyn Clock>,
    /// This instance's claim owner.
    pub owner: String,
}

/// Which of an episode's entries go in order: its pages among themselves, the campaign
/// pause before its resume, the overflow's switch before its restore. One lane never
/// waits for another: a campaign resume does not wait out the overflow's restore delay,
/// and an overflow that keeps failing does not hold the campaigns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Lane {
    Pages,
    Campaigns,
    Overflow,
}

impl Lane {
    fn of(a: Action) -> Lane {
        match Work::of(a) {
            Work::Page => Lane::Pages,
            Work::Overflow { .. } => Lane::Overflow,
            Work::Campaigns { .. } | Work::Unknown => Lane::Campaigns,
        }
    }
}

/// What an outbox entry asks of this executor: a page, or one of the effects the
/// registry (`dependency`) gives the breakers, known here by their stored names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    Page,
    Campaigns {
        pause: bool,
    },
    Overflow {
        on: bool,
    },
    /// An effect this version does not register (left by another version): dropped.
    Unknown,
}

impl Work {
    fn of(a: Action) -> Work {
        use crate::dependency::{CAMPAIGN_PAUSE, OVERFLOW};
        match a {
            Action::Effect(n) if n == CAMPAIGN_PAUSE.on => Work::Campaigns { pause: true },
            Action::Effect(n) if n == CAMPAIGN_PAUSE.off => Work::Campaigns { pause: false },
            Action::Effect(n) if n == OVERFLOW.on => Work::Overflow { on: true },
            Action::Effect(n) if n == OVERFLOW.off => Work::Overflow { on: false },
            Action::Effect(_) => Work::Unknown,
            Action::Trigger | Action::Resolve | Action::Summary => Work::Page,
        }
    }
}

/// The outbox slot of a failing action's page that could not be sent at once: one per
/// action kind, so the record stays bounded.
const FAILING_PREFIX: &str = "work-failing-";
/// One page send, and its retries within the invocation (0.25 s, then 0.5 s apart): a
/// refusal PagerDuty means as passing (500, a reset, a 429 asking for a second or two)
/// costs under a second, not the next run. Each try at most 5 s; never past `deadline`.
const PAGE_TRIES: u32 = 3;

async fn send_page(
    pd: &PagerDuty,
    breaker: &str,
    a: &OutboxEntry,
    tries_at_most: u32,
    deadline: Instant,
) -> Sent {
    let mut wait = Duration::from_millis(250);
    let mut tries = 0;
    loop {
        tries += 1;
        let send_deadline = deadline.min(Instant::now() + Duration::from_secs(5));
        let sent = pd.send(breaker, a, send_deadline).await;
        let Sent::Retry { after_s, .. } = &sent else {
            return sent;
        };
        if tries >= tries_at_most {
            return sent;
        }
        let Some(pause) = retry_pause(
            *after_s,
            wait,
            deadline.saturating_duration_since(Instant::now()),
        ) else {
            return sent;
        };
        tokio::time::sleep(pause).await;
        wait *= 2;
    }
}

/// How long to wait before trying a refused page again within this run: PagerDuty's
/// `Retry-After`, else our own `wait`; None when that is more than the run should
/// spend waiting (over 2 s: the outbox keeps it for a later run) or would leave less
/// than a second of the `left` time for the try itself.
fn retry_pause(after_s: Option<u64>, wait: Duration, left: Duration) -> Option<Duration> {
    let pause = after_s.map_or(wait, Duration::from_secs);
    (pause <= MAX_PAGE_PAUSE && pause + Duration::from_secs(1) < left).then_some(pause)
}

/// The longest wait for PagerDuty within a run.
const MAX_PAGE_PAUSE: Duration = Duration::from_secs(2);

/// The page as sent: a trigger of the record's current episode reports the count the
/// record holds now (every failure counted by any instance before the trip), never
/// fewer than it was written with.
fn as_sent(rec: &Record, a: &OutboxEntry) -> OutboxEntry {
    let mut sent = a.clone();
    if a.action == Action::Trigger && rec.episode.as_deref() == Some(&a.dedup_key) {
        sent.failures = a.failures.max(rec.failures);
    }
    sent
}

/// What an attempt at `a` owes the page about an action that keeps failing: its
/// trigger on the failure that makes `PAGE_AFTER_ATTEMPTS`, its resolve on a success
/// after that (and only then: a resolve for a page never sent is noise). Pages have
/// their own summary instead.
fn failing_page(a: &OutboxEntry, failed: bool) -> Option<Action> {
    let tries = a.attempts + 1;
    match failed {
        _ if a.action.is_page() => None,
        true => (tries == PAGE_AFTER_ATTEMPTS).then_some(Action::Trigger),
        false => (tries > PAGE_AFTER_ATTEMPTS).then_some(Action::Resolve),
    }
}

/// The dedup key of the page about an action that keeps failing.
fn failing_key(a: &OutboxEntry) -> String {
    format!("{}/{}", a.dedup_key, a.action.as_str())
}

impl Executor {
    pub fn build(services: &Services, env: &impl Env, role: &str) -> Result<Executor, InitError> {
        let campaign_config = crate::campaign::CampaignConfig::from_env(env)?;
        let overflow_on = !crate::dependency::overflow_auto_on(env).is_empty();
        // One Genesys client, built only when some action needs it, so that the pause
        // and the overflow keep to one pace under the token's rate limit.
        let api = match (&campaign_config, overflow_on) {
            (None, false) => None,
            (c, _) => {
                let per_minute = c.as_ref().map_or(DEFAULT_PER_MINUTE, |c| c.per_minute);
                Some(Arc::new(GenesysApi::build(services, env, per_minute)?))
            }
        };
        let (campaigns, overflow) = match &api {
            Some(api) => (
                Campaigns::build(services, env, api)?,
                match overflow_on {
                    true => Some(Overflow::build(services, env, api)?),
                    false => None,
                },
            ),
            None => (None, None),
        };
        Ok(Executor {
            store: services.store.clone(),
            pager: AlertConfig::from_env(env)?.map(|c| PagerDuty::new(services, c)),
            campaigns,
            overflow,
            history: Some(services.history()),
            clock: services.clock.clone(),
            owner: format!("{role}-{:016x}", rand::random::<u64>()),
        })
    }

    /// Whether this instance can carry out `action` at all.
    fn can(&self, action: Action) -> bool {
        match Work::of(action) {
            Work::Page => self.pager.is_some(),
            Work::Overflow { .. } => self.overflow.is_some(),
            Work::Campaigns { .. } => self.campaigns.is_some(),
            Work::Unknown => true,
        }
    }

    /// Every registered breaker's due entries.
    pub async fn run_all(&self, deadline: Instant) -> Delivery {
        let mut total = Delivery::default();
        for r in crate::dependency::records(self.store.as_ref(), deadline).await {
            if !r.outbox.is_empty() {
                total += self.run(&r.name, deadline).await.unwrap_or_default();
            }
        }
        total
    }

    /// Act on what is due in `breaker`'s outbox. Each lane of an episode goes in order
    /// (pages, campaigns, the overflow), and no lane waits for another.
    /// Fails only if the breaker could not be read.
    pub async fn run(&self, breaker: &str, deadline: Instant) -> Result<Delivery, StoreError> {
        let rec = tokio::time::timeout_at(request_deadline(deadline), self.store.load(breaker))
            .await
            .unwrap_or(Err(StoreError::Timeout))?;
        let now = self.clock.now_ms();
        let mut entries: Vec<&OutboxEntry> = rec.outbox.values().collect();
        entries.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        let mut blocked: HashSet<(&str, Lane)> = HashSet::new();
        let mut page_tries = PAGE_TRIES;
        let mut done = Delivery::default();
        let mut acted = 0;
        for a in entries {
            let lane = (a.dedup_key.as_str(), Lane::of(a.action));
            let due = a.next_ms <= now && !a.claimed_by_other(&self.owner, now);
            if !due
                || !self.can(a.action)
                || blocked.contains(&lane)
                || acted >= MAX_PER_RUN
                || Instant::now() >= deadline
            {
                if !self.can(a.action) && a.action.is_page() {
                    tracing::error!(breaker, alert = %a.id, "a page is pending and ALERT_SECRET_ID is not set");
                }
                blocked.insert(lane);
                done.pending += 1;
                continue;
            }
            let claim_ms = if a.action.is_page() {
                PAGE_CLAIM_MS
            } else {
                CAMPAIGN_CLAIM_MS
            };
            // Claimed from now, not from the run's start: earlier entries may have taken
            // seconds, and a claim must cover this entry's whole attempt.
            let claimed_at = self.clock.now_ms();
            let claim = Op::ClaimEntry {
                id: a.id.clone(),
                owner: self.owner.clone(),
                now: claimed_at,
                until: claimed_at + claim_ms,
            };
            let claimed = tokio::time::timeout_at(
                request_deadline(deadline),
                self.store.apply(breaker, &claim),
            )
            .await;
            if !matches!(claimed, Ok(Ok(Applied::Won(_)))) {
                blocked.insert(lane);
                done.pending += 1;
                continue;
            }
            acted += 1;
            let started = Instant::now();
            let outcome = self.act(&rec, a, page_tries, deadline).await;
            // PagerDuty refused a page through its retries: it is down, not flapping;
            // the run's other pages get one try each, not the run's budget in waits.
            if a.action.is_page() && matches!(outcome, Outcome::Retry { .. }) {
                page_tries = 1;
            }
            let latency_ms = started.elapsed().as_millis() as f64;
            let op = self.outcome_op(a, &outcome, now);
            // The outcome is recorded even past the caller's deadline, but never waits
            // on a slow table for longer than one request.
            let until = Instant::now() + crate::store::REQUEST_TIMEOUT;
            let _ = tokio::time::timeout_at(until, self.store.apply(breaker, &op)).await;
            match &outcome {
                Outcome::Done(_) => done.sent += 1,
                Outcome::Retry { .. } => {
                    blocked.insert(lane);
                    done.pending += 1;
                }
            }
            self.report(breaker, a, outcome, latency_ms, deadline).await;
        }
        metrics::emit(
            &[("Breaker", breaker)],
            &[metrics::count("ActionsPending", f64::from(done.pending))],
        );
        Ok(done)
    }

    /// What the outbox records of an attempt: done leaves; a failure is deferred by its
    /// backoff and counted; work under way is deferred shortly, not counted.
    fn outcome_op(&self, a: &OutboxEntry, outcome: &Outcome, now: Millis) -> Op {
        match outcome {
            Outcome::Done(_) => Op::DropEntry {
                id: a.id.clone(),
                owner: self.owner.clone(),
            },
            Outcome::Retry {
                after_s,
                failed: true,
                ..
            } => Op::DeferEntry {
                id: a.id.clone(),
                owner: self.owner.clone(),
                attempts: a.attempts + 1,
                next_ms: now + self.retry_in(a.attempts, *after_s),
            },
            Outcome::Retry {
                failed: false,
                after_s,
                ..
            } => Op::DeferEntry {
                id: a.id.clone(),
                owner: self.owner.clone(),
                attempts: a.attempts,
                next_ms: self.clock.now_ms()
                    + after_s.map_or(PROGRESS_RETRY_MS, |s| s as Millis * 1000),
            },
        }
    }

    /// Say what an attempt came to: its history line, log, metrics, and the failing
    /// action's page (or its resolve) when it is due.
    async fn report(
        &self,
        breaker: &str,
        a: &OutboxEntry,
        outcome: Outcome,
        latency_ms: f64,
        deadline: Instant,
    ) {
        let kind = a.action.as_str();
        match outcome {
            Outcome::Done(what) => {
                if let Some(h) = &self.history {
                    let d = Done {
                        breaker: breaker.to_string(),
                        action: kind.to_string(),
                        episode: a.dedup_key.clone(),
                        at: crate::clock::iso8601(self.clock.now_ms()),
                        outcome: what.clone(),
                        at_ms: self.clock.now_ms(),
                    };
                    let until = Instant::now() + 2 * crate::store::REQUEST_TIMEOUT;
                    if let Err(e) = h.record(&d, until).await {
                        tracing::warn!(breaker, error = %e, "action done, not noted in its history");
                    }
                }
                tracing::info!(breaker, action = kind, id = %a.id, dedup_key = %a.dedup_key, attempts = a.attempts + 1, %what, "outage action done");
                metrics::emit(
                    &[("Breaker", breaker), ("Action", kind)],
                    &[
                        metrics::count("ActionsDone", 1.0),
                        metrics::millis("ActionLatency", latency_ms),
                    ],
                );
                if failing_page(a, false) == Some(Action::Resolve) {
                    self.page_failing(breaker, a, None, deadline).await;
                }
            }
            Outcome::Retry {
                why, failed: false, ..
            } => {
                tracing::info!(breaker, action = kind, id = %a.id, progress = %why, "outage action under way; continues shortly");
            }
            Outcome::Retry { why, .. } => {
                tracing::warn!(breaker, action = kind, id = %a.id, attempt = a.attempts + 1, error = %why, "outage action failed; will retry");
                metrics::emit(
                    &[("Breaker", breaker), ("Action", kind)],
                    &[metrics::count("ActionsFailed", 1.0)],
                );
                metrics::emit(&[], &[metrics::count("ActionsFailedTotal", 1.0)]);
                if failing_page(a, true) == Some(Action::Trigger) {
                    self.page_failing(breaker, a, Some(&why), deadline).await;
                }
            }
        }
    }

    fn retry_in(&self, attempts: u32, after_s: Option<u64>) -> Millis {
        let base = self
            .pager
            .as_ref()
            .map_or(crate::alert::DEFAULT_BACKOFF_MS, |p| p.backoff_ms);
        crate::alert::retry_in(base, attempts, after_s)
    }

    /// Carry out `a`; a page gets `page_tries` tries within the invocation.
    async fn act(
        &self,
        rec: &Record,
        a: &OutboxEntry,
        page_tries: u32,
        deadline: Instant,
    ) -> Outcome {
        match Work::of(a.action) {
            Work::Unknown => {
                tracing::warn!(breaker = %rec.name, alert = %a.id, action = a.action.as_str(), "an effect this version does not know; dropped");
                Outcome::Done("dropped: an effect this version does not know".into())
            }
            Work::Page => self.page_entry(rec, a, page_tries, deadline).await,
            Work::Overflow { on } => self.switch_overflow(rec, a, on, deadline).await,
            Work::Campaigns { pause } => self.pause_or_resume(rec, a, pause, deadline).await,
        }
    }

    /// A page to PagerDuty, `page_tries` tries within the invocation.
    async fn page_entry(
        &self,
        rec: &Record,
        a: &OutboxEntry,
        page_tries: u32,
        deadline: Instant,
    ) -> Outcome {
        let Some(pd) = &self.pager else {
            return Outcome::retry("no pager");
        };
        match send_page(pd, &rec.name, &as_sent(rec, a), page_tries, deadline).await {
            Sent::Accepted => Outcome::Done("accepted".into()),
            Sent::Refused(status) => {
                tracing::error!(breaker = %rec.name, alert = %a.id, status, "PagerDuty refused the alert; dropped, not retried");
                metrics::emit(&[], &[metrics::count("AlertsRejectedTotal", 1.0)]);
                Outcome::Done(format!("refused ({status})"))
            }
            Sent::Retry { after_s, why } => Outcome::Retry {
                after_s,
                why,
                failed: true,
            },
        }
    }

    /// The emergency group on (`on`) or off again, for `rec`'s outage.
    async fn switch_overflow(
        &self,
        rec: &Record,
        a: &OutboxEntry,
        on: bool,
        deadline: Instant,
    ) -> Outcome {
        let Some(o) = &self.overflow else {
            return Outcome::retry("overflow not configured");
        };
        // The breaker moved on: a restore is no longer called for. An activation
        // is not made any more, but one whose PUT landed with its confirmation
        // lost is still confirmed (recorded, paged), for the restore to undo.
        let moved_on = on != rec.state.is_degraded();
        if moved_on && !on {
            return Outcome::Done("cancelled: the breaker moved on".into());
        }
        if !on {
            match o.held_by_other(&rec.name, deadline).await {
                Ok(Some(why)) => return Outcome::Done(format!("left on: {why}")),
                Ok(None) => {}
                Err(e) => {
                    return Outcome::retry(format!(
                        "whether another breaker still holds the overflow is not known: {e}"
                    ))
                }
            }
        }
        let Ok(group) = o.group_or_default(None) else {
            return Outcome::retry("OVERFLOW_EMERGENCY_GROUP_ID is not set");
        };
        // Callers go only to a backup proven ready; until it is, the outage is
        // paged as not overflowed, and the activation waits for the next check.
        if on && !moved_on {
            if let Err(why) = o.backup_proven(deadline).await {
                o.refused(&rec.name, &group, &why).await;
                return Outcome::Retry {
                    after_s: Some(READINESS_RETRY_S),
                    why: format!("backup region not proven ready: {why}"),
                    failed: false,
                };
            }
        }
        let req = Request {
            group,
            enabled: on,
            mode: Mode::Auto,
            by: format!(
                "failsoft ({} {})",
                rec.name,
                if on { "OPEN" } else { "recovered" }
            ),
            reason: a.summary.clone(),
            breaker: rec.name.clone(),
            confirm_only: moved_on,
        };
        let attempt_deadline = deadline.min(Instant::now() + CAMPAIGN_ATTEMPT);
        match Box::pin(o.switch(&req, &self.owner, attempt_deadline)).await {
            Ok(report) => Outcome::Done(serde_json::to_string(&report).unwrap_or_default()),
            // Another breaker's switch, or a person's, is under way: a wait, not a
            // failure (three of which would page "do it by hand").
            Err(e @ OverflowError::Busy(_)) => Outcome::Retry {
                after_s: None,
                why: e.to_string(),
                failed: false,
            },
            Err(e) => Outcome::retry(e.to_string()),
        }
    }

    /// The campaigns paused (`pause`) or resumed, for `rec`'s outage.
    async fn pause_or_resume(
        &self,
        rec: &Record,
        a: &OutboxEntry,
        pause: bool,
        deadline: Instant,
    ) -> Outcome {
        let Some(c) = &self.campaigns else {
            return Outcome::retry("campaign pause not configured");
        };
        let attempt_deadline = deadline.min(Instant::now() + CAMPAIGN_ATTEMPT);
        // The breaker moved on since the transition: the action is no longer
        // called for (a resume is cancelled by a new outage; a pause by recovery).
        // The record read here may be stale: what keeps a late resume from
        // turning on what a new outage holds is the ledger's holds, by episode.
        if pause != rec.state.is_degraded() {
            return Outcome::Done("cancelled: the breaker moved on".into());
        }
        // Boxed: the campaign futures are deep, and the runtime's types stay small.
        let r = if pause {
            Box::pin(c.pause(&a.dedup_key, attempt_deadline)).await
        } else {
            Box::pin(c.resume(&a.dedup_key, &self.owner, attempt_deadline)).await
        };
        match r {
            Ok(report) => Outcome::Done(serde_json::to_string(&report).unwrap_or_default()),
            Err(e) => Outcome::Retry {
                after_s: e.retry_after_s(),
                why: e.to_string(),
                failed: !e.is_progress(),
            },
        }
    }

    /// Page that `a` keeps failing (`why`), or resolve that page once it succeeded.
    /// The action's own claim keeps this to one sender; PagerDuty's dedup key keeps a
    /// resend after a crash to one incident.
    async fn page_failing(
        &self,
        breaker: &str,
        a: &OutboxEntry,
        why: Option<&str>,
        deadline: Instant,
    ) {
        let Some(pd) = &self.pager else {
            tracing::error!(
                breaker,
                action = a.action.as_str(),
                "an outage action keeps failing and ALERT_SECRET_ID is not set"
            );
            return;
        };
        let mut page = a.clone();
        page.dedup_key = failing_key(a);
        page.attempts = a.attempts + 1;
        page.claim = None;
        match why {
            Some(why) => {
                page.summary = format!(
                    "{breaker}: {} failed {} times; do it by hand (runbook: outage-actions.md). Last error: {}",
                    a.action.as_str(),
                    page.attempts,
                    crate::breaker::clip(why, 300)
                );
                page.last_error = Some(crate::breaker::clip(why, 256).to_string());
            }
            None => page.action = Action::Resolve,
        }
        let sent = send_page(pd, breaker, &page, PAGE_TRIES, deadline).await;
        tracing::info!(breaker, dedup_key = %page.dedup_key, ?sent, "paged about a failing outage action");
        if matches!(sent, Sent::Retry { .. }) {
            // Not heard: queued in the outbox, delivered with retries like every page.
            page.id = format!("{FAILING_PREFIX}{}", a.action.as_str());
            // As a page of the outbox (its own lane), told as Failsoft's own work.
            if page.action != Action::Resolve {
                page.action = Action::Trigger;
            }
            page.attempts = 0;
            page.created_ms = self.clock.now_ms();
            page.next_ms = page.created_ms;
            let op = Op::Page {
                alert: page,
                now: self.clock.now_ms(),
                every_ms: 0,
            };
            let until = Instant::now() + 2 * crate::store::REQUEST_TIMEOUT;
            if !matches!(
                tokio::time::timeout_at(until, self.store.apply(breaker, &op)).await,
                Ok(Ok(_))
            ) {
                tracing::error!(
                    breaker,
                    "a failing action's page could neither be sent nor queued"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refused page is tried again in the run only after a short pause that leaves
    /// time for the try: PagerDuty's Retry-After up to 2 s, else our own backoff.
    #[test]
    fn a_refused_page_waits_in_the_run_only_briefly_and_with_time_left() {
        let (ms, s) = (Duration::from_millis, Duration::from_secs);
        assert_eq!(retry_pause(None, ms(250), s(25)), Some(ms(250)));
        assert_eq!(retry_pause(Some(2), ms(250), s(25)), Some(s(2)));
        assert_eq!(retry_pause(Some(3), ms(250), s(25)), None, "left for later");
        assert_eq!(retry_pause(Some(1), ms(250), s(2) + ms(1)), Some(s(1)));
        assert_eq!(
            retry_pause(Some(1), ms(250), s(2)),
            None,
            "no time for the try"
        );
    }

    /// The board's and `failsoft actions`' view of an outbox: each entry's status at
    /// its boundaries (a claim that lives, the third failed attempt, a wait that ends
    /// now), oldest first.
    #[test]
    fn each_pending_action_reads_as_in_progress_failing_waiting_or_pending() {
        let now: Millis = 1_800_000_000_000;
        let entry =
            |id: &str, attempts: u32, next_ms: Millis, claim_until: Option<Millis>| OutboxEntry {
                id: id.into(),
                action: Action::Trigger,
                dedup_key: "crm/1/0".into(),
                summary: String::new(),
                failures: 0,
                last_error: None,
                created_ms: 0,
                attempts,
                next_ms,
                claim: claim_until.map(|u| ("ex".to_string(), u)),
            };
        let mut r = Record::new("crm");
        for e in [
            entry("claimed", 0, now - 20_000, Some(now + 1_000)),
            entry("expired", 0, now - 10_000, Some(now - 1)),
            entry("due", 1, now, None),
            entry("backoff", 2, now + 60_000, None),
            entry("third", 3, now + 120_000, None),
        ] {
            r.outbox.insert(e.id.clone(), e);
        }
        let seen: Vec<(String, &str)> = views(&r, now)
            .into_iter()
            .map(|v| (v.id, v.status))
            .collect();
        let want = [
            ("claimed", "in progress"),
            ("expired", "pending"),
            ("due", "pending"),
            ("backoff", "waiting"),
            ("third", "failing"),
        ];
        assert_eq!(seen, want.map(|(id, s)| (id.to_string(), s)).to_vec());
        assert_eq!(views(&r, now)[0].next_at, "2027-01-15T07:59:40.000Z");
    }

    /// What the outbox records of an attempt: done leaves; a failure is counted and
    /// backed off from the run's start; a wait (a switch under way elsewhere, campaigns
    /// still stopping, a backup not proven ready) counts as no try and comes back
    /// shortly, or when it said.
    #[test]
    fn a_failure_is_counted_and_backed_off_and_a_wait_is_only_deferred() {
        let now: Millis = 1_000_000;
        let ex = Executor {
            store: Arc::new(crate::breaker::MemoryStore::new()),
            pager: None,
            campaigns: None,
            overflow: None,
            history: None,
            clock: Arc::new(crate::clock::ManualClock::new(now)),
            owner: "ex".into(),
        };
        let mut a = crate::breaker::outbox::work_fault("crm", "x", "s", "d", 0);
        a.attempts = 1;
        let run_started = now - 10_000;
        let op = |o: Outcome| ex.outcome_op(&a, &o, run_started);
        let defer = |attempts, next_ms| Op::DeferEntry {
            id: a.id.clone(),
            owner: "ex".into(),
            attempts,
            next_ms,
        };
        assert_eq!(
            op(Outcome::Done("done".into())),
            Op::DropEntry {
                id: a.id.clone(),
                owner: "ex".into()
            }
        );
        assert_eq!(
            op(Outcome::retry("503")),
            defer(2, run_started + 2 * crate::alert::DEFAULT_BACKOFF_MS)
        );
        let wait = |after_s| Outcome::Retry {
            after_s,
            why: "under way".into(),
            failed: false,
        };
        assert_eq!(op(wait(None)), defer(1, now + PROGRESS_RETRY_MS));
        assert_eq!(op(wait(Some(60))), defer(1, now + 60_000));
    }

    /// The "keeps failing" page: triggered by the third failure only, resolved by a
    /// success only once it was triggered, never for a page's own retries.
    #[test]
    fn an_action_is_paged_as_failing_on_its_third_failure_and_resolved_after() {
        let at = |attempts: u32, action: Action| {
            let mut a = crate::breaker::outbox::work_fault("crm", "x", "s", "d", 0);
            a.attempts = attempts;
            a.action = action;
            a
        };
        let pause = Action::parse("pause_campaigns").unwrap_or(Action::Summary);
        assert!(!pause.is_page());
        let effect = |attempts| at(attempts, pause);
        let owed = |attempts, failed| failing_page(&effect(attempts), failed);
        assert_eq!(owed(1, true), None);
        assert_eq!(owed(2, true), Some(Action::Trigger));
        assert_eq!(owed(3, true), None, "once");
        assert_eq!(owed(2, false), None, "never paged: nothing to resolve");
        assert_eq!(owed(3, false), Some(Action::Resolve));
        assert_eq!(failing_page(&at(2, Action::Trigger), true), None);
        assert_eq!(failing_page(&at(3, Action::Resolve), false), None);
    }

    /// A trigger of the current episode is sent with the record's count, if higher;
    /// a resolve, or another episode's trigger, as written.
    #[test]
    fn a_trigger_reports_every_failure_the_record_holds() {
        let mut rec = Record::new("crm");
        rec.episode = Some("crm/3/0".into());
        rec.failures = 9;
        let page = |action, key: &str, failures| {
            let mut a = crate::breaker::outbox::work_fault("crm", "x", "s", "d", 0);
            (a.action, a.dedup_key, a.failures) = (action, key.into(), failures);
            a
        };
        let sent = |a: OutboxEntry| as_sent(&rec, &a).failures;
        assert_eq!(sent(page(Action::Trigger, "crm/3/0", 5)), 9);
        assert_eq!(
            sent(page(Action::Trigger, "crm/3/0", 12)),
            12,
            "never fewer"
        );
        assert_eq!(sent(page(Action::Resolve, "crm/3/0", 5)), 5);
        assert_eq!(
            sent(page(Action::Trigger, "crm/2/0", 5)),
            5,
            "an older episode"
        );
    }

    /// The probe adds up every breaker's run into what it logs and counts.
    #[test]
    fn runs_add_up() {
        let mut total = Delivery {
            sent: 2,
            pending: 3,
        };
        total += Delivery {
            sent: 5,
            pending: 7,
        };
        assert_eq!(
            total,
            Delivery {
                sent: 7,
                pending: 10
            }
        );
    }
}
