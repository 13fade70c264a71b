//! How long a write-back waits while the CRM (or its auth) breaker is open: the message's
//! visibility is extended past the breaker's remaining recovery time, growing with each
//! receive, so that a long outage costs tens of receives per message, not thousands, and
//! a day-long one does not reach the DLQ.
//!
//! The arithmetic, with the defaults: waits of 30 s, 60 s, 2, 4, 8, 16 min, then 30 min
//! each (the cap). After n receives a message has waited about 31.5 min + (n − 6) × 30
//! min: a 4-hour outage costs 13 receives, a 24-hour one 53. `MAX_RECEIVES` (the queue's
//! `maxReceiveCount`) is 100, so 24 hours is far from the DLQ, which only poison reaches.

use crate::clock::Millis;

/// The first wait, the growth per receive and the cap.
pub const FIRST_WAIT_S: u64 = 30;
pub const MAX_WAIT_S: u64 = 1_800;

/// SQS allows 12 hours of visibility in total, counted from the receive, not per
/// ChangeMessageVisibility call ("Amazon SQS visibility timeout": extending it does not
/// reset the 12-hour maximum); a longer one is refused. A message is deferred at most
/// a batching window (≤ 300 s) plus a function timeout (≤ 900 s) after its receive, so
/// no visibility is ever set past 12 h less those 1,200 s.
pub const MAX_VISIBILITY_S: u64 = 43_200 - 1_200;
/// The largest `WRITEBACK_DEFER_MAX_S`: its 20 % jitter still fits [`MAX_VISIBILITY_S`].
pub const MAX_CONFIGURED_WAIT_S: u64 = MAX_VISIBILITY_S * 5 / 6;

/// The schedule: `WRITEBACK_DEFER_FIRST_S` and `WRITEBACK_DEFER_MAX_S` (the defaults
/// above; the drill shortens them to run an outage in minutes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub first_s: u64,
    pub max_s: u64,
}

impl Default for Schedule {
    fn default() -> Schedule {
        Schedule {
            first_s: FIRST_WAIT_S,
            max_s: MAX_WAIT_S,
        }
    }
}
/// The queue's `maxReceiveCount`: more than a 24-hour outage takes (53 receives).
pub const MAX_RECEIVES: u32 = 100;

/// The visibility timeout (seconds) for a message received for the `receive`-th time
/// (1 on the first), while the breaker lets no call through for another
/// `breaker_wait_ms`; `jitter` in [0, 1) spreads a backlog's wake-ups by up to 20 %.
pub fn visibility_s(receive: u32, breaker_wait_ms: Millis, jitter: f64) -> u64 {
    Schedule::default().visibility_s(receive, breaker_wait_ms, jitter)
}

impl Schedule {
    /// The longest wait this schedule sets, jitter included: a deferred message is back
    /// within it.
    pub fn longest_s(&self) -> u64 {
        (self.max_s + self.max_s / 5).min(MAX_VISIBILITY_S)
    }

    /// As [`visibility_s`], on this schedule.
    pub fn visibility_s(&self, receive: u32, breaker_wait_ms: Millis, jitter: f64) -> u64 {
        let grown = self
            .first_s
            .saturating_mul(1u64 << receive.saturating_sub(1).min(20));
        let wait = grown
            .max((breaker_wait_ms.max(0) as u64).div_ceil(1000))
            .min(self.max_s);
        let spread = (wait as f64 * 0.2 * jitter.clamp(0.0, 1.0)) as u64;
        (wait + spread).min(MAX_VISIBILITY_S)
    }
}

/// How many receives a message takes to wait out an outage of `outage_s` seconds (no
/// jitter, and no breaker wait longer than the schedule): the figure the doc above gives.
pub fn receives_for(outage_s: u64) -> u32 {
    let (mut waited, mut n) = (0u64, 0u32);
    while waited < outage_s {
        n += 1;
        waited += visibility_s(n, 0, 0.0);
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_to_the_cap_and_never_wake_before_the_breaker() {
        let waits: Vec<u64> = (1..=8).map(|n| visibility_s(n, 0, 0.0)).collect();
        assert_eq!(waits, vec![30, 60, 120, 240, 480, 960, 1_800, 1_800]);
        assert_eq!(
            visibility_s(1, 600_000, 0.0),
            600,
            "not before the breaker may admit"
        );
        assert_eq!(visibility_s(1, 86_400_000, 0.0), MAX_WAIT_S);
        assert_eq!(visibility_s(u32::MAX, 0, 0.0), MAX_WAIT_S);
        assert_eq!(visibility_s(7, 0, 0.99), 1_800 + 356);
    }

    #[test]
    fn no_visibility_passes_twelve_hours_from_the_receive() {
        // The longest schedule allowed, a breaker open for a day, the largest jitter.
        let longest = Schedule {
            first_s: 900,
            max_s: MAX_CONFIGURED_WAIT_S,
        };
        for receive in [1, 5, 20, u32::MAX] {
            let v = longest.visibility_s(receive, 86_400_000, 0.999);
            assert!(
                v + 1_200 <= 43_200,
                "receive {receive}: {v} s would pass SQS's 12 h"
            );
        }
    }

    #[test]
    fn the_documented_arithmetic_holds() {
        assert_eq!(receives_for(4 * 3_600), 13);
        assert_eq!(receives_for(24 * 3_600), 53);
        assert!(receives_for(24 * 3_600) < MAX_RECEIVES);
    }
}
