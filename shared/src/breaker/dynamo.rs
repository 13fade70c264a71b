//! The DynamoDB breaker store. This module alone knows the item layout (see README,
//! "State table"). Every write is one conditional UpdateItem; a lost condition returns
//! the winning item (`ReturnValuesOnConditionCheckFailure=ALL_OLD`) instead of reading.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;

use super::op::{Expect, Op, Tally};
use super::record::{Action, Counts, Lease, OutboxEntry, Record, State};
use super::store::{Applied, BreakerStore};
use crate::store::{classify_sdk_error, Expr, StoreError};

pub const PREFIX: &str = "breaker#";

mod attr {
    pub const PK: &str = "pk";
    pub const STATE: &str = "state";
    pub const GEN: &str = "gen";
    pub const SINCE: &str = "since";
    pub const FAILURES: &str = "failures";
    pub const SUCCESSES: &str = "successes";
    pub const OPEN_UNTIL: &str = "open_until";
    pub const REOPENS: &str = "reopens";
    pub const EPISODE: &str = "episode";
    pub const LAST_ERROR: &str = "last_error";
    /// `trial_<slot>`: a half-open trial lease, map {owner, exp, gen}.
    pub const TRIAL: &str = "trial_";
    /// Before the trial/health-check renaming: still read, never written.
    pub const LEGACY_TRIAL: &str = "probe_";
    /// `wc_<gen>_<bucket>` calls and `wf_<gen>_<bucket>` failures in a window bucket.
    pub const WIN_CALLS: &str = "wc_";
    pub const WIN_FAILS: &str = "wf_";
    pub const REMINDED: &str = "reminded";
    pub const FORCED_UNTIL: &str = "forced_until";
    pub const LAST_CHECK: &str = "last_check";
    /// When a configuration fault was last paged (absent: none open).
    pub const CONFIG_FAULT: &str = "config_fault";
    /// `paged_<id>`: when the page of that id was last written (`Op::Page`).
    pub const PAGED: &str = "paged_";
    pub const WRITER: &str = "writer";
    pub const LAST_CHECK_OK: &str = "last_check_ok";
    /// Before the renaming; read when `last_check` is absent, removed by the next check.
    pub const LEGACY_LAST_CHECK: &str = "last_probe";
    pub const LEGACY_LAST_CHECK_OK: &str = "last_probe_ok";
    /// `alert_<id>`: an outbox entry, map {action, dedup, summary, failures, last_error,
    /// created, attempts, next, claim_owner, claim_until}.
    pub const ALERT: &str = "alert_";
    pub const L_OWNER: &str = "owner";
    pub const L_EXP: &str = "exp";
    pub const L_GEN: &str = "gen";
}

#[derive(Clone, Debug)]
pub struct DynamoBreakerStore {
    client: Client,
    table: String,
}

impl DynamoBreakerStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoBreakerStore {
            client,
            table: table.into(),
        }
    }
}

pub fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn win_attr(prefix: &str, generation: u64, bucket: i64) -> String {
    format!("{prefix}{generation}_{bucket}")
}

fn lease_value(l: &Lease) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        (attr::L_OWNER.to_string(), s(l.owner.clone())),
        (attr::L_EXP.to_string(), n(l.expires_ms)),
        (attr::L_GEN.to_string(), n(l.generation)),
    ]))
}

fn alert_value(a: &OutboxEntry) -> AttributeValue {
    let mut m = HashMap::from([
        ("action".to_string(), s(a.action.as_str())),
        ("dedup".to_string(), s(a.dedup_key.clone())),
        ("summary".to_string(), s(a.summary.clone())),
        ("failures".to_string(), n(a.failures)),
        ("created".to_string(), n(a.created_ms)),
        ("attempts".to_string(), n(a.attempts)),
        ("next".to_string(), n(a.next_ms)),
    ]);
    if let Some(e) = &a.last_error {
        m.insert("last_error".to_string(), s(e.clone()));
    }
    if let Some((o, u)) = &a.claim {
        m.insert("claim_owner".to_string(), s(o.clone()));
        m.insert("claim_until".to_string(), n(*u));
    }
    AttributeValue::M(m)
}

fn alert_from(id: &str, m: &HashMap<String, AttributeValue>) -> Result<OutboxEntry, StoreError> {
    let action = get_s(m, "action")
        .and_then(|a| Action::parse(&a))
        .ok_or_else(|| StoreError::Corrupt(format!("alert {id} has no valid action")))?;
    Ok(OutboxEntry {
        id: id.to_string(),
        action,
        dedup_key: get_s(m, "dedup").unwrap_or_default(),
        summary: get_s(m, "summary").unwrap_or_default(),
        failures: get_n(m, "failures")?.unwrap_or(0),
        last_error: get_s(m, "last_error"),
        created_ms: get_n(m, "created")?.unwrap_or(0),
        attempts: get_n(m, "attempts")?.unwrap_or(0),
        next_ms: get_n(m, "next")?.unwrap_or(0),
        claim: get_s(m, "claim_owner")
            .map(|o| (o, get_n(m, "claim_until").ok().flatten().unwrap_or(0))),
    })
}

fn get_n<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    k: &str,
) -> Result<Option<T>, StoreError> {
    match item.get(k) {
        None => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("{k} is not a valid number"))),
        Some(_) => Err(StoreError::Corrupt(format!("{k} is not a number"))),
    }
}

fn get_s(item: &HashMap<String, AttributeValue>, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

/// The item a record is stored as: the layout `plan` writes, attribute by attribute.
/// Used to state and test the largest item the design allows.
pub fn to_item(r: &Record) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (attr::PK.to_string(), s(key(&r.name))),
        (attr::STATE.to_string(), s(r.state.as_str())),
        (attr::GEN.to_string(), n(r.generation)),
        (attr::SINCE.to_string(), n(r.since_ms)),
        (attr::FAILURES.to_string(), n(r.failures)),
        (attr::SUCCESSES.to_string(), n(r.successes)),
        (attr::OPEN_UNTIL.to_string(), n(r.open_until_ms)),
        (attr::REOPENS.to_string(), n(r.reopens)),
        (attr::REMINDED.to_string(), n(r.reminded_ms)),
    ]);
    for (k, v) in [
        (attr::EPISODE, &r.episode),
        (attr::LAST_ERROR, &r.last_error),
        (attr::WRITER, &r.writer),
    ] {
        if let Some(v) = v {
            item.insert(k.to_string(), s(v.clone()));
        }
    }
    if let Some(u) = r.forced_until {
        item.insert(attr::FORCED_UNTIL.to_string(), n(u));
    }
    if let Some(at) = r.config_fault {
        item.insert(attr::CONFIG_FAULT.to_string(), n(at));
    }
    for (id, at) in &r.paged {
        item.insert(format!("{}{id}", attr::PAGED), n(*at));
    }
    if let Some((at, ok)) = r.last_check {
        item.insert(attr::LAST_CHECK.to_string(), n(at));
        item.insert(attr::LAST_CHECK_OK.to_string(), AttributeValue::Bool(ok));
    }
    for (slot, lease) in &r.trials {
        item.insert(format!("{}{slot}", attr::TRIAL), lease_value(lease));
    }
    for (b, c) in &r.window {
        item.insert(win_attr(attr::WIN_CALLS, r.generation, *b), n(c.calls));
        if c.failures > 0 {
            item.insert(win_attr(attr::WIN_FAILS, r.generation, *b), n(c.failures));
        }
    }
    for a in r.outbox.values() {
        item.insert(format!("{}{}", attr::ALERT, a.id), alert_value(a));
    }
    item
}

/// An item's size as DynamoDB counts it, rounded up: attribute names plus values
/// (strings by UTF-8 length, numbers by at most 21 bytes, maps with 3 bytes of overhead
/// plus 1 per element).
pub fn item_size(item: &HashMap<String, AttributeValue>) -> usize {
    fn value(v: &AttributeValue) -> usize {
        match v {
            AttributeValue::S(s) => s.len(),
            AttributeValue::N(n) => n.len().div_ceil(2) + 1,
            AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
            AttributeValue::M(m) => {
                3 + m.iter().map(|(k, v)| k.len() + value(v) + 1).sum::<usize>()
            }
            AttributeValue::L(l) => 3 + l.iter().map(|v| value(v) + 1).sum::<usize>(),
            _ => 400 * 1024,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

/// Parse a breaker item. Trial leases and window buckets of other generations are
/// leftovers that no condition ever counts, so they are dropped here.
pub fn from_item(name: &str, item: &HashMap<String, AttributeValue>) -> Result<Record, StoreError> {
    let mut r = Record::new(name);
    if let Some(st) = get_s(item, attr::STATE) {
        r.state = State::parse(&st)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown state {st:?}")))?;
    }
    r.generation = get_n(item, attr::GEN)?.unwrap_or(0);
    r.since_ms = get_n(item, attr::SINCE)?.unwrap_or(0);
    r.failures = get_n(item, attr::FAILURES)?.unwrap_or(0);
    r.successes = get_n(item, attr::SUCCESSES)?.unwrap_or(0);
    r.open_until_ms = get_n(item, attr::OPEN_UNTIL)?.unwrap_or(0);
    r.reopens = get_n(item, attr::REOPENS)?.unwrap_or(0);
    r.episode = get_s(item, attr::EPISODE);
    r.last_error = get_s(item, attr::LAST_ERROR);
    r.writer = get_s(item, attr::WRITER);
    r.reminded_ms = get_n(item, attr::REMINDED)?.unwrap_or(0);
    r.forced_until = get_n(item, attr::FORCED_UNTIL)?;
    r.config_fault = get_n(item, attr::CONFIG_FAULT)?;
    let check = |at: &str, ok: &str| match (get_n(item, at), item.get(ok)) {
        (Ok(Some(at)), Some(AttributeValue::Bool(ok))) => Some((at, *ok)),
        _ => None,
    };
    r.last_check = check(attr::LAST_CHECK, attr::LAST_CHECK_OK)
        .or_else(|| check(attr::LEGACY_LAST_CHECK, attr::LEGACY_LAST_CHECK_OK));
    let mut window: BTreeMap<i64, Counts> = BTreeMap::new();
    for (k, v) in item {
        if let (Some(id), Ok(m)) = (k.strip_prefix(attr::ALERT), v.as_m()) {
            r.outbox.insert(id.to_string(), alert_from(id, m)?);
        }
        if let (Some(id), Ok(at)) = (k.strip_prefix(attr::PAGED), v.as_n()) {
            if let Ok(at) = at.parse() {
                r.paged.insert(id.to_string(), at);
            }
        }
        let slot = k
            .strip_prefix(attr::TRIAL)
            .or_else(|| k.strip_prefix(attr::LEGACY_TRIAL));
        if let Some(slot) = slot {
            let (Ok(slot), Ok(m)) = (slot.parse::<u32>(), v.as_m()) else {
                continue;
            };
            let lease = Lease {
                owner: get_s(m, attr::L_OWNER).unwrap_or_default(),
                expires_ms: get_n(m, attr::L_EXP)?.unwrap_or(0),
                generation: get_n(m, attr::L_GEN)?.unwrap_or(u64::MAX),
            };
            // A current-name lease wins over a legacy one in the same slot.
            if lease.generation == r.generation
                && (k.starts_with(attr::TRIAL) || !r.trials.contains_key(&slot))
            {
                r.trials.insert(slot, lease);
            }
        }
        for (prefix, is_fail) in [(attr::WIN_CALLS, false), (attr::WIN_FAILS, true)] {
            let Some((g, b)) = k.strip_prefix(prefix).and_then(|rest| rest.split_once('_')) else {
                continue;
            };
            let (Ok(g), Ok(b)) = (g.parse::<u64>(), b.parse::<i64>()) else {
                continue;
            };
            if g != r.generation {
                continue;
            }
            let count: u32 = get_n(item, k)?.unwrap_or(0);
            let c = window.entry(b).or_default();
            if is_fail {
                c.failures = count;
            } else {
                c.calls = count;
            }
        }
    }
    r.window = window;
    Ok(r)
}

/// The condition that `expect` still holds. An attribute never written reads as
/// `Record::new`'s value, so a condition that value meets also holds while the attribute
/// is missing: a never-written item, or one that only a health check note has touched,
/// is CLOSED in generation 0 with no counts.
fn expect_condition(e: &mut Expr, name: &str, expect: &Expect) -> String {
    let fresh = Record::new(name);
    let mut parts = Vec::new();
    let mut part = |e: &mut Expr, a: &str, cond: String, default_holds: bool| {
        parts.push(if default_holds {
            format!("(attribute_not_exists({}) OR {cond})", e.name(a))
        } else {
            cond
        });
    };
    let cond = format!("{} = {}", e.name(attr::GEN), e.value(n(expect.generation)));
    part(e, attr::GEN, cond, fresh.generation == expect.generation);
    let cond = format!(
        "{} = {}",
        e.name(attr::STATE),
        e.value(s(expect.state.as_str()))
    );
    part(e, attr::STATE, cond, fresh.state == expect.state);
    if let Some(m) = expect.min_failures {
        let cond = format!("{} >= {}", e.name(attr::FAILURES), e.value(n(m)));
        part(e, attr::FAILURES, cond, fresh.failures >= m);
    }
    if let Some(m) = expect.min_successes {
        let cond = format!("{} >= {}", e.name(attr::SUCCESSES), e.value(n(m)));
        part(e, attr::SUCCESSES, cond, fresh.successes >= m);
    }
    if let Some((slot, owner, now)) = &expect.lease {
        parts.push(lease_held(e, *slot, owner, *now, expect.generation));
    }
    let (ids, at) = &expect.unclaimed;
    for id in ids {
        let p = e.name(&format!("{}{id}", attr::ALERT));
        let cu = e.name("claim_until");
        parts.push(format!(
            "attribute_exists({p}) AND (attribute_not_exists({p}.{cu}) OR {p}.{cu} < {})",
            e.value(n(*at))
        ));
    }
    parts.join(" AND ")
}

fn lease_held(e: &mut Expr, slot: u32, owner: &str, now: i64, generation: u64) -> String {
    let p = e.name(&format!("{}{slot}", attr::TRIAL));
    format!(
        "{p}.{} = {} AND {p}.{} = {} AND {p}.{} >= {}",
        e.name(attr::L_OWNER),
        e.value(s(owner)),
        e.name(attr::L_GEN),
        e.value(n(generation)),
        e.name(attr::L_EXP),
        e.value(n(now)),
    )
}

/// CLOSED in `generation` (a never-written item is CLOSED in generation 0).
fn closed_condition(e: &mut Expr, name: &str, generation: u64) -> String {
    let expect = Expect {
        generation,
        state: State::Closed,
        min_failures: None,
        min_successes: None,
        lease: None,
        unclaimed: (Vec::new(), 0),
    };
    expect_condition(e, name, &expect)
}

/// Make a counter write on a never-written item leave a well-formed record.
fn init_fields(e: &mut Expr, sets: &mut Vec<String>) {
    for (a, v) in [
        (attr::STATE, s(State::Closed.as_str())),
        (attr::GEN, n(0)),
        (attr::SINCE, n(0)),
    ] {
        let nm = e.name(a);
        sets.push(format!("{nm} = if_not_exists({nm}, {})", e.value(v)));
    }
}

fn update_expression(sets: &[String], adds: &[String], removes: &[String]) -> String {
    let mut out = Vec::new();
    if !sets.is_empty() {
        out.push(format!("SET {}", sets.join(", ")));
    }
    if !adds.is_empty() {
        out.push(format!("ADD {}", adds.join(", ")));
    }
    if !removes.is_empty() {
        out.push(format!("REMOVE {}", removes.join(", ")));
    }
    out.join(" ")
}

/// Build (update expression, condition) for an op: each op's own clauses are planned by
/// its own method of [`Plan`], so this is the dispatch alone.
fn plan(e: &mut Expr, name: &str, op: &Op) -> (String, String) {
    let mut p = Plan {
        e,
        sets: Vec::new(),
        adds: Vec::new(),
        removes: Vec::new(),
    };
    let cond = match op {
        Op::Transition {
            expect,
            next,
            alerts,
            tally,
            drop_alerts,
            clear_window,
            clear_trials,
        } => {
            let cond = expect_condition(p.e, name, expect);
            p.clear(clear_trials, drop_alerts, expect.generation, clear_window);
            p.record(next, alerts, tally);
            cond
        }
        Op::CountFailure {
            generation,
            error,
            bucket,
            calls,
            prune,
        } => p.count_failure(name, *generation, error, *bucket, *calls, prune),
        Op::CountCalls {
            generation,
            bucket,
            calls,
            prune,
        } => p.count_calls(name, *generation, *bucket, *calls, prune),
        Op::ResetFailures { generation } => p.reset_failures(name, *generation),
        Op::AcquireTrial {
            generation,
            slot,
            lease,
            now,
        } => p.acquire_trial(*generation, *slot, lease, *now),
        Op::FlagConfigFault {
            alert,
            now,
            every_ms,
        } => p.paged_at(attr::CONFIG_FAULT.to_string(), alert, *now, *every_ms),
        Op::Page {
            alert,
            now,
            every_ms,
        } => p.paged_at(
            format!("{}{}", attr::PAGED, alert.id),
            alert,
            *now,
            *every_ms,
        ),
        Op::ClearConfigFault { alert } => p.clear_config_fault(alert),
        Op::NoteHealthCheck { at, healthy } => p.note_health_check(*at, *healthy),
        Op::Remind {
            episode,
            alert,
            now,
            every_ms,
        } => p.remind(episode, alert, *now, *every_ms),
        Op::ClaimEntry {
            id,
            owner,
            now,
            until,
        } => p.claim_entry(id, owner, *now, *until),
        Op::DropEntry { id, owner } => p.drop_entry(id, owner),
        Op::DeferEntry {
            id,
            owner,
            attempts,
            next_ms,
        } => p.defer_entry(id, owner, *attempts, *next_ms),
        Op::ReleaseTrial {
            generation,
            slot,
            owner,
        } => p.release_trial(*generation, *slot, owner),
        Op::TrialSuccess {
            generation,
            slot,
            owner,
            now,
        } => p.trial_success(*generation, *slot, owner, *now),
    };
    (update_expression(&p.sets, &p.adds, &p.removes), cond)
}

/// One update being planned: the expression's names and values, and its SET, ADD and
/// REMOVE clauses. Each method plans one op and returns its condition.
struct Plan<'a> {
    e: &'a mut Expr,
    sets: Vec<String>,
    adds: Vec<String>,
    removes: Vec<String>,
}

impl Plan<'_> {
    fn set(&mut self, attr: &str, v: AttributeValue) {
        let clause = format!("{} = {}", self.e.name(attr), self.e.value(v));
        self.sets.push(clause);
    }

    /// A transition's clean-up: trial slots, the outbox entries it drops, and the old
    /// generation's window buckets.
    fn clear(&mut self, trials: &[u32], entries: &[String], generation: u64, window: &[i64]) {
        for slot in trials {
            self.removes
                .push(self.e.name(&format!("{}{slot}", attr::TRIAL)));
            self.removes
                .push(self.e.name(&format!("{}{slot}", attr::LEGACY_TRIAL)));
        }
        for id in entries {
            self.removes
                .push(self.e.name(&format!("{}{id}", attr::ALERT)));
        }
        prune_buckets(self.e, &mut self.removes, generation, window);
    }

    /// A transition's new record: its state and numbers, the entries it adds, the
    /// failure count as `tally` says, the optional fields, and its trial leases.
    fn record(&mut self, next: &Record, alerts: &[OutboxEntry], tally: &Tally) {
        self.set(attr::REMINDED, n(next.reminded_ms));
        for a in alerts {
            let p = self.e.name(&format!("{}{}", attr::ALERT, a.id));
            let clause = format!("{p} = {}", self.e.value(alert_value(a)));
            self.sets.push(clause);
        }
        for (a, v) in [
            (attr::STATE, s(next.state.as_str())),
            (attr::GEN, n(next.generation)),
            (attr::SINCE, n(next.since_ms)),
            (attr::SUCCESSES, n(next.successes)),
            (attr::OPEN_UNTIL, n(next.open_until_ms)),
            (attr::REOPENS, n(next.reopens)),
        ] {
            self.set(a, v);
        }
        match next.forced_until {
            Some(u) => self.set(attr::FORCED_UNTIL, n(u)),
            None => self.removes.push(self.e.name(attr::FORCED_UNTIL)),
        }
        // Keep leaves the attribute alone: an unused name is a ValidationException.
        match tally {
            Tally::Set => self.set(attr::FAILURES, n(next.failures)),
            Tally::Keep => {}
            Tally::AddOne => {
                let f = self.e.name(attr::FAILURES);
                let (zero, one) = (self.e.value(n(0)), self.e.value(n(1)));
                self.sets
                    .push(format!("{f} = if_not_exists({f}, {zero}) + {one}"));
            }
        }
        for (a, v) in [
            (attr::EPISODE, &next.episode),
            (attr::LAST_ERROR, &next.last_error),
            (attr::WRITER, &next.writer),
        ] {
            match v {
                Some(v) => self.set(a, s(v.clone())),
                None => self.removes.push(self.e.name(a)),
            }
        }
        for (slot, lease) in &next.trials {
            let p = self.e.name(&format!("{}{slot}", attr::TRIAL));
            let clause = format!("{p} = {}", self.e.value(lease_value(lease)));
            self.sets.push(clause);
        }
    }

    fn count_failure(
        &mut self,
        name: &str,
        generation: u64,
        error: &str,
        bucket: Option<i64>,
        calls: u32,
        prune: &[i64],
    ) -> String {
        let cond = closed_condition(self.e, name, generation);
        init_fields(self.e, &mut self.sets);
        self.set(attr::LAST_ERROR, s(error));
        let one = self.e.value(n(1));
        self.adds
            .push(format!("{} {one}", self.e.name(attr::FAILURES)));
        if let Some(b) = bucket {
            let (c, f) = (
                self.e.name(&win_attr(attr::WIN_CALLS, generation, b)),
                self.e.name(&win_attr(attr::WIN_FAILS, generation, b)),
            );
            let (calls, one) = (self.e.value(n(calls)), self.e.value(n(1)));
            self.adds.push(format!("{c} {calls}"));
            self.adds.push(format!("{f} {one}"));
        }
        prune_buckets(self.e, &mut self.removes, generation, prune);
        cond
    }

    fn count_calls(
        &mut self,
        name: &str,
        generation: u64,
        bucket: i64,
        calls: u32,
        prune: &[i64],
    ) -> String {
        let cond = closed_condition(self.e, name, generation);
        init_fields(self.e, &mut self.sets);
        let c = self.e.name(&win_attr(attr::WIN_CALLS, generation, bucket));
        let calls = self.e.value(n(calls));
        self.adds.push(format!("{c} {calls}"));
        prune_buckets(self.e, &mut self.removes, generation, prune);
        cond
    }

    fn reset_failures(&mut self, name: &str, generation: u64) -> String {
        let cond = closed_condition(self.e, name, generation);
        let f = self.e.name(attr::FAILURES);
        let zero = self.e.value(n(0));
        self.sets.push(format!("{f} = {zero}"));
        format!("{cond} AND {f} > {}", self.e.value(n(0)))
    }

    fn acquire_trial(&mut self, generation: u64, slot: u32, lease: &Lease, now: i64) -> String {
        let p = self.e.name(&format!("{}{slot}", attr::TRIAL));
        let clause = format!("{p} = {}", self.e.value(lease_value(lease)));
        self.sets.push(clause);
        let e = &mut *self.e;
        format!(
            "{} = {} AND {} = {} AND (attribute_not_exists({p}) OR {p}.{} < {} OR {p}.{} <> {})",
            e.name(attr::STATE),
            e.value(s(State::HalfOpen.as_str())),
            e.name(attr::GEN),
            e.value(n(generation)),
            e.name(attr::L_EXP),
            e.value(n(now)),
            e.name(attr::L_GEN),
            e.value(n(generation)),
        )
    }

    /// A page written at most once per `every_ms`, its time noted in `at_attr` (a
    /// configuration fault's, or one slot's `paged_<id>`).
    fn paged_at(
        &mut self,
        at_attr: String,
        alert: &OutboxEntry,
        now: i64,
        every_ms: i64,
    ) -> String {
        init_fields(self.e, &mut self.sets);
        let at = self.e.name(&at_attr);
        let p = self.e.name(&format!("{}{}", attr::ALERT, alert.id));
        let clauses = [
            format!("{at} = {}", self.e.value(n(now))),
            format!("{p} = {}", self.e.value(alert_value(alert))),
        ];
        self.sets.extend(clauses);
        format!(
            "attribute_not_exists({at}) OR {at} <= {}",
            self.e.value(n(now - every_ms))
        )
    }

    fn clear_config_fault(&mut self, alert: &OutboxEntry) -> String {
        let cf = self.e.name(attr::CONFIG_FAULT);
        let p = self.e.name(&format!("{}{}", attr::ALERT, alert.id));
        let clause = format!("{p} = {}", self.e.value(alert_value(alert)));
        self.sets.push(clause);
        self.removes.push(cf.clone());
        format!("attribute_exists({cf})")
    }

    fn note_health_check(&mut self, at: i64, healthy: bool) -> String {
        init_fields(self.e, &mut self.sets);
        let lp = self.e.name(attr::LAST_CHECK);
        let clause = format!("{lp} = {}", self.e.value(n(at)));
        self.sets.push(clause);
        self.set(attr::LAST_CHECK_OK, AttributeValue::Bool(healthy));
        // Migrate: the legacy attributes go with the first check written by this code.
        self.removes.push(self.e.name(attr::LEGACY_LAST_CHECK));
        self.removes.push(self.e.name(attr::LEGACY_LAST_CHECK_OK));
        format!(
            "attribute_not_exists({lp}) OR {lp} <= {}",
            self.e.value(n(at))
        )
    }

    fn remind(&mut self, episode: &str, alert: &OutboxEntry, now: i64, every_ms: i64) -> String {
        let p = self.e.name(&format!("{}{}", attr::ALERT, alert.id));
        let r = self.e.name(attr::REMINDED);
        let clauses = [
            format!("{p} = {}", self.e.value(alert_value(alert))),
            format!("{r} = {}", self.e.value(n(now))),
        ];
        self.sets.extend(clauses);
        format!(
            "{} = {} AND (attribute_not_exists({r}) OR {r} <= {})",
            self.e.name(attr::EPISODE),
            self.e.value(s(episode)),
            self.e.value(n(now - every_ms))
        )
    }

    fn claim_entry(&mut self, id: &str, owner: &str, now: i64, until: i64) -> String {
        let p = self.e.name(&format!("{}{id}", attr::ALERT));
        let (co, cu) = (self.e.name("claim_owner"), self.e.name("claim_until"));
        let clauses = [
            format!("{p}.{co} = {}", self.e.value(s(owner))),
            format!("{p}.{cu} = {}", self.e.value(n(until))),
        ];
        self.sets.extend(clauses);
        format!(
            "attribute_exists({p}) AND (attribute_not_exists({p}.{cu}) OR {p}.{cu} < {})",
            self.e.value(n(now))
        )
    }

    fn drop_entry(&mut self, id: &str, owner: &str) -> String {
        let p = self.e.name(&format!("{}{id}", attr::ALERT));
        self.removes.push(p.clone());
        format!(
            "{p}.{} = {}",
            self.e.name("claim_owner"),
            self.e.value(s(owner))
        )
    }

    fn defer_entry(&mut self, id: &str, owner: &str, attempts: u32, next_ms: i64) -> String {
        let p = self.e.name(&format!("{}{id}", attr::ALERT));
        let (co, cu) = (self.e.name("claim_owner"), self.e.name("claim_until"));
        let clauses = [
            format!(
                "{p}.{} = {}",
                self.e.name("attempts"),
                self.e.value(n(attempts))
            ),
            format!("{p}.{} = {}", self.e.name("next"), self.e.value(n(next_ms))),
        ];
        self.sets.extend(clauses);
        self.removes.push(format!("{p}.{co}"));
        self.removes.push(format!("{p}.{cu}"));
        format!("{p}.{co} = {}", self.e.value(s(owner)))
    }

    fn release_trial(&mut self, generation: u64, slot: u32, owner: &str) -> String {
        let p = self.e.name(&format!("{}{slot}", attr::TRIAL));
        self.removes.push(p.clone());
        let e = &mut *self.e;
        format!(
            "{} = {} AND {} = {} AND {p}.{} = {} AND {p}.{} = {}",
            e.name(attr::STATE),
            e.value(s(State::HalfOpen.as_str())),
            e.name(attr::GEN),
            e.value(n(generation)),
            e.name(attr::L_OWNER),
            e.value(s(owner)),
            e.name(attr::L_GEN),
            e.value(n(generation)),
        )
    }

    fn trial_success(&mut self, generation: u64, slot: u32, owner: &str, now: i64) -> String {
        let one = self.e.value(n(1));
        self.adds
            .push(format!("{} {one}", self.e.name(attr::SUCCESSES)));
        self.removes
            .push(self.e.name(&format!("{}{slot}", attr::TRIAL)));
        let held = lease_held(self.e, slot, owner, now, generation);
        let e = &mut *self.e;
        format!(
            "{} = {} AND {} = {} AND {held}",
            e.name(attr::STATE),
            e.value(s(State::HalfOpen.as_str())),
            e.name(attr::GEN),
            e.value(n(generation)),
        )
    }
}

fn prune_buckets(e: &mut Expr, removes: &mut Vec<String>, generation: u64, prune: &[i64]) {
    for b in prune {
        removes.push(e.name(&win_attr(attr::WIN_CALLS, generation, *b)));
        removes.push(e.name(&win_attr(attr::WIN_FAILS, generation, *b)));
    }
}

#[async_trait]
impl BreakerStore for DynamoBreakerStore {
    async fn load(&self, name: &str) -> Result<Record, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(attr::PK, s(key(name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify_sdk_error)?;
        match out.item() {
            Some(item) => from_item(name, item),
            None => Ok(Record::new(name)),
        }
    }

    async fn apply(&self, name: &str, op: &Op) -> Result<Applied, StoreError> {
        let mut e = Expr::default();
        let (update, cond) = plan(&mut e, name, op);
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(attr::PK, s(key(name)))
            .update_expression(update)
            .condition_expression(cond)
            .set_expression_attribute_names(Some(e.names))
            .set_expression_attribute_values(Some(e.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes() {
                Some(item) => Ok(Applied::Won(from_item(name, item)?)),
                None => Err(StoreError::Corrupt("update returned no attributes".into())),
            },
            Err(SdkError::ServiceError(se))
                if matches!(
                    se.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                let winner = match se.err() {
                    UpdateItemError::ConditionalCheckFailedException(c) => {
                        c.item().map(|i| from_item(name, i))
                    }
                    _ => None,
                };
                Ok(Applied::Lost(
                    winner.transpose()?.unwrap_or_else(|| Record::new(name)),
                ))
            }
            Err(err) => Err(classify_sdk_error(err)),
        }
    }

    async fn list(&self) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
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
                if let Some(name) =
                    get_s(item, attr::PK).and_then(|pk| pk.strip_prefix(PREFIX).map(str::to_string))
                {
                    out.push(from_item(&name, item)?);
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                break;
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
