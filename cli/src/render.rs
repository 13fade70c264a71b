//! What people read: the CLI's tables and lines, from what the commands read. Pure, so
//! each command is its IO and one call here; `--json` prints the same data as read.

use failsoft::actions::{ActionView, Done};
use failsoft::breaker::Record;
use failsoft::campaign::ledger::Entry;
use failsoft::clock::{ago, iso8601, Millis};
use failsoft::overflow::{Group, Switch};
use failsoft::writeback::status::Status;
use serde_json::json;

/// A breaker for scripts (`breaker list --json`).
pub fn summary(r: &Record) -> serde_json::Value {
    json!({
        "name": r.name, "state": r.state, "generation": r.generation, "since_ms": r.since_ms,
        "failures": r.failures, "episode": r.episode, "last_error": r.last_error,
        "pending_alerts": r.outbox.len(),
    })
}

/// The breakers people read: one line each.
pub fn breakers(records: &[Record], now: Millis) -> String {
    let mut out = format!(
        "{:<18} {:<13} {:<14} {:>8} {:<9} {}\n",
        "BREAKER", "STATE", "SINCE", "FAILURES", "ALERTS", "LAST HEALTH CHECK"
    );
    for r in records {
        let check = match r.last_check {
            Some((at, ok)) => format!(
                "{} ({})",
                ago(now, at),
                if ok { "healthy" } else { "failed" }
            ),
            None => "—".into(),
        };
        out.push_str(&format!(
            "{:<18} {:<13} {:<14} {:>8} {:<9} {}\n",
            r.name,
            r.state.as_str(),
            ago(now, r.since_ms),
            r.failures,
            format!("{} pending", r.outbox.len()),
            check
        ));
    }
    out
}

/// `failsoft breaker show`: the line, then what else the record holds.
pub fn breaker(r: &Record, now: Millis) -> String {
    let mut out = breakers(std::slice::from_ref(r), now);
    if let Some(u) = r.forced_until {
        out.push_str(&format!("releases itself at {}\n", iso8601(u)));
    }
    if let Some(e) = &r.last_error {
        out.push_str(&format!("last error: {e}\n"));
    }
    if !r.outbox.is_empty() {
        out.push('\n');
        out.push_str(&entries(&failsoft::actions::views(r, now)));
    }
    out
}

/// Outbox entries, one line each, the one view of them (`breaker show`, `actions`): the
/// id is what `breaker prune-alert` takes.
pub fn entries(views: &[ActionView]) -> String {
    let mut out = format!(
        "{:<18} {:<22} {:<17} {:<12} {:>8}  {:<25} EPISODE\n",
        "BREAKER", "ID", "ACTION", "STATUS", "ATTEMPTS", "NEXT"
    );
    for v in views {
        out.push_str(&format!(
            "{:<18} {:<22} {:<17} {:<12} {:>8}  {:<25} {}\n",
            v.breaker, v.id, v.action, v.status, v.attempts, v.next_at, v.episode
        ));
    }
    if views.is_empty() {
        out.push_str("(no action pending)\n");
    }
    out
}

/// `failsoft actions`: what is pending, the last 20 done, and the campaigns held off.
pub fn actions(views: &[ActionView], done: &[Done], campaigns: &[Entry]) -> String {
    let mut out = entries(views);
    out.push_str(&format!(
        "\n{:<18} {:<17} {:<25} OUTCOME\n",
        "BREAKER", "DONE", "AT"
    ));
    for d in done.iter().take(20) {
        out.push_str(&format!(
            "{:<18} {:<17} {:<25} {}\n",
            d.breaker, d.action, d.at, d.outcome
        ));
    }
    if done.is_empty() {
        out.push_str("(nothing done yet)\n");
    }
    out.push_str(&format!(
        "\n{:<45} {:<9} {:<22} NOTE\n",
        "CAMPAIGN", "STAGE", "HELD BY"
    ));
    for e in campaigns {
        let holders: Vec<&str> = e.holds.keys().map(String::as_str).collect();
        out.push_str(&format!(
            "{:<45} {:<9} {:<22} {}\n",
            format!("{} {} ({})", e.kind.as_str(), e.name, e.id),
            e.stage.as_str(),
            holders.join(","),
            e.note.as_deref().unwrap_or("")
        ));
    }
    if campaigns.is_empty() {
        out.push_str("(no campaign held off)\n");
    }
    out
}

/// `failsoft writeback status`: the backlog, the DLQ and the CRM breakers.
pub fn writeback(status: &Status, breakers: &[(&str, &str)]) -> String {
    let n = |v: Option<u64>| v.map_or("unknown".to_string(), |v| v.to_string());
    let mut out = format!(
        "queue:        {} waiting ({} deferred or in a batch)\n",
        n(status.queued),
        n(status.in_flight)
    );
    out.push_str(&match status.oldest_age_s {
        Some(s) => format!(
            "oldest:       waited {s} s (the oldest crm-writeback knows to be waiting; its last batch {})\n",
            status.seen_at.as_deref().unwrap_or("never")
        ),
        None => "oldest:       unknown (crm-writeback has not reported a batch)\n".to_string(),
    });
    out.push_str(&format!("dead letters: {}\n", n(status.dlq)));
    for (name, state) in breakers {
        out.push_str(&format!("breaker:      {name:<14} {state}\n"));
    }
    for e in &status.errors {
        out.push_str(&format!("could not read: {e}\n"));
    }
    out
}

/// `failsoft overflow status`: the group as Genesys has it (or why it could not be
/// read), the last switch as the table has it, and the backup region's readiness.
pub fn overflow(
    group: &str,
    read: &Result<Group, String>,
    last: Option<&Switch>,
    record_error: Option<&str>,
    backup: Option<&serde_json::Value>,
    now: Millis,
) -> String {
    let mut out = String::new();
    match read {
        Ok(g) => {
            out.push_str(&format!(
                "group:       {} ({}), version {}\n",
                g.name, g.id, g.version
            ));
            let state = match g.enabled {
                true => "ACTIVE: calls go to the emergency flows",
                false => "not active",
            };
            out.push_str(&format!("state:       {state}\n"));
            out.push_str(&format!("flows:       {}\n", g.flows().join(", ")));
            let ivrs: Vec<String> = g.ivrs().into_iter().collect();
            out.push_str(&format!(
                "IVRs:        {} ({})\n",
                ivrs.len(),
                ivrs.join(", ")
            ));
        }
        Err(e) => out.push_str(&format!(
            "group:       {group}: could not be read from Genesys: {e}\n"
        )),
    }
    out.push_str(&match (last, record_error) {
        (Some(s), _) => format!(
            "last switch: {} by {} ({}), {}, {}: {}{}\n",
            if s.enabled { "enabled" } else { "disabled" },
            s.by,
            s.mode.as_str(),
            iso8601(s.at_ms),
            ago(now, s.at_ms),
            s.reason,
            s.note
                .as_deref()
                .map(|n| format!(" [{n}]"))
                .unwrap_or_default()
        ),
        (None, Some(e)) => format!("last switch: unknown (state table: {e})\n"),
        (None, None) => "last switch: never switched by Failsoft\n".to_string(),
    });
    match backup {
        Some(b) => out.push_str(&format!("{}\n", b["text"].as_str().unwrap_or_default())),
        None => out.push_str("Backup region: not checked (BACKUP_GENESYS_ENVIRONMENT not set)\n"),
    }
    out
}
