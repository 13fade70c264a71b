//! The per-instance breaker handle: cache → decide → write → effects.
//!
//! Reads come from an in-process cache no older than `cache_ttl_ms`. Writes happen only
//! when the pure machine asks for one. When the store fails or is throttled, the call is
//! never blocked: the instance runs the same machine on its own local view (the last
//! record it saw, or a fresh CLOSED one) and does not touch the store again for
//! `store_retry_ms`. Transitions made locally are not alerted: no instance won them.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::machine::{step, CallResult, Decision, Event, Rejection, Step, Ticket};
use super::op::Op;
use super::policy::{GuardSettings, Policy, TripPolicy};
use super::record::{Record, State, Transition};
use super::store::{Applied, BreakerStore};
use crate::clock::{Clock, Millis};
use crate::metrics;
use crate::store::StoreError;

/// What a re-read says about a write whose outcome was unknown.
enum Learned {
    /// Applied or not, for certain.
    Known(Applied),
    /// The store answered, but the record cannot tell (a counter, a later transition).
    Unclear(Record),
    /// The store did not answer the read either.
    Unknown,
}

#[derive(Clone, Debug)]
struct View {
    record: Option<Record>,
    fetched_ms: Millis,
    store_down_until: Millis,
    unflushed_calls: u32,
    /// Since when every store request of this instance has failed (None: the last one
    /// was answered). An idle instance is not a silent store.
    failing_since: Option<Millis>,
    /// Store requests failed in a row. With `failing_since`, the evidence that the store
    /// is down: a slow one answers the longer waits that follow a timeout.
    failed_in_row: u32,
    /// An OPEN this instance made on its own view, blind: until the first time, it holds
    /// against a CLOSED read from the store of no later generation than the second. That
    /// CLOSED is the fleet not knowing yet, not the dependency recovered.
    local_hold: Option<(Millis, u64)>,
    /// Doublings of the store timeout the next request gets (`store_wait_ms`).
    wait_level: u32,
    /// The earliest next trial on the local view.
    local_trial_after: Millis,
}

impl View {
    /// Whether this view's local OPEN holds, at `now`, against `read`: a CLOSED of no
    /// later generation than the OPEN's base.
    fn holds(&self, read: &Record, now: Millis) -> bool {
        matches!(self.local_hold, Some((until, base)) if now < until
            && read.state == State::Closed
            && read.generation <= base)
    }
}

/// What `admit` decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    Admitted(Ticket),
    Rejected(Rejection),
}

/// What an error of a dependency call says about the dependency. Only what reached the
/// dependency speaks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The dependency failed: a failure for its breaker.
    Failed,
    /// The dependency answered, refusing this request (a 404, refused credentials): it
    /// is up, so this is a success for its breaker.
    Answered,
    /// The dependency was never reached (no token, no secret): says nothing about it.
    /// A half-open trial that ends so gives its lease back, counting nothing.
    NotReached,
}

/// Which errors of a dependency call are the dependency's fault. Said once per error
/// type, not by closures at every call site (the predicate of failsafe-rs and recloser).
pub trait Classify: std::fmt::Display {
    fn verdict(&self) -> Verdict;

    /// Whether the breaker counts this error as the dependency failing.
    fn counts(&self) -> bool {
        self.verdict() == Verdict::Failed
    }
}

/// Why a guarded call did not produce a value. Callers use `?` and map it once.
#[derive(Debug, thiserror::Error)]
pub enum CallError<E> {
    /// The breaker did not let the call through.
    #[error("breaker refused the call: {0:?}")]
    Rejected(Rejection),
    /// The call did not finish before its deadline (counted as a failure).
    #[error("timed out")]
    TimedOut,
    /// The call failed; `E::counts` said whether the breaker counted it.
    #[error("{0}")]
    Failed(E),
}

pub struct Breaker {
    name: String,
    policy: Policy,
    settings: GuardSettings,
    store: Arc<dyn BreakerStore>,
    clock: Arc<dyn Clock>,
    instance: String,
    seq: AtomicU64,
    view: Mutex<View>,
    transitions: Mutex<Vec<Transition>>,
}

const MAX_ROUNDS: usize = 4;

/// Consecutive failures that trip an instance's own view while the store cannot be
/// reached (see `blind_policy`).
const BLIND_THRESHOLD: u32 = 2;

/// Store requests that must fail in a row, over a whole recovery timeout, before the
/// store counts as down and a trial may run on the local view (`apply_locally`).
const SILENT_AFTER: u32 = 3;

/// At most four times the store timeout (`store_wait_ms`).
const MAX_WAIT_LEVEL: u32 = 2;

impl Breaker {
    pub fn new(
        name: impl Into<String>,
        policy: Policy,
        settings: GuardSettings,
        store: Arc<dyn BreakerStore>,
        clock: Arc<dyn Clock>,
    ) -> Breaker {
        Breaker {
            name: name.into(),
            policy,
            settings,
            store,
            clock,
            instance: instance_id(),
            seq: AtomicU64::new(0),
            view: Mutex::new(View {
                record: None,
                fetched_ms: 0,
                store_down_until: 0,
                unflushed_calls: 0,
                failing_since: None,
                failed_in_row: 0,
                local_hold: None,
                wait_level: 0,
                local_trial_after: 0,
            }),
            transitions: Mutex::new(Vec::new()),
        }
    }

    /// Name this instance (its trial owners and write tokens) instead of a random id:
    /// for a simulation that must replay the same for a seed.
    pub fn with_instance(mut self, id: impl Into<String>) -> Breaker {
        self.instance = id.into();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// When a state-table request made for this breaker's dependency must end: the
    /// caller's deadline or the store timeout, whichever comes first. A slow table costs
    /// a caller at most this, and is never blamed on the dependency.
    pub fn store_deadline(&self, deadline: Instant) -> Instant {
        let cap = Duration::from_millis(self.settings.store_timeout_ms.max(1) as u64);
        deadline.min(Instant::now() + cap)
    }

    /// Transitions this instance won since the last call, oldest first.
    /// Write `op`, which is not a transition (a configuration fault noted), within the
    /// store's timeout.
    pub async fn note(&self, op: &Op, deadline: Instant) -> Result<Applied, StoreError> {
        tokio::time::timeout_at(
            self.store_deadline(deadline),
            self.store.apply(&self.name, op),
        )
        .await
        .unwrap_or(Err(StoreError::Timeout))
    }

    pub fn take_transitions(&self) -> Vec<Transition> {
        self.transitions
            .lock()
            .map(|mut t| std::mem::take(&mut *t))
            .unwrap_or_default()
    }

    /// The record as this instance sees it now (cached within the staleness bound).
    pub async fn current(&self, deadline: Instant) -> Record {
        let now = self.clock.now_ms();
        let (cached, down) = {
            let v = self.lock_view();
            let fresh = v.record.clone().filter(|_| {
                now - v.fetched_ms <= self.settings.cache_ttl_ms && now >= v.fetched_ms
            });
            (fresh, now < v.store_down_until)
        };
        if let Some(r) = cached {
            return r;
        }
        // No time left is the caller's problem, not the store's: no read, no blame.
        if down || deadline <= Instant::now() {
            return self.local_view();
        }
        match self
            .with_timeout(deadline, self.store.load(&self.name))
            .await
        {
            Ok(r) => {
                self.remember(r.clone(), now);
                r
            }
            Err(e) => {
                self.store_failed("load", &e, now);
                self.local_view()
            }
        }
    }

    /// Ask to pass. Trials in HALF_OPEN are admitted under a lease.
    pub async fn admit(&self, deadline: Instant) -> Admission {
        let owner = format!(
            "{}:{}",
            self.instance,
            self.seq.fetch_add(1, Ordering::Relaxed)
        );
        let event = Event::Admit { owner };
        match self.drive(&event, deadline).await {
            Decision::Admit(t) => Admission::Admitted(t),
            Decision::Reject(r) => Admission::Rejected(r),
            // A lost race leaves the caller with the winner's state: not admitted.
            _ => Admission::Rejected(Rejection::HalfOpenBusy),
        }
    }

    /// Record how an admitted call ended.
    pub async fn record(&self, ticket: Ticket, result: CallResult, deadline: Instant) -> Decision {
        let unflushed = self.lock_view().unflushed_calls;
        let event = Event::Outcome {
            ticket,
            result,
            unflushed_calls: unflushed,
        };
        self.drive(&event, deadline).await
    }

    /// An operator command, applied to the store directly (no cache, no local fallback).
    pub async fn command(&self, event: Event) -> Result<Option<Transition>, StoreError> {
        for _ in 0..MAX_ROUNDS {
            let now = self.clock.now_ms();
            let view = self.store.load(&self.name).await?;
            let mut s = step(&view, &event, now, &self.policy);
            if let Some(op) = s.op.as_mut() {
                op.stamp(&self.write_token());
            }
            let Some(op) = &s.op else {
                return Ok(None);
            };
            match self.store.apply(&self.name, op).await? {
                Applied::Won(r) => {
                    self.remember(r, now);
                    if let Some(t) = &s.transition {
                        self.won(t);
                    }
                    return Ok(s.transition);
                }
                Applied::Lost(r) => self.remember(r, now),
            }
        }
        Err(StoreError::Unavailable("too much contention".into()))
    }

    /// Run `call` behind the breaker. `E::counts` says which errors are the dependency's
    /// fault. The call gets until `call_deadline`; recording its outcome may use up to
    /// `deadline`.
    pub async fn call<T, E, F, Fut>(
        &self,
        call_deadline: Instant,
        deadline: Instant,
        call: F,
    ) -> Result<T, CallError<E>>
    where
        E: Classify,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let ticket = match self.admit(deadline).await {
            Admission::Admitted(t) => t,
            Admission::Rejected(r) => return Err(CallError::Rejected(r)),
        };
        let started = Instant::now();
        let result = tokio::time::timeout_at(call_deadline, call()).await;
        let latency_ms = started.elapsed().as_millis() as Millis;
        match result {
            Err(_) => {
                let failure = CallResult::Failure {
                    latency_ms,
                    error: "timed out".into(),
                };
                self.record(ticket, failure, deadline).await;
                Err(CallError::TimedOut)
            }
            Ok(Ok(v)) => {
                self.record(ticket, CallResult::Success { latency_ms }, deadline)
                    .await;
                Ok(v)
            }
            Ok(Err(e)) => {
                match e.verdict() {
                    Verdict::Failed => {
                        let error = e.to_string();
                        let failure = CallResult::Failure { latency_ms, error };
                        self.record(ticket, failure, deadline).await;
                    }
                    Verdict::Answered => {
                        let success = CallResult::Success { latency_ms };
                        self.record(ticket, success, deadline).await;
                    }
                    Verdict::NotReached => {
                        self.drive(&Event::Abandon { ticket }, deadline).await;
                    }
                }
                Err(CallError::Failed(e))
            }
        }
    }

    async fn drive(&self, event: &Event, deadline: Instant) -> Decision {
        let mut view = self.current(deadline).await;
        if matches!(event, Event::Admit { .. }) && self.held(&view) {
            return Decision::Reject(Rejection::Open);
        }
        let mut event = event.clone();
        let mut first: Option<Decision> = None;
        for _ in 0..MAX_ROUNDS {
            let now = self.clock.now_ms();
            let local = self.lock_view().store_down_until > now;
            let blind;
            let policy = if local {
                blind = self.blind_policy();
                &blind
            } else {
                &self.policy
            };
            let mut s = step(&view, &event, now, policy);
            if let Some(op) = s.op.as_mut() {
                op.stamp(&self.write_token());
            }
            let decision = first.clone().unwrap_or_else(|| s.decision.clone());
            let Some(op) = s.op.clone() else {
                self.after_step(&s, &event);
                return decision;
            };
            if local {
                return self.apply_locally(s, decision, now);
            }
            // An election may wait longer than other writes: a caller it admits gets a
            // trial nobody else runs, and one the store never confirms gets none.
            let wait_ms = match &decision {
                Decision::Admit(t) if t.trial.is_some() => self.election_timeout_ms(deadline),
                _ => self.settings.store_timeout_ms,
            };
            let written = self
                .with_timeout_ms(deadline, wait_ms, self.store.apply(&self.name, &op))
                .await;
            let written = match written {
                Err(e) if e.outcome_unknown() => {
                    self.store_failed(op.kind(), &e, now);
                    match self.learn_outcome(&op, deadline, wait_ms).await {
                        Learned::Known(applied) => Ok(applied),
                        // The count may or may not be in; the record read is the truth now.
                        Learned::Unclear(rec) if s.transition.is_none() => {
                            self.remember(rec.clone(), now);
                            if matches!(event, Event::Outcome { .. }) {
                                first = Some(decision);
                                event = Event::Evaluate;
                                view = rec;
                                continue;
                            }
                            return decision;
                        }
                        // A later transition hides ours: not ours to claim.
                        Learned::Unclear(rec) => Ok(Applied::Lost(rec)),
                        Learned::Unknown => return self.unknown_outcome(s, decision, now),
                    }
                }
                other => other,
            };
            match written {
                Ok(Applied::Won(rec)) => {
                    self.remember(rec.clone(), now);
                    self.after_step(&s, &event);
                    if let Some(t) = &s.transition {
                        self.won(t);
                    }
                    // A counter write may have crossed a threshold others pushed it to.
                    if s.transition.is_none() && matches!(event, Event::Outcome { .. }) {
                        first = Some(decision);
                        event = Event::Evaluate;
                        view = rec;
                        continue;
                    }
                    return decision;
                }
                Ok(Applied::Lost(rec)) => {
                    self.remember(rec.clone(), now);
                    if matches!(event, Event::Evaluate) {
                        return first.unwrap_or(Decision::Unchanged);
                    }
                    view = rec;
                }
                Err(e) => {
                    self.store_failed(op.kind(), &e, now);
                    return self.apply_locally(s, decision, now);
                }
            }
        }
        // Still contended after several rounds: take the freshest view's answer.
        let s = step(&view, &event, self.clock.now_ms(), &self.policy);
        match s.decision {
            Decision::Admit(_) if s.op.is_some() => Decision::Reject(Rejection::HalfOpenBusy),
            d => first.unwrap_or(d),
        }
    }

    /// A write timed out: read the record again, within the deadline, to learn whether
    /// it was applied. An unknown outcome is never taken as a win.
    async fn learn_outcome(&self, op: &Op, deadline: Instant, wait_ms: Millis) -> Learned {
        match self
            .with_timeout_ms(deadline, wait_ms, self.store.load(&self.name))
            .await
        {
            Ok(rec) => match op.took_effect(&rec) {
                Some(true) => Learned::Known(Applied::Won(rec)),
                Some(false) => Learned::Known(Applied::Lost(rec)),
                None => Learned::Unclear(rec),
            },
            Err(_) => Learned::Unknown,
        }
    }

    /// Neither the write nor a read answered. No trial is granted on an election whose
    /// result is unknown; anything else goes on on the local view, claiming nothing.
    fn unknown_outcome(&self, s: Step, decision: Decision, now: Millis) -> Decision {
        match &decision {
            Decision::Admit(t) if t.trial.is_some() => Decision::Reject(Rejection::HalfOpenBusy),
            _ => self.apply_locally(s, decision, now),
        }
    }

    /// Track successes not yet written to a failure-rate window.
    fn after_step(&self, s: &Step, event: &Event) {
        if let Event::Outcome { result, .. } = event {
            let mut v = self.lock_view();
            match (&s.op, result) {
                (Some(_), _) => v.unflushed_calls = 0,
                (None, CallResult::Success { .. }) if s.decision == Decision::Recorded => {
                    v.unflushed_calls = v.unflushed_calls.saturating_add(1)
                }
                _ => {}
            }
        }
    }

    /// Go on on the local view, claiming nothing. A trial on it is run only once the
    /// store's requests have failed in a row for a whole recovery timeout, three at
    /// least, the later ones with longer waits (it is down, not merely slow or this
    /// instance idle),
    /// and then at most once per recovery timeout and a fifth of it at random.
    fn apply_locally(&self, s: Step, decision: Decision, now: Millis) -> Decision {
        let mut v = self.lock_view();
        if matches!(&decision, Decision::Admit(t) if t.trial.is_some()) {
            let wait = self.policy.recovery_timeout_ms;
            let silent = v.failed_in_row >= SILENT_AFTER
                && v.failing_since.is_some_and(|since| now - since >= wait);
            if !silent || now < v.local_trial_after {
                return Decision::Reject(Rejection::HalfOpenBusy);
            }
            v.local_trial_after = now + wait + self.jitter(now, wait / 5);
        }
        if let Some(t) = &s.transition {
            tracing::warn!(breaker = %self.name, transition = %t.label(), "transition on local view only: store unavailable");
            if t.to == State::Open {
                let base = v.record.as_ref().map_or(0, |r| r.generation);
                v.local_hold = Some((s.next.open_until_ms, base));
            }
        }
        v.record = Some(s.next);
        v.fetched_ms = now;
        decision
    }

    /// Whether a local OPEN still holds against `view`, a CLOSED the fleet may not have
    /// moved past yet.
    fn held(&self, view: &Record) -> bool {
        self.lock_view().holds(view, self.clock.now_ms())
    }

    /// The policy while the store cannot be reached: consecutive failures trip at two
    /// at most. Blind, an instance cannot add its count to the fleet's, so each would
    /// otherwise run the whole threshold against a dependency that is down.
    fn blind_policy(&self) -> Policy {
        let mut p = self.policy.clone();
        if let TripPolicy::ConsecutiveFailures { threshold } = &mut p.trip {
            *threshold = (*threshold).min(BLIND_THRESHOLD);
        }
        p
    }

    /// How long an election may wait for the store: four store timeouts, but never more
    /// than a third of what is left before `deadline`, so the call keeps the rest.
    fn election_timeout_ms(&self, deadline: Instant) -> Millis {
        self.within_budget(self.settings.store_timeout_ms * 4, deadline)
    }

    /// `want_ms`, but never more than a third of what is left before `deadline`, nor
    /// less than the store timeout (or what is left, if less).
    fn within_budget(&self, want_ms: Millis, deadline: Instant) -> Millis {
        let base = self.settings.store_timeout_ms.max(1);
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as Millis;
        want_ms.min(left / 3).max(base.min(left))
    }

    /// Up to `spread` ms, the same for an instance and a moment (a seeded simulation
    /// replays it).
    fn jitter(&self, now: Millis, spread: Millis) -> Millis {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (&self.instance, now).hash(&mut h);
        (h.finish() % (spread.max(0) as u64 + 1)) as Millis
    }

    fn local_view(&self) -> Record {
        self.lock_view()
            .record
            .clone()
            .unwrap_or_else(|| Record::new(&self.name))
    }

    fn remember(&self, r: Record, now: Millis) {
        let mut v = self.lock_view();
        // A held local OPEN stays this instance's view (see `held`).
        if !v.holds(&r, now) {
            v.record = Some(r);
        }
        v.fetched_ms = now;
        v.store_down_until = 0;
        v.failing_since = None;
        v.failed_in_row = 0;
    }

    fn store_failed(&self, what: &str, e: &StoreError, now: Millis) {
        tracing::warn!(breaker = %self.name, op = what, error = %e, "breaker store failed; using local view");
        metrics::emit(
            &[("Breaker", &self.name)],
            &[metrics::count("BreakerStoreErrors", 1.0)],
        );
        // One total for the alarm, whatever the breaker.
        metrics::emit(&[], &[metrics::count("StateTableErrors", 1.0)]);
        let mut v = self.lock_view();
        v.failing_since.get_or_insert(now);
        v.failed_in_row = v.failed_in_row.saturating_add(1);
        v.store_down_until = now + self.settings.store_retry_ms;
        // A failed read is never cached: the local view keeps its old age.
    }

    fn won(&self, t: &Transition) {
        tracing::info!(
            breaker = %t.breaker,
            transition = %t.label(),
            generation = t.generation,
            failures = t.failures,
            "breaker transition won"
        );
        metrics::emit(
            &[("Breaker", &t.breaker), ("Transition", &t.label())],
            &[metrics::count("BreakerTransitions", 1.0)],
        );
        if let Ok(mut ts) = self.transitions.lock() {
            // Bounded: a caller that never takes them must not grow without end.
            if ts.len() >= 64 {
                ts.remove(0);
            }
            ts.push(t.clone());
        }
    }

    /// A token unique to one write of this instance.
    fn write_token(&self) -> String {
        format!(
            "{}:w{}",
            self.instance,
            self.seq.fetch_add(1, Ordering::Relaxed)
        )
    }

    fn lock_view(&self) -> std::sync::MutexGuard<'_, View> {
        // The view is plain data; a panic elsewhere cannot leave it half-written.
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn with_timeout<T>(
        &self,
        deadline: Instant,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.with_timeout_ms(deadline, self.store_wait_ms(deadline), fut)
            .await
    }

    /// How long the next store request may take: the store timeout, doubled after each
    /// request that timed out and kept while answers come slower than it, up to four
    /// times it, and never more than a third of what is left before `deadline`. A slow
    /// store is still the fleet's truth: waiting a little longer for it beats every
    /// instance deciding alone. A hanging one costs at most that, once per retry pause.
    fn store_wait_ms(&self, deadline: Instant) -> Millis {
        let level = self.lock_view().wait_level.min(MAX_WAIT_LEVEL);
        self.within_budget(self.settings.store_timeout_ms.max(1) << level, deadline)
    }

    async fn with_timeout_ms<T>(
        &self,
        deadline: Instant,
        wait_ms: Millis,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let cap = started + Duration::from_millis(wait_ms.max(1) as u64);
        let r = match tokio::time::timeout_at(cap.min(deadline), fut).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::Timeout),
        };
        let took = started.elapsed().as_millis() as Millis;
        let mut v = self.lock_view();
        match &r {
            Err(StoreError::Timeout) => v.wait_level = (v.wait_level + 1).min(MAX_WAIT_LEVEL),
            Ok(_) if took <= self.settings.store_timeout_ms => v.wait_level = 0,
            _ => {}
        }
        r
    }
}

fn instance_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}
