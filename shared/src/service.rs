//! What a function builds once per instance: the SDK clients, the state table's
//! adapters, the secret cache, the HTTP client and the clock. Components take what they
//! need from here, so no handler builds a client.

use std::sync::Arc;

use crate::breaker::{Breaker, BreakerStore, DynamoBreakerStore};
use crate::clock::{Clock, SystemClock};
use crate::config::{required, ConfigError, Env};
use crate::dependency::Dependency;
use crate::secrets::{SecretCache, SecretsManager};
use crate::token::{DynamoTokenStore, KmsSeal, Provider, TokenCache, TokenConfig, TokenStore};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("HTTP client: {0}")]
    Http(String),
}

/// Where the shared state lives: `STATE_TABLE`; and the KMS key that seals the tokens
/// kept there: `TOKEN_KMS_KEY_ID` (the template always sets it; unset, tokens are kept
/// in plain text, for local runs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    pub table: String,
    pub token_key: Option<String>,
}

impl ServiceConfig {
    pub fn from_env(env: &impl Env) -> Result<ServiceConfig, ConfigError> {
        Ok(ServiceConfig {
            table: required(env, "STATE_TABLE")?,
            token_key: env.get("TOKEN_KMS_KEY_ID").filter(|k| !k.is_empty()),
        })
    }
}

/// The shared parts every function uses.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn BreakerStore>,
    pub clock: Arc<dyn Clock>,
    pub table: String,
    pub secrets: Arc<SecretCache>,
    pub http: reqwest::Client,
    pub tokens: Arc<dyn TokenStore>,
    pub dynamo: aws_sdk_dynamodb::Client,
    /// Built lazily by the SDK: no request until a function uses it.
    pub sqs: aws_sdk_sqs::Client,
}

impl Services {
    /// Build the SDK clients once; `AWS_ENDPOINT_URL` and friends apply.
    pub async fn build(config: &ServiceConfig) -> Result<Services, InitError> {
        let sdk = crate::aws::sdk_config().await;
        let dynamo = crate::aws::dynamodb(&sdk);
        let table = config.table.clone();
        let store = DynamoBreakerStore::new(dynamo.clone(), table.clone());
        let mut tokens = DynamoTokenStore::new(dynamo.clone(), table.clone());
        match &config.token_key {
            Some(key) => tokens = tokens.sealed_with(KmsSeal::new(crate::aws::kms(&sdk), key)),
            None => tracing::warn!("TOKEN_KMS_KEY_ID unset: tokens are stored unencrypted"),
        }
        let secrets = SecretsManager(crate::aws::secretsmanager(&sdk));
        Ok(Services {
            store: Arc::new(store),
            clock: Arc::new(SystemClock),
            table,
            secrets: Arc::new(SecretCache::new(Arc::new(secrets))),
            http: crate::http::client().map_err(|e| InitError::Http(e.to_string()))?,
            tokens: Arc::new(tokens),
            dynamo,
            sqs: crate::aws::sqs(&sdk),
        })
    }

    /// `ServiceConfig::from_env` then `build`: what every `main` starts with.
    pub async fn from_env(env: &impl Env) -> Result<Services, InitError> {
        Services::build(&ServiceConfig::from_env(env)?).await
    }

    /// The breaker guarding `dependency`, configured from `BREAKER_<NAME>_*`.
    pub fn breaker(&self, dependency: Dependency, env: &impl Env) -> Result<Breaker, InitError> {
        let c = dependency.breaker_config(env)?;
        Ok(Breaker::new(
            dependency.name(),
            c.policy,
            c.settings,
            self.store.clone(),
            self.clock.clone(),
        ))
    }

    /// The fleet-shared token cache for `provider`, behind its `<name>-auth` breaker.
    pub fn token_cache(
        &self,
        provider: Provider,
        config: &TokenConfig,
        env: &impl Env,
    ) -> Result<TokenCache, InitError> {
        let breaker = self.breaker(provider.auth(), env)?;
        Ok(TokenCache::new(
            provider,
            self.tokens.clone(),
            breaker,
            self.http.clone(),
            self.secrets.clone(),
            self.clock.clone(),
            config.settings.clone(),
        ))
    }
}
