//! The record's type language: a field is a name, a type and whether it is required;
//! a shape is a list of fields, closed (nothing else may appear) or open (an entity
//! Failsoft reads whole and PUTs back, whose other fields it never touches).

use serde_json::Value;

#[derive(Clone, Copy, Debug)]
pub enum Ty {
    Str,
    /// A JSON integer.
    Int,
    /// Any JSON number.
    Num,
    Bool,
    /// ISO-8601, as a string.
    DateTime,
    Enum(&'static [&'static str]),
    Obj(&'static Shape),
    Arr(&'static Ty),
    /// A string-keyed map of anything.
    Map,
    /// Null or anything: where the definition says nothing more.
    Any,
}

#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
    pub required: bool,
}

/// A field that may be absent.
pub const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: false,
    }
}

/// A field that must be there.
pub const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        required: true,
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub name: &'static str,
    pub fields: &'static [Field],
    /// Other fields may appear (and are not checked).
    pub open: bool,
}

impl Ty {
    /// Why `v` is not of this type, if it is not. Null stands for an absent optional.
    pub fn check(&self, v: &Value) -> Result<(), String> {
        let ok = match (self, v) {
            (Ty::Any, _) => true,
            (_, Value::Null) => true,
            (Ty::Str, Value::String(_)) => true,
            (Ty::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
            (Ty::Num, Value::Number(_)) => true,
            (Ty::Bool, Value::Bool(_)) => true,
            (Ty::DateTime, Value::String(s)) => datetime(s),
            (Ty::Enum(values), Value::String(s)) => {
                return if values.contains(&s.as_str()) {
                    Ok(())
                } else {
                    Err(format!("{s:?} is not one of {values:?}"))
                }
            }
            (Ty::Obj(shape), Value::Object(_)) => return shape.check(v),
            (Ty::Arr(item), Value::Array(items)) => {
                for (i, x) in items.iter().enumerate() {
                    item.check(x).map_err(|e| format!("[{i}]: {e}"))?;
                }
                return Ok(());
            }
            (Ty::Map, Value::Object(_)) => true,
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{} is not {}", kind(v), self.describe()))
        }
    }

    /// The same check for a query parameter's or form field's text.
    pub fn check_text(&self, s: &str) -> Result<(), String> {
        let ok = match self {
            Ty::Int => s.parse::<i64>().is_ok(),
            Ty::Num => s.parse::<f64>().is_ok(),
            Ty::Bool => s == "true" || s == "false",
            Ty::DateTime => datetime(s),
            Ty::Enum(values) => values.contains(&s),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{s:?} is not {}", self.describe()))
        }
    }

    fn describe(&self) -> String {
        match self {
            Ty::Str => "a string".into(),
            Ty::Int => "an integer".into(),
            Ty::Num => "a number".into(),
            Ty::Bool => "a boolean".into(),
            Ty::DateTime => "an ISO-8601 date-time".into(),
            Ty::Enum(v) => format!("one of {v:?}"),
            Ty::Obj(s) => format!("a {}", s.name),
            Ty::Arr(t) => format!("a list of {}", t.describe()),
            Ty::Map => "an object".into(),
            Ty::Any => "anything".into(),
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a decimal number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `YYYY-MM-DDTHH:MM:SS` with anything after (fraction, zone): what the vendors send.
fn datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 19
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
            .iter()
            .all(|&i| b[i].is_ascii_digit())
}

impl Shape {
    /// Why `v` is not of this shape, if it is not.
    pub fn check(&self, v: &Value) -> Result<(), String> {
        let o = v
            .as_object()
            .ok_or_else(|| format!("{} is not a {}", kind(v), self.name))?;
        for f in self.fields {
            match o.get(f.name) {
                None if f.required => return Err(format!("{}.{} is required", self.name, f.name)),
                None => {}
                Some(x) => {
                    f.ty.check(x)
                        .map_err(|e| format!("{}.{}: {e}", self.name, f.name))?
                }
            }
        }
        if !self.open {
            if let Some(k) = o.keys().find(|k| !self.fields.iter().any(|f| f.name == *k)) {
                return Err(format!("{}.{k} is not in the definition", self.name));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static INNER: Shape = Shape {
        name: "Inner",
        fields: &[req("id", Ty::Str)],
        open: false,
    };
    static OUTER: Shape = Shape {
        name: "Outer",
        fields: &[
            req("version", Ty::Int),
            opt("status", Ty::Enum(&["on", "off"])),
            opt("inner", Ty::Obj(&INNER)),
            opt("at", Ty::DateTime),
        ],
        open: false,
    };

    #[test]
    fn types_enums_nesting_and_closed_shapes_are_checked() {
        assert!(OUTER
            .check(&json!({"version": 3, "status": "on", "inner": {"id": "x"}, "at": "2026-11-28T02:41:00.000Z"}))
            .is_ok());
        for bad in [
            json!({"version": "3"}),
            json!({"version": 3.5}),
            json!({"status": "on"}),
            json!({"version": 3, "status": "paused"}),
            json!({"version": 3, "inner": {}}),
            json!({"version": 3, "colour": "red"}),
            json!({"version": 3, "at": "yesterday"}),
        ] {
            assert!(OUTER.check(&bad).is_err(), "{bad}");
        }
    }
}
