//! Lambda's DynamoDB Stream event source mapping, played against moto: poll the state
//! table's stream (DynamoDB Streams API), keep the records the mapping's filter keeps
//! (breaker items), and invoke the function under the emulator with them, in order,
//! retrying the records the function reports as failed, as Lambda does with
//! `ReportBatchItemFailures`, up to a bounded count.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use crate::Emulator;

/// How often the mapping polls an idle shard; Lambda polls about four times a second.
const POLL: Duration = Duration::from_millis(200);
/// Lambda's `MaximumRetryAttempts` in the template.
const MAX_RETRIES: u32 = 3;

pub struct StreamPump {
    task: JoinHandle<()>,
    /// Batches delivered to the function, and records it reported failed for good.
    pub invocations: Arc<AtomicU64>,
    pub discarded: Arc<AtomicU64>,
}

impl Drop for StreamPump {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One DynamoDB Streams JSON API call to moto.
async fn call(http: &reqwest::Client, url: &str, op: &str, body: Value) -> Result<Value> {
    let target = if op == "DescribeTable" {
        format!("DynamoDB_20120810.{op}")
    } else {
        format!("DynamoDBStreams_20120810.{op}")
    };
    // moto routes streams calls by host name.
    let host = if op == "DescribeTable" {
        "dynamodb.us-east-1.amazonaws.com"
    } else {
        "streams.dynamodb.us-east-1.amazonaws.com"
    };
    let resp = http
        .post(url)
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.0")
        .header("host", host)
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("{op}: {status} {text}");
    }
    Ok(serde_json::from_str(&text)?)
}

/// The mapping's filter: `{"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "breaker#"}]}}}}`.
fn kept(record: &Value) -> bool {
    record
        .pointer("/dynamodb/Keys/pk/S")
        .and_then(Value::as_str)
        .is_some_and(|pk| pk.starts_with(failsoft::breaker::PREFIX))
}

impl StreamPump {
    /// Start delivering `table`'s stream to `function` in `emu`, from the stream's start.
    pub async fn start(
        moto_url: &str,
        table: &str,
        emu: Arc<Emulator>,
        function: &str,
    ) -> Result<StreamPump> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(900))
            .build()?;
        let url = moto_url.to_string();
        let d = call(&http, &url, "DescribeTable", json!({"TableName": table})).await?;
        let Some(arn) = d.pointer("/Table/LatestStreamArn").and_then(Value::as_str) else {
            bail!("{table} has no stream: {d}");
        };
        let arn = arn.to_string();
        let invocations = Arc::new(AtomicU64::new(0));
        let discarded = Arc::new(AtomicU64::new(0));
        let (inv, dis) = (invocations.clone(), discarded.clone());
        let function = function.to_string();
        let task = tokio::spawn(async move {
            if let Err(e) = pump(&http, &url, &arn, &emu, &function, &inv, &dis).await {
                eprintln!("stream pump stopped: {e:#}");
            }
        });
        Ok(StreamPump {
            task,
            invocations,
            discarded,
        })
    }
}

async fn pump(
    http: &reqwest::Client,
    url: &str,
    arn: &str,
    emu: &Emulator,
    function: &str,
    invocations: &AtomicU64,
    discarded: &AtomicU64,
) -> Result<()> {
    let d = call(http, url, "DescribeStream", json!({"StreamArn": arn})).await?;
    let shard = d
        .pointer("/StreamDescription/Shards/0/ShardId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mut last: Option<String> = None;
    let mut iterator = shard_iterator(http, url, arn, &shard, last.as_deref()).await?;
    loop {
        let page = call(
            http,
            url,
            "GetRecords",
            json!({"ShardIterator": iterator, "Limit": 100}),
        )
        .await?;
        let records: Vec<Value> = page["Records"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(kept)
            .map(|mut r| {
                r["eventSourceARN"] = json!(arn);
                r["awsRegion"] = json!("us-east-1");
                r
            })
            .collect();
        if let Some(seq) = page["Records"]
            .as_array()
            .and_then(|r| r.last())
            .and_then(|r| r.pointer("/dynamodb/SequenceNumber"))
            .and_then(Value::as_str)
        {
            last = Some(seq.to_string());
        }
        if !records.is_empty() {
            deliver(emu, function, records, invocations, discarded).await;
        }
        if page["Records"].as_array().is_none_or(Vec::is_empty) {
            tokio::time::sleep(POLL).await;
            // An idle poll takes a fresh iterator after the last record seen: moto (5.2)
            // restores a copy of the table when a `TransactWriteItems` is cancelled, and an
            // iterator keeps reading the shard of the table it was made on, which no
            // longer grows. DynamoDB has no such fault; the records read are the same.
            iterator = shard_iterator(http, url, arn, &shard, last.as_deref()).await?;
            continue;
        }
        match page["NextShardIterator"].as_str() {
            Some(next) => iterator = next.to_string(),
            None => bail!("shard closed"),
        }
    }
}

/// An iterator from the shard's start, or after sequence number `after`.
async fn shard_iterator(
    http: &reqwest::Client,
    url: &str,
    arn: &str,
    shard: &str,
    after: Option<&str>,
) -> Result<String> {
    let body = match after {
        Some(seq) => json!({"StreamArn": arn, "ShardId": shard,
            "ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": seq}),
        None => json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    };
    let it = call(http, url, "GetShardIterator", body).await?;
    Ok(it["ShardIterator"].as_str().unwrap_or_default().to_string())
}

/// Invoke with `records`; on reported failures, retry from the first failed record,
/// at most `MAX_RETRIES` times, then discard (the template's on-failure destination).
async fn deliver(
    emu: &Emulator,
    function: &str,
    mut records: Vec<Value>,
    invocations: &AtomicU64,
    discarded: &AtomicU64,
) {
    for attempt in 0..=MAX_RETRIES {
        invocations.fetch_add(1, Ordering::SeqCst);
        let answer = emu.invoke(function, &json!({"Records": records})).await;
        let failed: Vec<String> = match &answer {
            Ok(v) => v["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_string))
                .collect(),
            // A function error retries the whole batch.
            Err(_) => records
                .first()
                .and_then(|r| r.pointer("/dynamodb/SequenceNumber"))
                .and_then(Value::as_str)
                .map(|s| vec![s.to_string()])
                .unwrap_or_default(),
        };
        let Some(first) = records.iter().position(|r| {
            r.pointer("/dynamodb/SequenceNumber")
                .and_then(Value::as_str)
                .is_some_and(|s| failed.iter().any(|f| f == s))
        }) else {
            return;
        };
        records.drain(..first);
        if attempt == MAX_RETRIES {
            discarded.fetch_add(records.len() as u64, Ordering::SeqCst);
        }
    }
}
