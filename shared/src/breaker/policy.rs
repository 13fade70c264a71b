//! Trip and recovery policies: pure numbers, no IO.

use super::effect::PairedEffect;
use crate::clock::Millis;
use crate::config::{number, parsed, renamed, seconds_ms, ConfigError, Env};

#[derive(Clone, Debug, PartialEq)]
pub enum TripPolicy {
    /// Open after `threshold` consecutive failures, counted fleet-wide.
    ConsecutiveFailures { threshold: u32 },
    /// Open when failures / calls >= `rate` over a sliding window of `window_ms`,
    /// split into `buckets`, once at least `min_calls` calls were seen.
    FailureRate {
        rate: f64,
        min_calls: u32,
        window_ms: Millis,
        buckets: u32,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    pub multiplier: f64,
    pub max_ms: Millis,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub trip: TripPolicy,
    /// A call slower than this counts as a failure even if it returned.
    pub slow_call_ms: Option<Millis>,
    pub recovery_timeout_ms: Millis,
    pub success_threshold: u32,
    pub half_open_max_trials: u32,
    /// How long a HALF_OPEN trial permission lasts; a result after it is fenced off.
    pub trial_lease_ms: Millis,
    pub backoff: Option<Backoff>,
    /// The effects its user registered for this breaker, each with how long after
    /// recovery its undo waits. A transition records them with itself, in the same write.
    pub effects: Vec<(&'static PairedEffect, Millis)>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            trip: TripPolicy::ConsecutiveFailures { threshold: 5 },
            slow_call_ms: None,
            recovery_timeout_ms: 30_000,
            success_threshold: 2,
            half_open_max_trials: 1,
            trial_lease_ms: 10_000,
            backoff: None,
            effects: Vec::new(),
        }
    }
}

impl Policy {
    /// How long the breaker stays OPEN after its `reopens`-th consecutive reopening.
    pub fn open_timeout_ms(&self, reopens: u32) -> Millis {
        match &self.backoff {
            None => self.recovery_timeout_ms,
            Some(b) => {
                let factor = b.multiplier.max(1.0).powi(reopens.min(64) as i32);
                let ms = (self.recovery_timeout_ms as f64 * factor).min(b.max_ms as f64);
                (ms as Millis).max(self.recovery_timeout_ms.min(b.max_ms))
            }
        }
    }

    /// Length of one window bucket, for the failure-rate policy.
    pub fn bucket_ms(&self) -> Option<Millis> {
        match self.trip {
            TripPolicy::FailureRate {
                window_ms, buckets, ..
            } => Some((window_ms / Millis::from(buckets.max(1))).max(1)),
            TripPolicy::ConsecutiveFailures { .. } => None,
        }
    }

    pub fn bucket_of(&self, now: Millis) -> Option<i64> {
        self.bucket_ms().map(|b| now.div_euclid(b))
    }

    /// Whether a window with these totals should trip the breaker.
    pub fn rate_trips(&self, calls: u64, failures: u64) -> bool {
        match self.trip {
            TripPolicy::FailureRate {
                rate, min_calls, ..
            } => {
                calls >= u64::from(min_calls)
                    && calls > 0
                    && (failures as f64 / calls as f64) >= rate
            }
            TripPolicy::ConsecutiveFailures { .. } => false,
        }
    }

    /// How many buckets (ending at the current one) make up the window.
    pub fn window_buckets(&self) -> i64 {
        match self.trip {
            TripPolicy::FailureRate { buckets, .. } => i64::from(buckets.max(1)),
            TripPolicy::ConsecutiveFailures { .. } => 0,
        }
    }
}

/// How the handle talks to its store.
#[derive(Clone, Debug, PartialEq)]
pub struct GuardSettings {
    /// Longest a cached record is trusted (default 1 s).
    pub cache_ttl_ms: Millis,
    /// Longest one store request may take.
    pub store_timeout_ms: Millis,
    /// After a store failure, how long to run on the local view before trying again.
    pub store_retry_ms: Millis,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            cache_ttl_ms: 1_000,
            store_timeout_ms: 250,
            store_retry_ms: 1_000,
        }
    }
}

/// The defaults a dependency's breaker starts from (the guide: 5 failures / 30 s for the
/// CRM, 3 / 60 s for token services). The dependency registry supplies them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Defaults {
    pub failure_threshold: u32,
    pub recovery_timeout_s: f64,
}

/// A breaker's policy and guard settings, from `BREAKER_<NAME>_<FIELD>`.
pub struct BreakerConfig {
    pub policy: Policy,
    pub settings: GuardSettings,
}

impl BreakerConfig {
    /// Read breaker `name`'s variables over `defaults`. Every number has an upper bound.
    pub fn from_env(
        name: &str,
        defaults: Defaults,
        env: &impl Env,
    ) -> Result<BreakerConfig, ConfigError> {
        let env: &dyn Env = env;
        let v = |f: &str| breaker_var(name, f);
        let trip = match env.get(&v("POLICY")).as_deref().unwrap_or("consecutive") {
            "consecutive" => TripPolicy::ConsecutiveFailures {
                threshold: number(
                    env,
                    &v("FAILURE_THRESHOLD"),
                    defaults.failure_threshold,
                    1,
                    1_000_000,
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
                    min_calls: number(env, &v("MIN_CALLS"), 10u32, 1, 1_000_000)?,
                    window_ms: number(env, &v("WINDOW_S"), 60i64, 1, 86_400)? * 1000,
                    buckets: number(env, &v("WINDOW_BUCKETS"), 6u32, 1, 60)?,
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
            Some(_) => Some(number(env, &v("SLOW_CALL_MS"), 0i64, 1, 600_000)?),
        };
        let backoff = match env.get(&v("BACKOFF_MULTIPLIER")) {
            None => None,
            Some(_) => Some(Backoff {
                multiplier: number(env, &v("BACKOFF_MULTIPLIER"), 2.0f64, 1.0, 100.0)?,
                max_ms: number(env, &v("BACKOFF_MAX_S"), 600i64, 1, 86_400)? * 1000,
            }),
        };
        let max_trials = renamed(env, &v("HALF_OPEN_MAX_TRIALS"), &v("HALF_OPEN_MAX_PROBES"));
        let trial_lease = renamed(env, &v("TRIAL_LEASE_MS"), &v("PROBE_LEASE_MS"));
        let policy = Policy {
            trip,
            slow_call_ms,
            recovery_timeout_ms: seconds_ms(
                &v("RECOVERY_TIMEOUT_S"),
                parsed(env, &v("RECOVERY_TIMEOUT_S"), defaults.recovery_timeout_s)?,
            )?,
            success_threshold: number(env, &v("SUCCESS_THRESHOLD"), 2u32, 1, 100)?,
            half_open_max_trials: number(env, &max_trials, 1u32, 1, 100)?,
            trial_lease_ms: number(env, &trial_lease, 10_000i64, 1, 600_000)?,
            backoff,
            effects: Vec::new(),
        };
        let settings = GuardSettings {
            cache_ttl_ms: number(env, &v("CACHE_TTL_MS"), 1_000i64, 0, 60_000)?,
            store_timeout_ms: number(env, &v("STORE_TIMEOUT_MS"), 250i64, 1, 10_000)?,
            store_retry_ms: number(env, &v("STORE_RETRY_MS"), 1_000i64, 0, 600_000)?,
        };
        Ok(BreakerConfig { policy, settings })
    }
}

/// The breaker names listed in `var` (comma-separated).
pub fn breaker_list(env: &dyn Env, var: &str) -> Vec<String> {
    env.get(var)
        .unwrap_or_default()
        .split(',')
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .collect()
}

/// `BREAKER_<NAME>_<FIELD>`: NAME upper-cased with `-` turned into `_`.
pub fn breaker_var(name: &str, field: &str) -> String {
    format!(
        "BREAKER_{}_{}",
        name.to_ascii_uppercase().replace('-', "_"),
        field
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let p = Policy {
            backoff: Some(Backoff {
                multiplier: 2.0,
                max_ms: 100_000,
            }),
            ..Policy::default()
        };
        assert_eq!(p.open_timeout_ms(0), 30_000);
        assert_eq!(p.open_timeout_ms(1), 60_000);
        assert_eq!(p.open_timeout_ms(2), 100_000);
        assert_eq!(p.open_timeout_ms(60), 100_000);
        assert_eq!(Policy::default().open_timeout_ms(9), 30_000);
    }

    #[test]
    fn rate_needs_min_calls() {
        let p = Policy {
            trip: TripPolicy::FailureRate {
                rate: 0.5,
                min_calls: 10,
                window_ms: 60_000,
                buckets: 6,
            },
            ..Policy::default()
        };
        assert!(!p.rate_trips(9, 9));
        assert!(p.rate_trips(10, 5));
        assert!(!p.rate_trips(10, 4));
        assert_eq!(p.bucket_ms(), Some(10_000));
        assert_eq!(p.bucket_of(25_000), Some(2));
    }
}
