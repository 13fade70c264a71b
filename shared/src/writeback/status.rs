//! The write-back's backlog as people see it (the board, `failsoft writeback status`):
//! the queue's and the DLQ's depths from SQS, and the oldest message's age as
//! crm-writeback last saw it (SQS itself does not say; CloudWatch's
//! `ApproximateAgeOfOldestMessage` does, and is alarmed on).

use serde::Serialize;
use tokio::time::Instant;

use super::backlog::{BacklogStore, Seen};
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
    /// How old the oldest message of crm-writeback's last batch is now, if the queue
    /// still holds messages (0 when it is empty).
    pub oldest_age_s: Option<i64>,
    /// When crm-writeback last handled a batch.
    pub seen_at: Option<String>,
    pub last_batch: Option<Seen>,
    /// What could not be read.
    pub errors: Vec<String>,
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
        Ok(seen) => {
            s.seen_at = seen.map(|b| iso8601(b.seen_ms));
            s.oldest_age_s = match (s.queued, seen) {
                (Some(0), _) => Some(0),
                (_, Some(b)) if b.oldest_sent_ms > 0 => {
                    Some((now - b.oldest_sent_ms).max(0) / 1000)
                }
                _ => None,
            };
            s.last_batch = seen;
        }
        Err(e) => s.errors.push(format!("backlog note: {e}")),
    }
    s
}
