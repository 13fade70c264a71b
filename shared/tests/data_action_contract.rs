//! The Data Action's contract (`infra/genesys/crm-lookup.data-action.json`) against the
//! answers crm-lookup can give: every field an answer has is in the output schema,
//! required, and of the schema's type; the schema has no field the answer lacks; and the
//! enums list exactly the values the code can send. Renaming a field or adding a reason
//! on either side alone fails here, before Genesys drops the field from an answer.

use std::collections::BTreeSet;
use std::path::Path;

use failsoft::crm::lookup::{Answer, ContextSource, Reason};
use serde_json::Value;

fn schema() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/genesys/crm-lookup.data-action.json");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let export: Value = serde_json::from_str(&text).unwrap_or_default();
    export["contract"]["output"]["successSchema"].clone()
}

/// Every answer shape the code can produce: each reason, each source.
fn answers() -> Vec<Value> {
    let mut out = Vec::new();
    for r in Reason::ALL {
        for s in ContextSource::ALL {
            let mut a = Answer::unknown(r != Reason::None, r);
            a.context_source = s;
            out.push(serde_json::to_value(a).unwrap_or_default());
        }
    }
    out
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

#[test]
fn every_field_an_answer_has_is_in_the_schema_with_its_type() {
    let schema = schema();
    let props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    assert!(!props.is_empty(), "no output schema found");
    assert_eq!(schema["additionalProperties"], false);
    let required = strings(&schema["required"]);
    for a in answers() {
        let fields: BTreeSet<String> = a
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k.clone())
            .collect();
        let declared: BTreeSet<String> = props.keys().cloned().collect();
        assert_eq!(fields, declared, "fields of {a}");
        assert_eq!(fields, required, "every field is always present");
        for (k, v) in a.as_object().into_iter().flatten() {
            let want = props[k]["type"].as_str().unwrap_or("?");
            let got = match v {
                Value::Bool(_) => "boolean",
                Value::String(_) => "string",
                Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
                Value::Number(_) => "number",
                _ => "other",
            };
            assert_eq!(got, want, "{k} in {a}");
        }
    }
}

#[test]
fn the_schemas_enums_are_exactly_what_the_code_sends() {
    let schema = schema();
    for (field, sent) in [
        (
            "degradedReason",
            Reason::ALL
                .iter()
                .map(|r| r.as_str().to_string())
                .collect::<BTreeSet<_>>(),
        ),
        (
            "contextSource",
            ContextSource::ALL
                .iter()
                .map(|s| {
                    serde_json::to_value(s)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .collect(),
        ),
    ] {
        assert_eq!(
            strings(&schema["properties"][field]["enum"]),
            sent,
            "{field}"
        );
    }
}
