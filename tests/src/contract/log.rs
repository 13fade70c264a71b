//! What the vendor fakes saw, checked against the record as it happens: every request
//! our clients sent and every answer the fake gave. Kept in memory for this process
//! and, when `FAILSOFT_CONFORMANCE_DIR` is set (`scripts/test.sh` sets it), appended
//! to `<dir>/<pid>.jsonl`, so that one test can judge the whole suite afterwards.

use std::io::Write;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::{find, pagerduty, Vendor};
use crate::fakes::http::{Request, Response};

/// The environment variable naming the directory of the suite's logs.
pub const DIR_VAR: &str = "FAILSOFT_CONFORMANCE_DIR";

/// One exchange as judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub vendor: &'static str,
    /// The operation's name, or `METHOD path` when the record has none.
    pub operation: String,
    /// What does not conform, if anything.
    pub problem: Option<String>,
    /// Which side is at fault: `request` (our client) or `answer` (the fake).
    pub side: &'static str,
    /// The test that was running.
    pub test: String,
}

static SEEN: Mutex<Vec<Seen>> = Mutex::new(Vec::new());

/// Judge one exchange and keep the verdict.
pub fn note(vendor: Vendor, req: &Request, resp: &Response) {
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .to_string();
    let mut out = Vec::new();
    let op = find(vendor, &req.method, &req.path);
    let operation = op.map_or_else(|| format!("{} {}", req.method, req.path), |o| o.name.into());
    let mut push = |side: &'static str, problem: Option<String>| {
        out.push(Seen {
            vendor: vendor.as_str(),
            operation: operation.clone(),
            problem,
            side,
            test: test.clone(),
        })
    };
    match op {
        None => push("request", Some("not an operation in the record".into())),
        Some(op) => {
            let mut request = op.check_request(req).err();
            if request.is_none() && vendor == Vendor::PagerDuty {
                request = serde_json::from_str::<Value>(&req.body)
                    .ok()
                    .and_then(|v| pagerduty::limits(&v).err());
            }
            push("request", request);
            push("answer", op.check_response(resp).err());
        }
    }
    // One writer at a time in this process, and each verdict one whole line written
    // at once: the fakes answer from many tasks.
    let Ok(mut all) = SEEN.lock() else {
        return;
    };
    if let Ok(dir) = std::env::var(DIR_VAR) {
        let path = std::path::Path::new(&dir).join(format!("{}.jsonl", std::process::id()));
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let mut lines = String::new();
            for s in &out {
                let line = json!({"vendor": s.vendor, "operation": s.operation, "side": s.side,
                                  "problem": s.problem, "test": s.test});
                lines.push_str(&format!("{line}\n"));
            }
            let _ = f.write_all(lines.as_bytes());
        }
    }
    all.extend(out);
}

/// Everything judged in this process so far.
pub fn seen() -> Vec<Seen> {
    SEEN.lock().map(|s| s.clone()).unwrap_or_default()
}

/// The verdicts of the whole suite: every `*.jsonl` in `dir`.
pub fn read_dir(dir: &std::path::Path) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("jsonl") {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            // A line that is not a verdict is itself a problem, never skipped.
            let v = serde_json::from_str::<Value>(line).unwrap_or_else(
                |_| json!({"operation": "?", "problem": format!("unreadable log line: {line}")}),
            );
            out.push(v);
        }
    }
    Ok(out)
}
