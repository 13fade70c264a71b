//! The record of the vendors' published definitions, for every operation Failsoft
//! calls: method, path, the permission it needs, the request's and the answer's fields
//! with their types and enums, and the documented error answers; each entry with its
//! source (an SDK model or a doc page). Facts in our own form, not copied text.
//!
//! - `shape`: the little type language the record is written in, and its checker;
//! - `genesys`, `salesforce`, `pagerduty`: the operations of each vendor;
//! - `terraform`, `archy`: Genesys's Terraform provider's schema and Archy's flow format,
//!   for the Genesys side as code (`infra/genesys/`);
//! - `log`: what the fakes saw, checked against the record as it happens, and kept for
//!   the suite-wide conformance test (`tests/tests/conformance.rs`).
//!
//! The fakes answer from it too: the Genesys fake refuses a call with 403 unless the
//! client was granted the operation's permission.

pub mod archy;
pub mod genesys;
pub mod log;
pub mod pagerduty;
pub mod salesforce;
pub mod shape;
pub mod terraform;

use serde_json::Value;

use crate::fakes::http::{Request, Response};
pub use shape::{Field, Shape, Ty};

/// Whose API an operation is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vendor {
    Genesys,
    Salesforce,
    PagerDuty,
}

impl Vendor {
    pub fn as_str(self) -> &'static str {
        match self {
            Vendor::Genesys => "genesys",
            Vendor::Salesforce => "salesforce",
            Vendor::PagerDuty => "pagerduty",
        }
    }

    /// The vendor's operations in the record.
    pub fn operations(self) -> &'static [Operation] {
        match self {
            Vendor::Genesys => genesys::OPERATIONS,
            Vendor::Salesforce => salesforce::OPERATIONS,
            Vendor::PagerDuty => pagerduty::OPERATIONS,
        }
    }
}

/// The permission an operation needs, as the SDK docs say it ("Requires ANY" or "ALL").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Perms {
    None,
    Any(&'static [&'static str]),
    All(&'static [&'static str]),
}

impl Perms {
    /// Whether `granted` is enough.
    pub fn allows(self, granted: &[&str]) -> bool {
        match self {
            Perms::None => true,
            Perms::Any(p) => p.iter().any(|x| granted.contains(x)),
            Perms::All(p) => p.iter().all(|x| granted.contains(x)),
        }
    }

    pub fn names(self) -> &'static [&'static str] {
        match self {
            Perms::None => &[],
            Perms::Any(p) | Perms::All(p) => p,
        }
    }
}

/// A query parameter.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

/// What a request carries.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    None,
    Json(&'static Shape),
    /// `application/x-www-form-urlencoded` with these fields.
    Form(&'static [Param]),
}

/// A documented answer: its status, and for a success, its body.
#[derive(Clone, Copy, Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Option<Ty>,
    /// What it means, in the vendor's terms.
    pub meaning: &'static str,
}

/// One operation of a vendor's API.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    /// The SDK's or guide's name for it.
    pub name: &'static str,
    pub method: &'static str,
    /// With `{name}` for a path parameter.
    pub path: &'static str,
    pub permissions: Perms,
    pub query: &'static [Param],
    pub request: Body,
    /// Successes, then documented errors.
    pub answers: &'static [Answer],
    /// Where the facts come from.
    pub source: &'static str,
}

impl Operation {
    /// Whether `method path` is this operation (path parameters: one segment each).
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let want: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let got: Vec<&str> = path.trim_matches('/').split('/').collect();
        want.len() == got.len()
            && want
                .iter()
                .zip(&got)
                .all(|(w, g)| (w.starts_with('{') && !g.is_empty()) || w == g)
    }

    /// Why `req` is not a request of this operation, if it is not.
    pub fn check_request(&self, req: &Request) -> Result<(), String> {
        for (k, v) in &req.query {
            let p = self
                .query
                .iter()
                .find(|p| p.name == k)
                .ok_or_else(|| format!("query parameter {k:?} is not in the record"))?;
            p.ty.check_text(v)
                .map_err(|e| format!("query parameter {k}: {e}"))?;
        }
        for p in self.query.iter().filter(|p| p.required) {
            if req.param(p.name).is_none() {
                return Err(format!("query parameter {} is required", p.name));
            }
        }
        match self.request {
            Body::None => Ok(()),
            Body::Json(shape) => {
                let v: Value = serde_json::from_str(&req.body)
                    .map_err(|e| format!("the body is not JSON: {e}"))?;
                shape.check(&v).map_err(|e| format!("body: {e}"))
            }
            Body::Form(fields) => {
                let form = crate::fakes::http::parse_form(&req.body);
                for (k, v) in &form {
                    let f = fields
                        .iter()
                        .find(|f| f.name == k)
                        .ok_or_else(|| format!("form field {k:?} is not in the record"))?;
                    f.ty.check_text(v)
                        .map_err(|e| format!("form field {k}: {e}"))?;
                }
                for f in fields.iter().filter(|f| f.required) {
                    if !form.iter().any(|(k, _)| k == f.name) {
                        return Err(format!("form field {} is required", f.name));
                    }
                }
                Ok(())
            }
        }
    }

    /// Why `resp` is not an answer of this operation, if it is not.
    pub fn check_response(&self, resp: &Response) -> Result<(), String> {
        let a = self
            .answers
            .iter()
            .find(|a| a.status == resp.status)
            .ok_or_else(|| format!("status {} is not a documented answer", resp.status))?;
        match a.body {
            None => Ok(()),
            Some(ty) => {
                let v: Value = serde_json::from_str(&resp.body)
                    .map_err(|e| format!("the answer is not JSON: {e}"))?;
                ty.check(&v).map_err(|e| format!("answer: {e}"))
            }
        }
    }
}

/// The operation `method path` is, for `vendor`.
pub fn find(vendor: Vendor, method: &str, path: &str) -> Option<&'static Operation> {
    vendor
        .operations()
        .iter()
        .find(|op| op.matches(method, path))
}

/// Every operation in the record.
pub fn all() -> impl Iterator<Item = (Vendor, &'static Operation)> {
    [Vendor::Genesys, Vendor::Salesforce, Vendor::PagerDuty]
        .into_iter()
        .flat_map(|v| v.operations().iter().map(move |op| (v, op)))
}

/// A handler whose every request and answer is checked against the record as it
/// happens, and logged (`log`), for the vendor fakes.
pub fn checked(
    vendor: Vendor,
    handler: impl Fn(&Request, &str) -> Response + Send + Sync + 'static,
) -> impl Fn(&Request, &str) -> Response + Send + Sync + 'static {
    move |req, base| {
        let resp = handler(req, base);
        log::note(vendor, req, &resp);
        resp
    }
}
