//! An Archy flow file read without Archy: its `{{substitutions}}` filled as the Terraform
//! module fills them, then checked against the record of Archy's format
//! (`contract::archy`), with accessors for what Failsoft's settings name (the Data
//! Action, its outputs, the participant data keys, the queues).

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::{Mapping, Value};

use crate::contract::archy::{self as record, Keys};

/// One flow file, substituted and parsed.
pub struct Flow {
    pub file: String,
    pub yaml: Value,
}

/// Fills `{{name}}` placeholders. Every placeholder must have a value and every value a
/// placeholder, as the provider's `substitutions` would leave them otherwise.
pub fn substitute(text: &str, subs: &BTreeMap<String, String>) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else {
            problems.push("an unclosed {{".to_string());
            break;
        };
        let name = rest[start + 2..start + len].trim();
        match subs.get(name) {
            Some(v) => {
                used.insert(name.to_string());
                out.push_str(v);
            }
            None => problems.push(format!("{{{{{name}}}}} has no substitution")),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    for k in subs.keys().filter(|k| !used.contains(*k)) {
        problems.push(format!("substitution {k} is not used by the flow"));
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

impl Flow {
    pub fn parse(file: &str, text: &str) -> Result<Flow, String> {
        let yaml = serde_yaml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        Ok(Flow {
            file: file.to_string(),
            yaml,
        })
    }

    /// `(flow type key, its mapping)`.
    pub fn root(&self) -> Option<(&str, &Mapping)> {
        let m = self.yaml.as_mapping()?;
        let (k, v) = m.iter().next()?;
        Some((k.as_str()?, v.as_mapping()?))
    }

    pub fn name(&self) -> Option<&str> {
        self.root()?.1.get("name")?.as_str()
    }

    /// Every action in the flow, however deep, as `(kind, body)`.
    pub fn actions(&self) -> Vec<(String, &Mapping)> {
        let mut out = Vec::new();
        if let Some((_, root)) = self.root() {
            for task in seq(root.get("tasks")) {
                if let Some(t) = one(task).filter(|(k, _)| *k == "task").map(|(_, v)| v) {
                    collect_actions(seq(t.get("actions")), &mut out);
                }
            }
        }
        out
    }

    pub fn actions_of(&self, kind: &str) -> Vec<&Mapping> {
        self.actions()
            .into_iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, m)| m)
            .collect()
    }

    /// The participant data keys the flow sets (`setParticipantData`), with their values.
    pub fn participant_data(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for a in self.actions_of("setParticipantData") {
            for item in seq(a.get("attributes")) {
                if let Some((_, attr)) = one(item) {
                    let name = value_text(attr.get("name"));
                    let value = value_text(attr.get("value"));
                    out.push((name, value));
                }
            }
        }
        out
    }

    /// Each `callData`: `(category, data action name, inputs, successOutputs key → variable)`.
    pub fn data_actions(&self) -> Vec<DataAction> {
        let mut out = Vec::new();
        for a in self.actions_of("callData") {
            let Some((category, c)) = a.get("category").and_then(one) else {
                continue;
            };
            let Some((name, d)) = c.get("dataAction").and_then(one) else {
                continue;
            };
            let inputs = mapping(d.get("inputs"))
                .iter()
                .filter_map(|(k, _)| k.as_str().map(str::to_string))
                .collect();
            let outputs = mapping(d.get("successOutputs"))
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), value_text(Some(v)))))
                .collect();
            let paths = mapping(a.get("outputs"))
                .iter()
                .filter_map(|(k, _)| k.as_str().map(str::to_string))
                .collect();
            out.push(DataAction {
                category: category.to_string(),
                name: name.to_string(),
                inputs,
                outputs,
                paths,
            });
        }
        out
    }

    /// Task variables: name → Archy variable type.
    pub fn variables(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Some((_, root)) = self.root() {
            for task in seq(root.get("tasks")) {
                if let Some((_, t)) = one(task) {
                    for v in seq(t.get("variables")) {
                        if let Some((kind, body)) = one(v) {
                            out.insert(value_str(body.get("name")), kind.to_string());
                        }
                    }
                }
            }
        }
        out
    }

    /// The queue names of every `transferToAcd`.
    pub fn queues(&self) -> Vec<String> {
        self.actions_of("transferToAcd")
            .into_iter()
            .filter_map(|a| {
                let lit = a.get("targetQueue")?.as_mapping()?.get("lit")?;
                lit.as_mapping()?.get("name")?.as_str().map(str::to_string)
            })
            .collect()
    }
}

#[derive(Debug)]
pub struct DataAction {
    pub category: String,
    pub name: String,
    pub inputs: BTreeSet<String>,
    pub outputs: BTreeMap<String, String>,
    pub paths: BTreeSet<String>,
}

fn collect_actions<'a>(actions: &'a [Value], out: &mut Vec<(String, &'a Mapping)>) {
    for a in actions {
        let Some((kind, body)) = one(a) else { continue };
        out.push((kind.to_string(), body));
        if let Some(outputs) = body.get("outputs").and_then(Value::as_mapping) {
            for (_, path) in outputs {
                if let Some(p) = path.as_mapping() {
                    collect_actions(seq(p.get("actions")), out);
                }
            }
        }
    }
}

fn seq(v: Option<&Value>) -> &[Value] {
    v.and_then(Value::as_sequence)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn mapping(v: Option<&Value>) -> Mapping {
    v.and_then(Value::as_mapping).cloned().unwrap_or_default()
}

/// A one-key mapping's key and value mapping (`- task: {...}`, `- callData: {...}`).
fn one(v: &Value) -> Option<(&str, &Mapping)> {
    let m = v.as_mapping()?;
    if m.len() != 1 {
        return None;
    }
    let (k, v) = m.iter().next()?;
    Some((k.as_str()?, v.as_mapping()?))
}

fn value_str(v: Option<&Value>) -> String {
    v.and_then(Value::as_str).unwrap_or_default().to_string()
}

/// A value's text, whatever its form (`lit: x`, `exp: x`, `var: x`).
fn value_text(v: Option<&Value>) -> String {
    let Some(m) = v.and_then(Value::as_mapping) else {
        return String::new();
    };
    m.iter()
        .next()
        .map(|(_, x)| match x {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => serde_yaml::to_string(other).unwrap_or_default(),
        })
        .unwrap_or_default()
}

/// Every way the flow departs from the recorded format: unknown or missing keys, an
/// action or output Archy does not have, a value not in one of its forms, a start that
/// names no task, a variable used or assigned that the task does not declare.
pub fn structure_problems(flow: &Flow) -> Vec<String> {
    let mut out = Vec::new();
    let f = &flow.file;
    let Some(top) = flow.yaml.as_mapping() else {
        return vec![format!("{f}: not a mapping")];
    };
    if top.len() != 1 {
        out.push(format!(
            "{f}: one flow per file, found {} top-level keys",
            top.len()
        ));
    }
    let Some((kind, root)) = flow.root() else {
        return vec![format!("{f}: no flow")];
    };
    let Some(ty) = record::FLOW_TYPES.iter().find(|t| t.key == kind) else {
        return vec![format!("{f}: flow type {kind} is not recorded")];
    };
    keys(root, &ty.keys, &format!("{f}: {kind}"), &mut out);
    for audio in ["initialGreeting"] {
        if let Some(v) = root.get(audio) {
            form(v, record::AUDIO_FORMS, &format!("{f}: {audio}"), &mut out);
        }
    }
    let mut ref_ids = BTreeSet::new();
    for (i, task) in seq(root.get("tasks")).iter().enumerate() {
        let what = format!("{f}: tasks[{i}]");
        let Some(("task", t)) = one(task) else {
            out.push(format!("{what}: each item is `task: {{...}}`"));
            continue;
        };
        keys(t, &record::TASK, &what, &mut out);
        let id = value_str(t.get("refId"));
        if !ref_ids.insert(id.clone()) {
            out.push(format!("{what}: refId {id} is used twice"));
        }
        let mut declared = BTreeMap::new();
        for v in seq(t.get("variables")) {
            let Some((vk, body)) = one(v) else {
                out.push(format!("{what}: a variable is `<type>Variable: {{...}}`"));
                continue;
            };
            if !record::VARIABLE_TYPES.iter().any(|(k, _)| *k == vk) {
                out.push(format!("{what}: variable type {vk} is not recorded"));
            }
            keys(body, &record::VARIABLE, &format!("{what} {vk}"), &mut out);
            let name = value_str(body.get("name"));
            if !name.starts_with("Task.") {
                out.push(format!(
                    "{what}: task variable {name} must be named Task.<name>"
                ));
            }
            if let Some(init) = body.get("initialValue") {
                form(
                    init,
                    record::VALUE_FORMS,
                    &format!("{what} {name}"),
                    &mut out,
                );
            }
            declared.insert(name, vk.to_string());
        }
        check_actions(seq(t.get("actions")), &declared, &what, &mut out);
    }
    let start = value_str(root.get("startUpRef"));
    let target = start
        .strip_prefix(&format!("/{kind}/tasks/task["))
        .or_else(|| start.strip_prefix("./tasks/task["))
        .and_then(|s| s.strip_suffix(']'));
    match target {
        Some(id) if ref_ids.contains(id) => {}
        _ => out.push(format!("{f}: startUpRef {start} names no task")),
    }
    out
}

fn keys(m: &Mapping, k: &Keys, what: &str, out: &mut Vec<String>) {
    for key in m.keys() {
        let key = key.as_str().unwrap_or("<not a string>");
        if !k.allows(key) {
            out.push(format!("{what}: `{key}` is not a key Archy takes here"));
        }
    }
    for r in k.required {
        if !m.contains_key(*r) {
            out.push(format!("{what}: `{r}` is required"));
        }
    }
}

fn form(v: &Value, forms: &[&str], what: &str, out: &mut Vec<String>) {
    match v.as_mapping() {
        Some(m)
            if m.len() == 1
                && m.keys()
                    .all(|k| k.as_str().is_some_and(|k| forms.contains(&k))) => {}
        _ => out.push(format!("{what}: a value is one of {forms:?}")),
    }
}

fn check_actions(
    actions: &[Value],
    vars: &BTreeMap<String, String>,
    what: &str,
    out: &mut Vec<String>,
) {
    for (i, a) in actions.iter().enumerate() {
        let Some((kind, body)) = one(a) else {
            out.push(format!("{what}: actions[{i}] is `<action>: {{...}}`"));
            continue;
        };
        let at = format!("{what} {kind}");
        let Some(action) = record::action(kind) else {
            out.push(format!("{at}: action {kind} is not recorded"));
            continue;
        };
        keys(body, &action.keys, &at, out);
        uses_declared(body, vars, &at, out);
        for (k, v) in body {
            let k = k.as_str().unwrap_or("");
            match k {
                "audio" | "preTransferAudio" | "failureTransferAudio" => {
                    form(v, record::AUDIO_FORMS, &format!("{at} {k}"), out)
                }
                "condition" | "targetQueue" | "targetNumber" | "processingPrompt" => {
                    form(v, record::VALUE_FORMS, &format!("{at} {k}"), out)
                }
                _ => {}
            }
        }
        match kind {
            "callData" => match body.get("category").and_then(one) {
                Some((_, c)) => match c.get("dataAction").and_then(one) {
                    Some((_, d)) => {
                        keys(d, &record::DATA_ACTION, &format!("{at} dataAction"), out);
                        for (k, v) in mapping(d.get("inputs")) {
                            form(&v, record::VALUE_FORMS, &format!("{at} input {k:?}"), out);
                        }
                        for (k, v) in mapping(d.get("successOutputs")) {
                            form(&v, &["var"], &format!("{at} output {k:?}"), out);
                        }
                    }
                    None => out.push(format!(
                        "{at}: category is `<category>: {{dataAction: {{<name>: ...}}}}`"
                    )),
                },
                None => out.push(format!(
                    "{at}: category is `<category>: {{dataAction: ...}}`"
                )),
            },
            "updateData" => {
                for s in seq(body.get("statements")) {
                    let Some((st, sb)) = one(s) else {
                        out.push(format!(
                            "{at}: a statement is `<type>: {{variable, value}}`"
                        ));
                        continue;
                    };
                    if !record::STATEMENT_TYPES.contains(&st) {
                        out.push(format!("{at}: statement type {st} is not recorded"));
                    }
                    keys(sb, &record::STATEMENT, &format!("{at} {st}"), out);
                    let var = value_str(sb.get("variable"));
                    match vars.get(&var) {
                        Some(vt) if *vt == format!("{st}Variable") => {}
                        Some(vt) => {
                            out.push(format!("{at}: a {st} statement assigns {var}, a {vt}"))
                        }
                        None => out.push(format!("{at}: {var} is not declared in the task")),
                    }
                    if let Some(v) = sb.get("value") {
                        form(v, record::VALUE_FORMS, &format!("{at} {var}"), out);
                    }
                }
            }
            "setParticipantData" => {
                for item in seq(body.get("attributes")) {
                    match one(item) {
                        Some(("attribute", attr)) => {
                            keys(attr, &record::ATTRIBUTE, &format!("{at} attribute"), out);
                            for k in ["name", "value"] {
                                if let Some(v) = attr.get(k) {
                                    form(
                                        v,
                                        record::VALUE_FORMS,
                                        &format!("{at} attribute {k}"),
                                        out,
                                    );
                                }
                            }
                        }
                        _ => out.push(format!(
                            "{at}: attributes are `- attribute: {{name, value}}`"
                        )),
                    }
                }
            }
            _ => {}
        }
        for (path, p) in mapping(body.get("outputs")) {
            let path = path.as_str().unwrap_or("");
            if !action.outputs.contains(&path) {
                out.push(format!(
                    "{at}: output `{path}` is not one of {:?}",
                    action.outputs
                ));
            }
            match p.as_mapping() {
                Some(pm) if pm.len() == 1 && pm.contains_key("actions") => {
                    check_actions(seq(pm.get("actions")), vars, &format!("{at} {path}"), out)
                }
                _ => out.push(format!("{at}: output {path} is `{{actions: [...]}}`")),
            }
        }
    }
}

/// Every `Task.x` an expression or variable form names is declared in the task.
fn uses_declared(body: &Mapping, vars: &BTreeMap<String, String>, at: &str, out: &mut Vec<String>) {
    fn scan(v: &Value, acc: &mut BTreeSet<String>) {
        match v {
            Value::Mapping(m) => {
                for (k, x) in m {
                    if k.as_str() == Some("outputs") {
                        continue;
                    }
                    if matches!(k.as_str(), Some("exp" | "var")) {
                        if let Some(s) = x.as_str() {
                            let mut rest = s;
                            while let Some(i) = rest.find("Task.") {
                                let tail = &rest[i + 5..];
                                let n = tail
                                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                                    .unwrap_or(tail.len());
                                acc.insert(format!("Task.{}", &tail[..n]));
                                rest = &tail[n..];
                            }
                        }
                    }
                    scan(x, acc);
                }
            }
            Value::Sequence(s) => s.iter().for_each(|x| scan(x, acc)),
            _ => {}
        }
    }
    let mut used = BTreeSet::new();
    scan(&Value::Mapping(body.clone()), &mut used);
    for u in used {
        if !vars.contains_key(&u) {
            out.push(format!("{at}: {u} is not declared in the task"));
        }
    }
}
