//! One batch of after-call-work messages, written to the CRM or kept for later: poison
//! to the DLQ (and paged), everything deferred while a breaker is open (no CRM call),
//! otherwise the contacts found and the Tasks upserted, and only what Salesforce took
//! is let go. What this returns is the batch's item failures: the messages SQS keeps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use tokio::time::Instant;

use super::backlog::{self, BacklogStore, Seen};
use super::collections::{find_contacts, upsert_all, Spent};
use super::defer::Schedule;
use super::event::{AfterCall, MediaType};
use super::queue::Queues;
use super::upsert::{upsert, Target, WriteError, Written};
use crate::breaker::{outbox, Breaker, CallError, Classify, Op, Record, State, Verdict};
use crate::clock::{Clock, Millis};
use crate::crm::phone::{normalise, Digits};
use crate::crm::salesforce::{search, SalesforceConfig, Session};
use crate::http::HttpError;
use crate::metrics;
use crate::token::{TokenCache, TokenError};

/// One message as the SQS event delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: String,
    pub body: String,
    pub receipt: String,
    /// 1 on the first receive.
    pub receives: u32,
    /// When it was first sent to the queue (epoch ms).
    pub sent_ms: Millis,
}

impl Message {
    /// From Lambda's SQS record; a record without an id cannot even be reported back.
    pub fn from_sqs(m: &SqsMessage) -> Option<Message> {
        let attr = |k: &str| m.attributes.get(k).and_then(|v| v.parse::<i64>().ok());
        Some(Message {
            id: m.message_id.clone()?,
            body: m.body.clone().unwrap_or_default(),
            receipt: m.receipt_handle.clone().unwrap_or_default(),
            receives: attr("ApproximateReceiveCount")
                .map_or(1, |n| n.clamp(1, u32::MAX.into()) as u32),
            sent_ms: attr("SentTimestamp").unwrap_or(0),
        })
    }
}

/// How records go to Salesforce: one Collections request per 200 (and one Composite
/// Batch request per 25 searches), or one request per record and per search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batching {
    Collections,
    Single,
}

/// Why the batch's Salesforce work did not happen.
#[derive(Debug, thiserror::Error)]
enum Fault {
    #[error("auth: {0}")]
    Auth(TokenError),
    #[error("the org's API limit is spent")]
    Limit,
    #[error("crm: {0}")]
    Crm(HttpError),
    /// The request itself was refused for good: every record of it is poison.
    #[error("refused: {0}")]
    Refused(String),
    /// Salesforce says our request or configuration is wrong: kept and paged.
    #[error("configuration: {0}")]
    Config(String),
}

impl Classify for Fault {
    /// For the `crm` breaker: a refusal or a spent limit is Salesforce answering.
    fn verdict(&self) -> Verdict {
        match self {
            Fault::Crm(_) => Verdict::Failed,
            Fault::Auth(_) => Verdict::NotReached,
            // Salesforce answered: a spent limit, a refusal, or our own mistake is no
            // sign that it is failing.
            Fault::Limit | Fault::Refused(_) | Fault::Config(_) => Verdict::Answered,
        }
    }
}

/// The same outcome, as the `crm-api-limit` breaker sees it: only a spent limit counts.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct LimitView(CallError<Fault>);

impl Classify for LimitView {
    fn verdict(&self) -> Verdict {
        match &self.0 {
            CallError::Failed(Fault::Limit) => Verdict::Failed,
            CallError::Failed(Fault::Refused(_) | Fault::Config(_)) => Verdict::Answered,
            CallError::Failed(Fault::Crm(_) | Fault::Auth(_))
            | CallError::Rejected(_)
            | CallError::TimedOut => Verdict::NotReached,
        }
    }
}

impl From<WriteError> for Fault {
    fn from(e: WriteError) -> Fault {
        match e {
            WriteError::Poison(why) => Fault::Refused(why),
            WriteError::Limit => Fault::Limit,
            WriteError::Retry(e) => Fault::Crm(e),
            WriteError::Config(why) => Fault::Config(why),
            WriteError::Unauthorized => Fault::Auth(TokenError::Unavailable {
                provider: "crm",
                reason: "Salesforce refused the token (401)".into(),
            }),
        }
    }
}

/// What became of a batch, for the log, the metrics and the backlog note.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Message ids SQS must keep (the item failures).
    pub failed: Vec<String>,
    pub written: u32,
    pub deferred: u32,
    pub poisoned: u32,
    /// Of a media type `WRITEBACK_MEDIA_TYPES` does not select: let go unwritten.
    pub skipped: u32,
    /// Kept because Salesforce says our request or configuration is wrong.
    pub misconfigured: u32,
    pub api_calls: u32,
    /// HTTP requests to Salesforce (a Composite Batch of 25 searches is one).
    pub requests: u32,
}

/// The write-back's settings beyond its target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub batching: Batching,
    /// Which media types are written (`WRITEBACK_MEDIA_TYPES`).
    pub media: MediaTypes,
    /// Page when a message has waited longer than this.
    pub max_age_ms: Millis,
    pub schedule: Schedule,
}

/// `WRITEBACK_MEDIA_TYPES`: every media type (`all`, the default), or those listed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MediaTypes {
    #[default]
    All,
    Only(std::collections::BTreeSet<String>),
}

impl MediaTypes {
    /// `all`, or a comma list of the SDK model's `mediaType` values (any case).
    /// Unknown names are refused: a typo must not silently drop records.
    pub fn parse(s: &str) -> Result<MediaTypes, String> {
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(MediaTypes::All);
        }
        let mut only = std::collections::BTreeSet::new();
        for m in s.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let up = m.to_ascii_uppercase();
            if !MediaType::KNOWN.contains(&up.as_str()) {
                return Err(format!(
                    "{m:?} is not a Genesys media type ({})",
                    MediaType::KNOWN.join(", ")
                ));
            }
            only.insert(up);
        }
        if only.is_empty() {
            return Err("expected all, or media types such as VOICE,CALLBACK".into());
        }
        Ok(MediaTypes::Only(only))
    }

    pub fn selects(&self, m: &MediaType) -> bool {
        match self {
            MediaTypes::All => true,
            MediaTypes::Only(set) => set.contains(m.as_str()),
        }
    }
}

/// Pages of the write-back's own faults come at most this often per kind.
const PAGE_EVERY_MS: Millis = 3_600_000;
/// Time kept back for recording outcomes in the breakers, and for SQS.
const RESERVE: Duration = Duration::from_millis(400);

pub struct WriteBack {
    pub crm: Breaker,
    pub limit: Breaker,
    pub tokens: TokenCache,
    pub http: reqwest::Client,
    pub target: Target,
    pub search: SalesforceConfig,
    pub queues: Queues,
    pub backlog: BacklogStore,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
}

impl WriteBack {
    /// Handle one batch within `deadline`.
    pub async fn handle(&self, messages: &[Message], deadline: Instant) -> Report {
        let started = Instant::now();
        let mut report = Report::default();
        let mut calls: Vec<(&Message, AfterCall)> = Vec::new();
        for m in messages {
            match AfterCall::parse(&m.body) {
                Ok(c) if !self.settings.media.selects(&c.media) => {
                    tracing::debug!(message_id = %m.id, media = c.media.as_str(), "media type not written (WRITEBACK_MEDIA_TYPES)");
                    report.skipped += 1;
                }
                Ok(c) => calls.push((m, c)),
                Err(why) => {
                    self.poison(m, &why.to_string(), &mut report, deadline)
                        .await
                }
            }
        }
        if !calls.is_empty() {
            match self.closed_for(deadline).await {
                Some((breaker, wait_ms)) => {
                    tracing::info!(
                        breaker,
                        wait_ms,
                        messages = calls.len(),
                        "CRM not admitting: write-backs deferred, no CRM call"
                    );
                    let all: Vec<&Message> = calls.iter().map(|(m, _)| *m).collect();
                    report.deferred += all.len() as u32;
                    self.defer(&all, wait_ms, &mut report, deadline).await;
                }
                None => self.write(&calls, &mut report, deadline).await,
            }
        }
        self.note(messages, &report, deadline).await;
        tracing::info!(
            batch = messages.len(),
            written = report.written,
            deferred = report.deferred,
            poisoned = report.poisoned,
            skipped = report.skipped,
            misconfigured = report.misconfigured,
            failed = report.failed.len(),
            api_calls = report.api_calls,
            requests = report.requests,
            latency_ms = started.elapsed().as_millis() as u64,
            "write-back batch"
        );
        metrics::emit(
            &[("Function", "crm-writeback")],
            &[
                metrics::count("WritebackWritten", report.written.into()),
                metrics::count("WritebackDeferred", report.deferred.into()),
                metrics::count("WritebackPoisoned", report.poisoned.into()),
                metrics::count("WritebackSkipped", report.skipped.into()),
                metrics::count("WritebackMisconfigured", report.misconfigured.into()),
                metrics::count("WritebackFailed", report.failed.len() as f64),
                metrics::count("SalesforceApiCalls", report.api_calls.into()),
                metrics::millis("WritebackLatency", started.elapsed().as_millis() as f64),
            ],
        );
        report
    }

    /// The breaker that keeps the write-back from calling now, and how long it will
    /// wait. `crm` and `crm-auth` must be CLOSED: their recovery is proved by live
    /// lookups and the health probe, and a backlog drains only after it (a batch of a
    /// hundred records is no trial call). `crm-api-limit` is the write-back's own, so
    /// a write-back is its HALF_OPEN trial.
    async fn closed_for(&self, deadline: Instant) -> Option<(&'static str, Millis)> {
        let now = self.clock.now_ms();
        let wait = |r: &Record, trial_ok: bool| match r.state {
            State::Open => Some((r.open_until_ms - now).max(0)),
            State::ForcedOpen => Some(r.forced_until.map_or(0, |u| (u - now).max(0))),
            State::HalfOpen if !trial_ok => Some(0),
            _ => None,
        };
        let breakers: [(&'static str, &Breaker, bool); 3] = [
            ("crm", &self.crm, false),
            ("crm-auth", self.tokens.breaker(), false),
            ("crm-api-limit", &self.limit, true),
        ];
        for (name, b, trial_ok) in breakers {
            if let Some(w) = wait(&b.current(deadline).await, trial_ok) {
                return Some((name, w));
            }
        }
        None
    }

    /// Keep `messages` for later: invisible past the breaker's wait, growing with each
    /// receive, with jitter so a backlog does not wake at once.
    async fn defer(
        &self,
        messages: &[&Message],
        wait_ms: Millis,
        report: &mut Report,
        deadline: Instant,
    ) {
        let waits: Vec<(String, u64)> = messages
            .iter()
            .map(|m| {
                let secs =
                    self.settings
                        .schedule
                        .visibility_s(m.receives, wait_ms, rand::random::<f64>());
                (m.receipt.clone(), secs)
            })
            .collect();
        match self.queues.defer(&waits, deadline).await {
            Ok(refused) if refused.is_empty() => {}
            // They come back after the queue's own visibility timeout instead: said,
            // and counted, so a schedule SQS refuses is seen.
            Ok(refused) => {
                tracing::warn!(
                    refused = refused.len(),
                    "SQS refused to extend the visibility of some messages"
                );
                metrics::emit(
                    &[("Function", "crm-writeback")],
                    &[metrics::count(
                        "WritebackVisibilityRefused",
                        refused.len() as f64,
                    )],
                );
            }
            Err(e) => tracing::warn!(error = %e, "visibility not extended"),
        }
        report.failed.extend(messages.iter().map(|m| m.id.clone()));
    }

    /// A message that can never be written: to the DLQ with its reason, paged, then let
    /// go. If the DLQ does not take it, it stays in the queue and comes back.
    async fn poison(&self, m: &Message, why: &str, report: &mut Report, deadline: Instant) {
        let sent = self.queues.to_dlq(&m.body, why, &m.id, deadline).await;
        if let Err(e) = sent {
            tracing::error!(message_id = %m.id, reason = why, error = %e, "poison write-back not sent to the DLQ; kept");
            report.failed.push(m.id.clone());
            return;
        }
        tracing::error!(message_id = %m.id, reason = why, "write-back sent to the DLQ");
        report.poisoned += 1;
        let now = self.clock.now_ms();
        let summary = format!(
            "crm-writeback: an after-call record cannot be written and is in the DLQ ({why}). Fix it and run `failsoft writeback redrive`."
        );
        self.page("writeback-poison", &summary, why, now, deadline)
            .await;
    }

    async fn page(&self, what: &str, summary: &str, detail: &str, now: Millis, deadline: Instant) {
        let op = Op::Page {
            alert: outbox::work_fault(self.crm.name(), what, summary, detail, now),
            now,
            every_ms: PAGE_EVERY_MS,
        };
        if let Err(e) = self.crm.note(&op, deadline).await {
            tracing::warn!(page = what, error = %e, "write-back page not recorded");
        }
    }

    /// Through `crm-api-limit` and `crm`: find the contacts, upsert the Tasks; each
    /// record's answer decides its message's fate. Messages that carry one external id
    /// (a redelivery, a DLQ send whose answer was lost) are written once, as the latest
    /// of them, and share its fate: Salesforce answers `DUPLICATE_VALUE` to two records
    /// with one external id in one request.
    async fn write(&self, calls: &[(&Message, AfterCall)], report: &mut Report, deadline: Instant) {
        let limit_deadline = deadline.checked_sub(RESERVE).unwrap_or(deadline);
        let crm_deadline = limit_deadline
            .checked_sub(RESERVE)
            .unwrap_or(limit_deadline);
        let mut spent = Spent::default();
        let (unique, of) = distinct(calls);
        let outcome = self
            .limit
            .call(limit_deadline, deadline, || async {
                self.crm
                    .call(crm_deadline, limit_deadline, || {
                        self.salesforce(&unique, crm_deadline, &mut spent)
                    })
                    .await
                    .map_err(LimitView)
            })
            .await;
        report.api_calls += spent.api_calls;
        report.requests += spent.requests;
        if let Some((used, limit)) = spent.usage {
            metrics::emit(
                &[("Function", "crm-writeback")],
                &[
                    metrics::count("SalesforceApiUsed", used as f64),
                    metrics::count("SalesforceApiLimit", limit as f64),
                ],
            );
        }
        let all: Vec<&Message> = calls.iter().map(|(m, _)| *m).collect();
        let results = match outcome {
            Ok(r) => r,
            Err(CallError::Failed(LimitView(CallError::Failed(Fault::Refused(why))))) => {
                vec![Err(WriteError::Poison(why)); unique.len()]
            }
            Err(CallError::Failed(LimitView(CallError::Failed(Fault::Config(why))))) => {
                vec![Err(WriteError::Config(why)); unique.len()]
            }
            Err(e) => {
                tracing::warn!(error = %e, "write-back batch not written");
                // Rejected by a breaker (another instance holds the trial): its wait;
                // anything else: the growing schedule alone.
                let wait = self.closed_for(deadline).await.map_or(0, |(_, w)| w);
                report.deferred += all.len() as u32;
                self.defer(&all, wait, report, deadline).await;
                return;
            }
        };
        let (mut retry, mut misconfigured) = (Vec::new(), None);
        for ((m, c), i) in calls.iter().zip(of) {
            let result = results
                .get(i)
                .cloned()
                .unwrap_or_else(|| Err(WriteError::Retry(HttpError::Garbage("no result".into()))));
            match result {
                Ok(w) => {
                    report.written += 1;
                    tracing::debug!(external_id = %c.external_id(), created = w == Written::Created, "written");
                }
                Err(WriteError::Poison(why)) => {
                    self.poison(
                        m,
                        &format!("Salesforce refused it: {why}"),
                        report,
                        deadline,
                    )
                    .await
                }
                Err(WriteError::Config(why)) => {
                    report.misconfigured += 1;
                    misconfigured.get_or_insert(why);
                    retry.push(*m);
                }
                Err(e) => {
                    tracing::warn!(message_id = %m.id, error = %e, "record not written; retried");
                    retry.push(*m);
                }
            }
        }
        if let Some(why) = misconfigured {
            self.misconfigured(&why, report.misconfigured, deadline)
                .await;
        }
        if !retry.is_empty() {
            self.defer(&retry, 0, report, deadline).await;
        }
    }

    /// Salesforce says our request or configuration is wrong: no record is poison and
    /// Salesforce is not failing, so the messages wait in the queue and a person is told,
    /// at most hourly.
    async fn misconfigured(&self, why: &str, kept: u32, deadline: Instant) {
        tracing::error!(
            reason = why,
            kept,
            "Salesforce refuses the write-back's request as wrong; records kept"
        );
        let now = self.clock.now_ms();
        // The fix first: the page's text is clipped, the reason is in its details.
        let summary = format!(
            "crm-writeback: Salesforce refuses our request as wrong; records kept in the queue. Check WRITEBACK_OBJECT, WRITEBACK_EXTERNAL_ID_FIELD, WRITEBACK_FIELD_MAP, permissions (failsoft doctor). {}",
            why
        );
        self.page("writeback-config", &summary, why, now, deadline)
            .await;
    }

    /// The Salesforce work: one token, the contacts by ANI, the upserts.
    async fn salesforce(
        &self,
        calls: &[&AfterCall],
        deadline: Instant,
        spent: &mut Spent,
    ) -> Result<Vec<Result<Written, WriteError>>, Fault> {
        let (token, _) = self.tokens.get(deadline).await.map_err(Fault::Auth)?;
        let session = Session {
            access_token: token.access_token.clone(),
            instance_url: token.instance_url.clone().unwrap_or_default(),
        };
        let r = self.with_session(calls, &session, deadline, spent).await;
        if matches!(r, Err(WriteError::Unauthorized)) {
            // Dropped fleet-wide; the next receive gets a new one.
            self.tokens.invalidate(&token, deadline).await;
        }
        r.map_err(Fault::from)
    }

    async fn with_session(
        &self,
        calls: &[&AfterCall],
        session: &Session,
        deadline: Instant,
        spent: &mut Spent,
    ) -> Result<Vec<Result<Written, WriteError>>, WriteError> {
        // Each distinct number is searched once.
        let numbers: BTreeMap<String, Digits> = calls
            .iter()
            .filter_map(|c| normalise(c.ani.as_deref()?).ok())
            .map(|d| (d.as_str().to_string(), d))
            .collect();
        let numbers: Vec<Digits> = numbers.into_values().collect();
        let mut found: BTreeMap<String, Option<String>> = BTreeMap::new();
        let batched = self.settings.batching == Batching::Collections && calls.len() > 1;
        if batched && !numbers.is_empty() {
            let ids =
                find_contacts(&self.http, session, &numbers, &self.search, deadline, spent).await?;
            found.extend(numbers.iter().map(|d| d.as_str().to_string()).zip(ids));
        } else {
            for d in &numbers {
                spent.add(None);
                let c = search(&self.http, session, d, &self.search, deadline)
                    .await
                    .map_err(|e| match e.status() {
                        Some(401) => WriteError::Unauthorized,
                        // A search Salesforce cannot read, or a resource that does not
                        // exist: ours to fix.
                        Some(400 | 404) => WriteError::Config(format!("search answered {e}")),
                        _ => WriteError::Retry(e),
                    })?;
                found.insert(d.as_str().to_string(), c.map(|c| c.id));
            }
        }
        let who = |c: &AfterCall| -> Option<String> {
            let d = normalise(c.ani.as_deref()?).ok()?;
            found.get(d.as_str()).cloned().flatten()
        };
        let records: Vec<(&AfterCall, Option<String>)> =
            calls.iter().map(|c| (*c, who(c))).collect();
        if batched {
            return upsert_all(&self.http, session, &self.target, &records, deadline, spent).await;
        }
        let mut out = Vec::with_capacity(records.len());
        for (c, who) in &records {
            let (r, usage) = upsert(
                &self.http,
                &session.instance_url,
                &session.access_token,
                &self.target,
                c,
                who.as_deref(),
                deadline,
            )
            .await;
            spent.add(usage);
            match r {
                // The whole session's fate, not this record's.
                Err(e @ (WriteError::Unauthorized | WriteError::Limit)) => return Err(e),
                other => out.push(other),
            }
        }
        Ok(out)
    }

    /// Note the batch for the board, and page if its oldest message waited too long.
    async fn note(&self, messages: &[Message], report: &Report, deadline: Instant) {
        let Some(oldest) = messages.iter().map(|m| m.sent_ms).filter(|t| *t > 0).min() else {
            return;
        };
        let now = self.clock.now_ms();
        let seen = Seen {
            seen_ms: now,
            oldest_sent_ms: oldest,
            batch: messages.len() as u32,
            written: report.written,
            deferred: report.deferred,
            poisoned: report.poisoned,
            failed: report.failed.len() as u32,
        };
        metrics::emit(
            &[("Function", "crm-writeback")],
            &[metrics::count(
                "WritebackOldestAgeSeconds",
                seen.oldest_age_s() as f64,
            )],
        );
        if let Err(e) = self.backlog.note(&seen, deadline).await {
            tracing::warn!(error = %e, "backlog not noted");
        }
        self.note_waiting(messages, report, now, deadline).await;
        if now - oldest > self.settings.max_age_ms {
            let age_min = (now - oldest) / 60_000;
            let summary = format!(
                "crm-writeback: after-call records have waited {age_min} min to be written to the CRM (limit {} min). Nothing is lost; check the CRM breakers and `failsoft writeback status`.",
                self.settings.max_age_ms / 60_000
            );
            self.page(
                "writeback-backlog",
                &summary,
                &format!("oldest waited {age_min} min"),
                now,
                deadline,
            )
            .await;
        }
    }
}

impl WriteBack {
    /// Keep the note of the oldest message still waiting (see `backlog`).
    async fn note_waiting(
        &self,
        messages: &[Message],
        report: &Report,
        now: Millis,
        deadline: Instant,
    ) {
        let kept = |m: &&Message| report.failed.contains(&m.id);
        let oldest_kept = messages
            .iter()
            .filter(kept)
            .filter(|m| m.sent_ms > 0)
            .min_by_key(|m| m.sent_ms)
            .map(|m| (m.id.as_str(), m.sent_ms));
        let was = match self.backlog.load(deadline).await {
            Ok(noted) => noted.waiting,
            Err(e) => {
                tracing::warn!(error = %e, "backlog not read: oldest waiting not noted");
                return;
            }
        };
        let gone = |id: &str| {
            messages.iter().any(|m| m.id == id) && !report.failed.iter().any(|f| f == id)
        };
        let credible_ms =
            (self.settings.schedule.longest_s() * 1000) as Millis + backlog::REDELIVERY_MARGIN_MS;
        let change = backlog::change(was.as_ref(), oldest_kept, gone, now, credible_ms);
        if let Err(e) = self
            .backlog
            .note_waiting(was.as_ref(), &change, deadline)
            .await
        {
            tracing::warn!(error = %e, "oldest waiting message not noted");
        }
    }
}

/// The batch's calls with one per external id (the latest by `eventTime`, then the
/// last delivered), and for each message the index of the call written for it.
fn distinct<'a>(calls: &'a [(&Message, AfterCall)]) -> (Vec<&'a AfterCall>, Vec<usize>) {
    let mut first: BTreeMap<String, usize> = BTreeMap::new();
    let mut unique: Vec<&AfterCall> = Vec::new();
    let mut of = Vec::with_capacity(calls.len());
    for (_, c) in calls {
        let i = *first.entry(c.external_id()).or_insert_with(|| {
            unique.push(c);
            unique.len() - 1
        });
        if c.event_time_ms >= unique[i].event_time_ms {
            unique[i] = c;
        }
        of.push(i);
    }
    (unique, of)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> Message {
        Message {
            id: id.into(),
            body: String::new(),
            receipt: String::new(),
            receives: 1,
            sent_ms: 0,
        }
    }

    fn call(conv: &str, at: i64, notes: &str) -> AfterCall {
        AfterCall {
            conversation_id: conv.into(),
            participant_id: "p".into(),
            ani: None,
            queue_id: None,
            wrapup_code: None,
            notes: Some(notes.into()),
            duration_ms: None,
            direction: None,
            media: MediaType::Voice,
            event_time_ms: Some(at),
        }
    }

    #[test]
    fn one_record_per_external_id_the_latest_wins() {
        let (m1, m2, m3) = (message("1"), message("2"), message("3"));
        let calls = vec![
            (&m1, call("a", 2, "second")),
            (&m2, call("b", 1, "only")),
            (&m3, call("a", 1, "first, redelivered late")),
        ];
        let (unique, of) = distinct(&calls);
        assert_eq!(unique.len(), 2);
        assert_eq!(of, vec![0, 1, 0]);
        assert_eq!(unique[0].notes.as_deref(), Some("second"));
    }

    #[test]
    fn media_types_are_all_or_a_known_list() {
        assert_eq!(MediaTypes::parse("all"), Ok(MediaTypes::All));
        let only = MediaTypes::parse("voice, CALLBACK").unwrap_or_default();
        assert!(only.selects(&MediaType::Voice));
        assert!(only.selects(&MediaType::Callback));
        assert!(!only.selects(&MediaType::Chat));
        assert!(
            MediaTypes::parse("VOICE,PIGEON").is_err(),
            "a typo is refused"
        );
        assert!(MediaTypes::parse(" , ").is_err());
    }
}
