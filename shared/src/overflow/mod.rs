//! Regional overflow: callers sent to the backup region by one switch, an Architect
//! emergency group (`emergency`), made by a person (`failsoft overflow`) or by a
//! breaker's outage (`OVERFLOW_AUTO_ON`), claimed and recorded in one item (`record`),
//! announced as a low-urgency page, and paged at once when it cannot be made, because
//! the carrier/SBC re-route is then the only way. `backup` proves every minute that the
//! backup region would take the calls.

pub mod backup;
pub mod emergency;
pub mod record;
pub mod step;

pub use emergency::{set_enabled, Group, SwitchError, Switched};
pub use record::{Claim, Intent, Mode, Switch, Switches};

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::breaker::{outbox, Action, BreakerStore, Op, OutboxEntry};
use crate::clock::{Clock, Millis};
use crate::config::{number, ConfigError, Env};
use crate::genesys::GenesysApi;
use crate::service::{InitError, Services};
use crate::store::StoreError;

/// `OVERFLOW_EMERGENCY_GROUP_ID` and how long a switch keeps trying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverflowConfig {
    /// The group the automatic mode switches, and the command's default.
    pub group: Option<String>,
    /// How long a switch retries a failing primary-region API before it pages for the
    /// SBC re-route (`OVERFLOW_SWITCH_TIMEOUT_S`).
    pub budget: Duration,
    /// The breakers whose outage switches automatically (`OVERFLOW_AUTO_ON`).
    pub auto_on: Vec<String>,
}

impl OverflowConfig {
    pub fn from_env(env: &impl Env) -> Result<OverflowConfig, ConfigError> {
        let env: &dyn Env = env;
        let group = env.get("OVERFLOW_EMERGENCY_GROUP_ID");
        if let Some(g) = group.as_deref().filter(|g| !crate::http::genesys_id(g)) {
            return Err(ConfigError::Invalid {
                var: "OVERFLOW_EMERGENCY_GROUP_ID".into(),
                value: g.to_string(),
                why: "not an emergency group id".into(),
            });
        }
        Ok(OverflowConfig {
            group,
            budget: Duration::from_secs(number(env, "OVERFLOW_SWITCH_TIMEOUT_S", 45u64, 5, 50)?),
            auto_on: crate::dependency::overflow_auto_on(env),
        })
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum OverflowError {
    #[error(transparent)]
    Switch(#[from] SwitchError),
    #[error("overflow record: {0}")]
    Record(#[from] StoreError),
    #[error("another overflow switch is under way ({0})")]
    Busy(String),
    #[error("no emergency group given and OVERFLOW_EMERGENCY_GROUP_ID is not set")]
    NoGroup,
}

impl OverflowError {
    /// Worth trying again within the budget: the API or the table failing, a conflict.
    fn transient(&self) -> bool {
        match self {
            OverflowError::Switch(SwitchError::Api(e)) => {
                !matches!(e.status(), Some(400 | 401 | 403 | 404))
            }
            OverflowError::Switch(SwitchError::Conflict(_)) => true,
            OverflowError::Record(_) | OverflowError::Busy(_) => true,
            _ => false,
        }
    }
}

/// One switch asked for.
#[derive(Clone, Debug)]
pub struct Request {
    /// The group's id or exact name.
    pub group: String,
    pub enabled: bool,
    pub mode: Mode,
    pub by: String,
    pub reason: String,
    /// The breaker whose record carries the pages (`genesys-api` for a person's switch).
    pub breaker: String,
    /// Only confirm an earlier attempt's switch whose confirmation was lost; never PUT
    /// (an activation whose outage ended before it was confirmed).
    pub confirm_only: bool,
}

/// What a switch did, for the CLI, the log and the action history.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub group: String,
    pub enabled: bool,
    /// False when the group already was as asked (nothing PUT).
    pub changed: bool,
    pub ivrs_before: usize,
    pub ivrs_after: usize,
    pub version: i64,
    /// Why nothing was done (an automatic restore of a group a person changed).
    pub left: Option<String>,
    pub elapsed_ms: u64,
    /// False when the state table could not be reached: a person's switch was made
    /// anyway, but neither recorded nor paged (the board does not show it).
    pub recorded: bool,
}

impl Report {
    /// What `sw` did, `started` ago; `left` says why nothing was done, if so.
    fn of(sw: &Switched, left: Option<String>, started: Instant, recorded: bool) -> Report {
        Report {
            group: format!("{} ({})", sw.after.name, sw.after.id),
            enabled: sw.after.enabled,
            changed: sw.changed,
            ivrs_before: sw.before.ivrs().len(),
            ivrs_after: sw.after.ivrs().len(),
            version: sw.after.version,
            left,
            elapsed_ms: started.elapsed().as_millis() as u64,
            recorded,
        }
    }
}

/// The claim on a switch lasts the budget and a margin for recording it.
const CLAIM_MARGIN_MS: Millis = 30_000;
/// The first retry's wait; each further one doubles, within the budget.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

pub struct Overflow {
    pub api: Arc<GenesysApi>,
    pub switches: Switches,
    /// Where the pages go (`Op::Page` on a breaker's record; outage-actions sends them).
    pub store: Arc<dyn BreakerStore>,
    pub config: OverflowConfig,
    pub clock: Arc<dyn Clock>,
    pub first_backoff: Duration,
}

/// The pages of an overflow switch, one slot each, so the record stays bounded.
pub const PAGE_ON: &str = "work-overflow-on";
pub const PAGE_OFF: &str = "work-overflow-off";
pub const PAGE_FAILED: &str = "work-overflow-failed";
pub const PAGE_IVRS: &str = "work-overflow-ivrs";
pub const PAGE_REFUSED: &str = "work-overflow-refused";
/// The refusal page at most this often per breaker.
const REFUSED_PAGE_EVERY_MS: Millis = 3_600_000;
/// A readiness check older than this proves nothing (the probe checks every minute).
pub const READINESS_MAX_AGE_MS: Millis = 300_000;

/// Whether `backup` (the `genesys-backup` record) proves the backup region ready at
/// `now`: its last check passed, within `READINESS_MAX_AGE_MS`, and its breaker is
/// closed. Otherwise, why not, in words for the page.
pub fn proven(backup: &crate::breaker::Record, now: Millis) -> Result<(), String> {
    match backup.last_check {
        None => Err(
            "its readiness is not checked (set BACKUP_GENESYS_ENVIRONMENT for the health probe)"
                .into(),
        ),
        Some((_, false)) => Err(format!(
            "its last check failed ({})",
            backup.last_error.as_deref().unwrap_or("no detail")
        )),
        Some((at, true)) if now - at > READINESS_MAX_AGE_MS => Err(format!(
            "it was last proven ready {} ago",
            crate::clock::ago(now, at)
        )),
        Some(_) if backup.state != crate::breaker::State::Closed => {
            Err(format!("its breaker is {}", backup.state))
        }
        Some(_) => Ok(()),
    }
}

impl Overflow {
    /// From `OVERFLOW_*`, with the function's one Genesys client (the primary region's).
    pub fn build(
        services: &Services,
        env: &impl Env,
        api: &Arc<GenesysApi>,
    ) -> Result<Overflow, InitError> {
        Ok(Overflow {
            api: api.clone(),
            switches: Switches {
                client: services.dynamo.clone(),
                table: services.table.clone(),
            },
            store: services.store.clone(),
            config: OverflowConfig::from_env(env)?,
            clock: services.clock.clone(),
            first_backoff: FIRST_BACKOFF,
        })
    }

    /// The group asked for, or the configured one.
    pub fn group_or_default(&self, group: Option<&str>) -> Result<String, OverflowError> {
        group
            .map(str::to_string)
            .or_else(|| self.config.group.clone())
            .ok_or(OverflowError::NoGroup)
    }

    /// Another `OVERFLOW_AUTO_ON` breaker still in an outage: the overflow stays on
    /// until the last one recovers (its restore then undoes it). A breaker that cannot
    /// be read is not taken for recovered: the restore waits for a reading.
    pub async fn held_by_other(
        &self,
        breaker: &str,
        deadline: Instant,
    ) -> Result<Option<String>, StoreError> {
        for other in self.config.auto_on.iter().filter(|o| *o != breaker) {
            let until = crate::store::request_deadline(deadline);
            let r = tokio::time::timeout_at(until, self.store.load(other))
                .await
                .unwrap_or(Err(StoreError::Timeout))?;
            if r.state.is_degraded() {
                return Ok(Some(format!("{other} is still {}", r.state)));
            }
        }
        Ok(None)
    }

    /// Whether the backup region is proven ready to take the calls: the health probe's
    /// last check of `genesys-backup` passed, recently. An automatic overflow goes only
    /// to a backup proven so; the reason is what the page says when it does not.
    pub async fn backup_proven(&self, deadline: Instant) -> Result<(), String> {
        let until = crate::store::request_deadline(deadline);
        let name = crate::dependency::Dependency::GenesysBackup.name();
        match tokio::time::timeout_at(until, self.store.load(name)).await {
            Ok(Ok(r)) => proven(&r, self.clock.now_ms()),
            Ok(Err(e)) => Err(format!("its readiness could not be read ({e})")),
            Err(_) => Err("its readiness could not be read (state table timed out)".into()),
        }
    }

    /// Page that the automatic overflow was not made, and why (at most hourly: the
    /// action retries until the backup is proven ready or the outage ends).
    pub async fn refused(&self, breaker: &str, group: &str, why: &str) {
        let summary = format!(
            "Regional overflow NOT activated automatically: emergency group {group} stays off because the backup region is not proven ready: {why}. Callers stay on the primary region; if it is failing them, fix the backup or re-route at the carrier/SBC (runbook regional-overflow.md)"
        );
        self.page_every(
            breaker,
            PAGE_REFUSED,
            Action::Trigger,
            "overflow-refused",
            &summary,
            why,
            REFUSED_PAGE_EVERY_MS,
        )
        .await;
    }

    /// The group as Genesys holds it now (for `status` and `--dry-run`).
    pub async fn read(&self, group: &str, deadline: Instant) -> Result<Group, OverflowError> {
        Ok(emergency::find(&self.api, group, deadline).await?)
    }

    /// The same, riding out the transient answers of a degraded region (a 503, a reset)
    /// with the switch's backoff, for at most 30 s (less with a smaller switch budget),
    /// within `deadline`: a person is not sent to the carrier over one refused read, and
    /// the switch that follows keeps time of its own.
    pub async fn read_patiently(
        &self,
        group: &str,
        deadline: Instant,
    ) -> Result<Group, OverflowError> {
        let patience = self.config.budget.min(Duration::from_secs(30));
        let deadline = deadline.min(Instant::now() + patience);
        self.patiently(group, "emergency group not read", deadline, || {
            self.read(group, deadline)
        })
        .await
    }

    /// `f` again while it fails transiently and the next wait (doubling from
    /// `first_backoff`, at most 8 s) still ends before `deadline`.
    async fn patiently<T, F, Fut>(
        &self,
        group: &str,
        what: &str,
        deadline: Instant,
        f: F,
    ) -> Result<T, OverflowError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, OverflowError>>,
    {
        let mut wait = self.first_backoff;
        loop {
            match f().await {
                Err(e) if e.transient() && Instant::now() + wait < deadline => {
                    tracing::warn!(group, error = %e, wait_ms = wait.as_millis() as u64, "{what}; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(8));
                }
                r => return r,
            }
        }
    }

    /// Make the switch `req` asks for: claimed, retried within the budget, recorded,
    /// announced. When enabling keeps failing, the SBC page goes out at once.
    pub async fn switch(
        &self,
        req: &Request,
        owner: &str,
        deadline: Instant,
    ) -> Result<Report, OverflowError> {
        let started = Instant::now();
        let deadline = deadline.min(started + self.config.budget);
        let r = self.switch_within(req, owner, started, deadline).await;
        if let Err(e) = &r {
            tracing::error!(group = %req.group, enabled = req.enabled, error = %e, "overflow switch failed");
            // A switch that waited out its budget behind another's claim made nothing
            // fail: the holder pages its own outcome, and a holder that died leaves its
            // claim to expire for the next attempt, which pages if it fails.
            if req.enabled && !matches!(e, OverflowError::Busy(_)) {
                let summary = format!(
                    "Regional overflow FAILED: emergency group {} could not be enabled for {} s ({}). Re-route at the carrier/SBC now: runbook regional-overflow.md, section \"SBC fallback\"",
                    req.group,
                    started.elapsed().as_secs(),
                    crate::breaker::clip(&e.to_string(), 160)
                );
                self.page(
                    &req.breaker,
                    PAGE_FAILED,
                    Action::Trigger,
                    "overflow-failed",
                    &summary,
                    &e.to_string(),
                )
                .await;
            }
        }
        r
    }

    async fn switch_within(
        &self,
        req: &Request,
        owner: &str,
        started: Instant,
        deadline: Instant,
    ) -> Result<Report, OverflowError> {
        self.patiently(&req.group, "overflow switch failed", deadline, || {
            self.attempt(req, owner, started, deadline)
        })
        .await
    }

    async fn attempt(
        &self,
        req: &Request,
        owner: &str,
        started: Instant,
        deadline: Instant,
    ) -> Result<Report, OverflowError> {
        let now = self.clock.now_ms();
        let until = now + self.config.budget.as_millis() as Millis + CLAIM_MARGIN_MS;
        let (last, intent) = match self.switches.claim(owner, now, until, deadline).await {
            Ok(Claim::Won(last, intent)) => (last, intent),
            Ok(Claim::Busy(by)) => return Err(OverflowError::Busy(by)),
            // Our own state table must not stand between a person and the switch: made
            // unclaimed (Genesys's version check still lets one PUT through), unrecorded.
            Err(e) if req.mode == Mode::Manual => {
                tracing::error!(error = %e, "the state table is unavailable: switching without a claim or a record");
                return self.unrecorded(req, started, deadline).await;
            }
            Err(e) => return Err(e.into()),
        };
        let r = self
            .claimed(req, owner, last, intent, started, deadline)
            .await;
        if r.is_err() {
            let _ = self.switches.release(owner, deadline).await;
        }
        r
    }

    /// A person's switch while the state table is down: Genesys alone.
    async fn unrecorded(
        &self,
        req: &Request,
        started: Instant,
        deadline: Instant,
    ) -> Result<Report, OverflowError> {
        let group = emergency::find(&self.api, &req.group, deadline).await?;
        let sw = set_enabled(&self.api, &group.id, req.enabled, deadline).await?;
        Ok(Report::of(&sw, None, started, false))
    }

    /// The switch itself, under the claim.
    async fn claimed(
        &self,
        req: &Request,
        owner: &str,
        last: Option<Switch>,
        intent: Option<Intent>,
        started: Instant,
        deadline: Instant,
    ) -> Result<Report, OverflowError> {
        let group = emergency::find(&self.api, &req.group, deadline).await?;
        let seen = step::Seen {
            id: group.id.clone(),
            enabled: group.enabled,
            version: group.version,
        };
        let report = |sw: &Switched, left: Option<String>| Report::of(sw, left, started, true);
        let decided = match req.confirm_only {
            true => step::decide_confirm_only(&seen, last.as_ref(), intent.as_ref()),
            false => step::decide(req.mode, req.enabled, &seen, last.as_ref(), intent.as_ref()),
        };
        match decided {
            // An earlier attempt of this same switch PUT it, and its confirmation was
            // lost (the answer, the read after it, or the record): Failsoft's switch,
            // recorded and paged as one, so that the restore undoes it and the on-call
            // hears of it.
            step::Step::Confirm => {
                tracing::warn!(group = %group.id, enabled = req.enabled, "an earlier attempt's switch landed; its confirmation was lost");
                // Recorded at the version our PUT produced (each change adds one), not
                // the one read now: a person's change since is theirs, as in `set_enabled`.
                let mut after = group.clone();
                if let Some(i) = &intent {
                    after.version = i.from_version + 1;
                }
                let sw = Switched {
                    before: group.clone(),
                    after,
                    changed: true,
                };
                return self
                    .confirmed(
                        req,
                        owner,
                        sw,
                        Some("confirmed after its answer was lost"),
                        started,
                        deadline,
                    )
                    .await;
            }
            step::Step::Release { note } => {
                self.switches.release(owner, deadline).await?;
                return Ok(report(&Switched::unchanged(&group), note));
            }
            step::Step::Leave { note } => {
                self.record(&group, Mode::Left, req, Some(&note), owner, deadline)
                    .await?;
                return Ok(report(&Switched::unchanged(&group), Some(note)));
            }
            step::Step::Reverted { note } => {
                self.record(&group, Mode::Left, req, Some(&note), owner, deadline)
                    .await?;
                let summary = format!(
                    "Regional overflow NOT active: Failsoft enabled emergency group {} ({}), and someone disabled it since; it is left disabled. If callers should be on the backup region, enable it again: failsoft overflow activate",
                    group.name, req.breaker
                );
                self.page(
                    &req.breaker,
                    PAGE_ON,
                    Action::Trigger,
                    "overflow",
                    &summary,
                    &note,
                )
                .await;
                return Ok(report(&Switched::unchanged(&group), Some(note)));
            }
            step::Step::Undo => {
                let summary = format!(
                    "Regional overflow was ACTIVE: emergency group {} was enabled by Failsoft ({}) and its confirmation was lost; restoring it now",
                    group.name, req.breaker
                );
                tracing::warn!(group = %group.id, "an activation landed and was never confirmed; paged, and restored");
                self.page(
                    &req.breaker,
                    PAGE_ON,
                    Action::Trigger,
                    "overflow",
                    &summary,
                    &summary,
                )
                .await;
            }
            step::Step::Put => {}
        }
        self.put(req, owner, &group, started, deadline).await
    }

    /// The switch itself: the intent recorded, the group PUT whole with its IVR links
    /// checked (a link lost is restored and paged), then confirmed, recorded and paged.
    async fn put(
        &self,
        req: &Request,
        owner: &str,
        group: &Group,
        started: Instant,
        deadline: Instant,
    ) -> Result<Report, OverflowError> {
        let intended = Intent {
            group_id: group.id.clone(),
            enabled: req.enabled,
            from_version: group.version,
            at_ms: self.clock.now_ms(),
        };
        self.switches.intend(owner, &intended, deadline).await?;
        let sw = match set_enabled(&self.api, &group.id, req.enabled, deadline).await {
            Ok(sw) => sw,
            Err(SwitchError::IvrsLost { lost, restored }) => {
                let summary = format!(
                    "Regional overflow: switching emergency group {} disconnected IVRs {lost:?}; {}",
                    group.name,
                    if restored {
                        "they were restored at once. Check the group in Architect."
                    } else {
                        "restoring them FAILED: relink them in Architect now."
                    }
                );
                self.page(
                    &req.breaker,
                    PAGE_IVRS,
                    Action::Trigger,
                    "overflow-ivrs",
                    &summary,
                    &summary,
                )
                .await;
                if !restored {
                    return Err(SwitchError::IvrsLost { lost, restored }.into());
                }
                let after = emergency::get(&self.api, &group.id, deadline).await?;
                Switched {
                    before: group.clone(),
                    changed: after.enabled != group.enabled,
                    after,
                }
            }
            Err(e) => return Err(e.into()),
        };
        if sw.after.enabled != req.enabled {
            return Err(SwitchError::Conflict(0).into());
        }
        let note = (!sw.changed).then(|| format!("already {}", on_off(req.enabled)));
        self.confirmed(req, owner, sw, note.as_deref(), started, deadline)
            .await
    }

    /// A switch made (or found made by this same switch's earlier attempt): recorded
    /// as `req.mode`, and paged.
    async fn confirmed(
        &self,
        req: &Request,
        owner: &str,
        sw: Switched,
        note: Option<&str>,
        started: Instant,
        deadline: Instant,
    ) -> Result<Report, OverflowError> {
        let mode = req.mode;
        self.record(&sw.after, mode, req, note, owner, deadline)
            .await?;
        let r = Report::of(&sw, None, started, true);
        let summary = format!(
            "Regional overflow {}: emergency group {} {} by {} ({}); {} of {} IVR links kept, {} s",
            if req.enabled { "ACTIVE" } else { "ended" },
            sw.after.name,
            if req.enabled { "enabled" } else { "disabled" },
            req.by,
            req.reason,
            r.ivrs_after,
            r.ivrs_before,
            r.elapsed_ms / 1000
        );
        tracing::info!(group = %sw.after.id, enabled = req.enabled, changed = sw.changed, by = %req.by, mode = mode.as_str(), "overflow switched");
        crate::metrics::emit(
            &[(
                "Action",
                if req.enabled {
                    "overflow_on"
                } else {
                    "overflow_off"
                },
            )],
            &[crate::metrics::millis(
                "OverflowSwitchLatency",
                r.elapsed_ms as f64,
            )],
        );
        if req.enabled {
            self.page(
                &req.breaker,
                PAGE_ON,
                Action::Trigger,
                "overflow",
                &summary,
                &req.reason,
            )
            .await;
        } else {
            self.page(
                &req.breaker,
                PAGE_OFF,
                Action::Resolve,
                "overflow",
                &summary,
                &req.reason,
            )
            .await;
        }
        Ok(r)
    }

    async fn record(
        &self,
        g: &Group,
        mode: Mode,
        req: &Request,
        note: Option<&str>,
        owner: &str,
        deadline: Instant,
    ) -> Result<(), OverflowError> {
        let sw = Switch {
            group_id: g.id.clone(),
            group_name: g.name.clone(),
            enabled: g.enabled,
            version: g.version,
            mode,
            by: req.by.clone(),
            reason: req.reason.clone(),
            at_ms: self.clock.now_ms(),
            ivrs: g.ivrs().len() as u32,
            note: note.map(str::to_string),
        };
        if !self.switches.save(&sw, owner, deadline).await? {
            tracing::warn!("the overflow claim ran out before the switch was recorded");
        }
        Ok(())
    }

    /// Queue a page on `breaker`'s record: outage-actions sends it within a second, from
    /// whichever function or command asked.
    async fn page(
        &self,
        breaker: &str,
        id: &str,
        action: Action,
        what: &str,
        summary: &str,
        detail: &str,
    ) {
        self.page_every(breaker, id, action, what, summary, detail, 0)
            .await
    }

    /// `page`, at most once per `every_ms` for its slot.
    #[allow(clippy::too_many_arguments)]
    async fn page_every(
        &self,
        breaker: &str,
        id: &str,
        action: Action,
        what: &str,
        summary: &str,
        detail: &str,
        every_ms: Millis,
    ) {
        let now = self.clock.now_ms();
        let mut alert: OutboxEntry = outbox::work_fault(breaker, what, summary, detail, now);
        alert.id = id.to_string();
        alert.action = action;
        let op = Op::Page {
            alert,
            now,
            every_ms,
        };
        let until = Instant::now() + 2 * crate::store::REQUEST_TIMEOUT;
        match tokio::time::timeout_at(until, self.store.apply(breaker, &op)).await {
            Ok(Ok(_)) => {}
            r => {
                tracing::error!(breaker, page = id, result = ?r.map(|r| r.map(|_| ())), "the overflow page could not be queued")
            }
        }
    }
}

fn on_off(enabled: bool) -> &'static str {
    if enabled {
        "enabled"
    } else {
        "disabled"
    }
}

/// The board's line on the backup region, from the `genesys-backup` breaker: "ready,
/// checked 40 s ago", or why not. None when the probe does not check it.
pub fn readiness(r: &crate::breaker::Record, now: Millis) -> Option<serde_json::Value> {
    let (at, healthy) = r.last_check?;
    let ready = healthy && r.state == crate::breaker::State::Closed;
    let checked = crate::clock::ago(now, at);
    let text = if ready {
        format!("Backup region: ready, checked {checked}")
    } else {
        format!(
            "Backup region: NOT READY ({}), checked {checked}",
            r.last_error.as_deref().unwrap_or("last check failed")
        )
    };
    Some(
        serde_json::json!({"ready": ready, "state": r.state, "checkedAt": crate::clock::iso8601(at), "text": text}),
    )
}

impl Switch {
    /// The last switch as people read it, on the board and in `failsoft overflow status`.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "group": format!("{} ({})", self.group_name, self.group_id),
            "active": self.enabled,
            "mode": self.mode,
            "by": self.by,
            "reason": self.reason,
            "at": crate::clock::iso8601(self.at_ms),
            "ivrs": self.ivrs,
            "note": self.note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::{Record, State};

    /// A backup record as the probe leaves it: closed, last checked at `at`.
    fn checked(at: Millis, ok: bool) -> Record {
        let mut r = Record::new("genesys-backup");
        r.last_check = Some((at, ok));
        r
    }

    /// The last switch as people read it: the group by name and id, who, why, when.
    #[test]
    fn a_switch_reads_with_its_group_its_author_and_its_time() {
        let sw = Switch {
            group_id: "eg-1".into(),
            group_name: "Regional overflow".into(),
            enabled: true,
            version: 4,
            mode: Mode::Manual,
            by: "alice".into(),
            reason: "region degraded".into(),
            at_ms: 1_800_000_000_000,
            ivrs: 3,
            note: Some("already enabled".into()),
        };
        assert_eq!(
            sw.view(),
            serde_json::json!({
                "group": "Regional overflow (eg-1)",
                "active": true,
                "mode": "manual",
                "by": "alice",
                "reason": "region degraded",
                "at": "2027-01-15T08:00:00.000Z",
                "ivrs": 3,
                "note": "already enabled",
            })
        );
    }

    /// The board says ready only for a passing check with the backup's breaker closed.
    #[test]
    fn the_board_says_ready_only_for_a_passing_check_and_a_closed_breaker() {
        let at = 1_000_000;
        let line = |r: &Record| readiness(r, at + 40_000).map(|v| v["ready"].clone());
        assert_eq!(line(&checked(at, true)), Some(serde_json::json!(true)));
        assert_eq!(line(&checked(at, false)), Some(serde_json::json!(false)));
        let mut open = checked(at, true);
        open.state = State::Open;
        assert_eq!(line(&open), Some(serde_json::json!(false)));
        assert_eq!(line(&Record::new("genesys-backup")), None, "not checked");
    }

    /// The automatic overflow sends callers only to a backup proven ready lately: a
    /// passing check counts for `READINESS_MAX_AGE_MS`, to the millisecond, and no more.
    #[test]
    fn readiness_proves_the_backup_only_while_it_is_fresh() {
        let at = 1_000_000;
        assert_eq!(proven(&checked(at, true), at), Ok(()));
        assert_eq!(
            proven(&checked(at, true), at + READINESS_MAX_AGE_MS),
            Ok(())
        );
        let stale = proven(&checked(at, true), at + READINESS_MAX_AGE_MS + 1);
        assert!(
            stale
                .as_ref()
                .is_err_and(|why| why.contains("last proven ready")),
            "{stale:?}"
        );
        let failed = proven(&checked(at, false), at);
        assert!(failed.is_err_and(|why| why.contains("last check failed")));
        assert!(proven(&Record::new("genesys-backup"), at).is_err());
        let mut open = checked(at, true);
        open.state = State::Open;
        assert!(proven(&open, at).is_err_and(|why| why.contains("breaker is")));
    }
}
