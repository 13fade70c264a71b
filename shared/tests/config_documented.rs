//! The docs/configuration.md and the code agree: every variable the code reads is
//! documented, and every documented one is read. Reads are recorded through the `Env`
//! port while every component's `Config::from_env` runs, in profiles that take each
//! branch; a scan of the sources catches reads outside those, and any `std::env` use
//! outside `config.rs`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use failsoft::alert::AlertConfig;
use failsoft::crm::CrmConfig;
use failsoft::dependency::Dependency;
use failsoft::health_check::HealthCheckConfig;
use failsoft::queues::MetricsConfig;
use failsoft::service::ServiceConfig;
use failsoft::token::TokenConfig;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Variables the AWS SDK reads itself; documented, never read through `Env`.
fn sdk_owned(var: &str) -> bool {
    var.starts_with("AWS_")
}

/// Every variable named in docs/configuration.md. Rows of the breaker
/// FIELD table stand for `BREAKER_<NAME>_<FIELD>` of every registered dependency.
fn documented() -> BTreeSet<String> {
    let section = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap_or_default();
    let mut out = BTreeSet::new();
    let mut fields = false;
    for line in section.lines() {
        if !line.starts_with('|') {
            fields = false;
            continue;
        }
        let first = line.split('|').nth(1).unwrap_or_default();
        if first.trim() == "FIELD" {
            fields = true;
            continue;
        }
        for var in first.split('`').skip(1).step_by(2) {
            if !var
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                continue;
            }
            if fields {
                for d in Dependency::ALL {
                    out.insert(failsoft::breaker::breaker_var(d.name(), var));
                }
            } else {
                out.insert(var.to_string());
            }
        }
    }
    out
}

/// Run every component's `from_env` over `set`, recording each variable asked for.
fn reads_with(set: &[(String, String)]) -> BTreeSet<String> {
    let seen = Mutex::new(BTreeSet::new());
    let env = |var: &str| {
        if let Ok(mut s) = seen.lock() {
            s.insert(var.to_string());
        }
        set.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone())
    };
    // Errors are fine here: what matters is which variables were asked for.
    let _ = ServiceConfig::from_env(&env);
    let _ = CrmConfig::from_env(&env);
    let _ = failsoft::crm::last_known::LastKnownConfig::from_env(&env);
    let _ = TokenConfig::from_env(&env);
    let _ = HealthCheckConfig::from_env(&env);
    let _ = MetricsConfig::from_env(&env);
    let _ = AlertConfig::from_env(&env);
    let _ = failsoft::campaign::CampaignConfig::from_env(&env);
    let _ = failsoft::writeback::target_from_env(&env);
    let _ = failsoft::writeback::settings_from_env(&env);
    let _ = failsoft::writeback::queue_urls(&env);
    let _ = failsoft::overflow::OverflowConfig::from_env(&env);
    let _ = failsoft::overflow::backup::BackupConfig::from_env(&env);
    let _ = failsoft::metrics::namespace_from(&env);
    let _ = failsoft::logging::filter_from(&env);
    for d in Dependency::ALL {
        let _ = d.breaker_config(&env);
    }
    seen.into_inner().unwrap_or_default()
}

/// The union of reads over profiles that take every branch: nothing set; everything set
/// with the rate policy; everything set with the consecutive policy and the old names.
fn read_by_code() -> BTreeSet<String> {
    let common: Vec<(String, String)> = [
        ("STATE_TABLE", "t"),
        ("CRM_SECRET_ID", "crm"),
        ("GENESYS_SECRET_ID", "genesys"),
        ("GENESYS_ENVIRONMENT", "mypurecloud.ie"),
        ("ALERT_SECRET_ID", "pd"),
        ("CAMPAIGN_PAUSE_ON", "crm,genesys-api"),
        ("WRITEBACK_QUEUE_URL", "https://sqs/q"),
        ("OVERFLOW_AUTO_ON", "genesys-api"),
        ("OVERFLOW_EMERGENCY_GROUP_ID", "eg-1"),
        ("BACKUP_GENESYS_ENVIRONMENT", "mypurecloud.com.au"),
        ("BACKUP_GENESYS_SECRET_ID", "backup"),
        ("BACKUP_FLOW_NAME", "Backup inbound"),
        ("BACKUP_DIDS", "+61290000000"),
        ("LAST_KNOWN_CONTEXT", "on"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let per_breaker = |pairs: &[(&str, &str)]| {
        let mut out = common.clone();
        for d in Dependency::ALL {
            for (f, v) in pairs {
                out.push((failsoft::breaker::breaker_var(d.name(), f), v.to_string()));
            }
        }
        out
    };
    let rate = per_breaker(&[
        ("POLICY", "rate"),
        ("SLOW_CALL_MS", "800"),
        ("BACKOFF_MULTIPLIER", "2"),
    ]);
    let consecutive = per_breaker(&[("POLICY", "consecutive")]);
    [reads_with(&[]), reads_with(&rate), reads_with(&consecutive)]
        .into_iter()
        .flatten()
        .collect()
}

/// Source files of the library, the functions and the operator CLI, with their text.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push((p.clone(), std::fs::read_to_string(&p).unwrap_or_default()));
            }
        }
    }
    let mut out = Vec::new();
    walk(&root().join("shared/src"), &mut out);
    walk(&root().join("functions"), &mut out);
    walk(&root().join("cli/src"), &mut out);
    out
}

/// Variable names passed as literals to the `Env` helpers anywhere in the sources.
fn named_in_sources() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (_, text) in sources() {
        for call in [
            "get(\"",
            "parsed(env, \"",
            "number(env, \"",
            "required(env, \"",
            "renamed(env, \"",
            // The operator CLI's `doctor` reads its own few through its context.
            "ctx.var(\"",
        ] {
            for piece in text.split(call).skip(1) {
                let mut names = vec![piece.split('"').next().unwrap_or_default()];
                if call.starts_with("renamed") {
                    names.push(piece.split('"').nth(2).unwrap_or_default());
                }
                for name in names {
                    let is_var = name.len() > 2
                        && name
                            .chars()
                            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                    if is_var {
                        out.insert(name.to_string());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_variable_the_code_reads_is_documented() {
    let docs = documented();
    assert!(docs.len() > 40, "docs/configuration.md's table not found");
    let read = read_by_code();
    let undocumented: Vec<_> = read.difference(&docs).collect();
    assert!(
        undocumented.is_empty(),
        "read but not in the docs/configuration.md: {undocumented:?}"
    );
    let named: Vec<_> = named_in_sources()
        .into_iter()
        .filter(|v| !docs.contains(v))
        .collect();
    assert!(
        named.is_empty(),
        "named in the sources but not in the docs/configuration.md: {named:?}"
    );
}

#[test]
fn every_documented_variable_is_read() {
    // What the components' readers ask for, and what the CLI's doctor reads by name.
    let mut read = read_by_code();
    read.extend(named_in_sources());
    let unread: Vec<_> = documented()
        .into_iter()
        .filter(|v| !sdk_owned(v) && !read.contains(v))
        .collect();
    assert!(unread.is_empty(), "documented but never read: {unread:?}");
}

#[test]
fn nothing_reads_the_process_environment_outside_config() {
    let offenders: Vec<_> = sources()
        .into_iter()
        .filter(|(p, text)| {
            !p.ends_with("shared/src/config.rs")
                && (text.contains("std::env::var") || text.contains("env::var("))
        })
        .map(|(p, _)| p)
        .collect();
    assert!(offenders.is_empty(), "std::env read in {offenders:?}");
}
