//! token-cache: refreshes every configured provider's token ahead of expiry (on the
//! 5-minute schedule), or one provider when invoked with `{"provider": "crm"}`.

use failsoft::config::ProcessEnv;
use failsoft::lambda;
use failsoft::service::Services;
use failsoft::token::{refresh_report, TokenConfig};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let config = TokenConfig::from_env(&ProcessEnv)?;
    let caches = &config
        .providers
        .iter()
        .map(|p| services.token_cache(p.clone(), &config, &ProcessEnv))
        .collect::<Result<Vec<_>, _>>()?;
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        let only = ev.payload.get("provider").and_then(Value::as_str);
        let deadline = lambda::deadline(&ev.context, lambda::TOKEN_CACHE);
        Ok::<Value, Error>(refresh_report(caches, only, deadline).await)
    }))
    .await
}
