//! The CRM lookup: ANI normalisation, the Salesforce client and the lookup itself.

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
        let api_version = env.get("CRM_API_VERSION").unwrap_or_else(|| "v61.0".into());
        let version_ok = api_version
            .strip_prefix('v')
            .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'));
        if !version_ok {
            return Err(invalid("CRM_API_VERSION", api_version, "expected vNN.N"));
        }
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
        })
    }
}
