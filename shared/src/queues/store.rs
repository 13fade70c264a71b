//! Last-known queue metrics: the item `metrics#<queueId>` (only this module knows it).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::analytics::Counts;
use crate::clock::Millis;
use crate::store::{classify_sdk_error, StoreError};

#[async_trait]
pub trait MetricsStore: Send + Sync {
    async fn save(
        &self,
        queue_id: &str,
        counts: &Counts,
        fetched_ms: Millis,
    ) -> Result<(), StoreError>;
    async fn load(&self, queue_id: &str) -> Result<Option<(Counts, Millis)>, StoreError>;
}

pub struct DynamoMetricsStore {
    pub client: Client,
    pub table: String,
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[async_trait]
impl MetricsStore for DynamoMetricsStore {
    async fn save(&self, queue_id: &str, c: &Counts, fetched_ms: Millis) -> Result<(), StoreError> {
        // Never overwrite newer numbers with older ones.
        let r = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("metrics#{queue_id}")))
            .update_expression("SET waiting = :w, available = :a, interacting = :i, fetched_ms = :f, expires_at = :ttl")
            .condition_expression("attribute_not_exists(fetched_ms) OR fetched_ms <= :f")
            .expression_attribute_values(":w", n(c.interactions_waiting))
            .expression_attribute_values(":a", n(c.agents_available))
            .expression_attribute_values(":i", n(c.agents_interacting))
            .expression_attribute_values(":f", n(fetched_ms))
            .expression_attribute_values(":ttl", n(fetched_ms / 1000 + 86_400))
            .send()
            .await;
        match r {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify_sdk_error(e)),
        }
    }

    async fn load(&self, queue_id: &str) -> Result<Option<(Counts, Millis)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(format!("metrics#{queue_id}")))
            .send()
            .await
            .map_err(classify_sdk_error)?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let num = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let counts = Counts {
            interactions_waiting: num("waiting").max(0) as u64,
            agents_available: num("available").max(0) as u64,
            agents_interacting: num("interacting").max(0) as u64,
        };
        Ok(Some((counts, num("fetched_ms"))))
    }
}
