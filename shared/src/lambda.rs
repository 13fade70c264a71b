//! The invocation's deadline, computed one way by every function: the earlier of the
//! function's working budget and what Lambda says is left, less a margin to answer.
//! The budgets are named after the template's function timeouts, and a test holds
//! them to the template.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::Context;
use tokio::time::Instant;

/// How long a function works within its template `Timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The template's function, without `Function` (`TokenCache`).
    pub function: &'static str,
    /// Its `Timeout` in the template.
    pub timeout: Duration,
    /// The most it works on one invocation.
    pub work: Duration,
    /// Kept back from what Lambda says is left, to record the last outcome and answer.
    pub margin: Duration,
}

const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Refreshes every token well inside its 15 s timeout.
pub const TOKEN_CACHE: Budget = Budget {
    function: "TokenCache",
    timeout: secs(15),
    work: secs(10),
    margin: secs(2),
};

/// A health check of every dependency, well inside its 30 s timeout and the schedule's
/// one-minute period.
pub const HEALTH_PROBE: Budget = Budget {
    function: "HealthProbe",
    timeout: secs(30),
    work: secs(25),
    margin: secs(2),
};

/// One stream batch of outage actions, inside its 90 s timeout.
pub const OUTAGE_ACTIONS: Budget = Budget {
    function: "OutageActions",
    timeout: secs(90),
    work: secs(80),
    margin: secs(2),
};

/// One batch of write-backs, inside its 60 s timeout; the queue's visibility is six of
/// these.
pub const CRM_WRITEBACK: Budget = Budget {
    function: "CrmWriteback",
    timeout: secs(60),
    work: secs(50),
    margin: secs(3),
};

/// Every budget, for the test that holds them to the template.
pub const ALL: [Budget; 4] = [TOKEN_CACHE, HEALTH_PROBE, OUTAGE_ACTIONS, CRM_WRITEBACK];

/// The invocation's own deadline as an Instant, if Lambda gave a plausible one. Lambda
/// sends epoch ms; cargo-lambda's emulator sends a duration (600000), which is no
/// deadline at all and is ignored.
pub fn invocation_deadline(ctx: &Context) -> Option<Instant> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let plausible = ctx.deadline > now_ms.saturating_sub(60_000);
    plausible.then(|| Instant::now() + Duration::from_millis(ctx.deadline.saturating_sub(now_ms)))
}

/// When this invocation must be done: within `budget.work`, and `budget.margin` before
/// Lambda's own deadline.
pub fn deadline(ctx: &Context, budget: Budget) -> Instant {
    let worked = Instant::now() + budget.work;
    match invocation_deadline(ctx) {
        Some(hard) => worked.min(hard.checked_sub(budget.margin).unwrap_or(hard)),
        None => worked,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(deadline_ms: u64) -> Context {
        let mut c = Context::default();
        c.deadline = deadline_ms;
        c
    }

    fn epoch_ms() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    #[test]
    fn the_budget_bounds_a_long_invocation() {
        let start = Instant::now();
        let d = deadline(&ctx(epoch_ms() + 600_000), CRM_WRITEBACK);
        assert!(d <= start + secs(51) && d >= start + secs(49));
    }

    #[test]
    fn lambda_s_deadline_less_the_margin_bounds_a_short_one() {
        let start = Instant::now();
        let d = deadline(&ctx(epoch_ms() + 10_000), OUTAGE_ACTIONS);
        assert!(
            d <= start + secs(9) && d >= start + secs(7),
            "{:?}",
            d - start
        );
    }

    #[test]
    fn the_emulator_s_duration_is_no_deadline() {
        let start = Instant::now();
        assert!(invocation_deadline(&ctx(600_000)).is_none());
        let d = deadline(&ctx(600_000), HEALTH_PROBE);
        assert!(d >= start + secs(24));
    }

    #[test]
    fn each_budget_fits_its_timeout() {
        for b in ALL {
            assert!(b.work + b.margin <= b.timeout, "{b:?}");
        }
    }
}
