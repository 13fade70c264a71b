//! Supervisor queue metrics: live from the Genesys analytics API behind the
//! `genesys-analytics` breaker, cached in the state table with their fetch time, and
//! served honestly stale (or zeroed) when the API is down.

pub mod analytics;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::breaker::{Breaker, Classify, Verdict};
use crate::clock::{Clock, Millis};
use crate::config::{number, ConfigError, Env};
use crate::dependency::Dependency;
use crate::http::{self, HttpError};
use crate::service::{InitError, Services};
use crate::token::{TokenCache, TokenConfig};
use analytics::Counts;
use store::MetricsStore;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueView {
    pub queue_id: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub is_degraded: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_age_seconds: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub degraded_message: Option<String>,
    /// When the numbers were fetched (RFC 3339), if they ever were.
    pub fetched_at: Option<String>,
}

pub const NO_DATA: &str = "Analytics API unavailable. Queue metrics cannot be displayed.";
/// A queue the analytics answer does not contain: unknown, or not visible to this client.
pub const UNKNOWN_QUEUE: &str = "Queue not found in the analytics answer.";

pub fn stale_message(age_ms: Millis) -> String {
    let minutes = (age_ms as f64 / 60_000.0).round() as i64;
    format!("Analytics API unavailable. Showing data from {minutes} minutes ago.")
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("no Genesys token: {0}")]
    Auth(String),
    #[error("analytics API: {0}")]
    Api(HttpError),
}

impl Classify for FetchError {
    /// Without a token the analytics API was never reached.
    fn verdict(&self) -> Verdict {
        match self {
            FetchError::Api(_) => Verdict::Failed,
            FetchError::Auth(_) => Verdict::NotReached,
        }
    }
}

pub struct QueueMetrics {
    pub breaker: Breaker,
    pub tokens: Arc<TokenCache>,
    pub http: reqwest::Client,
    pub api_url: String,
    pub store: Arc<dyn MetricsStore>,
    pub clock: Arc<dyn Clock>,
    pub stale_tolerance_ms: Millis,
    pub deadline: Duration,
}

impl QueueMetrics {
    async fn live(
        &self,
        ids: &[String],
        deadline: Instant,
    ) -> Result<Vec<(String, Option<Counts>)>, FetchError> {
        let (token, _) = self
            .tokens
            .get(deadline)
            .await
            .map_err(|e| FetchError::Auth(e.to_string()))?;
        let url = crate::genesys::url(&self.api_url, analytics::QUERY_PATH);
        let req = self
            .http
            .post(url)
            .bearer_auth(&token.access_token)
            .json(&analytics::query(ids));
        let body = http::send_json(req, deadline)
            .await
            .map_err(FetchError::Api)?;
        analytics::parse(&body, ids).ok_or(FetchError::Api(HttpError::Garbage("no results".into())))
    }

    /// Metrics for `ids` (each once, in order), fetched in one query; always within the
    /// deadline.
    pub async fn get(&self, ids: &[String]) -> Vec<QueueView> {
        let mut unique: Vec<String> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(id) {
                unique.push(id.clone());
            }
        }
        let ids = unique.as_slice();
        let deadline = Instant::now() + self.deadline;
        let call_deadline = deadline
            .checked_sub(Duration::from_millis(300))
            .unwrap_or(deadline);
        let r = self
            .breaker
            .call(call_deadline, deadline, || self.live(ids, call_deadline))
            .await;
        let now = self.clock.now_ms();
        match r {
            Ok(live) => {
                // Only queues the answer contains are cached: no caller can create items.
                for (id, c) in &live {
                    if let Some(c) = c {
                        let _ = tokio::time::timeout_at(
                            self.breaker.store_deadline(deadline),
                            self.store.save(id, c, now),
                        )
                        .await;
                    }
                }
                live.into_iter()
                    .map(|(queue_id, counts)| match counts {
                        Some(counts) => QueueView {
                            queue_id,
                            counts,
                            is_degraded: false,
                            cache_age_seconds: None,
                            degraded_message: None,
                            fetched_at: Some(crate::clock::iso8601(now)),
                        },
                        None => QueueView {
                            queue_id,
                            counts: Counts::default(),
                            is_degraded: true,
                            cache_age_seconds: None,
                            degraded_message: Some(UNKNOWN_QUEUE.to_string()),
                            fetched_at: None,
                        },
                    })
                    .collect()
            }
            Err(why) => {
                tracing::warn!(outcome = %why, "analytics unavailable; serving cached metrics");
                crate::metrics::emit(
                    &[("Function", "queue-metrics")],
                    &[crate::metrics::count("MetricsDegraded", 1.0)],
                );
                let mut out = Vec::new();
                for id in ids {
                    let until = self.breaker.store_deadline(deadline);
                    let cached = tokio::time::timeout_at(until, self.store.load(id))
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .flatten();
                    out.push(self.degraded(id, cached, now));
                }
                out
            }
        }
    }

    fn degraded(&self, id: &str, cached: Option<(Counts, Millis)>, now: Millis) -> QueueView {
        match cached.filter(|(_, at)| now - at <= self.stale_tolerance_ms) {
            Some((counts, at)) => QueueView {
                queue_id: id.to_string(),
                counts,
                is_degraded: true,
                cache_age_seconds: Some((now - at) / 1000),
                degraded_message: Some(stale_message(now - at)),
                fetched_at: Some(crate::clock::iso8601(at)),
            },
            None => QueueView {
                queue_id: id.to_string(),
                counts: Counts::default(),
                is_degraded: true,
                cache_age_seconds: None,
                degraded_message: Some(NO_DATA.to_string()),
                fetched_at: None,
            },
        }
    }
}

/// queue-metrics' own settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsConfig {
    /// The Genesys API base: `GENESYS_API_URL`, or that of `GENESYS_ENVIRONMENT`.
    pub api_url: String,
    /// Cached values older than this are not shown.
    pub stale_tolerance_ms: Millis,
    /// Every answer within this.
    pub deadline: Duration,
    /// The queues the status board shows (`BOARD_QUEUE_IDS`, valid ids only).
    pub board_queue_ids: Vec<String>,
}

impl MetricsConfig {
    pub fn from_env(env: &impl Env) -> Result<MetricsConfig, ConfigError> {
        let env: &dyn Env = env;
        Ok(MetricsConfig {
            api_url: crate::genesys::api_base(env)?,
            stale_tolerance_ms: number(env, "METRICS_STALE_TOLERANCE_S", 300i64, 0, 86_400)? * 1000,
            deadline: Duration::from_millis(number(
                env,
                "METRICS_DEADLINE_MS",
                2_500u64,
                500,
                25_000,
            )?),
            board_queue_ids: env
                .get("BOARD_QUEUE_IDS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|id| analytics::valid_queue_id(id))
                .map(str::to_string)
                .collect(),
        })
    }
}

impl QueueMetrics {
    /// The metrics behind `genesys-analytics`, with the Genesys token behind
    /// `genesys-auth`.
    pub fn build(services: &Services, env: &impl Env) -> Result<QueueMetrics, InitError> {
        let config = MetricsConfig::from_env(env)?;
        let tokens = TokenConfig::from_env(env)?;
        let provider = tokens.provider("genesys", "GENESYS_SECRET_ID")?;
        Ok(QueueMetrics {
            breaker: services.breaker(Dependency::GenesysAnalytics, env)?,
            tokens: Arc::new(services.token_cache(provider, &tokens, env)?),
            http: services.http.clone(),
            api_url: config.api_url,
            store: Arc::new(store::DynamoMetricsStore {
                client: services.dynamo.clone(),
                table: services.table.clone(),
            }),
            clock: services.clock.clone(),
            stale_tolerance_ms: config.stale_tolerance_ms,
            deadline: config.deadline,
        })
    }
}
