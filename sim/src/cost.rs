//! What Failsoft costs a month in AWS, at a center's daily call volume, healthy and with
//! a 4-hour CRM outage a week. Usage comes from the template (memory sizes, schedules,
//! batch sizes), the measurements in `docs/performance.md` (store requests per call,
//! deferral receives, API requests per batch) and the fleet simulation; prices are
//! us-east-1's published list prices (see [`PRICES_AS_OF`]), free tiers left out.

use failsoft::writeback::defer::receives_for;

/// When the prices below were read: us-east-1 list prices, from AWS's pricing pages as
/// quoted on that date (no internet here: checked against secondary copies of the pages;
/// DynamoDB on-demand is after its 2024-11-01 reduction).
pub const PRICES_AS_OF: &str = "2026-12-07";

/// Lambda, arm64: per GB-second, and per request.
const LAMBDA_GB_S: f64 = 0.000_013_333_4;
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
/// DynamoDB on demand: per write and per read request unit.
const DDB_WRU: f64 = 0.625 / 1e6;
const DDB_RRU: f64 = 0.125 / 1e6;
/// SQS standard: per request (64 KB chunk).
const SQS_REQUEST: f64 = 0.40 / 1e6;
/// KMS: per key-month, per request.
const KMS_KEY: f64 = 1.00;
const KMS_REQUEST: f64 = 0.03 / 1e4;
/// Secrets Manager: per secret-month, per API call.
const SECRET: f64 = 0.40;
const SECRET_CALL: f64 = 0.05 / 1e4;
/// CloudWatch: per custom metric-month (first 10,000; billed by the hours it is sent),
/// per standard alarm-month, per GB of logs ingested.
const METRIC_MONTH: f64 = 0.30;
const ALARM_MONTH: f64 = 0.10;
const LOG_GB: f64 = 0.50;
/// EventBridge: per partner event (Genesys's after-call events).
const EVENT: f64 = 1.00 / 1e6;

/// Custom metrics sent every hour, healthy. Was 27 with a latency per dependency (7)
/// and per outcome (2); those are log fields now.
pub const STEADY_METRICS: f64 = 3.0 + 7.0 + 2.0 + 3.0 + 3.0 + 1.0;

const MONTH_S: f64 = 30.0 * 86_400.0;
const MONTH_HOURS: f64 = 30.0 * 24.0;

/// One line of the bill.
#[derive(Clone, Debug)]
pub struct Line {
    pub item: &'static str,
    pub dollars: f64,
}

/// The month's bill at `calls_per_day`, with `outage_hours_per_week` of CRM outage.
pub fn month(calls_per_day: f64, outage_hours_per_week: f64) -> Vec<Line> {
    let calls = calls_per_day * 30.0;
    let per_s = calls_per_day / 86_400.0;
    let outage_share = outage_hours_per_week / (7.0 * 24.0);
    let outage_s_per_episode = outage_hours_per_week * 3600.0;
    let episodes = 30.0 / 7.0 * f64::from(u8::from(outage_hours_per_week > 0.0));

    // crm-lookup: one invocation per call at 512 MB: a healthy one waits for Salesforce
    // (200 ms assumed), a refused one answers in about 1 ms (measured: 0.8 ms p50).
    let healthy_calls = calls * (1.0 - outage_share);
    let lookup_gb_s = 0.5 * (healthy_calls * 0.200 + (calls - healthy_calls) * 0.002);
    // crm-writeback: one after-call record a call, batched over the 2 s window (at most
    // 100); a batch costs 300 ms a Salesforce request (one per 25 numbers, one upsert)
    // at 256 MB. Deferred during outages: receives per message from the real schedule.
    let per_batch = (per_s * 2.0).clamp(1.0, 100.0);
    let batches = calls / per_batch;
    let batch_s = 0.3 * (per_batch / 25.0).ceil() + 0.3;
    let deferred = calls * outage_share;
    let receives = f64::from(receives_for(outage_s_per_episode as u64).max(1));
    let defer_batches = deferred * receives / 100.0;
    let writeback_gb_s = 0.25 * (batches * batch_s + defer_batches * 0.2);
    // Scheduled: the health probe every minute (about 1 s), the token cache every five
    // (300 ms); queue-metrics for one open board, a refresh a minute (300 ms); and
    // outage-actions for the breaker items' stream, a batch a minute (50 ms). 256 MB.
    let minutes = MONTH_S / 60.0;
    let scheduled = [
        (minutes, 1.0),
        (minutes / 5.0, 0.3),
        (minutes, 0.3),
        (minutes, 0.05),
    ];
    let scheduled_req: f64 = scheduled.iter().map(|(n, _)| n).sum();
    let scheduled_gb_s: f64 = scheduled.iter().map(|(n, s)| 0.25 * n * s).sum();
    let invocations = calls + batches + defer_batches + scheduled_req;
    let lambda = invocations * LAMBDA_REQUEST
        + (lookup_gb_s + writeback_gb_s + scheduled_gb_s) * LAMBDA_GB_S;

    // DynamoDB: a call reads the breaker at most once a second per instance (the
    // simulation: 0.84 store requests a call at 500 calls/s, about 1 at low rates): its
    // two items, one RRU each (under 4 KB); a healthy call writes nothing. The health
    // probe notes each of 7 breakers a minute (1 WRU, and a read of the count item); an
    // outage writes its failures to the count item (the simulation: under 300 an
    // episode, 1 WRU each with a read of the main item) and a few transitions and
    // claims (about 10, each a transaction over both items: 2 × (4 + 1) WRU).
    let rru = calls * 2.0 + minutes * 7.0 * 2.0 + episodes * 300.0;
    let wru = minutes * 7.0 + episodes * (300.0 + 10.0 * 10.0);
    let dynamo = rru * DDB_RRU + wru * DDB_WRU;

    // SQS: EventBridge's send, a receive and a delete (ten to a batch request), the
    // deferrals' visibility changes, and the mapping's long polls (5 pollers, one
    // request each 20 s when idle).
    let sqs_requests =
        calls + calls / 10.0 * 2.0 + deferred * receives / 10.0 * 2.0 + 5.0 * MONTH_S / 20.0;
    let sqs = sqs_requests * SQS_REQUEST;
    let events = calls * EVENT;

    // KMS: one key; a token sealed or opened per refresh and per cold start (a few
    // thousand a month). Secrets Manager: four secrets, read once per 5 min per instance.
    let kms = KMS_KEY + 20_000.0 * KMS_REQUEST;
    let instances = (per_s * 0.3).max(1.0) + 3.0;
    let secrets = 4.0 * SECRET + instances * (MONTH_S / 300.0) * 2.0 * SECRET_CALL;

    // CloudWatch: metrics sent every hour (lookups for 2 outcomes and their latency,
    // the health check's result for 7 dependencies, token refreshes for 2 providers,
    // the write-back's 3, the API allowance's 3, fallbacks), plus those sent only in an
    // outage's hours (transitions, actions, the other outcomes: about 60) prorated;
    // 14 alarms; about 1 KB of logs an invocation. `STEADY_METRICS` says which.
    let steady = STEADY_METRICS;
    let outage_hours = outage_hours_per_week * 30.0 / 7.0 + episodes * 2.0;
    let occasional = 60.0 * (outage_hours / MONTH_HOURS).min(1.0);
    let metrics = (steady + occasional) * METRIC_MONTH;
    let alarms = 14.0 * ALARM_MONTH;
    let logs = invocations * 1_000.0 / 1e9 * LOG_GB;

    vec![
        Line {
            item: "Lambda",
            dollars: lambda,
        },
        Line {
            item: "DynamoDB",
            dollars: dynamo,
        },
        Line {
            item: "SQS",
            dollars: sqs,
        },
        Line {
            item: "EventBridge",
            dollars: events,
        },
        Line {
            item: "KMS",
            dollars: kms,
        },
        Line {
            item: "Secrets Manager",
            dollars: secrets,
        },
        Line {
            item: "CloudWatch metrics",
            dollars: metrics,
        },
        Line {
            item: "CloudWatch alarms",
            dollars: alarms,
        },
        Line {
            item: "CloudWatch Logs",
            dollars: logs,
        },
    ]
}

/// The table: one column per volume and regime.
pub fn table() -> String {
    let volumes = [10_000.0, 100_000.0, 1_000_000.0];
    let runs: Vec<(f64, f64, Vec<Line>)> = volumes
        .iter()
        .flat_map(|&v| [(v, 0.0), (v, 4.0)])
        .map(|(v, o)| (v, o, month(v, o)))
        .collect();
    let mut out = String::from("| item |");
    for (v, o, _) in &runs {
        out.push_str(&format!(
            " {}k calls/day{} |",
            v / 1000.0,
            if *o > 0.0 { ", 4 h outage/week" } else { "" }
        ));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(runs.len()));
    out.push('\n');
    let items: Vec<&str> = runs[0].2.iter().map(|l| l.item).collect();
    for (i, item) in items.iter().enumerate() {
        out.push_str(&format!("| {item} |"));
        for (_, _, lines) in &runs {
            out.push_str(&format!(" ${:.2} |", lines[i].dollars));
        }
        out.push('\n');
    }
    out.push_str("| **total** |");
    for (_, _, lines) in &runs {
        let total: f64 = lines.iter().map(|l| l.dollars).sum();
        let top = lines
            .iter()
            .max_by(|a, b| a.dollars.total_cmp(&b.dollars))
            .map_or("", |l| l.item);
        out.push_str(&format!(" **${total:.2}** ({top} most) |"));
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(lines: &[Line]) -> f64 {
        lines.iter().map(|l| l.dollars).sum()
    }

    #[test]
    fn the_bill_grows_with_calls_and_with_outages() {
        let small = total(&month(10_000.0, 0.0));
        let large = total(&month(1_000_000.0, 0.0));
        assert!(large > small * 5.0, "{small} {large}");
        let sqs = |o| month(100_000.0, o)[2].dollars;
        assert!(
            sqs(4.0) > sqs(0.0),
            "an outage's deferrals are SQS requests"
        );
        assert!(month(10_000.0, 0.0).iter().all(|l| l.dollars >= 0.0));
    }
}
