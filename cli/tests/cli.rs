//! The `failsoft` binary against moto: list, show, force open/closed, release.

use std::process::Command;

use failsoft::breaker::{BreakerStore, DynamoBreakerStore, State};
use failsoft_testkit::{fresh_table, moto, workspace_root};
use serde_json::Value;

/// Run `failsoft` with `args`, no terminal on stdin; the raw output.
fn failsoft(url: &str, table: &str, args: &[&str]) -> anyhow::Result<std::process::Output> {
    failsoft_with(url, table, &[], args)
}

/// The same, with `env` set too.
fn failsoft_with(
    url: &str,
    table: &str,
    env: &[(&str, &str)],
    args: &[&str],
) -> anyhow::Result<std::process::Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_failsoft"))
        .args(args)
        .current_dir(workspace_root())
        .env("AWS_ENDPOINT_URL", url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("STATE_TABLE", table)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()?)
}

/// Run a command for scripts (`--json`, and `--yes` where it changes something).
fn run(url: &str, table: &str, args: &[&str]) -> anyhow::Result<Value> {
    let mut args = args.to_vec();
    if args[0] == "breaker" {
        args.push("--json");
    }
    if args
        .get(1)
        .is_some_and(|a| ["force-open", "force-closed", "release"].contains(a))
    {
        args.push("--yes");
    }
    let out = failsoft(url, table, &args)?;
    anyhow::ensure!(
        out.status.success(),
        "failsoft {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[tokio::test]
async fn operator_forces_and_releases_a_breaker() -> anyhow::Result<()> {
    let m = moto()?;
    let (client, table) = fresh_table(&m.url).await?;
    let store = DynamoBreakerStore::new(client, table.clone());

    let v = run(
        &m.url,
        &table,
        &["breaker", "force-open", "crm", "--by", "maint-window"],
    )?;
    assert_eq!(v["transition"], "CLOSED->FORCED_OPEN");
    let rec = store.load("crm").await?;
    assert_eq!(rec.state, State::ForcedOpen);
    assert!(
        rec.episode.is_some(),
        "a forced open is an episode of its own"
    );

    let v = run(&m.url, &table, &["breaker", "force-open", "crm"])?;
    assert_eq!(
        v["transition"],
        Value::Null,
        "forcing again changes nothing"
    );

    let v = run(&m.url, &table, &["breaker", "list"])?;
    assert_eq!(v[0]["name"], "crm");
    assert_eq!(v[0]["state"], "FORCED_OPEN");

    let v = run(&m.url, &table, &["breaker", "show", "crm"])?;
    assert_eq!(v["generation"], 1);

    let v = run(&m.url, &table, &["breaker", "force-closed", "crm"])?;
    assert_eq!(v["transition"], "FORCED_OPEN->FORCED_CLOSED");
    let v = run(&m.url, &table, &["breaker", "release", "crm"])?;
    assert_eq!(v["transition"], "FORCED_CLOSED->CLOSED");
    let v = run(&m.url, &table, &["breaker", "release", "crm"])?;
    assert_eq!(
        v["transition"],
        Value::Null,
        "release of an unforced breaker is a no-op"
    );
    let rec = store.load("crm").await?;
    assert_eq!(
        (rec.state, rec.generation, rec.episode),
        (State::Closed, 3, None)
    );
    Ok(())
}

#[tokio::test]
async fn table_create_uses_the_template() -> anyhow::Result<()> {
    let m = moto()?;
    let name = format!("cli-made-{:x}", std::process::id());
    let v = run(&m.url, &name, &["table", "create"])?;
    assert_eq!(v["created"], name);
    let conf = failsoft_testkit::sdk_config(&m.url).await;
    let client = aws_sdk_dynamodb::Client::new(&conf);
    let d = client.describe_table().table_name(&name).send().await?;
    let keys: Vec<String> = d
        .table()
        .map(|t| {
            t.key_schema()
                .iter()
                .map(|k| k.attribute_name().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(keys, ["pk"]);
    Ok(())
}

/// Finding: a typo created and paged a breaker, force-closed ran unasked, and `show` of
/// an unknown name printed an invented CLOSED record.
#[tokio::test]
async fn destructive_commands_confirm_and_unknown_names_are_refused() -> anyhow::Result<()> {
    let m = moto()?;
    let (client, table) = fresh_table(&m.url).await?;
    let store = DynamoBreakerStore::new(client, table.clone());
    for args in [
        &["breaker", "force-open", "crn", "--yes"][..],
        &["breaker", "show", "does-not-exist"][..],
        &["breaker", "release", "crm-aut", "--yes"][..],
    ] {
        let out = failsoft(&m.url, &table, args)?;
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("unknown breaker") && err.contains("crm-auth"),
            "{err}"
        );
    }
    assert!(store.list().await?.is_empty(), "nothing was created");
    // Without --yes and with no one to answer, nothing changes.
    let out = failsoft(&m.url, &table, &["breaker", "force-closed", "crm"])?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not confirmed"));
    assert_eq!(store.load("crm").await?.state, State::Closed);
    assert!(store.list().await?.is_empty());
    // People get a table with ages, not epoch milliseconds, and no EMF lines.
    let out = failsoft(&m.url, &table, &["breaker", "force-open", "crm", "--yes"])?;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("CLOSED->FORCED_OPEN") && text.contains("s ago"),
        "{text}"
    );
    assert!(!text.contains("_aws") && !String::from_utf8_lossy(&out.stderr).contains("_aws"));
    let out = failsoft(&m.url, &table, &["breaker", "list"])?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FORCED_OPEN") && text.contains("1 pending"),
        "{text}"
    );
    // The pending trigger can be inspected and pruned, with confirmation.
    let id = store
        .load("crm")
        .await?
        .outbox
        .keys()
        .next()
        .cloned()
        .unwrap_or_default();
    let out = failsoft(&m.url, &table, &["breaker", "show", "crm"])?;
    let shown = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("crm ") && l.contains(&format!(" {id} "))),
        "{shown}"
    );
    let out = failsoft(&m.url, &table, &["breaker", "prune-alert", "crm", &id])?;
    assert!(!out.status.success(), "pruned without confirmation");
    assert_eq!(store.load("crm").await?.outbox.len(), 1);
    let out = failsoft(
        &m.url,
        &table,
        &["breaker", "prune-alert", "crm", &id, "--yes"],
    )?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(store.load("crm").await?.outbox.is_empty());
    Ok(())
}

/// A maintenance window that ends by itself: `--until` is stored with the forced state,
/// and nonsense is refused.
#[tokio::test]
async fn a_forced_state_can_end_by_itself() -> anyhow::Result<()> {
    let m = moto()?;
    let (client, table) = fresh_table(&m.url).await?;
    let store = DynamoBreakerStore::new(client, table.clone());
    let v = run(
        &m.url,
        &table,
        &["breaker", "force-open", "crm", "--until", "2h"],
    )?;
    assert_eq!(v["transition"], "CLOSED->FORCED_OPEN");
    let rec = store.load("crm").await?;
    let left = rec.forced_until.map(|u| u - rec.since_ms).unwrap_or(0);
    assert!((7_199_000..=7_200_000).contains(&left), "{left} ms");
    for bad in ["0m", "8d", "2x", "h"] {
        let out = failsoft(
            &m.url,
            &table,
            &["breaker", "force-open", "crm-auth", "--until", bad, "--yes"],
        )?;
        assert!(!out.status.success(), "--until {bad} accepted");
    }
    let v = run(&m.url, &table, &["breaker", "release", "crm"])?;
    assert_eq!(v["transition"], "FORCED_OPEN->CLOSED");
    assert_eq!(store.load("crm").await?.forced_until, None);
    Ok(())
}

/// `failsoft actions` shows what a forced open called for: its page and, with the
/// campaign pause on for `crm`, the pause, both pending; and no campaign held yet.
#[tokio::test]
async fn actions_lists_what_a_transition_called_for() -> anyhow::Result<()> {
    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    let with_pause =
        |args: &[&str]| failsoft_with(&m.url, &table, &[("CAMPAIGN_PAUSE_ON", "crm")], args);
    let out = with_pause(&["breaker", "force-open", "crm", "--yes"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = with_pause(&["actions", "--json"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let actions: Vec<(String, String)> = v["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("action"), s("status"))
        })
        .collect();
    assert!(
        actions.contains(&("trigger".into(), "pending".into())),
        "{v}"
    );
    assert!(
        actions.contains(&("pause_campaigns".into(), "pending".into())),
        "{v}"
    );
    assert_eq!(v["campaigns"], serde_json::json!([]));
    // A misspelt breaker in the setting is refused, not silently ignored.
    let out = failsoft_with(
        &m.url,
        &table,
        &[("CAMPAIGN_PAUSE_ON", "crm,genesys-apj")],
        &["breaker", "force-open", "crm", "--yes"],
    )?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("CAMPAIGN_PAUSE_ON"));
    Ok(())
}

/// `failsoft writeback status` shows the backlog and the DLQ; `redrive` refuses without
/// a confirmation, then moves the DLQ's messages back to the queue (receive, send,
/// delete: moto has no StartMessageMoveTask), bodies intact.
#[tokio::test]
async fn writeback_status_and_redrive() -> anyhow::Result<()> {
    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    let (queue, dlq) =
        failsoft_testkit::sqs_pump::create_queues(&m.url, &format!("wb-{table}"), 30).await?;
    let sqs = aws_sdk_sqs::Client::new(&failsoft_testkit::sdk_config(&m.url).await);
    for (url, body) in [(&queue, "waiting"), (&dlq, "poison-1"), (&dlq, "poison-2")] {
        sqs.send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await?;
    }
    let env = [
        ("WRITEBACK_QUEUE_URL", queue.as_str()),
        ("WRITEBACK_DLQ_URL", dlq.as_str()),
    ];
    let json = |args: &[&str]| -> anyhow::Result<Value> {
        let out = failsoft_with(&m.url, &table, &env, args)?;
        anyhow::ensure!(
            out.status.success(),
            "failsoft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    let status = json(&["writeback", "status", "--json"])?;
    assert_eq!(status["writeback"]["queued"], 1, "{status}");
    assert_eq!(status["writeback"]["dlq"], 2, "{status}");
    assert_eq!(status["breakers"]["crm-api-limit"], "CLOSED", "{status}");

    let refused = failsoft_with(&m.url, &table, &env, &["writeback", "redrive"])?;
    assert!(!refused.status.success(), "no terminal, no --yes: refused");
    assert_eq!(
        json(&["writeback", "status", "--json"])?["writeback"]["dlq"],
        2
    );

    let moved = json(&["writeback", "redrive", "--yes"])?;
    assert_eq!(moved["moved"], 2, "{moved}");
    let status = json(&["writeback", "status", "--json"])?;
    assert_eq!(
        (&status["writeback"]["queued"], &status["writeback"]["dlq"]),
        (&Value::from(3), &Value::from(0)),
        "{status}"
    );
    let got = sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await?;
    let mut bodies: Vec<&str> = got.messages().iter().filter_map(|m| m.body()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["poison-1", "poison-2", "waiting"]);
    // Without the queue URLs the command says which variable is missing.
    let out = failsoft(&m.url, &table, &["writeback", "status"])?;
    assert!(String::from_utf8_lossy(&out.stderr).contains("WRITEBACK_QUEUE_URL"));
    Ok(())
}

/// moto with a fresh table, a fake Genesys holding group `eg-1` (two IVRs), and its
/// client secret: (moto, table, Genesys, secret id, token URL).
async fn overflow_world() -> anyhow::Result<(
    &'static failsoft_testkit::Moto,
    String,
    failsoft_testkit::fakes::genesys::FakeGenesys,
    String,
    String,
)> {
    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    let g = failsoft_testkit::fakes::genesys::FakeGenesys::start().await?;
    g.add_group("eg-1", "Regional overflow", &["ivr-main", "ivr-sales"]);
    let secret = format!("gc-{table}");
    failsoft_testkit::create_secret(
        &m.url,
        &secret,
        &serde_json::json!({"client_id": "id", "client_secret": "s"}),
    )
    .await?;
    let login = format!("{}/oauth/token", g.server.url);
    Ok((m, table, g, secret, login))
}

/// What an operator's shell holds for `failsoft overflow` against the fake Genesys.
fn operator_env<'a>(api: &'a str, secret: &'a str, login: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GENESYS_SECRET_ID", secret),
        ("GENESYS_API_URL", api),
        ("GENESYS_LOGIN_URL", login),
        ("OVERFLOW_EMERGENCY_GROUP_ID", "eg-1"),
        ("USER", "alice"),
    ]
}

/// An operator's activation, confirmed on the command line.
const ACTIVATE: [&str; 5] = [
    "overflow",
    "activate",
    "--reason",
    "region degraded",
    "--yes",
];

/// `failsoft overflow`: refused without a reason, a dry run changes nothing, activate
/// enables the group with every IVR link and records who and why, status shows it, an
/// unknown group is refused, deactivate switches it back; each switch queues its page.
/// Multi-threaded: the fake Genesys answers while a worker waits on the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_activate_status_and_deactivate() -> anyhow::Result<()> {
    use failsoft_testkit::fakes::genesys::EMERGENCY;
    let (m, table, g, secret, login) = overflow_world().await?;
    let env = [
        ("GENESYS_SECRET_ID", secret.as_str()),
        ("GENESYS_API_URL", g.server.url.as_str()),
        ("GENESYS_LOGIN_URL", login.as_str()),
        ("OVERFLOW_EMERGENCY_GROUP_ID", "eg-1"),
        ("USER", "alice"),
    ];
    let cmd = |args: &[&str]| failsoft_with(&m.url, &table, &env, args);
    let puts = || {
        g.server
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.path.starts_with(EMERGENCY))
            .count()
    };

    let no_reason = cmd(&["overflow", "activate", "--yes"])?;
    assert!(!no_reason.status.success());
    assert!(String::from_utf8_lossy(&no_reason.stderr).contains("--reason"));
    let blank = cmd(&["overflow", "activate", "--reason", " ", "--yes"])?;
    assert!(!blank.status.success());

    let dry = cmd(&["overflow", "activate", "--reason", "drill", "--dry-run"])?;
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("Will enable emergency group Regional overflow (eg-1)"),
        "{text}"
    );
    assert!(
        text.contains("ivr-main, ivr-sales") && text.contains("nothing changed"),
        "{text}"
    );
    // Without --yes and with no terminal: refused, nothing changed.
    let unconfirmed = cmd(&["overflow", "activate", "--reason", "drill"])?;
    assert!(!unconfirmed.status.success());
    assert_eq!(puts(), 0);

    let started = std::time::Instant::now();
    let on = cmd(&[
        "overflow",
        "activate",
        "--reason",
        "us-east-1 API down",
        "--yes",
        "--json",
    ])?;
    let took = started.elapsed();
    assert!(
        on.status.success(),
        "{}",
        String::from_utf8_lossy(&on.stderr)
    );
    let report: Value = serde_json::from_slice(&on.stdout)?;
    assert_eq!(report["enabled"], true);
    assert_eq!(
        (report["ivrsBefore"].as_u64(), report["ivrsAfter"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(g.group("eg-1")["enabled"], true);
    assert_eq!(puts(), 1);
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");

    let status = cmd(&["overflow", "status", "--json"])?;
    assert!(status.status.success());
    let s: Value = serde_json::from_slice(&status.stdout)?;
    assert_eq!(s["group"]["enabled"], true);
    assert_eq!(
        s["group"]["ivrs"],
        serde_json::json!(["ivr-main", "ivr-sales"])
    );
    assert_eq!(s["lastSwitch"]["by"], "alice");
    assert_eq!(s["lastSwitch"]["mode"], "manual");
    assert_eq!(s["lastSwitch"]["reason"], "us-east-1 API down");
    // The info page waits in genesys-api's outbox for outage-actions.
    let store = DynamoBreakerStore::new(
        aws_sdk_dynamodb::Client::new(&failsoft_testkit::sdk_config(&m.url).await),
        &table,
    );
    let rec = store.load("genesys-api").await?;
    assert!(
        rec.outbox.contains_key("work-overflow-on"),
        "{:?}",
        rec.outbox.keys()
    );

    let unknown = cmd(&[
        "overflow",
        "deactivate",
        "--group",
        "No such group",
        "--reason",
        "x",
        "--yes",
    ])?;
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no emergency group"));

    let off = cmd(&[
        "overflow",
        "deactivate",
        "--reason",
        "region healthy",
        "--yes",
    ])?;
    assert!(
        off.status.success(),
        "{}",
        String::from_utf8_lossy(&off.stderr)
    );
    assert_eq!(g.group("eg-1")["enabled"], false);
    assert_eq!(puts(), 2);
    let text = String::from_utf8_lossy(&cmd(&["overflow", "status"])?.stdout).to_string();
    assert!(
        text.contains("not active") && text.contains("disabled by alice"),
        "{text}"
    );
    Ok(())
}

/// Our own state table refusing must not stand between a person and the switch: made
/// through Genesys alone, and said to be neither recorded nor paged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_activate_works_while_the_state_table_refuses() -> anyhow::Result<()> {
    let (m, table, g, secret, login) = overflow_world().await?;
    let refused = failsoft_testkit::fakes::aws::refused_url()?;
    let env = [
        ("GENESYS_SECRET_ID", secret.as_str()),
        ("GENESYS_API_URL", g.server.url.as_str()),
        ("GENESYS_LOGIN_URL", login.as_str()),
        ("OVERFLOW_EMERGENCY_GROUP_ID", "eg-1"),
        ("AWS_ENDPOINT_URL_DYNAMODB", refused.as_str()),
    ];
    let started = std::time::Instant::now();
    let out = failsoft_with(
        &m.url,
        &table,
        &env,
        &[
            "overflow",
            "activate",
            "--reason",
            "region down",
            "--yes",
            "--json",
        ],
    )?;
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(
        (report["enabled"].as_bool(), report["recorded"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(g.group("eg-1")["enabled"], true);
    assert_eq!(report["ivrsAfter"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOT recorded"));
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    let status = failsoft_with(&m.url, &table, &env, &["overflow", "status"])?;
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        text.contains("ACTIVE") && text.contains("last switch: unknown"),
        "{text}"
    );
    Ok(())
}

/// A stand-in of a deployed stack, everything as `sam deploy` leaves it: moto with the
/// table, the four secrets, the write-back queue and DLQ, a Lambda function with its
/// SQS mapping, a partner bus rule to the queue and an alarm topic with a subscriber;
/// a Genesys org whose client holds what docs/deploy.md lists, a read-only backup org, and
/// a Salesforce org. The environment is the functions'.
struct Stack {
    url: String,
    table: String,
    env: Vec<(String, String)>,
    genesys: failsoft_testkit::fakes::genesys::FakeGenesys,
    _backup: failsoft_testkit::fakes::genesys::FakeGenesys,
    _sf: failsoft_testkit::fakes::http::FakeServer,
    org: failsoft_testkit::fakes::salesforce::Org,
}

async fn stack() -> anyhow::Result<Stack> {
    use failsoft_testkit::contract::genesys::BACKUP_CLIENT;
    use failsoft_testkit::fakes::genesys::{FakeGenesys, VOICE};
    use failsoft_testkit::{create_secret, fakes, sdk_config, sqs_pump};
    use serde_json::json;
    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    let conf = sdk_config(&m.url).await;
    let genesys = FakeGenesys::start().await?;
    genesys.add(VOICE, "renewals", "Renewals", "on", "d1");
    genesys.add_group("eg-1", "Regional overflow", &["ivr-main", "ivr-sales"]);
    let backup = FakeGenesys::start_granted(BACKUP_CLIENT).await?;
    backup.set_flow("Backup inbound", true);
    backup.set_did("+61290000000", true);
    let (sf, org) = fakes::salesforce::start_org(vec![fakes::salesforce::pat_platinum()]).await?;
    let secret = |kind: &str| format!("{kind}-{table}");
    create_secret(
        &m.url,
        &secret("crm"),
        &fakes::salesforce::credentials(&sf.url),
    )
    .await?;
    for kind in ["gc", "backup"] {
        create_secret(
            &m.url,
            &secret(kind),
            &json!({"client_id": "id", "client_secret": "s"}),
        )
        .await?;
    }
    create_secret(&m.url, &secret("pd"), &json!({"routing_key": "R0UTING"})).await?;
    let (queue, dlq) = sqs_pump::create_queues(&m.url, &format!("wb-{table}"), 360).await?;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                .cloned()
        })
        .unwrap_or_default();
    // The functions: a role, crm-lookup and crm-writeback with its mapping.
    let iam = aws_sdk_iam::Client::new(&conf);
    let role = iam
        .create_role()
        .role_name(format!("fn-{table}"))
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await?;
    let role_arn = role.role().map(|r| r.arn().to_string()).unwrap_or_default();
    let lambda = aws_sdk_lambda::Client::new(&conf);
    for f in ["crm-lookup", "crm-writeback"] {
        lambda
            .create_function()
            .function_name(format!("{f}-{table}"))
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .handler("bootstrap")
            .role(&role_arn)
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(empty_zip()))
                    .build(),
            )
            .send()
            .await?;
    }
    lambda
        .create_event_source_mapping()
        .function_name(format!("crm-writeback-{table}"))
        .event_source_arn(&queue_arn)
        .batch_size(100)
        .send()
        .await?;
    // The partner bus and its rule to the queue.
    let events = aws_sdk_eventbridge::Client::new(&conf);
    let bus = format!("acw-{table}");
    events.create_event_bus().name(&bus).send().await?;
    events
        .put_rule()
        .name("acw-to-writeback")
        .event_bus_name(&bus)
        .event_pattern(
            json!({"detail-type": [{"prefix": "v2.detail.events.conversation."}]}).to_string(),
        )
        .send()
        .await?;
    events
        .put_targets()
        .rule("acw-to-writeback")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("writeback")
                .arn(&queue_arn)
                .build()?,
        )
        .send()
        .await?;
    // The alarm topic, with the on-call subscribed.
    let sns = aws_sdk_sns::Client::new(&conf);
    let topic = sns
        .create_topic()
        .name(format!("alarms-{table}"))
        .send()
        .await?;
    let topic_arn = topic.topic_arn().unwrap_or_default().to_string();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await?;
    // The last-known caller context: its table and key.
    let context_table = failsoft_testkit::fresh_context_table(&m.url).await?;
    let key = json!({"hmacKey": "doctor-context-key-0123456789abcdef0123456789"});
    create_secret(&m.url, &secret("ctx"), &key).await?;
    let g = genesys.server.url.clone();
    let b = backup.server.url.clone();
    let env: Vec<(String, String)> = [
        ("LAST_KNOWN_CONTEXT", "on".into()),
        ("CONTEXT_TABLE", context_table),
        ("LAST_KNOWN_KEY_SECRET_ID", secret("ctx")),
        ("CRM_SECRET_ID", secret("crm")),
        ("GENESYS_SECRET_ID", secret("gc")),
        ("GENESYS_API_URL", g.clone()),
        ("GENESYS_LOGIN_URL", format!("{g}/oauth/token")),
        ("CAMPAIGN_PAUSE_ON", "crm".into()),
        ("OVERFLOW_EMERGENCY_GROUP_ID", "eg-1".into()),
        ("BOARD_QUEUE_IDS", "q-sales,q-support".into()),
        ("BACKUP_GENESYS_SECRET_ID", secret("backup")),
        ("BACKUP_GENESYS_API_URL", b.clone()),
        ("BACKUP_GENESYS_LOGIN_URL", format!("{b}/oauth/token")),
        ("BACKUP_FLOW_NAME", "Backup inbound".into()),
        ("BACKUP_DIDS", "+61290000000".into()),
        ("ALERT_SECRET_ID", secret("pd")),
        ("WRITEBACK_QUEUE_URL", queue),
        ("WRITEBACK_DLQ_URL", dlq),
        ("CRM_LOOKUP_FUNCTION", format!("crm-lookup-{table}")),
        ("WRITEBACK_EVENT_BUS", bus),
        ("ALARM_TOPIC_ARN", topic_arn),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Ok(Stack {
        url: m.url.clone(),
        table,
        env,
        genesys,
        _backup: backup,
        _sf: sf,
        org,
    })
}

/// The smallest zip archive: an empty one (moto stores the code, it does not run it).
fn empty_zip() -> Vec<u8> {
    let mut z = vec![0x50, 0x4b, 0x05, 0x06];
    z.extend([0u8; 18]);
    z
}

impl Stack {
    fn doctor(&self, json: bool) -> anyhow::Result<std::process::Output> {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let args: &[&str] = if json {
            &["doctor", "--json"]
        } else {
            &["doctor"]
        };
        failsoft_with(&self.url, &self.table, &env, args)
    }
}

/// `failsoft doctor` on a healthy stand-in stack: every item passes, exit 0. Then three
/// faults at once (a permission missing from the Genesys client, an unreadable secret,
/// a deleted emergency group): exit 1, each named with its fix, the permission by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_a_healthy_stack_and_names_each_fault() -> anyhow::Result<()> {
    let s = stack().await?;
    let out = s.doctor(true)?;
    let report: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| anyhow::anyhow!("{e}: {}", String::from_utf8_lossy(&out.stderr)))?;
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(out.status.success());
    let items: Vec<&str> = report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "ok")
        .filter_map(|c| c["item"].as_str())
        .collect();
    for want in [
        "secret CRM_SECRET_ID",
        "secret ALERT_SECRET_ID",
        "token genesys",
        "token crm",
        "token genesys-backup",
        "genesys-api health check",
        "campaign pause: voice campaigns",
        "campaign pause: messaging campaigns",
        "regional overflow: emergency group",
        "status board: queue observations",
        "backup: flow",
        "backup: DID +61290000000",
        "salesforce: contact search",
        "salesforce: Task described",
        "salesforce: external id Genesys_Interaction_Id__c",
        "salesforce: mapped fields",
        "last-known context",
        "breaker crm",
        "breaker genesys-backup",
        "data action function",
        "write-back queue",
        "write-back DLQ",
        "write-back event source mapping",
        "genesys partner bus rule",
        "alarm topic",
    ] {
        assert!(items.contains(&want), "{want} not ok: {items:?}");
    }
    let text = s.doctor(false)?;
    println!("--- healthy ---\n{}", String::from_utf8_lossy(&text.stdout));

    // Three faults.
    s.genesys.revoke("outbound:campaign:view");
    if let Ok(mut book) = s.genesys.book.lock() {
        book.groups.remove("eg-1");
    }
    let sm = aws_sdk_secretsmanager::Client::new(&failsoft_testkit::sdk_config(&s.url).await);
    let pd = s
        .env
        .iter()
        .find(|(k, _)| k == "ALERT_SECRET_ID")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    sm.delete_secret()
        .secret_id(&pd)
        .force_delete_without_recovery(true)
        .send()
        .await?;
    let out = s.doctor(true)?;
    assert_eq!(out.status.code(), Some(1), "a failure exits non-zero");
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let failed: Vec<&Value> = report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["status"] == "fail")
        .collect();
    let named: Vec<&str> = failed.iter().filter_map(|c| c["item"].as_str()).collect();
    assert_eq!(
        named,
        [
            "secret ALERT_SECRET_ID",
            "campaign pause: voice campaigns",
            "regional overflow: emergency group"
        ],
        "{failed:#?}"
    );
    let perm = failed[1]["detail"].as_str().unwrap_or_default();
    assert!(perm.contains("outbound:campaign:view"), "{perm}");
    assert!(failed
        .iter()
        .all(|c| c["fix"].as_str().is_some_and(|f| !f.is_empty())));
    let text = s.doctor(false)?;
    println!(
        "--- three faults ---\n{}",
        String::from_utf8_lossy(&text.stdout)
    );

    // The Salesforce integration user loses edit access to a mapped field.
    s.org.revoke_edit("CallDisposition");
    let report: Value = serde_json::from_slice(&s.doctor(true)?.stdout)?;
    let fields = report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["item"] == "salesforce: mapped fields")
        .cloned()
        .unwrap_or_default();
    assert_eq!(fields["status"], "fail", "{fields}");
    assert!(
        fields["detail"]
            .as_str()
            .is_some_and(|d| d.contains("CallDisposition")),
        "{fields}"
    );

    // The context's key replaced by one too short to key an HMAC.
    let ctx = s
        .env
        .iter()
        .find(|(k, _)| k == "LAST_KNOWN_KEY_SECRET_ID")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    sm.put_secret_value()
        .secret_id(&ctx)
        .secret_string(serde_json::json!({"hmacKey": "short"}).to_string())
        .send()
        .await?;
    let report: Value = serde_json::from_slice(&s.doctor(true)?.stdout)?;
    let context = report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["item"] == "last-known context")
        .cloned()
        .unwrap_or_default();
    assert_eq!(context["status"], "fail", "{context}");
    assert!(
        context["fix"]
            .as_str()
            .is_some_and(|f| f.contains("hmacKey")),
        "{context}"
    );
    Ok(())
}

/// A degraded region refuses the preview's read of the group (503, twice): the command
/// rides it out with the switch's backoff and switches, instead of sending the operator
/// to the carrier after the first refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_activate_rides_out_a_refused_read_before_sending_anyone_to_the_carrier(
) -> anyhow::Result<()> {
    use failsoft_testkit::fakes::genesys::EMERGENCY;
    use failsoft_testkit::fakes::http::Fault;
    let (m, table, g, secret, login) = overflow_world().await?;
    let env = operator_env(&g.server.url, &secret, &login);
    g.server.faults_in_turn(
        &format!("{EMERGENCY}/eg-1"),
        &[Fault::Status(503), Fault::Status(503)],
    );
    let out = failsoft_with(&m.url, &table, &env, &ACTIVATE)?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("SBC"),
        "nobody sent to the carrier"
    );
    assert_eq!(g.group("eg-1")["enabled"], true);
    Ok(())
}

/// Another switch holds the group's claim (Failsoft's automatic one, on a slow region)
/// for the whole of the command's budget: the operator is told a switch is under way
/// and where to see it, not sent to the carrier, and nothing is paged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overflow_activate_behind_another_switch_says_so_and_sends_nobody_to_the_carrier(
) -> anyhow::Result<()> {
    use failsoft::clock::Clock;
    let (m, table, g, secret, login) = overflow_world().await?;
    let mut env = operator_env(&g.server.url, &secret, &login);
    env.push(("OVERFLOW_SWITCH_TIMEOUT_S", "5"));
    let conf = failsoft_testkit::sdk_config(&m.url).await;
    let switches = failsoft::overflow::Switches {
        client: aws_sdk_dynamodb::Client::new(&conf),
        table: table.clone(),
    };
    let now = failsoft::clock::SystemClock.now_ms();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    switches
        .claim("outage-actions-1", now, now + 600_000, deadline)
        .await?;
    let out = failsoft_with(&m.url, &table, &env, &ACTIVATE)?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("under way (outage-actions-1)") && err.contains("failsoft overflow status"),
        "{err}"
    );
    assert!(!err.contains("SBC"), "nobody sent to the carrier: {err}");
    assert_eq!(g.group("eg-1")["enabled"], false);
    let store = DynamoBreakerStore::new(aws_sdk_dynamodb::Client::new(&conf), table.clone());
    let rec = store.load("genesys-api").await?;
    assert!(rec.outbox.is_empty(), "nothing paged: {:?}", rec.outbox);
    Ok(())
}

/// `failsoft context`: `stats` counts what is kept; `forget` refuses what is not a phone
/// number, asks first (no terminal and no `--yes`: nothing changes), then removes that
/// caller only; no output shows a full number.
#[tokio::test]
async fn context_forget_asks_first_and_removes_one_caller() -> anyhow::Result<()> {
    use failsoft::crm::last_known::{LastKnown, LastKnownConfig};
    use failsoft::crm::phone::normalise;
    let m = moto()?;
    let (_, table) = fresh_table(&m.url).await?;
    let ctx = failsoft_testkit::fresh_context_table(&m.url).await?;
    let secret = format!("ctx-{ctx}");
    let key = serde_json::json!({"hmacKey": "cli-context-key-0123456789abcdef0123456789"});
    failsoft_testkit::create_secret(&m.url, &secret, &key).await?;
    let clock = std::sync::Arc::new(failsoft::clock::SystemClock);
    let services = failsoft_testkit::services(&m.url, &table, clock.clone()).await;
    let env = |k: &str| match k {
        "CONTEXT_TABLE" => Some(ctx.clone()),
        "LAST_KNOWN_KEY_SECRET_ID" => Some(secret.clone()),
        _ => None,
    };
    let context = LastKnown {
        config: LastKnownConfig::for_operator(&env)?,
        dynamo: services.dynamo.clone(),
        secrets: services.secrets.clone(),
        clock,
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let (vip, std) = (normalise("+13175550123"), normalise("+13175550999"));
    let (Ok(vip), Ok(std)) = (vip, std) else {
        anyhow::bail!("test numbers do not normalise")
    };
    context.keep(&vip, "vip", None, deadline).await?;
    context.keep(&std, "standard", None, deadline).await?;
    let vars = [
        ("CONTEXT_TABLE", ctx.as_str()),
        ("LAST_KNOWN_KEY_SECRET_ID", secret.as_str()),
    ];
    let mut printed = String::new();
    let mut cli = |args: &[&str]| -> anyhow::Result<std::process::Output> {
        let out = failsoft_with(&m.url, &table, &vars, args)?;
        printed.push_str(&String::from_utf8_lossy(&out.stdout));
        printed.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(out)
    };
    let stats = |out: std::process::Output| -> anyhow::Result<Value> {
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    let before = stats(cli(&["context", "stats", "--json"])?)?;
    assert_eq!(before["kept"], 2, "{before}");
    assert_eq!(before["by_tier"]["vip"], 1, "{before}");

    let out = cli(&["context", "forget", "--ani", "tel:+1-not-a-number", "--yes"])?;
    assert!(!out.status.success(), "a non-number was accepted");
    let out = cli(&["context", "forget", "--ani", "+1 (317) 555-0123"])?;
    assert!(!out.status.success(), "forgot without confirmation");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not confirmed"));
    assert_eq!(stats(cli(&["context", "stats", "--json"])?)?["kept"], 2);

    let out = cli(&["context", "forget", "--ani", "+1 (317) 555-0123", "--yes"])?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"forgotten\":true"));
    let after = stats(cli(&["context", "stats", "--json"])?)?;
    assert_eq!(
        (after["kept"].clone(), after["by_tier"]["vip"].clone()),
        (1.into(), Value::Null)
    );
    assert!(context.read(&vip, deadline).await?.is_none());
    assert!(context.read(&std, deadline).await?.is_some());
    assert!(!printed.contains("3175550123"), "{printed}");
    Ok(())
}
