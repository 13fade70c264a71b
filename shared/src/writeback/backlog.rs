//! What crm-writeback last saw of its backlog: when, the age of the oldest message in
//! that batch, and what became of the batch. SQS gives a queue's depth but not its
//! oldest message's age (only CloudWatch does), so the function notes it in one fixed
//! item, `writeback#backlog`, for the board and `failsoft writeback status`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::Serialize;
use tokio::time::Instant;

use crate::clock::Millis;
use crate::store::{classify_sdk_error, request_deadline, StoreError};

pub const KEY: &str = "writeback#backlog";

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
    /// under 200 bytes whatever the backlog.
    pub async fn note(&self, s: &Seen, deadline: Instant) -> Result<(), StoreError> {
        let item = HashMap::from([
            ("pk".to_string(), AttributeValue::S(KEY.into())),
            ("seen".to_string(), n(s.seen_ms)),
            ("oldest_sent".to_string(), n(s.oldest_sent_ms)),
            ("batch".to_string(), n(s.batch.into())),
            ("written".to_string(), n(s.written.into())),
            ("deferred".to_string(), n(s.deferred.into())),
            ("poisoned".to_string(), n(s.poisoned.into())),
            ("failed".to_string(), n(s.failed.into())),
        ]);
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR seen <= :seen")
            .expression_attribute_values(":seen", n(s.seen_ms))
            .send();
        match tokio::time::timeout_at(request_deadline(deadline), req).await {
            Err(_) => Err(StoreError::Timeout),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => match classify_sdk_error(e) {
                // A later batch is noted: nothing to do.
                StoreError::Unavailable(m) if m.contains("ConditionalCheckFailed") => Ok(()),
                other => Err(other),
            },
        }
    }

    pub async fn load(&self, deadline: Instant) -> Result<Option<Seen>, StoreError> {
        let req = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(KEY.into()))
            .send();
        let out = tokio::time::timeout_at(request_deadline(deadline), req)
            .await
            .map_err(|_| StoreError::Timeout)?
            .map_err(classify_sdk_error)?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let get = |k: &str| -> i64 {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        let count = |k: &str| u32::try_from(get(k)).unwrap_or(0);
        Ok(Some(Seen {
            seen_ms: get("seen"),
            oldest_sent_ms: get("oldest_sent"),
            batch: count("batch"),
            written: count("written"),
            deferred: count("deferred"),
            poisoned: count("poisoned"),
            failed: count("failed"),
        }))
    }
}
