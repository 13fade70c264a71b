//! The record of the vendors' definitions (`failsoft_testkit::contract`), and the suite
//! judged against it: every request our clients sent to a vendor fake, and every answer
//! a fake gave, during the whole suite, conforms to the record. `scripts/test.sh` runs
//! the suite with `FAILSOFT_CONFORMANCE_DIR` set, then the ignored test below over it.

use std::collections::BTreeSet;
use std::path::Path;

use failsoft_testkit::contract::{self, genesys, log, Perms, Vendor};
use failsoft_testkit::fakes::genesys::{FakeGenesys, VOICE};
use failsoft_testkit::fakes::http::Response;
use serde_json::{json, Value};

/// Operations the record keeps that Failsoft does not call: the DID list needs
/// `telephony:plugin:all`, so the backup's readiness reads IVR configurations instead.
const NOT_CALLED: &[&str] = &["TelephonyProvidersEdgeApi.get_telephony_providers_edges_dids"];

#[test]
fn every_operation_has_a_source_a_success_and_its_permission() {
    let all: Vec<_> = contract::all().collect();
    let count = |v: Vendor| all.iter().filter(|(x, _)| *x == v).count();
    println!(
        "the record: {} operations (Genesys {}, Salesforce {}, PagerDuty {})",
        all.len(),
        count(Vendor::Genesys),
        count(Vendor::Salesforce),
        count(Vendor::PagerDuty)
    );
    assert!(all.len() >= 20, "{}", all.len());
    for (vendor, op) in &all {
        assert!(!op.source.trim().is_empty(), "{}: no source", op.name);
        assert!(op.path.starts_with('/'), "{}", op.name);
        assert!(
            op.answers.iter().any(|a| (200..300).contains(&a.status)),
            "{}: no success",
            op.name
        );
        // Every Genesys API call but the token and the date needs a permission.
        if *vendor == Vendor::Genesys
            && op.path.starts_with("/api/v2/")
            && op.path != "/api/v2/date"
        {
            assert_ne!(op.permissions, Perms::None, "{}", op.name);
        }
    }
    // docs/deploy.md's grants cover every Genesys call Failsoft makes with each client.
    for op in genesys::OPERATIONS {
        if NOT_CALLED.contains(&op.name) || op.path == "/oauth/token" {
            continue;
        }
        let main = op.permissions.allows(genesys::MAIN_CLIENT);
        let backup = op.permissions.allows(genesys::BACKUP_CLIENT);
        assert!(main || backup, "{}: granted to no client", op.name);
    }
    assert!(
        !Perms::Any(&["telephony:plugin:all"]).allows(genesys::BACKUP_CLIENT),
        "the backup client stays read-only"
    );
}

/// Every Genesys path the code names is an operation of the record: a new call cannot
/// go unrecorded.
#[test]
fn every_genesys_path_in_the_code_is_in_the_record() -> anyhow::Result<()> {
    let root = failsoft_testkit::workspace_root().join("shared/src");
    let mut paths = BTreeSet::new();
    collect_paths(&root, &mut paths)?;
    assert!(paths.len() >= 6, "{paths:?}");
    for p in &paths {
        let path = p.split('?').next().unwrap_or_default();
        let known = genesys::OPERATIONS
            .iter()
            .any(|op| op.path == path || op.path.starts_with(&format!("{path}/")));
        assert!(known, "{p}: not in the record");
    }
    Ok(())
}

fn collect_paths(dir: &Path, out: &mut BTreeSet<String>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_paths(&path, out)?;
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            let text = std::fs::read_to_string(&path)?;
            for part in text.split('"').skip(1).step_by(2) {
                if let Some(rest) = part.strip_prefix("/api/v2/") {
                    let clean: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '_')
                        .collect();
                    out.insert(format!("/api/v2/{}", clean.trim_end_matches('/')));
                }
            }
        }
    }
    Ok(())
}

/// What the mutation check does by hand, done here too: a fake's field changed in type,
/// or a permission dropped from the client's grant, and the record's check fails.
#[tokio::test]
async fn a_changed_field_type_or_a_dropped_permission_is_caught() -> anyhow::Result<()> {
    let g = FakeGenesys::start().await?;
    g.add(VOICE, "c-1", "Renewals", "on", "d1");
    let op = contract::find(Vendor::Genesys, "GET", &format!("{VOICE}/c-1"))
        .ok_or_else(|| anyhow::anyhow!("no operation"))?;
    let good = g.campaign(VOICE, "c-1");
    let answer = |v: &Value| Response::json(200, v);
    assert_eq!(op.check_response(&answer(&good)), Ok(()));
    let mut bad = good.clone();
    bad["version"] = json!("1");
    let caught = op.check_response(&answer(&bad));
    assert!(
        caught.as_ref().is_err_and(|e| e.contains("version")),
        "{caught:?}"
    );
    let mut bad = good.clone();
    bad["campaignStatus"] = json!("paused");
    assert!(op.check_response(&answer(&bad)).is_err());

    // The grant: what docs/deploy.md lists works; one permission less is refused, named.
    let http = reqwest::Client::new();
    let get = || {
        http.get(format!("{}{VOICE}/c-1", g.server.url))
            .bearer_auth("gc-token")
            .send()
    };
    assert_eq!(get().await?.status().as_u16(), 200);
    g.revoke("outbound:campaign:view");
    let refused = get().await?;
    assert_eq!(refused.status().as_u16(), 403);
    let body: Value = refused.json().await?;
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("outbound:campaign:view")),
        "{body}"
    );
    // And the exchange was judged as it happened.
    let seen = log::seen();
    assert!(
        seen.iter()
            .any(|s| s.operation == "OutboundApi.get_outbound_campaign" && s.problem.is_none()),
        "{seen:?}"
    );
    Ok(())
}

/// The whole suite, judged: run by `scripts/test.sh` after every other test, over the
/// logs the fakes wrote (`FAILSOFT_CONFORMANCE_DIR`).
#[test]
#[ignore = "run by scripts/test.sh after the suite, over its logs"]
fn every_request_and_answer_of_the_suite_conforms() -> anyhow::Result<()> {
    let dir = std::env::var(log::DIR_VAR)
        .map_err(|_| anyhow::anyhow!("{} is not set: run scripts/test.sh", log::DIR_VAR))?;
    let lines = log::read_dir(Path::new(&dir))?;
    let problems: Vec<&Value> = lines.iter().filter(|l| !l["problem"].is_null()).collect();
    let mut by_op: BTreeSet<String> = BTreeSet::new();
    for l in &lines {
        by_op.insert(l["operation"].as_str().unwrap_or_default().to_string());
    }
    println!(
        "{} exchanges judged over {} operations; {} problems",
        lines.len() / 2,
        by_op.len(),
        problems.len()
    );
    for p in problems.iter().take(20) {
        println!("  {p}");
    }
    assert!(
        problems.is_empty(),
        "{} exchanges do not conform",
        problems.len()
    );
    let missing: Vec<&str> = contract::all()
        .map(|(_, op)| op.name)
        .filter(|n| !NOT_CALLED.contains(n) && !by_op.contains(*n))
        .collect();
    assert!(
        missing.is_empty(),
        "operations the suite never exercised against a fake: {missing:?}"
    );
    Ok(())
}

/// The rows of the table in docs/deploy.md under `heading`: the first cell's backticked
/// names.
fn deploy_table(heading: &str) -> anyhow::Result<Vec<String>> {
    let readme =
        std::fs::read_to_string(failsoft_testkit::workspace_root().join("docs/deploy.md"))?;
    let section = readme
        .split(heading)
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("no {heading:?} in docs/deploy.md"))?;
    let mut out = Vec::new();
    for line in section.lines().skip_while(|l| !l.starts_with('|')) {
        if !line.starts_with('|') {
            break;
        }
        let first = line.split('|').nth(1).unwrap_or_default().trim();
        if let Some(name) = first.strip_prefix('`').and_then(|f| f.strip_suffix('`')) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// Each test client is granted exactly what docs/deploy.md says its client needs: the
/// doc cannot promise less than the code calls for, nor the tests grant more.
#[test]
fn the_deploy_doc_lists_exactly_what_each_genesys_client_is_granted() -> anyhow::Result<()> {
    for (heading, grant) in [
        ("### Genesys: main OAuth client", genesys::MAIN_CLIENT),
        (
            "### Genesys: backup region's client",
            genesys::BACKUP_CLIENT,
        ),
    ] {
        let mut listed = deploy_table(heading)?;
        listed.sort();
        let mut granted: Vec<String> = grant.iter().map(|p| p.to_string()).collect();
        granted.sort();
        assert_eq!(listed, granted, "{heading}");
    }
    Ok(())
}
