//! The campaign pause's decisions, pure: what a pause or a resume does next with one
//! ledger entry, given what Genesys last said of its campaign, and the ledger's writes
//! with their conditions ([`Write::apply`]), the reference the table follows. As
//! `breaker::step` is for the breaker, this is what the model checks
//! (`shared/tests/campaign_model.rs`); `Campaigns` only carries the steps out.
//!
//! The rule it keeps: Failsoft turns `on` only what its own `off` turned off and that
//! nobody has touched since, and never while an outage holds the campaign.
//!
//! An entry is held by episodes, one per breaker (`holds`: breaker → generation of the
//! episode that holds it). A later episode of the same breaker replaces an earlier one,
//! and a resume lets go only of episodes no later than its own: a resume that runs late,
//! into the next outage of its breaker, cannot free what the new outage holds.

use std::collections::BTreeMap;

use super::api::Kind;
use crate::clock::Millis;

/// A resume's claim must have this much left before it sends a PUT: the PUT ends
/// (answered or abandoned) well inside the claim, so that nobody takes the campaign
/// over while our PUT may still land.
pub const CLAIM_MARGIN_MS: Millis = 30_000;
/// A PUT is abandoned this long after it was recorded as sent: from then on, a read
/// that finds the campaign as it was proves the PUT did not land. (The stated
/// assumption: Genesys makes a change within the time its client waits, or never.)
pub const PUT_BOUND_MS: Millis = 15_000;

/// The ledger's items' key prefix (`campaign#<kind>#<id>`).
pub const PREFIX: &str = "campaign#";

/// Where a campaign stands in the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stage {
    /// Claimed by a pause; `off` not yet seen.
    Pausing,
    /// Seen `off` at `version`: resumable while nobody changes it.
    Paused,
    /// Nobody holds it; one executor is turning it back on.
    Resuming,
    /// Not resumed: a person changed it meanwhile. Kept a week for the board, then expires.
    Left,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Pausing => "pausing",
            Stage::Paused => "paused",
            Stage::Resuming => "resuming",
            Stage::Left => "left",
        }
    }
    pub fn parse(s: &str) -> Option<Stage> {
        [Stage::Pausing, Stage::Paused, Stage::Resuming, Stage::Left]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// What a pausing entry knows of its campaign's status: what makes `off` ours, and
/// `on` somebody else's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mark {
    /// Claimed while `on`; no PUT of ours can have landed. `off` is somebody else's.
    Unsent,
    /// A PUT to `off` goes out from `version` at `at`, and no answer says how it
    /// ended: it may land until `at + PUT_BOUND_MS`. `on` at this version after that:
    /// it did not.
    Sent { version: i64, at: Millis },
    /// Genesys accepted our PUT to `off`: `on` from then on is a person's choice.
    Acked,
    /// Back from a resume whose PUT to `on` may have landed: `on` is ours, and `off` at
    /// the version we left it is still ours.
    Resumed,
}

impl Mark {
    pub fn as_str(self) -> String {
        match self {
            Mark::Unsent => "unsent".into(),
            Mark::Sent { version, at } => format!("sent:{version}:{at}"),
            Mark::Acked => "acked".into(),
            Mark::Resumed => "resumed".into(),
        }
    }
    pub fn parse(s: &str) -> Option<Mark> {
        match s {
            "unsent" => Some(Mark::Unsent),
            "acked" => Some(Mark::Acked),
            "resumed" => Some(Mark::Resumed),
            _ => {
                let (v, at) = s.strip_prefix("sent:")?.split_once(':')?;
                Some(Mark::Sent {
                    version: v.parse().ok()?,
                    at: at.parse().ok()?,
                })
            }
        }
    }
}

/// One ledger item.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Entry {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    /// The episodes that hold it off: breaker → the generation of its episode. It is
    /// resumed when none is left.
    pub holds: BTreeMap<String, u64>,
    pub stage: Stage,
    pub mark: Mark,
    /// The version seen once it was `off`: a different one means somebody changed it.
    pub version: Option<i64>,
    pub paused_ms: Millis,
    pub note: Option<String>,
    /// The executor resuming it, and until when its claim holds.
    pub owner: Option<String>,
    pub claim_until: Millis,
    /// Counts the item's changes: a write decided on what the item was is made only if
    /// it still is ([`Write::guarded`]).
    pub rev: u64,
}

impl Entry {
    pub fn key(&self) -> String {
        key(self.kind, &self.id)
    }

    /// The entry as people read it, on the board and in `failsoft actions`.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "campaign": format!("{} {} ({})", self.kind.as_str(), self.name, self.id),
            "stage": self.stage.as_str(),
            "heldBy": self.holds.keys().collect::<Vec<_>>(),
            "pausedAt": crate::clock::iso8601(self.paused_ms),
            "note": self.note,
        })
    }
}

pub fn key(kind: Kind, id: &str) -> String {
    format!("{PREFIX}{}#{id}", kind.as_str())
}

/// An episode (`<breaker>/<generation>/<at>`, the dedup key of its actions) as a hold:
/// its breaker and generation. A bare breaker name (an item written before episodes
/// held campaigns) is generation 0, which any resume of that breaker lets go.
pub fn hold_of(episode: &str) -> (String, u64) {
    let mut parts = episode.split('/');
    let breaker = parts.next().unwrap_or_default().to_string();
    let generation = parts.next().and_then(|g| g.parse().ok()).unwrap_or(0);
    (breaker, generation)
}

/// A change to one ledger item, with its condition. `apply` is the reference; the
/// table adapter (`ledger.rs`) writes the same condition as an expression.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Write {
    /// A pause claims a campaign seen `on`: created, unless already in the ledger (and
    /// not left by a person). Creating it is the claim on the PUT to `off`.
    Claim {
        kind: Kind,
        id: String,
        name: String,
        breaker: String,
        generation: u64,
        now: Millis,
    },
    /// An episode holds the campaign too; replaces an earlier episode of its breaker.
    Join { breaker: String, generation: u64 },
    /// About to PUT `off` from `version`, at `at`.
    Sent { version: i64, at: Millis },
    /// Our PUT to `off` did not land.
    Unsent,
    /// Genesys accepted our PUT to `off`.
    Acked,
    /// Seen `off` at `version`.
    Paused { version: i64 },
    /// An episode no later than `generation` lets go.
    Release { breaker: String, generation: u64 },
    /// Claim the resume of a campaign nobody holds: a paused one, one whose claim ran
    /// out, or one this owner already holds (refreshed).
    ClaimResume {
        owner: String,
        now: Millis,
        until: Millis,
    },
    /// Turned back on, and still nobody holds it: the entry goes.
    Resumed { owner: String },
    /// Our resume's PUT may have landed, and an outage holds the campaign again (or the
    /// answer was lost): back to the pause, `on` being ours.
    HandBack { owner: String },
    /// Our resume's PUT was refused without landing: still off, as it was.
    Unclaim { owner: String },
    /// A resume's claim ran out while an outage holds the campaign: the pause takes it.
    TakeOver { now: Millis },
    /// Not ours (any more), or gone from Genesys.
    Forget,
    /// Not resumed, and why: kept for the board.
    Leave { note: String, now: Millis },
}

/// How long a campaign left off (changed by a person) stays on the board.
pub const LEFT_KEPT_MS: Millis = 7 * 86_400_000;
/// The longest note kept in an item.
pub const MAX_NOTE: usize = 200;

impl Write {
    /// Whether the write is made only on the item as it was decided on (its `rev`):
    /// what it records follows from a reading of the item that a concurrent change
    /// (a join, a hand-back) would make wrong. The others state their own conditions.
    pub fn guarded(&self) -> bool {
        matches!(
            self,
            Write::Sent { .. }
                | Write::Unsent
                | Write::Acked
                | Write::Paused { .. }
                | Write::Forget
                | Write::Leave { .. }
        )
    }

    /// The item after this write, decided on the item at `rev`, or None if its
    /// condition does not hold. `Some(None)`: the item is deleted. `over`: for each
    /// breaker, the last episode whose recovery began (the index's `over#<breaker>`): a
    /// pause of an episode that is over neither claims nor joins.
    #[allow(clippy::option_option)]
    pub fn apply(
        &self,
        item: Option<&Entry>,
        rev: u64,
        over: &BTreeMap<String, u64>,
    ) -> Option<Option<Entry>> {
        if self.guarded() && item.is_none_or(|e| e.rev != rev) {
            return None;
        }
        if let Write::Claim {
            breaker,
            generation,
            ..
        }
        | Write::Join {
            breaker,
            generation,
        } = self
        {
            if over.get(breaker).is_some_and(|g| g >= generation) {
                return None;
            }
        }
        let before = item.map_or(0, |e| e.rev);
        let after = self.change(item)?;
        Some(after.map(|mut e| {
            e.rev = before + 1;
            e
        }))
    }

    /// Each write's condition and effect on the item: the ledger's reference semantics
    /// as one table (over 100 lines on purpose, read beside `ledger::Ledger::write`,
    /// which makes each one as a DynamoDB request, and checked against it on moto).
    #[allow(clippy::option_option)]
    fn change(&self, item: Option<&Entry>) -> Option<Option<Entry>> {
        use Write::*;
        let live = |e: &&Entry| e.stage != Stage::Left;
        match self {
            Claim {
                kind,
                id,
                name,
                breaker,
                generation,
                now,
            } => {
                if item.is_some_and(|e| e.stage != Stage::Left) {
                    return None;
                }
                Some(Some(Entry {
                    kind: *kind,
                    id: id.clone(),
                    name: name.clone(),
                    holds: BTreeMap::from([(breaker.clone(), *generation)]),
                    stage: Stage::Pausing,
                    mark: Mark::Unsent,
                    version: None,
                    paused_ms: *now,
                    note: None,
                    owner: None,
                    claim_until: 0,
                    rev: 0,
                }))
            }
            Join {
                breaker,
                generation,
            } => {
                let e = item.filter(live)?;
                if e.holds.get(breaker).is_some_and(|g| g >= generation) {
                    return None;
                }
                let mut e = e.clone();
                e.holds.insert(breaker.clone(), *generation);
                Some(Some(e))
            }
            Sent { version, at } => pausing(item, |e| {
                e.mark = Mark::Sent {
                    version: *version,
                    at: *at,
                }
            }),
            Unsent => pausing(item, |e| e.mark = Mark::Unsent),
            Acked => pausing(item, |e| e.mark = Mark::Acked),
            Paused { version } => pausing(item, |e| {
                e.stage = Stage::Paused;
                e.version = Some(*version);
            }),
            Release {
                breaker,
                generation,
            } => {
                let e = item?;
                if e.holds.get(breaker).is_none_or(|g| g > generation) {
                    return None;
                }
                let mut e = e.clone();
                e.holds.remove(breaker);
                Some(Some(e))
            }
            ClaimResume { owner, now, until } => {
                let e = item?;
                let claimable = match e.stage {
                    Stage::Paused => true,
                    Stage::Resuming => {
                        e.owner.as_deref() == Some(owner.as_str()) || e.claim_until < *now
                    }
                    _ => false,
                };
                if !e.holds.is_empty() || !claimable {
                    return None;
                }
                let mut e = e.clone();
                e.stage = Stage::Resuming;
                e.owner = Some(owner.clone());
                e.claim_until = *until;
                Some(Some(e))
            }
            Resumed { owner } => {
                let e = resuming_by(item, owner)?;
                if !e.holds.is_empty() {
                    return None;
                }
                Some(None)
            }
            HandBack { owner } => {
                let mut e = resuming_by(item, owner)?.clone();
                e.stage = Stage::Pausing;
                e.mark = Mark::Resumed;
                e.owner = None;
                e.claim_until = 0;
                Some(Some(e))
            }
            Unclaim { owner } => {
                let mut e = resuming_by(item, owner)?.clone();
                e.stage = Stage::Paused;
                e.owner = None;
                e.claim_until = 0;
                Some(Some(e))
            }
            TakeOver { now } => {
                let e = item?;
                if e.stage != Stage::Resuming || e.claim_until >= *now || e.holds.is_empty() {
                    return None;
                }
                let mut e = e.clone();
                e.stage = Stage::Pausing;
                e.mark = Mark::Resumed;
                e.owner = None;
                e.claim_until = 0;
                Some(Some(e))
            }
            Forget => Some(None),
            Leave { note, .. } => {
                let mut e = item?.clone();
                e.stage = Stage::Left;
                e.note = Some(note.chars().take(MAX_NOTE).collect());
                e.holds.clear();
                e.owner = None;
                e.claim_until = 0;
                Some(Some(e))
            }
        }
    }
}

fn pausing(item: Option<&Entry>, f: impl FnOnce(&mut Entry)) -> Option<Option<Entry>> {
    let mut e = item.filter(|e| e.stage == Stage::Pausing)?.clone();
    f(&mut e);
    Some(Some(e))
}

fn resuming_by<'a>(item: Option<&'a Entry>, owner: &str) -> Option<&'a Entry> {
    item.filter(|e| e.stage == Stage::Resuming && e.owner.as_deref() == Some(owner))
}

/// A campaign's status, as far as the pause cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    On,
    Stopping,
    Off,
    /// Genesys's own (`complete`, `invalid`, `forced_*`): nothing of ours to restore.
    Other,
}

impl Status {
    pub fn of(s: &str) -> Status {
        match s {
            "on" => Status::On,
            "stopping" => Status::Stopping,
            "off" => Status::Off,
            _ => Status::Other,
        }
    }
}

/// What Genesys said of the campaign, read just now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seen {
    /// 404: deleted.
    Gone,
    /// As read at `read_ms`.
    At {
        status: Status,
        version: i64,
        read_ms: Millis,
    },
}

/// What to do next with one entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Read the campaign first.
    Read,
    /// Write this to the ledger, then decide again.
    Write(Write),
    /// PUT `off`, from the version just seen (after recording `Sent`).
    TurnOff,
    /// PUT `on`, from the version just seen: the resume is claimed.
    TurnOn,
    /// Nothing more to do now: settled for a pause, not ours to resume for a resume.
    Settled,
    /// Not yet: Genesys is still stopping it, or another executor is resuming it.
    Wait,
}

/// How Genesys answered a PUT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    Accepted,
    /// The version moved (409, or the 400 that says so): it did not land.
    Conflict,
    /// A 400 for the transition itself (complete, invalid): it will not be made.
    Refused,
    /// Answered without landing (429, 401, 403, 503): try again later.
    NotNow,
    /// No answer, or one that does not say (500, 502, 504, timeout, reset): it may
    /// have landed.
    Unknown,
}

/// The next step of a pause by `breaker`'s episode `generation` with entry `e`;
/// `seen`: the campaign as read in this step, if it was.
pub fn pause(e: &Entry, breaker: &str, generation: u64, seen: Option<Seen>, now: Millis) -> Step {
    if e.stage == Stage::Left {
        return Step::Settled;
    }
    if e.holds.get(breaker).is_none_or(|g| *g < generation) {
        return Step::Write(Write::Join {
            breaker: breaker.into(),
            generation,
        });
    }
    match e.stage {
        Stage::Paused | Stage::Left => Step::Settled,
        // Another executor is turning it on: when it finds the campaign held again it
        // hands it back; if it died, its claim runs out and the pause takes it.
        Stage::Resuming if e.claim_until >= now => Step::Wait,
        Stage::Resuming => Step::Write(Write::TakeOver { now }),
        Stage::Pausing => match seen {
            None => Step::Read,
            Some(seen) => pausing_step(e, seen, now),
        },
    }
}

/// A pausing entry, its campaign just read: the one table both roles share.
fn pausing_step(e: &Entry, seen: Seen, now: Millis) -> Step {
    let Seen::At {
        status,
        version,
        read_ms,
    } = seen
    else {
        return Step::Write(Write::Forget);
    };
    let leave = |why: &str| {
        Step::Write(Write::Leave {
            note: why.into(),
            now,
        })
    };
    match (e.mark, status) {
        (_, Status::Other) => Step::Write(Write::Forget),
        (_, Status::Stopping) => Step::Wait,
        // Ours to turn off: never turned off, or turned on again by our own resume.
        (Mark::Unsent | Mark::Resumed, Status::On) => Step::TurnOff,
        // Our PUT did not land: known now.
        // As it was: our PUT has not landed. Known once a read made after it no longer
        // could finds it so.
        (Mark::Sent { version: v, at }, Status::On) if v == version => {
            if read_ms < at + PUT_BOUND_MS {
                Step::Wait
            } else {
                Step::Write(Write::Unsent)
            }
        }
        // Off by us, and on again: a person's choice, which stands.
        (Mark::Sent { .. } | Mark::Acked, Status::On) => leave("turned on again by someone"),
        // Off, and not by us: a person's, or Genesys's.
        (Mark::Unsent, Status::Off) => Step::Write(Write::Forget),
        (Mark::Sent { .. } | Mark::Acked, Status::Off) => Step::Write(Write::Paused { version }),
        // Back from a resume: off at the version we left it is still ours; at another,
        // somebody turned it off after our `on`.
        (Mark::Resumed, Status::Off) if e.version == Some(version) => {
            Step::Write(Write::Paused { version })
        }
        (Mark::Resumed, Status::Off) => leave("turned off by someone"),
    }
}

/// The next step of the resume of `breaker`'s episode `generation` by `owner`.
pub fn resume(
    e: &Entry,
    breaker: &str,
    generation: u64,
    owner: &str,
    seen: Option<Seen>,
    now: Millis,
    claim_ms: Millis,
) -> Step {
    if e.holds.get(breaker).is_some_and(|g| *g <= generation) {
        return Step::Write(Write::Release {
            breaker: breaker.into(),
            generation,
        });
    }
    if !e.holds.is_empty() {
        return Step::Settled;
    }
    let claim = Step::Write(Write::ClaimResume {
        owner: owner.into(),
        now,
        until: now + claim_ms,
    });
    match e.stage {
        Stage::Left => Step::Settled,
        // The outage ended before its pause was seen through: finish it first. `on`:
        // nothing to restore, once no PUT of the pause can still land.
        Stage::Pausing => match seen {
            None => Step::Read,
            Some(Seen::At {
                status: Status::On,
                version,
                read_ms,
            }) => match e.mark {
                Mark::Sent { version: v, at } if v == version && read_ms < at + PUT_BOUND_MS => {
                    Step::Wait
                }
                _ => Step::Write(Write::Forget),
            },
            Some(seen) => pausing_step(e, seen, now),
        },
        Stage::Paused => claim,
        Stage::Resuming if e.owner.as_deref() != Some(owner) => {
            if e.claim_until < now {
                claim
            } else {
                Step::Wait
            }
        }
        // Ours: refreshed before a PUT that could outlast it.
        Stage::Resuming if e.claim_until < now + CLAIM_MARGIN_MS => claim,
        Stage::Resuming => match seen {
            None => Step::Read,
            Some(Seen::Gone) => Step::Write(Write::Forget),
            Some(Seen::At {
                status: Status::Off,
                version,
                ..
            }) if e.version == Some(version) => Step::TurnOn,
            Some(_) => Step::Write(Write::Leave {
                note: "changed by someone".into(),
                now,
            }),
        },
    }
}

/// The ledger write after Genesys answered our PUT to `off`; None: `Sent` stays, for
/// the next read to tell whether it landed.
pub fn after_off(answer: Answer) -> Option<Write> {
    match answer {
        Answer::Accepted => Some(Write::Acked),
        // Complete or invalid: Genesys will not turn it off. Not ours.
        Answer::Refused => Some(Write::Forget),
        Answer::Conflict | Answer::NotNow => Some(Write::Unsent),
        Answer::Unknown => None,
    }
}

/// How long a PUT to `on` may run under a claim that ends at `claim_until`: it ends
/// half the margin before the claim does, so that nobody takes the campaign over while
/// it may still land. Nothing if the claim is that close to its end.
pub fn on_put_bound(claim_until: Millis, now: Millis) -> Millis {
    (claim_until.saturating_sub(now) - CLAIM_MARGIN_MS / 2).max(0)
}

/// The ledger write after Genesys answered our PUT to `on`.
pub fn after_on(answer: Answer, owner: &str, now: Millis) -> Write {
    let owner = owner.to_string();
    match answer {
        Answer::Accepted => Write::Resumed { owner },
        Answer::Conflict => Write::Leave {
            note: "changed by someone while being resumed".into(),
            now,
        },
        Answer::Refused => Write::Leave {
            note: "Genesys refused to turn it on".into(),
            now,
        },
        Answer::NotNow => Write::Unclaim { owner },
        Answer::Unknown => Write::HandBack { owner },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stage: Stage, mark: Mark) -> Entry {
        Entry {
            kind: Kind::Voice,
            id: "c".into(),
            name: "c".into(),
            holds: BTreeMap::from([("crm".into(), 3)]),
            stage,
            mark,
            version: Some(5),
            paused_ms: 0,
            note: None,
            owner: None,
            claim_until: 0,
            rev: 1,
        }
    }

    fn at(status: Status, version: i64) -> Option<Seen> {
        Some(Seen::At {
            status,
            version,
            read_ms: 0,
        })
    }

    #[test]
    fn a_person_s_off_is_never_taken_for_ours() {
        let e = entry(Stage::Pausing, Mark::Unsent);
        assert_eq!(
            pause(&e, "crm", 3, at(Status::Off, 6), 0),
            Step::Write(Write::Forget)
        );
    }

    #[test]
    fn a_late_resume_cannot_free_what_the_next_outage_holds() {
        let e = entry(Stage::Paused, Mark::Acked);
        assert_eq!(resume(&e, "crm", 2, "x", None, 0, 1), Step::Settled);
        assert_eq!(
            Write::Release {
                breaker: "crm".into(),
                generation: 2
            }
            .apply(Some(&e), e.rev, &BTreeMap::new()),
            None
        );
    }

    #[test]
    fn a_put_to_on_ends_half_the_margin_before_its_claim() {
        let now = 1_000;
        assert_eq!(
            on_put_bound(now + CLAIM_MARGIN_MS, now),
            CLAIM_MARGIN_MS / 2
        );
        assert_eq!(
            on_put_bound(now + 120_000, now),
            120_000 - CLAIM_MARGIN_MS / 2
        );
        assert_eq!(on_put_bound(now + CLAIM_MARGIN_MS / 2, now), 0);
        assert_eq!(
            on_put_bound(now - 5, now),
            0,
            "a claim run out allows nothing"
        );
    }

    #[test]
    fn a_resume_s_claim_is_refreshed_before_it_could_run_out_under_a_put() {
        let mut e = entry(Stage::Resuming, Mark::Acked);
        e.holds.clear();
        e.owner = Some("me".into());
        e.claim_until = 1_000 + CLAIM_MARGIN_MS - 1;
        assert!(matches!(
            resume(&e, "crm", 3, "me", at(Status::Off, 5), 1_000, 120_000),
            Step::Write(Write::ClaimResume { .. })
        ));
        e.claim_until = 1_000 + CLAIM_MARGIN_MS;
        assert_eq!(
            resume(&e, "crm", 3, "me", at(Status::Off, 5), 1_000, 120_000),
            Step::TurnOn
        );
    }

    /// The decision table, row by row, with its boundaries.
    #[test]
    fn each_decision_of_the_pause_and_the_resume() {
        let read = |status: Status, version: i64, read_ms: Millis| {
            Some(Seen::At {
                status,
                version,
                read_ms,
            })
        };
        let leave = |s: &Step| matches!(s, Step::Write(Write::Leave { .. }));
        let sent = Mark::Sent {
            version: 5,
            at: 1_000,
        };
        // The pause.
        let mut e = entry(Stage::Pausing, Mark::Unsent);
        assert_eq!(pause(&e, "crm", 3, None, 0), Step::Read);
        assert!(matches!(
            pause(&e, "crm", 4, None, 0),
            Step::Write(Write::Join { generation: 4, .. })
        ));
        assert!(matches!(
            pause(&e, "genesys-api", 1, None, 0),
            Step::Write(Write::Join { .. })
        ));
        assert_eq!(
            pause(&e, "crm", 3, Some(Seen::Gone), 0),
            Step::Write(Write::Forget)
        );
        for (mark, status, version, read_ms, want) in [
            (Mark::Unsent, Status::On, 5, 0, Step::TurnOff),
            (Mark::Resumed, Status::On, 6, 0, Step::TurnOff),
            (Mark::Unsent, Status::Off, 6, 0, Step::Write(Write::Forget)),
            (
                Mark::Unsent,
                Status::Other,
                6,
                0,
                Step::Write(Write::Forget),
            ),
            (Mark::Acked, Status::Stopping, 6, 0, Step::Wait),
            (
                Mark::Acked,
                Status::Off,
                7,
                0,
                Step::Write(Write::Paused { version: 7 }),
            ),
            (
                sent,
                Status::Off,
                7,
                0,
                Step::Write(Write::Paused { version: 7 }),
            ),
            // On at the version sent from: not landed, once read after the bound.
            (sent, Status::On, 5, 1_000 + PUT_BOUND_MS - 1, Step::Wait),
            (
                sent,
                Status::On,
                5,
                1_000 + PUT_BOUND_MS,
                Step::Write(Write::Unsent),
            ),
            (
                sent,
                Status::On,
                5,
                1_000 + PUT_BOUND_MS + 1,
                Step::Write(Write::Unsent),
            ),
            // Back from a resume: off at the version left is ours.
            (
                Mark::Resumed,
                Status::Off,
                5,
                0,
                Step::Write(Write::Paused { version: 5 }),
            ),
        ] {
            e.mark = mark;
            assert_eq!(
                pause(&e, "crm", 3, read(status, version, read_ms), 0),
                want,
                "{mark:?} {status:?} v{version} read at {read_ms}"
            );
        }
        for (mark, status, version) in [
            (sent, Status::On, 6),
            (Mark::Acked, Status::On, 6),
            (Mark::Resumed, Status::Off, 6),
        ] {
            e.mark = mark;
            assert!(
                leave(&pause(&e, "crm", 3, read(status, version, 0), 0)),
                "{mark:?}"
            );
        }
        let mut r = entry(Stage::Resuming, Mark::Acked);
        r.claim_until = 100;
        assert_eq!(
            pause(&r, "crm", 3, None, 100),
            Step::Wait,
            "until is inclusive"
        );
        assert_eq!(
            pause(&r, "crm", 3, None, 101),
            Step::Write(Write::TakeOver { now: 101 })
        );
        assert_eq!(
            pause(&entry(Stage::Paused, Mark::Acked), "crm", 3, None, 0),
            Step::Settled
        );

        // The resume.
        let p = entry(Stage::Paused, Mark::Acked);
        assert!(matches!(
            resume(&p, "crm", 3, "a", None, 0, 10),
            Step::Write(Write::Release { generation: 3, .. })
        ));
        assert_eq!(
            resume(&p, "crm", 2, "a", None, 0, 10),
            Step::Settled,
            "a later episode holds it"
        );
        let mut free = p.clone();
        free.holds.clear();
        assert_eq!(
            resume(&free, "crm", 3, "a", None, 50, 10),
            Step::Write(Write::ClaimResume {
                owner: "a".into(),
                now: 50,
                until: 60
            })
        );
        let mut busy = free.clone();
        busy.stage = Stage::Resuming;
        busy.owner = Some("b".into());
        busy.claim_until = 100;
        assert_eq!(resume(&busy, "crm", 3, "a", None, 100, 10), Step::Wait);
        assert!(matches!(
            resume(&busy, "crm", 3, "a", None, 101, 10),
            Step::Write(Write::ClaimResume { .. })
        ));
        let mut mine = busy.clone();
        mine.owner = Some("a".into());
        mine.claim_until = 100 + CLAIM_MARGIN_MS;
        assert_eq!(resume(&mine, "crm", 3, "a", None, 100, 10), Step::Read);
        assert_eq!(
            resume(&mine, "crm", 3, "a", read(Status::Off, 5, 0), 100, 10),
            Step::TurnOn
        );
        assert!(leave(&resume(
            &mine,
            "crm",
            3,
            "a",
            read(Status::Off, 6, 0),
            100,
            10
        )));
        assert!(leave(&resume(
            &mine,
            "crm",
            3,
            "a",
            read(Status::On, 5, 0),
            100,
            10
        )));
        assert_eq!(
            resume(&mine, "crm", 3, "a", Some(Seen::Gone), 100, 10),
            Step::Write(Write::Forget)
        );
        assert!(matches!(
            resume(&mine, "crm", 3, "a", None, 101, 10),
            Step::Write(Write::ClaimResume { .. })
        ));
        // A pause not seen through: `on` is nothing to restore, once no PUT can land.
        let mut unfinished = free.clone();
        unfinished.stage = Stage::Pausing;
        unfinished.mark = sent;
        assert_eq!(
            resume(
                &unfinished,
                "crm",
                3,
                "a",
                read(Status::On, 5, 1_000),
                0,
                10
            ),
            Step::Wait
        );
        assert_eq!(
            resume(
                &unfinished,
                "crm",
                3,
                "a",
                read(Status::On, 5, 1_000 + PUT_BOUND_MS),
                0,
                10
            ),
            Step::Write(Write::Forget)
        );
        assert_eq!(
            resume(&unfinished, "crm", 3, "a", read(Status::Off, 7, 0), 0, 10),
            Step::Write(Write::Paused { version: 7 })
        );

        // After a PUT.
        assert_eq!(after_off(Answer::Accepted), Some(Write::Acked));
        assert_eq!(after_off(Answer::Refused), Some(Write::Forget));
        assert_eq!(after_off(Answer::Conflict), Some(Write::Unsent));
        assert_eq!(after_off(Answer::NotNow), Some(Write::Unsent));
        assert_eq!(after_off(Answer::Unknown), None);
        assert_eq!(
            after_on(Answer::Accepted, "a", 0),
            Write::Resumed { owner: "a".into() }
        );
        assert_eq!(
            after_on(Answer::NotNow, "a", 0),
            Write::Unclaim { owner: "a".into() }
        );
        assert_eq!(
            after_on(Answer::Unknown, "a", 0),
            Write::HandBack { owner: "a".into() }
        );
        assert!(matches!(
            after_on(Answer::Conflict, "a", 0),
            Write::Leave { .. }
        ));
        assert!(matches!(
            after_on(Answer::Refused, "a", 0),
            Write::Leave { .. }
        ));
        for (s, st) in [
            ("on", Status::On),
            ("stopping", Status::Stopping),
            ("off", Status::Off),
            ("complete", Status::Other),
        ] {
            assert_eq!(Status::of(s), st);
        }
        // Only the claim's owner, and only while resuming.
        let mut paused_with_owner = p.clone();
        paused_with_owner.owner = Some("a".into());
        assert!(Write::HandBack { owner: "a".into() }
            .apply(
                Some(&paused_with_owner),
                paused_with_owner.rev,
                &BTreeMap::new()
            )
            .is_none());
    }

    /// Every write's condition, holding and not: the reference the table adapter and
    /// the model follow (the moto test compares the adapter with these).
    #[test]
    fn each_write_applies_only_where_its_condition_holds() {
        let none = BTreeMap::new();
        let ok = |w: &Write, e: &Entry| w.apply(Some(e), e.rev, &none);
        let claim = |g: u64| Write::Claim {
            kind: Kind::Voice,
            id: "c".into(),
            name: "c".into(),
            breaker: "crm".into(),
            generation: g,
            now: 7,
        };
        let pausing = entry(Stage::Pausing, Mark::Unsent);
        let paused = entry(Stage::Paused, Mark::Acked);
        let mut left = entry(Stage::Left, Mark::Acked);
        left.holds.clear();
        // Claim: a new item, or over a person's; never over one held.
        assert!(claim(4).apply(None, 0, &none).is_some());
        let again = claim(4).apply(Some(&left), left.rev, &none);
        assert_eq!(again.clone().flatten().map(|e| e.rev), Some(left.rev + 1));
        assert!(ok(&claim(4), &pausing).is_none());
        let over = BTreeMap::from([("crm".to_string(), 4)]);
        assert!(
            claim(4).apply(None, 0, &over).is_none(),
            "its recovery began"
        );
        assert!(claim(5).apply(None, 0, &over).is_some());
        // Join: a later episode replaces an earlier one; never onto a person's.
        let join = |g: u64| Write::Join {
            breaker: "crm".into(),
            generation: g,
        };
        assert!(ok(&join(3), &paused).is_none(), "already held by it");
        assert_eq!(
            ok(&join(4), &paused).flatten().map(|e| e.holds["crm"]),
            Some(4)
        );
        assert!(ok(&join(9), &left).is_none());
        assert!(join(5).apply(Some(&paused), paused.rev, &over).is_some());
        assert!(join(4).apply(Some(&paused), paused.rev, &over).is_none());
        // The pause's writes: on a pausing item, at the revision decided on.
        for w in [
            Write::Sent { version: 5, at: 1 },
            Write::Unsent,
            Write::Acked,
            Write::Paused { version: 5 },
        ] {
            assert!(ok(&w, &pausing).is_some(), "{w:?}");
            assert!(ok(&w, &paused).is_none(), "{w:?}");
            assert!(
                w.apply(Some(&pausing), pausing.rev + 1, &none).is_none(),
                "{w:?}"
            );
        }
        // Release: only an episode no later than the resume's.
        let release = |g: u64| Write::Release {
            breaker: "crm".into(),
            generation: g,
        };
        assert!(ok(&release(2), &paused).is_none());
        assert_eq!(
            ok(&release(3), &paused).flatten().map(|e| e.holds.len()),
            Some(0)
        );
        assert!(ok(&release(3), &left).is_none());
        // ClaimResume: nobody holds it; paused, or a claim run out, or its own.
        let claim_resume = |o: &str, now: Millis| Write::ClaimResume {
            owner: o.into(),
            now,
            until: now + 10,
        };
        assert!(ok(&claim_resume("a", 0), &paused).is_none(), "held");
        let mut free = paused.clone();
        free.holds.clear();
        let mine = ok(&claim_resume("a", 0), &free)
            .flatten()
            .unwrap_or_else(|| free.clone());
        assert_eq!(mine.stage, Stage::Resuming);
        assert!(
            ok(&claim_resume("a", 5), &mine).is_some(),
            "its own, refreshed"
        );
        assert!(
            ok(&claim_resume("b", 5), &mine).is_none(),
            "another's, live"
        );
        assert!(
            ok(&claim_resume("b", 10), &mine).is_none(),
            "until is inclusive"
        );
        assert!(ok(&claim_resume("b", 11), &mine).is_some(), "run out");
        let mut free_pausing = pausing.clone();
        free_pausing.holds.clear();
        assert!(ok(&claim_resume("a", 0), &free_pausing).is_none());
        // Resumed, HandBack, Unclaim: only by the claim's owner; Resumed only if free.
        for w in [
            Write::Resumed { owner: "b".into() },
            Write::HandBack { owner: "b".into() },
            Write::Unclaim { owner: "b".into() },
        ] {
            assert!(ok(&w, &mine).is_none(), "{w:?}");
        }
        assert_eq!(ok(&Write::Resumed { owner: "a".into() }, &mine), Some(None));
        let mut rejoined = mine.clone();
        rejoined.holds.insert("crm".into(), 9);
        assert!(ok(&Write::Resumed { owner: "a".into() }, &rejoined).is_none());
        let back = ok(&Write::HandBack { owner: "a".into() }, &rejoined).flatten();
        assert_eq!(
            back.map(|e| (e.stage, e.mark)),
            Some((Stage::Pausing, Mark::Resumed))
        );
        let un = ok(&Write::Unclaim { owner: "a".into() }, &mine).flatten();
        assert_eq!(un.map(|e| (e.stage, e.owner)), Some((Stage::Paused, None)));
        // TakeOver: a claim run out, by a pause that holds it.
        assert!(
            ok(&Write::TakeOver { now: 10 }, &rejoined).is_none(),
            "live"
        );
        assert!(ok(&Write::TakeOver { now: 11 }, &rejoined).is_some());
        assert!(
            ok(&Write::TakeOver { now: 11 }, &mine).is_none(),
            "nobody holds it"
        );
        // Forget and Leave: at the revision decided on; Leave clears holds and claim.
        assert_eq!(ok(&Write::Forget, &paused), Some(None));
        assert!(Write::Forget.apply(Some(&paused), 0, &none).is_none());
        assert!(Write::Forget.apply(None, 0, &none).is_none());
        let leave = Write::Leave {
            note: "n".repeat(300),
            now: 1,
        };
        let gone = ok(&leave, &rejoined)
            .flatten()
            .unwrap_or_else(|| rejoined.clone());
        assert_eq!(
            (gone.stage, gone.holds.len(), gone.owner),
            (Stage::Left, 0, None)
        );
        assert_eq!(gone.note.map(|n| n.len()), Some(MAX_NOTE));
    }

    #[test]
    fn stages_keys_and_views_are_what_the_table_and_the_board_hold() {
        // Stored in the table: the names are a contract with items already written.
        let names = ["pausing", "paused", "resuming", "left"];
        for (st, name) in [Stage::Pausing, Stage::Paused, Stage::Resuming, Stage::Left]
            .into_iter()
            .zip(names)
        {
            assert_eq!(st.as_str(), name);
            assert_eq!(Stage::parse(name), Some(st));
        }
        assert_eq!(Stage::parse("stopped"), None);
        let e = entry(Stage::Left, Mark::Acked);
        assert_eq!(key(Kind::Voice, "c"), "campaign#voice#c");
        assert_eq!(e.key(), "campaign#voice#c");
        let v = e.view();
        assert_eq!(v["campaign"], "voice c (c)");
        assert_eq!(v["stage"], "left");
        assert_eq!(v["heldBy"], serde_json::json!(["crm"]));
        // A left campaign stays on the board a week.
        assert_eq!(LEFT_KEPT_MS, 604_800_000);
    }

    #[test]
    fn holds_and_marks_read_back() {
        assert_eq!(hold_of("crm/12/1700000000000"), ("crm".into(), 12));
        assert_eq!(hold_of("crm"), ("crm".into(), 0));
        for m in [
            Mark::Unsent,
            Mark::Sent {
                version: -3,
                at: 1_800_000_000_000,
            },
            Mark::Acked,
            Mark::Resumed,
        ] {
            assert_eq!(Mark::parse(&m.as_str()), Some(m));
        }
    }
}
