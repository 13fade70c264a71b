//! PagerDuty Events API v2: the one operation Failsoft calls, from PagerDuty's
//! developer docs (`PagerDuty/developer-docs`, `docs/events-API-v2/`: "Send an Alert
//! Event", "Resolve an Alert"): `summary` at most 1,024 characters, `dedup_key` at most
//! 255, `severity` one of four, 202 accepted, 400 invalid, 429 and 5xx retried.

use super::shape::{opt, req, Shape, Ty};
use super::{Answer, Body, Operation, Perms};

const STR: Ty = Ty::Str;

static LINK: Shape = Shape {
    name: "Link",
    fields: &[req("href", STR), opt("text", STR)],
    open: false,
};

static PAYLOAD: Shape = Shape {
    name: "Payload",
    fields: &[
        req("summary", STR),
        req("source", STR),
        req(
            "severity",
            Ty::Enum(&["critical", "error", "warning", "info"]),
        ),
        opt("timestamp", Ty::DateTime),
        opt("component", STR),
        opt("group", STR),
        opt("class", STR),
        opt("custom_details", Ty::Any),
    ],
    open: false,
};

static EVENT: Shape = Shape {
    name: "Event",
    fields: &[
        req("routing_key", STR),
        req(
            "event_action",
            Ty::Enum(&["trigger", "acknowledge", "resolve"]),
        ),
        opt("dedup_key", STR),
        opt("payload", Ty::Obj(&PAYLOAD)),
        opt("links", Ty::Arr(&Ty::Obj(&LINK))),
        opt("images", Ty::Any),
        opt("client", STR),
        opt("client_url", STR),
    ],
    open: false,
};

static ACCEPTED: Shape = Shape {
    name: "Accepted",
    fields: &[
        req("status", STR),
        opt("message", STR),
        opt("dedup_key", STR),
        opt("errors", Ty::Arr(&STR)),
    ],
    open: false,
};

/// The operation.
pub static OPERATIONS: &[Operation] = &[Operation {
    name: "Events API v2 enqueue",
    method: "POST",
    path: "/v2/enqueue",
    permissions: Perms::None,
    query: &[],
    request: Body::Json(&EVENT),
    answers: &[
        Answer {
            status: 202,
            body: Some(Ty::Obj(&ACCEPTED)),
            meaning: "accepted",
        },
        Answer {
            status: 400,
            body: Some(Ty::Obj(&ACCEPTED)),
            meaning: "invalid event: do not retry",
        },
        Answer {
            status: 429,
            body: None,
            meaning: "too many events: retry with backoff",
        },
        Answer {
            status: 500,
            body: None,
            meaning: "retry with backoff",
        },
        Answer {
            status: 503,
            body: None,
            meaning: "retry with backoff",
        },
    ],
    source: "PagerDuty/developer-docs docs/events-API-v2/ (trigger, resolve, response codes)",
}];

/// The Events API's own limits beyond types: summary and dedup key lengths.
pub fn limits(event: &serde_json::Value) -> Result<(), String> {
    let summary = event["payload"]["summary"].as_str().unwrap_or_default();
    if summary.chars().count() > 1024 {
        return Err("payload.summary is over 1,024 characters".into());
    }
    let key = event["dedup_key"].as_str().unwrap_or_default();
    if key.chars().count() > 255 {
        return Err("dedup_key is over 255 characters".into());
    }
    if event["event_action"] == "trigger" && event.get("payload").is_none() {
        return Err("a trigger needs a payload".into());
    }
    Ok(())
}
