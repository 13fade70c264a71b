//! The CRM lookup: ANI normalisation, the Salesforce client and the lookup itself.

pub mod last_known;
pub mod lookup;
pub mod phone;
pub mod salesforce;

use std::time::Duration;

use crate::config::{number, ConfigError, Env};
use crate::dependency::Dependency;
use crate::service::{InitError, Services};
use crate::token::TokenConfig;
use lookup::CrmLookup;
use salesforce::{FieldPath, SalesforceConfig, TierMap};

/// crm-lookup's own settings (the token, breaker and alert settings are their own).
#[derive(Clone, Debug)]
pub struct CrmConfig {
    pub salesforce: SalesforceConfig,
    /// Answer within this, below the Data Action's 3 s.
    pub deadline: Duration,
}

impl CrmConfig {
    pub fn from_env(env: &impl Env) -> Result<CrmConfig, ConfigError> {
        let env: &dyn Env = env;
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
        let api_version = api_version(env)?;
        let deadline_ms: u64 = number(env, "LOOKUP_DEADLINE_MS", 2500, 500, 60_000)?;
        Ok(CrmConfig {
            salesforce: SalesforceConfig {
                api_version,
                tier_field,
                tier_map,
            },
            deadline: Duration::from_millis(deadline_ms),
        })
    }
}

/// `CRM_API_VERSION` (default `v61.0`): it goes into every Salesforce URL, so it is
/// `v` and digits and dots, nothing else.
pub fn api_version(env: &dyn Env) -> Result<String, ConfigError> {
    let v = env.get("CRM_API_VERSION").unwrap_or_else(|| "v61.0".into());
    let ok = v
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.'));
    if ok {
        Ok(v)
    } else {
        Err(ConfigError::Invalid {
            var: "CRM_API_VERSION".into(),
            value: v,
            why: "expected vNN.N".into(),
        })
    }
}

impl CrmLookup {
    /// The lookup, its `crm` breaker, and the `crm` token behind `crm-auth`.
    pub fn build(services: &Services, env: &impl Env) -> Result<CrmLookup, InitError> {
        let config = CrmConfig::from_env(env)?;
        let tokens = TokenConfig::from_env(env)?;
        let provider = tokens.provider("crm", "CRM_SECRET_ID")?;
        Ok(CrmLookup {
            breaker: services.breaker(Dependency::Crm, env)?,
            tokens: services.token_cache(provider, &tokens, env)?,
            http: services.http.clone(),
            salesforce: config.salesforce,
            deadline: config.deadline,
            last_known: last_known::LastKnownConfig::from_env(env)?.map(|config| {
                last_known::LastKnown {
                    config,
                    dynamo: services.dynamo.clone(),
                    secrets: services.secrets.clone(),
                    clock: services.clock.clone(),
                }
            }),
        })
    }
}
