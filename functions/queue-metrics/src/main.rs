//! queue-metrics: supervisor queue metrics and the status board, behind a Function URL.

use failsoft::board::{self, Board};
use failsoft::config::ProcessEnv;
use failsoft::service::Services;
use lambda_http::{service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    failsoft::logging::init();
    let services = Services::from_env(&ProcessEnv).await?;
    let board = &Board::build(&services, &ProcessEnv)?;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(board::handle(&req, board).await)
    }))
    .await
}
