//! The effects a breaker's user registers: a name the breaker stores in its outbox, and
//! the pair (done when an outage begins, undone after it ends) that the policy lists.
//! Data only, at the bottom of the breaker: it knows nothing of what an effect does.

/// An effect's stored name: lowercase ASCII, digits and `_`, at most 31 bytes, kept
/// inline so that an `Action` stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Name {
    len: u8,
    bytes: [u8; Name::MAX],
}

impl Name {
    pub const MAX: usize = 31;

    /// A registered name, checked when the constant is built.
    pub const fn new(s: &'static str) -> Name {
        let b = s.as_bytes();
        assert!(
            !b.is_empty() && b.len() <= Name::MAX,
            "an effect name is 1 to 31 bytes"
        );
        let mut bytes = [0u8; Name::MAX];
        let mut i = 0;
        while i < b.len() {
            assert!(
                b[i].is_ascii_lowercase() || b[i].is_ascii_digit() || b[i] == b'_',
                "an effect name is lowercase ASCII, digits and _"
            );
            bytes[i] = b[i];
            i += 1;
        }
        Name {
            len: b.len() as u8,
            bytes,
        }
    }

    /// A stored name, or None if it cannot be one.
    pub fn parse(s: &str) -> Option<Name> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= Name::MAX
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
        if !ok {
            return None;
        }
        let mut bytes = [0u8; Name::MAX];
        bytes[..b.len()].copy_from_slice(b);
        Some(Name {
            len: b.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (both constructors check it).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

/// An effect that comes in pairs, registered by the breaker's user with the policy:
/// done when an outage begins, undone a delay after it ends. One slot each per breaker,
/// whatever the number of episodes: the user's own record, not the entry, says what to
/// undo. The breaker knows only these names and texts.
#[derive(Debug, PartialEq, Eq)]
pub struct PairedEffect {
    /// The outbox slots of the do and the undo.
    pub on_id: &'static str,
    pub off_id: &'static str,
    /// The stored names of the do and the undo.
    pub on: Name,
    pub off: Name,
    /// What each does, for the entry's summary.
    pub on_text: &'static str,
    pub off_text: &'static str,
}
