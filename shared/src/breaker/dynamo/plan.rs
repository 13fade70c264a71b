//! Each op as DynamoDB writes: one conditional UpdateItem on the item it concerns, or,
//! for a transition, one on each item in a transaction.

use aws_sdk_dynamodb::types::AttributeValue;

use super::layout::{alert_value, attr, fails_attr, lease_value, n, s, win_attr};
use crate::breaker::op::{Expect, Op, Tally};
use crate::breaker::record::{Lease, OutboxEntry, Record, State};
use crate::store::Expr;

/// Which of a breaker's two items a write is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Main,
    Count,
}

/// One conditional update of one item, with its own names and values (DynamoDB refuses
/// a name or value that the expressions do not use).
pub struct Update {
    pub target: Target,
    pub update: String,
    pub condition: Option<String>,
    pub expr: Expr,
}

pub enum Write {
    One(Update),
    /// A transition: both items, all or nothing.
    Both {
        main: Update,
        count: Update,
    },
}

/// The writes an op is made of.
pub fn plan(name: &str, op: &Op) -> Write {
    match op {
        Op::Transition {
            expect,
            next,
            alerts,
            tally,
            drop_alerts,
            clear_window,
            clear_trials,
        } => {
            let mut main = Plan::new(Target::Main);
            let cond = expect_condition(&mut main.e, name, expect);
            main.clear(clear_trials, drop_alerts, expect.generation, clear_window);
            main.record(next, alerts);
            let mut count = Plan::new(Target::Count);
            let cond_count = count.transition_counts(expect, next, *tally, clear_window);
            Write::Both {
                main: main.done(Some(cond)),
                count: count.done(cond_count),
            }
        }
        Op::CountFailure {
            generation,
            error,
            bucket,
            calls,
            prune,
        } => {
            let mut p = Plan::new(Target::Count);
            let cond = p.count_failure(*generation, error, *bucket, *calls, prune);
            Write::One(p.done(Some(cond)))
        }
        Op::CountCalls {
            generation,
            bucket,
            calls,
            prune,
        } => {
            let mut p = Plan::new(Target::Count);
            let cond = p.count_calls(*generation, *bucket, *calls, prune);
            Write::One(p.done(Some(cond)))
        }
        Op::ResetFailures { generation } => {
            let mut p = Plan::new(Target::Count);
            let cond = p.reset_failures(*generation);
            Write::One(p.done(Some(cond)))
        }
        other => {
            let mut p = Plan::new(Target::Main);
            let cond = p.main_op(other);
            Write::One(p.done(cond))
        }
    }
}

/// The condition that `expect` still holds of the main item, but for the failure count,
/// which the count item's half of the transaction checks. An attribute never written
/// reads as `Record::new`'s value, so a condition that value meets also holds while the
/// attribute is missing: a never-written item, or one that only a health check note has
/// touched, is CLOSED in generation 0.
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

/// Make a write on a never-written main item leave a well-formed record.
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

/// One update being planned: the expression's names and values, and its SET, ADD and
/// REMOVE clauses. Each method plans one op and returns its condition.
struct Plan {
    target: Target,
    e: Expr,
    sets: Vec<String>,
    adds: Vec<String>,
    removes: Vec<String>,
}

impl Plan {
    fn new(target: Target) -> Plan {
        Plan {
            target,
            e: Expr::default(),
            sets: Vec::new(),
            adds: Vec::new(),
            removes: Vec::new(),
        }
    }

    fn done(self, condition: Option<String>) -> Update {
        Update {
            target: self.target,
            update: update_expression(&self.sets, &self.adds, &self.removes),
            condition,
            expr: self.e,
        }
    }

    fn set(&mut self, attr: &str, v: AttributeValue) {
        let clause = format!("{} = {}", self.e.name(attr), self.e.value(v));
        self.sets.push(clause);
    }

    fn remove(&mut self, attr: &str) {
        let nm = self.e.name(attr);
        self.removes.push(nm);
    }

    fn prune_buckets(&mut self, generation: u64, prune: &[i64]) {
        for b in prune {
            self.remove(&win_attr(attr::WIN_CALLS, generation, *b));
            self.remove(&win_attr(attr::WIN_FAILS, generation, *b));
        }
    }

    /// A transition's clean-up of the main item: trial slots, the outbox entries it
    /// drops, and what the main item held before the count item (its failure count,
    /// last error and the old generation's window buckets).
    fn clear(&mut self, trials: &[u32], entries: &[String], generation: u64, window: &[i64]) {
        for slot in trials {
            self.remove(&format!("{}{slot}", attr::TRIAL));
            self.remove(&format!("{}{slot}", attr::LEGACY_TRIAL));
        }
        for id in entries {
            self.remove(&format!("{}{id}", attr::ALERT));
        }
        self.remove(attr::LEGACY_FAILURES);
        self.remove(attr::LAST_ERROR);
        self.prune_buckets(generation, window);
    }

    /// A transition's new main item: its state and numbers, the entries it adds, the
    /// optional fields, and its trial leases.
    fn record(&mut self, next: &Record, alerts: &[OutboxEntry]) {
        self.set(attr::REMINDED, n(next.reminded_ms));
        for a in alerts {
            self.set(&format!("{}{}", attr::ALERT, a.id), alert_value(a));
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
            None => self.remove(attr::FORCED_UNTIL),
        }
        for (a, v) in [(attr::EPISODE, &next.episode), (attr::WRITER, &next.writer)] {
            match v {
                Some(v) => self.set(a, s(v.clone())),
                None => self.remove(a),
            }
        }
        for (slot, lease) in &next.trials {
            self.set(&format!("{}{slot}", attr::TRIAL), lease_value(lease));
        }
    }

    /// A transition's half on the count item: the new generation and state, the failure
    /// count as `tally` says (carried from the old generation's, or set), the last
    /// error, and the old generation's window gone. Its condition is the failure count
    /// `expect` needs, if any (the main item's half checks the generation and state).
    fn transition_counts(
        &mut self,
        expect: &Expect,
        next: &Record,
        tally: Tally,
        window: &[i64],
    ) -> Option<String> {
        let old = fails_attr(expect.generation);
        let cond = expect.min_failures.map(|m| {
            let f = self.e.name(&old);
            let cond = format!("{f} >= {}", self.e.value(n(m)));
            // Missing reads as zero, as `Record::new`'s count.
            if m == 0 {
                format!("(attribute_not_exists({f}) OR {cond})")
            } else {
                cond
            }
        });
        self.set(attr::STATE, s(next.state.as_str()));
        self.set(attr::GEN, n(next.generation));
        let new = self.e.name(&fails_attr(next.generation));
        match tally {
            Tally::Set => {
                let v = self.e.value(n(next.failures));
                self.sets.push(format!("{new} = {v}"));
            }
            Tally::Keep | Tally::AddOne => {
                let f = self.e.name(&old);
                let zero = self.e.value(n(0));
                let add = if tally == Tally::AddOne {
                    format!(" + {}", self.e.value(n(1)))
                } else {
                    String::new()
                };
                self.sets
                    .push(format!("{new} = if_not_exists({f}, {zero}){add}"));
            }
        }
        if expect.generation != next.generation {
            self.remove(&old);
        }
        match &next.last_error {
            Some(e) => self.set(attr::LAST_ERROR, s(e.clone())),
            None => self.remove(attr::LAST_ERROR),
        }
        self.prune_buckets(expect.generation, window);
        cond
    }

    /// A counter write applies while the count item counts for this generation in
    /// CLOSED. A missing count item, or one behind the caller's generation (it was not
    /// written by the transitions since), is taken over: its generation becomes this
    /// one, and the counts by generation start from zero.
    fn counting(&mut self, generation: u64) -> String {
        let (g, st) = (self.e.name(attr::GEN), self.e.name(attr::STATE));
        let (v, closed) = (
            self.e.value(n(generation)),
            self.e.value(s(State::Closed.as_str())),
        );
        self.sets.push(format!("{g} = {v}"));
        self.sets.push(format!("{st} = {closed}"));
        if generation > 0 {
            self.remove(&fails_attr(generation - 1));
        }
        format!("(attribute_not_exists({g}) OR {g} < {v} OR ({g} = {v} AND {st} = {closed}))")
    }

    fn count_failure(
        &mut self,
        generation: u64,
        error: &str,
        bucket: Option<i64>,
        calls: u32,
        prune: &[i64],
    ) -> String {
        let cond = self.counting(generation);
        self.set(attr::LAST_ERROR, s(error));
        let f = self.e.name(&fails_attr(generation));
        let one = self.e.value(n(1));
        self.adds.push(format!("{f} {one}"));
        if let Some(b) = bucket {
            let (c, f) = (
                self.e.name(&win_attr(attr::WIN_CALLS, generation, b)),
                self.e.name(&win_attr(attr::WIN_FAILS, generation, b)),
            );
            let (calls, one) = (self.e.value(n(calls)), self.e.value(n(1)));
            self.adds.push(format!("{c} {calls}"));
            self.adds.push(format!("{f} {one}"));
        }
        self.prune_buckets(generation, prune);
        cond
    }

    fn count_calls(&mut self, generation: u64, bucket: i64, calls: u32, prune: &[i64]) -> String {
        let cond = self.counting(generation);
        let c = self.e.name(&win_attr(attr::WIN_CALLS, generation, bucket));
        let calls = self.e.value(n(calls));
        self.adds.push(format!("{c} {calls}"));
        self.prune_buckets(generation, prune);
        cond
    }

    /// Applies where the count item shows failures in this generation, or where there
    /// is none yet (the view then came from the main item's counts of the old layout,
    /// and writing a zero count item is what resets them).
    fn reset_failures(&mut self, generation: u64) -> String {
        let (g, st) = (self.e.name(attr::GEN), self.e.name(attr::STATE));
        let f = self.e.name(&fails_attr(generation));
        let (v, closed, zero) = (
            self.e.value(n(generation)),
            self.e.value(s(State::Closed.as_str())),
            self.e.value(n(0)),
        );
        self.sets.push(format!("{g} = {v}"));
        self.sets.push(format!("{st} = {closed}"));
        self.sets.push(format!("{f} = {zero}"));
        format!("(attribute_not_exists({g}) OR ({g} = {v} AND {st} = {closed} AND {f} > {zero}))")
    }

    /// The ops on the main item alone; their conditions.
    fn main_op(&mut self, op: &Op) -> Option<String> {
        Some(match op {
            Op::AcquireTrial {
                generation,
                slot,
                lease,
                now,
            } => self.acquire_trial(*generation, *slot, lease, *now),
            Op::FlagConfigFault {
                alert,
                now,
                every_ms,
            } => self.paged_at(attr::CONFIG_FAULT.to_string(), alert, *now, *every_ms),
            Op::Page {
                alert,
                now,
                every_ms,
            } => self.paged_at(
                format!("{}{}", attr::PAGED, alert.id),
                alert,
                *now,
                *every_ms,
            ),
            Op::ClearConfigFault { alert } => self.clear_config_fault(alert),
            Op::NoteHealthCheck { at, healthy } => self.note_health_check(*at, *healthy),
            Op::Remind {
                episode,
                alert,
                now,
                every_ms,
            } => self.remind(episode, alert, *now, *every_ms),
            Op::ClaimEntry {
                id,
                owner,
                now,
                until,
            } => self.claim_entry(id, owner, *now, *until),
            Op::DropEntry { id, owner } => self.drop_entry(id, owner),
            Op::DeferEntry {
                id,
                owner,
                attempts,
                next_ms,
            } => self.defer_entry(id, owner, *attempts, *next_ms),
            Op::ReleaseTrial {
                generation,
                slot,
                owner,
            } => self.release_trial(*generation, *slot, owner),
            Op::TrialSuccess {
                generation,
                slot,
                owner,
                now,
            } => self.trial_success(*generation, *slot, owner, *now),
            // Planned by `plan` on their own items.
            Op::Transition { .. }
            | Op::CountFailure { .. }
            | Op::CountCalls { .. }
            | Op::ResetFailures { .. } => return None,
        })
    }

    fn acquire_trial(&mut self, generation: u64, slot: u32, lease: &Lease, now: i64) -> String {
        let p = self.e.name(&format!("{}{slot}", attr::TRIAL));
        let clause = format!("{p} = {}", self.e.value(lease_value(lease)));
        self.sets.push(clause);
        let e = &mut self.e;
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
        init_fields(&mut self.e, &mut self.sets);
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
        self.set(&format!("{}{}", attr::ALERT, alert.id), alert_value(alert));
        self.removes.push(cf.clone());
        format!("attribute_exists({cf})")
    }

    fn note_health_check(&mut self, at: i64, healthy: bool) -> String {
        init_fields(&mut self.e, &mut self.sets);
        let lp = self.e.name(attr::LAST_CHECK);
        let clause = format!("{lp} = {}", self.e.value(n(at)));
        self.sets.push(clause);
        self.set(attr::LAST_CHECK_OK, AttributeValue::Bool(healthy));
        // Migrate: the legacy attributes go with the first check written by this code.
        self.remove(attr::LEGACY_LAST_CHECK);
        self.remove(attr::LEGACY_LAST_CHECK_OK);
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
        let e = &mut self.e;
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
        self.remove(&format!("{}{slot}", attr::TRIAL));
        let held = lease_held(&mut self.e, slot, owner, now, generation);
        let e = &mut self.e;
        format!(
            "{} = {} AND {} = {} AND {held}",
            e.name(attr::STATE),
            e.value(s(State::HalfOpen.as_str())),
            e.name(attr::GEN),
            e.value(n(generation)),
        )
    }
}
