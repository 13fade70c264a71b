//! The simulated wall clock: tokio's paused clock, read as milliseconds since an epoch.
//! The guard's deadlines and timeouts use `tokio::time::Instant`, and the machine's
//! `now` comes from this clock, so both move together, and only when every task waits.

use failsoft::clock::{Clock, Millis};
use tokio::time::Instant;

/// Milliseconds since `base_ms`, on tokio's (paused) clock.
pub struct SimClock {
    start: Instant,
    base_ms: Millis,
}

impl SimClock {
    pub fn new(base_ms: Millis) -> SimClock {
        SimClock {
            start: Instant::now(),
            base_ms,
        }
    }

    /// Simulated milliseconds since the run began.
    pub fn elapsed_ms(&self) -> Millis {
        self.start.elapsed().as_millis() as Millis
    }
}

impl Clock for SimClock {
    fn now_ms(&self) -> Millis {
        self.base_ms + self.elapsed_ms()
    }
}
