//! The write-back's figures for `docs/performance.md`: how fast a backlog drains through
//! crm-writeback under the emulator (the test kit's SQS mapping against moto, a fake
//! Salesforce answering every request after a set latency), how many Salesforce API
//! calls each record costs, one by one against Collections, and how many receives a
//! message costs over a 4-hour outage on the deferral schedule.
//!
//! Run: `cargo bench -p failsoft-testkit --bench writeback_drain`
//! (`FAILSOFT_EMULATOR_RELEASE=1` for optimised function builds.)

use failsoft_testkit::fakes;
use std::time::{Duration, Instant};

use failsoft::writeback::defer::{receives_for, Schedule};
use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::fakes::salesforce::{contact, API_PREFIX};
use failsoft_testkit::sqs_pump::{acw_event, create_queues, SqsPump};
use failsoft_testkit::{create_secret, fresh_table, moto, sdk_config, Emulator};

const RECORDS: usize = 300;
const LATENCY: Duration = Duration::from_millis(50);

struct Run {
    batching: &'static str,
    batch: i32,
    callers: &'static str,
    secs: f64,
    calls: u32,
    requests: u32,
    written: usize,
}

/// Drain `RECORDS` events; `distinct`: each from a number of its own (the lookup's
/// worst case), else from three callers.
async fn drain(batching: &'static str, batch: i32, distinct: bool) -> anyhow::Result<Run> {
    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    let (sf, org) = fakes::salesforce::start_org(vec![
        contact(
            "003PAT",
            "Pat",
            "3175550123",
            "2026-06-01T00:00:00.000+0000",
            None,
        ),
        contact(
            "003GIL",
            "Gil",
            "13175550999",
            "2026-01-01T00:00:00.000+0000",
            None,
        ),
    ])
    .await?;
    sf.fault(API_PREFIX, Fault::Slow(LATENCY), None);
    let secret = format!("crm-{table}");
    create_secret(&m.url, &secret, &fakes::salesforce::credentials(&sf.url)).await?;
    let (queue, dlq) = create_queues(&m.url, &format!("wb-{table}"), 60).await?;
    let mut env = Emulator::aws_env(&m.url, &table);
    env.extend([
        ("CRM_SECRET_ID", secret.as_str()),
        ("WRITEBACK_QUEUE_URL", queue.as_str()),
        ("WRITEBACK_DLQ_URL", dlq.as_str()),
        ("WRITEBACK_BATCHING", batching),
        ("RUST_LOG", "warn"),
    ]);
    let emu = Emulator::start(&env)?;
    let mut pump = SqsPump::new(&m.url, &queue, "crm-writeback").await?;
    pump.batch_size = batch;
    pump.round(&emu).await?; // warm: may build
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&m.url).await);
    let anis = ["tel:+13175550123", "tel:+13175550999", "tel:+14155550000"];
    for i in 0..RECORDS {
        let own = format!("tel:+1212555{i:04}");
        let ani = if distinct { own.as_str() } else { anis[i % 3] };
        let body = acw_event(&format!("c{i}"), &format!("p{i}"), ani, "notes");
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body.to_string())
            .send()
            .await?;
    }
    let (before, requests_before) = (org.calls(), org.requests());
    let t = Instant::now();
    while org.tasks().len() < RECORDS && t.elapsed() < Duration::from_secs(600) {
        pump.round(&emu).await?;
    }
    Ok(Run {
        batching,
        batch,
        callers: if distinct { "one each" } else { "3" },
        secs: t.elapsed().as_secs_f64(),
        calls: org.calls() - before,
        requests: org.requests() - requests_before,
        written: org.tasks().len(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut runs = Vec::new();
    for (batching, batch, distinct) in [
        ("single", 10, false),
        ("collections", 10, false),
        ("collections", 100, false),
        ("collections", 100, true),
    ] {
        runs.push(drain(batching, batch, distinct).await?);
    }
    println!(
        "{RECORDS} records, Salesforce answering after {} ms, one instance (the mapping's batches one after another):\n",
        LATENCY.as_millis()
    );
    println!("| batching | batch size | callers | records/s | requests | per record | API calls | per record |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in &runs {
        anyhow::ensure!(r.written == RECORDS, "{}: wrote {}", r.batching, r.written);
        println!(
            "| {} | {} | {} | {:.1} | {} | {:.3} | {} | {:.3} |",
            r.batching,
            r.batch,
            r.callers,
            r.written as f64 / r.secs,
            r.requests,
            r.requests as f64 / r.written as f64,
            r.calls,
            r.calls as f64 / r.written as f64
        );
    }
    let single = runs[0].written as f64 / runs[0].secs;
    println!(
        "\nRatios in this run: collections/single drain rate {:.1}× (batch 10), {:.1}× (batch 100).",
        runs[1].written as f64 / runs[1].secs / single,
        runs[2].written as f64 / runs[2].secs / single
    );
    // Receives over a 4-hour outage: the schedule with its jitter, 10,000 messages.
    let s = Schedule::default();
    let outage_s = 4 * 3_600;
    let mut counts = Vec::new();
    for _ in 0..10_000 {
        let (mut waited, mut n) = (0u64, 0u32);
        while waited < outage_s {
            n += 1;
            waited += s.visibility_s(n, 0, rand::random::<f64>());
        }
        counts.push(n);
    }
    counts.sort_unstable();
    println!(
        "\nReceives per message over a 4-hour outage: {} without jitter; with jitter, over 10,000 messages: min {}, median {}, max {} (a 24-hour outage: {}).",
        receives_for(outage_s),
        counts[0],
        counts[counts.len() / 2],
        counts[counts.len() - 1],
        receives_for(24 * 3_600)
    );
    Ok(())
}
