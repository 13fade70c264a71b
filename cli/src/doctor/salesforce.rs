//! The Salesforce integration user's access: the phone search crm-lookup runs (with
//! the configured tier field), and for the write-back, the object described with its
//! external id field and every mapped field, each one writable.

use serde_json::Value;

use failsoft::http::{self, HttpError};

use super::secrets::Tokens;
use super::{Check, Ctx};

/// Fields the write-back always sets on the record.
const ALWAYS: [&str; 5] = ["Subject", "Status", "TaskSubtype", "ActivityDate", "WhoId"];

pub async fn check(ctx: &Ctx, tokens: &Tokens, out: &mut Vec<Check>) {
    let Some((token, instance)) = &tokens.salesforce else {
        if ctx.var("CRM_SECRET_ID").is_some() {
            out.push(Check::skip(
                "salesforce access",
                "no Salesforce token (see above)",
            ));
        }
        return;
    };
    let env = &ctx.env;
    let crm = match failsoft::crm::CrmConfig::from_env(env) {
        Ok(c) => c,
        Err(e) => {
            out.push(Check::fail(
                "crm settings",
                e.to_string(),
                "set the CRM_* variables as docs/configuration.md says",
            ));
            return;
        }
    };
    let version = crm.salesforce.api_version.clone();
    let base = format!("{}/services/data/{version}", instance.trim_end_matches('/'));
    let get = |url: String| {
        let req = ctx.http.get(url).bearer_auth(token);
        http::send_json(req, ctx.deadline())
    };

    // A search for a number nobody has: the same SOSL shape crm-lookup sends, with the
    // tier field, so a field the user cannot read is found now.
    let sosl = format!(
        "FIND {{\"0000000000\"}} IN PHONE FIELDS RETURNING Contact(Id, Name, AccountId, LastModifiedDate, {} LIMIT 1)",
        crm.salesforce.tier_field.soql()
    );
    let url = reqwest::Url::parse_with_params(&format!("{base}/search/"), &[("q", sosl)]);
    match url {
        Ok(url) => match get(url.to_string()).await {
            Ok(_) => out.push(Check::ok(
                "salesforce: contact search",
                format!(
                    "SOSL on Contact with {} answers",
                    crm.salesforce.tier_field.soql()
                ),
            )),
            Err(e) => out.push(Check::fail(
                "salesforce: contact search",
                e.to_string(),
                status_fix(&e, "Read on Contact and on the fields CRM_TIER_FIELD names"),
            )),
        },
        Err(e) => out.push(Check::fail(
            "salesforce: contact search",
            e.to_string(),
            "check CRM_API_VERSION",
        )),
    }

    if ctx.var("WRITEBACK_QUEUE_URL").is_none() {
        out.push(Check::skip(
            "salesforce: write-back object",
            "WRITEBACK_QUEUE_URL not set",
        ));
        return;
    }
    let target = match failsoft::writeback::target_from_env(env) {
        Ok(t) => t,
        Err(e) => {
            out.push(Check::fail(
                "write-back settings",
                e.to_string(),
                "set WRITEBACK_OBJECT, WRITEBACK_EXTERNAL_ID_FIELD, WRITEBACK_FIELD_MAP as docs/configuration.md says",
            ));
            return;
        }
    };
    let item = format!("salesforce: {} described", target.object);
    let described = match get(format!("{base}/sobjects/{}/describe", target.object)).await {
        Ok(d) => d,
        Err(e) => {
            out.push(Check::fail(
                item,
                e.to_string(),
                status_fix(&e, &format!("Read, Create and Edit on {}", target.object)),
            ));
            return;
        }
    };
    let field = |name: &str| -> Option<&Value> {
        described["fields"]
            .as_array()?
            .iter()
            .find(|f| f["name"].as_str() == Some(name))
    };
    if described["createable"] == false || described["updateable"] == false {
        out.push(Check::fail(
            item,
            "the integration user cannot create and edit it",
            format!("grant Create and Edit on {}", target.object),
        ));
    } else {
        out.push(Check::ok(item, "readable, creatable, editable"));
    }
    let ext = &target.external_id_field;
    match field(ext) {
        Some(f) if f["externalId"] == true => {
            out.push(Check::ok(
                format!("salesforce: external id {ext}"),
                if f["unique"] == true {
                    "an external id, unique"
                } else {
                    "an external id (not unique: the upsert then needs View All Data)"
                },
            ));
        }
        Some(_) => out.push(Check::fail(
            format!("salesforce: external id {ext}"),
            "the field is not marked External ID",
            format!("mark {ext} as External ID (and Unique) in Setup → Object Manager"),
        )),
        None => out.push(Check::fail(
            format!("salesforce: external id {ext}"),
            format!("{} has no field {ext} the user can see", target.object),
            format!("create {ext} (Text, External ID, Unique), or give the user field access"),
        )),
    }
    let f = &target.fields;
    let mapped: Vec<&String> = [&f.queue, &f.wrapup, &f.notes, &f.duration, &f.direction]
        .into_iter()
        .flatten()
        .collect();
    let mut missing = Vec::new();
    for name in ALWAYS
        .iter()
        .map(|s| s.to_string())
        .chain(mapped.into_iter().cloned())
    {
        let writable =
            field(&name).is_some_and(|d| d["createable"] != false && d["updateable"] != false);
        if !writable {
            missing.push(name);
        }
    }
    if missing.is_empty() {
        out.push(Check::ok(
            "salesforce: mapped fields",
            "every field the write-back sets exists and is writable",
        ));
    } else {
        out.push(Check::fail(
            "salesforce: mapped fields",
            format!("missing or not writable: {}", missing.join(", ")),
            "fix WRITEBACK_FIELD_MAP, or give the integration user Edit on those fields",
        ));
    }
}

fn status_fix(e: &HttpError, access: &str) -> String {
    match e.status() {
        Some(401) => "the session was refused: check the connected app's client credentials user".into(),
        Some(403) => format!("give the integration user {access}"),
        Some(400 | 404) => format!("the object or a field does not exist or is hidden: check CRM_API_VERSION, the settings, and {access}"),
        _ => "Salesforce did not answer as documented: try again".into(),
    }
}
