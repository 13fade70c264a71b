//! queue-metrics: supervisor queue metrics and the status board, behind a Function URL.

use failsoft::config::ProcessEnv;
use failsoft::queues::{board, board_ids, QueueMetrics};
use failsoft::service::Services;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env().await?;
    let metrics = QueueMetrics::from_env(&services, &ProcessEnv)?;
    let ids = board_ids(&ProcessEnv);
    let (metrics, ids, store) = (&metrics, &ids, &services.store);
    lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(board::handle(&ev.payload, metrics, store.as_ref(), ids).await)
    }))
    .await
}
