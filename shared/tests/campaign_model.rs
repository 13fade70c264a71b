//! The campaign pause, model-checked with stateright.
//!
//! Two executors (the stream function and the probe's backstop) carry out the pause and
//! the resume of each episode with the real decisions (`campaign::step::pause`,
//! `resume`, `after_off`, `after_on`) against one ledger item that changes only by the
//! real `Write::apply`: nothing here re-models them. The loop that carries steps out
//! mirrors `Campaigns::drive` step by step (one ledger write, one Genesys read or one
//! PUT per model step), so that everything else can happen in between.
//!
//! The world around them: a breaker that trips, closes and re-trips at any point
//! (episodes by generation; a resume not yet begun is cancelled by a new outage, a
//! pause by recovery); Genesys with versions (a PUT from a stale version is refused),
//! `stopping` before `off`, answers lost after the change landed or before it, and
//! refusals that say it did not land; a person who switches the campaign at any time;
//! a campaign deleted; executors that crash in any phase, run slowly (every other step
//! can come between two of theirs) or run the same action at once (a claim that ran out
//! under a slow holder); and time, in which a resume's claim runs out.
//!
//! Timing assumption, stated: a resume sends its PUT only with at least
//! `CLAIM_MARGIN_MS` of its claim left and bounds it by half that, so its PUT lands or
//! is abandoned before the claim ends. Time does not pass a claim's end while a PUT
//! under it is in flight.
//!
//! `FAILSOFT_CAMPAIGN_MODEL_DEPTH` deepens the search (docs/reliability.md gives the
//! figures).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use failsoft::campaign::api::Kind;
use failsoft::campaign::step::{
    self, after_off, after_on, Answer, Entry, Mark, Seen, Stage, Status, Step, Write,
    CLAIM_MARGIN_MS, PUT_BOUND_MS,
};
use failsoft::clock::Millis;
use stateright::{Checker, Model, Property};

const BREAKER: &str = "crm";
const TICK: Millis = 30_000;
const CLAIM_MS: Millis = 120_000;
/// Steps per drive, as `Campaigns::drive` allows.
const MAX_STEPS: u8 = 16;

/// The campaign as Genesys holds it.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Campaign {
    status: Status,
    version: i64,
    exists: bool,
}

/// An action of the breaker's outbox: the pause or the resume of one episode.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
enum Task {
    Pause(u64),
    Resume(u64),
}

/// Where a pause is in `Campaigns::pause`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum Part {
    /// Hold what the ledger has.
    Join,
    /// List what is `on`, and claim it.
    List,
    /// See each entry settle.
    Settle,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Begun: the record is read next (is the action still called for?).
    Start(Task),
    /// A pause at `part`, before it touches the entry.
    Pause(u64, Part),
    /// Driving the entry: its local copy, what was read of the campaign, and whether a
    /// PUT failed in this attempt.
    Drive {
        task: Task,
        part: Part,
        entry: Option<Entry>,
        seen: Option<Seen>,
        failed: bool,
        steps: u8,
    },
    /// A PUT sent from `from`, to `on` or `off`; `claim`: the resume claim it runs
    /// under; it lands or is abandoned by `until`.
    Put {
        task: Task,
        part: Part,
        entry: Entry,
        on: bool,
        from: i64,
        claim: Option<(String, Millis)>,
        until: Millis,
        steps: u8,
    },
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Executor {
    phase: Phase,
    life: u8,
}

/// History facts, for the properties.
#[derive(Clone, Debug, Default, Hash, PartialEq, Eq)]
struct Ghost {
    /// Our `off` landed on the campaign `on`, and nobody changed it since.
    ours: bool,
    /// A person switched it while our unanswered PUT had not landed: their change looks
    /// like ours, the one case the rule cannot see (docs/reliability.md).
    ambiguous: bool,
    /// `on` because our PUT made it so, and nothing changed it since.
    on_by_us: bool,
    /// Our `on` landed on a campaign that was not ours to turn on.
    bad_on: bool,
    /// Resume claims under which an `on` landed.
    on_claims: BTreeSet<(String, Millis)>,
    /// Two `on`s under one claim.
    twice: bool,
    /// The generation whose pause completed while its outage lasted.
    pause_done: Option<u64>,
    person_acts: u8,
    breaker_acts: u8,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct World {
    now: Millis,
    campaign: Campaign,
    ledger: Option<Entry>,
    /// The index's `over#crm`: the last episode whose recovery began.
    over: u64,
    degraded: bool,
    generation: u64,
    /// The outbox's campaign actions.
    pending: BTreeSet<Task>,
    executors: Vec<Executor>,
    ghost: Ghost,
}

/// How a PUT ends, from Genesys and from its sender.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum PutEnd {
    /// Made (or refused for its version) and answered.
    Answered,
    /// Made, and the answer lost (timeout, reset, a 5xx after the change).
    LandedLost,
    /// Never made, and no answer that says so.
    Lost,
    /// Refused without being made, and told (429, 403).
    NotNow,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
enum Act {
    Tick,
    Trip,
    Close,
    /// A person switches the campaign.
    Person,
    /// Genesys finishes stopping it.
    Stopped,
    Delete,
    Begin(usize, Task),
    Step(usize),
    Put(usize, PutEnd),
    Crash(usize),
}

/// A condition of the real code, broken on purpose to show the model finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Broken {
    /// A resume lets go of every hold of its breaker, whatever the episode (the holds
    /// were breaker names).
    ReleaseAnyEpisode,
    /// A pausing entry found `off` is taken for ours even when no PUT of ours went out.
    AdoptAnyOff,
    /// The pause counts a campaign being resumed as settled, instead of waiting.
    SkipRunningResume,
}

struct Campaigns {
    executors: usize,
    max_time: Millis,
    max_person: u8,
    max_breaker: u8,
    deletable: bool,
    liveness: bool,
    broken: Option<Broken>,
}

fn owner(w: &World, i: usize) -> String {
    format!("e{i}.{}", w.executors[i].life)
}

impl Campaigns {
    /// The real decision, with the one condition broken if asked.
    fn decide(&self, w: &World, i: usize, task: Task, e: &Entry, seen: Option<Seen>) -> Step {
        let me = owner(w, i);
        match task {
            Task::Pause(g) => {
                let s = step::pause(e, BREAKER, g, seen, w.now);
                match (self.broken, &s) {
                    (Some(Broken::AdoptAnyOff), Step::Write(Write::Forget))
                        if e.mark == Mark::Unsent =>
                    {
                        match seen {
                            Some(Seen::At {
                                status: Status::Off,
                                version,
                                ..
                            }) => Step::Write(Write::Paused { version }),
                            _ => s,
                        }
                    }
                    (Some(Broken::SkipRunningResume), Step::Wait) if e.stage == Stage::Resuming => {
                        Step::Settled
                    }
                    _ => s,
                }
            }
            Task::Resume(g) => {
                let g = match self.broken {
                    Some(Broken::ReleaseAnyEpisode) => u64::MAX,
                    _ => g,
                };
                step::resume(e, BREAKER, g, &me, seen, w.now, CLAIM_MS)
            }
        }
    }

    /// Apply `write` to the ledger item; the item as the writer learns it (its own
    /// result, or a fresh read when the condition did not hold), and whether it applied.
    fn write(&self, w: &mut World, write: &Write, rev: u64) -> (Option<Entry>, bool) {
        let over = BTreeMap::from([(BREAKER.to_string(), w.over)]);
        match write.apply(w.ledger.as_ref(), rev, &over) {
            Some(after) => {
                if after.is_none() {
                    w.ghost.ambiguous = false;
                }
                w.ledger = after.clone();
                (after, true)
            }
            None => (w.ledger.clone(), false),
        }
    }

    fn read(&self, w: &World) -> Seen {
        match w.campaign.exists {
            false => Seen::Gone,
            true => Seen::At {
                status: w.campaign.status,
                version: w.campaign.version,
                read_ms: w.now,
            },
        }
    }

    /// The campaign changes by somebody else's hand.
    fn changed(&self, w: &mut World) {
        w.ghost.ours = false;
        w.ghost.on_by_us = false;
    }

    /// The task is done: it leaves the outbox.
    fn finish(&self, w: &mut World, i: usize, task: Task) {
        w.executors[i].phase = Phase::Idle;
        w.pending.remove(&task);
        if let Task::Pause(g) = task {
            if w.degraded && g == w.generation {
                w.ghost.pause_done = Some(g);
            }
        }
    }

    /// The attempt ends without finishing: the task stays for a later run.
    fn later(&self, w: &mut World, i: usize) {
        w.executors[i].phase = Phase::Idle;
    }

    /// A pause moves to its next part, or is done.
    fn next_part(&self, w: &mut World, i: usize, task: Task, part: Part, failed: bool) {
        match (task, part) {
            (_, _) if failed => self.later(w, i),
            (Task::Pause(g), Part::Join) => w.executors[i].phase = Phase::Pause(g, Part::List),
            (Task::Pause(g), Part::List) => w.executors[i].phase = Phase::Pause(g, Part::Settle),
            _ => self.finish(w, i, task),
        }
    }

    fn begin(&self, w: &mut World, i: usize, task: Task) {
        // The record as read now: is the action still called for?
        let called_for = match task {
            Task::Pause(_) => w.degraded,
            Task::Resume(_) => !w.degraded,
        };
        if !called_for {
            return self.finish(w, i, task);
        }
        w.executors[i].phase = match task {
            Task::Pause(g) => Phase::Pause(g, Part::Join),
            Task::Resume(g) => {
                // `Ledger::end`, its first write.
                w.over = w.over.max(g);
                Phase::Drive {
                    task,
                    part: Part::Settle,
                    entry: w.ledger.clone(),
                    seen: None,
                    failed: false,
                    steps: 0,
                }
            }
        };
    }

    /// One step of executor `i`.
    fn step(&self, w: &mut World, i: usize) {
        match w.executors[i].phase.clone() {
            Phase::Idle | Phase::Put { .. } => {}
            Phase::Start(task) => self.begin(w, i, task),
            Phase::Pause(g, Part::Join) => {
                // Hold what the ledger has (only the join, as `pause` does first).
                let task = Task::Pause(g);
                if let Some(e) = w.ledger.clone() {
                    if let Step::Write(j @ Write::Join { .. }) = self.decide(w, i, task, &e, None) {
                        self.write(w, &j, e.rev);
                    }
                }
                self.next_part(w, i, task, Part::Join, false);
            }
            Phase::Pause(g, Part::List) => {
                let task = Task::Pause(g);
                let seen = self.read(w);
                let on = matches!(
                    seen,
                    Seen::At {
                        status: Status::On,
                        ..
                    }
                );
                if !on {
                    return self.next_part(w, i, task, Part::List, false);
                }
                let claim = Write::Claim {
                    kind: Kind::Voice,
                    id: "c".into(),
                    name: "c".into(),
                    breaker: BREAKER.into(),
                    generation: g,
                    now: w.now,
                };
                match self.write(w, &claim, 0) {
                    (entry, true) => {
                        w.executors[i].phase = Phase::Drive {
                            task,
                            part: Part::List,
                            entry,
                            seen: Some(seen),
                            failed: false,
                            steps: 0,
                        }
                    }
                    _ => self.next_part(w, i, task, Part::List, false),
                }
            }
            Phase::Pause(g, Part::Settle) => {
                w.executors[i].phase = Phase::Drive {
                    task: Task::Pause(g),
                    part: Part::Settle,
                    entry: w.ledger.clone(),
                    seen: None,
                    failed: false,
                    steps: 0,
                };
            }
            Phase::Drive {
                task,
                part,
                entry,
                seen,
                failed,
                steps,
            } => self.drive(w, i, task, part, entry, seen, failed, steps),
        }
    }

    /// One round of `Campaigns::drive`.
    #[allow(clippy::too_many_arguments)]
    fn drive(
        &self,
        w: &mut World,
        i: usize,
        task: Task,
        part: Part,
        entry: Option<Entry>,
        seen: Option<Seen>,
        failed: bool,
        steps: u8,
    ) {
        let Some(e) = entry else {
            return self.next_part(w, i, task, part, failed);
        };
        if steps >= MAX_STEPS {
            return self.next_part(w, i, task, part, failed);
        }
        let drive = |entry, seen| Phase::Drive {
            task,
            part,
            entry,
            seen,
            failed,
            steps: steps + 1,
        };
        match self.decide(w, i, task, &e, seen) {
            Step::Settled => self.next_part(w, i, task, part, failed),
            Step::Wait => self.later(w, i),
            Step::Read => {
                let seen = self.read(w);
                w.executors[i].phase = drive(Some(e), Some(seen));
            }
            Step::Write(write) => {
                let keep = matches!(
                    write,
                    Write::Claim { .. }
                        | Write::Join { .. }
                        | Write::Release { .. }
                        | Write::Unsent
                        | Write::Sent { .. }
                );
                let (after, applied) = self.write(w, &write, e.rev);
                if !applied && matches!(write, Write::Join { .. }) {
                    return self.next_part(w, i, task, part, failed);
                }
                w.executors[i].phase = drive(after, if keep && applied { seen } else { None });
            }
            Step::TurnOff | Step::TurnOn if failed => self.later(w, i),
            Step::TurnOff => {
                let Some(Seen::At { version, .. }) = seen else {
                    return self.later(w, i);
                };
                let sent = Write::Sent { version, at: w.now };
                match self.write(w, &sent, e.rev) {
                    (Some(e), true) => {
                        w.executors[i].phase = Phase::Put {
                            task,
                            part,
                            entry: e,
                            on: false,
                            from: version,
                            claim: None,
                            until: w.now + PUT_BOUND_MS,
                            steps: steps + 1,
                        }
                    }
                    (after, _) => w.executors[i].phase = drive(after, None),
                }
            }
            Step::TurnOn => {
                let Some(Seen::At { version, .. }) = seen else {
                    return self.later(w, i);
                };
                let claim = e.owner.clone().map(|o| (o, e.claim_until));
                let until = e.claim_until - CLAIM_MARGIN_MS / 2;
                w.executors[i].phase = Phase::Put {
                    task,
                    part,
                    entry: e,
                    on: true,
                    from: version,
                    claim,
                    until,
                    steps: steps + 1,
                };
            }
        }
    }

    /// Genesys receives our PUT: made if its version is current and the transition is
    /// allowed. The answer it would give.
    fn land(&self, w: &mut World, on: bool, from: i64, claim: &Option<(String, Millis)>) -> Answer {
        let c = &mut w.campaign;
        if !c.exists {
            return Answer::Refused;
        }
        if c.version != from {
            return Answer::Conflict;
        }
        let next = match (c.status, on) {
            (Status::On, false) => Status::Stopping,
            (Status::Off, true) => Status::On,
            (s, false) if s == Status::Off || s == Status::Stopping => s,
            (Status::On, true) => Status::On,
            _ => return Answer::Refused,
        };
        let was = c.status;
        c.status = next;
        c.version += 1;
        let g = &mut w.ghost;
        if on {
            if !g.ours && !g.ambiguous {
                g.bad_on = true;
            }
            if let Some(cl) = claim {
                if !g.on_claims.insert(cl.clone()) {
                    g.twice = true;
                }
            }
            g.ours = false;
            g.on_by_us = was != Status::On;
        } else {
            if was == Status::On {
                g.ours = true;
            }
            g.on_by_us = false;
        }
        Answer::Accepted
    }

    fn put(&self, w: &mut World, i: usize, end: PutEnd) {
        let Phase::Put {
            task,
            part,
            entry,
            on,
            from,
            claim,
            steps,
            ..
        } = w.executors[i].phase.clone()
        else {
            return;
        };
        // Our `off` from `from` found the campaign already moved on by a person, and no
        // answer says so: their change is indistinguishable from ours.
        if !on
            && matches!(end, PutEnd::LandedLost | PutEnd::Lost)
            && w.campaign.version != from
            && w.campaign.status != Status::On
        {
            w.ghost.ambiguous = true;
        }
        let answer = match end {
            PutEnd::Answered => self.land(w, on, from, &claim),
            PutEnd::LandedLost => {
                self.land(w, on, from, &claim);
                Answer::Unknown
            }
            PutEnd::Lost => Answer::Unknown,
            PutEnd::NotNow => Answer::NotNow,
        };
        let failed = matches!(answer, Answer::Unknown | Answer::NotNow);
        let write = if on {
            Some(after_on(answer, &owner(w, i), w.now))
        } else {
            after_off(answer)
        };
        let mut e = Some(entry.clone());
        if let Some(write) = write {
            let (after, applied) = self.write(w, &write, entry.rev);
            e = after;
            // Resumed refused: a new outage holds it. Handed back to the pause.
            if on && !applied && matches!(write, Write::Resumed { .. }) {
                let back = Write::HandBack { owner: owner(w, i) };
                let (after, _) = self.write(w, &back, 0);
                e = after;
            }
        }
        w.executors[i].phase = Phase::Drive {
            task,
            part,
            entry: e,
            seen: None,
            failed,
            steps,
        };
    }

    fn run(&self, w: &World, acts: &[Act]) -> World {
        acts.iter().fold(w.clone(), |w, a| {
            self.next_state(&w, a.clone())
                .unwrap_or_else(|| panic!("{a:?} is not enabled in {w:?}"))
        })
    }

    /// From `w`, a fair future: nobody touches the campaign any more, every PUT is
    /// answered, nobody crashes, the outage ends, and one executor runs each pending
    /// action until none is left, a claim's end passing when it must.
    fn settle(&self, w: &World) -> World {
        let mut w = w.clone();
        for _ in 0..200 {
            if let Some(i) = w
                .executors
                .iter()
                .position(|e| matches!(e.phase, Phase::Put { .. }))
            {
                w = self
                    .next_state(&w, Act::Put(i, PutEnd::Answered))
                    .unwrap_or(w);
                continue;
            }
            if w.campaign.status == Status::Stopping {
                w = self.next_state(&w, Act::Stopped).unwrap_or(w);
                continue;
            }
            if let Some(i) = w.executors.iter().position(|e| e.phase != Phase::Idle) {
                w = self.next_state(&w, Act::Step(i)).unwrap_or(w);
                continue;
            }
            if w.degraded {
                let mut next = w.clone();
                next.degraded = false;
                next.pending.retain(|t| !matches!(t, Task::Pause(_)));
                next.pending.insert(Task::Resume(next.generation));
                w = next;
                continue;
            }
            let Some(task) = w.pending.iter().next().copied() else {
                break;
            };
            // A run that must wait: time passes (Genesys stops, a claim runs out).
            let before = w.clone();
            w = self.next_state(&w, Act::Begin(0, task)).unwrap_or(w);
            while w.executors[0].phase != Phase::Idle {
                let i = 0;
                w = match w.executors[i].phase {
                    Phase::Put { .. } => self.next_state(&w, Act::Put(i, PutEnd::Answered)),
                    _ => self.next_state(&w, Act::Step(i)),
                }
                .unwrap_or(w);
                if w.campaign.status == Status::Stopping {
                    w = self.next_state(&w, Act::Stopped).unwrap_or(w);
                }
            }
            if w.pending.contains(&task) && w.ledger == before.ledger {
                w.now += TICK;
            }
        }
        w
    }
}

impl Model for Campaigns {
    type State = World;
    type Action = Act;

    /// A campaign `on`, and points of its life reached from it through `next_state`:
    /// the outage begun; its pause's PUT in flight; its pause done; recovery with the resume pending; the resume
    /// begun; and the resume claimed, its PUT about to go.
    fn init_states(&self) -> Vec<World> {
        let fresh = World {
            now: 0,
            campaign: Campaign {
                status: Status::On,
                version: 1,
                exists: true,
            },
            ledger: None,
            over: 0,
            degraded: false,
            generation: 0,
            pending: BTreeSet::new(),
            executors: (0..self.executors)
                .map(|_| Executor {
                    phase: Phase::Idle,
                    life: 0,
                })
                .collect(),
            ghost: Ghost::default(),
        };
        let tripped = self.run(&fresh, &[Act::Trip]);
        let mut putting = self.run(&tripped, &[Act::Begin(0, Task::Pause(1))]);
        while !matches!(putting.executors[0].phase, Phase::Put { .. }) {
            putting = self.run(&putting, &[Act::Step(0)]);
        }
        let mut paused = self.run(&tripped, &[Act::Begin(0, Task::Pause(1))]);
        for _ in 0..MAX_STEPS {
            if paused.executors[0].phase == Phase::Idle {
                break;
            }
            paused = match paused.executors[0].phase {
                Phase::Put { .. } => self.run(&paused, &[Act::Put(0, PutEnd::Answered)]),
                _ => self.run(&paused, &[Act::Step(0)]),
            };
        }
        let paused = self.run(&paused, &[Act::Stopped, Act::Begin(0, Task::Pause(1))]);
        let mut settled = paused;
        while settled.executors[0].phase != Phase::Idle {
            settled = self.run(&settled, &[Act::Step(0)]);
        }
        let recovered = self.run(&settled, &[Act::Close]);
        let resuming = self.run(&recovered, &[Act::Begin(0, Task::Resume(1)), Act::Step(0)]);
        let mut claimed = self.run(&recovered, &[Act::Begin(1, Task::Resume(1))]);
        while !matches!(claimed.executors[1].phase, Phase::Put { .. }) {
            claimed = self.run(&claimed, &[Act::Step(1)]);
        }
        let mut w = vec![
            fresh, tripped, putting, settled, recovered, resuming, claimed,
        ];
        for s in &mut w {
            s.ghost.breaker_acts = 0;
        }
        w
    }

    fn actions(&self, w: &World, out: &mut Vec<Act>) {
        // A PUT in flight lands or is abandoned by its bound: time does not pass it.
        let bounded_put = w.executors.iter().any(|e| match &e.phase {
            Phase::Put { until, .. } => w.now + TICK >= *until,
            _ => false,
        });
        if !bounded_put {
            out.push(Act::Tick);
        }
        if w.ghost.breaker_acts < self.max_breaker {
            out.push(if w.degraded { Act::Close } else { Act::Trip });
        }
        if w.ghost.person_acts < self.max_person && w.campaign.exists {
            out.push(Act::Person);
        }
        if w.campaign.status == Status::Stopping && w.campaign.exists {
            out.push(Act::Stopped);
        }
        if self.deletable && w.campaign.exists {
            out.push(Act::Delete);
        }
        for (i, e) in w.executors.iter().enumerate() {
            match &e.phase {
                Phase::Idle => {
                    for t in &w.pending {
                        out.push(Act::Begin(i, *t));
                    }
                }
                Phase::Put { .. } => {
                    out.push(Act::Put(i, PutEnd::Answered));
                    out.push(Act::Put(i, PutEnd::LandedLost));
                    out.push(Act::Put(i, PutEnd::Lost));
                    out.push(Act::Put(i, PutEnd::NotNow));
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
        match act {
            Act::Tick => w.now += TICK,
            Act::Trip => {
                w.degraded = true;
                w.generation += 1;
                w.ghost.breaker_acts += 1;
                // A resume not yet begun is no longer called for.
                let running: BTreeSet<Task> = w
                    .executors
                    .iter()
                    .filter_map(|e| task_of(&e.phase))
                    .collect();
                w.pending
                    .retain(|t| matches!(t, Task::Pause(_)) || running.contains(t));
                w.pending.insert(Task::Pause(w.generation));
                w.ghost.pause_done = None;
            }
            Act::Close => {
                w.degraded = false;
                w.ghost.breaker_acts += 1;
                let running: BTreeSet<Task> = w
                    .executors
                    .iter()
                    .filter_map(|e| task_of(&e.phase))
                    .collect();
                w.pending
                    .retain(|t| matches!(t, Task::Resume(_)) || running.contains(t));
                w.pending.insert(Task::Resume(w.generation));
            }
            Act::Person => {
                let unlanded = matches!(
                    w.ledger.as_ref().map(|e| e.mark),
                    Some(Mark::Sent { version, .. }) if version == w.campaign.version
                );
                w.ghost.ambiguous |= unlanded;
                w.ghost.person_acts += 1;
                w.campaign.status = match w.campaign.status {
                    Status::On => Status::Stopping,
                    _ => Status::On,
                };
                w.campaign.version += 1;
                self.changed(&mut w);
            }
            Act::Stopped => {
                w.campaign.status = Status::Off;
                w.campaign.version += 1;
            }
            Act::Delete => {
                w.campaign.exists = false;
                self.changed(&mut w);
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
                "never turns on what a person turned off or Failsoft did not",
                |_, w: &World| !w.ghost.bad_on,
            ),
            Property::always(
                "off while a degraded holder's pause has settled",
                |_, w: &World| {
                    !(w.degraded
                        && w.ghost.pause_done == Some(w.generation)
                        && w.ghost.on_by_us
                        && w.campaign.status == Status::On)
                },
            ),
            Property::always("one on per resume claim", |_, w: &World| !w.ghost.twice),
            Property::always(
                "records as Failsoft's only an off of Failsoft's",
                |_, w: &World| {
                    let paused = w.ledger.as_ref().is_some_and(|e| e.stage == Stage::Paused);
                    !paused
                        || w.ghost.ours
                        || w.ghost.ambiguous
                        || w.campaign.status == Status::On
                        || !w.campaign.exists
                },
            ),
            Property::always("the item stays bounded", |_, w: &World| {
                w.ledger.as_ref().is_none_or(|e| e.holds.len() <= 1)
            }),
            Property::sometimes("a campaign is paused and resumed", |_, w: &World| {
                w.ghost.on_claims.len() == 1 && w.ledger.is_none() && !w.degraded
            }),
        ];
        if self.liveness {
            props.push(Property::always(
                "after recovery, what Failsoft turned off is on again",
                |m: &Campaigns, w: &World| {
                    let s = m.settle(w);
                    s.pending.is_empty()
                        && (!s.ghost.ours || !s.campaign.exists || s.ghost.ambiguous)
                        && s.ledger.as_ref().is_none_or(|e| e.stage == Stage::Left)
                },
            ));
        }
        props
    }
}

fn task_of(p: &Phase) -> Option<Task> {
    match p {
        Phase::Idle => None,
        Phase::Start(t) => Some(*t),
        Phase::Pause(g, _) => Some(Task::Pause(*g)),
        Phase::Drive { task, .. } | Phase::Put { task, .. } => Some(*task),
    }
}

/// A counterexample, one line per step.
fn describe(path: stateright::Path<World, Act>) -> String {
    let states = path.clone().into_states();
    let actions = path.into_actions();
    let line = |w: &World| {
        let ledger = w.ledger.as_ref().map_or("-".to_string(), |e| {
            format!(
                "{}/{} v{:?} holds{:?} owner{:?}",
                e.stage.as_str(),
                e.mark.as_str(),
                e.version,
                e.holds.values().collect::<Vec<_>>(),
                e.owner
            )
        });
        let execs: Vec<String> = w
            .executors
            .iter()
            .map(|e| match &e.phase {
                Phase::Idle => "idle".into(),
                Phase::Start(t) => format!("start {t:?}"),
                Phase::Pause(g, p) => format!("pause{g} {p:?}"),
                Phase::Drive { task, .. } => format!("drive {task:?}"),
                Phase::Put { task, on, from, .. } => {
                    format!(
                        "put {} from v{from} ({task:?})",
                        if *on { "on" } else { "off" }
                    )
                }
            })
            .collect();
        format!(
            "t={} {} g{} campaign={:?} v{} | ledger {} | {} | pending {:?}",
            w.now / 1000,
            if w.degraded { "OPEN" } else { "closed" },
            w.generation,
            w.campaign.status,
            w.campaign.version,
            ledger,
            execs.join(", "),
            w.pending
        )
    };
    let mut out = format!("  start: {}\n", line(&states[0]));
    for (a, w) in actions.iter().zip(&states[1..]) {
        out.push_str(&format!("  {a:?}: {}\n", line(w)));
    }
    out
}

fn depth() -> usize {
    std::env::var("FAILSOFT_CAMPAIGN_MODEL_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(7)
}

fn model(broken: Option<Broken>) -> Campaigns {
    Campaigns {
        executors: 2,
        max_time: 6 * TICK,
        max_person: 1,
        max_breaker: 2,
        deletable: false,
        liveness: broken.is_none(),
        broken,
    }
}

const SAFETY: [&str; 5] = [
    "never turns on what a person turned off or Failsoft did not",
    "off while a degraded holder's pause has settled",
    "one on per resume claim",
    "records as Failsoft's only an off of Failsoft's",
    "the item stays bounded",
];

#[test]
fn the_campaign_pause_keeps_its_invariants() {
    for deletable in [false, true] {
        let m = Campaigns {
            deletable,
            ..model(None)
        };
        let started = Instant::now();
        let checker = m
            .checker()
            .threads(2)
            .target_max_depth(depth())
            .spawn_bfs()
            .join();
        eprintln!(
            "campaign model (deletable={deletable}): {} states, depth {}, {:.1} s",
            checker.unique_state_count(),
            checker.max_depth(),
            started.elapsed().as_secs_f64()
        );
        for name in SAFETY
            .iter()
            .chain(&["after recovery, what Failsoft turned off is on again"])
        {
            if let Some(path) = checker.discovery(name) {
                let last = path.last_state().clone();
                panic!(
                    "{name}: counterexample\n{}  settles to: {:?}",
                    describe(path),
                    Campaigns {
                        deletable,
                        ..model(None)
                    }
                    .settle(&last)
                );
            }
        }
        assert!(
            checker
                .discovery("a campaign is paused and resumed")
                .is_some(),
            "the search never got as far as a resume"
        );
    }
}

/// Each condition broken, one at a time, is found, with the property it breaks.
#[test]
fn each_broken_condition_is_found() {
    for (broken, property) in [
        (
            Broken::ReleaseAnyEpisode,
            "off while a degraded holder's pause has settled",
        ),
        (
            Broken::AdoptAnyOff,
            "records as Failsoft's only an off of Failsoft's",
        ),
        (
            Broken::SkipRunningResume,
            "off while a degraded holder's pause has settled",
        ),
    ] {
        let started = Instant::now();
        let checker = model(Some(broken))
            .checker()
            .threads(2)
            .target_max_depth(depth() + 6)
            .finish_when(stateright::HasDiscoveries::AnyOf(BTreeSet::from([
                property,
            ])))
            .spawn_bfs()
            .join();
        let path = checker
            .discovery(property)
            .unwrap_or_else(|| panic!("{broken:?}: no counterexample to \"{property}\""));
        eprintln!(
            "{broken:?} breaks \"{property}\" ({} states, {:.1} s):\n{}",
            checker.unique_state_count(),
            started.elapsed().as_secs_f64(),
            describe(path)
        );
    }
}
