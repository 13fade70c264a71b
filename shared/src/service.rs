//! What a function builds once per instance, from the environment.

use std::sync::Arc;

use crate::breaker::{Breaker, BreakerStore, DynamoBreakerStore, Record, StoreError};
use crate::clock::{Clock, SystemClock};
use crate::config::{state_table, BreakerConfig, ConfigError, Env, ProcessEnv};
use crate::secrets::{SecretCache, SecretsManager};

#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("HTTP client: {0}")]
    Http(String),
}

/// The shared parts every function uses: the state store and the clock.
#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn BreakerStore>,
    pub clock: Arc<dyn Clock>,
    pub table: String,
    pub secrets: Arc<SecretCache>,
    pub http: reqwest::Client,
    pub tokens: Arc<dyn crate::token::TokenStore>,
    pub dynamo: aws_sdk_dynamodb::Client,
}

impl Services {
    /// Build the SDK client once; `AWS_ENDPOINT_URL` and friends apply.
    pub async fn from_env() -> Result<Services, InitError> {
        let table = state_table(&ProcessEnv)?;
        let config = crate::aws::sdk_config().await;
        let dynamo = crate::aws::dynamodb(&config);
        let store = DynamoBreakerStore::new(dynamo.clone(), table.clone());
        let tokens = crate::token::DynamoTokenStore::new(dynamo.clone(), table.clone());
        let secrets = SecretsManager(crate::aws::secretsmanager(&config));
        Ok(Services {
            store: Arc::new(store),
            clock: Arc::new(SystemClock),
            table,
            secrets: Arc::new(SecretCache::new(Arc::new(secrets))),
            http: crate::http::client().map_err(|e| InitError::Http(e.to_string()))?,
            tokens: Arc::new(tokens),
            dynamo,
        })
    }

    /// The breaker guarding dependency `name`, configured from `BREAKER_<NAME>_*`.
    pub fn breaker(&self, name: &str, env: &dyn Env) -> Result<Breaker, InitError> {
        let c = BreakerConfig::from_env(name, env)?;
        Ok(Breaker::new(
            name,
            c.policy,
            c.settings,
            self.store.clone(),
            self.clock.clone(),
        ))
    }

    /// The fleet-shared token cache for `provider`, behind its `<name>-auth` breaker.
    pub fn token_cache(
        &self,
        provider: crate::token::Provider,
        env: &dyn Env,
    ) -> Result<crate::token::TokenCache, InitError> {
        let breaker = self.breaker(&format!("{}-auth", provider.name()), env)?;
        Ok(crate::token::TokenCache::new(
            provider,
            self.tokens.clone(),
            breaker,
            self.http.clone(),
            self.secrets.clone(),
            self.clock.clone(),
            crate::token::TokenSettings::from_env(env)?,
        ))
    }

    pub async fn breakers(&self) -> Result<Vec<Record>, StoreError> {
        self.store.list().await
    }
}
