//! Property tests of the pure breaker machine over random event sequences. Several
//! instances act on views of different staleness; their writes go through the reference
//! semantics (`Op::apply`, via `MemoryStore`), as a strongly consistent store would.

use failsoft::breaker::{
    step, Applied, CallResult, Decision, Event, MemoryStore, Policy, Record, State, Ticket,
    Transition, TripPolicy,
};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Action {
    Admit(usize),
    Finish {
        inst: usize,
        pick: usize,
        ok: bool,
        slow: bool,
    },
    Refresh(usize),
    Advance(i64),
    ForceOpen,
    ForceClosed,
    Release,
}

fn action(operator: bool) -> impl Strategy<Value = Action> {
    let op_weight = if operator { 1 } else { 0 };
    prop_oneof![
        8 => (0..4usize).prop_map(Action::Admit),
        10 => (0..4usize, 0..8usize, prop::bool::weighted(0.6), prop::bool::weighted(0.1))
            .prop_map(|(inst, pick, ok, slow)| Action::Finish { inst, pick, ok, slow }),
        4 => (0..4usize).prop_map(Action::Refresh),
        3 => prop_oneof![Just(500i64), Just(5_000), Just(11_000), Just(31_000)].prop_map(Action::Advance),
        op_weight => Just(Action::ForceOpen),
        op_weight => Just(Action::ForceClosed),
        op_weight * 2 => Just(Action::Release),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (1..6u32, 1..4u32, 1..3u32, any::<bool>()).prop_map(|(threshold, successes, probes, rate)| {
        Policy {
            trip: if rate {
                TripPolicy::FailureRate {
                    rate: 0.5,
                    min_calls: 4,
                    window_ms: 60_000,
                    buckets: 6,
                }
            } else {
                TripPolicy::ConsecutiveFailures { threshold }
            },
            slow_call_ms: Some(1_000),
            recovery_timeout_ms: 30_000,
            success_threshold: successes,
            half_open_max_trials: probes,
            trial_lease_ms: 10_000,
            backoff: None,
            effects: Vec::new(),
        }
    })
}

fn allowed(from: State, to: State) -> bool {
    use State::*;
    match (from, to) {
        (a, b) if a == b => false,
        (_, ForcedOpen) | (_, ForcedClosed) => true,
        (Closed, Open) | (Open, HalfOpen) | (HalfOpen, Open) | (HalfOpen, Closed) => true,
        (ForcedOpen, Closed) | (ForcedClosed, Closed) => true,
        _ => false,
    }
}

struct World {
    store: MemoryStore,
    policy: Policy,
    now: i64,
    views: Vec<Record>,
    tickets: Vec<Vec<(Ticket, i64)>>,
    seq: u64,
    transitions: Vec<Transition>,
    open_episode: Option<String>,
}

const NAME: &str = "crm";

impl World {
    /// Apply one step's write; returns whether it won. Checks the transition invariants.
    fn write(
        &mut self,
        inst: Option<usize>,
        s: &failsoft::breaker::Step,
    ) -> Result<bool, TestCaseError> {
        let Some(op) = &s.op else { return Ok(false) };
        let before = self.store.get(NAME);
        let applied = self
            .store
            .apply_now(NAME, op)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let won = matches!(applied, Applied::Won(_));
        let after = applied.record().clone();
        if let Some(i) = inst {
            self.views[i] = after.clone();
        }
        if won {
            match &s.transition {
                Some(t) => {
                    prop_assert_eq!(
                        after.generation,
                        before.generation + 1,
                        "a transition bumps the generation once"
                    );
                    prop_assert!(allowed(t.from, t.to), "illegal edge {:?}", t);
                    prop_assert_eq!(t.from, before.state);
                    prop_assert_eq!(t.to, after.state);
                    if let Some(ended) = &t.ended_episode {
                        prop_assert_eq!(
                            Some(ended),
                            self.open_episode.as_ref(),
                            "ends the open episode"
                        );
                        self.open_episode = None;
                    }
                    if let Some(started) = &t.started_episode {
                        prop_assert!(
                            self.open_episode.is_none(),
                            "an episode starts only when none is open"
                        );
                        self.open_episode = Some(started.clone());
                    }
                    if t.from == State::Closed && t.to == State::Open {
                        match self.policy.trip {
                            TripPolicy::ConsecutiveFailures { threshold } => {
                                prop_assert!(
                                    t.failures >= threshold,
                                    "tripped below threshold: {:?}",
                                    t
                                )
                            }
                            TripPolicy::FailureRate { .. } => {
                                let w = before.window_totals(&self.policy, self.now);
                                prop_assert!(
                                    self.policy
                                        .rate_trips(u64::from(w.calls), u64::from(w.failures))
                                        || before.failures > 0,
                                    "rate trip without a tripping window"
                                );
                            }
                        }
                    }
                    self.transitions.push(t.clone());
                }
                None => prop_assert_eq!(
                    after.generation,
                    before.generation,
                    "only transitions change the generation"
                ),
            }
        } else {
            prop_assert_eq!(&after, &before, "a lost write changes nothing");
        }
        Ok(won)
    }

    fn check_record(&self) -> Result<(), TestCaseError> {
        let r = self.store.get(NAME);
        let live = r
            .trials
            .values()
            .filter(|l| l.generation == r.generation && l.expires_ms >= self.now)
            .count();
        prop_assert!(
            live as u32 <= self.policy.half_open_max_trials,
            "too many live probe leases: {:?}",
            r
        );
        if r.state != State::HalfOpen {
            prop_assert!(
                r.trials.values().all(|l| l.generation != r.generation),
                "probe lease outside HALF_OPEN"
            );
        }
        prop_assert_eq!(
            r.state.in_episode(),
            r.episode.is_some(),
            "episode set exactly while degraded or forced closed: {:?}",
            r
        );
        prop_assert_eq!(&r.episode, &self.open_episode);
        prop_assert_eq!(
            r.generation as usize,
            self.transitions.len(),
            "every generation came from one won transition"
        );
        // Unfinished probes of this generation admitted within a lease time never exceed
        // the limit, whatever the store holds now.
        let live_trials = self
            .tickets
            .iter()
            .flatten()
            .filter(|(t, at)| {
                t.trial.is_some()
                    && t.generation == r.generation
                    && self.now <= at + self.policy.trial_lease_ms
            })
            .count();
        prop_assert!(
            live_trials as u32 <= self.policy.half_open_max_trials,
            "{} live probes admitted, limit {}",
            live_trials,
            self.policy.half_open_max_trials
        );
        Ok(())
    }

    fn run(&mut self, a: &Action) -> Result<(), TestCaseError> {
        match a.clone() {
            Action::Admit(i) => {
                self.seq += 1;
                let ev = Event::Admit {
                    owner: format!("i{i}-{}", self.seq),
                };
                let s = step(&self.views[i], &ev, self.now, &self.policy);
                let won = self.write(Some(i), &s)?;
                if let Decision::Admit(t) = &s.decision {
                    if s.op.is_none() || won {
                        self.tickets[i].push((t.clone(), self.now));
                    }
                }
            }
            Action::Finish {
                inst,
                pick,
                ok,
                slow,
            } => {
                if self.tickets[inst].is_empty() {
                    return Ok(());
                }
                let idx = pick % self.tickets[inst].len();
                let (t, _) = self.tickets[inst].remove(idx);
                let before = self.store.get(NAME);
                let lease_lost = t
                    .trial
                    .as_ref()
                    .is_some_and(|p| !before.holds_lease(p.slot, &p.owner, self.now));
                let stale = t.generation != before.generation || lease_lost;
                let latency_ms = if slow { 5_000 } else { 10 };
                let result = if ok {
                    CallResult::Success { latency_ms }
                } else {
                    CallResult::Failure {
                        latency_ms,
                        error: "boom".into(),
                    }
                };
                let ev = Event::Outcome {
                    ticket: t,
                    result,
                    unflushed_calls: 0,
                };
                let s = step(&self.views[inst], &ev, self.now, &self.policy);
                let won = self.write(Some(inst), &s)?;
                if stale {
                    prop_assert!(
                        !won,
                        "a result from an older generation or an expired lease changed the store"
                    );
                }
                if won && s.transition.is_none() {
                    let view = self.views[inst].clone();
                    let e = step(&view, &Event::Evaluate, self.now, &self.policy);
                    self.write(Some(inst), &e)?;
                }
            }
            Action::Refresh(i) => self.views[i] = self.store.get(NAME),
            Action::Advance(ms) => self.now += ms,
            Action::ForceOpen | Action::ForceClosed | Action::Release => {
                let ev = match a {
                    Action::ForceOpen => Event::ForceOpen {
                        by: "op".into(),
                        until: None,
                    },
                    Action::ForceClosed => Event::ForceClosed {
                        by: "op".into(),
                        until: None,
                    },
                    _ => Event::Release { by: "op".into() },
                };
                let fresh = self.store.get(NAME);
                let s = step(&fresh, &ev, self.now, &self.policy);
                let won = self.write(None, &s)?;
                prop_assert!(
                    s.op.is_none() || won,
                    "an operator write on a fresh view wins"
                );
            }
        }
        self.check_record()
    }
}

fn run_history(policy: Policy, actions: &[Action]) -> Result<(), TestCaseError> {
    let mut w = World {
        store: MemoryStore::new(),
        policy,
        now: 1_000_000,
        views: vec![Record::new(NAME); 4],
        tickets: vec![Vec::new(); 4],
        seq: 0,
        transitions: Vec::new(),
        open_episode: None,
    };
    for a in actions {
        w.run(a)?;
    }
    if std::env::var("STATS").is_ok() {
        let labels: Vec<String> = w.transitions.iter().map(|t| t.label()).collect();
        eprintln!("STAT {}", labels.join(","));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_over_random_histories(policy in policy(), actions in prop::collection::vec(action(false), 1..200)) {
        run_history(policy, &actions)?;
    }

    #[test]
    fn invariants_hold_with_operator_commands(policy in policy(), actions in prop::collection::vec(action(true), 1..200)) {
        run_history(policy, &actions)?;
    }

    /// One instance, consecutive failures: it opens exactly at the threshold, and a
    /// success in between resets the count.
    #[test]
    fn opens_exactly_at_threshold(threshold in 1..8u32, reset_at in proptest::option::of(0..8u32)) {
        let policy = Policy { trip: TripPolicy::ConsecutiveFailures { threshold }, ..Policy::default() };
        let store = MemoryStore::new();
        let mut view = Record::new(NAME);
        let mut opened_after = None;
        let mut consecutive = 0;
        for i in 0..(threshold * 2 + 2) {
            let Decision::Admit(ticket) = step(&view, &Event::Admit { owner: "x".into() }, 0, &policy).decision else { break };
            let ok = reset_at == Some(i);
            let result = if ok { CallResult::Success { latency_ms: 1 } } else { CallResult::Failure { latency_ms: 1, error: "e".into() } };
            consecutive = if ok { 0 } else { consecutive + 1 };
            let s = step(&view, &Event::Outcome { ticket, result, unflushed_calls: 0 }, 0, &policy);
            if let Some(op) = &s.op {
                view = store.apply_now(NAME, op).map_err(|e| TestCaseError::fail(e.to_string()))?.record().clone();
            }
            if view.state == State::Open && opened_after.is_none() {
                opened_after = Some(consecutive);
            }
        }
        prop_assert_eq!(opened_after, Some(threshold));
    }
}

/// The OPEN→HALF_OPEN winner holds the probe; everyone else is refused until it reports.
#[test]
fn half_open_admits_one_trial_and_fences_late_results() {
    let policy = Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold: 1 },
        ..Policy::default()
    };
    let store = MemoryStore::new();
    let fail = |t: Ticket| Event::Outcome {
        ticket: t,
        result: CallResult::Failure {
            latency_ms: 1,
            error: "down".into(),
        },
        unflushed_calls: 0,
    };
    let apply = |s: &failsoft::breaker::Step| match &s.op {
        Some(op) => store
            .apply_now(NAME, op)
            .map(|a| a.record().clone())
            .unwrap_or_else(|_| Record::new(NAME)),
        None => store.get(NAME),
    };
    let Decision::Admit(t) = step(
        &Record::new(NAME),
        &Event::Admit { owner: "a".into() },
        0,
        &policy,
    )
    .decision
    else {
        panic!("closed breaker refused a call");
    };
    let open = apply(&step(&Record::new(NAME), &fail(t), 0, &policy));
    assert_eq!(open.state, State::Open);

    // Two instances see OPEN past its timeout; both try to take the probe.
    let later = 31_000;
    let a = step(&open, &Event::Admit { owner: "a".into() }, later, &policy);
    let b = step(&open, &Event::Admit { owner: "b".into() }, later, &policy);
    let after_a = apply(&a);
    assert_eq!(after_a.state, State::HalfOpen);
    let Some(op_b) = &b.op else {
        panic!("b should try the transition")
    };
    assert!(
        matches!(store.apply_now(NAME, op_b), Ok(Applied::Lost(_))),
        "second transition must lose"
    );
    let c = step(
        &after_a,
        &Event::Admit { owner: "c".into() },
        later,
        &policy,
    );
    assert_eq!(
        c.decision,
        Decision::Reject(failsoft::breaker::Rejection::HalfOpenBusy)
    );

    // The probe's lease expires; a new probe takes the slot; the old result is fenced.
    let Decision::Admit(old) = a.decision else {
        panic!("a was not admitted")
    };
    let expired = later + policy.trial_lease_ms + 1;
    let d = step(
        &after_a,
        &Event::Admit { owner: "d".into() },
        expired,
        &policy,
    );
    let after_d = apply(&d);
    assert!(after_d.holds_lease(0, "d", expired));
    let late = step(&after_d, &fail(old), expired, &policy);
    assert_eq!(late.decision, Decision::Stale);
    assert!(late.op.is_none());
    assert_eq!(store.get(NAME).state, State::HalfOpen);
}
