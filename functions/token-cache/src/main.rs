//! token-cache: refreshes every configured provider's token ahead of expiry (on the
//! 5-minute schedule), or one provider when invoked with `{"provider": "crm"}`.

use std::time::Duration;

use failsoft::config::ProcessEnv;
use failsoft::service::Services;
use failsoft::token::{providers_from_env, refresh_report};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env().await?;
    let caches = providers_from_env(&ProcessEnv)?
        .into_iter()
        .map(|p| services.token_cache(p, &ProcessEnv))
        .collect::<Result<Vec<_>, _>>()?;
    let caches = &caches;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        let only = ev.payload.get("provider").and_then(Value::as_str);
        let deadline = Instant::now() + Duration::from_secs(10);
        Ok::<Value, Error>(refresh_report(caches, only, deadline).await)
    }))
    .await
}
