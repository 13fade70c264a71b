//! The campaign ledger: what the outages did to outbound campaigns, one item per
//! campaign Failsoft turned off (`campaign#<kind>#<id>`), so that recovery undoes exactly
//! that and nothing else. Every change is a conditional write: creating the item is the
//! claim on the pause PUT, emptying its holders the claim on the resume PUT.
//!
//! The items are found through one index item (`campaign#index`, the set of their keys),
//! never by scanning: each function's IAM stays limited to its own keys. An item and its
//! index entry are created and removed together, in one transaction.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use tokio::time::Instant;

use super::genesys::{Campaign, Kind};
use crate::clock::Millis;
use crate::store::{bounded, classify_sdk_error, conditional, lost_race, StoreError};

pub const PREFIX: &str = "campaign#";
/// The index item: the keys of every ledger item. Bounded by the org's campaigns.
pub const INDEX: &str = "campaign#index";
/// How long a campaign left off (changed by a person) stays on the board.
const LEFT_KEPT_S: i64 = 7 * 86_400;
/// The longest note (why a campaign was left off) kept in an item.
const MAX_NOTE: usize = 200;

/// Where a campaign stands in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Claimed by a pause; the PUT to `off` is made or about to be, and `off` not yet seen.
    Pausing,
    /// Seen `off` at `version`: resumable while nobody changes it.
    Paused,
    /// The last holder let go; one executor is resuming it.
    Resuming,
    /// Not resumed: a person changed it meanwhile. Kept a week for the board, then expires.
    Left,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pausing => "pausing",
            Stage::Paused => "paused",
            Stage::Resuming => "resuming",
            Stage::Left => "left",
        }
    }
    fn parse(s: &str) -> Option<Stage> {
        [Stage::Pausing, Stage::Paused, Stage::Resuming, Stage::Left]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// One ledger item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    /// The breakers whose outage holds it off; it is resumed when the last one lets go.
    pub holders: BTreeSet<String>,
    pub stage: Stage,
    /// The version seen once it was `off`: a different one means somebody changed it.
    pub version: Option<i64>,
    pub paused_ms: Millis,
    pub note: Option<String>,
    /// Genesys accepted our PUT to `off`: from then on, `on` means a person's choice.
    pub acked: bool,
}

impl Entry {
    pub fn key(&self) -> String {
        key(self.kind, &self.id)
    }

    /// The entry as people read it, on the board and in `failsoft actions`.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "campaign": format!("{} {} ({})", self.kind.as_str(), self.name, self.id),
            "stage": self.stage.as_str(),
            "heldBy": self.holders,
            "pausedAt": crate::clock::iso8601(self.paused_ms),
            "note": self.note,
        })
    }
}

pub fn key(kind: Kind, id: &str) -> String {
    format!("{PREFIX}{}#{id}", kind.as_str())
}

/// The ledger's items in the state table.
#[derive(Clone)]
pub struct Ledger {
    pub client: Client,
    pub table: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Entry> {
    let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let num = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    Some(Entry {
        kind: Kind::parse(&get("kind")?)?,
        id: get("cid")?,
        name: get("name").unwrap_or_default(),
        holders: item
            .get("holders")
            .and_then(|v| v.as_ss().ok())
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default(),
        stage: Stage::parse(&get("state")?)?,
        version: num("version"),
        paused_ms: num("paused_ms").unwrap_or(0),
        note: get("note"),
        acked: item.get("acked").and_then(|v| v.as_bool().ok()).copied() == Some(true),
    })
}

/// A transaction cancelled because one of its conditions did not hold.
fn cancelled_by_condition<R>(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
        R,
    >,
) -> bool {
    e.as_service_error().is_some_and(|s| match s {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => c
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed")),
        _ => false,
    })
}

impl Ledger {
    /// Claim `c` for a pause by `breaker`: true if this call created the item (and so
    /// must make the PUT), false if it was already in the ledger (then `breaker` joins
    /// its holders, and nobody PUTs again).
    pub async fn claim_pause(
        &self,
        c: &Campaign,
        breaker: &str,
        now: Millis,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
        let pk = key(c.kind, &c.id);
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("kind", s(c.kind.as_str()))
            .item("cid", s(&c.id))
            .item("name", s(&c.name))
            .item("holders", AttributeValue::Ss(vec![breaker.to_string()]))
            .item("state", s(Stage::Pausing.as_str()))
            .item("paused_ms", n(now))
            .condition_expression("attribute_not_exists(pk) OR #s = :left")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":left", s(Stage::Left.as_str()))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let created = self
            .with_index(
                TransactWriteItem::builder().put(put).build(),
                "ADD",
                &pk,
                deadline,
            )
            .await?;
        if !created {
            self.join(&pk, breaker, deadline).await?;
        }
        Ok(created)
    }

    /// Write `item` and its index change (`ADD` or `DELETE` of `pk`) in one transaction:
    /// true if it applied, false if a condition did not hold.
    async fn with_index(
        &self,
        item: aws_sdk_dynamodb::types::TransactWriteItem,
        verb: &str,
        pk: &str,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        let index = aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .update(self.index_update(verb, pk)?)
            .build();
        let req = self
            .client
            .transact_write_items()
            .transact_items(item)
            .transact_items(index)
            .send();
        bounded(deadline, async {
            match req.await {
                Ok(_) => Ok(true),
                Err(e) if cancelled_by_condition(&e) => Ok(false),
                Err(e) => Err(classify_sdk_error(e)),
            }
        })
        .await
    }

    /// The index change that goes with creating (`ADD`) or removing (`DELETE`) `pk`.
    fn index_update(
        &self,
        verb: &str,
        pk: &str,
    ) -> Result<aws_sdk_dynamodb::types::Update, StoreError> {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", s(INDEX))
            .update_expression(format!("{verb} #k :k"))
            .expression_attribute_names("#k", "keys")
            .expression_attribute_values(":k", AttributeValue::Ss(vec![pk.to_string()]))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Add `breaker` to the holders of a campaign still held off.
    pub async fn join(&self, pk: &str, breaker: &str, deadline: Instant) -> Result<(), StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("ADD holders :b")
            .condition_expression("#s IN (:pausing, :paused)")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":b", AttributeValue::Ss(vec![breaker.to_string()]))
            .expression_attribute_values(":pausing", s(Stage::Pausing.as_str()))
            .expression_attribute_values(":paused", s(Stage::Paused.as_str()))
            .send();
        conditional(deadline, req).await.map(|_| ())
    }

    /// Every ledger item, through the index, each read by key.
    pub async fn list(&self, deadline: Instant) -> Result<Vec<Entry>, StoreError> {
        let req = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(INDEX))
            .send();
        let index = bounded(deadline, async { req.await.map_err(classify_sdk_error) }).await?;
        let keys: Vec<String> = index
            .item()
            .and_then(|i| i.get("keys"))
            .and_then(|v| v.as_ss().ok())
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for k in keys {
            let req = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", s(&k))
                .consistent_read(true)
                .send();
            let got = bounded(deadline, async { req.await.map_err(classify_sdk_error) }).await?;
            match got.item().and_then(from_item) {
                Some(e) => out.push(e),
                // Expired (a campaign left off, after a week): its index entry goes too.
                None => self.prune(&k, deadline).await?,
            }
        }
        out.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        Ok(out)
    }

    /// Remove `pk` from the index if its item is gone, in one transaction, so that an
    /// item created meanwhile keeps its entry.
    async fn prune(&self, pk: &str, deadline: Instant) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{ConditionCheck, TransactWriteItem};
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let item = TransactWriteItem::builder().condition_check(check).build();
        self.with_index(item, "DELETE", pk, deadline)
            .await
            .map(|_| ())
    }

    /// Genesys accepted the PUT to `off`.
    pub async fn acked(&self, pk: &str, deadline: Instant) -> Result<(), StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("SET acked = :t")
            .condition_expression("#s = :pausing")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .expression_attribute_values(":pausing", s(Stage::Pausing.as_str()))
            .send();
        conditional(deadline, req).await.map(|_| ())
    }

    /// The campaign was seen `off` at `version`.
    pub async fn paused(
        &self,
        pk: &str,
        version: i64,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("SET #s = :paused, version = :v")
            .condition_expression("#s = :pausing")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":paused", s(Stage::Paused.as_str()))
            .expression_attribute_values(":pausing", s(Stage::Pausing.as_str()))
            .expression_attribute_values(":v", n(version))
            .send();
        conditional(deadline, req).await.map(|_| ())
    }

    /// `breaker` lets go of the campaign. Returns the entry as it is now, or None if
    /// `breaker` did not hold it (another run let go already).
    pub async fn release(
        &self,
        pk: &str,
        breaker: &str,
        deadline: Instant,
    ) -> Result<Option<Entry>, StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("DELETE holders :b")
            .condition_expression("contains(holders, :one)")
            .expression_attribute_values(":b", AttributeValue::Ss(vec![breaker.to_string()]))
            .expression_attribute_values(":one", s(breaker))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send();
        bounded(deadline, async {
            match req.await {
                Ok(out) => Ok(out.attributes().and_then(from_item)),
                Err(e) if e.as_service_error().is_some_and(lost_race) => Ok(None),
                Err(e) => Err(classify_sdk_error(e)),
            }
        })
        .await
    }

    /// Claim the resume of a campaign nobody holds any more: exactly one executor wins
    /// it (a claim left by one that died expires at `until`).
    pub async fn claim_resume(
        &self,
        pk: &str,
        owner: &str,
        now: Millis,
        until: Millis,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("SET #s = :resuming, #o = :me, claim_until = :until")
            .condition_expression(
                "attribute_not_exists(holders) AND (#s = :paused OR (#s = :resuming AND claim_until < :now))",
            )
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":resuming", s(Stage::Resuming.as_str()))
            .expression_attribute_values(":paused", s(Stage::Paused.as_str()))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .send();
        conditional(deadline, req).await
    }

    /// Remove an item and its index entry: the campaign is resumed, or was never ours
    /// to pause.
    pub async fn forget(&self, pk: &str, deadline: Instant) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(pk))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let item = TransactWriteItem::builder().delete(delete).build();
        self.with_index(item, "DELETE", pk, deadline)
            .await
            .map(|_| ())
    }

    /// Not resumed, and why: kept for the board, then expires.
    pub async fn leave(
        &self,
        pk: &str,
        note: &str,
        now: Millis,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let note: String = note.chars().take(MAX_NOTE).collect();
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression(
                "SET #s = :left, note = :note, expires_at = :ttl REMOVE #o, claim_until",
            )
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":left", s(Stage::Left.as_str()))
            .expression_attribute_values(":note", s(&note))
            .expression_attribute_values(":ttl", n(now / 1000 + LEFT_KEPT_S))
            .send();
        bounded(deadline, async {
            req.await.map(|_| ()).map_err(classify_sdk_error)
        })
        .await
    }
}
