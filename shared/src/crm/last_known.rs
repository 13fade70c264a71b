//! The last-known caller context: the tier a successful lookup confirmed, kept so that a
//! VIP who calls while the CRM is down is still routed as a VIP (the guide's Edge Case 3
//! sends every caller to the standard queue then).
//!
//! What is kept, and nothing more: the tier and when it was confirmed, under an HMAC of
//! the normalised number (the key comes from a secret), with a TTL. No number, name or
//! CRM id is stored. It lives in a table of its own (`CONTEXT_TABLE`), so that its
//! volume never shares capacity with the breakers and tokens.
//!
//! It never stands in the caller's way: the read runs beside the CRM call and is bounded
//! by the answer's deadline and the table's request timeout; a write happens only when
//! the tier changed or the record is missing or due for refresh, and a failed one is
//! logged, never retried.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use tokio::time::Instant;

use super::phone::Digits;
use crate::clock::{Clock, Millis};
use crate::config::{number, required, ConfigError, Env};
use crate::secrets::{field, SecretCache, SecretError};
use crate::store::{bounded, classify_sdk_error, StoreError};

/// Tiers are kept as the CRM names them, lower-cased, at most this long.
pub const MAX_TIER_LEN: usize = 32;
/// The secret's field holding the HMAC key (at least 32 bytes of text).
pub const KEY_FIELD: &str = "hmacKey";
const MIN_KEY_LEN: usize = 32;
const DAY_MS: Millis = 86_400_000;
const HOUR_MS: Millis = 3_600_000;

/// `LAST_KNOWN_CONTEXT=on` turns it on (off by default); then `CONTEXT_TABLE` and
/// `LAST_KNOWN_KEY_SECRET_ID` are required, and `LAST_KNOWN_TTL_DAYS` (1–365, default
/// 30) and `LAST_KNOWN_REFRESH_HOURS` (1–720, default 24) may be set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastKnownConfig {
    pub table: String,
    pub key_secret: String,
    pub ttl_ms: Millis,
    pub refresh_ms: Millis,
}

impl LastKnownConfig {
    /// The settings whatever `LAST_KNOWN_CONTEXT` says: the operator's commands reach a
    /// context that a function may have kept before it was turned off.
    pub fn for_operator(env: &impl Env) -> Result<LastKnownConfig, ConfigError> {
        LastKnownConfig::read(env)
    }

    fn read(env: &dyn Env) -> Result<LastKnownConfig, ConfigError> {
        let days: u32 = number(env, "LAST_KNOWN_TTL_DAYS", 30, 1, 365)?;
        let hours: u32 = number(env, "LAST_KNOWN_REFRESH_HOURS", 24, 1, 720)?;
        Ok(LastKnownConfig {
            table: required(env, "CONTEXT_TABLE")?,
            key_secret: required(env, "LAST_KNOWN_KEY_SECRET_ID")?,
            ttl_ms: Millis::from(days) * DAY_MS,
            refresh_ms: Millis::from(hours) * HOUR_MS,
        })
    }

    /// `None` when it is off.
    pub fn from_env(env: &impl Env) -> Result<Option<LastKnownConfig>, ConfigError> {
        let env: &dyn Env = env;
        match env.get("LAST_KNOWN_CONTEXT").as_deref().map(str::trim) {
            None | Some("off") => return Ok(None),
            Some("on") => {}
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "LAST_KNOWN_CONTEXT".into(),
                    value: other.to_string(),
                    why: "neither on nor off".into(),
                })
            }
        }
        LastKnownConfig::read(env).map(Some)
    }
}

/// A tier as it was last confirmed by the CRM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kept {
    pub tier: String,
    pub confirmed_ms: Millis,
}

impl Kept {
    /// Whole seconds since it was confirmed (never negative).
    pub fn age_s(&self, now: Millis) -> u64 {
        u64::try_from((now - self.confirmed_ms).max(0) / 1000).unwrap_or(0)
    }
}

/// Why the context could not be read or kept. Its text names no caller and no key.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("context table: {0}")]
    Store(#[from] StoreError),
    #[error("context key: {0}")]
    Key(#[from] SecretError),
    #[error("context key is shorter than {MIN_KEY_LEN} characters")]
    ShortKey,
    #[error("context item is malformed")]
    Corrupt,
}

/// A tier as it may be kept: trimmed, lower-case, short, and only letters, digits, `-`
/// and `_` (whatever else the CRM holds is not a tier the flow routes on).
pub fn tier_to_keep(tier: &str) -> Option<String> {
    let t = tier.trim().to_ascii_lowercase();
    let ok = !t.is_empty()
        && t.len() <= MAX_TIER_LEN
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then_some(t)
}

/// Whether a lookup that confirmed `tier` writes: only when nothing is kept, the tier
/// changed, or the kept one is older than `refresh_ms` (so that writes follow distinct
/// callers, not calls, and the TTL keeps moving for callers who keep calling).
pub fn should_write(kept: Option<&Kept>, tier: &str, now: Millis, refresh_ms: Millis) -> bool {
    match kept {
        None => true,
        Some(k) => k.tier != tier || now - k.confirmed_ms >= refresh_ms,
    }
}

/// The item key for a number: `ctx#` and the hex HMAC-SHA256 of its digits.
pub fn item_key(key: &[u8], digits: &Digits) -> String {
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&k, digits.as_str().as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("ctx#{hex}")
}

/// The context table's adapter.
pub struct LastKnown {
    pub config: LastKnownConfig,
    pub dynamo: Client,
    pub secrets: Arc<SecretCache>,
    pub clock: Arc<dyn Clock>,
}

impl LastKnown {
    async fn key(&self, digits: &Digits, deadline: Instant) -> Result<String, ContextError> {
        let secret = self.secrets.get(&self.config.key_secret, deadline).await?;
        let key = field(&secret, &self.config.key_secret, KEY_FIELD)?;
        if key.len() < MIN_KEY_LEN {
            return Err(ContextError::ShortKey);
        }
        Ok(item_key(key.as_bytes(), digits))
    }

    /// The kept tier for this number, if any and not past its TTL. The whole read, the
    /// key's secret included, ends by the table's request timeout: a fallback waits for
    /// it, and must not wait for a hanging Secrets Manager until the deadline.
    pub async fn read(
        &self,
        digits: &Digits,
        deadline: Instant,
    ) -> Result<Option<Kept>, ContextError> {
        let deadline = crate::store::request_deadline(deadline);
        let pk = self.key(digits, deadline).await?;
        let Some(item) = self.item(pk, deadline).await? else {
            return Ok(None);
        };
        let kept = from_item(&item).ok_or(ContextError::Corrupt)?;
        // DynamoDB deletes expired items within days, not at once: past its TTL is gone.
        let expires_ms = kept.confirmed_ms + self.config.ttl_ms;
        Ok((self.clock.now_ms() < expires_ms).then_some(kept))
    }

    /// Whether the key can be read and the table answers: a read of a number no one
    /// calls from, within `deadline` (the operator's `failsoft doctor`, from wherever
    /// they are, rather than a call's 250 ms).
    pub async fn reachable(&self, deadline: Instant) -> Result<(), ContextError> {
        let nobody = super::phone::normalise("+10000000000").map_err(|_| ContextError::Corrupt)?;
        let pk = self.key(&nobody, deadline).await?;
        self.item(pk, deadline).await.map(|_| ())
    }

    /// The item under `pk`, if any, by `until`.
    async fn item(
        &self,
        pk: String,
        until: Instant,
    ) -> Result<Option<HashMap<String, AttributeValue>>, ContextError> {
        let get = self
            .dynamo
            .get_item()
            .table_name(&self.config.table)
            .key("pk", AttributeValue::S(pk))
            .send();
        let out = tokio::time::timeout_at(until, get)
            .await
            .map_err(|_| StoreError::Timeout)?
            .map_err(classify_sdk_error)?;
        Ok(out.item().cloned())
    }

    /// Keep `tier` for this number if `should_write` says so; whether it wrote.
    pub async fn keep(
        &self,
        digits: &Digits,
        tier: &str,
        kept: Option<&Kept>,
        deadline: Instant,
    ) -> Result<bool, ContextError> {
        let now = self.clock.now_ms();
        let Some(tier) = tier_to_keep(tier) else {
            return Ok(false);
        };
        if !should_write(kept, &tier, now, self.config.refresh_ms) {
            return Ok(false);
        }
        let pk = self.key(digits, deadline).await?;
        let item = to_item(&pk, &tier, now, self.config.ttl_ms);
        let put = self
            .dynamo
            .put_item()
            .table_name(&self.config.table)
            .set_item(Some(item))
            .send();
        bounded(deadline, async { put.await.map_err(classify_sdk_error) }).await?;
        Ok(true)
    }

    /// Remove what is kept for this number (a privacy request); whether anything was.
    pub async fn forget(&self, digits: &Digits, deadline: Instant) -> Result<bool, ContextError> {
        let pk = self.key(digits, deadline).await?;
        let delete = self
            .dynamo
            .delete_item()
            .table_name(&self.config.table)
            .key("pk", AttributeValue::S(pk))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send();
        let out = bounded(deadline, async { delete.await.map_err(classify_sdk_error) }).await?;
        Ok(out.attributes().is_some_and(|a| !a.is_empty()))
    }
}

/// What `failsoft context stats` shows: how many callers are kept, by tier and by the
/// age of their confirmation.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub kept: u64,
    /// Past the TTL, not yet deleted by DynamoDB (never used).
    pub expired: u64,
    pub by_tier: std::collections::BTreeMap<String, u64>,
    /// Confirmed within a day, a week, the TTL.
    pub within_day: u64,
    pub within_week: u64,
    pub older: u64,
    pub unreadable: u64,
}

impl LastKnown {
    /// Count what is kept: a Scan of the whole table (the operator's, never a function's),
    /// page by page, each page bounded by `deadline`.
    pub async fn stats(&self, deadline: Instant) -> Result<Stats, ContextError> {
        let now = self.clock.now_ms();
        let mut stats = Stats::default();
        let mut start = None;
        loop {
            let scan = self
                .dynamo
                .scan()
                .table_name(&self.config.table)
                .set_exclusive_start_key(start)
                .send();
            let page = tokio::time::timeout_at(deadline, scan)
                .await
                .map_err(|_| StoreError::Timeout)?
                .map_err(classify_sdk_error)?;
            for item in page.items() {
                match from_item(item) {
                    Some(k) if now >= k.confirmed_ms + self.config.ttl_ms => stats.expired += 1,
                    Some(k) => {
                        stats.kept += 1;
                        *stats.by_tier.entry(k.tier.clone()).or_default() += 1;
                        match now - k.confirmed_ms {
                            a if a < DAY_MS => stats.within_day += 1,
                            a if a < 7 * DAY_MS => stats.within_week += 1,
                            _ => stats.older += 1,
                        }
                    }
                    None => stats.unreadable += 1,
                }
            }
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(stats);
            }
        }
    }
}

/// The item: the key, the tier, when it was confirmed, and DynamoDB's TTL (seconds).
pub fn to_item(
    pk: &str,
    tier: &str,
    now: Millis,
    ttl_ms: Millis,
) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_string(), AttributeValue::S(pk.to_string())),
        ("tier".to_string(), AttributeValue::S(tier.to_string())),
        (
            "confirmed_ms".to_string(),
            AttributeValue::N(now.to_string()),
        ),
        (
            "expires_at".to_string(),
            AttributeValue::N(((now + ttl_ms) / 1000).to_string()),
        ),
    ])
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Kept> {
    let tier = item.get("tier")?.as_s().ok()?;
    let confirmed_ms = item.get("confirmed_ms")?.as_n().ok()?.parse().ok()?;
    Some(Kept {
        tier: tier_to_keep(tier)?,
        confirmed_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::phone::normalise;

    #[test]
    fn writes_follow_callers_not_calls() {
        let kept = Kept {
            tier: "vip".into(),
            confirmed_ms: 1_000,
        };
        let day = 24 * HOUR_MS;
        assert!(should_write(None, "vip", 2_000, day));
        assert!(!should_write(Some(&kept), "vip", 2_000, day));
        assert!(should_write(Some(&kept), "standard", 2_000, day));
        assert!(should_write(Some(&kept), "vip", 1_000 + day, day));
    }

    #[test]
    fn the_key_is_a_keyed_hash_of_the_digits_only() -> Result<(), String> {
        let a = normalise("tel:+1 (317) 555-0123").map_err(|e| format!("{e:?}"))?;
        let b = normalise("+13175550123").map_err(|e| format!("{e:?}"))?;
        let key = b"0123456789abcdef0123456789abcdef";
        let k = item_key(key, &a);
        assert_eq!(k, item_key(key, &b), "one caller, one key");
        assert_ne!(k, item_key(b"another key, another key, another", &a));
        assert!(!k.contains("3175550123"), "{k}");
        assert_eq!(k.len(), "ctx#".len() + 64);
        Ok(())
    }

    #[test]
    fn only_plain_tiers_are_kept() {
        assert_eq!(tier_to_keep(" VIP ").as_deref(), Some("vip"));
        assert_eq!(tier_to_keep("gold_plus-2").as_deref(), Some("gold_plus-2"));
        for bad in ["", "a b", "x".repeat(33).as_str(), "vip'; drop", "é"] {
            assert_eq!(tier_to_keep(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_item_holds_the_tier_and_times_only() {
        let item = to_item("ctx#ab", "vip", 1_800_000_000_000, 30 * DAY_MS);
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort();
        assert_eq!(names, ["confirmed_ms", "expires_at", "pk", "tier"]);
        assert_eq!(
            from_item(&item),
            Some(Kept {
                tier: "vip".into(),
                confirmed_ms: 1_800_000_000_000
            })
        );
    }
}
