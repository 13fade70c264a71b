//! What crm-writeback saw of its backlog: the last batch (when, its oldest message, what
//! became of it) and the oldest message it knows to be still waiting. SQS gives a
//! queue's depth but not its oldest message's age (only CloudWatch does), so the
//! function notes both in one fixed item, `writeback#backlog`, for the board and
//! `failsoft writeback status`.
//!
//! The last batch alone cannot say how old the backlog is: during an outage most
//! batches are fresh arrivals, deferred at once, while the oldest records wait out
//! their longer deferrals. So the item also keeps the oldest message a batch left in
//! the queue, until a batch writes it (or lets it go) or it has not been seen for
//! longer than any deferral lasts (SQS moved it to the DLQ, or the queue was purged).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::Serialize;
use tokio::time::error::Elapsed;
use tokio::time::Instant;

use crate::clock::Millis;
use crate::store::{classify_sdk_error, request_deadline, StoreError};

pub const KEY: &str = "writeback#backlog";

/// Beyond its deferral, a kept message may come back after the queue's own visibility
/// timeout (the template's 360 s, when SQS refused the deferral) and a batching window
/// (at most 300 s): a waiting note not seen again within these is no longer credible.
pub const REDELIVERY_MARGIN_MS: Millis = 15 * 60_000;

/// The last batch crm-writeback handled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Seen {
    pub seen_ms: Millis,
    /// When the oldest message of the batch was first sent to the queue.
    pub oldest_sent_ms: Millis,
    pub batch: u32,
    pub written: u32,
    pub deferred: u32,
    pub poisoned: u32,
    pub failed: u32,
}

impl Seen {
    /// The oldest message's age when the batch was seen, in seconds.
    pub fn oldest_age_s(&self) -> i64 {
        (self.seen_ms - self.oldest_sent_ms).max(0) / 1000
    }
}

/// The oldest message a batch left in the queue, as far as crm-writeback knows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiting {
    /// When it was first sent to the queue.
    pub sent_ms: Millis,
    /// Its SQS message id: a later batch that writes it ends this note.
    pub id: String,
    /// Credible until then: it will have come back by this time if it is still queued.
    pub until_ms: Millis,
}

/// What a batch does to the note of the oldest waiting message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Keep,
    Set(Waiting),
    Clear,
}

/// The note after a batch that left `kept` (the oldest message it kept in the queue, if
/// any) and let `gone` go, at `now`; a kept message comes back within `credible_ms`.
/// A younger kept message never replaces an older one still credible: that is the
/// fault it fixes. After the oldest is written, the batch's oldest kept message stands
/// in; an older one outside the batch lowers it when it comes back (the figure is a
/// lower bound for at most one deferral).
pub fn change(
    stored: Option<&Waiting>,
    kept: Option<(&str, Millis)>,
    gone: impl Fn(&str) -> bool,
    now: Millis,
    credible_ms: Millis,
) -> Change {
    let set = |(id, sent_ms): (&str, Millis)| {
        Change::Set(Waiting {
            sent_ms,
            id: id.to_string(),
            until_ms: now + credible_ms,
        })
    };
    match (stored, kept) {
        (Some(w), kept) if w.until_ms >= now && !gone(&w.id) => match kept {
            Some(k) if k.1 <= w.sent_ms => set(k),
            _ => Change::Keep,
        },
        (_, Some(k)) => set(k),
        (Some(_), None) => Change::Clear,
        (None, None) => Change::Keep,
    }
}

/// The item as read: the last batch and the oldest waiting message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Noted {
    pub last: Option<Seen>,
    pub waiting: Option<Waiting>,
}

#[derive(Clone, Debug)]
pub struct BacklogStore {
    pub client: Client,
    pub table: String,
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl BacklogStore {
    /// Note a batch, unless a later one is noted already. Fixed attributes: the item is
    /// under 300 bytes whatever the backlog (a message id is at most 100 characters).
    pub async fn note(&self, s: &Seen, deadline: Instant) -> Result<(), StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(KEY.into()))
            .update_expression(
                "SET #seen = :seen, #o = :o, #b = :b, #w = :w, #d = :d, #p = :p, #f = :f",
            )
            .condition_expression("attribute_not_exists(#seen) OR #seen <= :seen")
            // Names, not words: some (`batch`) are among DynamoDB's reserved words.
            .expression_attribute_names("#seen", "seen")
            .expression_attribute_names("#o", "oldest_sent")
            .expression_attribute_names("#b", "batch")
            .expression_attribute_names("#w", "written")
            .expression_attribute_names("#d", "deferred")
            .expression_attribute_names("#p", "poisoned")
            .expression_attribute_names("#f", "failed")
            .expression_attribute_values(":seen", n(s.seen_ms))
            .expression_attribute_values(":o", n(s.oldest_sent_ms))
            .expression_attribute_values(":b", n(s.batch.into()))
            .expression_attribute_values(":w", n(s.written.into()))
            .expression_attribute_values(":d", n(s.deferred.into()))
            .expression_attribute_values(":p", n(s.poisoned.into()))
            .expression_attribute_values(":f", n(s.failed.into()))
            .send();
        // A later batch is noted: nothing to do.
        conditional(tokio::time::timeout_at(request_deadline(deadline), req).await)
    }

    /// Apply `change` to the note of the oldest waiting message, if the note is still
    /// `was` (another batch may have moved it since: then its word stands).
    pub async fn note_waiting(
        &self,
        was: Option<&Waiting>,
        change: &Change,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(KEY.into()));
        let req = match change {
            Change::Keep => return Ok(()),
            Change::Set(w) => req
                .update_expression("SET waiting_sent = :s, waiting_id = :id, waiting_until = :u")
                .expression_attribute_values(":s", n(w.sent_ms))
                .expression_attribute_values(":id", AttributeValue::S(w.id.clone()))
                .expression_attribute_values(":u", n(w.until_ms)),
            Change::Clear => {
                req.update_expression("REMOVE waiting_sent, waiting_id, waiting_until")
            }
        };
        let req = match was {
            Some(w) => req
                .condition_expression("waiting_id = :was")
                .expression_attribute_values(":was", AttributeValue::S(w.id.clone())),
            None => req.condition_expression("attribute_not_exists(waiting_id)"),
        };
        let req = req.send();
        conditional(tokio::time::timeout_at(request_deadline(deadline), req).await)
    }

    /// The item, read consistently: a batch decides its change on what the last one
    /// wrote.
    pub async fn load(&self, deadline: Instant) -> Result<Noted, StoreError> {
        let req = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(KEY.into()))
            .consistent_read(true)
            .send();
        let out = tokio::time::timeout_at(request_deadline(deadline), req)
            .await
            .map_err(|_| StoreError::Timeout)?
            .map_err(classify_sdk_error)?;
        let Some(item) = out.item() else {
            return Ok(Noted::default());
        };
        let get = |k: &str| -> i64 {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let count = |k: &str| u32::try_from(get(k)).unwrap_or(0);
        let last = item.contains_key("seen").then(|| Seen {
            seen_ms: get("seen"),
            oldest_sent_ms: get("oldest_sent"),
            batch: count("batch"),
            written: count("written"),
            deferred: count("deferred"),
            poisoned: count("poisoned"),
            failed: count("failed"),
        });
        let waiting = item
            .get("waiting_id")
            .and_then(|v| v.as_s().ok())
            .map(|id| Waiting {
                sent_ms: get("waiting_sent"),
                id: id.clone(),
                until_ms: get("waiting_until"),
            });
        Ok(Noted { last, waiting })
    }
}

/// A conditional write's answer: a failed condition means another batch's word stands.
fn conditional<T, E, R>(r: Result<Result<T, SdkError<E, R>>, Elapsed>) -> Result<(), StoreError>
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    match r {
        Err(_) => Err(StoreError::Timeout),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => match classify_sdk_error(e) {
            StoreError::Unavailable(m) if m.contains("ConditionalCheckFailed") => Ok(()),
            other => Err(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDIBLE: Millis = 60_000;

    fn w(id: &str, sent_ms: Millis, until_ms: Millis) -> Waiting {
        Waiting {
            sent_ms,
            id: id.into(),
            until_ms,
        }
    }

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn a_batch_of_fresh_arrivals_does_not_make_the_backlog_young() {
        let old = w("a", 1_000, 90_000);
        assert_eq!(
            change(Some(&old), Some(("b", 50_000)), none, 60_000, CREDIBLE),
            Change::Keep
        );
    }

    #[test]
    fn an_older_or_the_same_message_refreshes_the_note() {
        let old = w("a", 1_000, 90_000);
        assert_eq!(
            change(Some(&old), Some(("a", 1_000)), none, 80_000, CREDIBLE),
            Change::Set(w("a", 1_000, 140_000))
        );
        assert_eq!(
            change(Some(&old), Some(("z", 500)), none, 80_000, CREDIBLE),
            Change::Set(w("z", 500, 140_000))
        );
    }

    #[test]
    fn once_the_oldest_is_written_the_batch_s_oldest_kept_stands_in() {
        let old = w("a", 1_000, 90_000);
        let gone = |id: &str| id == "a";
        assert_eq!(
            change(Some(&old), Some(("b", 50_000)), gone, 60_000, CREDIBLE),
            Change::Set(w("b", 50_000, 120_000))
        );
        assert_eq!(
            change(Some(&old), None, gone, 60_000, CREDIBLE),
            Change::Clear
        );
    }

    #[test]
    fn a_note_not_seen_within_any_deferral_is_dropped() {
        // SQS moved it to the DLQ after its last receive, or the queue was purged.
        let old = w("a", 1_000, 90_000);
        assert_eq!(
            change(Some(&old), Some(("b", 50_000)), none, 90_001, CREDIBLE),
            Change::Set(w("b", 50_000, 150_001))
        );
        assert_eq!(
            change(Some(&old), None, none, 90_001, CREDIBLE),
            Change::Clear
        );
        assert_eq!(change(None, None, none, 90_001, CREDIBLE), Change::Keep);
    }
}
