//! crm-writeback under the emulator, fed by the test kit's SQS mapping against moto's
//! SQS, writing to a fake Salesforce org: every record once (counted by external id),
//! linked to its contact; nothing called while a breaker is open; poison to the DLQ with
//! its reason and one page; the API limit opening its own breaker; and a crash after
//! the write and before the answer losing and duplicating nothing.

use std::sync::Arc;
use std::time::Duration;

use failsoft::breaker::{
    Breaker, BreakerStore, DynamoBreakerStore, Event, GuardSettings, Policy, State,
};
use failsoft::clock::SystemClock;
use failsoft::writeback::queue::REASON_ATTRIBUTE;
use failsoft_testkit::fakes::http::Fault;
use failsoft_testkit::fakes::salesforce::{contact, Org, INVALID_NOTE};
use failsoft_testkit::sqs_pump::{acw_event, create_queues, SqsPump};
use failsoft_testkit::{fresh_table, moto, sdk_config, Emulator, World};
use serde_json::Value;

/// A world with the write-back queues, crm-writeback running under the emulator, and
/// the test kit's SQS mapping feeding it.
struct WriteBack {
    world: World,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    dlq: String,
    env: Vec<(String, String)>,
    emu: Emulator,
    pump: SqsPump,
}

impl std::ops::Deref for WriteBack {
    type Target = World;
    fn deref(&self) -> &World {
        &self.world
    }
}

/// Pat and Gil have numbers; the third caller is nobody the CRM knows.
const CALLERS: [(&str, Option<&str>); 3] = [
    ("tel:+13175550123", Some("003PAT")),
    ("tel:+13175550999", Some("003GLD")),
    ("tel:+14155550000", None),
];

async fn world(visibility_s: u32, extra: &[(&str, &str)]) -> anyhow::Result<WriteBack> {
    let mut b = World::builder()
        .contacts(vec![
            contact(
                "003PAT",
                "Pat Platinum",
                "3175550123",
                "2026-06-01T00:00:00.000+0000",
                None,
            ),
            contact(
                "003GLD",
                "Gil Gold",
                "13175550999",
                "2026-01-01T00:00:00.000+0000",
                None,
            ),
        ])
        .queues(visibility_s)
        .var("WRITEBACK_DEFER_FIRST_S", "1")
        .var("WRITEBACK_DEFER_MAX_S", "2")
        // A forced state is seen at the next batch, not a cache TTL later.
        .var("BREAKER_CRM_CACHE_TTL_MS", "0")
        .var("BREAKER_CRM_AUTH_CACHE_TTL_MS", "0")
        .var("BREAKER_CRM_API_LIMIT_CACHE_TTL_MS", "0");
    for (k, v) in extra {
        b = b.var(k, *v);
    }
    let world = b.build().await?;
    let env = world.lambda_env();
    let emu = start(&env)?;
    let (queue, dlq) = {
        let q = world.queues()?;
        (q.queue.clone(), q.dlq.clone())
    };
    let pump = SqsPump::new(&world.url, &queue, "crm-writeback").await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&world.url).await);
    Ok(WriteBack {
        world,
        sqs,
        queue,
        dlq,
        env,
        emu,
        pump,
    })
}

fn start(env: &[(String, String)]) -> anyhow::Result<Emulator> {
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Emulator::start(&pairs)
}

impl WriteBack {
    async fn send(&self, n: usize, from: usize) -> anyhow::Result<()> {
        for i in from..from + n {
            let (ani, _) = CALLERS[i % CALLERS.len()];
            let body = acw_event(&format!("conv-{i}"), &format!("part-{i}"), ani, "renewal");
            self.send_raw(&body.to_string()).await?;
        }
        Ok(())
    }

    async fn send_raw(&self, body: &str) -> anyhow::Result<()> {
        self.sqs
            .send_message()
            .queue_url(&self.queue)
            .message_body(body)
            .send()
            .await?;
        Ok(())
    }

    async fn breaker(&self, name: &str) -> anyhow::Result<Breaker> {
        let conf = sdk_config(&self.url).await;
        let store: Arc<dyn BreakerStore> = Arc::new(DynamoBreakerStore::new(
            aws_sdk_dynamodb::Client::new(&conf),
            &self.table,
        ));
        Ok(Breaker::new(
            name,
            Policy::default(),
            GuardSettings::default(),
            store,
            Arc::new(SystemClock),
        ))
    }

    async fn force(&self, name: &str, open: bool) -> anyhow::Result<()> {
        let b = self.breaker(name).await?;
        let by = "test".to_string();
        let ev = if open {
            Event::ForceOpen { by, until: None }
        } else {
            Event::Release { by }
        };
        b.command(ev).await?;
        Ok(())
    }

    /// (visible + in flight + delayed) in the queue, and the DLQ's messages with their reasons.
    async fn depths(&self) -> anyhow::Result<(u64, Vec<(String, String)>)> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let a = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue)
            .attribute_names(A::All)
            .send()
            .await?;
        let get = |k: A| -> u64 {
            a.attributes()
                .and_then(|m| m.get(&k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let queued = get(A::ApproximateNumberOfMessages)
            + get(A::ApproximateNumberOfMessagesNotVisible)
            + get(A::ApproximateNumberOfMessagesDelayed);
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.dlq)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .send()
            .await?;
        let dead = got
            .messages()
            .iter()
            .map(|m| {
                let reason = m
                    .message_attributes()
                    .and_then(|a| a.get(REASON_ATTRIBUTE))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_string();
                (m.body().unwrap_or_default().to_string(), reason)
            })
            .collect();
        Ok((queued, dead))
    }

    /// Rounds until the queue is empty: deferred messages come back when moto makes
    /// them visible again (real time, at most `WRITEBACK_DEFER_MAX_S` plus jitter).
    async fn drain(&self) -> anyhow::Result<()> {
        for _ in 0..200 {
            self.pump.round(&self.emu).await?;
            if self.depths().await?.0 == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        anyhow::bail!("the queue did not drain")
    }

    async fn record(&self, name: &str) -> anyhow::Result<failsoft::breaker::Record> {
        Ok(self.breaker(name).await?.current(deadline()).await)
    }
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs(10)
}

/// Each of `n` records is in the org exactly `writes` times by its external id, and
/// linked to the contact its caller's number finds.
fn assert_written(org: &Org, n: usize, writes: u32) {
    let tasks = org.tasks();
    assert_eq!(
        tasks.len(),
        n,
        "one Task per interaction: {:?}",
        tasks.keys()
    );
    for i in 0..n {
        let (task, count) = &tasks[&format!("conv-{i}:part-{i}")];
        assert_eq!(*count, writes, "conv-{i} written {count} times");
        let who = CALLERS[i % CALLERS.len()].1;
        assert_eq!(task.get("WhoId").and_then(Value::as_str), who, "conv-{i}");
        assert_eq!(task["Description"], "renewal");
        assert_eq!(task["CallDurationInSeconds"], 61);
        assert_eq!(task["CallType"], "Inbound", "the picklist's own value");
        assert_eq!(task["CallDisposition"], "Resolved");
    }
}

#[tokio::test]
async fn every_record_is_written_once_and_linked_and_a_redelivery_updates() -> anyhow::Result<()> {
    let w = world(30, &[]).await?;
    w.send(12, 0).await?;
    w.drain().await?;
    assert_written(&w.org, 12, 1);
    // Two batches (10 and 2): each one Composite Batch of searches and one Collections
    // upsert; each search in a batch counts against the org's allowance (3 numbers in
    // the first batch, 2 in the second), each Collections request once.
    assert_eq!(w.org.requests(), 4, "HTTP requests for 12 records");
    assert_eq!(w.org.calls(), 7, "API calls for 12 records");
    // Genesys redelivers the same events: updated in place, never duplicated.
    w.send(12, 0).await?;
    w.drain().await?;
    assert_written(&w.org, 12, 2);
    let (queued, dead) = w.depths().await?;
    assert_eq!((queued, dead.len()), (0, 0));
    Ok(())
}

#[tokio::test]
async fn single_mode_spends_a_call_per_search_and_per_record() -> anyhow::Result<()> {
    let w = world(30, &[("WRITEBACK_BATCHING", "single")]).await?;
    w.send(6, 0).await?;
    w.drain().await?;
    assert_written(&w.org, 6, 1);
    // Three distinct numbers searched, six upserts.
    assert_eq!(w.org.calls(), 9);
    Ok(())
}

#[tokio::test]
async fn while_a_breaker_is_open_nothing_reaches_the_crm_and_nothing_is_lost() -> anyhow::Result<()>
{
    let w = world(30, &[]).await?;
    for breaker in ["crm", "crm-auth"] {
        let before = w.org.calls();
        w.force(breaker, true).await?;
        w.send(5, 0).await?;
        let r = w.pump.round(&w.emu).await?;
        assert_eq!(
            (r.received, r.kept.len(), r.deleted),
            (5, 5, 0),
            "{breaker}: {r:?}"
        );
        // Deferred: invisible for a while, not back at once.
        let again = w.pump.round(&w.emu).await?;
        assert_eq!(again.received, 0, "{breaker}: visibility extended");
        assert_eq!(w.org.calls(), before, "{breaker} open: no CRM call");
        assert_eq!(w.depths().await?.0, 5, "{breaker}: all five kept");
        // Recovery: the backlog drains, once each.
        w.force(breaker, false).await?;
        w.drain().await?;
        assert_written(&w.org, 5, if breaker == "crm" { 1 } else { 2 });
    }
    Ok(())
}

#[tokio::test]
async fn poison_goes_to_the_dlq_with_its_reason_paged_once_and_blocks_nothing() -> anyhow::Result<()>
{
    let w = world(30, &[]).await?;
    w.send(2, 0).await?;
    w.send_raw("{\"detail\": \"not an event\"").await?;
    let refused = acw_event("conv-9", "part-9", "tel:+13175550123", INVALID_NOTE);
    w.send_raw(&refused.to_string()).await?;
    let r = w.pump.round(&w.emu).await?;
    assert_eq!((r.received, r.deleted, r.kept.len()), (4, 4, 0), "{r:?}");
    assert_written(&w.org, 2, 1);
    let (queued, mut dead) = w.depths().await?;
    assert_eq!(queued, 0);
    dead.sort_by(|a, b| a.1.cmp(&b.1));
    let reasons: Vec<&str> = dead.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(reasons.len(), 2, "{dead:?}");
    assert!(
        reasons[0].contains("Salesforce refused it: FIELD_CUSTOM_VALIDATION_EXCEPTION"),
        "{reasons:?}"
    );
    assert_eq!(reasons[1], "the message is not JSON");
    // One page for both (an hour apart at most), written with the crm breaker's record.
    let crm = w.record("crm").await?;
    let pages: Vec<_> = crm
        .outbox
        .values()
        .filter(|a| a.id == "work-writeback-poison")
        .collect();
    assert_eq!(pages.len(), 1, "{:?}", crm.outbox);
    assert_eq!(pages[0].dedup_key, "crm/writeback-poison");
    assert!(crm.paged.contains_key("work-writeback-poison"));
    assert_eq!(
        crm.state,
        State::Closed,
        "poison says nothing about the CRM"
    );
    Ok(())
}

#[tokio::test]
async fn a_spent_api_limit_opens_its_own_breaker_and_the_messages_wait() -> anyhow::Result<()> {
    let w = world(30, &[]).await?;
    w.org
        .daily_limit
        .store(1, std::sync::atomic::Ordering::SeqCst);
    w.send(3, 0).await?;
    let r = w.pump.round(&w.emu).await?;
    assert_eq!(r.kept.len(), 3, "{r:?}");
    let limit = w.record("crm-api-limit").await?;
    assert_eq!(limit.state, State::Open, "{limit:?}");
    assert_eq!(
        w.record("crm").await?.state,
        State::Closed,
        "Salesforce answered"
    );
    let calls = w.org.calls();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let r = w.pump.round(&w.emu).await?;
    assert_eq!(r.kept.len(), r.received, "still deferred: {r:?}");
    assert_eq!(
        w.org.calls(),
        calls,
        "no call while the limit's breaker is open"
    );
    assert_eq!(w.org.tasks().len(), 0);
    Ok(())
}

/// The kill test: the function dies after Salesforce took the upsert and before it
/// answered the mapping. Nothing was deleted, so the batch comes back; the redelivery
/// updates the same Tasks: none lost, none duplicated.
#[tokio::test]
async fn a_crash_after_the_write_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let mut w = world(2, &[]).await?;
    // Warm: the function built and running before the fault.
    w.emu
        .invoke("crm-writeback", &serde_json::json!({"Records": []}))
        .await?;
    w.send(10, 0).await?;
    w.sf.fault(
        "/services/data/v61.0/composite/sobjects/",
        Fault::HangAfterHandling,
        Some(1),
    );
    let emu = &w.emu;
    // A crashed invocation never answers the emulator: the mapping gives up on it, as
    // Lambda's does when the runtime dies.
    let round = async {
        match tokio::time::timeout(Duration::from_secs(10), w.pump.round(emu)).await {
            Ok(r) => r,
            Err(_) => Ok(failsoft_testkit::sqs_pump::Round {
                received: 10,
                errored: true,
                ..Default::default()
            }),
        }
    };
    let kill = async {
        for _ in 0..2_400 {
            if w.org.tasks().len() == 10 {
                return emu.kill_function("crm-writeback");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        anyhow::bail!("the upsert never arrived")
    };
    let (r, killed) = tokio::join!(round, kill);
    assert!(killed?, "the function process was killed");
    let r = r?;
    assert!(
        r.errored && r.deleted == 0,
        "nothing deleted after a crash: {r:?}"
    );
    assert_written(&w.org, 10, 1);
    // A new instance takes the redelivery.
    drop(std::mem::replace(&mut w.emu, start(&w.env)?));
    w.drain().await?;
    assert_written(&w.org, 10, 2);
    assert_eq!(w.depths().await?.1.len(), 0, "nothing in the DLQ");
    Ok(())
}

/// The write-back built in-process against moto (its queues, a fresh table), on an
/// injected clock at `now`, with `crm` forced open so that nothing drains:
/// (write-back, its world).
async fn held_write_back(
    now: i64,
    max_age_s: Option<&str>,
) -> anyhow::Result<(failsoft::writeback::WriteBack, World)> {
    let mut b = World::builder().clock_at(now).queues(30);
    if let Some(max) = max_age_s {
        b = b.var("WRITEBACK_MAX_AGE_S", max);
    }
    let w = b.build().await?;
    let wb = failsoft::writeback::WriteBack::build(&w.services, &w.env())?;
    wb.crm
        .command(Event::ForceOpen {
            by: "test".into(),
            until: None,
        })
        .await?;
    Ok((wb, w))
}

/// A backlog older than `WRITEBACK_MAX_AGE_S` is paged (`crm/writeback-backlog`), at
/// most once an hour, and noted for the board: the write-back built in-process against
/// moto, on an injected clock, with `crm` forced open so that nothing drains.
#[tokio::test]
async fn a_backlog_older_than_its_limit_is_paged_once_an_hour() -> anyhow::Result<()> {
    use failsoft::writeback::Message;

    const SENT: i64 = 1_800_000_000_000;
    const HOUR: i64 = 3_600_000;
    let (wb, w) = held_write_back(SENT + 10 * 60_000, Some("3600")).await?;
    let (services, clock) = (&w.services, w.clock.clone());
    let body = acw_event("conv-1", "agent-1", "tel:+13175550123", "notes").to_string();
    let message = Message {
        id: "m-1".into(),
        body,
        receipt: "r-1".into(),
        receives: 1,
        sent_ms: SENT,
    };
    let pages = |r: &failsoft::breaker::Record| {
        (
            r.outbox.contains_key("work-writeback-backlog"),
            r.paged.get("work-writeback-backlog").copied(),
        )
    };
    // Ten minutes old: kept, noted, not paged.
    let report = wb.handle(std::slice::from_ref(&message), deadline()).await;
    assert_eq!((report.failed.len(), report.deferred), (1, 1));
    assert_eq!(pages(&services.store.load("crm").await?), (false, None));
    let seen = wb.backlog.load(deadline()).await?.last.expect("noted");
    assert_eq!((seen.oldest_sent_ms, seen.oldest_age_s()), (SENT, 600));
    // Two hours old: paged.
    clock.set(SENT + 2 * HOUR);
    wb.handle(std::slice::from_ref(&message), deadline()).await;
    let first = pages(&services.store.load("crm").await?);
    assert_eq!(first, (true, Some(SENT + 2 * HOUR)));
    // Within the hour: no new page; an hour on: one more.
    clock.set(SENT + 2 * HOUR + 30 * 60_000);
    wb.handle(std::slice::from_ref(&message), deadline()).await;
    assert_eq!(pages(&services.store.load("crm").await?).1, first.1);
    clock.set(SENT + 3 * HOUR);
    wb.handle(std::slice::from_ref(&message), deadline()).await;
    assert_eq!(
        pages(&services.store.load("crm").await?).1,
        Some(SENT + 3 * HOUR)
    );
    Ok(())
}

/// The board's oldest age is the oldest message a batch left waiting, not the last
/// batch's oldest: during an outage most batches are fresh arrivals, and the board once
/// said "167 waiting, oldest 0 s" a minute and a half into one. Built in-process against
/// moto on an injected clock, with `crm` forced open so that nothing is written.
#[tokio::test]
async fn the_board_keeps_the_oldest_waiting_message_through_batches_of_fresh_ones(
) -> anyhow::Result<()> {
    use failsoft::writeback::status::status;
    use failsoft::writeback::Message;

    const SENT: i64 = 1_800_000_000_000;
    const MIN: i64 = 60_000;
    let (wb, w) = held_write_back(SENT, None).await?;
    let (clock, queue) = (w.clock.clone(), w.queues()?.queue.clone());
    // The queue holds messages, so the board shows an age at all.
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&w.url).await);
    sqs.send_message()
        .queue_url(&queue)
        .message_body("{}")
        .send()
        .await?;
    let message = |id: &str, sent_ms: i64, body: String| Message {
        id: id.into(),
        body,
        receipt: format!("r-{id}"),
        receives: 1,
        sent_ms,
    };
    let call = |c: &str| acw_event(c, "agent-1", "tel:+13175550123", "notes").to_string();
    let age = |now: i64| {
        let (wb, clock) = (&wb, clock.clone());
        async move {
            clock.set(now);
            status(&wb.queues, &wb.backlog, now, deadline())
                .await
                .oldest_age_s
        }
    };

    wb.handle(&[message("m-1", SENT, call("conv-1"))], deadline())
        .await;
    // Five minutes on, a batch of only fresh arrivals.
    clock.set(SENT + 5 * MIN);
    let fresh = message("m-2", SENT + 5 * MIN, call("conv-2"));
    assert_eq!(
        wb.handle(std::slice::from_ref(&fresh), deadline())
            .await
            .deferred,
        1
    );
    assert_eq!(
        age(SENT + 5 * MIN).await,
        Some(300),
        "the oldest waiting, m-1"
    );
    // m-1 comes back and leaves the queue (here as poison, to the DLQ): m-3, the
    // oldest its batch kept, stands in.
    clock.set(SENT + 6 * MIN);
    let batch = [
        message("m-1", SENT, "not json".into()),
        message("m-3", SENT + 4 * MIN, call("conv-3")),
    ];
    let report = wb.handle(&batch, deadline()).await;
    assert_eq!((report.poisoned, report.deferred), (1, 1));
    assert_eq!(age(SENT + 6 * MIN).await, Some(120), "m-3 now");
    // m-3 not seen again within any deferral (the queue's redrive took it, say): the
    // note is no longer believed, and the last batch's oldest is shown.
    let beyond = SENT + 6 * MIN + (36 + 15) * MIN + 1;
    assert_eq!(
        age(beyond).await,
        Some((beyond - SENT) / 1000),
        "the last batch's oldest (m-1, sent at SENT)"
    );
    let noted = wb.backlog.load(deadline()).await?;
    assert_eq!(noted.waiting.map(|w| w.id), Some("m-3".to_string()));
    Ok(())
}

/// A backlog drains through the resources Salesforce documents: the contacts through
/// Composite Batch (Composite takes no Search subrequest, and the fake refuses one as
/// Salesforce does), the Tasks through Collections; at most 0.05 requests a record at
/// the mapping's batch of 100. Before, every batch failed at the lookup and the backlog
/// never drained.
#[tokio::test]
async fn a_backlog_drains_through_documented_resources_within_its_request_budget(
) -> anyhow::Result<()> {
    let mut w = world(30, &[]).await?;
    w.pump.batch_size = 100;
    let n = 200;
    for i in 0..n {
        // One caller in five is a known contact; the rest are numbers of their own.
        let ani = match i % 5 {
            0 => CALLERS[(i / 5) % CALLERS.len()].0.to_string(),
            _ => format!("tel:+1212555{i:04}"),
        };
        let body = acw_event(&format!("conv-{i}"), &format!("part-{i}"), &ani, "renewal");
        w.send_raw(&body.to_string()).await?;
    }
    w.drain().await?;
    let tasks = w.org.tasks();
    assert_eq!(tasks.len(), n, "every record written");
    for i in (0..n).step_by(5) {
        let (task, count) = &tasks[&format!("conv-{i}:part-{i}")];
        assert_eq!(*count, 1);
        let who = CALLERS[(i / 5) % CALLERS.len()].1;
        assert_eq!(task.get("WhoId").and_then(Value::as_str), who, "conv-{i}");
    }
    let requests = w.org.requests();
    assert!(
        f64::from(requests) / n as f64 <= 0.05,
        "{requests} Salesforce requests for {n} records"
    );
    assert_eq!(
        w.sf.count("/services/data/v61.0/composite/batch"),
        4 * 2,
        "160 distinct numbers: 4 batches of searches per 100 records"
    );
    let (queued, dead) = w.depths().await?;
    assert_eq!((queued, dead.len()), (0, 0));
    assert_eq!(w.record("crm").await?.failures, 0, "nothing blamed on crm");
    Ok(())
}

/// Genesys delivers the same interaction twice within one batch (a redelivery, or a DLQ
/// send whose answer was lost and a redrive): one record, written once, and every copy
/// let go. Salesforce answers DUPLICATE_VALUE to both copies in one Collections request,
/// which made both poison.
#[tokio::test]
async fn copies_of_one_interaction_in_a_batch_are_one_write() -> anyhow::Result<()> {
    let w = world(30, &[]).await?;
    let twice = acw_event("conv-0", "part-0", CALLERS[0].0, "renewal").to_string();
    for _ in 0..3 {
        w.send_raw(&twice).await?;
    }
    w.send(2, 1).await?;
    let r = w.pump.round(&w.emu).await?;
    assert_eq!((r.received, r.deleted, r.kept.len()), (5, 5, 0), "{r:?}");
    let tasks = w.org.tasks();
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks["conv-0:part-0"].1, 1, "written once");
    let (queued, dead) = w.depths().await?;
    assert_eq!((queued, dead.len()), (0, 0), "nothing poison: {dead:?}");
    Ok(())
}

/// A field map naming a field the Task does not have: Salesforce refuses the whole
/// Collections request (400 `INVALID_FIELD`). That is our configuration, not any
/// record and not Salesforce failing: every message is kept, one page says what to fix,
/// nothing goes to the DLQ, and `crm` counts no failure.
#[tokio::test]
async fn our_own_bad_request_is_kept_paged_once_and_blamed_on_nobody() -> anyhow::Result<()> {
    let w = world(
        30,
        &[(
            "WRITEBACK_FIELD_MAP",
            "queue=CallObject,notes=Interaction_Notes__c",
        )],
    )
    .await?;
    w.send(6, 0).await?;
    let r = w.pump.round(&w.emu).await?;
    assert_eq!((r.received, r.kept.len()), (6, 6), "all kept: {r:?}");
    let (queued, dead) = w.depths().await?;
    assert_eq!((queued, dead.len()), (6, 0), "none poison: {dead:?}");
    let crm = w.record("crm").await?;
    assert_eq!(
        (crm.state, crm.failures),
        (State::Closed, 0),
        "not blamed on crm"
    );
    let pages: Vec<_> = crm
        .outbox
        .values()
        .filter(|a| a.id == "work-writeback-config")
        .collect();
    assert_eq!(pages.len(), 1, "{:?}", crm.outbox);
    assert!(
        pages[0].summary.contains("WRITEBACK_FIELD_MAP"),
        "{}",
        pages[0].summary
    );
    let why = pages[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("INVALID_FIELD"), "{why}");
    assert_eq!(w.org.tasks().len(), 0);
    Ok(())
}

/// Every media type and direction the after-call-work topic carries (generated from
/// the record, not written by hand) is written, and each honestly: a call is a "Call"
/// Task with call fields, an email an "Email" Task, anything else a plain Task with no
/// call fields; an unknown direction is no direction, never poison.
#[tokio::test]
async fn every_media_type_and_direction_is_written_as_what_it_is() -> anyhow::Result<()> {
    let w = world(30, &[]).await?;
    let events = failsoft_testkit::sqs_pump::acw_events_of_every_kind(CALLERS[0].0);
    for (_, _, ev) in &events {
        w.send_raw(&ev.to_string()).await?;
    }
    w.drain().await?;
    let tasks = w.org.tasks();
    assert_eq!(tasks.len(), events.len(), "none poison, none lost");
    assert_eq!(w.depths().await?.1.len(), 0, "nothing in the DLQ");
    for (media, direction, ev) in &events {
        let conv = ev["detail"]["eventBody"]["conversationId"]
            .as_str()
            .unwrap_or_default();
        let (task, _) = &tasks[&format!("{conv}:part-1")];
        let call = media == "VOICE" || media == "CALLBACK";
        let subtype = match media.as_str() {
            "VOICE" | "CALLBACK" => "Call",
            "EMAIL" => "Email",
            _ => "Task",
        };
        assert_eq!(task["TaskSubtype"], subtype, "{media}");
        assert_eq!(
            task["ActivityDate"], "2026-11-28",
            "from eventTime (epoch ms)"
        );
        for field in [
            "CallType",
            "CallDurationInSeconds",
            "CallObject",
            "CallDisposition",
        ] {
            let want = call && !(field == "CallType" && direction == "UNKNOWN");
            assert_eq!(
                task.get(field).is_some(),
                want,
                "{media} {direction}: {field}"
            );
        }
        if call && direction != "UNKNOWN" {
            let want = if direction == "INBOUND" {
                "Inbound"
            } else {
                "Outbound"
            };
            assert_eq!(task["CallType"], want);
        }
        assert_eq!(
            task["Description"], "notes",
            "{media}: notes always written"
        );
    }
    Ok(())
}

/// `WRITEBACK_MEDIA_TYPES` chooses what is written: the rest is let go, not kept, not
/// poison.
#[tokio::test]
async fn only_the_chosen_media_types_are_written() -> anyhow::Result<()> {
    let w = world(30, &[("WRITEBACK_MEDIA_TYPES", "VOICE,CALLBACK")]).await?;
    let events = failsoft_testkit::sqs_pump::acw_events_of_every_kind(CALLERS[0].0);
    let inbound: Vec<_> = events.iter().filter(|(_, d, _)| d == "INBOUND").collect();
    for (_, _, ev) in &inbound {
        w.send_raw(&ev.to_string()).await?;
    }
    let r = w.pump.round(&w.emu).await?;
    assert_eq!(
        (r.received, r.deleted),
        (inbound.len(), inbound.len()),
        "{r:?}"
    );
    let mut written: Vec<String> = w.org.tasks().keys().cloned().collect();
    written.sort();
    assert_eq!(
        written,
        ["conv-callback-inbound:part-1", "conv-voice-inbound:part-1"]
    );
    assert_eq!(w.depths().await?, (0, vec![]));
    Ok(())
}

/// SQS allows 12 hours of visibility counted from the receive; a longer one is refused
/// and the message comes back at the queue's own timeout. The longest schedule allowed
/// is accepted; one that could pass 12 hours is refused at start.
#[tokio::test]
async fn no_deferral_asks_sqs_for_more_than_twelve_hours() -> anyhow::Result<()> {
    use failsoft::clock::SystemClock;
    use failsoft::writeback::defer::MAX_CONFIGURED_WAIT_S;
    use failsoft::writeback::{Message, WriteBack};

    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    // Visibility 0: a message is hidden only if the extension is accepted.
    let (queue, dlq) = create_queues(&m.url, &format!("wb-{table}"), 0).await?;
    let services = failsoft_testkit::services(&m.url, &table, Arc::new(SystemClock)).await;
    let longest = MAX_CONFIGURED_WAIT_S.to_string();
    let env = |max: String| {
        let (queue, dlq) = (queue.clone(), dlq.clone());
        move |k: &str| match k {
            "CRM_SECRET_ID" => Some("crm-secret".to_string()),
            "WRITEBACK_QUEUE_URL" => Some(queue.clone()),
            "WRITEBACK_DLQ_URL" => Some(dlq.clone()),
            "WRITEBACK_DEFER_FIRST_S" => Some("900".to_string()),
            "WRITEBACK_DEFER_MAX_S" => Some(max.clone()),
            _ => None,
        }
    };
    assert!(
        WriteBack::build(&services, &env("43200".into())).is_err(),
        "a schedule that can pass 12 h is refused"
    );
    let wb = WriteBack::build(&services, &env(longest))?;
    wb.crm
        .command(Event::ForceOpen {
            by: "test".into(),
            until: None,
        })
        .await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk_config(&m.url).await);
    let body = acw_event("conv-1", "part-1", "tel:+13175550123", "notes").to_string();
    sqs.send_message()
        .queue_url(&queue)
        .message_body(&body)
        .send()
        .await?;
    let got = sqs.receive_message().queue_url(&queue).send().await?;
    let m0 = got
        .messages()
        .first()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the message was not received"))?;
    let message = Message {
        id: m0.message_id().unwrap_or_default().into(),
        body,
        receipt: m0.receipt_handle().unwrap_or_default().into(),
        // Far into an outage: the schedule is at its cap, with its jitter.
        receives: 30,
        sent_ms: 0,
    };
    for _ in 0..5 {
        let r = wb.handle(std::slice::from_ref(&message), deadline()).await;
        assert_eq!(r.deferred, 1);
    }
    let again = sqs.receive_message().queue_url(&queue).send().await?;
    assert!(
        again.messages().is_empty(),
        "the extension was accepted: the message is hidden"
    );
    Ok(())
}

/// A mapped field the integration user may not edit (field-level security): Salesforce
/// refuses each record with `INVALID_FIELD_FOR_INSERT_UPDATE`. That is our configuration,
/// not the records: kept, paged once, none poison, `crm` not blamed.
#[tokio::test]
async fn a_field_the_user_cannot_edit_keeps_the_records_and_pages_once() -> anyhow::Result<()> {
    let w = world(30, &[]).await?;
    w.org.revoke_edit("CallDisposition");
    w.send(4, 0).await?;
    let r = w.pump.round(&w.emu).await?;
    assert_eq!((r.received, r.kept.len()), (4, 4), "{r:?}");
    let (queued, dead) = w.depths().await?;
    assert_eq!((queued, dead.len()), (4, 0), "none poison: {dead:?}");
    let crm = w.record("crm").await?;
    assert_eq!((crm.state, crm.failures), (State::Closed, 0));
    let page = crm
        .outbox
        .values()
        .find(|a| a.id == "work-writeback-config")
        .map(|a| a.last_error.clone().unwrap_or_default());
    assert!(
        page.as_deref()
            .is_some_and(|e| e.contains("CallDisposition")),
        "{page:?}"
    );
    Ok(())
}
