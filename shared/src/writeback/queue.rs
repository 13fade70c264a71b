//! The write-back's queue and its dead-letter queue (SQS): deferring a message while
//! the CRM cannot take it, sending poison to the DLQ with its reason, and what the
//! operator needs (depths, redrive). Every request ends by the caller's deadline.

use std::fmt::Debug;

use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue, QueueAttributeName,
};
use tokio::time::Instant;

/// The message attribute that says why a message was sent to the DLQ.
pub const REASON_ATTRIBUTE: &str = "failsoft-poison-reason";
/// The message attribute naming the message it was, in the write-back queue.
pub const SOURCE_ATTRIBUTE: &str = "failsoft-source-message-id";

/// SQS did not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("SQS timed out")]
    Timeout,
    #[error("SQS: {0}")]
    Unavailable(String),
}

fn classify<E: ProvideErrorMetadata + Debug, R: Debug>(e: SdkError<E, R>) -> QueueError {
    match &e {
        SdkError::TimeoutError(_) => QueueError::Timeout,
        _ => QueueError::Unavailable(format!(
            "{}: {}",
            e.code().unwrap_or("error"),
            e.message().unwrap_or_default()
        )),
    }
}

/// A request bounded by `deadline`, its SDK error classified.
async fn bounded<T, E, R>(
    deadline: Instant,
    fut: impl std::future::Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<T, QueueError>
where
    E: ProvideErrorMetadata + Debug,
    R: Debug,
{
    match tokio::time::timeout_at(deadline, fut).await {
        Ok(r) => r.map_err(classify),
        Err(_) => Err(QueueError::Timeout),
    }
}

/// How many messages wait in one queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Depth {
    /// Ready to be received.
    pub visible: u64,
    /// Received and not yet deleted: in a batch, or deferred by a visibility extension.
    pub in_flight: u64,
    pub delayed: u64,
}

impl Depth {
    pub fn total(&self) -> u64 {
        self.visible + self.in_flight + self.delayed
    }
}

/// The write-back queue and its DLQ.
#[derive(Clone, Debug)]
pub struct Queues {
    client: aws_sdk_sqs::Client,
    pub url: String,
    pub dlq_url: String,
}

impl Queues {
    pub fn new(client: aws_sdk_sqs::Client, url: String, dlq_url: String) -> Queues {
        Queues {
            client,
            url,
            dlq_url,
        }
    }

    /// Keep these messages (receipt handle, seconds) invisible that long: one batch
    /// request per 10. Returns the receipts SQS did not take.
    pub async fn defer(
        &self,
        waits: &[(String, u64)],
        deadline: Instant,
    ) -> Result<Vec<String>, QueueError> {
        let mut refused = Vec::new();
        for chunk in waits.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, (receipt, secs))| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .visibility_timeout((*secs).min(super::defer::MAX_VISIBILITY_S) as i32)
                        .build()
                        .map_err(|e| QueueError::Unavailable(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = bounded(
                deadline,
                self.client
                    .change_message_visibility_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send(),
            )
            .await?;
            for f in out.failed() {
                if let Some((r, _)) = f.id().parse::<usize>().ok().and_then(|i| chunk.get(i)) {
                    refused.push(r.clone());
                }
            }
        }
        Ok(refused)
    }

    /// Send a message that can never be written to the DLQ, with its reason and its id
    /// here as attributes. The caller then lets the original be deleted.
    pub async fn to_dlq(
        &self,
        body: &str,
        reason: &str,
        message_id: &str,
        deadline: Instant,
    ) -> Result<(), QueueError> {
        let text = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| QueueError::Unavailable(e.to_string()))
        };
        bounded(
            deadline,
            self.client
                .send_message()
                .queue_url(&self.dlq_url)
                .message_body(body)
                .message_attributes(
                    REASON_ATTRIBUTE,
                    text(&reason.chars().take(256).collect::<String>())?,
                )
                .message_attributes(SOURCE_ATTRIBUTE, text(message_id)?)
                .send(),
        )
        .await
        .map(|_| ())
    }

    async fn depth_of(&self, url: &str, deadline: Instant) -> Result<Depth, QueueError> {
        let out = bounded(
            deadline,
            self.client
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
                .send(),
        )
        .await?;
        let get = |k: QueueAttributeName| {
            out.attributes()
                .and_then(|a| a.get(&k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok(Depth {
            visible: get(QueueAttributeName::ApproximateNumberOfMessages),
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
            delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
        })
    }

    /// (the queue, the DLQ).
    pub async fn depths(&self, deadline: Instant) -> Result<(Depth, Depth), QueueError> {
        Ok((
            self.depth_of(&self.url, deadline).await?,
            self.depth_of(&self.dlq_url, deadline).await?,
        ))
    }

    /// Move up to `max` messages from the DLQ back to the queue: receive, send, then
    /// delete, so a crash in between duplicates a message (the upsert makes that
    /// harmless) and never loses one. Works where StartMessageMoveTask does not (moto).
    pub async fn redrive(&self, max: usize, deadline: Instant) -> Result<usize, QueueError> {
        let mut moved = 0;
        while moved < max {
            let out = bounded(
                deadline,
                self.client
                    .receive_message()
                    .queue_url(&self.dlq_url)
                    .max_number_of_messages((max - moved).min(10) as i32)
                    .visibility_timeout(60)
                    .send(),
            )
            .await?;
            let messages = out.messages();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let (Some(body), Some(receipt)) = (m.body(), m.receipt_handle()) else {
                    continue;
                };
                bounded(
                    deadline,
                    self.client
                        .send_message()
                        .queue_url(&self.url)
                        .message_body(body)
                        .send(),
                )
                .await?;
                bounded(
                    deadline,
                    self.client
                        .delete_message()
                        .queue_url(&self.dlq_url)
                        .receipt_handle(receipt)
                        .send(),
                )
                .await?;
                moved += 1;
            }
        }
        Ok(moved)
    }
}
