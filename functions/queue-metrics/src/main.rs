//! queue-metrics: supervisor queue metrics and the status board, behind a Function URL.

use failsoft::config::ProcessEnv;
use failsoft::queues::{board, MetricsConfig, QueueMetrics};
use failsoft::service::Services;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let metrics = &QueueMetrics::build(&services, &ProcessEnv)?;
    let ids = &MetricsConfig::from_env(&ProcessEnv)?.board_queue_ids;
    let store = &services.store;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(board::handle(&req, metrics, store.as_ref(), ids).await)
    }))
    .await
}
