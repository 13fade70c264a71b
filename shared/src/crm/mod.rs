//! The CRM lookup: ANI normalisation, the Salesforce client and the lookup itself.

pub mod lookup;
pub mod phone;
pub mod salesforce;

use std::time::Duration;

use crate::config::{parsed, ConfigError, Env};
use crate::service::{InitError, Services};
use lookup::CrmLookup;
use salesforce::{FieldPath, SalesforceConfig, TierMap};

/// The crm-lookup knobs (variable, default, meaning), as documented in the README.
pub const KNOBS: &[(&str, &str, &str)] = &[
    (
        "CRM_SECRET_ID",
        "(required)",
        "Secrets Manager secret: {token_url, client_id, client_secret}",
    ),
    (
        "LOOKUP_DEADLINE_MS",
        "2500",
        "answer within this, below the Data Action's 3 s",
    ),
    (
        "CRM_TIER_FIELD",
        "Account.Tier__c",
        "field path, relative to Contact, holding the tier",
    ),
    (
        "CRM_TIER_MAP",
        "(empty)",
        "CRM value → tier, e.g. Platinum=vip,Gold=vip; unmapped → standard",
    ),
    ("CRM_API_VERSION", "v61.0", "Salesforce REST API version"),
];

pub fn from_env(services: &Services, env: &dyn Env) -> Result<CrmLookup, InitError> {
    let invalid = |var: &str, value: String, why: &str| ConfigError::Invalid {
        var: var.to_string(),
        value,
        why: why.to_string(),
    };
    let field_s = env
        .get("CRM_TIER_FIELD")
        .unwrap_or_else(|| "Account.Tier__c".into());
    let tier_field = FieldPath::parse(&field_s)
        .ok_or_else(|| invalid("CRM_TIER_FIELD", field_s.clone(), "not a field path"))?;
    let map_s = env.get("CRM_TIER_MAP").unwrap_or_default();
    let tier_map = TierMap::parse(&map_s)
        .ok_or_else(|| invalid("CRM_TIER_MAP", map_s.clone(), "expected A=b,C=d"))?;
    let api_version = env.get("CRM_API_VERSION").unwrap_or_else(|| "v61.0".into());
    let version_ok = api_version
        .strip_prefix('v')
        .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if !version_ok {
        return Err(invalid("CRM_API_VERSION", api_version, "expected vNN.N").into());
    }
    let deadline_ms: u64 = parsed(env, "LOOKUP_DEADLINE_MS", 2500)?;
    if !(500..=60_000).contains(&deadline_ms) {
        return Err(invalid(
            "LOOKUP_DEADLINE_MS",
            deadline_ms.to_string(),
            "must be 500..=60000",
        )
        .into());
    }
    let provider = crate::token::providers_from_env(env)?
        .into_iter()
        .find(|p| p.name() == "crm")
        .ok_or_else(|| ConfigError::Missing {
            var: "CRM_SECRET_ID".into(),
        })?;
    let tokens = services.token_cache(provider, env)?;
    let alerts =
        crate::alert::PagerDuty::from_env(services, env)?.map(|pd| (pd, services.store.clone()));
    Ok(CrmLookup {
        alerts,
        breaker: services.breaker("crm", env)?,
        tokens,
        http: services.http.clone(),
        salesforce: SalesforceConfig {
            api_version,
            tier_field,
            tier_map,
        },
        deadline: Duration::from_millis(deadline_ms),
    })
}
