//! A Terraform root module read without `terraform`: parsed with `hcl-rs`, checked against
//! the provider's recorded schema (`contract::terraform`), every reference resolved, and
//! its values evaluated from the variables' defaults (or values a test gives), as far as
//! Terraform could before an apply. Ids the provider computes stay placeholders
//! (`<type.name.id>`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hcl::eval::{Context, Evaluate, FuncArgs, FuncDef, ParamType};
use hcl::expr::{Expression, ObjectKey, Operation, TraversalOperator};
use hcl::template::{Element, Template};
use hcl::{Block, Body, Value};

use crate::contract::terraform::{self as record, Need, Schema, Ty};

/// One root module: its `*.tf` files, parsed.
pub struct Module {
    pub dir: PathBuf,
    pub body: Body,
}

/// Terraform's built-in functions the module may call (Terraform's "Functions" docs).
const FUNCTIONS: &[&str] = &[
    "alltrue",
    "can",
    "coalesce",
    "concat",
    "contains",
    "file",
    "filesha256",
    "format",
    "join",
    "jsondecode",
    "jsonencode",
    "keys",
    "length",
    "lookup",
    "lower",
    "merge",
    "regex",
    "replace",
    "split",
    "tolist",
    "toset",
    "tostring",
    "trimspace",
    "upper",
    "values",
];

impl Module {
    /// Reads every `*.tf` file of `dir` (not its subdirectories), in name order.
    pub fn load(dir: &Path) -> Result<Module, String> {
        let text: String = Module::files(dir)?
            .into_iter()
            .map(|(_, t)| t + "\n")
            .collect();
        Module::parse(dir, &text)
    }

    /// `(file name, text)` of every `*.tf` file of `dir`, in name order.
    pub fn files(dir: &Path) -> Result<Vec<(String, String)>, String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tf"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|f| {
                let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
                std::fs::read_to_string(&f)
                    .map(|t| (name.unwrap_or_default(), t))
                    .map_err(|e| format!("{}: {e}", f.display()))
            })
            .collect()
    }

    pub fn parse(dir: &Path, text: &str) -> Result<Module, String> {
        let body = hcl::parse(text).map_err(|e| e.to_string())?;
        Ok(Module {
            dir: dir.to_path_buf(),
            body,
        })
    }

    fn top(&self, ident: &str) -> impl Iterator<Item = &Block> {
        let ident = ident.to_string();
        self.body
            .blocks()
            .filter(move |b| b.identifier.as_str() == ident)
    }

    /// `(type, name, body)` of every resource block.
    pub fn resources(&self) -> Vec<(String, String, &Body)> {
        self.top("resource")
            .filter_map(|b| match b.labels.as_slice() {
                [t, n] => Some((t.as_str().to_string(), n.as_str().to_string(), &b.body)),
                _ => None,
            })
            .collect()
    }

    pub fn resource(&self, kind: &str, name: &str) -> Option<&Body> {
        self.resources()
            .into_iter()
            .find(|(t, n, _)| t == kind && n == name)
            .map(|(_, _, b)| b)
    }

    /// Each declared variable with its block's body.
    pub fn variables(&self) -> BTreeMap<String, &Body> {
        self.top("variable")
            .filter_map(|b| b.labels.first().map(|l| (l.as_str().to_string(), &b.body)))
            .collect()
    }

    pub fn locals(&self) -> BTreeMap<String, &Expression> {
        self.top("locals")
            .flat_map(|b| b.body.attributes())
            .map(|a| (a.key.as_str().to_string(), &a.expr))
            .collect()
    }

    pub fn outputs(&self) -> BTreeMap<String, &Body> {
        self.top("output")
            .filter_map(|b| b.labels.first().map(|l| (l.as_str().to_string(), &b.body)))
            .collect()
    }

    /// The provider requirement: `(source, version)` of `genesyscloud`.
    pub fn required_provider(&self) -> Option<(String, String)> {
        let tf = self.top("terraform").next()?;
        let req = tf
            .body
            .blocks()
            .find(|b| b.identifier.as_str() == "required_providers")?;
        let gc = attr(&req.body, "genesyscloud")?;
        let v = gc.evaluate(&Context::new()).ok()?;
        Some((
            v.as_object()?.get("source")?.as_str()?.to_string(),
            v.as_object()?.get("version")?.as_str()?.to_string(),
        ))
    }
}

pub fn attr<'a>(body: &'a Body, name: &str) -> Option<&'a Expression> {
    body.attributes()
        .find(|a| a.key.as_str() == name)
        .map(|a| &a.expr)
}

/// Every problem of the module against the recorded schema: unknown resource types,
/// arguments and blocks; a read-only argument set; a required one missing; a block
/// repeated past its maximum; a value of the wrong type or outside the recorded values;
/// the provider not pinned to the recorded version.
pub fn schema_problems(m: &Module, vars: &BTreeMap<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    match m.required_provider() {
        Some((source, version)) => {
            if source != record::SOURCE {
                out.push(format!(
                    "the provider source is {source}, not {}",
                    record::SOURCE
                ));
            }
            if version != format!("= {}", record::VERSION) {
                out.push(format!(
                    "the provider is \"{version}\", not pinned to the recorded \"= {}\"",
                    record::VERSION
                ));
            }
        }
        None => out.push("no required_providers.genesyscloud with source and version".into()),
    }
    let ctx = Evaluated::new(m, vars);
    for p in m.top("provider") {
        let label = p.labels.first().map(|l| l.as_str()).unwrap_or("");
        if label != "genesyscloud" {
            out.push(format!("provider \"{label}\" is not recorded"));
            continue;
        }
        check_body(
            &p.body,
            &record::PROVIDER,
            "provider genesyscloud",
            &ctx,
            &mut out,
        );
    }
    for b in m.body.blocks() {
        let ident = b.identifier.as_str();
        if !matches!(
            ident,
            "terraform" | "provider" | "resource" | "variable" | "locals" | "output"
        ) {
            out.push(format!(
                "top-level block `{ident}` is not used by this module's check"
            ));
        }
    }
    for (kind, name, body) in m.resources() {
        let what = format!("{kind}.{name}");
        let Some(res) = record::resource(&kind) else {
            out.push(format!(
                "{what}: resource type {kind} is not in provider {}",
                record::VERSION
            ));
            continue;
        };
        check_body(
            body,
            &res.schema,
            &format!("{what} ({})", res.doc),
            &ctx,
            &mut out,
        );
        for v in record::VALUES.iter().filter(|v| v.resource == kind) {
            if let Some(Ok(Value::String(s))) = attr(body, v.argument).map(|e| ctx.eval(e)) {
                if !v.allowed.contains(&s.as_str()) {
                    out.push(format!(
                        "{what}: {} = \"{s}\" is not one of {:?} ({})",
                        v.argument, v.allowed, v.source
                    ));
                }
            }
        }
    }
    out
}

fn check_body(body: &Body, schema: &Schema, what: &str, ctx: &Evaluated, out: &mut Vec<String>) {
    for a in body.attributes() {
        let key = a.key.as_str();
        if record::META_ARGS.contains(&key) {
            continue;
        }
        match schema.arg(key) {
            None => out.push(format!(
                "{what}: argument `{key}` is not in the provider's schema"
            )),
            Some(arg) if arg.need == Need::ReadOnly => {
                out.push(format!("{what}: `{key}` is read-only; it cannot be set"))
            }
            Some(arg) => {
                if let Ok(v) = ctx.eval(&a.expr) {
                    if let Some(why) = type_mismatch(arg.ty, &v) {
                        out.push(format!("{what}: `{key}` {why}"));
                    }
                }
            }
        }
    }
    let mut dynamic = BTreeSet::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for b in body.blocks() {
        let ident = b.identifier.as_str();
        match ident {
            "lifecycle" => {
                for a in b.body.attributes() {
                    if !record::LIFECYCLE_ARGS.contains(&a.key.as_str()) {
                        out.push(format!("{what}: lifecycle has no `{}`", a.key.as_str()));
                    }
                }
                for lb in b.body.blocks() {
                    if !record::LIFECYCLE_BLOCKS.contains(&lb.identifier.as_str()) {
                        out.push(format!(
                            "{what}: lifecycle has no block `{}`",
                            lb.identifier.as_str()
                        ));
                    }
                }
                if let Some(Expression::Array(items)) = attr(&b.body, "ignore_changes") {
                    for i in items {
                        let name = match i {
                            Expression::Variable(v) => v.as_str().to_string(),
                            other => format!("{other:?}"),
                        };
                        if schema.arg(&name).is_none() && schema.block(&name).is_none() {
                            out.push(format!(
                                "{what}: ignore_changes names `{name}`, which is not an argument"
                            ));
                        }
                    }
                }
            }
            "dynamic" => {
                let name = b.labels.first().map(|l| l.as_str()).unwrap_or("");
                dynamic.insert(name.to_string());
                let Some(block) = schema.block(name) else {
                    out.push(format!(
                        "{what}: block `{name}` (dynamic) is not in the provider's schema"
                    ));
                    continue;
                };
                if attr(&b.body, "for_each").is_none() {
                    out.push(format!("{what}: dynamic \"{name}\" has no for_each"));
                }
                match b.body.blocks().find(|c| c.identifier.as_str() == "content") {
                    Some(content) => {
                        check_args_only(&content.body, &block.body, &format!("{what} {name}"), out)
                    }
                    None => out.push(format!("{what}: dynamic \"{name}\" has no content")),
                }
            }
            _ => {
                let Some(block) = schema.block(ident) else {
                    out.push(format!(
                        "{what}: block `{ident}` is not in the provider's schema"
                    ));
                    continue;
                };
                *counts.entry(ident.to_string()).or_default() += 1;
                check_body(&b.body, &block.body, &format!("{what} {ident}"), ctx, out);
            }
        }
    }
    for block in schema.blocks {
        let n = counts.get(block.name).copied().unwrap_or(0);
        if let Some(max) = block.max {
            if n > max {
                out.push(format!(
                    "{what}: {n} `{}` blocks, at most {max}",
                    block.name
                ));
            }
        }
        if n < block.min && !dynamic.contains(block.name) {
            out.push(format!(
                "{what}: `{}` needs at least {} block(s)",
                block.name, block.min
            ));
        }
    }
    for arg in schema.args.iter().filter(|a| a.need == Need::Required) {
        if attr(body, arg.name).is_none() {
            out.push(format!(
                "{what}: required argument `{}` is missing",
                arg.name
            ));
        }
    }
}

/// A dynamic block's content: names only (its values depend on the iterator).
fn check_args_only(body: &Body, schema: &Schema, what: &str, out: &mut Vec<String>) {
    for a in body.attributes() {
        match schema.arg(a.key.as_str()) {
            Some(arg) if arg.need != Need::ReadOnly => {}
            _ => out.push(format!(
                "{what}: argument `{}` is not in the provider's schema",
                a.key.as_str()
            )),
        }
    }
    for arg in schema.args.iter().filter(|a| a.need == Need::Required) {
        if attr(body, arg.name).is_none() {
            out.push(format!(
                "{what}: required argument `{}` is missing",
                arg.name
            ));
        }
    }
}

fn type_mismatch(ty: Ty, v: &Value) -> Option<String> {
    let ok = match (ty, v) {
        (_, Value::Null) => true,
        (Ty::String, Value::String(_)) => true,
        (Ty::Number, Value::Number(_)) => true,
        (Ty::Bool, Value::Bool(_)) => true,
        (Ty::MapOfString, Value::Object(o)) => o.values().all(|x| matches!(x, Value::String(_))),
        (Ty::SetOfString | Ty::ListOfString, Value::Array(a)) => {
            a.iter().all(|x| matches!(x, Value::String(_)))
        }
        _ => false,
    };
    (!ok).then(|| format!("is {v:?}, but the schema says {ty:?}"))
}

/// Every reference that does not resolve: an undeclared variable or local, a resource not
/// in the module, an attribute the resource's schema lacks, `count.index` outside a
/// counted resource, an unknown function; and every declared variable that nothing uses.
pub fn reference_problems(m: &Module) -> Vec<String> {
    let mut out = Vec::new();
    let vars = m.variables();
    let locals = m.locals();
    let resources: BTreeMap<(String, String), bool> = m
        .resources()
        .into_iter()
        .map(|(t, n, b)| {
            (
                (t, n),
                attr(b, "count").is_some() || attr(b, "for_each").is_some(),
            )
        })
        .collect();
    let mut found = Vec::new();
    for b in m.body.blocks() {
        let scope = Scope {
            counted: attr(&b.body, "count").is_some(),
            iterators: vec![],
        };
        if b.identifier.as_str() == "variable" {
            // A variable's `type` is a type (`string`, `list(string)`), not a reference.
            for a in b.body.attributes().filter(|a| a.key.as_str() != "type") {
                walk(&a.expr, &scope, &mut found);
            }
            for c in b.body.blocks() {
                walk_body(&c.body, &scope, &mut found);
            }
        } else {
            walk_body(&b.body, &scope, &mut found);
        }
    }
    let mut used_vars = BTreeSet::new();
    for (path, scope) in &found {
        let root = path[0].as_str();
        let next = path.get(1).map(String::as_str).unwrap_or("");
        match root {
            _ if scope.iterators.iter().any(|i| i == root) => {}
            "var" => {
                if vars.contains_key(next) {
                    used_vars.insert(next.to_string());
                } else {
                    out.push(format!("var.{next} is not declared"));
                }
            }
            "local" if !locals.contains_key(next) => {
                out.push(format!("local.{next} is not declared"))
            }
            "local" => {}
            "path" if !matches!(next, "module" | "root" | "cwd") => {
                out.push(format!("path.{next} does not exist"))
            }
            "path" => {}
            "count" if !scope.counted => {
                out.push("count.index outside a resource with count".into())
            }
            "count" => {}
            "data" => out.push(format!("data.{next}: no data source is declared")),
            "function" => {
                if !FUNCTIONS.contains(&next) {
                    out.push(format!(
                        "{next}() is not a Terraform function this module may use"
                    ));
                }
            }
            kind => {
                let key = (kind.to_string(), next.to_string());
                let Some(&counted) = resources.get(&key) else {
                    out.push(format!("{kind}.{next} is not declared in the module"));
                    continue;
                };
                let mut rest = path[2..].iter().map(String::as_str);
                let mut attr_name = rest.next();
                if counted && attr_name.is_some() {
                    if !matches!(attr_name, Some("[]" | "*")) {
                        out.push(format!(
                            "{kind}.{next} has count: index it ({kind}.{next}[0])"
                        ));
                        continue;
                    }
                    attr_name = rest.next();
                }
                if let Some(a) = attr_name {
                    let schema = record::resource(kind).map(|r| &r.schema);
                    if !schema.is_some_and(|s| s.arg(a).is_some() || s.block(a).is_some()) {
                        out.push(format!(
                            "{kind}.{next}.{a}: the resource has no attribute `{a}`"
                        ));
                    }
                }
            }
        }
    }
    for (name, body) in &vars {
        if !used_vars.contains(name) {
            out.push(format!("variable {name} is declared but never used"));
        }
        for required in ["type", "description"] {
            if attr(body, required).is_none() {
                out.push(format!("variable {name} has no {required}"));
            }
        }
        if let (Some(ty), Some(default)) = (attr(body, "type"), attr(body, "default")) {
            if let Ok(v) = default.evaluate(&Context::new()) {
                if !matches_type(ty, &v) {
                    out.push(format!("variable {name}: default {v:?} is not a {ty}"));
                }
            }
        }
    }
    for (name, body) in m.outputs() {
        if attr(body, "description").is_none() {
            out.push(format!("output {name} has no description"));
        }
    }
    out
}

fn matches_type(ty: &Expression, v: &Value) -> bool {
    match (ty.to_string().replace(' ', "").as_str(), v) {
        ("string", Value::String(_)) | ("bool", Value::Bool(_)) | ("number", Value::Number(_)) => {
            true
        }
        ("list(string)" | "set(string)", Value::Array(a)) => a.iter().all(|x| x.is_string()),
        _ => false,
    }
}

#[derive(Clone)]
struct Scope {
    counted: bool,
    iterators: Vec<String>,
}

fn walk_body(body: &Body, scope: &Scope, out: &mut Vec<(Vec<String>, Scope)>) {
    for a in body.attributes() {
        // `lifecycle { ignore_changes = [enabled] }` names the resource's own arguments.
        if a.key.as_str() != "ignore_changes" {
            walk(&a.expr, scope, out);
        }
    }
    for b in body.blocks() {
        if b.identifier.as_str() == "dynamic" {
            let mut inner = scope.clone();
            if let Some(l) = b.labels.first() {
                inner.iterators.push(l.as_str().to_string());
            }
            for a in b.body.attributes() {
                walk(&a.expr, scope, out);
            }
            for c in b.body.blocks() {
                walk_body(&c.body, &inner, out);
            }
        } else {
            walk_body(&b.body, scope, out);
        }
    }
}

fn walk(e: &Expression, scope: &Scope, out: &mut Vec<(Vec<String>, Scope)>) {
    match e {
        Expression::Variable(v) => out.push((vec![v.as_str().to_string()], scope.clone())),
        Expression::Traversal(t) => {
            let mut path = Vec::new();
            if let Expression::Variable(v) = &t.expr {
                path.push(v.as_str().to_string());
            } else {
                walk(&t.expr, scope, out);
            }
            for op in &t.operators {
                match op {
                    TraversalOperator::GetAttr(id) => path.push(id.as_str().to_string()),
                    TraversalOperator::Index(ix) => {
                        path.push("[]".into());
                        walk(ix, scope, out);
                    }
                    TraversalOperator::LegacyIndex(_) => path.push("[]".into()),
                    TraversalOperator::AttrSplat | TraversalOperator::FullSplat => {
                        path.push("*".into())
                    }
                }
            }
            if !path.is_empty() {
                out.push((path, scope.clone()));
            }
        }
        Expression::TemplateExpr(t) => {
            if let Ok(tpl) = Template::from_expr(t) {
                walk_template(&tpl, scope, out);
            }
        }
        Expression::FuncCall(f) => {
            out.push((
                vec!["function".into(), f.name.name.as_str().to_string()],
                scope.clone(),
            ));
            for a in &f.args {
                walk(a, scope, out);
            }
        }
        Expression::Array(items) => items.iter().for_each(|i| walk(i, scope, out)),
        Expression::Object(o) => {
            for (k, v) in o {
                if let ObjectKey::Expression(k) = k {
                    walk(k, scope, out);
                }
                walk(v, scope, out);
            }
        }
        Expression::Parenthesis(p) => walk(p, scope, out),
        Expression::Conditional(c) => {
            walk(&c.cond_expr, scope, out);
            walk(&c.true_expr, scope, out);
            walk(&c.false_expr, scope, out);
        }
        Expression::Operation(op) => match op.as_ref() {
            Operation::Unary(u) => walk(&u.expr, scope, out),
            Operation::Binary(b) => {
                walk(&b.lhs_expr, scope, out);
                walk(&b.rhs_expr, scope, out);
            }
        },
        Expression::ForExpr(f) => {
            walk(&f.collection_expr, scope, out);
            let mut inner = scope.clone();
            inner.iterators.push(f.value_var.as_str().to_string());
            if let Some(k) = &f.key_var {
                inner.iterators.push(k.as_str().to_string());
            }
            if let Some(k) = &f.key_expr {
                walk(k, &inner, out);
            }
            walk(&f.value_expr, &inner, out);
            if let Some(c) = &f.cond_expr {
                walk(c, &inner, out);
            }
        }
        _ => {}
    }
}

fn walk_template(t: &Template, scope: &Scope, out: &mut Vec<(Vec<String>, Scope)>) {
    for el in t.elements() {
        match el {
            Element::Interpolation(i) => walk(&i.expr, scope, out),
            Element::Directive(_) => out.push((vec!["<template directive>".into()], scope.clone())),
            Element::Literal(_) => {}
        }
    }
}

/// The module's values as far as they can be known before an apply: variables, locals,
/// and each resource's arguments and blocks (blocks as lists, as Terraform exposes them;
/// a counted resource as a list of one); what the provider computes is a placeholder.
pub struct Evaluated {
    ctx: Context<'static>,
    resources: BTreeMap<String, Value>,
}

impl Evaluated {
    pub fn new(m: &Module, vars: &BTreeMap<String, Value>) -> Evaluated {
        let mut var_obj = hcl::Map::new();
        for (name, body) in m.variables() {
            let v = vars
                .get(&name)
                .cloned()
                .or_else(|| attr(body, "default").and_then(|d| d.evaluate(&Context::new()).ok()))
                .unwrap_or(Value::Null);
            var_obj.insert(name, v);
        }
        let mut path = hcl::Map::new();
        path.insert(
            "module".to_string(),
            Value::String(m.dir.display().to_string()),
        );
        let mut base = Context::new();
        base.declare_var("var", Value::Object(var_obj));
        base.declare_var("path", Value::Object(path));
        let mut count = hcl::Map::new();
        count.insert("index".to_string(), Value::from(0u64));
        base.declare_var("count", Value::Object(count));
        declare_functions(&mut base);

        let mut this = Evaluated {
            ctx: base,
            resources: BTreeMap::new(),
        };
        // Locals and resources refer to each other; a few passes settle every value that
        // does not depend on the provider.
        for _ in 0..4 {
            let mut local = hcl::Map::new();
            for (name, e) in m.locals() {
                if let Ok(v) = this.eval(e) {
                    local.insert(name, v);
                }
            }
            this.ctx.declare_var("local", Value::Object(local));
            let mut by_type: BTreeMap<String, hcl::Map<String, Value>> = BTreeMap::new();
            for (kind, name, body) in m.resources() {
                let mut obj = this.body_value(body);
                if let Some(r) = record::resource(&kind) {
                    for a in r.schema.args.iter().filter(|a| a.need == Need::ReadOnly) {
                        obj.insert(
                            a.name.to_string(),
                            Value::String(format!("<{kind}.{name}.{}>", a.name)),
                        );
                    }
                }
                let value = if attr(body, "count").is_some() {
                    Value::Array(vec![Value::Object(obj)])
                } else {
                    Value::Object(obj)
                };
                this.resources
                    .insert(format!("{kind}.{name}"), value.clone());
                by_type.entry(kind).or_default().insert(name, value);
            }
            for (kind, named) in by_type {
                this.ctx.declare_var(kind, Value::Object(named));
            }
        }
        this
    }

    fn body_value(&self, body: &Body) -> hcl::Map<String, Value> {
        let mut obj = hcl::Map::new();
        for a in body.attributes() {
            if let Ok(v) = self.eval(&a.expr) {
                obj.insert(a.key.as_str().to_string(), v);
            }
        }
        for b in body.blocks() {
            let ident = b.identifier.as_str();
            if matches!(ident, "lifecycle" | "dynamic") {
                continue;
            }
            let entry = obj
                .entry(ident.to_string())
                .or_insert_with(|| Value::Array(vec![]));
            if let Value::Array(list) = entry {
                list.push(Value::Object(self.body_value(&b.body)));
            }
        }
        obj
    }

    pub fn eval(&self, e: &Expression) -> Result<Value, String> {
        e.evaluate(&self.ctx).map_err(|e| e.to_string())
    }

    /// A resource's evaluated value (`type.name`); a counted one is a list of one.
    pub fn resource(&self, address: &str) -> Option<&Value> {
        self.resources.get(address)
    }
}

fn declare_functions(ctx: &mut Context) {
    fn file(args: FuncArgs) -> Result<Value, String> {
        let p = args[0].as_str().unwrap_or_default();
        std::fs::read_to_string(p)
            .map(Value::String)
            .map_err(|e| format!("file({p}): {e}"))
    }
    fn jsondecode(args: FuncArgs) -> Result<Value, String> {
        let s = args[0].as_str().unwrap_or_default();
        let json: serde_json::Value = serde_json::from_str(s).map_err(|e| e.to_string())?;
        hcl::to_value(json).map_err(|e| e.to_string())
    }
    fn jsonencode(args: FuncArgs) -> Result<Value, String> {
        serde_json::to_string(&args[0])
            .map(Value::String)
            .map_err(|e| e.to_string())
    }
    fn length(args: FuncArgs) -> Result<Value, String> {
        let n = match &args[0] {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            Value::String(s) => s.chars().count(),
            other => return Err(format!("length of {other:?}")),
        };
        Ok(Value::from(n as u64))
    }
    fn join(args: FuncArgs) -> Result<Value, String> {
        let sep = args[0].as_str().unwrap_or_default();
        let parts: Vec<&str> = args[1]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        Ok(Value::String(parts.join(sep)))
    }
    ctx.declare_func(
        "join",
        FuncDef::builder()
            .param(ParamType::String)
            .param(ParamType::Any)
            .build(join),
    );
    ctx.declare_func(
        "file",
        FuncDef::builder().param(ParamType::String).build(file),
    );
    ctx.declare_func(
        "jsondecode",
        FuncDef::builder()
            .param(ParamType::String)
            .build(jsondecode),
    );
    ctx.declare_func(
        "jsonencode",
        FuncDef::builder().param(ParamType::Any).build(jsonencode),
    );
    ctx.declare_func(
        "length",
        FuncDef::builder().param(ParamType::Any).build(length),
    );
}

/// A value as JSON, for the tests' comparisons.
pub fn json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}
