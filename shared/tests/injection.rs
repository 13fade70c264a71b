//! Injection corpus: whatever the ANI holds, the SOSL text sent to Salesforce is built
//! from digits alone. No quote, brace, backslash or operator from the input reaches it.

use failsoft::crm::phone::normalise;
use failsoft::crm::salesforce::{sosl, FieldPath, SalesforceConfig, TierMap};
use proptest::prelude::*;

fn cfg() -> SalesforceConfig {
    SalesforceConfig {
        api_version: "v61.0".into(),
        tier_field: FieldPath::parse("Account.Tier__c").unwrap_or_else(|| unreachable!()),
        tier_map: TierMap::default(),
    }
}

const CORPUS: &[&str] = &[
    "tel:+1317555'0123",
    "3175550123' OR Name LIKE '%",
    "3175550123} RETURNING User(Id",
    "{3175550123}",
    "3175550123\\",
    "3175550123\\' OR 1=1 --",
    "31755\"50123",
    "3175550123 OR *",
    "3175550123 AND NOT 1",
    "sip:3175550123'@evil;user=phone",
    "tel:+1(317)555-0123)}]",
    "3175550123%27",
    "3175550123\u{0}",
    "3175550123\n OR 1",
    "+1 317 555 0123 ; DROP",
    "٣١٧٥٥٥٠١٢٣",
    "3175550123?q=FIND",
    "*3175550123*",
    "3175550123~",
    "3175550123&&",
    "3175550123||x",
    "3175550123!",
    "3175550123^2",
    "3175550123:x",
    "tel:+13175550123\"}",
];

/// The FIND clause must be exactly `{"d" OR "d"}` with digit strings d.
fn assert_digits_only(ani: &str) {
    let Ok(d) = normalise(ani) else { return };
    let q = sosl(&d, &cfg());
    let inner = q
        .strip_prefix("FIND {")
        .and_then(|r| r.split_once("} IN PHONE FIELDS RETURNING Contact(Id, Name, AccountId, LastModifiedDate, Account.Tier__c ORDER BY LastModifiedDate DESC, Id ASC LIMIT 20)"))
        .map(|(inner, rest)| {
            assert!(rest.is_empty(), "{ani:?}: trailing {rest:?}");
            inner
        });
    let Some(inner) = inner else {
        panic!("{ani:?}: unexpected query {q:?}")
    };
    for term in inner.split(" OR ") {
        let digits = term.strip_prefix('"').and_then(|t| t.strip_suffix('"'));
        assert!(
            digits.is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())),
            "{ani:?}: term {term:?} in {q:?}"
        );
    }
}

#[test]
fn corpus_never_reaches_the_query() {
    let mut accepted = 0;
    for ani in CORPUS {
        if normalise(ani).is_ok() {
            accepted += 1;
        }
        assert_digits_only(ani);
    }
    // Inputs with anything but separators are refused outright, not cleaned up.
    assert_eq!(
        accepted, 0,
        "an input with injection characters was accepted"
    );
    assert_digits_only("tel:+13175550123");
    assert!(normalise("tel:+13175550123").is_ok());
}

proptest! {
    #[test]
    fn any_input_yields_digits_only(ani in "\\PC{0,40}") {
        assert_digits_only(&ani);
    }

    #[test]
    fn phone_like_input_yields_digits_only(ani in "(tel:|sip:)?\\+?[0-9 ()'\"{}\\\\%*.-]{0,20}(@[a-z;=]{0,10})?") {
        assert_digits_only(&ani);
    }
}
