//! The two items a breaker is stored as, attribute by attribute.
//!
//! The *main* item (`breaker#<name>`) holds the state, the trial leases, the outbox and
//! the pages: everything that changes with a transition or an alert. The *count* item
//! (`breaker#<name>#count`) holds what every call writes: the failure count, the last
//! error and the failure-rate window. A failure write then costs 1 WCU whatever the
//! outbox holds (it costs the larger item's size in KB, and the main item can reach
//! several KB while PagerDuty is down), and every write of a call stays off the item
//! the stream and the executors read.
//!
//! The count item carries the generation and state it counts for (a transition writes
//! both items in one transaction), so a counter write is conditional on the count item
//! alone. Its failure count is named by generation (`f_<gen>`), like the window's
//! buckets, so that a count item behind the main item (written before this layout, or
//! by an older version during a rolling deploy) restarts at zero instead of carrying
//! an old generation's count.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use super::super::record::{Action, Counts, Lease, OutboxEntry, Record, State};
use crate::store::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub const PREFIX: &str = "breaker#";
/// The count item's key is the main item's key with this suffix. Breaker names never
/// hold a `#` (`Dependency` names are lower-case words and dashes).
pub const COUNT_SUFFIX: &str = "#count";

pub mod attr {
    pub const PK: &str = "pk";
    pub const STATE: &str = "state";
    pub const GEN: &str = "gen";
    pub const SINCE: &str = "since";
    /// Before the count item: the failure count in the main item. Read while no count
    /// item exists, removed by the next transition.
    pub const LEGACY_FAILURES: &str = "failures";
    /// `f_<gen>`: the failure count of a generation, in the count item.
    pub const FAILS: &str = "f_";
    pub const SUCCESSES: &str = "successes";
    pub const OPEN_UNTIL: &str = "open_until";
    pub const REOPENS: &str = "reopens";
    pub const EPISODE: &str = "episode";
    /// In the count item; in the main item before it (read and removed as above).
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

/// The main item's key.
pub fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

/// The count item's key.
pub fn count_key(name: &str) -> String {
    format!("{PREFIX}{name}{COUNT_SUFFIX}")
}

/// The breaker a key belongs to, and whether it is its count item.
pub fn parse_key(pk: &str) -> Option<(&str, bool)> {
    let rest = pk.strip_prefix(PREFIX)?;
    Some(match rest.strip_suffix(COUNT_SUFFIX) {
        Some(name) => (name, true),
        None => (rest, false),
    })
}

pub fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn win_attr(prefix: &str, generation: u64, bucket: i64) -> String {
    format!("{prefix}{generation}_{bucket}")
}

pub fn fails_attr(generation: u64) -> String {
    format!("{}{generation}", attr::FAILS)
}

pub fn lease_value(l: &Lease) -> AttributeValue {
    AttributeValue::M(HashMap::from([
        (attr::L_OWNER.to_string(), s(l.owner.clone())),
        (attr::L_EXP.to_string(), n(l.expires_ms)),
        (attr::L_GEN.to_string(), n(l.generation)),
    ]))
}

pub fn alert_value(a: &OutboxEntry) -> AttributeValue {
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

fn alert_from(id: &str, m: &Item) -> Result<OutboxEntry, StoreError> {
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

fn get_n<T: std::str::FromStr>(item: &Item, k: &str) -> Result<Option<T>, StoreError> {
    match item.get(k) {
        None => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("{k} is not a valid number"))),
        Some(_) => Err(StoreError::Corrupt(format!("{k} is not a number"))),
    }
}

pub fn get_s(item: &Item, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

/// The two items a record is stored as.
#[derive(Clone, Debug, PartialEq)]
pub struct Items {
    pub main: Item,
    pub count: Item,
}

/// The items a record is stored as: the layout the writes produce, attribute by
/// attribute. Used to state and test the largest items the design allows.
pub fn to_items(r: &Record) -> Items {
    let mut main = Item::from([
        (attr::PK.to_string(), s(key(&r.name))),
        (attr::STATE.to_string(), s(r.state.as_str())),
        (attr::GEN.to_string(), n(r.generation)),
        (attr::SINCE.to_string(), n(r.since_ms)),
        (attr::SUCCESSES.to_string(), n(r.successes)),
        (attr::OPEN_UNTIL.to_string(), n(r.open_until_ms)),
        (attr::REOPENS.to_string(), n(r.reopens)),
        (attr::REMINDED.to_string(), n(r.reminded_ms)),
    ]);
    for (k, v) in [(attr::EPISODE, &r.episode), (attr::WRITER, &r.writer)] {
        if let Some(v) = v {
            main.insert(k.to_string(), s(v.clone()));
        }
    }
    if let Some(u) = r.forced_until {
        main.insert(attr::FORCED_UNTIL.to_string(), n(u));
    }
    if let Some(at) = r.config_fault {
        main.insert(attr::CONFIG_FAULT.to_string(), n(at));
    }
    for (id, at) in &r.paged {
        main.insert(format!("{}{id}", attr::PAGED), n(*at));
    }
    if let Some((at, ok)) = r.last_check {
        main.insert(attr::LAST_CHECK.to_string(), n(at));
        main.insert(attr::LAST_CHECK_OK.to_string(), AttributeValue::Bool(ok));
    }
    for (slot, lease) in &r.trials {
        main.insert(format!("{}{slot}", attr::TRIAL), lease_value(lease));
    }
    for a in r.outbox.values() {
        main.insert(format!("{}{}", attr::ALERT, a.id), alert_value(a));
    }
    let mut count = Item::from([
        (attr::PK.to_string(), s(count_key(&r.name))),
        (attr::STATE.to_string(), s(r.state.as_str())),
        (attr::GEN.to_string(), n(r.generation)),
        (fails_attr(r.generation), n(r.failures)),
    ]);
    if let Some(e) = &r.last_error {
        count.insert(attr::LAST_ERROR.to_string(), s(e.clone()));
    }
    for (b, c) in &r.window {
        count.insert(win_attr(attr::WIN_CALLS, r.generation, *b), n(c.calls));
        if c.failures > 0 {
            count.insert(win_attr(attr::WIN_FAILS, r.generation, *b), n(c.failures));
        }
    }
    Items { main, count }
}

/// An item's size as DynamoDB counts it, rounded up: attribute names plus values
/// (strings by UTF-8 length, numbers by at most 21 bytes, maps with 3 bytes of overhead
/// plus 1 per element).
pub fn item_size(item: &Item) -> usize {
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

/// The record that a main item and a count item read together make.
///
/// Counts are taken from the count item only when it counts for the main item's
/// generation. Otherwise it is behind (written before a transition an older version
/// made) or the two reads straddle a transition: the counts start at zero, which a
/// conditional write can only correct, never exploit. With no count item at all (a
/// table written before this layout), an open breaker shows the count it opened on,
/// from the main item.
pub fn from_items(
    name: &str,
    main: Option<&Item>,
    count: Option<&Item>,
) -> Result<Record, StoreError> {
    let empty = Item::new();
    let main = main.unwrap_or(&empty);
    let mut r = main_record(name, main)?;
    let counts = match count {
        Some(c) if get_n::<u64>(c, attr::GEN)?.unwrap_or(0) == r.generation => c,
        Some(_) => &empty,
        // Out of CLOSED the count is what the breaker opened on, shown and never
        // checked. In CLOSED it would be checked by a trip, against a count item that
        // does not hold it: counting restarts there instead (the first failure writes
        // the count item), once, at the upgrade.
        None if r.state != State::Closed => {
            r.failures = get_n(main, attr::LEGACY_FAILURES)?.unwrap_or(0);
            r.last_error = get_s(main, attr::LAST_ERROR);
            return Ok(r);
        }
        None => &empty,
    };
    if count.is_some() {
        r.failures = get_n(counts, &fails_attr(r.generation))?.unwrap_or(0);
    }
    r.last_error = get_s(counts, attr::LAST_ERROR);
    r.window = window(counts, r.generation)?;
    Ok(r)
}

/// Everything but the counts, from the main item. Trial leases of other generations
/// are leftovers that no condition ever counts, so they are dropped here.
fn main_record(name: &str, item: &Item) -> Result<Record, StoreError> {
    let mut r = Record::new(name);
    if let Some(st) = get_s(item, attr::STATE) {
        r.state = State::parse(&st)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown state {st:?}")))?;
    }
    r.generation = get_n(item, attr::GEN)?.unwrap_or(0);
    r.since_ms = get_n(item, attr::SINCE)?.unwrap_or(0);
    r.successes = get_n(item, attr::SUCCESSES)?.unwrap_or(0);
    r.open_until_ms = get_n(item, attr::OPEN_UNTIL)?.unwrap_or(0);
    r.reopens = get_n(item, attr::REOPENS)?.unwrap_or(0);
    r.episode = get_s(item, attr::EPISODE);
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
    }
    Ok(r)
}

/// The failure-rate window of `generation` in `item` (other generations' buckets are
/// leftovers, skipped).
fn window(item: &Item, generation: u64) -> Result<BTreeMap<i64, Counts>, StoreError> {
    let mut window: BTreeMap<i64, Counts> = BTreeMap::new();
    for k in item.keys() {
        for (prefix, is_fail) in [(attr::WIN_CALLS, false), (attr::WIN_FAILS, true)] {
            let Some((g, b)) = k.strip_prefix(prefix).and_then(|rest| rest.split_once('_')) else {
                continue;
            };
            let (Ok(g), Ok(b)) = (g.parse::<u64>(), b.parse::<i64>()) else {
                continue;
            };
            if g != generation {
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
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(gen: u64, failures: u32) -> Record {
        let mut r = Record::new("crm");
        r.generation = gen;
        r.failures = failures;
        r.last_error = Some("503".into());
        r.window.insert(
            7,
            Counts {
                calls: 4,
                failures: 2,
            },
        );
        r
    }

    #[test]
    fn a_record_round_trips_through_its_two_items() {
        let r = counted(3, 2);
        let items = to_items(&r);
        let back = from_items("crm", Some(&items.main), Some(&items.count));
        assert_eq!(back.ok(), Some(r));
    }

    #[test]
    fn a_count_item_of_another_generation_counts_nothing() {
        let items = to_items(&counted(3, 2));
        let behind = to_items(&counted(2, 9)).count;
        let r = from_items("crm", Some(&items.main), Some(&behind)).ok();
        assert_eq!(r.as_ref().map(|r| r.failures), Some(0));
        assert_eq!(r.as_ref().map(|r| r.window.len()), Some(0));
        assert_eq!(r.and_then(|r| r.last_error), None);
    }

    #[test]
    fn without_a_count_item_an_open_breaker_shows_its_old_count_and_a_closed_one_restarts() {
        let mut legacy = to_items(&counted(3, 2)).main;
        legacy.insert(attr::LEGACY_FAILURES.into(), n(4));
        legacy.insert(attr::LAST_ERROR.into(), s("timed out"));
        legacy.insert(win_attr(attr::WIN_CALLS, 3, 7), n(9));
        let closed = from_items("crm", Some(&legacy), None).ok();
        assert_eq!(closed.map(|r| (r.failures, r.window.len())), Some((0, 0)));
        legacy.insert(attr::STATE.into(), s("OPEN"));
        let open = from_items("crm", Some(&legacy), None).ok();
        assert_eq!(open.as_ref().map(|r| r.failures), Some(4));
        assert_eq!(
            open.and_then(|r| r.last_error).as_deref(),
            Some("timed out")
        );
    }

    #[test]
    fn keys_name_their_breaker_and_item() {
        assert_eq!(parse_key(&key("crm-auth")), Some(("crm-auth", false)));
        assert_eq!(parse_key(&count_key("crm-auth")), Some(("crm-auth", true)));
        assert_eq!(parse_key("token#crm"), None);
    }
}
