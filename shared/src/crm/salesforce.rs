//! The Salesforce client: a SOSL phone search built from digits alone, and the choice
//! of one contact among several.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::phone::Digits;
use crate::http::{self, HttpError};

/// A field path relative to Contact, such as `Account.Tier__c`: identifiers only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    pub fn parse(s: &str) -> Option<FieldPath> {
        let parts: Vec<String> = s.split('.').map(str::to_string).collect();
        let ident = |p: &String| {
            p.len() <= 80
                && p.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        (parts.len() <= 5 && parts.iter().all(ident)).then_some(FieldPath(parts))
    }
    pub fn soql(&self) -> String {
        self.0.join(".")
    }
    fn get<'a>(&self, record: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(record, |v, k| v.get(k))
    }
}

/// CRM tier value → tier string (`Platinum=vip,Gold=vip`); unmapped or empty → "standard".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TierMap(Vec<(String, String)>);

impl TierMap {
    pub fn parse(s: &str) -> Option<TierMap> {
        let mut out = Vec::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=')?;
            let (k, v) = (k.trim(), v.trim());
            if k.is_empty() || v.is_empty() {
                return None;
            }
            out.push((k.to_string(), v.to_string()));
        }
        Some(TierMap(out))
    }
    pub fn tier(&self, raw: Option<&str>) -> String {
        raw.and_then(|r| {
            self.0
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(r.trim()))
        })
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "standard".to_string())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    pub id: String,
    pub name: String,
    pub account_id: String,
    pub tier: String,
}

/// A Salesforce API session. The token is never printed.
#[derive(Clone)]
pub struct Session {
    pub access_token: String,
    pub instance_url: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("instance_url", &self.instance_url)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug)]
pub struct SalesforceConfig {
    pub api_version: String,
    pub tier_field: FieldPath,
    pub tier_map: TierMap,
}

/// The SOSL search for `digits`. Only digits, and the configured (validated) field
/// path, reach the text.
pub fn sosl(digits: &Digits, cfg: &SalesforceConfig) -> String {
    let terms: Vec<String> = digits
        .search_forms()
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect();
    format!(
        "FIND {{{}}} IN PHONE FIELDS RETURNING Contact(Id, Name, AccountId, LastModifiedDate, {} ORDER BY LastModifiedDate DESC, Id ASC LIMIT 20)",
        terms.join(" OR "),
        cfg.tier_field.soql()
    )
}

/// Several matches: the most recently modified contact, ties broken by the lowest Id,
/// whatever order Salesforce returned them in.
pub fn choose(records: &[Value], cfg: &SalesforceConfig) -> Option<Contact> {
    let s = |r: &Value, k: &str| {
        r.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    records
        .iter()
        .filter(|r| !s(r, "Id").is_empty())
        .max_by(|a, b| {
            // ISO-8601 timestamps in one zone compare as strings.
            s(a, "LastModifiedDate")
                .cmp(&s(b, "LastModifiedDate"))
                .then_with(|| s(b, "Id").cmp(&s(a, "Id")))
        })
        .map(|r| Contact {
            id: s(r, "Id"),
            name: s(r, "Name"),
            account_id: s(r, "AccountId"),
            tier: cfg
                .tier_map
                .tier(cfg.tier_field.get(r).and_then(Value::as_str)),
        })
}

/// Search contacts by phone. `Ok(None)`: no contact has this number.
pub async fn search(
    http: &reqwest::Client,
    session: &Session,
    digits: &Digits,
    cfg: &SalesforceConfig,
    deadline: Instant,
) -> Result<Option<Contact>, HttpError> {
    let url = format!(
        "{}/services/data/{}/search/",
        session.instance_url.trim_end_matches('/'),
        cfg.api_version
    );
    let req = http
        .get(url)
        .bearer_auth(&session.access_token)
        .query(&[("q", sosl(digits, cfg))]);
    let body = http::send_json(req, deadline).await?;
    let records = body
        .get("searchRecords")
        .and_then(Value::as_array)
        .ok_or_else(|| HttpError::Garbage("no searchRecords".into()))?;
    Ok(choose(records, cfg))
}

/// The time one more attempt needs at the least; a retry is skipped with less left.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(400);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg() -> SalesforceConfig {
        SalesforceConfig {
            api_version: "v61.0".into(),
            tier_field: FieldPath::parse("Account.Tier__c").unwrap_or(FieldPath(vec![])),
            tier_map: TierMap::parse("Platinum=vip, Gold=vip").unwrap_or_default(),
        }
    }

    #[test]
    fn field_paths_are_identifiers_only() {
        assert!(FieldPath::parse("Account.Tier__c").is_some());
        for bad in ["", "Account.", "Tier__c) FROM", "a'b", "1x", "A..B", "x y"] {
            assert!(FieldPath::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn tier_map_defaults_to_standard() {
        let c = cfg();
        assert_eq!(c.tier_map.tier(Some("Platinum")), "vip");
        assert_eq!(c.tier_map.tier(Some("gold ")), "vip");
        assert_eq!(c.tier_map.tier(Some("Bronze")), "standard");
        assert_eq!(c.tier_map.tier(None), "standard");
        assert!(TierMap::parse("Gold").is_none());
    }

    #[test]
    fn choice_is_independent_of_order() {
        let recs = vec![
            json!({"Id": "003B", "Name": "Old", "AccountId": "001", "LastModifiedDate": "2026-01-01T00:00:00.000+0000"}),
            json!({"Id": "003C", "Name": "New C", "AccountId": "001", "LastModifiedDate": "2026-06-01T00:00:00.000+0000", "Account": {"Tier__c": "Gold"}}),
            json!({"Id": "003A", "Name": "New A", "AccountId": "002", "LastModifiedDate": "2026-06-01T00:00:00.000+0000", "Account": {"Tier__c": "Platinum"}}),
        ];
        let mut rev = recs.clone();
        rev.reverse();
        let a = choose(&recs, &cfg());
        assert_eq!(a, choose(&rev, &cfg()));
        assert_eq!(a.as_ref().map(|c| c.id.as_str()), Some("003A"));
        assert_eq!(a.map(|c| c.tier), Some("vip".to_string()));
    }
}
