//! Environment → typed configuration, in one place. Every knob and its default is in
//! the README's configuration table; `KNOBS` below is the list it documents.

use crate::breaker::{Backoff, GuardSettings, Millis, Policy, TripPolicy};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var} is required")]
    Missing { var: String },
    #[error("{var}={value:?} is invalid: {why}")]
    Invalid {
        var: String,
        value: String,
        why: String,
    },
}

/// Reads variables; `std::env::var` in production, a map in tests.
pub trait Env {
    fn get(&self, var: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, var: &str) -> Option<String> {
        self(var)
    }
}

pub fn required(env: &dyn Env, var: &str) -> Result<String, ConfigError> {
    env.get(var).ok_or_else(|| ConfigError::Missing {
        var: var.to_string(),
    })
}

pub fn parsed<T: std::str::FromStr>(env: &dyn Env, var: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.get(var) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            var: var.to_string(),
            value: v.clone(),
            why: e.to_string(),
        }),
    }
}

fn positive<T: PartialOrd + Default + std::fmt::Display>(
    var: &str,
    v: T,
) -> Result<T, ConfigError> {
    if v > T::default() {
        Ok(v)
    } else {
        Err(ConfigError::Invalid {
            var: var.to_string(),
            value: v.to_string(),
            why: "must be greater than 0".into(),
        })
    }
}

/// Seconds, fractions allowed (the drill compresses a minute-long schedule), as ms:
/// above 0 and at most a day.
pub fn seconds_ms(var: &str, s: f64) -> Result<Millis, ConfigError> {
    if s > 0.0 && s <= 86_400.0 {
        Ok(((s * 1000.0).ceil() as Millis).max(1))
    } else {
        Err(ConfigError::Invalid {
            var: var.to_string(),
            value: s.to_string(),
            why: "must be above 0 and at most 86400".into(),
        })
    }
}

/// `BREAKER_<NAME>_<FIELD>`: NAME upper-cased with `-` turned into `_`.
pub fn breaker_var(name: &str, field: &str) -> String {
    format!(
        "BREAKER_{}_{}",
        name.to_ascii_uppercase().replace('-', "_"),
        field
    )
}

/// Defaults from the guide: 5 failures / 30 s for the CRM, 3 / 60 s for token services.
fn guide_defaults(name: &str) -> (u32, u64) {
    if name.ends_with("-auth") {
        (3, 60)
    } else {
        (5, 30)
    }
}

pub struct BreakerConfig {
    pub policy: Policy,
    pub settings: GuardSettings,
}

/// The per-breaker knobs (field, default, meaning), as documented in the README.
pub const KNOBS: &[(&str, &str, &str)] = &[
    ("POLICY", "consecutive", "`consecutive` or `rate`"),
    (
        "FAILURE_THRESHOLD",
        "5 (3 for `*-auth`)",
        "consecutive failures that open it",
    ),
    (
        "FAILURE_RATE",
        "0.5",
        "rate policy: failure ratio that opens it",
    ),
    (
        "MIN_CALLS",
        "10",
        "rate policy: calls needed in the window before it may open",
    ),
    ("WINDOW_S", "60", "rate policy: sliding window length"),
    (
        "WINDOW_BUCKETS",
        "6",
        "rate policy: buckets the window is split into",
    ),
    (
        "SLOW_CALL_MS",
        "unset",
        "a call slower than this counts as a failure",
    ),
    (
        "RECOVERY_TIMEOUT_S",
        "30 (60 for `*-auth`)",
        "time OPEN before a probe is admitted (fractions allowed)",
    ),
    (
        "SUCCESS_THRESHOLD",
        "2",
        "probe successes in HALF_OPEN that close it",
    ),
    (
        "HALF_OPEN_MAX_PROBES",
        "1",
        "concurrent probes admitted in HALF_OPEN",
    ),
    (
        "PROBE_LEASE_MS",
        "10000",
        "how long a probe permission lasts",
    ),
    (
        "BACKOFF_MULTIPLIER",
        "unset (no backoff)",
        "open timeout × this per reopening",
    ),
    ("BACKOFF_MAX_S", "600", "cap on the backed-off open timeout"),
    (
        "CACHE_TTL_MS",
        "1000",
        "staleness bound of the in-instance state cache",
    ),
    (
        "STORE_TIMEOUT_MS",
        "250",
        "longest one state-table request may take",
    ),
    (
        "STORE_RETRY_MS",
        "1000",
        "after a store failure, time on the local view",
    ),
];

impl BreakerConfig {
    pub fn from_env(name: &str, env: &dyn Env) -> Result<BreakerConfig, ConfigError> {
        let v = |f: &str| breaker_var(name, f);
        let (threshold, recovery_s) = guide_defaults(name);
        let trip = match env.get(&v("POLICY")).as_deref().unwrap_or("consecutive") {
            "consecutive" => TripPolicy::ConsecutiveFailures {
                threshold: positive(
                    &v("FAILURE_THRESHOLD"),
                    parsed(env, &v("FAILURE_THRESHOLD"), threshold)?,
                )?,
            },
            "rate" => {
                let rate: f64 = parsed(env, &v("FAILURE_RATE"), 0.5)?;
                if !(rate > 0.0 && rate <= 1.0) {
                    return Err(ConfigError::Invalid {
                        var: v("FAILURE_RATE"),
                        value: rate.to_string(),
                        why: "must be in (0, 1]".into(),
                    });
                }
                TripPolicy::FailureRate {
                    rate,
                    min_calls: positive(&v("MIN_CALLS"), parsed(env, &v("MIN_CALLS"), 10u32)?)?,
                    window_ms: positive(&v("WINDOW_S"), parsed(env, &v("WINDOW_S"), 60i64)?)?
                        * 1000,
                    buckets: positive(
                        &v("WINDOW_BUCKETS"),
                        parsed(env, &v("WINDOW_BUCKETS"), 6u32)?,
                    )?,
                }
            }
            other => {
                return Err(ConfigError::Invalid {
                    var: v("POLICY"),
                    value: other.to_string(),
                    why: "expected consecutive or rate".into(),
                })
            }
        };
        let slow_call_ms = match env.get(&v("SLOW_CALL_MS")) {
            None => None,
            Some(_) => Some(positive(
                &v("SLOW_CALL_MS"),
                parsed(env, &v("SLOW_CALL_MS"), 0i64)?,
            )?),
        };
        let backoff = match env.get(&v("BACKOFF_MULTIPLIER")) {
            None => None,
            Some(_) => Some(Backoff {
                multiplier: positive(
                    &v("BACKOFF_MULTIPLIER"),
                    parsed(env, &v("BACKOFF_MULTIPLIER"), 2.0f64)?,
                )?,
                max_ms: positive(
                    &v("BACKOFF_MAX_S"),
                    parsed(env, &v("BACKOFF_MAX_S"), 600i64)?,
                )? * 1000,
            }),
        };
        let policy = Policy {
            trip,
            slow_call_ms,
            recovery_timeout_ms: seconds_ms(
                &v("RECOVERY_TIMEOUT_S"),
                parsed(env, &v("RECOVERY_TIMEOUT_S"), recovery_s as f64)?,
            )?,
            success_threshold: positive(
                &v("SUCCESS_THRESHOLD"),
                parsed(env, &v("SUCCESS_THRESHOLD"), 2u32)?,
            )?,
            half_open_max_probes: positive(
                &v("HALF_OPEN_MAX_PROBES"),
                parsed(env, &v("HALF_OPEN_MAX_PROBES"), 1u32)?,
            )?,
            probe_lease_ms: positive(
                &v("PROBE_LEASE_MS"),
                parsed(env, &v("PROBE_LEASE_MS"), 10_000i64)?,
            )?,
            backoff,
        };
        let settings = GuardSettings {
            cache_ttl_ms: parsed(env, &v("CACHE_TTL_MS"), 1_000i64)?.max(0),
            store_timeout_ms: positive(
                &v("STORE_TIMEOUT_MS"),
                parsed(env, &v("STORE_TIMEOUT_MS"), 250i64)?,
            )?,
            store_retry_ms: parsed(env, &v("STORE_RETRY_MS"), 1_000i64)?.max(0),
        };
        Ok(BreakerConfig { policy, settings })
    }
}

/// The state table's name, from `STATE_TABLE`.
pub fn state_table(env: &dyn Env) -> Result<String, ConfigError> {
    required(env, "STATE_TABLE")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| m.get(k).cloned()
    }

    #[test]
    fn guide_defaults_per_dependency() {
        let crm = BreakerConfig::from_env("crm", &env(&[])).map(|c| c.policy);
        assert_eq!(
            crm.as_ref().map(|p| p.trip.clone()),
            Ok(TripPolicy::ConsecutiveFailures { threshold: 5 })
        );
        assert_eq!(crm.map(|p| p.recovery_timeout_ms), Ok(30_000));
        let auth = BreakerConfig::from_env("crm-auth", &env(&[])).map(|c| c.policy);
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
        let c = BreakerConfig::from_env("genesys-analytics", &e);
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
    fn rejects_bad_values() {
        let bad = [
            ("BREAKER_CRM_FAILURE_THRESHOLD", "0"),
            ("BREAKER_CRM_FAILURE_THRESHOLD", "five"),
            ("BREAKER_CRM_POLICY", "sometimes"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "0"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "-1"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "NaN"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "inf"),
            ("BREAKER_CRM_RECOVERY_TIMEOUT_S", "86401"),
        ];
        for (k, val) in bad {
            let r = BreakerConfig::from_env("crm", &env(&[(k, val)]));
            assert!(
                matches!(r, Err(ConfigError::Invalid { .. })),
                "{k}={val} accepted"
            );
        }
    }

    #[test]
    fn recovery_timeout_takes_fractions_of_a_second() {
        let ms = |v: &str| {
            BreakerConfig::from_env("crm", &env(&[("BREAKER_CRM_RECOVERY_TIMEOUT_S", v)]))
                .map(|c| c.policy.recovery_timeout_ms)
        };
        assert_eq!(ms("0.25"), Ok(250));
        assert_eq!(ms("45"), Ok(45_000));
        assert_eq!(ms("0.0001"), Ok(1));
    }
}
