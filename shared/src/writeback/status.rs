//! The write-back's backlog as people see it (the board, `failsoft writeback status`):
//! the queue's and the DLQ's depths from SQS, and the oldest message's age as
//! crm-writeback last saw it (SQS itself does not say; CloudWatch's
//! `ApproximateAgeOfOldestMessage` does, and is alarmed on).

use serde::Serialize;
use tokio::time::Instant;

use super::backlog::{BacklogStore, Noted, Seen};
use super::queue::Queues;
use crate::clock::{iso8601, Millis};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Waiting to be written: visible, in a batch or deferred, or delayed.
    pub queued: Option<u64>,
    /// Deferred or in a batch now (part of `queued`).
    pub in_flight: Option<u64>,
    pub dlq: Option<u64>,
    /// How old the oldest message crm-writeback knows to be waiting is now (0 when the
    /// queue is empty; see `backlog`).
    pub oldest_age_s: Option<i64>,
    /// When crm-writeback last handled a batch.
    pub seen_at: Option<String>,
    pub last_batch: Option<Seen>,
    /// What could not be read.
    pub errors: Vec<String>,
}

/// The oldest waiting message's age: 0 for an empty queue; else the oldest message a
/// batch left waiting, while that note is credible; else the last batch's oldest.
fn oldest_age_s(queued: Option<u64>, noted: &Noted, now: Millis) -> Option<i64> {
    let age = |sent: Millis| Some((now - sent).max(0) / 1000);
    match (queued, &noted.waiting, noted.last) {
        (Some(0), _, _) => Some(0),
        (_, Some(w), _) if w.until_ms >= now && w.sent_ms > 0 => age(w.sent_ms),
        (_, _, Some(b)) if b.oldest_sent_ms > 0 => age(b.oldest_sent_ms),
        _ => None,
    }
}

pub async fn status(
    queues: &Queues,
    backlog: &BacklogStore,
    now: Millis,
    deadline: Instant,
) -> Status {
    let mut s = Status::default();
    match queues.depths(deadline).await {
        Ok((q, d)) => {
            s.queued = Some(q.total());
            s.in_flight = Some(q.in_flight);
            s.dlq = Some(d.total());
        }
        Err(e) => s.errors.push(format!("queue depths: {e}")),
    }
    match backlog.load(deadline).await {
        Ok(noted) => {
            s.seen_at = noted.last.map(|b| iso8601(b.seen_ms));
            s.oldest_age_s = oldest_age_s(s.queued, &noted, now);
            s.last_batch = noted.last;
        }
        Err(e) => s.errors.push(format!("backlog note: {e}")),
    }
    s
}
