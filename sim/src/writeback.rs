//! The write-back of a large center through a long CRM outage: every message's receives
//! on the real deferral schedule (`failsoft::writeback::defer`), then the drain after
//! recovery at the mapping's concurrency, in one-second steps.
//!
//! Stated assumptions, beyond the code's own numbers:
//! - after-call records arrive evenly (50,000 an hour: a 5,000-agent center's peak);
//! - a batch of 100 records (the template's `BatchSize`) is written with one Composite
//!   Batch per 25 distinct numbers and one sObject Collections upsert per 200 records
//!   (the writer's plan, measured in the drain bench), each Salesforce request taking
//!   300 ms, every record a number of its own (the worst case: 1.01 API calls a record);
//! - a deferred batch costs its invocation 200 ms (ten `ChangeMessageVisibilityBatch`);
//! - the breaker's own wait is left out: after the first receives the schedule's growth
//!   is the longer one.

use failsoft::writeback::defer::{Schedule, MAX_RECEIVES};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What the model is asked.
#[derive(Clone, Copy, Debug)]
pub struct Backlog {
    pub per_hour: f64,
    pub outage_s: u64,
    pub concurrency: u32,
    pub batch: u32,
    pub seed: u64,
}

/// What it found.
#[derive(Clone, Debug, Default)]
pub struct Drain {
    pub messages: u64,
    pub receives_max: u32,
    pub receives_mean: f64,
    /// When the last deferred message came back, after recovery (s).
    pub last_return_s: u64,
    /// When the queue was empty again, after recovery (s).
    pub drained_s: u64,
    pub api_calls: u64,
    pub sqs_requests: u64,
    /// Lambda seconds spent deferring during the outage, and writing after it.
    pub defer_lambda_s: f64,
    pub write_lambda_s: f64,
    pub within_max_receives: bool,
}

/// Salesforce requests for a batch of `n` records, each a number of its own.
fn requests_per_batch(n: u32) -> u32 {
    n.div_ceil(25) + n.div_ceil(200)
}

pub fn model(b: &Backlog) -> Drain {
    let mut rng = StdRng::seed_from_u64(b.seed);
    let schedule = Schedule::default();
    let messages = (b.per_hour * b.outage_s as f64 / 3600.0) as u64;
    let mut returns: Vec<u64> = Vec::with_capacity(messages as usize);
    let (mut total_receives, mut max_receives) = (0u64, 0u32);
    for i in 0..messages {
        let arrived = i as f64 * b.outage_s as f64 / messages.max(1) as f64;
        let mut t = arrived;
        let mut n = 0u32;
        // Received while the CRM is down: deferred on the schedule.
        while t < b.outage_s as f64 {
            n += 1;
            t += schedule.visibility_s(n, 0, rng.random()) as f64;
        }
        // The receive after recovery writes it.
        n += 1;
        total_receives += u64::from(n);
        max_receives = max_receives.max(n);
        returns.push((t - b.outage_s as f64).max(0.0) as u64);
    }
    returns.sort_unstable();
    let last_return_s = returns.last().copied().unwrap_or(0);

    // After recovery: each second, what has come back (and new records) is written at
    // the mapping's concurrency.
    let per_batch_s = 0.3 * f64::from(requests_per_batch(b.batch)) + 0.05;
    let capacity_per_s = f64::from(b.concurrency) * f64::from(b.batch) / per_batch_s;
    let new_per_s = b.per_hour / 3600.0;
    let (mut waiting, mut next, mut second) = (0.0f64, 0usize, 0u64);
    while next < returns.len() || waiting > 0.5 {
        while next < returns.len() && returns[next] <= second {
            waiting += 1.0;
            next += 1;
        }
        waiting = (waiting + new_per_s - capacity_per_s).max(0.0);
        second += 1;
        if second > 7 * 86_400 {
            break;
        }
    }
    let deferrals = total_receives - messages;
    let batches_deferred = deferrals.div_ceil(u64::from(b.batch));
    Drain {
        messages,
        receives_max: max_receives,
        receives_mean: total_receives as f64 / messages.max(1) as f64,
        last_return_s,
        drained_s: second,
        api_calls: messages + messages.div_ceil(200),
        // Receives come ten to a ReceiveMessage; each deferral ten to a
        // ChangeMessageVisibilityBatch; each write ten to a DeleteMessageBatch.
        sqs_requests: total_receives.div_ceil(10) + deferrals.div_ceil(10) + messages.div_ceil(10),
        defer_lambda_s: batches_deferred as f64 * 0.2,
        write_lambda_s: messages.div_ceil(u64::from(b.batch)) as f64 * per_batch_s,
        within_max_receives: max_receives < MAX_RECEIVES,
    }
}

/// The table for `docs/performance.md`.
pub fn table(runs: &[(Backlog, Drain)]) -> String {
    let mut out = String::from(
        "| outage | records | concurrency | receives per message (mean / max) | under maxReceiveCount (100) | last back after recovery | drained after recovery | Salesforce API calls | SQS requests | Lambda s (defer / write) |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for (b, d) in runs {
        out.push_str(&format!(
            "| {} h | {} | {} | {:.1} / {} | {} | {:.1} min | {:.1} min | {} | {} | {:.0} / {:.0} |\n",
            b.outage_s / 3600,
            d.messages,
            b.concurrency,
            d.receives_mean,
            d.receives_max,
            if d.within_max_receives { "yes" } else { "NO" },
            d.last_return_s as f64 / 60.0,
            d.drained_s as f64 / 60.0,
            d.api_calls,
            d.sqs_requests,
            d.defer_lambda_s,
            d.write_lambda_s,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eight_hour_outage_stays_under_max_receives_and_drains() {
        let d = model(&Backlog {
            per_hour: 50_000.0,
            outage_s: 8 * 3600,
            concurrency: 5,
            batch: 100,
            seed: 1,
        });
        assert_eq!(d.messages, 400_000);
        assert!(d.within_max_receives, "{d:?}");
        // 30 s doubling to 30 min, plus up to 20 %: a message is back within 36 min.
        assert!(d.last_return_s <= 36 * 60, "{d:?}");
        assert!(d.drained_s >= d.last_return_s);
    }
}
