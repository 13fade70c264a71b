//! What the executor did: the last `SLOTS` actions done for each breaker, kept in the
//! item `actions#<breaker>` so that `failsoft actions` and the board show what is done,
//! not only what is pending. A ring: a counter picks the slot, so the item never grows.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use serde::Serialize;
use tokio::time::Instant;

use crate::breaker::clip;
use crate::clock::{iso8601, Millis};
use crate::store::{classify_sdk_error, request_deadline, StoreError};

pub const PREFIX: &str = "actions#";
/// Entries kept per breaker (each under 400 bytes: the item stays under 7 KB).
pub const SLOTS: u64 = 16;

/// One action done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    pub breaker: String,
    pub action: String,
    pub episode: String,
    pub at: String,
    /// What it did: "accepted", "refused (400)", a campaign report, or why it was cancelled.
    pub outcome: String,
    #[serde(skip)]
    pub at_ms: Millis,
}

#[derive(Clone)]
pub struct History {
    pub client: Client,
    pub table: String,
}

impl crate::service::Services {
    /// What outages did, on the function's table: one constructor, not one per caller.
    pub fn history(&self) -> History {
        History {
            client: self.dynamo.clone(),
            table: self.table.clone(),
        }
    }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

impl History {
    /// Note one action done. Two writes: the counter, then the slot it names.
    pub async fn record(&self, d: &Done, deadline: Instant) -> Result<(), StoreError> {
        let key = format!("{PREFIX}{}", d.breaker);
        let bump = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&key))
            .update_expression("ADD seq :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::UpdatedNew)
            .send();
        let out = tokio::time::timeout_at(request_deadline(deadline), bump)
            .await
            .map_err(|_| StoreError::Timeout)?
            .map_err(classify_sdk_error)?;
        let seq: u64 = out
            .attributes()
            .and_then(|a| a.get("seq"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let entry = AttributeValue::M(HashMap::from([
            ("action".to_string(), s(&d.action)),
            ("episode".to_string(), s(clip(&d.episode, 120))),
            ("at".to_string(), AttributeValue::N(d.at_ms.to_string())),
            ("outcome".to_string(), s(clip(&d.outcome, 200))),
        ]));
        let set = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(&key))
            .update_expression("SET #d = :e")
            .expression_attribute_names("#d", format!("d{}", seq % SLOTS))
            .expression_attribute_values(":e", entry)
            .send();
        tokio::time::timeout_at(request_deadline(deadline), set)
            .await
            .map_err(|_| StoreError::Timeout)?
            .map(|_| ())
            .map_err(classify_sdk_error)
    }

    /// The actions done for `breaker`, newest first.
    pub async fn recent(&self, breaker: &str, deadline: Instant) -> Result<Vec<Done>, StoreError> {
        let get = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&format!("{PREFIX}{breaker}")))
            .send();
        let out = tokio::time::timeout_at(request_deadline(deadline), get)
            .await
            .map_err(|_| StoreError::Timeout)?
            .map_err(classify_sdk_error)?;
        let mut done: Vec<Done> = out
            .item()
            .into_iter()
            .flat_map(|item| item.iter())
            .filter(|(k, _)| k.starts_with('d'))
            .filter_map(|(_, v)| {
                let m = v.as_m().ok()?;
                let get = |k: &str| {
                    m.get(k)
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default()
                };
                let at_ms: Millis = m.get("at")?.as_n().ok()?.parse().ok()?;
                Some(Done {
                    breaker: breaker.to_string(),
                    action: get("action"),
                    episode: get("episode"),
                    at: iso8601(at_ms),
                    outcome: get("outcome"),
                    at_ms,
                })
            })
            .collect();
        done.sort_by_key(|d| std::cmp::Reverse(d.at_ms));
        // A write retried after its first attempt landed (its answer timed out) puts
        // the same line in two slots: shown once.
        done.dedup_by(|a, b| a.at_ms == b.at_ms && a.action == b.action && a.episode == b.episode);
        Ok(done)
    }
}
