//! The overflow switch's decision, pure: given the switch asked for, the group as
//! Genesys holds it, the last switch recorded and a switch intended and never recorded,
//! what to do. As `campaign::step` is for the campaign pause, this is the table the
//! switch (`Overflow::claimed`) carries out and `shared/tests/overflow_model.rs` checks.
//!
//! The rule it keeps: an automatic restore undoes only Failsoft's own activation,
//! untouched since; an automatic activation takes no ownership of a group someone else
//! enabled; a person's switch is never undone automatically; and a switch of ours whose
//! confirmation was lost is still ours.

use super::record::{Intent, Mode, Switch};

/// The group as read: what the decision needs of it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Seen {
    pub id: String,
    pub enabled: bool,
    pub version: i64,
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// Our earlier attempt's PUT landed and its confirmation was lost: record it as
    /// ours, and page it.
    Confirm,
    /// Note the switch intended, then PUT it.
    Put,
    /// A restore that finds our own activation landed and never confirmed (its answer
    /// lost, then its outage ended): page that activation, then PUT the restore.
    Undo,
    /// Nothing to change, nothing to record: the claim is let go.
    Release { note: Option<String> },
    /// Not ours to change: recorded as left, with why.
    Leave { note: String },
    /// Our activation landed, unconfirmed, and someone disabled the group since: left
    /// as they set it, recorded, and paged (the on-call must know the overflow is off).
    Reverted { note: String },
}

/// The decision for an activation no longer called for (its outage ended before it was
/// confirmed): its PUT may have landed with the confirmation lost, and then it is
/// confirmed (recorded, paged) for the restore to undo; it never switches anything.
pub fn decide_confirm_only(group: &Seen, last: Option<&Switch>, intent: Option<&Intent>) -> Step {
    match decide(Mode::Auto, true, group, last, intent) {
        Step::Confirm => Step::Confirm,
        _ => Step::Release {
            note: Some("cancelled: the breaker moved on".into()),
        },
    }
}

/// The decision for a switch to `enabled` in `mode`, the group read as `group`.
pub fn decide(
    mode: Mode,
    enabled: bool,
    group: &Seen,
    last: Option<&Switch>,
    intent: Option<&Intent>,
) -> Step {
    let landed = intent.is_some_and(|i| {
        i.group_id == group.id
            && i.enabled == enabled
            && group.enabled == enabled
            && group.version > i.from_version
    });
    if landed {
        return Step::Confirm;
    }
    let ours = last.is_some_and(|l| {
        l.mode == Mode::Auto && l.enabled && l.group_id == group.id && l.version == group.version
    });
    // Our activation's PUT landed (the version it produced, nothing since) and was never
    // confirmed: the activation was dropped when its outage ended. Still ours to undo.
    let unconfirmed = intent.is_some_and(|i| {
        i.enabled && i.group_id == group.id && group.enabled && group.version == i.from_version + 1
    });
    if mode == Mode::Auto && !enabled && !ours && unconfirmed {
        return Step::Undo;
    }
    // Our activation may have landed, and the group is off at a later version than it
    // would have produced: someone disabled it since. Their choice stands.
    let reverted = intent.is_some_and(|i| {
        i.enabled && i.group_id == group.id && !group.enabled && group.version > i.from_version + 1
    });
    if mode == Mode::Auto && enabled && reverted {
        return Step::Reverted {
            note: format!(
                "left disabled: someone disabled it after Failsoft enabled it (version {} -> {})",
                intent.map_or(0, |i| i.from_version + 1),
                group.version
            ),
        };
    }
    // An automatic restore undoes only Failsoft's own activation, untouched since.
    if mode == Mode::Auto && !enabled && !ours {
        if let Some(l) = last.filter(|l| l.mode == Mode::Manual) {
            return Step::Release {
                note: Some(format!(
                    "left as {} switched it ({}): a person's switch is never undone automatically",
                    l.by,
                    crate::clock::iso8601(l.at_ms)
                )),
            };
        }
        let note = match last {
            Some(l) if l.mode == Mode::Auto && l.group_id == group.id => format!(
                "left {}: changed by someone since Failsoft enabled it (version {} -> {})",
                if group.enabled { "enabled" } else { "disabled" },
                l.version,
                group.version
            ),
            _ => "left: Failsoft did not enable it".into(),
        };
        return Step::Leave { note };
    }
    // An automatic activation of a group already enabled takes no ownership of it.
    if mode == Mode::Auto && enabled && group.enabled {
        let manual =
            last.is_some_and(|l| l.mode == Mode::Manual && l.enabled && l.group_id == group.id);
        if ours || manual {
            return Step::Release { note: None };
        }
        return Step::Leave {
            note: "already enabled by someone else: Failsoft will not disable it".into(),
        };
    }
    Step::Put
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(enabled: bool, version: i64) -> Seen {
        Seen {
            id: "eg-1".into(),
            enabled,
            version,
        }
    }

    fn last(mode: Mode, enabled: bool, version: i64) -> Switch {
        Switch {
            group_id: "eg-1".into(),
            group_name: "Regional overflow".into(),
            enabled,
            version,
            mode,
            by: "alice".into(),
            reason: "r".into(),
            at_ms: 0,
            ivrs: 3,
            note: None,
        }
    }

    #[test]
    fn a_restore_undoes_only_our_own_untouched_activation() {
        let ours = last(Mode::Auto, true, 5);
        assert_eq!(
            decide(Mode::Auto, false, &group(true, 5), Some(&ours), None),
            Step::Put
        );
        assert!(matches!(
            decide(Mode::Auto, false, &group(true, 7), Some(&ours), None),
            Step::Leave { .. }
        ));
        let alices = last(Mode::Manual, true, 5);
        assert!(matches!(
            decide(Mode::Auto, false, &group(true, 5), Some(&alices), None),
            Step::Release { note: Some(_) }
        ));
    }

    #[test]
    fn an_activation_takes_no_ownership_of_a_group_someone_else_enabled() {
        // Off: switched.
        assert_eq!(
            decide(Mode::Auto, true, &group(false, 3), None, None),
            Step::Put
        );
        // On already, by us (another breaker's outage): nothing to do, nothing recorded.
        let ours = last(Mode::Auto, true, 3);
        assert_eq!(
            decide(Mode::Auto, true, &group(true, 3), Some(&ours), None),
            Step::Release { note: None }
        );
        // On by a person's command: theirs stands.
        let alices = last(Mode::Manual, true, 3);
        assert_eq!(
            decide(Mode::Auto, true, &group(true, 3), Some(&alices), None),
            Step::Release { note: None }
        );
        // On by someone in Architect: left, and said so.
        assert!(matches!(
            decide(Mode::Auto, true, &group(true, 4), Some(&ours), None),
            Step::Leave { .. }
        ));
        // The restore says why it leaves a group: changed since, or never ours.
        assert!(matches!(
            decide(Mode::Auto, false, &group(true, 4), Some(&ours), None),
            Step::Leave { note } if note.contains("changed by someone")
        ));
        let left = last(Mode::Left, true, 4);
        assert!(matches!(
            decide(Mode::Auto, false, &group(true, 4), Some(&left), None),
            Step::Leave { note } if note.contains("did not enable")
        ));
        // A person's command that disabled, or was for another group, does not own it.
        let alice_off = last(Mode::Manual, false, 3);
        assert!(matches!(
            decide(Mode::Auto, true, &group(true, 3), Some(&alice_off), None),
            Step::Leave { .. }
        ));
        let mut alice_elsewhere = alices.clone();
        alice_elsewhere.group_id = "eg-2".into();
        assert!(matches!(
            decide(
                Mode::Auto,
                true,
                &group(true, 3),
                Some(&alice_elsewhere),
                None
            ),
            Step::Leave { .. }
        ));
        // Another group's record says nothing of this one.
        let mut elsewhere = ours.clone();
        elsewhere.group_id = "eg-2".into();
        assert!(matches!(
            decide(Mode::Auto, false, &group(true, 3), Some(&elsewhere), None),
            Step::Leave { note } if note.contains("did not enable")
        ));
        // A person's command is made whatever the record says.
        assert_eq!(
            decide(Mode::Manual, false, &group(true, 9), Some(&ours), None),
            Step::Put
        );
        assert_eq!(
            decide(Mode::Manual, true, &group(false, 9), Some(&alices), None),
            Step::Put
        );
    }

    #[test]
    fn an_intent_is_ours_only_for_its_group_its_direction_and_a_later_version() {
        let on = Intent {
            group_id: "eg-1".into(),
            enabled: true,
            from_version: 4,
            at_ms: 0,
        };
        let mut other = on.clone();
        other.group_id = "eg-2".into();
        assert_ne!(
            decide(Mode::Auto, true, &group(true, 5), None, Some(&other)),
            Step::Confirm
        );
        let off = Intent {
            enabled: false,
            ..on.clone()
        };
        assert_ne!(
            decide(Mode::Auto, true, &group(true, 5), None, Some(&off)),
            Step::Confirm
        );
        assert_eq!(
            decide(Mode::Auto, false, &group(false, 5), None, Some(&off)),
            Step::Confirm
        );
        // Someone disabled the group after our unconfirmed activation: theirs, paged.
        assert!(matches!(
            decide(Mode::Auto, true, &group(false, 6), None, Some(&on)),
            Step::Reverted { .. }
        ));
        // Off at the version it was sent from: our PUT did not land; switch now.
        assert_eq!(
            decide(Mode::Auto, true, &group(false, 4), None, Some(&on)),
            Step::Put
        );
        // Not someone's disabling: off at the version our PUT would have produced (it
        // did not land), another group's intent, an intent to disable, a person's command.
        assert_eq!(
            decide(Mode::Auto, true, &group(false, 5), None, Some(&on)),
            Step::Put
        );
        assert_eq!(
            decide(Mode::Auto, true, &group(false, 6), None, Some(&other)),
            Step::Put
        );
        assert_eq!(
            decide(Mode::Auto, true, &group(false, 6), None, Some(&off)),
            Step::Put
        );
        assert_eq!(
            decide(Mode::Manual, true, &group(false, 6), None, Some(&on)),
            Step::Put
        );
        // A stopped activation confirms only: anything else is cancelled.
        assert_eq!(
            decide_confirm_only(&group(true, 5), None, Some(&on)),
            Step::Confirm
        );
        assert!(matches!(
            decide_confirm_only(&group(false, 4), None, Some(&on)),
            Step::Release { note: Some(_) }
        ));
    }

    #[test]
    fn a_lost_confirmation_of_our_own_switch_is_ours() {
        let intent = Intent {
            group_id: "eg-1".into(),
            enabled: true,
            from_version: 4,
            at_ms: 0,
        };
        assert_eq!(
            decide(Mode::Auto, true, &group(true, 5), None, Some(&intent)),
            Step::Confirm
        );
        assert!(matches!(
            decide(Mode::Auto, true, &group(true, 4), None, Some(&intent)),
            Step::Leave { .. }
        ));
        // Its outage ended before it was confirmed: the restore undoes it, paged.
        assert_eq!(
            decide(Mode::Auto, false, &group(true, 5), None, Some(&intent)),
            Step::Undo
        );
        assert!(matches!(
            decide(Mode::Auto, false, &group(true, 6), None, Some(&intent)),
            Step::Leave { .. }
        ));
    }
}
