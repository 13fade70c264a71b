//! The DynamoDB breaker store. This module alone knows how a record is stored (see
//! `layout`, and "State table" in `docs/operations.md`): a main item and a count item.
//! Every write is conditional; a counter or an alert is one UpdateItem on its item, a
//! transition one transaction over both. A lost condition on a single item returns
//! that item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`), read together with the
//! other item, instead of reading both again.

mod layout;
mod plan;

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

use layout::{attr, get_s, s};
pub use layout::{
    count_key, from_items, item_size, key, parse_key, to_items, Item, Items, COUNT_SUFFIX, PREFIX,
};
use plan::{plan, Target, Update, Write};

use super::op::Op;
use super::record::Record;
use super::store::{Applied, BreakerStore};
use crate::store::{classify_sdk_error, StoreError};

#[derive(Clone, Debug)]
pub struct DynamoBreakerStore {
    client: Client,
    table: String,
}

/// How one single-item write ended.
enum Written {
    /// Applied: the item after it.
    Won(Option<Item>),
    /// Its condition did not hold: the item as it was.
    Lost(Option<Item>),
    /// A transaction over the item was under way: nothing was written, the item unseen.
    Busy,
}

impl DynamoBreakerStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoBreakerStore {
            client,
            table: table.into(),
        }
    }

    fn item_key(name: &str, target: Target) -> String {
        match target {
            Target::Main => key(name),
            Target::Count => count_key(name),
        }
    }

    async fn get(&self, pk: String) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify_sdk_error)?;
        Ok(out.item().cloned())
    }

    /// Both items in one request (`BatchGetItem`, strongly consistent): one round trip,
    /// and one request to a store that is slow or queueing. A key the batch leaves
    /// unprocessed (its partition was throttled) is read on its own.
    async fn get_both(&self, name: &str) -> Result<(Option<Item>, Option<Item>), StoreError> {
        let (main, count) = (key(name), count_key(name));
        let keys = KeysAndAttributes::builder()
            .keys(Item::from([(attr::PK.to_string(), s(main.clone()))]))
            .keys(Item::from([(attr::PK.to_string(), s(count.clone()))]))
            .consistent_read(true)
            .build()
            .map_err(|e| StoreError::Corrupt(format!("breaker read: {e}")))?;
        let out = self
            .client
            .batch_get_item()
            .request_items(&self.table, keys)
            .send()
            .await
            .map_err(classify_sdk_error)?;
        let mut found: BTreeMap<String, Item> = BTreeMap::new();
        for item in out
            .responses()
            .and_then(|r| r.get(&self.table))
            .into_iter()
            .flatten()
        {
            if let Some(pk) = get_s(item, attr::PK) {
                found.insert(pk, item.clone());
            }
        }
        let unprocessed: Vec<String> = out
            .unprocessed_keys()
            .and_then(|u| u.get(&self.table))
            .map(|k| k.keys().iter().filter_map(|k| get_s(k, attr::PK)).collect())
            .unwrap_or_default();
        for pk in unprocessed {
            if let Some(item) = self.get(pk.clone()).await? {
                found.insert(pk, item);
            }
        }
        Ok((found.remove(&main), found.remove(&count)))
    }

    async fn update(&self, name: &str, u: Update) -> Result<Written, StoreError> {
        let (names, values) = nonempty(u.expr);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, s(Self::item_key(name, u.target)))
            .update_expression(u.update)
            .set_condition_expression(u.condition)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes() {
                Some(item) => Ok(Written::Won(Some(item.clone()))),
                None => Err(StoreError::Corrupt("update returned no attributes".into())),
            },
            Err(SdkError::ServiceError(se)) => match se.err() {
                UpdateItemError::ConditionalCheckFailedException(c) => {
                    Ok(Written::Lost(c.item().cloned()))
                }
                UpdateItemError::TransactionConflictException(_) => Ok(Written::Busy),
                _ => Err(classify_sdk_error(SdkError::ServiceError(se))),
            },
            Err(err) => Err(classify_sdk_error(err)),
        }
    }

    /// Both halves of a transition, all or nothing: `Ok(true)` applied, `Ok(false)` a
    /// condition did not hold or another write was under way.
    async fn transact(&self, name: &str, main: Update, count: Update) -> Result<bool, StoreError> {
        let mut items = Vec::new();
        for u in [main, count] {
            let (names, values) = nonempty(u.expr);
            let update = aws_sdk_dynamodb::types::Update::builder()
                .table_name(&self.table)
                .key(attr::PK, s(Self::item_key(name, u.target)))
                .update_expression(u.update)
                .set_condition_expression(u.condition)
                .set_expression_attribute_names(names)
                .set_expression_attribute_values(values)
                .build()
                .map_err(|e| StoreError::Corrupt(format!("transition write: {e}")))?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(se)) => match se.err() {
                TransactWriteItemsError::TransactionCanceledException(c) => {
                    let codes: Vec<&str> = c
                        .cancellation_reasons()
                        .iter()
                        .filter_map(|r| r.code())
                        .collect();
                    cancelled(&codes)
                }
                TransactWriteItemsError::TransactionInProgressException(_) => Ok(false),
                _ => Err(classify_sdk_error(SdkError::ServiceError(se))),
            },
            Err(err) => Err(classify_sdk_error(err)),
        }
    }
}

/// What a cancelled transaction's reasons (one code per item, `None` for an item with
/// no fault) mean: a condition or a concurrent write is a lost race; throttling is the
/// store's; anything else (validation) is a fault of ours the store reports.
fn cancelled(codes: &[&str]) -> Result<bool, StoreError> {
    let faults: Vec<&str> = codes.iter().copied().filter(|c| *c != "None").collect();
    if faults
        .iter()
        .any(|c| c.contains("Throttl") || c.contains("ProvisionedThroughputExceeded"))
    {
        return Err(StoreError::Throttled(faults.join(",")));
    }
    if faults
        .iter()
        .all(|c| *c == "ConditionalCheckFailed" || *c == "TransactionConflict")
    {
        return Ok(false);
    }
    Err(StoreError::Unavailable(format!(
        "transaction cancelled: {}",
        faults.join(",")
    )))
}

/// DynamoDB refuses empty name or value maps: leave them out.
fn nonempty(
    e: crate::store::Expr,
) -> (
    Option<std::collections::HashMap<String, String>>,
    Option<Item>,
) {
    let names = Some(e.names).filter(|m| !m.is_empty());
    let values = Some(e.values).filter(|m| !m.is_empty());
    (names, values)
}

#[async_trait]
impl BreakerStore for DynamoBreakerStore {
    async fn load(&self, name: &str) -> Result<Record, StoreError> {
        let (main, count) = self.get_both(name).await?;
        from_items(name, main.as_ref(), count.as_ref())
    }

    /// A single-item write is sent together with a read of the other item, so that the
    /// answer is a whole record at the cost of one round trip.
    ///
    /// A transition reads both items first and is sent only if its condition holds of
    /// them: a trip that many instances attempt at once (each whose view crossed the
    /// threshold) then costs the losers a read, not a transaction over both items at
    /// twice the write units. Not sending is the conditional write judged at the read;
    /// the transaction still checks everything. Its answer is that record with the
    /// transition applied (transactions return no items); a cancelled one, or one whose
    /// answer was lost (the SDK may have sent it again), is read back.
    async fn apply(&self, name: &str, op: &Op) -> Result<Applied, StoreError> {
        let applied = match plan(name, op) {
            Write::One(u) => {
                let target = u.target;
                let other = match target {
                    Target::Main => count_key(name),
                    Target::Count => key(name),
                };
                let (written, other) = tokio::join!(self.update(name, u), self.get(other));
                let (item, won) = match written? {
                    Written::Won(i) => (i, true),
                    Written::Lost(i) => (i, false),
                    Written::Busy => return Ok(Applied::Lost(self.load(name).await?)),
                };
                let other = other?;
                let rec = match target {
                    Target::Main => from_items(name, item.as_ref(), other.as_ref())?,
                    Target::Count => from_items(name, other.as_ref(), item.as_ref())?,
                };
                if won {
                    Applied::Won(rec)
                } else {
                    Applied::Lost(rec)
                }
            }
            Write::Both { main, count } => {
                let before = self.load(name).await?;
                let Some(after) = op.apply(&before) else {
                    return Ok(Applied::Lost(before));
                };
                if self.transact(name, main, count).await? {
                    return Ok(Applied::Won(after));
                }
                let rec = self.load(name).await?;
                if op.took_effect(&rec) == Some(true) {
                    Applied::Won(rec)
                } else {
                    Applied::Lost(rec)
                }
            }
        };
        Ok(applied)
    }

    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        let mut items: BTreeMap<String, (Option<Item>, Option<Item>)> = BTreeMap::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .filter_expression("begins_with(#pk, :prefix)")
                .expression_attribute_names("#pk", attr::PK)
                .expression_attribute_values(":prefix", s(PREFIX))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify_sdk_error)?;
            for item in page.items() {
                let Some(pk) = get_s(item, attr::PK) else {
                    continue;
                };
                if let Some((name, is_count)) = parse_key(&pk) {
                    let slot = items.entry(name.to_string()).or_default();
                    match is_count {
                        false => slot.0 = Some(item.clone()),
                        true => slot.1 = Some(item.clone()),
                    }
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        items
            .iter()
            .map(|(name, (main, count))| from_items(name, main.as_ref(), count.as_ref()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_transition_is_a_lost_race_only_for_conditions_and_conflicts() {
        assert!(matches!(
            cancelled(&["ConditionalCheckFailed", "None"]),
            Ok(false)
        ));
        assert!(matches!(
            cancelled(&["None", "TransactionConflict"]),
            Ok(false)
        ));
        assert!(matches!(
            cancelled(&["None", "ThrottlingError"]),
            Err(StoreError::Throttled(_))
        ));
        assert!(matches!(
            cancelled(&["ValidationError", "None"]),
            Err(StoreError::Unavailable(_))
        ));
    }
}
