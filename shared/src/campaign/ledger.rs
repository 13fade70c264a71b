//! The campaign ledger: what the outages did to outbound campaigns, one item per
//! campaign Failsoft turned off (`campaign#<kind>#<id>`), so that recovery undoes exactly
//! that and nothing else. Each change is a [`Write`] of `step.rs`, made here as one
//! conditional request whose condition is the one `Write::apply` states: creating the
//! item is the claim on the pause PUT, claiming its resume the claim on the resume PUT.
//!
//! The items are found through one index item (`campaign#index`, the set of their keys),
//! never by scanning: each function's IAM stays limited to its own keys. An item and its
//! index entry are created and removed together, in one transaction. Every read is
//! strongly consistent: a pause must see the item another breaker's pause just created.
//!
//! The largest item: the campaign's name (Genesys allows 256 characters), one hold per
//! breaker of the registry, a note of at most 200 characters, an owner: under 1 KB.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use tokio::time::Instant;

use super::api::Kind;
pub use super::step::{key, Entry, Mark, Stage, Write, PREFIX};
use crate::store::{bounded, classify_sdk_error, lost_race, Expr, StoreError};

/// The index item: the keys of every ledger item. Bounded by the org's campaigns.
pub const INDEX: &str = "campaign#index";

/// What a write did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// Applied; the item as it is now.
    Now(Entry),
    /// Applied; the item is gone.
    Gone,
    /// Its condition did not hold: somebody else changed the item first.
    Refused,
}

/// The index's attribute per breaker: `over#<breaker>`, the last episode whose recovery
/// began. One per breaker of the registry: the index item stays bounded.
const OVER: &str = "over#";

/// A condition with its names and values.
type Condition = (
    String,
    HashMap<String, String>,
    HashMap<String, AttributeValue>,
);

/// The index says `breaker`'s episode `generation` is not over.
fn not_over(breaker: &str, generation: u64) -> Condition {
    (
        "attribute_not_exists(#over) OR #over < :g".into(),
        HashMap::from([("#over".to_string(), format!("{OVER}{breaker}"))]),
        HashMap::from([(":g".to_string(), n(generation))]),
    )
}

/// The ledger's items in the state table.
#[derive(Clone)]
pub struct Ledger {
    pub client: Client,
    pub table: String,
}

impl crate::service::Services {
    /// The campaign ledger, on the function's table: one constructor, not one per caller.
    pub fn ledger(&self) -> Ledger {
        Ledger {
            client: self.dynamo.clone(),
            table: self.table.clone(),
        }
    }
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
    let mut holds: BTreeMap<String, u64> = item
        .get("holds")
        .and_then(|v| v.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(b, g)| Some((b.clone(), g.as_n().ok()?.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default();
    // Written before episodes held campaigns: breaker names, generation 0.
    if let Some(old) = item.get("holders").and_then(|v| v.as_ss().ok()) {
        for b in old {
            holds.entry(b.clone()).or_insert(0);
        }
    }
    let legacy_acked = item.get("acked").and_then(|v| v.as_bool().ok()).copied() == Some(true);
    Some(Entry {
        kind: Kind::parse(&get("kind")?)?,
        id: get("cid")?,
        name: get("name").unwrap_or_default(),
        holds,
        stage: Stage::parse(&get("state")?)?,
        // An item from before marks: acked, or sent long ago from a version not known.
        mark: get("mark")
            .and_then(|m| Mark::parse(&m))
            .unwrap_or(if legacy_acked {
                Mark::Acked
            } else {
                Mark::Sent { version: -1, at: 0 }
            }),
        version: num("version"),
        paused_ms: num("paused_ms").unwrap_or(0),
        note: get("note"),
        owner: get("owner"),
        claim_until: num("claim_until").unwrap_or(0),
        rev: num("rev").unwrap_or(0) as u64,
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

/// An update of one item: its expression, its condition and their placeholders.
struct Update {
    set: Vec<String>,
    remove: Vec<String>,
    delete: Vec<String>,
    cond: String,
    x: Expr,
}

impl Update {
    fn new() -> Update {
        Update {
            set: Vec::new(),
            remove: Vec::new(),
            delete: Vec::new(),
            cond: "attribute_exists(pk)".into(),
            x: Expr::default(),
        }
    }
    fn set(&mut self, attr: &str, v: AttributeValue) -> &mut Self {
        let (a, v) = (self.x.name(attr), self.x.value(v));
        self.set.push(format!("{a} = {v}"));
        self
    }
    fn remove(&mut self, attr: &str) -> &mut Self {
        let a = self.x.name(attr);
        self.remove.push(a);
        self
    }
    /// `AND` a condition written with `{name}` for attribute names and `{:i}` for the
    /// i-th of `values`.
    fn when(&mut self, cond: &str, values: Vec<AttributeValue>) -> &mut Self {
        let mut c = cond.to_string();
        for attr in ["state", "owner", "claim_until", "holds", "mark"] {
            let pat = format!("{{{attr}}}");
            if c.contains(&pat) {
                let a = self.x.name(attr);
                c = c.replace(&pat, &a);
            }
        }
        for (i, v) in values.into_iter().enumerate() {
            let p = self.x.value(v);
            c = c.replace(&format!("{{:{i}}}"), &p);
        }
        self.cond = format!("{} AND ({c})", self.cond);
        self
    }
    /// The update of `pk` as one item of a transaction.
    fn transactional(
        self,
        table: &str,
        pk: &str,
    ) -> Result<aws_sdk_dynamodb::types::Update, StoreError> {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(table)
            .key("pk", s(pk))
            .update_expression(self.expression())
            .condition_expression(&self.cond)
            .set_expression_attribute_names(Some(self.x.names))
            .set_expression_attribute_values(Some(self.x.values))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn expression(&self) -> String {
        let mut out = Vec::new();
        if !self.set.is_empty() {
            out.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            out.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        if !self.delete.is_empty() {
            out.push(format!("DELETE {}", self.delete.join(", ")));
        }
        out.join(" ")
    }
}

impl Update {
    /// The condition of a guarded write: the item is still at `rev` (an item from
    /// before revisions has none, and is at 0).
    fn at(&mut self, rev: u64) {
        let a = self.x.name("rev");
        if rev == 0 {
            self.cond = format!("{} AND attribute_not_exists({a})", self.cond);
        } else {
            let v = self.x.value(n(rev));
            self.cond = format!("{} AND {a} = {v}", self.cond);
        }
    }

    /// Every change counts one more revision.
    fn bump(&mut self) {
        let a = self.x.name("rev");
        let (z, one) = (self.x.value(n(0)), self.x.value(n(1)));
        self.set
            .push(format!("{a} = if_not_exists({a}, {z}) + {one}"));
    }
}

impl Ledger {
    /// Make `w`, decided on the item `pk` at `rev`, if its condition holds. Over 100
    /// lines on purpose: one DynamoDB request per `Write`, side by side, so that each can
    /// be read against `Write::apply` (the moto test plays every write against both).
    pub async fn write(
        &self,
        pk: &str,
        w: &Write,
        rev: u64,
        deadline: Instant,
    ) -> Result<Written, StoreError> {
        let mut u = Update::new();
        if w.guarded() {
            u.at(rev);
        }
        let stage = |st: Stage| s(st.as_str());
        match w {
            Write::Claim { .. } => return self.claim(pk, w, deadline).await,
            Write::Forget => return self.delete(pk, Some(u), deadline).await,
            Write::Resumed { owner } => {
                let mut u = Update::new();
                u.when(
                    "{state} = {:0} AND {owner} = {:1} AND size({holds}) = {:2} AND attribute_not_exists(holders)",
                    vec![stage(Stage::Resuming), s(owner), n(0)],
                );
                return self.delete(pk, Some(u), deadline).await;
            }
            Write::Join {
                breaker,
                generation,
            } => {
                let hold = format!("{}.{}", u.x.name("holds"), u.x.name(breaker));
                let g = u.x.value(n(generation));
                u.set.push(format!("{hold} = {g}"));
                u.when("{state} <> {:0}", vec![stage(Stage::Left)]);
                u.cond = format!(
                    "{} AND (attribute_not_exists({hold}) OR {hold} < {g})",
                    u.cond
                );
                u.bump();
                return self.join(pk, u, breaker, *generation, deadline).await;
            }
            Write::Sent { version, at } => {
                let m = Mark::Sent {
                    version: *version,
                    at: *at,
                };
                u.set("mark", s(&m.as_str()));
                u.when("{state} = {:0}", vec![stage(Stage::Pausing)]);
            }
            Write::Unsent | Write::Acked => {
                let m = if *w == Write::Acked {
                    Mark::Acked
                } else {
                    Mark::Unsent
                };
                u.set("mark", s(&m.as_str()));
                u.when("{state} = {:0}", vec![stage(Stage::Pausing)]);
            }
            Write::Paused { version } => {
                u.set("state", stage(Stage::Paused))
                    .set("version", n(version));
                u.when("{state} = {:0}", vec![stage(Stage::Pausing)]);
            }
            Write::Release {
                breaker,
                generation,
            } => {
                let hold = format!("{}.{}", u.x.name("holds"), u.x.name(breaker));
                let g = u.x.value(n(generation));
                u.remove.push(hold.clone());
                // An item written before episodes held campaigns names its breakers here.
                let old = u.x.name("holders");
                let b = u.x.value(AttributeValue::Ss(vec![breaker.clone()]));
                u.delete.push(format!("{old} {b}"));
                let name = u.x.value(s(breaker));
                u.cond = format!("{} AND ({hold} <= {g} OR contains({old}, {name}))", u.cond);
            }
            Write::ClaimResume { owner, now, until } => {
                u.set("state", stage(Stage::Resuming))
                    .set("owner", s(owner))
                    .set("claim_until", n(until));
                u.when(
                    "size({holds}) = {:0} AND attribute_not_exists(holders) AND ({state} = {:1} OR ({state} = {:2} AND ({owner} = {:3} OR {claim_until} < {:4})))",
                    vec![n(0), stage(Stage::Paused), stage(Stage::Resuming), s(owner), n(now)],
                );
            }
            Write::HandBack { owner } | Write::Unclaim { owner } => {
                if matches!(w, Write::HandBack { .. }) {
                    u.set("state", stage(Stage::Pausing))
                        .set("mark", s(&Mark::Resumed.as_str()));
                } else {
                    u.set("state", stage(Stage::Paused));
                }
                u.remove("owner").remove("claim_until");
                u.when(
                    "{state} = {:0} AND {owner} = {:1}",
                    vec![stage(Stage::Resuming), s(owner)],
                );
            }
            Write::TakeOver { now } => {
                u.set("state", stage(Stage::Pausing))
                    .set("mark", s(&Mark::Resumed.as_str()));
                u.remove("owner").remove("claim_until");
                u.when(
                    "{state} = {:0} AND {claim_until} < {:1} AND size({holds}) > {:2}",
                    vec![stage(Stage::Resuming), n(now), n(0)],
                );
            }
            Write::Leave { note, now } => {
                let note: String = note.chars().take(super::step::MAX_NOTE).collect();
                let ttl = (now + super::step::LEFT_KEPT_MS) / 1000;
                u.set("state", stage(Stage::Left))
                    .set("note", s(&note))
                    .set("expires_at", n(ttl))
                    .set("holds", AttributeValue::M(HashMap::new()));
                u.remove("owner").remove("claim_until").remove("holders");
            }
        }
        u.bump();
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression(u.expression())
            .condition_expression(&u.cond)
            .set_expression_attribute_names(Some(u.x.names))
            .set_expression_attribute_values(Some(u.x.values))
            .return_values(ReturnValue::AllNew)
            .send();
        bounded(deadline, async {
            match req.await {
                Ok(out) => out
                    .attributes()
                    .and_then(from_item)
                    .map(Written::Now)
                    .ok_or_else(|| StoreError::Corrupt(format!("ledger item {pk}"))),
                Err(e) if e.as_service_error().is_some_and(lost_race) => Ok(Written::Refused),
                Err(e) => Err(classify_sdk_error(e)),
            }
        })
        .await
    }

    /// `Write::Join`: the item's update, if the episode is not over (the index says).
    /// A transaction returns no item: it is read back.
    async fn join(
        &self,
        pk: &str,
        u: Update,
        breaker: &str,
        generation: u64,
        deadline: Instant,
    ) -> Result<Written, StoreError> {
        let update = u.transactional(&self.table, pk)?;
        let (cond, names, values) = not_over(breaker, generation);
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(INDEX))
            .condition_expression(cond)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let req = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(update).build())
            .transact_items(TransactWriteItem::builder().condition_check(check).build())
            .send();
        let applied = bounded(deadline, async {
            match req.await {
                Ok(_) => Ok(true),
                Err(e) if cancelled_by_condition(&e) => Ok(false),
                Err(e) => Err(classify_sdk_error(e)),
            }
        })
        .await?;
        if !applied {
            return Ok(Written::Refused);
        }
        Ok(match self.get(pk, deadline).await? {
            Some(e) => Written::Now(e),
            None => Written::Gone,
        })
    }

    /// `breaker`'s episodes up to `generation` are over: their recovery began. A pause
    /// of one of them that runs late claims and joins nothing from now on.
    pub async fn end(
        &self,
        breaker: &str,
        generation: u64,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let (cond, names, values) = not_over(breaker, generation);
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(INDEX))
            .update_expression("SET #over = :g")
            .condition_expression(cond)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send();
        crate::store::conditional(deadline, req).await.map(|_| ())
    }

    /// The episodes through which each breaker's recovery began (`end`).
    pub async fn over(&self, deadline: Instant) -> Result<BTreeMap<String, u64>, StoreError> {
        let req = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(INDEX))
            .consistent_read(true)
            .send();
        let got = bounded(deadline, async { req.await.map_err(classify_sdk_error) }).await?;
        Ok(got
            .item()
            .map(|i| {
                i.iter()
                    .filter_map(|(k, v)| {
                        Some((
                            k.strip_prefix(OVER)?.to_string(),
                            v.as_n().ok()?.parse().ok()?,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `Write::Claim`: the whole item, with its index entry.
    async fn claim(&self, pk: &str, w: &Write, deadline: Instant) -> Result<Written, StoreError> {
        let Some(Some(e)) = w.apply(None, 0, &BTreeMap::new()) else {
            return Err(StoreError::Corrupt("a claim that creates nothing".into()));
        };
        let Write::Claim {
            breaker,
            generation,
            ..
        } = w
        else {
            return Err(StoreError::Corrupt("not a claim".into()));
        };
        let holds = e
            .holds
            .iter()
            .map(|(b, g)| (b.clone(), n(g)))
            .collect::<HashMap<_, _>>();
        // An update, not a put: a campaign left by a person and claimed again keeps
        // counting revisions, so that a write decided on the old item never applies
        // to the new one.
        let mut u = Update::new();
        u.cond = "attribute_not_exists(pk)".into();
        u.set("kind", s(e.kind.as_str()))
            .set("cid", s(&e.id))
            .set("name", s(&e.name))
            .set("holds", AttributeValue::M(holds))
            .set("state", s(e.stage.as_str()))
            .set("mark", s(&e.mark.as_str()))
            .set("paused_ms", n(e.paused_ms));
        for gone in [
            "version",
            "note",
            "expires_at",
            "owner",
            "claim_until",
            "holders",
            "acked",
        ] {
            u.remove(gone);
        }
        let left = u.x.value(s(Stage::Left.as_str()));
        let state = u.x.name("state");
        u.cond = format!("attribute_not_exists(pk) OR {state} = {left}");
        u.bump();
        let update = u.transactional(&self.table, pk)?;
        let item = TransactWriteItem::builder().update(update).build();
        let not_over = not_over(breaker, *generation);
        if !self
            .indexed(item, "ADD", pk, Some(not_over), deadline)
            .await?
        {
            return Ok(Written::Refused);
        }
        // A transaction returns no item: read back (its revision counts on).
        Ok(match self.get(pk, deadline).await? {
            Some(e) => Written::Now(e),
            None => Written::Gone,
        })
    }

    /// Delete `pk` (if `cond` holds) with its index entry.
    async fn delete(
        &self,
        pk: &str,
        cond: Option<Update>,
        deadline: Instant,
    ) -> Result<Written, StoreError> {
        use aws_sdk_dynamodb::types::Delete;
        let mut d = Delete::builder().table_name(&self.table).key("pk", s(pk));
        if let Some(u) = cond {
            d = d
                .condition_expression(u.cond)
                .set_expression_attribute_names(Some(u.x.names))
                .set_expression_attribute_values(Some(u.x.values));
        }
        let d = d.build().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let item = TransactWriteItem::builder().delete(d).build();
        Ok(match self.with_index(item, "DELETE", pk, deadline).await? {
            true => Written::Gone,
            false => Written::Refused,
        })
    }

    /// Write `item` and its index change (`ADD` or `DELETE` of `pk`) in one transaction:
    /// true if it applied, false if a condition did not hold.
    async fn with_index(
        &self,
        item: TransactWriteItem,
        verb: &str,
        pk: &str,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        self.indexed(item, verb, pk, None, deadline).await
    }

    /// `with_index`, the index change made only if `cond` holds of the index.
    async fn indexed(
        &self,
        item: TransactWriteItem,
        verb: &str,
        pk: &str,
        cond: Option<Condition>,
        deadline: Instant,
    ) -> Result<bool, StoreError> {
        let mut update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", s(INDEX))
            .update_expression(format!("{verb} #k :k"))
            .expression_attribute_names("#k", "keys")
            .expression_attribute_values(":k", AttributeValue::Ss(vec![pk.to_string()]));
        if let Some((c, names, values)) = cond {
            update = update.condition_expression(c);
            for (k, v) in names {
                update = update.expression_attribute_names(k, v);
            }
            for (k, v) in values {
                update = update.expression_attribute_values(k, v);
            }
        }
        let update = update
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let index = TransactWriteItem::builder().update(update).build();
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

    /// One item, read consistently; None if it is not there.
    pub async fn get(&self, pk: &str, deadline: Instant) -> Result<Option<Entry>, StoreError> {
        let req = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .consistent_read(true)
            .send();
        let got = bounded(deadline, async { req.await.map_err(classify_sdk_error) }).await?;
        Ok(got.item().and_then(from_item))
    }

    /// Every ledger item, through the index, each read by key. The index is read
    /// consistently too: a campaign another breaker's pause just claimed is in it.
    pub async fn list(&self, deadline: Instant) -> Result<Vec<Entry>, StoreError> {
        let req = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(INDEX))
            .consistent_read(true)
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
            match self.get(&k, deadline).await? {
                Some(e) => out.push(self.upgraded(&k, e, deadline).await?),
                // Expired (a campaign left off, after a week): its index entry goes too.
                None => self.prune(&k, deadline).await?,
            }
        }
        out.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
        Ok(out)
    }

    /// An item written before episodes held campaigns gets its `holds` map, so that
    /// holds can be added to it (its old `holders` are let go of by `Release`).
    async fn upgraded(&self, pk: &str, e: Entry, deadline: Instant) -> Result<Entry, StoreError> {
        if e.stage == Stage::Left || !e.holds.values().any(|g| *g == 0) {
            return Ok(e);
        }
        let req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .update_expression("SET holds = if_not_exists(holds, :m)")
            .expression_attribute_values(":m", AttributeValue::M(HashMap::new()))
            .condition_expression("attribute_exists(pk)")
            .send();
        crate::store::conditional(deadline, req).await?;
        Ok(e)
    }

    /// Remove `pk` from the index if its item is gone, in one transaction, so that an
    /// item created meanwhile keeps its entry.
    async fn prune(&self, pk: &str, deadline: Instant) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::types::ConditionCheck;
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
}
