//! The automatic regional overflow, model-checked with stateright.
//!
//! Two executors carry out the activation and the restore of each episode of one
//! `OVERFLOW_AUTO_ON` breaker with the real decision (`overflow::step::decide`), under
//! the claim on `overflow#switch`, mirroring `Overflow::attempt` and `claimed` step by
//! step: claim, read the group, decide, note the intent, PUT, confirm, record, page. The
//! item's conditional writes (claim, intend, save, release) are the few conditions of
//! `record.rs`, stated here.
//!
//! The world: a breaker that trips, closes and re-trips at any point; Genesys with
//! versions (a stale PUT is refused); PUTs whose answer is lost after they landed, or
//! before; a person who switches the group in Architect at any time; executors that
//! crash in any phase; and time, in which a claim runs out.
//!
//! Timing assumption, stated: a claim lasts the switch's budget and a margin, and a PUT
//! is abandoned within the budget: time does not pass a claim's end while a PUT under
//! it is in flight.
//!
//! `FAILSOFT_OVERFLOW_MODEL_DEPTH` deepens the search.

use std::collections::BTreeSet;
use std::time::Instant;

use failsoft::clock::Millis;
use failsoft::overflow::record::{Intent, Mode, Switch};
use failsoft::overflow::step::{decide, decide_confirm_only, Seen, Step};
use stateright::{Checker, Model, Property};

const GROUP: &str = "eg-1";
const TICK: Millis = 30_000;
/// The claim: the budget (45 s) and the margin (30 s).
const CLAIM_MS: Millis = 75_000;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    Activate(u64),
    Restore(u64),
}

impl Task {
    fn enabled(self) -> bool {
        matches!(self, Task::Activate(_))
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Begun: is the action still called for?
    Start(Task),
    /// Claimed: the last switch and an intent, as the claim returned them;
    /// `confirm_only`: an activation whose outage ended (`decide_confirm_only`).
    Claimed {
        task: Task,
        last: Option<Switch>,
        intent: Option<Intent>,
        confirm_only: bool,
    },
    /// The intent noted; the PUT from `from` goes next.
    Putting {
        task: Task,
        from: i64,
    },
    /// Made: the version it produced; recorded and paged next.
    Confirming {
        task: Task,
        version: i64,
    },
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Executor {
    phase: Phase,
    life: u8,
}

#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
struct Ghost {
    /// The group is enabled by our PUT, and nobody changed it since.
    ours_on: bool,
    /// Our PUT disabled a group that was not ours to disable.
    bad_off: bool,
    /// Switches of ours that landed (`landed`), and the activations among them not yet
    /// paged (`owed`): a page pays one; a person's switch settles them (they know).
    landed: u8,
    owed: u8,
    person: bool,
    /// A person switched the group while our intended PUT had not landed, at the
    /// version it was sent from: their switch looks like ours, the known limit of the
    /// intent (docs/reliability.md).
    ambiguous: bool,
    person_acts: u8,
    breaker_acts: u8,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct World {
    now: Millis,
    enabled: bool,
    version: i64,
    last: Option<Switch>,
    intent: Option<Intent>,
    claim: Option<(String, Millis)>,
    degraded: bool,
    generation: u64,
    pending: BTreeSet<Task>,
    executors: Vec<Executor>,
    ghost: Ghost,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum PutEnd {
    Answered,
    LandedLost,
    Lost,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Act {
    Tick,
    Trip,
    Close,
    Person,
    Begin(usize, Task),
    Step(usize),
    Put(usize, PutEnd),
    Crash(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Broken {
    /// A retry takes a group found as asked for someone else's (no intent).
    ForgetIntent,
    /// A restore undoes the group whatever its version.
    IgnoreVersion,
}

struct Overflow {
    max_time: Millis,
    max_person: u8,
    max_breaker: u8,
    liveness: bool,
    broken: Option<Broken>,
}

fn owner(w: &World, i: usize) -> String {
    format!("e{i}.{}", w.executors[i].life)
}

impl Overflow {
    fn finish(&self, w: &mut World, i: usize, task: Task) {
        w.executors[i].phase = Phase::Idle;
        w.pending.remove(&task);
    }

    /// The attempt failed: the claim is let go (`attempt`), the task stays.
    fn failed(&self, w: &mut World, i: usize) {
        let me = owner(w, i);
        if w.claim.as_ref().is_some_and(|(o, _)| *o == me) {
            w.claim = None;
        }
        w.executors[i].phase = Phase::Idle;
    }

    /// `Switches::save`: recorded if the claim is still ours; the claim let go.
    fn save(&self, w: &mut World, i: usize, mode: Mode, enabled: bool, version: i64) {
        let me = owner(w, i);
        if w.claim.as_ref().is_some_and(|(o, _)| *o == me) {
            w.last = Some(Switch {
                group_id: GROUP.into(),
                group_name: "Regional overflow".into(),
                enabled,
                version,
                mode,
                by: "failsoft".into(),
                reason: String::new(),
                at_ms: 0,
                ivrs: 3,
                note: None,
            });
            w.intent = None;
            w.claim = None;
        }
    }

    fn step(&self, w: &mut World, i: usize) {
        let me = owner(w, i);
        match w.executors[i].phase.clone() {
            Phase::Idle | Phase::Putting { .. } => {}
            Phase::Start(task) => {
                let moved_on = task.enabled() != w.degraded;
                if moved_on && !task.enabled() {
                    return self.finish(w, i, task);
                }
                // `Switches::claim`: free, run out, or ours.
                let free = w
                    .claim
                    .as_ref()
                    .is_none_or(|(o, until)| *until < w.now || *o == me);
                if !free {
                    return self.failed(w, i);
                }
                w.claim = Some((me, w.now + CLAIM_MS));
                let intent = match self.broken {
                    Some(Broken::ForgetIntent) => None,
                    _ => w.intent.clone(),
                };
                w.executors[i].phase = Phase::Claimed {
                    task,
                    last: w.last.clone(),
                    intent,
                    confirm_only: moved_on,
                };
            }
            Phase::Claimed {
                task,
                last,
                intent,
                confirm_only,
            } => {
                // An attempt ends by its deadline, well inside its claim: one whose claim
                // ran out (a slow executor) has given up.
                if w.claim
                    .as_ref()
                    .is_none_or(|(o, until)| *o != me || *until < w.now)
                {
                    return self.failed(w, i);
                }
                let seen = Seen {
                    id: GROUP.into(),
                    enabled: w.enabled,
                    version: w.version,
                };
                let mut last = last;
                if self.broken == Some(Broken::IgnoreVersion) {
                    if let Some(l) = last.as_mut() {
                        l.version = w.version;
                    }
                }
                let step = match confirm_only {
                    true => decide_confirm_only(&seen, last.as_ref(), intent.as_ref()),
                    false => decide(
                        Mode::Auto,
                        task.enabled(),
                        &seen,
                        last.as_ref(),
                        intent.as_ref(),
                    ),
                };
                match step.clone() {
                    Step::Confirm => {
                        w.executors[i].phase = Phase::Confirming {
                            task,
                            version: intent.as_ref().map_or(w.version, |i| i.from_version + 1),
                        }
                    }
                    Step::Release { .. } => {
                        if w.claim.as_ref().is_some_and(|(o, _)| *o == me) {
                            w.claim = None;
                        }
                        self.finish(w, i, task);
                    }
                    Step::Reverted { .. } => {
                        self.save(w, i, Mode::Left, w.enabled, w.version);
                        w.ghost.owed = w.ghost.owed.saturating_sub(1);
                        self.finish(w, i, task);
                    }
                    Step::Leave { .. } => {
                        self.save(w, i, Mode::Left, w.enabled, w.version);
                        self.finish(w, i, task);
                    }
                    // Recorded as our activation and paged; the retry restores it.
                    Step::Undo => {
                        self.save(w, i, Mode::Auto, true, w.version);
                        w.ghost.owed = w.ghost.owed.saturating_sub(1);
                        self.failed(w, i);
                    }
                    Step::Put => {
                        // `intend`, under the claim.
                        if w.claim.as_ref().is_none_or(|(o, _)| *o != me) {
                            return self.failed(w, i);
                        }
                        w.intent = Some(Intent {
                            group_id: GROUP.into(),
                            enabled: task.enabled(),
                            from_version: w.version,
                            at_ms: w.now,
                        });
                        w.executors[i].phase = Phase::Putting {
                            task,
                            from: w.version,
                        };
                    }
                }
            }
            Phase::Confirming { task, version } => {
                self.save(w, i, Mode::Auto, task.enabled(), version);
                // The page goes whether or not the record could be saved.
                w.ghost.owed = w.ghost.owed.saturating_sub(1);
                self.finish(w, i, task);
            }
        }
    }

    /// Genesys receives our PUT: made if its version is current.
    fn land(&self, w: &mut World, enabled: bool, from: i64) -> bool {
        if w.version != from {
            return false;
        }
        if enabled {
            w.ghost.ours_on = !w.enabled;
        } else {
            if w.enabled && !w.ghost.ours_on && !w.ghost.ambiguous {
                w.ghost.bad_off = true;
            }
            w.ghost.ours_on = false;
        }
        if w.enabled != enabled {
            w.ghost.landed += 1;
        }
        // An activation owes its page. (A restore's page resolves the incident; one
        // lost to a re-trip that enables again at once leaves it open, rightly.)
        if enabled && !w.enabled {
            w.ghost.owed += 1;
        }
        w.enabled = enabled;
        w.version += 1;
        true
    }

    fn put(&self, w: &mut World, i: usize, end: PutEnd) {
        let Phase::Putting { task, from } = w.executors[i].phase.clone() else {
            return;
        };
        match end {
            PutEnd::Answered => {
                if self.land(w, task.enabled(), from) {
                    // The read after it confirms; the version our PUT produced.
                    w.executors[i].phase = Phase::Confirming {
                        task,
                        version: from + 1,
                    };
                } else {
                    // A stale version: read again and decide again, under the claim.
                    w.executors[i].phase = Phase::Claimed {
                        task,
                        last: w.last.clone(),
                        intent: None,
                        confirm_only: false,
                    };
                }
            }
            PutEnd::LandedLost => {
                self.land(w, task.enabled(), from);
                self.failed(w, i);
            }
            PutEnd::Lost => self.failed(w, i),
        }
    }

    /// A fair future: nobody touches the group, every PUT is answered, nobody crashes,
    /// the outage ends, and executor 0 runs each pending action, claims running out.
    fn settle(&self, w: &World) -> World {
        let mut w = w.clone();
        for _ in 0..100 {
            if let Some(i) = w
                .executors
                .iter()
                .position(|e| matches!(e.phase, Phase::Putting { .. }))
            {
                w = self
                    .next_state(&w, Act::Put(i, PutEnd::Answered))
                    .unwrap_or(w);
                continue;
            }
            if let Some(i) = w.executors.iter().position(|e| e.phase != Phase::Idle) {
                w = self.next_state(&w, Act::Step(i)).unwrap_or(w);
                continue;
            }
            if w.degraded {
                let mut next = w.clone();
                next.degraded = false;
                next.pending.retain(|t| !t.enabled());
                next.pending.insert(Task::Restore(next.generation));
                w = next;
                continue;
            }
            let Some(task) = w.pending.iter().next().copied() else {
                break;
            };
            w = self.next_state(&w, Act::Begin(0, task)).unwrap_or(w);
            for _ in 0..8 {
                w = match w.executors[0].phase {
                    Phase::Idle => break,
                    Phase::Putting { .. } => self.next_state(&w, Act::Put(0, PutEnd::Answered)),
                    _ => self.next_state(&w, Act::Step(0)),
                }
                .unwrap_or(w);
            }
            // Not done (a claim still held by an executor that died): time passes.
            if w.pending.contains(&task) {
                w.now += TICK;
            }
        }
        w
    }
}

impl Model for Overflow {
    type State = World;
    type Action = Act;

    fn init_states(&self) -> Vec<World> {
        let fresh = World {
            now: 0,
            enabled: false,
            version: 1,
            last: None,
            intent: None,
            claim: None,
            degraded: false,
            generation: 0,
            pending: BTreeSet::new(),
            executors: (0..2)
                .map(|_| Executor {
                    phase: Phase::Idle,
                    life: 0,
                })
                .collect(),
            ghost: Ghost::default(),
        };
        let tripped = self.next_state(&fresh, Act::Trip).unwrap_or(fresh.clone());
        let mut on = tripped.clone();
        on = self
            .next_state(&on, Act::Begin(0, Task::Activate(1)))
            .unwrap_or(on);
        for _ in 0..6 {
            on = match on.executors[0].phase {
                Phase::Putting { .. } => self.next_state(&on, Act::Put(0, PutEnd::Answered)),
                Phase::Idle => break,
                _ => self.next_state(&on, Act::Step(0)),
            }
            .unwrap_or(on);
        }
        let recovered = self.next_state(&on, Act::Close).unwrap_or(on.clone());
        let mut w = vec![fresh, tripped, on, recovered];
        for s in &mut w {
            s.ghost.breaker_acts = 0;
        }
        w
    }

    fn actions(&self, w: &World, out: &mut Vec<Act>) {
        let putting = w
            .executors
            .iter()
            .any(|e| matches!(e.phase, Phase::Putting { .. }));
        if !putting {
            out.push(Act::Tick);
        }
        if w.ghost.breaker_acts < self.max_breaker {
            out.push(if w.degraded { Act::Close } else { Act::Trip });
        }
        if w.ghost.person_acts < self.max_person {
            out.push(Act::Person);
        }
        for (i, e) in w.executors.iter().enumerate() {
            match &e.phase {
                Phase::Idle => {
                    for t in &w.pending {
                        out.push(Act::Begin(i, *t));
                    }
                }
                Phase::Putting { .. } => {
                    out.push(Act::Put(i, PutEnd::Answered));
                    out.push(Act::Put(i, PutEnd::LandedLost));
                    out.push(Act::Put(i, PutEnd::Lost));
                }
                _ => {
                    out.push(Act::Step(i));
                    out.push(Act::Crash(i));
                }
            }
        }
    }

    fn next_state(&self, last: &World, act: Act) -> Option<World> {
        let mut w = last.clone();
        let running = |w: &World| -> BTreeSet<Task> {
            w.executors
                .iter()
                .filter_map(|e| match &e.phase {
                    Phase::Idle => None,
                    Phase::Start(t) => Some(*t),
                    Phase::Claimed { task, .. }
                    | Phase::Putting { task, .. }
                    | Phase::Confirming { task, .. } => Some(*task),
                })
                .collect()
        };
        match act {
            Act::Tick => w.now += TICK,
            Act::Trip => {
                w.degraded = true;
                w.generation += 1;
                w.ghost.breaker_acts += 1;
                let run = running(&w);
                w.pending.retain(|t| t.enabled() || run.contains(t));
                w.pending.insert(Task::Activate(w.generation));
            }
            Act::Close => {
                w.degraded = false;
                w.ghost.breaker_acts += 1;
                let run = running(&w);
                w.pending.retain(|t| !t.enabled() || run.contains(t));
                w.pending.insert(Task::Restore(w.generation));
            }
            Act::Person => {
                w.ghost.person_acts += 1;
                w.ghost.person = true;
                w.ghost.ambiguous |= w
                    .intent
                    .as_ref()
                    .is_some_and(|i| i.from_version == w.version);
                w.ghost.ours_on = false;
                w.ghost.owed = 0;
                w.enabled = !w.enabled;
                w.version += 1;
            }
            Act::Begin(i, task) => {
                if w.executors[i].phase != Phase::Idle || !w.pending.contains(&task) {
                    return None;
                }
                w.executors[i].phase = Phase::Start(task);
            }
            Act::Step(i) => self.step(&mut w, i),
            Act::Put(i, end) => self.put(&mut w, i, end),
            Act::Crash(i) => {
                w.executors[i].phase = Phase::Idle;
                w.executors[i].life += 1;
            }
        }
        Some(w)
    }

    fn within_boundary(&self, w: &World) -> bool {
        w.now <= self.max_time
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut props = vec![
            Property::always(
                "never disables a group that is not its own",
                |_, w: &World| !w.ghost.bad_off,
            ),
            Property::sometimes("an outage is overflowed and restored", |_, w: &World| {
                w.ghost.landed >= 2 && !w.enabled && w.pending.is_empty()
            }),
        ];
        if self.liveness {
            props.push(Property::always(
                "every activation paged; restored unless a person took it over",
                |m: &Overflow, w: &World| {
                    let s = m.settle(w);
                    s.pending.is_empty() && s.ghost.owed == 0 && (s.ghost.person || !s.enabled)
                },
            ));
        }
        props
    }
}

fn depth() -> usize {
    std::env::var("FAILSOFT_OVERFLOW_MODEL_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(10)
}

fn model(broken: Option<Broken>) -> Overflow {
    Overflow {
        max_time: 6 * TICK,
        max_person: 1,
        max_breaker: 2,
        liveness: true,
        broken,
    }
}

fn describe(path: stateright::Path<World, Act>) -> String {
    let states = path.clone().into_states();
    let actions = path.into_actions();
    let line = |w: &World| {
        format!(
            "t={} {} g{} group {} v{} | last {:?} intent {:?} claim {:?} | {:?} | pending {:?} | landed {} unpaged {}",
            w.now / 1000,
            if w.degraded { "OPEN" } else { "closed" },
            w.generation,
            if w.enabled { "ON" } else { "off" },
            w.version,
            w.last.as_ref().map(|l| (l.mode, l.enabled, l.version)),
            w.intent.as_ref().map(|i| (i.enabled, i.from_version)),
            w.claim,
            w.executors.iter().map(|e| &e.phase).collect::<Vec<_>>(),
            w.pending,
            w.ghost.landed,
            w.ghost.owed,
        )
    };
    let mut out = format!("  start: {}\n", line(&states[0]));
    for (a, w) in actions.iter().zip(&states[1..]) {
        out.push_str(&format!("  {a:?}: {}\n", line(w)));
    }
    out
}

#[test]
fn the_automatic_overflow_keeps_its_invariants() {
    let started = Instant::now();
    let checker = model(None)
        .checker()
        .threads(2)
        .target_max_depth(depth())
        .spawn_bfs()
        .join();
    eprintln!(
        "overflow model: {} states, depth {}, {:.1} s",
        checker.unique_state_count(),
        checker.max_depth(),
        started.elapsed().as_secs_f64()
    );
    for name in [
        "never disables a group that is not its own",
        "every activation paged; restored unless a person took it over",
    ] {
        if let Some(path) = checker.discovery(name) {
            panic!("{name}: counterexample\n{}", describe(path));
        }
    }
    assert!(
        checker
            .discovery("an outage is overflowed and restored")
            .is_some(),
        "the search never got as far as a restore"
    );
}

/// Each condition broken, one at a time, is found.
#[test]
fn each_broken_overflow_condition_is_found() {
    for (broken, property) in [
        (
            Broken::ForgetIntent,
            "every activation paged; restored unless a person took it over",
        ),
        (
            Broken::IgnoreVersion,
            "never disables a group that is not its own",
        ),
    ] {
        let checker = model(Some(broken))
            .checker()
            .threads(2)
            .target_max_depth(depth() + 2)
            .finish_when(stateright::HasDiscoveries::AnyOf(BTreeSet::from([
                property,
            ])))
            .spawn_bfs()
            .join();
        let path = checker
            .discovery(property)
            .unwrap_or_else(|| panic!("{broken:?}: no counterexample to \"{property}\""));
        eprintln!("{broken:?} breaks \"{property}\":\n{}", describe(path));
    }
}
