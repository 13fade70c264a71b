//! The AWS side of the stack: every registered breaker and its state (the state table
//! readable), the Data Action's function (active, and invokable: a dry run), the
//! write-back's queue with its DLQ and its event source mapping, the partner bus rule
//! that feeds it, and the alarm topic's subscribers.

use aws_sdk_lambda::types::InvocationType;
use aws_sdk_sqs::types::QueueAttributeName;
use failsoft::breaker::State;
use failsoft::config::ProcessEnv;
use failsoft::dependency::Dependency;
use failsoft::service::Services;

use super::{Check, Ctx};

pub async fn check(ctx: &Ctx, out: &mut Vec<Check>) {
    breakers(ctx, out).await;
    data_action(ctx, out).await;
    let queue_arn = writeback_queues(ctx, out).await;
    if let Some(arn) = &queue_arn {
        mapping(ctx, arn, out).await;
        partner_rule(ctx, arn, out).await;
    }
    alarm_topic(ctx, out).await;
}

/// A request bounded by the check's deadline.
async fn bounded<T, E: std::fmt::Display>(
    ctx: &Ctx,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout_at(ctx.deadline(), fut).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

fn sdk_error<E: std::error::Error>(e: E) -> String {
    // The SDK's Display says only "service error"; the source says what.
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

async fn breakers(ctx: &Ctx, out: &mut Vec<Check>) {
    if ctx.var("STATE_TABLE").is_none() {
        out.push(Check::skip("breakers", "STATE_TABLE not set"));
        return;
    }
    let services = match Services::from_env(&ProcessEnv).await {
        Ok(s) => s,
        Err(e) => {
            out.push(Check::fail(
                "state table",
                e.to_string(),
                "set STATE_TABLE to the stack's table",
            ));
            return;
        }
    };
    let now = failsoft::clock::Clock::now_ms(&failsoft::clock::SystemClock);
    for d in Dependency::ALL {
        let item = format!("breaker {}", d.name());
        match tokio::time::timeout_at(ctx.deadline(), services.store.load(d.name())).await {
            Ok(Ok(r)) => {
                let since = failsoft::clock::ago(now, r.since_ms);
                let detail = format!(
                    "{} since {since}, {} failures",
                    r.state.as_str(),
                    r.failures
                );
                match r.state {
                    State::Closed => out.push(Check::ok(item, detail)),
                    State::ForcedOpen | State::ForcedClosed => out.push(Check::note(
                        item,
                        format!(
                            "{detail}: held by a person (`failsoft breaker release {}` when done)",
                            d.name()
                        ),
                    )),
                    State::Open | State::HalfOpen => out.push(Check::fail(
                        item,
                        detail,
                        format!(
                            "{} is failing now: `failsoft breaker show {}` and infra/runbooks/{}",
                            d.name(),
                            d.name(),
                            d.runbook()
                        ),
                    )),
                }
            }
            Ok(Err(e)) => out.push(Check::fail(
                item,
                e.to_string(),
                "check that STATE_TABLE is the stack's table and you may read it",
            )),
            Err(_) => out.push(Check::fail(
                item,
                "the state table did not answer",
                "try again; check the region",
            )),
        }
    }
}

async fn data_action(ctx: &Ctx, out: &mut Vec<Check>) {
    let item = "data action function";
    let Some(name) = ctx.var("CRM_LOOKUP_FUNCTION") else {
        out.push(Check::skip(
            item,
            "CRM_LOOKUP_FUNCTION not set (the stack's CrmLookupFunctionArn)",
        ));
        return;
    };
    let lambda = aws_sdk_lambda::Client::new(&ctx.sdk);
    let got = bounded(ctx, async {
        lambda
            .get_function()
            .function_name(&name)
            .send()
            .await
            .map_err(sdk_error)
    })
    .await;
    let state = match got {
        Ok(f) => f
            .configuration()
            .and_then(|c| c.state())
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "Active".into()),
        Err(e) => {
            out.push(Check::fail(
                item,
                e,
                format!("check that {name} exists in this region (the Genesys org's region)"),
            ));
            return;
        }
    };
    if state != "Active" {
        out.push(Check::fail(
            item,
            format!("{name} is {state}"),
            "wait for the deployment, or see its last update status",
        ));
        return;
    }
    // A dry run: Lambda checks the function and the permission to invoke it, and runs
    // nothing.
    let dry = bounded(ctx, async {
        lambda
            .invoke()
            .function_name(&name)
            .invocation_type(InvocationType::DryRun)
            .send()
            .await
            .map_err(sdk_error)
    })
    .await;
    match dry {
        Ok(r) if r.status_code() == 204 => out.push(Check::ok(
            item,
            format!("{name} active and invokable (dry run)"),
        )),
        Ok(r) => out.push(Check::fail(
            item,
            format!("dry run answered {}", r.status_code()),
            "see the function's configuration",
        )),
        Err(e) => out.push(Check::fail(
            item,
            e,
            "grant lambda:InvokeFunction to check, and check the function",
        )),
    }
}

/// The queue and its DLQ; the queue's ARN when both are as they should be.
async fn writeback_queues(ctx: &Ctx, out: &mut Vec<Check>) -> Option<String> {
    let item = "write-back queue";
    let (Some(queue), Some(dlq)) = (ctx.var("WRITEBACK_QUEUE_URL"), ctx.var("WRITEBACK_DLQ_URL"))
    else {
        out.push(Check::skip(
            item,
            "WRITEBACK_QUEUE_URL or WRITEBACK_DLQ_URL not set",
        ));
        return None;
    };
    let sqs = aws_sdk_sqs::Client::new(&ctx.sdk);
    let attrs = |url: String| {
        let sqs = sqs.clone();
        async move {
            sqs.get_queue_attributes()
                .queue_url(url)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .map_err(sdk_error)
        }
    };
    let q = bounded(ctx, attrs(queue.clone())).await;
    let d = bounded(ctx, attrs(dlq.clone())).await;
    let (q, d) = match (q, d) {
        (Ok(q), Ok(d)) => (q, d),
        (Err(e), _) => {
            out.push(Check::fail(
                item,
                e,
                format!("check that {queue} exists and you may read its attributes"),
            ));
            return None;
        }
        (_, Err(e)) => {
            out.push(Check::fail(
                "write-back DLQ",
                e,
                format!("check that {dlq} exists"),
            ));
            return None;
        }
    };
    let get = |a: &aws_sdk_sqs::operation::get_queue_attributes::GetQueueAttributesOutput,
               k: QueueAttributeName| {
        a.attributes()
            .and_then(|m| m.get(&k))
            .cloned()
            .unwrap_or_default()
    };
    let queue_arn = get(&q, QueueAttributeName::QueueArn);
    let dlq_arn = get(&d, QueueAttributeName::QueueArn);
    let redrive: serde_json::Value =
        serde_json::from_str(&get(&q, QueueAttributeName::RedrivePolicy)).unwrap_or_default();
    if redrive["deadLetterTargetArn"].as_str() != Some(dlq_arn.as_str()) {
        out.push(Check::fail(
            item,
            format!("its redrive policy does not send to {dlq_arn}"),
            "redeploy the stack: the template sets the DLQ and maxReceiveCount",
        ));
        return None;
    }
    let waiting = get(&q, QueueAttributeName::ApproximateNumberOfMessages);
    let dead = get(&d, QueueAttributeName::ApproximateNumberOfMessages);
    out.push(Check::ok(
        item,
        format!("exists, redrives to its DLQ ({waiting} waiting)"),
    ));
    if dead.parse::<u64>().unwrap_or(0) > 0 {
        out.push(Check::fail(
            "write-back DLQ",
            format!("{dead} records in the DLQ"),
            "see why (`failsoft writeback status`), fix, then `failsoft writeback redrive`",
        ));
    } else {
        out.push(Check::ok("write-back DLQ", "empty"));
    }
    Some(queue_arn)
}

async fn mapping(ctx: &Ctx, queue_arn: &str, out: &mut Vec<Check>) {
    let item = "write-back event source mapping";
    let lambda = aws_sdk_lambda::Client::new(&ctx.sdk);
    let r = bounded(ctx, async {
        lambda
            .list_event_source_mappings()
            .event_source_arn(queue_arn)
            .send()
            .await
            .map_err(sdk_error)
    })
    .await;
    match r {
        Ok(list) => {
            let enabled = list.event_source_mappings().iter().find(|m| {
                m.state()
                    .is_none_or(|s| s == "Enabled" || s == "Creating" || s == "Updating")
            });
            match enabled {
                Some(m) => out.push(Check::ok(
                    item,
                    format!("the queue feeds {}", m.function_arn().unwrap_or("a function")),
                )),
                None => out.push(Check::fail(
                    item,
                    "nothing reads the write-back queue",
                    "redeploy the stack, or enable the mapping (aws lambda update-event-source-mapping --enabled)",
                )),
            }
        }
        Err(e) => out.push(Check::fail(
            item,
            e,
            "grant lambda:ListEventSourceMappings to check",
        )),
    }
}

async fn partner_rule(ctx: &Ctx, queue_arn: &str, out: &mut Vec<Check>) {
    let item = "genesys partner bus rule";
    let Some(bus) = ctx.var("WRITEBACK_EVENT_BUS") else {
        out.push(Check::skip(
            item,
            "WRITEBACK_EVENT_BUS not set (the partner event bus)",
        ));
        return;
    };
    let events = aws_sdk_eventbridge::Client::new(&ctx.sdk);
    let rules = bounded(ctx, async {
        events
            .list_rules()
            .event_bus_name(&bus)
            .send()
            .await
            .map_err(sdk_error)
    })
    .await;
    let rules = match rules {
        Ok(r) => r,
        Err(e) => {
            out.push(Check::fail(
                item,
                e,
                format!("create the partner event bus {bus} for Genesys's event source (AWS drops events for a source with no bus)"),
            ));
            return;
        }
    };
    for rule in rules.rules() {
        let (Some(name), enabled) = (
            rule.name(),
            rule.state().is_some_and(|s| s.as_str() == "ENABLED"),
        ) else {
            continue;
        };
        let targets = bounded(ctx, async {
            events
                .list_targets_by_rule()
                .rule(name)
                .event_bus_name(&bus)
                .send()
                .await
                .map_err(sdk_error)
        })
        .await;
        let feeds = targets.is_ok_and(|t| t.targets().iter().any(|t| t.arn() == queue_arn));
        if enabled && feeds {
            out.push(Check::ok(
                item,
                format!("rule {name} on {bus} sends to the write-back queue"),
            ));
            return;
        }
    }
    out.push(Check::fail(
        item,
        format!("no enabled rule on {bus} sends to the write-back queue"),
        "deploy with the partner bus parameter so the template adds the rule",
    ));
}

async fn alarm_topic(ctx: &Ctx, out: &mut Vec<Check>) {
    let item = "alarm topic";
    let Some(arn) = ctx.var("ALARM_TOPIC_ARN") else {
        out.push(Check::skip(
            item,
            "ALARM_TOPIC_ARN not set (the stack's AlarmTopicArn)",
        ));
        return;
    };
    let sns = aws_sdk_sns::Client::new(&ctx.sdk);
    let r = bounded(ctx, async {
        sns.list_subscriptions_by_topic()
            .topic_arn(&arn)
            .send()
            .await
            .map_err(sdk_error)
    })
    .await;
    match r {
        Ok(list) => {
            let confirmed = list
                .subscriptions()
                .iter()
                .filter(|s| s.subscription_arn().is_some_and(|a| a.starts_with("arn:")))
                .count();
            if confirmed > 0 {
                out.push(Check::ok(
                    item,
                    format!("{confirmed} confirmed subscribers"),
                ));
            } else {
                out.push(Check::fail(
                    item,
                    "nobody is subscribed: an alarm would be heard by no one",
                    format!("subscribe the on-call (aws sns subscribe --topic-arn {arn} --protocol email|https ...) and confirm"),
                ));
            }
        }
        Err(e) => out.push(Check::fail(item, e, format!("check that {arn} exists"))),
    }
}
