//! The registry of what Failsoft protects. Each dependency knows its breaker's name, its
//! default policy, how it is health-checked, its runbook, and what an open breaker means
//! to people. The generic breaker knows none of this; adding a dependency touches only
//! this file (and the code that calls it).

use std::fmt;

use crate::breaker::{BreakerConfig, BreakerStore, Defaults, Name, PairedEffect, Record};
use crate::clock::Millis;
use crate::config::{parsed, seconds_ms, ConfigError, Env};

/// A dependency with a breaker of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dependency {
    /// Salesforce's REST API, behind crm-lookup.
    Crm,
    /// Salesforce's token endpoint.
    CrmAuth,
    /// Genesys Cloud's login (token) endpoint.
    GenesysAuth,
    /// The Genesys Cloud API of the org's region.
    GenesysApi,
    /// The Genesys analytics API, behind the supervisor metrics.
    GenesysAnalytics,
    /// The Salesforce org's daily API allowance: opened by a 403
    /// `REQUEST_LIMIT_EXCEEDED`, so write-backs wait in their queue instead of spending
    /// calls that cannot succeed.
    CrmApiLimit,
    /// The backup Genesys region the overflow sends callers to: ready or not, checked
    /// every minute (login, API, flow published, DIDs routed to a call flow).
    GenesysBackup,
}

/// How the scheduled health check reaches a dependency with no traffic at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthCheck {
    /// A GET on the CRM instance with the CRM's token.
    CrmInstance,
    /// A token request to the endpoint itself.
    TokenEndpoint,
    /// A GET on the regional API.
    RegionalApi,
    /// The backup region's readiness (`overflow::backup`).
    BackupRegion,
    /// Not checked on a schedule: its callers' traffic moves the breaker.
    ByTraffic,
}

impl Dependency {
    pub const ALL: [Dependency; 7] = [
        Dependency::Crm,
        Dependency::CrmAuth,
        Dependency::GenesysAuth,
        Dependency::GenesysApi,
        Dependency::GenesysAnalytics,
        Dependency::CrmApiLimit,
        Dependency::GenesysBackup,
    ];

    /// The breaker's name: its key in the state table, its page's component and the
    /// `BREAKER_<NAME>_*` variables.
    pub fn name(self) -> &'static str {
        match self {
            Dependency::Crm => "crm",
            Dependency::CrmAuth => "crm-auth",
            Dependency::GenesysAuth => "genesys-auth",
            Dependency::GenesysApi => "genesys-api",
            Dependency::GenesysAnalytics => "genesys-analytics",
            Dependency::CrmApiLimit => "crm-api-limit",
            Dependency::GenesysBackup => "genesys-backup",
        }
    }

    /// The dependency named `name`, if it is one Failsoft knows.
    pub fn parse(name: &str) -> Option<Dependency> {
        Dependency::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The guide's numbers: 5 failures / 30 s for an API, 3 / 60 s for a token service.
    pub fn defaults(self) -> Defaults {
        match self {
            Dependency::CrmAuth | Dependency::GenesysAuth => Defaults {
                failure_threshold: 3,
                recovery_timeout_s: 60.0,
            },
            // One refusal says the allowance is spent; it frees over the rolling day.
            Dependency::CrmApiLimit => Defaults {
                failure_threshold: 1,
                recovery_timeout_s: 900.0,
            },
            // Checked once a minute: two failed checks in a row, then every run a trial.
            Dependency::GenesysBackup => Defaults {
                failure_threshold: 2,
                recovery_timeout_s: 50.0,
            },
            _ => Defaults {
                failure_threshold: 5,
                recovery_timeout_s: 30.0,
            },
        }
    }

    pub fn health_check(self) -> HealthCheck {
        match self {
            Dependency::Crm => HealthCheck::CrmInstance,
            Dependency::CrmAuth | Dependency::GenesysAuth => HealthCheck::TokenEndpoint,
            Dependency::GenesysApi => HealthCheck::RegionalApi,
            Dependency::GenesysBackup => HealthCheck::BackupRegion,
            Dependency::GenesysAnalytics | Dependency::CrmApiLimit => HealthCheck::ByTraffic,
        }
    }

    /// The runbook file in `infra/runbooks/` that a page links to.
    pub fn runbook(self) -> &'static str {
        match self {
            Dependency::Crm => "crm-outage.md",
            Dependency::CrmApiLimit => "crm-writeback.md",
            Dependency::CrmAuth | Dependency::GenesysAuth => "token-outage.md",
            Dependency::GenesysApi | Dependency::GenesysBackup => "regional-overflow.md",
            Dependency::GenesysAnalytics => "analytics-outage.md",
        }
    }

    /// What an open breaker means for the contact centre, in the page's words.
    pub fn impact(self) -> &'static str {
        match self {
            Dependency::Crm => "callers route without CRM context (dataActionFailed)",
            Dependency::CrmAuth | Dependency::GenesysAuth => {
                "cached tokens serve until they expire, then the dependency's callers get the fallback"
            }
            Dependency::GenesysApi => {
                "the Genesys region looks unhealthy; decide on overflow to the backup region"
            }
            Dependency::GenesysAnalytics => {
                "supervisor dashboards show cached or zeroed queue metrics"
            }
            Dependency::CrmApiLimit => {
                "the Salesforce org's API allowance is spent: after-call write-backs wait in their queue, nothing is lost"
            }
            Dependency::GenesysBackup => {
                "no caller is affected now, but an overflow to the backup region would fail until this is fixed"
            }
        }
    }

    /// What people get meanwhile, for the board and the operator's table.
    pub fn fallback(self) -> &'static str {
        match self {
            Dependency::Crm => "agents get calls without CRM context and look callers up by hand",
            Dependency::CrmAuth => "CRM lookups use the cached token until it expires",
            Dependency::GenesysAuth => "Genesys calls use the cached token until it expires",
            Dependency::GenesysApi => {
                "overflow routing to the backup region is the on-call's decision"
            }
            Dependency::GenesysAnalytics => "queue metrics show last-known values, then none",
            Dependency::CrmApiLimit => "write-backs wait in their queue until the allowance frees",
            Dependency::GenesysBackup => "an overflow would need the carrier/SBC re-route instead",
        }
    }

    /// This dependency's breaker configuration: its defaults under `BREAKER_<NAME>_*`.
    pub fn breaker_config(self, env: &impl Env) -> Result<BreakerConfig, ConfigError> {
        // A misspelt breaker in either list would silently do nothing.
        for var in ["CAMPAIGN_PAUSE_ON", "OVERFLOW_AUTO_ON"] {
            if let Some(bad) = crate::breaker::breaker_list(env, var)
                .into_iter()
                .find(|n| Dependency::parse(n).is_none())
            {
                return Err(ConfigError::Invalid {
                    var: var.into(),
                    value: bad,
                    why: "not a breaker Failsoft knows".into(),
                });
            }
        }
        let mut config = BreakerConfig::from_env(self.name(), self.defaults(), env)?;
        config.policy.effects = effects(self.name(), env)?;
        Ok(config)
    }
}

/// The campaign pause: outbound campaigns off for an outage, back on after it. Its slots
/// and stored names are defined here and nowhere else.
pub static CAMPAIGN_PAUSE: PairedEffect = PairedEffect {
    on_id: "pause",
    off_id: "resume",
    on: Name::new("pause_campaigns"),
    off: Name::new("resume_campaigns"),
    on_text: "pause outbound campaigns",
    off_text: "resume the campaigns it paused",
};

/// The regional overflow: the emergency group on for an outage, off after it.
pub static OVERFLOW: PairedEffect = PairedEffect {
    on_id: "overflow-on",
    off_id: "overflow-off",
    on: Name::new("activate_overflow"),
    off: Name::new("restore_overflow"),
    on_text: "activate the emergency group (regional overflow)",
    off_text: "restore the emergency group it activated",
};

/// The effects `name`'s outage calls for, with each undo's delay: what the breaker
/// schedules, registered here so that the breaker knows no campaign or overflow.
pub fn effects(
    name: &str,
    env: &impl Env,
) -> Result<Vec<(&'static PairedEffect, Millis)>, ConfigError> {
    let mut out = Vec::new();
    if let Some(delay) = campaign_pause(name, env)? {
        out.push((&CAMPAIGN_PAUSE, delay));
    }
    if let Some(delay) = overflow(name, env)? {
        out.push((&OVERFLOW, delay));
    }
    Ok(out)
}

/// How long after the last holding breaker closes a campaign is resumed, unless told
/// otherwise: a flapping dependency must not toggle dialers.
pub const DEFAULT_RESUME_DELAY_MS: Millis = 300_000;

/// The breakers named in `CAMPAIGN_PAUSE_ON`.
pub fn campaign_pause_on(env: &dyn Env) -> Vec<String> {
    crate::breaker::breaker_list(env, "CAMPAIGN_PAUSE_ON")
}

/// Whether `name` pauses campaigns (`CAMPAIGN_PAUSE_ON`), and after how long its
/// recovery resumes them (`CAMPAIGN_RESUME_DELAY_S`, default 300 s).
fn campaign_pause(name: &str, env: &dyn Env) -> Result<Option<Millis>, ConfigError> {
    if !campaign_pause_on(env).iter().any(|n| n == name) {
        return Ok(None);
    }
    let delay = parsed(
        env,
        "CAMPAIGN_RESUME_DELAY_S",
        DEFAULT_RESUME_DELAY_MS as f64 / 1000.0,
    )?;
    Ok(Some(seconds_ms("CAMPAIGN_RESUME_DELAY_S", delay)?))
}

/// The breakers named in `OVERFLOW_AUTO_ON`: their outage switches to the backup region
/// by itself. Off by default.
pub fn overflow_auto_on(env: &dyn Env) -> Vec<String> {
    crate::breaker::breaker_list(env, "OVERFLOW_AUTO_ON")
}

/// How long after recovery an emergency group Failsoft enabled is disabled again: a
/// region that flaps must not move callers back and forth.
pub const DEFAULT_RESTORE_DELAY_MS: Millis = 600_000;

/// Whether `name` activates the overflow (`OVERFLOW_AUTO_ON`, which needs
/// `OVERFLOW_EMERGENCY_GROUP_ID`), and after how long its recovery restores it
/// (`OVERFLOW_RESTORE_DELAY_S`).
fn overflow(name: &str, env: &dyn Env) -> Result<Option<Millis>, ConfigError> {
    let on = overflow_auto_on(env);
    if on.is_empty() {
        return Ok(None);
    }
    if env.get("OVERFLOW_EMERGENCY_GROUP_ID").is_none() {
        return Err(ConfigError::Invalid {
            var: "OVERFLOW_AUTO_ON".into(),
            value: on.join(","),
            why: "needs OVERFLOW_EMERGENCY_GROUP_ID".into(),
        });
    }
    if !on.iter().any(|n| n == name) {
        return Ok(None);
    }
    let delay = parsed(
        env,
        "OVERFLOW_RESTORE_DELAY_S",
        DEFAULT_RESTORE_DELAY_MS as f64 / 1000.0,
    )?;
    Ok(Some(seconds_ms("OVERFLOW_RESTORE_DELAY_S", delay)?))
}

/// Every registered breaker's record, read by key (no table scan, so a function's IAM
/// can be limited to the keys it needs), each read within `deadline`. A breaker whose
/// read fails is left out.
pub async fn records(store: &dyn BreakerStore, deadline: tokio::time::Instant) -> Vec<Record> {
    let mut out = Vec::new();
    for d in Dependency::ALL {
        let until = crate::store::request_deadline(deadline);
        if let Ok(Ok(r)) = tokio::time::timeout_at(until, store.load(d.name())).await {
            out.push(r);
        }
    }
    out
}

impl fmt::Display for Dependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::TripPolicy;
    use crate::config::env_of as env;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for d in Dependency::ALL {
            assert_eq!(Dependency::parse(d.name()), Some(d));
        }
        assert_eq!(Dependency::parse("crn"), None);
    }

    #[test]
    fn guide_defaults_per_dependency() {
        let crm = Dependency::Crm.breaker_config(&env(&[])).map(|c| c.policy);
        assert_eq!(
            crm.as_ref().map(|p| p.trip.clone()),
            Ok(TripPolicy::ConsecutiveFailures { threshold: 5 })
        );
        assert_eq!(crm.map(|p| p.recovery_timeout_ms), Ok(30_000));
        let auth = Dependency::CrmAuth
            .breaker_config(&env(&[]))
            .map(|c| c.policy);
        assert_eq!(
            auth.as_ref().map(|p| p.trip.clone()),
            Ok(TripPolicy::ConsecutiveFailures { threshold: 3 })
        );
        assert_eq!(auth.map(|p| p.recovery_timeout_ms), Ok(60_000));
    }

    #[test]
    fn reads_named_variables() {
        let e = env(&[
            ("BREAKER_GENESYS_ANALYTICS_POLICY", "rate"),
            ("BREAKER_GENESYS_ANALYTICS_MIN_CALLS", "20"),
            ("BREAKER_GENESYS_ANALYTICS_SLOW_CALL_MS", "800"),
            ("BREAKER_GENESYS_ANALYTICS_BACKOFF_MULTIPLIER", "2"),
            ("BREAKER_GENESYS_ANALYTICS_CACHE_TTL_MS", "500"),
        ]);
        let c = Dependency::GenesysAnalytics.breaker_config(&e);
        let Ok(c) = c else {
            panic!("config failed: {:?}", c.err());
        };
        assert!(matches!(
            c.policy.trip,
            TripPolicy::FailureRate { min_calls: 20, .. }
        ));
        assert_eq!(c.policy.slow_call_ms, Some(800));
        assert_eq!(c.policy.backoff.map(|b| b.max_ms), Some(600_000));
        assert_eq!(c.settings.cache_ttl_ms, 500);
    }

    #[test]
    fn old_trial_variable_names_still_work_and_new_ones_win() {
        let trials = |pairs: &[(&str, &str)]| {
            Dependency::Crm
                .breaker_config(&env(pairs))
                .map(|c| (c.policy.half_open_max_trials, c.policy.trial_lease_ms))
        };
        assert_eq!(trials(&[]), Ok((1, 10_000)));
        assert_eq!(
            trials(&[
                ("BREAKER_CRM_HALF_OPEN_MAX_PROBES", "3"),
                ("BREAKER_CRM_PROBE_LEASE_MS", "2000")
            ]),
            Ok((3, 2_000))
        );
        assert_eq!(
            trials(&[
                ("BREAKER_CRM_HALF_OPEN_MAX_PROBES", "3"),
                ("BREAKER_CRM_HALF_OPEN_MAX_TRIALS", "2")
            ]),
            Ok((2, 10_000))
        );
    }

    #[test]
    fn rejects_bad_values() {
        let bad = [
            ("BREAKER_CRM_FAILURE_THRESHOLD", "0"),
            ("BREAKER_CRM_FAILURE_THRESHOLD", "five"),
            ("BREAKER_CRM_FAILURE_THRESHOLD", "4294967295"),
            ("BREAKER_CRM_FAILURE_THRESHOLD", "1000001"),
            ("BREAKER_CRM_POLICY", "sometimes"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "0"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "-1"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "NaN"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "inf"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "86401"),
            ("BREAKER_CRM_STORE_TIMEOUT_MS", "9223372036854775807"),
        ];
        for (k, val) in bad {
            let r = Dependency::Crm.breaker_config(&env(&[(k, val)]));
            assert!(
                matches!(r, Err(ConfigError::Invalid { .. })),
                "{k}={val} accepted"
            );
        }
    }

    #[test]
    fn recovery_timeout_takes_fractions_of_a_second() {
        let ms = |v: &str| {
            Dependency::Crm
                .breaker_config(&env(&[("BREAKER_CRM_RECOVERY_TIMEOUT_S", v)]))
                .map(|c| c.policy.recovery_timeout_ms)
        };
        assert_eq!(ms("0.25"), Ok(250));
        assert_eq!(ms("45"), Ok(45_000));
        assert_eq!(ms("0.0001"), Ok(1));
    }

    #[test]
    fn every_runbook_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/runbooks");
        for d in Dependency::ALL {
            let file = dir.join(d.runbook());
            assert!(file.is_file(), "{d}: {}", file.display());
        }
    }
}
