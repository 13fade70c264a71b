//! The Genesys side as code (`infra/genesys/terraform/`, `infra/genesys/terraform/backup/`,
//! `infra/genesys/flows/`), checked without `terraform` or `archy`: against the
//! provider's recorded schema and Archy's recorded format, and against what Failsoft
//! itself sends and reads (the Data Action's export, the function's answer, the
//! permissions table, the stack's EventBridge rule, BACKUP_FLOW_NAME). Each check also
//! runs on a broken copy, to show that it can fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use failsoft::crm::lookup::{Answer, Reason};
use failsoft_testkit::contract::{archy as archy_record, genesys};
use failsoft_testkit::cx_as_code::archy::{self, Flow};
use failsoft_testkit::cx_as_code::terraform::{self, attr, json, Evaluated, Module};
use failsoft_testkit::cx_as_code::{example_vars, genesys_dir};
use serde_json::Value as Json;

fn primary() -> Module {
    Module::load(&genesys_dir().join("terraform")).unwrap_or_else(|e| panic!("{e}"))
}

fn backup() -> Module {
    Module::load(&genesys_dir().join("terraform/backup")).unwrap_or_else(|e| panic!("{e}"))
}

/// Every feature on, as a full deploy would apply it.
fn all_on() -> BTreeMap<String, hcl::Value> {
    let mut v = example_vars();
    for f in [
        "status_board",
        "campaign_pause",
        "regional_overflow",
        "writeback_events",
    ] {
        v.insert(f.into(), hcl::Value::Bool(true));
    }
    v.insert(
        "backup_did".into(),
        hcl::Value::String("+61290000000".into()),
    );
    v
}

fn export() -> Json {
    let text = std::fs::read_to_string(genesys_dir().join("crm-lookup.data-action.json"))
        .unwrap_or_default();
    serde_json::from_str(&text).unwrap_or_default()
}

/// A resource's evaluated value; a counted one's single instance.
fn value(ev: &Evaluated, address: &str) -> Json {
    let v = json(ev.resource(address).unwrap_or(&hcl::Value::Null));
    match v {
        Json::Array(mut a) if a.len() == 1 => a.remove(0),
        other => other,
    }
}

/// Parses a JSON string an argument holds (`jsonencode(...)` in the module).
fn decoded(v: &Json) -> Json {
    serde_json::from_str(v.as_str().unwrap_or("null")).unwrap_or_default()
}

#[test]
fn both_modules_match_the_providers_recorded_schema() {
    for m in [primary(), backup()] {
        let problems = terraform::schema_problems(&m, &all_on());
        assert!(problems.is_empty(), "{}: {problems:#?}", m.dir.display());
    }
}

#[test]
fn every_reference_and_variable_resolves() {
    for m in [primary(), backup()] {
        let problems = terraform::reference_problems(&m);
        assert!(problems.is_empty(), "{}: {problems:#?}", m.dir.display());
    }
}

/// The module's own text with one change, parsed as a module in its own directory.
fn mutated(dir: &Path, file: &str, from: &str, to: &str) -> Module {
    let mut text = String::new();
    let mut changed = false;
    for (name, mut t) in Module::files(dir).unwrap_or_else(|e| panic!("{e}")) {
        if name == file {
            assert!(t.contains(from), "{file} has no {from:?} to change");
            t = t.replacen(from, to, 1);
            changed = true;
        }
        text.push_str(&t);
        text.push('\n');
    }
    assert!(changed, "no file {file}");
    Module::parse(dir, &text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_argument_or_block_the_provider_does_not_have_fails_the_check() {
    let dir = genesys_dir().join("terraform");
    for (file, from, to, expect) in [
        (
            "data_action.tf",
            "config_timeout_seconds",
            "timeout_seconds",
            "timeout_seconds",
        ),
        (
            "data_action.tf",
            "config_request {",
            "request_config {",
            "request_config",
        ),
        (
            "oauth.tf",
            "authorized_grant_type",
            "grant_type",
            "grant_type",
        ),
        (
            "flows.tf",
            "ignore_changes = [enabled]",
            "ignore_changes = [enable]",
            "enable",
        ),
        ("versions.tf", "\"= 1.84.1\"", "\">= 1.84\"", "not pinned"),
        (
            "oauth.tf",
            "\"CLIENT-CREDENTIALS\"",
            "\"CLIENT_CREDENTIALS\"",
            "CLIENT_CREDENTIALS",
        ),
        (
            "data_action.tf",
            "resource \"genesyscloud_integration_action\"",
            "resource \"genesyscloud_data_action\"",
            "genesyscloud_data_action",
        ),
    ] {
        let problems = terraform::schema_problems(&mutated(&dir, file, from, to), &all_on());
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "{from} → {to} went unnoticed: {problems:#?}"
        );
    }
}

#[test]
fn a_reference_to_nothing_fails_the_check() {
    let dir = genesys_dir().join("terraform");
    for (file, from, to, expect) in [
        (
            "data_action.tf",
            "var.crm_lookup_function_arn",
            "var.crm_lookup_arn",
            "var.crm_lookup_arn",
        ),
        (
            "flows.tf",
            "genesyscloud_integration_action.crm_lookup.category",
            "genesyscloud_integration_action.crm_lookup.categories",
            "categories",
        ),
        (
            "flows.tf",
            "genesyscloud_flow.emergency[0].id",
            "genesyscloud_flow.emergency.id",
            "index it",
        ),
        (
            "oauth.tf",
            "local.campaign_divisions",
            "local.campaign_division",
            "local.campaign_division",
        ),
    ] {
        let problems = terraform::reference_problems(&mutated(&dir, file, from, to));
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "{from} → {to} went unnoticed: {problems:#?}"
        );
    }
}

#[test]
fn the_data_action_is_made_from_the_export_it_replaces() {
    let ev = Evaluated::new(&primary(), &all_on());
    let action = value(&ev, "genesyscloud_integration_action.crm_lookup");
    let export = export();
    assert_eq!(action["name"], export["name"]);
    assert_eq!(
        decoded(&action["contract_input"]),
        export["contract"]["input"]["inputSchema"]
    );
    assert_eq!(
        decoded(&action["contract_output"]),
        export["contract"]["output"]["successSchema"]
    );
    assert_eq!(action["config_timeout_seconds"], 3, "the guide's 3 s");
    assert_eq!(
        action["config_timeout_seconds"],
        export["config"]["timeoutSeconds"]
    );
    assert_eq!(action["secure"], export["secure"]);
    let request = &action["config_request"][0];
    // The export's URL is a placeholder; the module puts the stack's function there.
    assert_eq!(
        request["request_url_template"],
        example_vars()["crm_lookup_function_arn"]
            .as_str()
            .unwrap_or("?")
    );
    assert_eq!(request["request_type"], "POST");
    assert_eq!(request["request_template"], "${input.rawRequest}");
    let response = &action["config_response"][0];
    assert_eq!(response["success_template"], "${rawResult}");
    assert_eq!(response["translation_map"], serde_json::json!({}));

    let integration = value(&ev, "genesyscloud_integration.lambda");
    assert_eq!(integration["integration_type"], export["integrationType"]);
    assert_eq!(integration["intended_state"], "ENABLED");
    assert_eq!(action["category"], integration["config"][0]["name"]);
    // The key Genesys's own module (GenesysCloudDevOps/integration-lambda-module) uses.
    assert_eq!(
        integration["config"][0]["credentials"],
        serde_json::json!({"AmazonWebServicesARN": "<genesyscloud_integration_credential.lambda.id>"})
    );
    let credential = value(&ev, "genesyscloud_integration_credential.lambda");
    assert_eq!(credential["credential_type_name"], "amazonWebServicesARN");
    assert_eq!(
        credential["fields"]["ARN"],
        example_vars()["genesys_invoke_role_arn"]
            .as_str()
            .unwrap_or("?")
    );
}

/// docs/deploy.md's permission table under `heading`: permission → what it is for.
fn permissions_table(heading: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(failsoft_testkit::workspace_root().join("docs/deploy.md"))
        .unwrap_or_default();
    text.lines()
        .skip_while(|l| l.trim() != heading)
        .skip(1)
        .take_while(|l| !l.starts_with("##"))
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            Some((
                cells.get(1)?.trim_matches('`').to_string(),
                cells.get(2)?.to_string(),
            ))
        })
        .collect()
}

/// What an auth role grants, as `domain:entity:action` strings.
fn granted(role: &Json) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in role["permission_policies"].as_array().into_iter().flatten() {
        for a in p["action_set"].as_array().into_iter().flatten() {
            out.insert(format!(
                "{}:{}:{}",
                p["domain"].as_str().unwrap_or("?"),
                p["entity_name"].as_str().unwrap_or("?"),
                a.as_str().unwrap_or("?")
            ));
        }
    }
    out
}

#[test]
fn each_role_grants_exactly_what_the_permissions_table_lists_for_its_feature() {
    let table = permissions_table("### Genesys: main OAuth client");
    assert_eq!(table.len(), genesys::MAIN_CLIENT.len(), "{table:?}");
    let ev = Evaluated::new(&primary(), &all_on());
    let mut union = BTreeSet::new();
    for (role, feature) in [
        ("status_board", "the status board"),
        ("campaign_pause", "the campaign pause"),
        ("regional_overflow", "regional overflow"),
    ] {
        let listed: BTreeSet<String> = table
            .iter()
            .filter(|(_, what)| what.starts_with(feature))
            .map(|(p, _)| p.clone())
            .collect();
        assert!(!listed.is_empty(), "no row for {feature}");
        let got = granted(&value(&ev, &format!("genesyscloud_auth_role.{role}")));
        assert_eq!(got, listed, "role {role}");
        union.extend(got);
    }
    let fakes: BTreeSet<String> = genesys::MAIN_CLIENT.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        union, fakes,
        "the roles together are the fakes' main client"
    );

    let backup_table: BTreeSet<String> =
        permissions_table("### Genesys: backup region's client (read-only)")
            .into_iter()
            .map(|(p, _)| p)
            .collect();
    let ev = Evaluated::new(&backup(), &example_vars());
    let got = granted(&value(&ev, "genesyscloud_auth_role.readiness"));
    assert_eq!(got, backup_table);
    let fakes: BTreeSet<String> = genesys::BACKUP_CLIENT
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(got, fakes);
}

#[test]
fn a_feature_that_is_off_grants_nothing_and_one_that_is_on_is_in_the_client() {
    let m = primary();
    for (role, flag) in [
        ("status_board", "status_board"),
        ("campaign_pause", "campaign_pause"),
        ("regional_overflow", "regional_overflow"),
    ] {
        for on in [false, true] {
            let mut vars = all_on();
            vars.insert(flag.into(), hcl::Value::Bool(on));
            let ev = Evaluated::new(&m, &vars);
            let body = m
                .resource("genesyscloud_auth_role", role)
                .unwrap_or_else(|| panic!("{role}"));
            let count = attr(body, "count").map(|c| ev.eval(c));
            assert_eq!(
                count,
                Some(Ok(hcl::Value::from(u64::from(on)))),
                "{role} with {flag}={on}"
            );
        }
    }
    // The client's grants: one `roles` per enabled feature, the campaign pause's once per
    // division of its campaigns.
    let client = m
        .resource("genesyscloud_oauth_client", "fleet")
        .unwrap_or_else(|| panic!("fleet"));
    let mut vars = all_on();
    vars.insert(
        "campaign_division_ids".into(),
        hcl::Value::Array(vec!["d-1".into(), "d-2".into()]),
    );
    let ev = Evaluated::new(&m, &vars);
    let mut grants = 0;
    for b in client
        .blocks()
        .filter(|b| b.identifier.as_str() == "dynamic")
    {
        let each = attr(&b.body, "for_each").map(|e| ev.eval(e));
        if let Some(Ok(hcl::Value::Array(items))) = each {
            grants += items.len();
        }
    }
    assert_eq!(grants, 4, "board, pause in two divisions, overflow");
    assert_eq!(
        value(&ev, "genesyscloud_oauth_client.fleet")["authorized_grant_type"],
        "CLIENT-CREDENTIALS"
    );
}

#[test]
fn the_eventbridge_integration_sends_the_one_topic_the_stack_matches() {
    let template =
        std::fs::read_to_string(failsoft_testkit::workspace_root().join("infra/template.yaml"))
            .unwrap_or_default();
    // The stack's WritebackRule: `detail-type: ["<topic>"]`.
    let rule_topics: Vec<String> = template
        .lines()
        .skip_while(|l| !l.starts_with("  WritebackRule:"))
        .find(|l| l.trim_start().starts_with("detail-type:"))
        .and_then(|l| l.split_once(':').map(|(_, v)| v.trim().to_string()))
        .and_then(|v| serde_json::from_str(&v).ok())
        .unwrap_or_default();
    assert_eq!(rule_topics.len(), 1, "{rule_topics:?}");
    let ev = Evaluated::new(&primary(), &all_on());
    let eb = value(&ev, "genesyscloud_integration.eventbridge");
    assert_eq!(eb["integration_type"], "amazon-eventbridge-source");
    let props = decoded(&eb["config"][0]["properties"]);
    assert_eq!(props["eventFilter"], serde_json::json!(rule_topics));
    assert_eq!(props["awsAccountId"], "123456789012");
    assert_eq!(props["eventSourceSuffix"], "failsoft-acw");

    let m = primary();
    let outputs = m.outputs();
    let source = attr(outputs["event_source_name"], "value").map(|e| ev.eval(e));
    assert_eq!(
        source,
        Some(Ok(hcl::Value::String(
            "aws.partner/genesys.com/cloud/7d2e5f3a-0000-4000-8000-00000000c0de/failsoft-acw"
                .into()
        )))
    );
}

#[test]
fn the_emergency_group_starts_off_and_an_apply_never_switches_it_back() {
    let m = primary();
    let ev = Evaluated::new(&m, &all_on());
    let group = value(&ev, "genesyscloud_architect_emergencygroup.overflow");
    assert_eq!(group["enabled"], false);
    assert_eq!(
        group["emergency_call_flows"][0]["emergency_flow_id"],
        "<genesyscloud_flow.emergency.id>"
    );
    // Its id is the stack's OverflowEmergencyGroupId.
    let id = attr(m.outputs()["emergency_group_id"], "value").map(|e| ev.eval(e));
    assert_eq!(
        id,
        Some(Ok(hcl::Value::String(
            "<genesyscloud_architect_emergencygroup.overflow.id>".into()
        )))
    );
    let body = m
        .resource("genesyscloud_architect_emergencygroup", "overflow")
        .unwrap_or_else(|| panic!("overflow"));
    let ignored: Vec<String> = body
        .blocks()
        .filter(|b| b.identifier.as_str() == "lifecycle")
        .filter_map(|b| attr(&b.body, "ignore_changes"))
        .map(|e| e.to_string())
        .collect();
    assert!(
        ignored.iter().any(|i| i.contains("enabled")),
        "Failsoft switches `enabled` in an outage; the module must leave it: {ignored:?}"
    );
}

/// Each flow a module publishes: `(resource, flow)`, substituted as the provider would.
fn flows(
    m: &Module,
    vars: &BTreeMap<String, hcl::Value>,
) -> Vec<(String, Result<Flow, Vec<String>>)> {
    let ev = Evaluated::new(m, vars);
    m.resources()
        .into_iter()
        .filter(|(t, _, _)| t == "genesyscloud_flow")
        .map(|(_, name, _)| {
            let v = value(&ev, &format!("genesyscloud_flow.{name}"));
            let path = v["filepath"].as_str().unwrap_or("").to_string();
            let subs: BTreeMap<String, String> = v["substitutions"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect();
            let flow = std::fs::read_to_string(&path)
                .map_err(|e| vec![format!("{path}: {e}")])
                .and_then(|text| archy::substitute(&text, &subs))
                .and_then(|text| Flow::parse(&path, &text).map_err(|e| vec![e]));
            (name, flow)
        })
        .collect()
}

fn flow(m: &Module, vars: &BTreeMap<String, hcl::Value>, name: &str) -> Flow {
    flows(m, vars)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, f)| f.unwrap_or_else(|e| panic!("{name}: {e:#?}")))
        .unwrap_or_else(|| panic!("no flow {name}"))
}

#[test]
fn every_flow_follows_archys_recorded_format_with_every_substitution_filled() {
    let mut seen = 0;
    for (m, vars) in [(primary(), all_on()), (backup(), example_vars())] {
        for (name, f) in flows(&m, &vars) {
            let f = f.unwrap_or_else(|e| panic!("{name}: {e:#?}"));
            let problems = archy::structure_problems(&f);
            assert!(problems.is_empty(), "{name}: {problems:#?}");
            seen += 1;
        }
    }
    assert_eq!(seen, 3, "inbound, emergency, backup");
}

#[test]
fn a_flow_that_departs_from_archys_format_fails_the_check() {
    for (from, to, expect) in [
        ("- transferToAcd:", "- transferToQueue:", "transferToQueue"),
        ("targetQueue:", "queue:", "`targetQueue` is required"),
        (
            "                timeout:\n",
            "                late:\n",
            "late",
        ),
        (
            "startUpRef: \"/inboundCall/tasks/task[lookup]\"",
            "startUpRef: \"/inboundCall/tasks/task[look]\"",
            "names no task",
        ),
        (
            "var: Task.contextAgeS",
            "var: Task.contextAge",
            "Task.contextAge is not declared",
        ),
        (
            "- boolean:\n                              variable: Task.dataActionFailed",
            "- string:\n                              variable: Task.dataActionFailed",
            "a string statement assigns",
        ),
    ] {
        let problems = archy::structure_problems(&broken_inbound(from, to));
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "{from:?} → {to:?} went unnoticed: {problems:#?}"
        );
    }
}

/// The fields of the function's answer, as Genesys receives them.
fn answer_fields() -> BTreeSet<String> {
    let a = serde_json::to_value(Answer::unknown(true, Reason::Timeout)).unwrap_or_default();
    a.as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.clone())
        .collect()
}

/// Failsoft's names in a flow: the participant data keys must be fields the function
/// returns, so that a queue flow or script reading one finds it.
fn participant_data_problems(f: &Flow) -> Vec<String> {
    let fields = answer_fields();
    f.participant_data()
        .into_iter()
        .filter(|(k, _)| !fields.contains(k))
        .map(|(k, _)| {
            format!(
                "{}: participant data key {k} is not a field crm-lookup returns",
                f.file
            )
        })
        .collect()
}

/// The inbound flow's Data Action call against the export's contract and Terraform's
/// action: its name, its inputs, its outputs and the variables they land in.
fn data_action_problems(f: &Flow, ev: &Evaluated) -> Vec<String> {
    let mut out = Vec::new();
    let export = export();
    let action = value(ev, "genesyscloud_integration_action.crm_lookup");
    let input = &export["contract"]["input"]["inputSchema"];
    let output = &export["contract"]["output"]["successSchema"];
    let vars = f.variables();
    let calls = f.data_actions();
    if calls.len() != 1 {
        out.push(format!(
            "{} calls {} Data Actions, not one",
            f.file,
            calls.len()
        ));
    }
    for c in calls {
        if Some(c.name.as_str()) != action["name"].as_str() {
            out.push(format!(
                "calls {:?}, not the module's {}",
                c.name, action["name"]
            ));
        }
        if Some(c.category.as_str()) != action["category"].as_str() {
            out.push(format!(
                "category {:?}, not the module's {}",
                c.category, action["category"]
            ));
        }
        for i in &c.inputs {
            if input["properties"].get(i).is_none() {
                out.push(format!("input {i} is not in the contract"));
            }
        }
        for r in input["required"].as_array().into_iter().flatten() {
            if !r.as_str().is_some_and(|r| c.inputs.contains(r)) {
                out.push(format!("required input {r} is not given"));
            }
        }
        for (field, var) in &c.outputs {
            let ty = output["properties"][field]["type"].as_str();
            let Some(ty) = ty else {
                out.push(format!("output {field} is not in the contract"));
                continue;
            };
            let want = archy_record::VARIABLE_TYPES
                .iter()
                .find(|(_, t)| *t == ty)
                .map(|(v, _)| *v);
            if vars.get(var).map(String::as_str) != want {
                out.push(format!(
                    "output {field} ({ty}) lands in {var}, a {:?}",
                    vars.get(var)
                ));
            }
        }
        for path in ["failure", "timeout"] {
            if !c.paths.contains(path) {
                out.push(format!("the call has no {path} path"));
            }
        }
    }
    out
}

#[test]
fn the_inbound_flow_calls_the_action_terraform_makes_as_its_contract_says() {
    let m = primary();
    let ev = Evaluated::new(&m, &all_on());
    let inbound = flow(&m, &all_on(), "inbound");
    let problems = data_action_problems(&inbound, &ev);
    assert!(problems.is_empty(), "{problems:#?}");
    // The outputs it keeps are the ones routing and the agent need.
    let call = &inbound.data_actions()[0];
    for needed in [
        "accountTier",
        "dataActionFailed",
        "customerName",
        "contextSource",
    ] {
        assert!(call.outputs.contains_key(needed), "{needed}");
    }
}

#[test]
fn a_renamed_output_or_input_of_the_data_action_fails_the_check() {
    let ev = Evaluated::new(&primary(), &all_on());
    for (from, to, expect) in [
        (
            "                        accountTier:\n",
            "                        tier:\n",
            "output tier is not in the contract",
        ),
        ("ani:\n", "caller:\n", "input caller"),
        (
            "- integerVariable:\n              name: Task.contextAgeS",
            "- stringVariable:\n              name: Task.contextAgeS",
            "contextAgeS (integer)",
        ),
        (
            "\"{{data_action_name}}\":",
            "\"Failsoft CRM Lookup\":",
            "not the module's",
        ),
    ] {
        let problems = data_action_problems(&broken_inbound(from, to), &ev);
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "{from:?} → {to:?} went unnoticed: {problems:#?}"
        );
    }
}

fn flow_subs(ev: &Evaluated, name: &str) -> BTreeMap<String, String> {
    value(ev, &format!("genesyscloud_flow.{name}"))["substitutions"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
        .collect()
}

/// `flows/inbound.yaml` with one change, filled as the module fills it (leniently: a
/// change may remove a placeholder on purpose).
fn broken_inbound(from: &str, to: &str) -> Flow {
    let text =
        std::fs::read_to_string(genesys_dir().join("flows/inbound.yaml")).unwrap_or_default();
    assert!(text.contains(from), "inbound.yaml has no {from:?}");
    let ev = Evaluated::new(&primary(), &all_on());
    let filled = flow_subs(&ev, "inbound")
        .iter()
        .fold(text.replacen(from, to, 1), |t, (k, v)| {
            t.replace(&format!("{{{{{k}}}}}"), v)
        });
    Flow::parse("inbound.yaml", &filled).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn participant_data_keys_are_fields_the_function_returns() {
    let mut keys = BTreeSet::new();
    for (m, vars) in [(primary(), all_on()), (backup(), example_vars())] {
        for (name, f) in flows(&m, &vars) {
            let f = f.unwrap_or_else(|e| panic!("{name}: {e:#?}"));
            let problems = participant_data_problems(&f);
            assert!(problems.is_empty(), "{problems:#?}");
            keys.extend(f.participant_data().into_iter().map(|(k, _)| k));
        }
    }
    for k in [
        "customerName",
        "accountTier",
        "dataActionFailed",
        "contextSource",
    ] {
        assert!(keys.contains(k), "{k} is set by no flow");
    }
    // A key the function does not return fails.
    let f = broken_inbound("lit: accountTier", "lit: customerTier");
    let problems = participant_data_problems(&f);
    assert!(
        problems.iter().any(|p| p.contains("customerTier")),
        "{problems:#?}"
    );
}

/// architect-flow.md's message for a degraded lookup (the guide's wording).
fn guide_message() -> String {
    let text = std::fs::read_to_string(genesys_dir().join("architect-flow.md")).unwrap_or_default();
    text.split("**\"")
        .nth(1)
        .and_then(|s| s.split("\"**").next())
        .unwrap_or("")
        .replace('\n', " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_path_of_the_inbound_flow_reaches_a_queue_and_a_degraded_one_hears_the_guides_message() {
    let vars = all_on();
    let f = flow(&primary(), &vars, "inbound");
    let message = guide_message();
    assert!(message.starts_with("Please stay on the line."), "{message}");
    // Degraded: a decision on dataActionFailed whose yes path plays the message.
    let degraded = f
        .actions_of("decision")
        .into_iter()
        .find(|d| d["condition"]["exp"].as_str() == Some("Task.dataActionFailed"))
        .unwrap_or_else(|| panic!("no decision on Task.dataActionFailed"));
    let said = serde_yaml::to_string(&degraded["outputs"]["yes"]).unwrap_or_default();
    assert!(said.contains(&message), "{said}");
    // Failure and timeout mark the caller degraded, so the same decision speaks to them.
    let call = f.actions_of("callData")[0];
    for path in ["failure", "timeout"] {
        let text = serde_yaml::to_string(&call["outputs"][path]).unwrap_or_default();
        assert!(
            text.contains("variable: Task.dataActionFailed") && text.contains("lit: true"),
            "{path}: {text}"
        );
    }
    // VIP by the tier Failsoft answers, then the standard queue for everyone else, and
    // for a VIP whose transfer failed.
    let vip = f
        .actions_of("decision")
        .into_iter()
        .find(|d| d["condition"]["exp"].as_str() == Some("Task.accountTier == \"vip\""));
    assert!(vip.is_some(), "no VIP decision on the tier \"vip\"");
    assert_eq!(
        f.queues(),
        vec!["VIP Queue".to_string(), "Support Queue".to_string()]
    );
    let (_, root) = f.root().unwrap_or_else(|| panic!("no flow"));
    let top: Vec<String> = root["tasks"][0]["task"]["actions"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_mapping()?.keys().next()?.as_str().map(str::to_string))
        .collect();
    assert_eq!(
        top,
        [
            "callData",
            "setParticipantData",
            "decision",
            "decision",
            "transferToAcd",
            "playAudio",
            "disconnect"
        ]
    );
}

#[test]
fn the_backup_and_emergency_flows_call_no_data_action_and_the_backup_is_what_backup_flow_name_checks(
) {
    let emergency = flow(&primary(), &all_on(), "emergency");
    let m = backup();
    let backup_flow = flow(&m, &example_vars(), "backup");
    for f in [&emergency, &backup_flow] {
        assert!(
            f.actions_of("callData").is_empty(),
            "{}: the guide: no Data Actions",
            f.file
        );
        assert!(
            !f.actions_of("transferToAcd").is_empty(),
            "{} reaches a queue",
            f.file
        );
    }
    assert_eq!(
        emergency.actions_of("transferToNumber")[0]["targetNumber"]["lit"].as_str(),
        Some("+61290000000")
    );
    // The name the backup org's module outputs for BackupFlowName is the flow's name,
    // which Failsoft's readiness looks up as an inbound call flow.
    let ev = Evaluated::new(&m, &example_vars());
    let out = attr(m.outputs()["backup_flow_name"], "value").map(|e| ev.eval(e));
    let name = backup_flow.name().unwrap_or_default().to_string();
    assert_eq!(out, Some(Ok(hcl::Value::String(name.clone()))));
    let (kind, _) = backup_flow.root().unwrap_or_else(|| panic!("no flow"));
    let api_type = archy_record::FLOW_TYPES
        .iter()
        .find(|t| t.key == kind)
        .map(|t| t.api_type);
    assert_eq!(
        api_type,
        Some("inboundcall"),
        "readiness lists flows of type inboundcall"
    );
    let env = |k: &str| match k {
        "BACKUP_GENESYS_ENVIRONMENT" => Some("mypurecloud.com.au".to_string()),
        "BACKUP_FLOW_NAME" => Some(name.clone()),
        "BACKUP_GENESYS_SECRET_ID" => Some("failsoft/genesys-backup".to_string()),
        _ => None,
    };
    let config = failsoft::overflow::backup::BackupConfig::from_env(&env);
    assert_eq!(
        config.ok().flatten().and_then(|c| c.flow),
        Some(name.clone())
    );
    // The DIDs readiness checks are routed to this flow.
    let mut vars = example_vars();
    vars.insert(
        "backup_dids".into(),
        hcl::Value::Array(vec!["+61290000000".into()]),
    );
    let ev = Evaluated::new(&m, &vars);
    let ivr = value(&ev, "genesyscloud_architect_ivr.backup");
    assert_eq!(ivr["dnis"], serde_json::json!(["+61290000000"]));
    assert_eq!(ivr["open_hours_flow_id"], "<genesyscloud_flow.backup.id>");
}
