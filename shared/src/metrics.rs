//! CloudWatch metrics as Embedded Metric Format lines on stdout.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::config::{Env, ProcessEnv};

pub const DEFAULT_NAMESPACE: &str = "Failsoft";

#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
}

pub fn count(name: &'static str, value: f64) -> Metric {
    Metric {
        name,
        value,
        unit: "Count",
    }
}

pub fn millis(name: &'static str, value: f64) -> Metric {
    Metric {
        name,
        value,
        unit: "Milliseconds",
    }
}

/// The CloudWatch namespace: `METRICS_NAMESPACE`, read once.
fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| namespace_from(&ProcessEnv))
}

pub fn namespace_from(env: &impl Env) -> String {
    env.get("METRICS_NAMESPACE")
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// One EMF document: the dimension values as top-level keys, one dimension set.
pub fn format(
    namespace: &str,
    timestamp_ms: i64,
    dimensions: &[(&str, &str)],
    metrics: &[Metric],
) -> String {
    let mut root = Map::new();
    for (k, v) in dimensions {
        root.insert((*k).to_string(), Value::String((*v).to_string()));
    }
    for m in metrics {
        root.insert(m.name.to_string(), json!(m.value));
    }
    let dims: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let defs: Vec<Value> = metrics
        .iter()
        .map(|m| json!({"Name": m.name, "Unit": m.unit}))
        .collect();
    root.insert(
        "_aws".to_string(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": namespace, "Dimensions": [dims], "Metrics": defs}]
        }),
    );
    Value::Object(root).to_string()
}

/// Where EMF lines go: stdout in a Lambda (CloudWatch reads them there); a command-line
/// tool whose stdout is its answer sends them to stderr instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    Stdout = 0,
    Stderr = 1,
    /// Nowhere: an operator's terminal.
    Off = 2,
}

static SINK: AtomicU8 = AtomicU8::new(Sink::Stdout as u8);

pub fn set_sink(sink: Sink) {
    SINK.store(sink as u8, Ordering::Relaxed);
}

/// Write one EMF line. Metrics are best effort: a closed stream is ignored.
pub fn emit(dimensions: &[(&str, &str)], metrics: &[Metric]) {
    let sink = SINK.load(Ordering::Relaxed);
    if sink == Sink::Off as u8 {
        return;
    }
    let line = format(namespace(), SystemClock.now_ms(), dimensions, metrics);
    let _ = if sink == Sink::Stderr as u8 {
        writeln!(std::io::stderr().lock(), "{line}")
    } else {
        writeln!(std::io::stdout().lock(), "{line}")
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_declares_its_metrics() {
        let line = format(
            "NS",
            42,
            &[("Breaker", "crm")],
            &[count("Fallbacks", 2.0), millis("Latency", 7.5)],
        );
        let v: Value = serde_json::from_str(&line).unwrap_or_default();
        assert_eq!(v["Breaker"], "crm");
        assert_eq!(v["Fallbacks"], 2.0);
        assert_eq!(v["_aws"]["Timestamp"], 42);
        let cw = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "NS");
        assert_eq!(cw["Dimensions"][0][0], "Breaker");
        assert_eq!(cw["Metrics"][1]["Name"], "Latency");
        assert_eq!(cw["Metrics"][1]["Unit"], "Milliseconds");
    }
}
