//! Caller ANI → digits. The digits are the only part of the input that may reach a CRM
//! query, so this is the injection boundary.

/// A caller number reduced to 7–15 ASCII digits (E.164 allows at most 15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digits(String);

impl Digits {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The forms to search for: the number as given and, for a NANP number with its
    /// country code, the 10-digit national number CRMs usually store.
    pub fn search_forms(&self) -> Vec<String> {
        let mut forms = vec![self.0.clone()];
        if self.0.len() == 11 && self.0.starts_with('1') {
            forms.push(self.0[1..].to_string());
        }
        forms
    }
}

/// Why an ANI yields no number to look up. Neither is an error: the caller is routed as
/// unknown without a CRM call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoNumber {
    /// Empty, `anonymous`, `private`, `restricted`, `unavailable`, `withheld`…
    Withheld,
    /// Present but not a usable phone number.
    Unusable,
}

const WITHHELD: &[&str] = &[
    "",
    "anonymous",
    "anon",
    "private",
    "restricted",
    "unavailable",
    "unknown",
    "withheld",
    "blocked",
    "no caller id",
    "nocallerid",
];

/// Normalise the forms Genesys gives for Call.Ani: `tel:+13175550123`,
/// `sip:+13175550123@host;user=phone`, `+1 (317) 555-0123`, `3175550123`, and the
/// withheld forms (`anonymous`, `sip:anonymous@anonymous.invalid`, empty).
pub fn normalise(ani: &str) -> Result<Digits, NoNumber> {
    let s = ani.trim();
    let lower = s.to_ascii_lowercase();
    // URI forms keep only their number: a SIP user part (before `@`, `;` or `?`), a tel
    // number (before its `;` parameters). A bare number keeps every character.
    let s = if let Some(rest) = ["sip:", "sips:"]
        .iter()
        .find_map(|p| lower.starts_with(p).then(|| &s[p.len()..]))
    {
        rest.split(['@', ';', '?'])
            .next()
            .unwrap_or_default()
            .trim()
    } else if lower.starts_with("tel:") {
        s[4..].split(';').next().unwrap_or_default().trim()
    } else {
        s
    };
    if WITHHELD.contains(&s.to_ascii_lowercase().as_str()) {
        return Err(NoNumber::Withheld);
    }
    let body = s.strip_prefix('+').unwrap_or(s);
    let mut digits = String::with_capacity(body.len());
    for c in body.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' | '/' => {}
            _ => return Err(NoNumber::Unusable),
        }
    }
    if (7..=15).contains(&digits.len()) && digits.chars().any(|c| c != '0') {
        Ok(Digits(digits))
    } else if digits.is_empty() {
        Err(NoNumber::Withheld)
    } else {
        Err(NoNumber::Unusable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesys_ani_forms() {
        for ani in [
            "tel:+13175550123",
            "sip:+13175550123@10.0.0.1;user=phone",
            "sips:+13175550123@host",
            "+1 (317) 555-0123",
            "TEL:+1-317-555-0123",
            "tel:+1-317-555-0123;ext=22",
            "13175550123",
        ] {
            assert_eq!(
                normalise(ani).map(|d| d.0),
                Ok("13175550123".to_string()),
                "{ani}"
            );
        }
        assert_eq!(
            normalise("3175550123").map(|d| d.0),
            Ok("3175550123".to_string())
        );
        assert_eq!(
            normalise("tel:+13175550123").map(|d| d.search_forms()),
            Ok(vec!["13175550123".to_string(), "3175550123".to_string()])
        );
    }

    #[test]
    fn withheld_and_unusable() {
        for ani in [
            "",
            "  ",
            "anonymous",
            "Anonymous",
            "sip:anonymous@anonymous.invalid",
            "tel:",
            "private",
            "Restricted",
        ] {
            assert_eq!(normalise(ani), Err(NoNumber::Withheld), "{ani:?}");
        }
        for ani in [
            "12",
            "0000000",
            "+1 317 555 0123 ext 5",
            "317555012345678901",
            "1' OR 1=1",
            "{3175550123}",
        ] {
            assert_eq!(normalise(ani), Err(NoNumber::Unusable), "{ani:?}");
        }
    }
}
