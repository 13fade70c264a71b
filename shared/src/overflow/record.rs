//! The record of the regional overflow: one item, `overflow#switch`, that says which
//! emergency group was last switched, on or off, by whom, why and when, and at which
//! version Failsoft left it. It is the claim on a switch (a conditional write before the
//! PUT), the proof that an automatic restore undoes only Failsoft's own activation, and
//! what the board and `failsoft overflow status` show. Overwritten by each switch, so it
//! never grows: under 1 KB (a 120-character name, a 200-character reason and note).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::Serialize;
use tokio::time::Instant;

use crate::clock::Millis;
use crate::store::{bounded, classify_sdk_error, conditional, StoreError};

/// The one item's key.
pub const KEY: &str = "overflow#switch";
/// The longest reason or note kept.
const MAX_TEXT: usize = 200;

/// Who owns the current state of the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Failsoft switched it on an outage: its recovery may undo it.
    Auto,
    /// A person switched it (`failsoft overflow`): never undone automatically.
    Manual,
    /// Found switched by someone else, or changed since Failsoft switched it: left alone.
    Left,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Manual => "manual",
            Mode::Left => "left",
        }
    }
    fn parse(s: &str) -> Option<Mode> {
        [Mode::Auto, Mode::Manual, Mode::Left]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The last switch, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Switch {
    pub group_id: String,
    pub group_name: String,
    pub enabled: bool,
    /// The group's version after the switch: a different one later means a person
    /// changed it.
    pub version: i64,
    pub mode: Mode,
    pub by: String,
    pub reason: String,
    pub at_ms: Millis,
    /// IVRs linked after the switch.
    pub ivrs: u32,
    pub note: Option<String>,
}

/// A switch about to be PUT, written under the claim before the PUT: if the PUT lands
/// and its confirmation is lost (the answer, the read after it, the record), the retry
/// still knows the change was its own. A recorded switch replaces it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Intent {
    pub group_id: String,
    pub enabled: bool,
    /// The version the PUT was sent with: the PUT, if it landed, produced a later one.
    pub from_version: i64,
    pub at_ms: Millis,
}

fn intent_of(item: &HashMap<String, AttributeValue>) -> Option<Intent> {
    Some(Intent {
        group_id: item.get("intent_group")?.as_s().ok()?.clone(),
        enabled: *item.get("intent_enabled")?.as_bool().ok()?,
        from_version: item.get("intent_from")?.as_n().ok()?.parse().ok()?,
        at_ms: item
            .get("intent_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    })
}

/// What a claim found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// Ours until it is released; the last switch, if any, and a switch intended and
    /// never recorded, if any.
    Won(Option<Switch>, Option<Intent>),
    /// Another switch is under way, by this owner.
    Busy(String),
}

/// The item in the state table.
#[derive(Clone)]
pub struct Switches {
    pub client: Client,
    pub table: String,
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn clipped(v: &str) -> String {
    v.chars().take(MAX_TEXT).collect()
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Switch> {
    let get = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let num = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    Some(Switch {
        group_id: get("group_id")?,
        group_name: get("group_name").unwrap_or_default(),
        enabled: item
            .get("enabled")
            .and_then(|v| v.as_bool().ok())
            .copied()?,
        version: num("version")?,
        mode: Mode::parse(&get("mode")?)?,
        by: get("by").unwrap_or_default(),
        reason: get("reason").unwrap_or_default(),
        at_ms: num("at_ms").unwrap_or(0),
        ivrs: num("ivrs").unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32,
        note: get("note"),
    })
}

impl Switches {
    /// The last switch, if any.
    pub async fn load(&self, deadline: Instant) -> Result<Option<Switch>, StoreError> {
        Ok(self.item(deadline).await?.as_ref().and_then(from_item))
    }

    /// The item as stored (with its claim), read consistently.
    async fn item(
        &self,
        deadline: Instant,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let req = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(KEY))
            .consistent_read(true)
            .send();
        bounded(deadline, async {
            let out = req.await.map_err(classify_sdk_error)?;
            Ok(out.item().cloned())
        })
        .await
    }

    /// Claim the switch for `owner` until `until`: nobody else switches meanwhile. A
    /// claim past its time (its holder died) is taken over.
    pub async fn claim(
        &self,
        owner: &str,
        now: Millis,
        until: Millis,
        deadline: Instant,
    ) -> Result<Claim, StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(KEY))
            .update_expression("SET claim_owner = :o, claim_until = :u")
            .condition_expression(
                "attribute_not_exists(claim_until) OR claim_until < :now OR claim_owner = :o",
            )
            .expression_attribute_values(":o", s(owner))
            .expression_attribute_values(":u", AttributeValue::N(until.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send();
        let won = bounded(deadline, async {
            match req.await {
                Ok(out) => Ok(Some((
                    out.attributes().and_then(from_item),
                    out.attributes().and_then(intent_of),
                ))),
                Err(e) if e.as_service_error().is_some_and(crate::store::lost_race) => Ok(None),
                Err(e) => Err(classify_sdk_error(e)),
            }
        })
        .await?;
        match won {
            Some((last, intent)) => Ok(Claim::Won(last, intent)),
            None => {
                let holder = self
                    .item(deadline)
                    .await?
                    .and_then(|i| i.get("claim_owner").and_then(|v| v.as_s().ok()).cloned())
                    .unwrap_or_default();
                Ok(Claim::Busy(holder))
            }
        }
    }

    /// Record `sw` and let go of the claim, if `owner` still holds it: false if not (its
    /// claim ran out and another switch took over; that one's record stands).
    pub async fn save(
        &self,
        sw: &Switch,
        owner: &str,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(KEY))
            .item("group_id", s(&sw.group_id))
            .item("group_name", s(&sw.group_name))
            .item("enabled", AttributeValue::Bool(sw.enabled))
            .item("version", AttributeValue::N(sw.version.to_string()))
            .item("mode", s(sw.mode.as_str()))
            .item("by", s(&clipped(&sw.by)))
            .item("reason", s(&clipped(&sw.reason)))
            .item("at_ms", AttributeValue::N(sw.at_ms.to_string()))
            .item("ivrs", AttributeValue::N(sw.ivrs.to_string()))
            .condition_expression("claim_owner = :o")
            .expression_attribute_values(":o", s(owner));
        if let Some(n) = &sw.note {
            req = req.item("note", s(&clipped(n)));
        }
        conditional(deadline, req.send()).await
    }

    /// Note the switch about to be PUT, if `owner` still holds the claim.
    pub async fn intend(
        &self,
        owner: &str,
        intent: &Intent,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(KEY))
            .update_expression(
                "SET intent_group = :g, intent_enabled = :e, intent_from = :v, intent_at = :t",
            )
            .condition_expression("claim_owner = :o")
            .expression_attribute_values(":g", s(&intent.group_id))
            .expression_attribute_values(":e", AttributeValue::Bool(intent.enabled))
            .expression_attribute_values(":v", AttributeValue::N(intent.from_version.to_string()))
            .expression_attribute_values(":t", AttributeValue::N(intent.at_ms.to_string()))
            .expression_attribute_values(":o", s(owner))
            .send();
        conditional(deadline, req).await
    }

    /// Let go of the claim without recording a switch (nothing was changed).
    pub async fn release(&self, owner: &str, deadline: Instant) -> Result<bool, StoreError> {
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(KEY))
            .update_expression("REMOVE claim_owner, claim_until")
            .condition_expression("claim_owner = :o")
            .expression_attribute_values(":o", s(owner))
            .send();
        conditional(deadline, req).await
    }
}
