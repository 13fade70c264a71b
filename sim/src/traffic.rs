//! What the fleet is asked to do: calls arriving (steady, a peak, a burst after an IVR
//! announcement), and the dependency behind the breaker failing in one of the ways the
//! guide names (down, slow, flapping) and recovering.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::Rng;

/// New calls per second over the run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arrivals {
    Steady(f64),
    /// `base`, rising to `peak` between the two seconds.
    Peak {
        base: f64,
        peak: f64,
        from_s: f64,
        to_s: f64,
    },
    /// `base`, and `burst` more for `for_s` seconds from `at_s` (an announcement that
    /// sends callers back at once).
    Burst {
        base: f64,
        burst: f64,
        at_s: f64,
        for_s: f64,
    },
}

impl Arrivals {
    pub fn rate_at(self, t_s: f64) -> f64 {
        match self {
            Arrivals::Steady(r) => r,
            Arrivals::Peak {
                base,
                peak,
                from_s,
                to_s,
            } => {
                if (from_s..to_s).contains(&t_s) {
                    peak
                } else {
                    base
                }
            }
            Arrivals::Burst {
                base,
                burst,
                at_s,
                for_s,
            } => {
                if (at_s..at_s + for_s).contains(&t_s) {
                    base + burst
                } else {
                    base
                }
            }
        }
    }

    /// The wait to the next arrival (Poisson at the rate now; a rate of 0 waits 100 ms
    /// and asks again).
    pub fn next_gap(self, t_s: f64, rng: &mut StdRng) -> Duration {
        let rate = self.rate_at(t_s);
        if rate <= 0.0 {
            return Duration::from_millis(100);
        }
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        Duration::from_secs_f64(-u.ln() / rate)
    }
}

/// How the dependency fails during the outage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Failure {
    /// Refuses at once (a 503 in about 100 ms).
    Down,
    /// Answers, but after this long: past the call's deadline it is a timeout.
    Slow(u64),
    /// Down and up in turns of this many seconds.
    Flapping(u64),
}

/// The dependency's outage: from `from_s` to `to_s`, failing as `failure`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Outage {
    pub from_s: f64,
    pub to_s: f64,
    pub failure: Failure,
}

/// What one call to the dependency meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meets {
    /// Answers after this long.
    Answer(Duration),
    /// Fails after this long.
    Fail(Duration),
}

impl Outage {
    pub fn in_outage(&self, t_s: f64) -> bool {
        (self.from_s..self.to_s).contains(&t_s)
    }
}

/// The dependency at second `t_s`, for one call: a healthy CRM lookup answers in
/// 80–250 ms (the bench's fake Salesforce with the guide's latency).
pub fn meets(outage: Option<&Outage>, t_s: f64, rng: &mut StdRng) -> Meets {
    let healthy = Meets::Answer(Duration::from_millis(rng.random_range(80..=250)));
    let Some(o) = outage.filter(|o| o.in_outage(t_s)) else {
        return healthy;
    };
    let refused = Meets::Fail(Duration::from_millis(rng.random_range(50..=150)));
    match o.failure {
        Failure::Down => refused,
        Failure::Slow(ms) => Meets::Answer(Duration::from_millis(ms)),
        Failure::Flapping(period) => {
            let turn = ((t_s - o.from_s) / period.max(1) as f64) as u64;
            if turn.is_multiple_of(2) {
                refused
            } else {
                healthy
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn arrivals_average_their_rate() {
        let mut rng = StdRng::seed_from_u64(7);
        let a = Arrivals::Steady(500.0);
        let n = 20_000;
        let total: f64 = (0..n)
            .map(|_| a.next_gap(0.0, &mut rng).as_secs_f64())
            .sum();
        let rate = n as f64 / total;
        assert!((480.0..520.0).contains(&rate), "{rate}");
    }

    #[test]
    fn a_flapping_dependency_fails_in_every_other_turn() {
        let o = Outage {
            from_s: 10.0,
            to_s: 100.0,
            failure: Failure::Flapping(5),
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert!(matches!(meets(Some(&o), 11.0, &mut rng), Meets::Fail(_)));
        assert!(matches!(meets(Some(&o), 16.0, &mut rng), Meets::Answer(_)));
        assert!(matches!(meets(Some(&o), 101.0, &mut rng), Meets::Answer(_)));
    }
}
