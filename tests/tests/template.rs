//! The SAM template: the tests' tables are the template's, and no IAM statement grants a
//! `*` action, or a `*` resource beyond what CloudWatch metrics and logs need.

use failsoft_testkit::{fresh_table, moto, sdk_config, template_spec, workspace_root};
use serde_yaml::Value;

fn template() -> anyhow::Result<Value> {
    Ok(serde_yaml::from_str(&std::fs::read_to_string(
        workspace_root().join("infra/template.yaml"),
    )?)?)
}

#[tokio::test]
async fn the_tables_tests_create_are_the_templates() -> anyhow::Result<()> {
    let spec = template_spec()?;
    assert_eq!(spec.keys, [("pk".to_string(), "HASH".to_string())]);
    assert_eq!(spec.billing_mode, "PAY_PER_REQUEST");
    assert!(spec.sse && spec.point_in_time_recovery);
    assert_eq!(spec.ttl_attribute.as_deref(), Some("expires_at"));

    let m = moto()?;
    let (client, table) = fresh_table(&m.url).await?;
    let d = client.describe_table().table_name(&table).send().await?;
    let t = d.table().ok_or_else(|| anyhow::anyhow!("no table"))?;
    let keys: Vec<(String, String)> = t
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_string(),
                k.key_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(keys, spec.keys);
    let attrs: Vec<(String, String)> = t
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_string(),
                a.attribute_type().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(attrs, spec.attributes);
    assert_eq!(
        t.billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str()),
        Some("PAY_PER_REQUEST")
    );
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await?;
    assert_eq!(
        ttl.time_to_live_description()
            .and_then(|d| d.attribute_name()),
        Some("expires_at")
    );
    let backups = client
        .describe_continuous_backups()
        .table_name(&table)
        .send()
        .await?;
    let pitr = backups
        .continuous_backups_description()
        .and_then(|c| c.point_in_time_recovery_description())
        .and_then(|p| p.point_in_time_recovery_status())
        .map(|s| s.as_str().to_string());
    assert_eq!(pitr.as_deref(), Some("ENABLED"));
    let _ = sdk_config; // the same client setup every test uses
    Ok(())
}

/// Every IAM statement in the template, with where it sits.
fn statements(t: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let Some(resources) = t.get("Resources").and_then(Value::as_mapping) else {
        return out;
    };
    for (id, r) in resources {
        let id = id.as_str().unwrap_or("?").to_string();
        let props = r.get("Properties");
        let policies = props
            .and_then(|p| p.get("Policies"))
            .and_then(Value::as_sequence)
            .cloned()
            .unwrap_or_default();
        for p in policies {
            let doc = p.get("PolicyDocument").unwrap_or(&p);
            for s in doc
                .get("Statement")
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default()
            {
                // `!If [Condition, statement, !Ref AWS::NoValue]`: the statement when it applies.
                let s = match &s {
                    Value::Tagged(t) if t.tag == "If" => {
                        match t.value.as_sequence().and_then(|v| v.get(1)) {
                            Some(stmt) => stmt.clone(),
                            None => s.clone(),
                        }
                    }
                    _ => s,
                };
                out.push((id.clone(), s));
            }
            assert!(
                p.as_str().is_none(),
                "{id}: managed policy template {p:?} grants more than it needs"
            );
        }
    }
    out
}

fn list(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Sequence(s)) => s.clone(),
        Some(v) => vec![v.clone()],
        None => vec![],
    }
}

#[test]
fn no_policy_grants_a_wildcard() -> anyhow::Result<()> {
    let t = template()?;
    let stmts = statements(&t);
    assert!(stmts.len() >= 9, "found only {} statements", stmts.len());
    for (id, s) in &stmts {
        let actions: Vec<String> = list(s.get("Action"))
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        assert!(!actions.is_empty(), "{id}: a statement without actions");
        for a in &actions {
            assert!(
                a != "*" && !a.ends_with(":*") && !a.contains('*'),
                "{id}: wildcard action {a}"
            );
        }
        for r in list(s.get("Resource")) {
            if r.as_str() == Some("*") {
                let metrics_or_logs = actions
                    .iter()
                    .all(|a| a.starts_with("logs:") || a.starts_with("cloudwatch:"));
                assert!(metrics_or_logs, "{id}: Resource * for {actions:?}");
            }
        }
    }
    Ok(())
}

#[test]
fn genesys_may_only_invoke_crm_lookup() -> anyhow::Result<()> {
    let t = template()?;
    let role = &t["Resources"]["GenesysInvokeRole"]["Properties"];
    let trust = &role["AssumeRolePolicyDocument"]["Statement"][0];
    assert_eq!(
        trust["Principal"]["AWS"].as_str(),
        Some("arn:aws:iam::765628985471:root")
    );
    assert!(
        trust["Condition"]["StringEquals"]
            .get("sts:ExternalId")
            .is_some(),
        "no ExternalId condition"
    );
    let stmts = statements(&t);
    let genesys: Vec<_> = stmts
        .iter()
        .filter(|(id, _)| id == "GenesysInvokeRole")
        .collect();
    assert_eq!(genesys.len(), 1);
    assert_eq!(
        genesys[0].1["Action"].as_str(),
        Some("lambda:InvokeFunction")
    );
    let resource = serde_yaml::to_string(&genesys[0].1["Resource"])?;
    assert!(resource.contains("CrmLookupFunction.Arn"), "{resource}");
    Ok(())
}

/// Genesys enforces the guide's 3 s budget on the action itself, and the function
/// answers before it (LOOKUP_DEADLINE_MS defaults to 2.5 s).
#[test]
fn the_data_action_export_sets_the_guides_timeout() -> anyhow::Result<()> {
    let path = failsoft_testkit::workspace_root().join("infra/genesys/crm-lookup.data-action.json");
    let export: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    assert_eq!(export["config"]["timeoutSeconds"], 3);
    let env = |_: &str| None::<String>;
    let crm = failsoft::crm::CrmConfig::from_env(&env)?;
    assert!(crm.deadline < std::time::Duration::from_secs(3));
    Ok(())
}

/// Every failure people must hear of has an alarm, every alarm notifies the required
/// topic, and every alarmed Failsoft metric is one the code emits.
#[test]
fn every_alarm_notifies_the_required_topic() -> anyhow::Result<()> {
    let t = template()?;
    let topic = &t["Parameters"]["AlarmTopicArn"];
    assert!(
        topic.get("Default").is_none(),
        "AlarmTopicArn must be required"
    );
    let resources = t["Resources"].as_mapping().cloned().unwrap_or_default();
    let alarms: Vec<(String, Value)> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(k, r)| {
            (
                k.as_str().unwrap_or_default().to_string(),
                r["Properties"].clone(),
            )
        })
        .collect();
    let sources: String = [
        "shared/src/breaker/guard.rs",
        "shared/src/token/mod.rs",
        "shared/src/alert.rs",
        "shared/src/crm/lookup.rs",
        "shared/src/health_check.rs",
        "shared/src/actions/mod.rs",
    ]
    .iter()
    .map(|p| std::fs::read_to_string(workspace_root().join(p)).unwrap_or_default())
    .collect();
    let mut metrics = Vec::new();
    for (name, p) in &alarms {
        let actions = format!("{:?}", p["AlarmActions"]);
        assert!(
            actions.contains("AlarmTopicArn"),
            "{name} notifies no one: {actions}"
        );
        if p["Namespace"] == "Failsoft" {
            let m = p["MetricName"].as_str().unwrap_or_default().to_string();
            assert!(
                sources.contains(&format!("\"{m}\"")),
                "{name}: {m} is never emitted"
            );
            metrics.push(m);
        }
    }
    for m in [
        "StateTableErrors",
        "TokenRefreshFailuresTotal",
        "AlertsRejectedTotal",
        "BreakerTransitions",
        "ActionsFailedTotal",
    ] {
        assert!(metrics.iter().any(|x| x == m), "no alarm on {m}");
    }
    Ok(())
}

/// Each function reaches only its own keys of the state table (`dynamodb:LeadingKeys`),
/// no function scans it, and queue-metrics, behind a Function URL, can never read the
/// CRM token.
#[test]
fn each_function_reaches_only_its_own_keys() -> anyhow::Result<()> {
    let t = template()?;
    let mut keys: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (id, s) in statements(&t) {
        let actions: Vec<String> = list(s.get("Action"))
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
            continue;
        }
        assert!(
            !actions.iter().any(|a| a == "dynamodb:Scan"),
            "{id} may scan the table"
        );
        // Reading the table's stream is not reading its items: no keys to limit it to,
        // but limited to the stream itself.
        let stream_reads = [
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
        ];
        if actions.iter().all(|a| stream_reads.contains(&a.as_str())) {
            let resource = format!("{:?}", s["Resource"]);
            assert!(
                resource.contains("StreamArn") || resource.contains("/stream/"),
                "{id}: {resource}"
            );
            continue;
        }
        let cond = &s["Condition"];
        let leading = ["ForAllValues:StringEquals", "ForAllValues:StringLike"]
            .iter()
            .find_map(|op| {
                cond.get(*op)
                    .and_then(|c| c.get("dynamodb:LeadingKeys"))
                    .cloned()
            });
        let Some(leading) = leading else {
            panic!("{id}: a DynamoDB statement without dynamodb:LeadingKeys");
        };
        keys.entry(id).or_default().extend(
            list(Some(&leading))
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string)),
        );
    }
    // A breaker is two items (its state, and the counts every call writes).
    let registered: Vec<String> = failsoft::dependency::Dependency::ALL
        .iter()
        .flat_map(|d| {
            [
                failsoft::breaker::key(d.name()),
                failsoft::breaker::count_key(d.name()),
            ]
        })
        .collect();
    for (id, ks) in &keys {
        for k in ks {
            let known = registered.contains(k)
                || [
                    "token#crm",
                    "token#genesys",
                    "metrics#*",
                    "ctx#*",
                    "campaign#*",
                    "actions#*",
                    failsoft::writeback::backlog::KEY,
                    failsoft::overflow::record::KEY,
                ]
                .contains(&k.as_str());
            assert!(known, "{id}: {k} is no key the code uses");
        }
    }
    assert_eq!(keys.len(), 6, "{keys:?}");
    // Only the executors write the campaign ledger; the board reads it.
    for (id, ks) in &keys {
        let ledger = ks.iter().any(|k| k == "campaign#*");
        let reader = [
            "OutageActionsFunction",
            "HealthProbeFunction",
            "QueueMetricsFunction",
        ];
        assert_eq!(ledger, reader.contains(&id.as_str()), "{id}: {ks:?}");
    }
    let qm = keys
        .get("QueueMetricsFunction")
        .cloned()
        .unwrap_or_default();
    assert!(
        !qm.iter()
            .any(|k| k == "token#crm" || k.starts_with("token#*")),
        "{qm:?}"
    );
    // The last-known context is crm-lookup's alone.
    for (id, ks) in &keys {
        let context = ks.iter().any(|k| k.starts_with("ctx#"));
        assert_eq!(context, id == "CrmLookupFunction", "{id}: {ks:?}");
    }
    let crm = keys.get("CrmLookupFunction").cloned().unwrap_or_default();
    assert_eq!(
        crm,
        [
            "ctx#*",
            "breaker#crm",
            "breaker#crm#count",
            "breaker#crm-auth",
            "breaker#crm-auth#count",
            "token#crm"
        ]
    );
    Ok(())
}

/// Token values are sealed with the template's KMS key, and each function may open only
/// its providers' tokens: queue-metrics, behind a Function URL, never the CRM's.
#[test]
fn each_function_opens_only_its_providers_tokens() -> anyhow::Result<()> {
    let t = template()?;
    // However the YAML tag `!Ref` comes through, it names the key.
    let key_id = format!(
        "{:?}",
        t["Globals"]["Function"]["Environment"]["Variables"]["TOKEN_KMS_KEY_ID"]
    );
    assert!(key_id.contains("TokenKey"), "{key_id}");
    assert_eq!(
        t["Resources"]["TokenKey"]["Properties"]["EnableKeyRotation"],
        true
    );
    let mut contexts: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (id, s) in statements(&t) {
        let actions: Vec<String> = list(s.get("Action"))
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        if !actions.iter().any(|a| a.starts_with("kms:")) {
            continue;
        }
        assert_eq!(actions, ["kms:Encrypt", "kms:Decrypt"], "{id}");
        let providers = s["Condition"]["StringEquals"]["kms:EncryptionContext:provider"].clone();
        assert!(
            !providers.is_null(),
            "{id}: KMS without an encryption context"
        );
        contexts.entry(id).or_default().extend(
            list(Some(&providers))
                .iter()
                .filter_map(|p| p.as_str().map(str::to_string)),
        );
    }
    let get = |id: &str| contexts.get(id).cloned().unwrap_or_default();
    assert_eq!(get("CrmLookupFunction"), ["crm"]);
    assert_eq!(get("QueueMetricsFunction"), ["genesys"]);
    assert_eq!(get("TokenCacheFunction"), ["crm", "genesys"]);
    assert_eq!(get("HealthProbeFunction"), ["crm", "genesys"]);
    assert_eq!(get("OutageActionsFunction"), ["genesys"]);
    assert_eq!(get("CrmWritebackFunction"), ["crm"]);
    Ok(())
}

/// The stream reaches outage-actions as it must: breaker items only, failed
/// records retried alone and a bounded number of times, then set aside where an alarm
/// watches; the table streams both images.
#[test]
fn the_stream_mapping_is_filtered_bounded_and_has_a_failure_destination() -> anyhow::Result<()> {
    let t = template()?;
    let table = &t["Resources"]["StateTable"]["Properties"];
    assert_eq!(
        table["StreamSpecification"]["StreamViewType"],
        "NEW_AND_OLD_IMAGES"
    );
    let esm = &t["Resources"]["OutageActionsStream"];
    assert_eq!(esm["Type"], "AWS::Lambda::EventSourceMapping");
    let p = &esm["Properties"];
    assert_eq!(p["BisectBatchOnFunctionError"], true);
    let retries = p["MaximumRetryAttempts"].as_u64().unwrap_or(u64::MAX);
    assert!((1..=10).contains(&retries), "{retries}");
    assert!(format!("{:?}", p["FunctionResponseTypes"]).contains("ReportBatchItemFailures"));
    let pattern = p["FilterCriteria"]["Filters"][0]["Pattern"]
        .as_str()
        .unwrap_or_default();
    let pattern: serde_json::Value = serde_json::from_str(pattern)?;
    assert_eq!(
        pattern["dynamodb"]["Keys"]["pk"]["S"][0]["prefix"],
        failsoft::breaker::PREFIX
    );
    let dest = format!("{:?}", p["DestinationConfig"]["OnFailure"]["Destination"]);
    assert!(dest.contains("OutageActionsFailures"), "{dest}");
    let alarms = format!("{:?}", t["Resources"]["OutageActionsStreamFailuresAlarm"]);
    assert!(alarms.contains("OutageActionsFailures"), "{alarms}");
    Ok(())
}

/// The write-back's path: the queue keeps 14 days and hides a message
/// 6 × the function's timeout; SQS's own redrive comes after more receives than a
/// 24-hour outage costs; the mapping reports item failures with a bounded concurrency;
/// the function may receive, delete and defer on its queue only, and send to its DLQ
/// only; the rule (with its retry policy and DLQ) exists only with the partner source.
#[test]
fn the_writeback_queue_outlasts_a_day_long_outage_with_least_privilege() -> anyhow::Result<()> {
    use failsoft::writeback::defer::{receives_for, MAX_RECEIVES};
    let t = template()?;
    let r = &t["Resources"];
    let q = &r["WritebackQueue"]["Properties"];
    assert_eq!(q["MessageRetentionPeriod"], 1_209_600);
    let timeout = r["CrmWritebackFunction"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        q["VisibilityTimeout"].as_u64().unwrap_or(0) >= 6 * timeout,
        "{q:?}"
    );
    let max = q["RedrivePolicy"]["maxReceiveCount"].as_u64().unwrap_or(0);
    assert_eq!(max, u64::from(MAX_RECEIVES));
    assert!(u64::from(receives_for(24 * 3_600)) < max);
    assert!(format!("{:?}", q["RedrivePolicy"]["deadLetterTargetArn"]).contains("WritebackDlq"));
    let m = &r["CrmWritebackQueueMapping"]["Properties"];
    assert!(format!("{:?}", m["EventSourceArn"]).contains("WritebackQueue"));
    assert!(format!("{:?}", m["FunctionResponseTypes"]).contains("ReportBatchItemFailures"));
    assert!(format!("{:?}", m["ScalingConfig"]["MaximumConcurrency"])
        .contains("WritebackMaxConcurrency"));
    for id in [
        "GenesysEventBus",
        "WritebackRule",
        "WritebackRuleDlq",
        "WritebackQueuePolicy",
    ] {
        assert_eq!(r[id]["Condition"], "HasGenesysEventSource", "{id}");
    }
    let target = &r["WritebackRule"]["Properties"]["Targets"][0];
    assert!(format!("{:?}", target["DeadLetterConfig"]).contains("WritebackRuleDlq"));
    assert!(target["RetryPolicy"]["MaximumEventAgeInSeconds"]
        .as_u64()
        .is_some());
    assert_eq!(
        r["WritebackRule"]["Properties"]["EventPattern"]["detail-type"][0],
        "v2.detail.events.conversation.{id}.acw"
    );
    let mut sqs: Vec<(String, Vec<String>, String)> = statements(&t)
        .into_iter()
        .filter_map(|(id, s)| {
            let actions: Vec<String> = list(s.get("Action"))
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .filter(|a| a.starts_with("sqs:"))
                .collect();
            (!actions.is_empty()).then(|| (id, actions, format!("{:?}", s["Resource"])))
        })
        .filter(|(id, _, _)| id == "CrmWritebackFunction")
        .collect();
    sqs.sort();
    assert_eq!(sqs.len(), 2, "{sqs:?}");
    let send = sqs
        .iter()
        .find(|(_, a, _)| a == &["sqs:SendMessage"])
        .expect("a send statement");
    assert!(
        send.2.contains("WritebackDlq") && !send.2.contains("WritebackQueue"),
        "{send:?}"
    );
    let recv = sqs
        .iter()
        .find(|(_, a, _)| a.contains(&"sqs:ReceiveMessage".to_string()))
        .expect("a receive statement");
    for a in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
    ] {
        assert!(recv.1.iter().any(|x| x == a), "{recv:?}");
    }
    assert!(
        recv.2.contains("WritebackQueue") && !recv.2.contains("WritebackDlq"),
        "{recv:?}"
    );
    Ok(())
}

/// The overflow settings reach every function that can write a transition (they decide
/// what an outage calls for), the overflow record is written only by the executors, and
/// the backup org's secret is readable by the health probe alone, when it is set.
#[test]
fn overflow_settings_are_global_and_the_backup_secret_is_the_probes() -> anyhow::Result<()> {
    let t = template()?;
    let globals = &t["Globals"]["Function"]["Environment"]["Variables"];
    for var in [
        "OVERFLOW_AUTO_ON",
        "OVERFLOW_EMERGENCY_GROUP_ID",
        "OVERFLOW_RESTORE_DELAY_S",
    ] {
        assert!(globals.get(var).is_some(), "{var} is not global");
    }
    let probe = &t["Resources"]["HealthProbeFunction"]["Properties"]["Environment"]["Variables"];
    for var in [
        "BACKUP_GENESYS_ENVIRONMENT",
        "BACKUP_GENESYS_SECRET_ID",
        "BACKUP_FLOW_NAME",
        "BACKUP_DIDS",
    ] {
        assert!(probe.get(var).is_some(), "health-probe lacks {var}");
    }
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for (id, s) in statements(&t) {
        let text = format!("{s:?}");
        if text.contains("BackupGenesysSecretArn") {
            readers.push(id.clone());
        }
        if text.contains(failsoft::overflow::record::KEY) && text.contains("dynamodb:PutItem") {
            writers.push(id);
        }
    }
    assert_eq!(readers, ["HealthProbeFunction"]);
    writers.sort();
    assert_eq!(writers, ["HealthProbeFunction", "OutageActionsFunction"]);
    Ok(())
}

/// Settings that would fail every function's start (automatic overflow without a group,
/// a backup region without credentials or anything to check) are refused by
/// CloudFormation rules at deploy time, not met by crm-lookup at its first call.
#[test]
fn optional_features_cannot_break_every_function_at_deploy_time() -> anyhow::Result<()> {
    let t = template()?;
    let rules = t
        .get("Rules")
        .and_then(Value::as_mapping)
        .cloned()
        .unwrap_or_default();
    let text = |name: &str| {
        rules
            .get(name)
            .map(|r| format!("{r:?}"))
            .unwrap_or_default()
    };
    let overflow = text("OverflowAutoOnNeedsAGroup");
    assert!(
        overflow.contains("OverflowAutoOn") && overflow.contains("OverflowEmergencyGroupId"),
        "{overflow}"
    );
    let backup = text("BackupRegionNeedsCredentialsAndSomethingToCheck");
    for p in [
        "BackupGenesysEnvironment",
        "BackupGenesysSecretArn",
        "BackupFlowName",
        "BackupDids",
    ] {
        assert!(backup.contains(p), "{p}: {backup}");
    }
    Ok(())
}

/// docs/deploy.md's "AWS: each function's role" table lists exactly the actions each
/// function's role has in the template.
#[test]
fn the_deploy_doc_lists_each_roles_actions() -> anyhow::Result<()> {
    let t = template()?;
    let readme = std::fs::read_to_string(workspace_root().join("docs/deploy.md"))?;
    let section = readme
        .split("### AWS: each function's role")
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("no AWS permissions table in docs/deploy.md"))?;
    let resource = |f: &str| match f {
        "crm-lookup" => "CrmLookupFunction",
        "token-cache" => "TokenCacheFunction",
        "health-probe" => "HealthProbeFunction",
        "queue-metrics" => "QueueMetricsFunction",
        "outage-actions" => "OutageActionsFunction",
        "crm-writeback" => "CrmWritebackFunction",
        _ => "GenesysInvokeRole",
    };
    let mut rows = 0;
    for line in section.lines().skip_while(|l| !l.starts_with('|')).skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (function, listed) = (cells[1], cells[2]);
        let mut listed: Vec<String> = listed
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        listed.sort();
        let mut actual: Vec<String> = statements(&t)
            .into_iter()
            .filter(|(id, _)| id == resource(function))
            .flat_map(|(_, s)| list(s.get("Action")))
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect();
        actual.sort();
        actual.dedup();
        assert_eq!(listed, actual, "{function}");
        rows += 1;
    }
    assert_eq!(rows, 7, "six functions and Genesys's invoke role");
    Ok(())
}

/// queue-metrics, behind a Function URL, writes only what it writes: its own breaker,
/// the Genesys token's (its refresh), the Genesys token and the metrics cache. No other
/// breaker it merely shows on the board.
#[test]
fn queue_metrics_writes_only_its_own_keys() -> anyhow::Result<()> {
    let t = template()?;
    let mut written: Vec<String> = statements(&t)
        .into_iter()
        .filter(|(id, s)| {
            id == "QueueMetricsFunction"
                && list(s.get("Action"))
                    .iter()
                    .any(|a| a.as_str() == Some("dynamodb:UpdateItem"))
        })
        .flat_map(|(_, s)| {
            list(
                s["Condition"]
                    .get("ForAllValues:StringLike")
                    .or_else(|| s["Condition"].get("ForAllValues:StringEquals"))
                    .and_then(|c| c.get("dynamodb:LeadingKeys")),
            )
        })
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "breaker#genesys-analytics",
            "breaker#genesys-analytics#count",
            "breaker#genesys-auth",
            "breaker#genesys-auth#count",
            "metrics#*",
            "token#genesys"
        ]
    );
    Ok(())
}

/// Each function's working budget (`failsoft::lambda`) is named after the timeout the
/// template gives it, and fits inside it: changing one without the other fails here.
#[test]
fn each_functions_budget_is_its_template_timeout() -> anyhow::Result<()> {
    let t = template()?;
    for b in failsoft::lambda::ALL {
        let props = &t["Resources"][format!("{}Function", b.function)]["Properties"];
        assert_eq!(
            props["Timeout"].as_u64(),
            Some(b.timeout.as_secs()),
            "{}",
            b.function
        );
        assert!(b.work + b.margin <= b.timeout, "{b:?}");
    }
    Ok(())
}
