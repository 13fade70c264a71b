//! AWS SDK clients, built once per instance. The standard AWS variables apply,
//! `AWS_ENDPOINT_URL` included, so one binary runs against AWS or a local stand-in.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// SDK config with few retries and short timeouts: every caller here has a deadline
/// of a few seconds, and the breaker's guard caps each request further.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(Duration::from_millis(1_500))
                .operation_timeout(Duration::from_millis(3_000))
                .build(),
        )
        .load()
        .await
}

/// The SDK's HTTP client: rustls with ring, the same TLS stack and crypto provider as
/// reqwest, so a binary carries one of each (not ring and aws-lc-rs, rustls 0.21 and 0.23).
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

pub fn secretsmanager(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

pub fn kms(config: &SdkConfig) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(config)
}

pub fn sqs(config: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(config)
}
