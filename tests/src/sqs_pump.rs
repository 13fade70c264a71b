//! Lambda's SQS event source mapping, played against moto: receive a batch (up to 10,
//! with the system attributes Lambda passes), invoke the function under the emulator
//! with a real SQS event, and delete only what it did not report as a batch item
//! failure. A function error (or a crash) deletes nothing: the whole batch comes back
//! after its visibility timeout, as with Lambda.

use anyhow::Result;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use serde_json::{json, Value};

use crate::Emulator;

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub received: usize,
    pub deleted: usize,
    /// Message ids the function kept (batch item failures).
    pub kept: Vec<String>,
    /// The invoke failed (a function error or a crash): nothing was deleted.
    pub errored: bool,
    /// The most receives any message of the batch had (1: its first).
    pub max_receives: u32,
}

pub struct SqsPump {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub function: String,
    pub batch_size: i32,
}

impl SqsPump {
    pub async fn new(moto_url: &str, queue_url: &str, function: &str) -> Result<SqsPump> {
        let client = aws_sdk_sqs::Client::new(&crate::sdk_config(moto_url).await);
        let attrs = client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        let queue_arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        Ok(SqsPump {
            client,
            queue_url: queue_url.into(),
            queue_arn,
            function: function.into(),
            batch_size: 10,
        })
    }

    /// Receive what is visible now (no long poll), up to `batch_size` (10 a request,
    /// as Lambda's poller gathers a batch), as Lambda's event records.
    async fn receive(&self) -> Result<Vec<Value>> {
        let mut messages = Vec::new();
        while messages.len() < self.batch_size as usize {
            let out = self
                .client
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages((self.batch_size as usize - messages.len()).min(10) as i32)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await?;
            if out.messages().is_empty() {
                break;
            }
            messages.extend(out.messages().iter().cloned());
        }
        Ok(messages
            .iter()
            .map(|m| {
                let attributes: serde_json::Map<String, Value> = m
                    .attributes()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str().to_string(), json!(v)))
                    .collect();
                json!({
                    "messageId": m.message_id(), "receiptHandle": m.receipt_handle(),
                    "body": m.body(), "attributes": attributes, "messageAttributes": {},
                    "md5OfBody": m.md5_of_body(), "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn, "awsRegion": "us-east-1",
                })
            })
            .collect())
    }

    /// One poll: receive, invoke, delete what succeeded.
    pub async fn round(&self, emu: &Emulator) -> Result<Round> {
        let records = self.receive().await?;
        let mut round = Round {
            received: records.len(),
            max_receives: records
                .iter()
                .filter_map(|r| {
                    r["attributes"]["ApproximateReceiveCount"]
                        .as_str()?
                        .parse()
                        .ok()
                })
                .max()
                .unwrap_or(0),
            ..Round::default()
        };
        if records.is_empty() {
            return Ok(round);
        }
        let answer = emu
            .invoke(&self.function, &json!({"Records": records}))
            .await;
        let Ok(answer) = answer else {
            round.errored = true;
            return Ok(round);
        };
        round.kept = answer["batchItemFailures"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
            .collect();
        let done: Vec<DeleteMessageBatchRequestEntry> = records
            .iter()
            .filter(|r| {
                !round
                    .kept
                    .iter()
                    .any(|k| r["messageId"].as_str() == Some(k.as_str()))
            })
            .enumerate()
            .filter_map(|(i, r)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(r["receiptHandle"].as_str()?)
                    .build()
                    .ok()
            })
            .collect();
        round.deleted = done.len();
        if !done.is_empty() {
            self.client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(done))
                .send()
                .await?;
        }
        Ok(round)
    }

    /// Poll until a round receives nothing (at most `max_rounds`); the rounds.
    pub async fn drain(&self, emu: &Emulator, max_rounds: usize) -> Result<Vec<Round>> {
        let mut rounds = Vec::new();
        for _ in 0..max_rounds {
            let r = self.round(emu).await?;
            let empty = r.received == 0;
            rounds.push(r);
            if empty {
                break;
            }
        }
        Ok(rounds)
    }
}

/// Create the write-back queue and its DLQ in moto, as the template does (redrive after
/// `maxReceiveCount` receives): (queue URL, DLQ URL).
pub async fn create_queues(
    moto_url: &str,
    name: &str,
    visibility_s: u32,
) -> Result<(String, String)> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let client = aws_sdk_sqs::Client::new(&crate::sdk_config(moto_url).await);
    let dlq = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .attributes(A::MessageRetentionPeriod, "1209600")
        .send()
        .await?;
    let dlq_url = dlq.queue_url().unwrap_or_default().to_string();
    let arn = client
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(A::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&A::QueueArn))
        .cloned()
        .unwrap_or_default();
    let redrive = json!({"deadLetterTargetArn": arn, "maxReceiveCount": failsoft::writeback::defer::MAX_RECEIVES.to_string()});
    let q = client
        .create_queue()
        .queue_name(name)
        .attributes(A::MessageRetentionPeriod, "1209600")
        .attributes(A::VisibilityTimeout, visibility_s.to_string())
        .attributes(A::RedrivePolicy, redrive.to_string())
        .send()
        .await?;
    Ok((q.queue_url().unwrap_or_default().to_string(), dlq_url))
}

/// An ACW event as EventBridge delivers it to the queue.
pub fn acw_event(conversation: &str, participant: &str, ani: &str, notes: &str) -> Value {
    acw_event_of(conversation, participant, ani, notes, "VOICE", "INBOUND")
}

/// One event for each media type and direction the record lists for the ACW topic
/// (`contract::genesys::ACW_MEDIA_TYPES` × `ACW_DIRECTIONS`), conversation ids
/// `conv-<media>-<direction>`, each checked against the record's event shape.
pub fn acw_events_of_every_kind(ani: &str) -> Vec<(String, String, Value)> {
    use crate::contract::genesys::{ACW_DIRECTIONS, ACW_EVENT, ACW_MEDIA_TYPES};
    let mut out = Vec::new();
    for media in ACW_MEDIA_TYPES {
        for direction in ACW_DIRECTIONS {
            let conv = format!("conv-{}-{}", media.to_lowercase(), direction.to_lowercase());
            let ev = acw_event_of(&conv, "part-1", ani, "notes", media, direction);
            if let Err(e) = ACW_EVENT.check(&ev["detail"]["eventBody"]) {
                panic!("a generated event does not conform to the record: {e}");
            }
            out.push((media.to_string(), direction.to_string(), ev));
        }
    }
    out
}

/// An ACW event of `media` and `direction`, as EventBridge delivers it.
pub fn acw_event_of(
    conversation: &str,
    participant: &str,
    ani: &str,
    notes: &str,
    media: &str,
    direction: &str,
) -> Value {
    json!({
        "version": "0", "id": format!("evt-{conversation}"),
        "detail-type": "v2.detail.events.conversation.{id}.acw",
        "source": "aws.partner/genesys.com/cloud/org-1/acw", "account": "000000000000",
        "time": "2026-11-28T02:41:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{conversation}.acw"),
            "version": "2",
            "eventBody": {
                // Epoch milliseconds (2026-11-28T02:41:00Z), as the SDK model types it.
                "eventTime": 1_795_833_660_000_i64, "conversationId": conversation,
                "participantId": participant, "sessionId": "s-1", "mediaType": media,
                "direction": direction, "ani": ani, "dnis": "tel:+18005550100",
                "userId": "u-1", "queueId": "q-sales", "wrapupCode": "Resolved",
                "wrapupNotes": notes, "wrapupDurationMs": 61000
            },
            "metadata": {"CorrelationId": format!("corr-{conversation}")}
        }
    })
}
