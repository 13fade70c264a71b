//! The campaign pause (the guide's third promise: outbound campaigns pause safely).
//! A breaker's outage turns off every outbound campaign that is dialing; its recovery
//! turns back on exactly those, and only those nobody has touched since. The ledger
//! remembers what was done; `genesys` speaks to the campaign API.

pub mod genesys;
pub mod ledger;

use std::sync::Arc;

use serde::Serialize;
use tokio::time::Instant;

use crate::clock::{Clock, Millis};
use crate::config::{number, ConfigError, Env};
use crate::genesys::{ApiError, GenesysApi};
use crate::service::{InitError, Services};
use crate::store::StoreError;
use genesys::{Campaign, Kind};
use ledger::{Entry, Ledger, Stage};

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
        if crate::breaker::campaign_pause_on(env).is_empty() {
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
}

impl CampaignError {
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            CampaignError::Api(e) => e.retry_after_s(),
            _ => None,
        }
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
}

pub struct Campaigns {
    pub api: Arc<GenesysApi>,
    pub ledger: Ledger,
    pub divisions: Vec<String>,
    pub clock: Arc<dyn Clock>,
}

/// A PUT that meets a moved version re-reads and tries again this often at most.
const MAX_CONFLICTS: u32 = 3;
/// Reads that wait for `stopping` to become `off` within one attempt.
const MAX_STOPPING_READS: u32 = 6;
/// How long one executor holds a campaign's resume.
const RESUME_CLAIM_MS: Millis = 120_000;

fn label(c: &Campaign) -> String {
    format!("{} {} ({})", c.kind.as_str(), c.name, c.id)
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
            ledger: Ledger {
                client: services.dynamo.clone(),
                table: services.table.clone(),
            },
            divisions: config.divisions,
            clock: services.clock.clone(),
        }))
    }

    /// Turn off every campaign that is `on`, and hold every one already off by us, for
    /// `breaker`. Done only when each one this breaker holds is seen `off`.
    pub async fn pause(&self, breaker: &str, deadline: Instant) -> Result<Report, CampaignError> {
        let mut report = Report::default();
        // Held already (by another breaker's outage, or by an earlier attempt).
        for e in self.ledger.list(deadline).await? {
            if matches!(e.stage, Stage::Pausing | Stage::Paused) && !e.holders.contains(breaker) {
                self.ledger.join(&e.key(), breaker, deadline).await?;
                report.joined += 1;
            }
        }
        for kind in Kind::ALL {
            for c in self.api.list_on(kind, &self.divisions, deadline).await? {
                let now = self.clock.now_ms();
                if !self.ledger.claim_pause(&c, breaker, now, deadline).await? {
                    report.joined += 1;
                    continue;
                }
                match self.turn_off(c.clone(), deadline).await {
                    Ok(()) => {
                        self.ledger
                            .acked(&ledger::key(c.kind, &c.id), deadline)
                            .await?;
                        report.paused.push(label(&c));
                    }
                    Err(ApiError::Http(crate::http::HttpError::Status { status: 400, .. })) => {
                        // Complete or invalid: Genesys will not turn it off. Not ours.
                        tracing::warn!(campaign = %c.id, status = %c.status, "Genesys refused to turn the campaign off; skipped");
                        self.ledger
                            .forget(&ledger::key(c.kind, &c.id), deadline)
                            .await?;
                        report.skipped.push(label(&c));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // Everything this breaker holds must be seen off, at the version to restore.
        let mut stopping = 0;
        for e in self.ledger.list(deadline).await? {
            if e.stage != Stage::Pausing || !e.holders.contains(breaker) {
                continue;
            }
            if !self.settle_pause(&e, deadline).await? {
                stopping += 1;
            }
        }
        if stopping > 0 {
            return Err(CampaignError::Stopping(stopping));
        }
        Ok(report)
    }

    /// PUT `off` with the version just read; a stale version (409, or Genesys's 400
    /// that says so) re-reads and tries again, bounded.
    async fn turn_off(&self, mut c: Campaign, deadline: Instant) -> Result<(), ApiError> {
        for _ in 0..MAX_CONFLICTS {
            match self.api.switch(&c, "off", deadline).await {
                Err(e) if e.is_version_conflict() => {
                    c = self.api.get(c.kind, &c.id, deadline).await?;
                    if c.status != "on" {
                        return Ok(());
                    }
                }
                r => return r.map(|_| ()),
            }
        }
        Err(ApiError::VersionConflict(409))
    }

    /// Read a campaign being paused until it is `off` (recorded with its version), within
    /// a few reads. A campaign found `on` again was never turned off (a lost PUT): turn
    /// it off now. `forced_*` belongs to Genesys: forget it.
    async fn settle_pause(&self, e: &Entry, deadline: Instant) -> Result<bool, CampaignError> {
        for _ in 0..MAX_STOPPING_READS {
            let Some(c) = self.read(e, deadline).await? else {
                return Ok(true);
            };
            match c.status.as_str() {
                "off" => {
                    self.ledger.paused(&e.key(), c.version, deadline).await?;
                    return Ok(true);
                }
                "stopping" => continue,
                // Turned off by us, and on again: a person's choice, which stands.
                "on" if e.acked => {
                    self.leave(e, &c, deadline).await?;
                    return Ok(true);
                }
                // Never turned off (an attempt that ended before its PUT): now.
                "on" => {
                    self.turn_off(c, deadline).await?;
                    self.ledger.acked(&e.key(), deadline).await?;
                }
                _ => {
                    self.ledger.forget(&e.key(), deadline).await?;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// The campaign of `e` as Genesys holds it now; None, and its entry forgotten, when
    /// Genesys no longer has it (404: deleted meanwhile). A deleted campaign has nothing
    /// to restore, and must not fail every later pause and resume.
    async fn read(&self, e: &Entry, deadline: Instant) -> Result<Option<Campaign>, CampaignError> {
        match self.api.get(e.kind, &e.id, deadline).await {
            Ok(c) => Ok(Some(c)),
            Err(err) if err.status() == Some(404) => {
                tracing::warn!(campaign = %e.id, "campaign deleted in Genesys; its ledger entry is forgotten");
                self.ledger.forget(&e.key(), deadline).await?;
                Ok(None)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Leave `c` as a person set it, and say so in the ledger.
    async fn leave(
        &self,
        e: &Entry,
        c: &Campaign,
        deadline: Instant,
    ) -> Result<String, CampaignError> {
        let now = self.clock.now_ms();
        let when = c
            .modified
            .clone()
            .unwrap_or_else(|| crate::clock::iso8601(now));
        let note = format!("left {}: changed by someone at {when}", c.status);
        tracing::info!(campaign = %c.id, %note, "not resumed");
        self.ledger.leave(&e.key(), &note, now, deadline).await?;
        Ok(note)
    }

    /// `breaker`'s outage is over: let go of what it holds, and turn back on each
    /// campaign nobody holds any more, if it is still `off` at the version we left.
    pub async fn resume(
        &self,
        breaker: &str,
        owner: &str,
        deadline: Instant,
    ) -> Result<Report, CampaignError> {
        let mut report = Report::default();
        let (mut stopping, mut busy) = (0, 0);
        for e in self.ledger.list(deadline).await? {
            let now_free = if e.holders.contains(breaker) {
                match self.ledger.release(&e.key(), breaker, deadline).await? {
                    Some(after) => after.holders.is_empty(),
                    None => false,
                }
            } else {
                // Let go of already, by a run that did not finish the resume.
                e.holders.is_empty() && e.stage != Stage::Left
            };
            if !now_free || e.stage == Stage::Left {
                continue;
            }
            let mut e = e;
            if e.stage == Stage::Pausing {
                // The outage ended before the pause was seen through: finish it first.
                let Some(c) = self.read(&e, deadline).await? else {
                    report
                        .left
                        .push(format!("{} {}: deleted in Genesys", e.kind.as_str(), e.id));
                    continue;
                };
                match c.status.as_str() {
                    "off" => {
                        self.ledger.paused(&e.key(), c.version, deadline).await?;
                        e.version = Some(c.version);
                    }
                    "stopping" => {
                        stopping += 1;
                        continue;
                    }
                    // Never turned off, or Genesys's own: nothing to restore.
                    _ => {
                        self.ledger.forget(&e.key(), deadline).await?;
                        continue;
                    }
                }
            }
            let now = self.clock.now_ms();
            if !self
                .ledger
                .claim_resume(&e.key(), owner, now, now + RESUME_CLAIM_MS, deadline)
                .await?
            {
                // Another executor holds it: done when that one is, or taken over once
                // its claim runs out. Not done here.
                busy += 1;
                continue;
            }
            let Some(c) = self.read(&e, deadline).await? else {
                report
                    .left
                    .push(format!("{} {}: deleted in Genesys", e.kind.as_str(), e.id));
                continue;
            };
            let untouched = c.status == "off" && Some(c.version) == e.version;
            if untouched {
                match self.api.switch(&c, "on", deadline).await {
                    Ok(_) => {
                        self.ledger.forget(&e.key(), deadline).await?;
                        report.resumed.push(label(&c));
                        continue;
                    }
                    // The version moved under us: somebody is changing it right now.
                    Err(err) if err.is_version_conflict() => {}
                    Err(err) => return Err(err.into()),
                }
            }
            let note = self.leave(&e, &c, deadline).await?;
            report.left.push(format!("{}: {note}", label(&c)));
        }
        if stopping > 0 {
            return Err(CampaignError::Stopping(stopping));
        }
        if busy > 0 {
            return Err(CampaignError::Busy(busy));
        }
        Ok(report)
    }
}
