//! The campaign pause (the guide's third promise: outbound campaigns pause safely).
//! A breaker's outage turns off every outbound campaign that is dialing; its recovery
//! turns back on exactly those, and only those nobody has touched since. `step` decides,
//! entry by entry, purely; the ledger remembers; `api` speaks to the campaign API;
//! `Campaigns` carries the steps out.

pub mod api;
pub mod ledger;
pub mod step;

use std::sync::Arc;

use serde::Serialize;
use tokio::time::Instant;

use crate::clock::{Clock, Millis};
use crate::config::{number, ConfigError, Env};
use crate::genesys::{ApiError, GenesysApi};
use crate::service::{InitError, Services};
use crate::store::StoreError;
use api::{Campaign, Kind};
use ledger::{Ledger, Written};
use step::{Answer, Entry, Seen, Stage, Status, Step, Write};

/// `CAMPAIGN_DIVISION_IDS` and the pace of campaign requests. Which breakers pause is
/// `CAMPAIGN_PAUSE_ON`, read with each breaker's policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignConfig {
    pub divisions: Vec<String>,
    pub per_minute: u32,
}

impl CampaignConfig {
    /// None when no breaker pauses campaigns (`CAMPAIGN_PAUSE_ON` empty).
    pub fn from_env(env: &impl Env) -> Result<Option<CampaignConfig>, ConfigError> {
        let env: &dyn Env = env;
        if crate::dependency::campaign_pause_on(env).is_empty() {
            return Ok(None);
        }
        let divisions: Vec<String> = env
            .get("CAMPAIGN_DIVISION_IDS")
            .unwrap_or_default()
            .split(',')
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .collect();
        if let Some(bad) = divisions.iter().find(|d| !crate::http::genesys_id(d)) {
            return Err(ConfigError::Invalid {
                var: "CAMPAIGN_DIVISION_IDS".into(),
                value: bad.clone(),
                why: "not a division id".into(),
            });
        }
        Ok(Some(CampaignConfig {
            divisions,
            // Genesys allows about 300 requests per token per minute, shared with the probe.
            per_minute: number(
                env,
                "CAMPAIGN_REQUESTS_PER_MINUTE",
                crate::genesys::DEFAULT_PER_MINUTE,
                1,
                3_000,
            )?,
        }))
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CampaignError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("campaign ledger: {0}")]
    Ledger(#[from] StoreError),
    #[error("{0} campaign(s) still stopping")]
    Stopping(usize),
    #[error("{0} campaign(s) being resumed by another executor")]
    Busy(usize),
    #[error("out of time with {0} campaign(s) still to do")]
    Unfinished(usize),
}

impl CampaignError {
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            CampaignError::Api(e) => e.retry_after_s(),
            _ => None,
        }
    }

    /// Not a failure: the work goes on (another executor resuming, or this run out of
    /// time). It is retried soon and never paged. A campaign that stays `stopping` is
    /// Genesys's failure, and counts.
    pub fn is_progress(&self) -> bool {
        matches!(self, CampaignError::Busy(_) | CampaignError::Unfinished(_))
    }
}

/// What one pause or resume did, for the log, the board and the CLI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub paused: Vec<String>,
    pub joined: usize,
    /// Refused by Genesys (400: complete, invalid): recorded and skipped.
    pub skipped: Vec<String>,
    pub resumed: Vec<String>,
    /// Not resumed, with why (a person changed it meanwhile).
    pub left: Vec<String>,
    /// Turned on by a resume while a new outage took hold: handed back to its pause.
    pub held_again: Vec<String>,
}

pub struct Campaigns {
    pub api: Arc<GenesysApi>,
    pub ledger: Ledger,
    pub divisions: Vec<String>,
    pub clock: Arc<dyn Clock>,
}

/// PUTs that meet a moved version, per campaign and attempt.
const MAX_CONFLICTS: u32 = 3;
/// Steps per campaign and attempt: reads, ledger writes and PUTs.
const MAX_STEPS: u32 = 16;
/// How long one executor holds a campaign's resume.
pub const RESUME_CLAIM_MS: Millis = 120_000;
/// A run does not start on another campaign with less than this left.
const PER_CAMPAIGN: std::time::Duration = std::time::Duration::from_secs(4);

/// A campaign as the report and the action history name it: kind, name and id.
fn label(kind: Kind, name: &str, id: &str) -> String {
    format!("{} {name} ({id})", kind.as_str())
}

/// Who drives an entry: the pause or the resume of one episode.
enum Role<'a> {
    Pause {
        breaker: &'a str,
        generation: u64,
    },
    Resume {
        breaker: &'a str,
        generation: u64,
        owner: &'a str,
    },
}

impl Role<'_> {
    fn decide(&self, e: &Entry, seen: Option<Seen>, now: Millis) -> Step {
        match *self {
            Role::Pause {
                breaker,
                generation,
            } => step::pause(e, breaker, generation, seen, now),
            Role::Resume {
                breaker,
                generation,
                owner,
            } => step::resume(e, breaker, generation, owner, seen, now, RESUME_CLAIM_MS),
        }
    }
}

/// How driving one entry ended.
/// What one PUT's step leaves the drive to do next.
enum Flow {
    Next,
    Stop,
    /// Genesys answered 409: the version moved; read again (up to `MAX_CONFLICTS`).
    Conflict,
    /// The PUT failed: only reads and ledger writes follow, and the error is returned.
    Failed(ApiError),
}

#[derive(Debug, PartialEq, Eq)]
enum Fate {
    Settled,
    Wait,
}

/// What became of a ledger write.
#[derive(Debug, PartialEq, Eq)]
enum Recorded {
    Applied,
    /// Somebody changed the item first; it is read again.
    Refused,
    Gone,
}

/// How Genesys answered a PUT, as `step` reads it.
/// What the last read said of a campaign, for the step: gone (404), as read and when,
/// or not read yet.
fn seen_of(current: Option<&Campaign>, gone: bool, read_ms: Millis) -> Option<Seen> {
    match (current, gone) {
        (_, true) => Some(Seen::Gone),
        (Some(c), _) => Some(Seen::At {
            status: Status::of(&c.status),
            version: c.version,
            read_ms,
        }),
        (None, _) => None,
    }
}

fn answer<T>(r: &Result<T, ApiError>) -> Answer {
    use crate::http::HttpError;
    match r {
        Ok(_) => Answer::Accepted,
        Err(ApiError::VersionConflict(_)) => Answer::Conflict,
        Err(ApiError::Http(HttpError::Status {
            status: 400 | 404, ..
        })) => Answer::Refused,
        // 503: the server could not take the request (RFC 9110, 15.6.4); not made.
        Err(ApiError::Http(HttpError::Status { status, .. }))
            if *status < 500 || *status == 503 =>
        {
            Answer::NotNow
        }
        // No token: the PUT was never sent.
        Err(ApiError::Auth(_)) => Answer::NotNow,
        Err(_) => Answer::Unknown,
    }
}

impl Campaigns {
    /// With the function's one Genesys client; None when no breaker pauses campaigns.
    pub fn build(
        services: &Services,
        env: &impl Env,
        api: &Arc<GenesysApi>,
    ) -> Result<Option<Campaigns>, InitError> {
        let Some(config) = CampaignConfig::from_env(env)? else {
            return Ok(None);
        };
        Ok(Some(Campaigns {
            api: api.clone(),
            ledger: services.ledger(),
            divisions: config.divisions,
            clock: services.clock.clone(),
        }))
    }

    /// `episode`'s outage: hold every campaign already in the ledger, turn off every
    /// campaign that is `on`, and see each one it holds settle. Done only when each is
    /// seen `off` (or left to a person, or gone).
    pub async fn pause(&self, episode: &str, deadline: Instant) -> Result<Report, CampaignError> {
        let (breaker, generation) = step::hold_of(episode);
        let role = Role::Pause {
            breaker: &breaker,
            generation,
        };
        let mut report = Report::default();
        // Held first, so that a resume running late sees this outage before it could
        // turn them on, and what it turned on already is `on` for the listing below.
        for e in self.ledger.list(deadline).await? {
            if let Step::Write(w @ Write::Join { .. }) = role.decide(&e, None, 0) {
                if let Written::Now(_) = self.ledger.write(&e.key(), &w, e.rev, deadline).await? {
                    report.joined += 1;
                }
            }
        }
        for kind in Kind::ALL {
            let listed_ms = self.clock.now_ms();
            for c in self.api.list_on(kind, &self.divisions, deadline).await? {
                let claim = Write::Claim {
                    kind,
                    id: c.id.clone(),
                    name: c.name.clone(),
                    breaker: breaker.clone(),
                    generation,
                    now: self.clock.now_ms(),
                };
                if let Written::Now(e) = self
                    .ledger
                    .write(&claim_key(&c), &claim, 0, deadline)
                    .await?
                {
                    self.drive(e, &role, Some((c, listed_ms)), deadline, &mut report)
                        .await?;
                }
            }
        }
        let mut waiting = 0;
        for e in self.ledger.list(deadline).await? {
            if self.drive(e, &role, None, deadline, &mut report).await? == Fate::Wait {
                waiting += 1;
            }
        }
        if waiting > 0 {
            return Err(CampaignError::Stopping(waiting));
        }
        Ok(report)
    }

    /// `episode` is over: let go of what it (or an earlier episode of its breaker)
    /// holds, and turn back on each campaign nobody holds any more, if it is still `off`
    /// at the version we left it. `owner` claims each resume.
    pub async fn resume(
        &self,
        episode: &str,
        owner: &str,
        deadline: Instant,
    ) -> Result<Report, CampaignError> {
        let (breaker, generation) = step::hold_of(episode);
        let role = Role::Resume {
            breaker: &breaker,
            generation,
            owner,
        };
        let mut report = Report::default();
        let (mut waiting, mut busy) = (0, 0);
        // First: a pause of this episode that runs late claims and joins nothing more.
        self.ledger.end(&breaker, generation, deadline).await?;
        let entries = self.ledger.list(deadline).await?;
        let total = entries.len();
        for (i, e) in entries.into_iter().enumerate() {
            if Instant::now() + PER_CAMPAIGN >= deadline {
                return Err(CampaignError::Unfinished(total - i));
            }
            let stopping = e.stage == Stage::Pausing;
            if self.drive(e, &role, None, deadline, &mut report).await? == Fate::Wait {
                match stopping {
                    true => waiting += 1,
                    false => busy += 1,
                }
            }
        }
        if waiting > 0 {
            return Err(CampaignError::Stopping(waiting));
        }
        if busy > 0 {
            return Err(CampaignError::Busy(busy));
        }
        Ok(report)
    }

    /// Carry out `role`'s steps for one entry until it settles or must wait. After a
    /// PUT fails, only reads and ledger writes follow (a lost PUT's fate is read back),
    /// and the failure is returned.
    async fn drive(
        &self,
        mut e: Entry,
        role: &Role<'_>,
        current: Option<(Campaign, Millis)>,
        deadline: Instant,
        report: &mut Report,
    ) -> Result<Fate, CampaignError> {
        // The campaign as last read, and when the read was sent.
        let (mut current, mut read_ms) = match current {
            Some((c, at)) => (Some(c), at),
            None => (None, 0),
        };
        let mut failure: Option<ApiError> = None;
        let mut conflicts = 0;
        // Read, and Genesys no longer has it (404).
        let mut gone = false;
        for _ in 0..MAX_STEPS {
            let now = self.clock.now_ms();
            let seen = seen_of(current.as_ref(), gone, read_ms);
            match role.decide(&e, seen, now) {
                Step::Settled => break,
                Step::Wait => return failure.map_or(Ok(Fate::Wait), |f| Err(f.into())),
                Step::Read => match self.api.get(e.kind, &e.id, deadline).await {
                    Ok(c) => {
                        current = Some(c);
                        read_ms = now;
                    }
                    Err(err) if err.status() == Some(404) => {
                        tracing::warn!(campaign = %e.id, "campaign deleted in Genesys; its ledger entry is forgotten");
                        gone = true;
                    }
                    Err(err) => return Err(failure.unwrap_or(err).into()),
                },
                Step::Write(w) => {
                    let w = self.dated(w, current.as_ref());
                    let keep_seen = matches!(
                        w,
                        Write::Claim { .. }
                            | Write::Join { .. }
                            | Write::Release { .. }
                            | Write::Unsent
                            | Write::Sent { .. }
                    );
                    let applied = match self.record(&mut e, &w, deadline, report).await? {
                        Recorded::Gone => break,
                        // Its episode is over, or a later one holds it: not this pause's.
                        Recorded::Refused if matches!(w, Write::Join { .. }) => break,
                        Recorded::Applied => true,
                        // Somebody acted first: what we read of the campaign may be
                        // older than what they did.
                        Recorded::Refused => false,
                    };
                    if !keep_seen || !applied {
                        current = None;
                        gone = false;
                    }
                }
                Step::TurnOff | Step::TurnOn if failure.is_some() => break,
                Step::TurnOff => {
                    let Some(c) = current.take() else {
                        continue;
                    };
                    let flow = self.turn_off(&mut e, c, now, deadline, report).await?;
                    match flow {
                        Flow::Next => {}
                        Flow::Stop => break,
                        Flow::Conflict => {
                            conflicts += 1;
                            if conflicts >= MAX_CONFLICTS {
                                failure = Some(ApiError::VersionConflict(409));
                            }
                        }
                        Flow::Failed(err) => failure = Some(err),
                    }
                }
                Step::TurnOn => {
                    let (Some(c), Role::Resume { owner, .. }) = (current.take(), role) else {
                        continue;
                    };
                    match self
                        .turn_on(&mut e, c, owner, now, deadline, report)
                        .await?
                    {
                        Flow::Stop => break,
                        Flow::Failed(err) => failure = Some(err),
                        Flow::Next | Flow::Conflict => {}
                    }
                }
            }
        }
        failure.map_or(Ok(Fate::Settled), |f| Err(f.into()))
    }

    /// Turn `c` off: note the PUT as sent, send it within the bound the entry states,
    /// and record what Genesys answered.
    async fn turn_off(
        &self,
        e: &mut Entry,
        c: Campaign,
        now: Millis,
        deadline: Instant,
        report: &mut Report,
    ) -> Result<Flow, CampaignError> {
        let sent = Write::Sent {
            version: c.version,
            at: now,
        };
        match self.record(e, &sent, deadline, report).await? {
            Recorded::Applied => {}
            Recorded::Refused => return Ok(Flow::Next),
            Recorded::Gone => return Ok(Flow::Stop),
        }
        // Abandoned within the bound the entry now states.
        let bound = std::time::Duration::from_millis(step::PUT_BOUND_MS as u64);
        let r = self
            .api
            .switch(&c, "off", deadline.min(Instant::now() + bound))
            .await;
        let a = answer(&r);
        if let Some(w) = step::after_off(a) {
            if self.record(e, &w, deadline, report).await? == Recorded::Gone {
                if a == Answer::Refused {
                    tracing::warn!(campaign = %c.id, status = %c.status, "Genesys refused to turn the campaign off; skipped");
                    report.skipped.push(label(c.kind, &c.name, &c.id));
                }
                return Ok(Flow::Stop);
            }
        }
        Ok(match (a, r) {
            (Answer::Accepted, _) => {
                report.paused.push(label(c.kind, &c.name, &c.id));
                Flow::Next
            }
            (Answer::Conflict, _) => Flow::Conflict,
            (_, Err(err)) => Flow::Failed(err),
            (_, Ok(_)) => Flow::Next,
        })
    }

    /// Turn `c` on under `owner`'s claim, the PUT ending well inside it, and record
    /// what Genesys answered; a campaign a new outage holds since goes back to its pause.
    async fn turn_on(
        &self,
        e: &mut Entry,
        c: Campaign,
        owner: &str,
        now: Millis,
        deadline: Instant,
        report: &mut Report,
    ) -> Result<Flow, CampaignError> {
        // The PUT ends well inside the claim: nobody takes the campaign over while it
        // may still land.
        let left = step::on_put_bound(e.claim_until, now);
        let put_deadline =
            deadline.min(Instant::now() + std::time::Duration::from_millis(left as u64));
        let r = self.api.switch(&c, "on", put_deadline).await;
        let a = answer(&r);
        let w = step::after_on(a, owner, now);
        match self.record(e, &w, deadline, report).await? {
            Recorded::Gone => return Ok(Flow::Stop),
            // Turned on, and a new outage holds it since our claim: it goes back to the
            // pause, `on` being ours.
            Recorded::Refused if matches!(w, Write::Resumed { .. }) => {
                let back = Write::HandBack {
                    owner: owner.to_string(),
                };
                if self.record(e, &back, deadline, report).await? == Recorded::Applied {
                    tracing::warn!(campaign = %c.id, "an outage holds the campaign again; handed back to its pause");
                    report.held_again.push(label(c.kind, &c.name, &c.id));
                }
            }
            Recorded::Applied | Recorded::Refused => {}
        }
        Ok(match (a, r) {
            (Answer::NotNow | Answer::Unknown, Err(err)) => Flow::Failed(err),
            _ => Flow::Next,
        })
    }

    /// Make `w` on `e`, decided on it as it is; `e` becomes the item as it is now
    /// (read again if somebody changed it first).
    async fn record(
        &self,
        e: &mut Entry,
        w: &Write,
        deadline: Instant,
        report: &mut Report,
    ) -> Result<Recorded, CampaignError> {
        match self.ledger.write(&e.key(), w, e.rev, deadline).await? {
            Written::Now(next) => {
                self.noted(w, &next, report);
                *e = next;
                Ok(Recorded::Applied)
            }
            Written::Gone => {
                if let Write::Resumed { .. } = w {
                    report.resumed.push(label(e.kind, &e.name, &e.id));
                }
                Ok(Recorded::Gone)
            }
            Written::Refused => match self.ledger.get(&e.key(), deadline).await? {
                Some(now_is) => {
                    *e = now_is;
                    Ok(Recorded::Refused)
                }
                None => Ok(Recorded::Gone),
            },
        }
    }

    /// A `Leave` says when Genesys saw the campaign changed, and to what.
    fn dated(&self, w: Write, c: Option<&Campaign>) -> Write {
        let Write::Leave { note, now } = w else {
            return w;
        };
        let when = c
            .and_then(|c| c.modified.clone())
            .unwrap_or_else(|| crate::clock::iso8601(now));
        let status = c.map_or("as it is", |c| c.status.as_str());
        Write::Leave {
            note: format!("left {status}: {note} at {when}"),
            now,
        }
    }

    /// Say in the log and the report what a write meant.
    fn noted(&self, w: &Write, e: &Entry, report: &mut Report) {
        if let Write::Leave { note, .. } = w {
            tracing::info!(campaign = %e.id, %note, "not resumed");
            report
                .left
                .push(format!("{}: {note}", label(e.kind, &e.name, &e.id)));
        }
    }
}

fn claim_key(c: &Campaign) -> String {
    step::key(c.kind, &c.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report and the history name a campaign so that people can find it.
    #[test]
    fn a_campaign_is_named_by_kind_name_and_id() {
        assert_eq!(
            label(Kind::Voice, "Renewals", "c-1"),
            "voice Renewals (c-1)"
        );
    }

    /// A PUT's answer as the step reads it (RFC 9110 and the Genesys error model): only
    /// an answer that says the change was not made is `NotNow`; 500, 502, 504 and no
    /// answer may have landed, and are read back.
    #[test]
    fn a_put_is_taken_as_not_made_only_when_its_answer_says_so() {
        use crate::http::HttpError;
        let status = |status| -> Result<(), ApiError> {
            Err(ApiError::Http(HttpError::Status {
                status,
                retry_after_s: None,
            }))
        };
        assert_eq!(answer(&Ok(())), Answer::Accepted);
        assert_eq!(
            answer::<()>(&Err(ApiError::VersionConflict(409))),
            Answer::Conflict
        );
        for s in [400, 404] {
            assert_eq!(answer(&status(s)), Answer::Refused, "{s}");
        }
        for s in [401, 403, 429, 499, 503] {
            assert_eq!(answer(&status(s)), Answer::NotNow, "{s}");
        }
        for s in [500, 502, 504] {
            assert_eq!(answer(&status(s)), Answer::Unknown, "{s}");
        }
        assert_eq!(
            answer::<()>(&Err(ApiError::Auth("refused".into()))),
            Answer::NotNow
        );
        assert_eq!(
            answer::<()>(&Err(ApiError::Http(HttpError::Timeout))),
            Answer::Unknown
        );
        assert_eq!(answer::<()>(&Err(ApiError::Malformed)), Answer::Unknown);
    }

    fn env(divisions: &'static str) -> impl Fn(&str) -> Option<String> {
        move |k: &str| match k {
            "CAMPAIGN_PAUSE_ON" => Some("crm".into()),
            "CAMPAIGN_DIVISION_IDS" => Some(divisions.into()),
            _ => None,
        }
    }

    /// Division ids go into the campaign list's query: only Genesys ids are taken.
    #[test]
    fn division_ids_are_checked_before_they_go_into_a_query() {
        let ok = CampaignConfig::from_env(&env(" 5a1b-22 , d-2,"));
        assert_eq!(
            ok.ok().flatten().map(|c| c.divisions),
            Some(vec!["5a1b-22".to_string(), "d-2".to_string()])
        );
        for bad in ["d-1,d 2", "x&divisionId=y"] {
            assert!(
                matches!(
                    CampaignConfig::from_env(&env(bad)),
                    Err(ConfigError::Invalid { .. })
                ),
                "{bad}"
            );
        }
    }
}
