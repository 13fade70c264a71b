//! Trip and recovery policies: pure numbers, no IO.

/// Milliseconds since the Unix epoch. Time is always passed in, never read here.
pub type Millis = i64;

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
    pub half_open_max_probes: u32,
    /// How long a HALF_OPEN probe permission lasts; a result after it is fenced off.
    pub probe_lease_ms: Millis,
    pub backoff: Option<Backoff>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            trip: TripPolicy::ConsecutiveFailures { threshold: 5 },
            slow_call_ms: None,
            recovery_timeout_ms: 30_000,
            success_threshold: 2,
            half_open_max_probes: 1,
            probe_lease_ms: 10_000,
            backoff: None,
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
