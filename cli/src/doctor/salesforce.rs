//! The Salesforce integration user's access: the phone search crm-lookup runs (with
//! the configured tier field), and for the write-back, the object described with its
//! external id field and every mapped field, each one writable.

use serde_json::Value;

use failsoft::http::{self, HttpError};
use failsoft::writeback::Target;

use super::secrets::Tokens;
use super::{Check, Ctx};

/// Fields the write-back always sets on the record.
const ALWAYS: [&str; 5] = ["Subject", "Status", "TaskSubtype", "ActivityDate", "WhoId"];

/// The org as the integration user sees it: the data API at one version, with its token.
struct Org<'a> {
    ctx: &'a Ctx,
    token: &'a str,
    base: String,
}

impl Org<'_> {
    async fn get(&self, url: String) -> Result<Value, HttpError> {
        let req = self.ctx.http.get(url).bearer_auth(self.token);
        http::send_json(req, self.ctx.deadline()).await
    }
}

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
    let crm = match failsoft::crm::CrmConfig::from_env(&ctx.env) {
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
    let org = Org {
        ctx,
        token,
        base: format!(
            "{}/services/data/{}",
            instance.trim_end_matches('/'),
            crm.salesforce.api_version
        ),
    };
    contact_search(&org, &crm, out).await;
    if ctx.var("WRITEBACK_QUEUE_URL").is_none() {
        out.push(Check::skip(
            "salesforce: write-back object",
            "WRITEBACK_QUEUE_URL not set",
        ));
        return;
    }
    write_back_object(&org, out).await;
}

/// A search for a number nobody has: the same SOSL shape crm-lookup sends, with the
/// tier field, so a field the user cannot read is found now.
async fn contact_search(org: &Org<'_>, crm: &failsoft::crm::CrmConfig, out: &mut Vec<Check>) {
    let item = "salesforce: contact search";
    let tier = crm.salesforce.tier_field.soql();
    let sosl = format!(
        "FIND {{\"0000000000\"}} IN PHONE FIELDS RETURNING Contact(Id, Name, AccountId, LastModifiedDate, {tier} LIMIT 1)"
    );
    let url =
        match reqwest::Url::parse_with_params(&format!("{}/search/", org.base), &[("q", sosl)]) {
            Ok(url) => url,
            Err(e) => return out.push(Check::fail(item, e.to_string(), "check CRM_API_VERSION")),
        };
    match org.get(url.to_string()).await {
        Ok(_) => out.push(Check::ok(
            item,
            format!("SOSL on Contact with {tier} answers"),
        )),
        Err(e) => out.push(Check::fail(
            item,
            e.to_string(),
            status_fix(&e, "Read on Contact and on the fields CRM_TIER_FIELD names"),
        )),
    }
}

/// The write-back's object, described: the settings read, then what the user may do.
async fn write_back_object(org: &Org<'_>, out: &mut Vec<Check>) {
    let target = match failsoft::writeback::target_from_env(&org.ctx.env) {
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
    let url = format!("{}/sobjects/{}/describe", org.base, target.object);
    match org.get(url).await {
        Ok(described) => judge_described(&described, &target, out),
        Err(e) => out.push(Check::fail(
            format!("salesforce: {} described", target.object),
            e.to_string(),
            status_fix(&e, &format!("Read, Create and Edit on {}", target.object)),
        )),
    }
}

/// What a describe answer says of the write-back: the object creatable and editable, the
/// external id field marked so, and every field the write-back sets writable. Pure, so
/// that each verdict is tested on a describe answer as Salesforce documents it.
fn judge_described(described: &Value, target: &Target, out: &mut Vec<Check>) {
    let field = |name: &str| -> Option<&Value> {
        described["fields"]
            .as_array()?
            .iter()
            .find(|f| f["name"].as_str() == Some(name))
    };
    let item = format!("salesforce: {} described", target.object);
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
    let ext_item = format!("salesforce: external id {ext}");
    out.push(match field(ext) {
        Some(f) if f["externalId"] == true => Check::ok(
            ext_item,
            if f["unique"] == true {
                "an external id, unique"
            } else {
                "an external id (not unique: the upsert then needs View All Data)"
            },
        ),
        Some(_) => Check::fail(
            ext_item,
            "the field is not marked External ID",
            format!("mark {ext} as External ID (and Unique) in Setup → Object Manager"),
        ),
        None => Check::fail(
            ext_item,
            format!("{} has no field {ext} the user can see", target.object),
            format!("create {ext} (Text, External ID, Unique), or give the user field access"),
        ),
    });
    let f = &target.fields;
    let mapped = [&f.queue, &f.wrapup, &f.notes, &f.duration, &f.direction]
        .into_iter()
        .flatten()
        .cloned();
    let missing: Vec<String> = ALWAYS
        .iter()
        .map(|s| s.to_string())
        .chain(mapped)
        .filter(|name| {
            !field(name).is_some_and(|d| d["createable"] != false && d["updateable"] != false)
        })
        .collect();
    out.push(if missing.is_empty() {
        Check::ok(
            "salesforce: mapped fields",
            "every field the write-back sets exists and is writable",
        )
    } else {
        Check::fail(
            "salesforce: mapped fields",
            format!("missing or not writable: {}", missing.join(", ")),
            "fix WRITEBACK_FIELD_MAP, or give the integration user Edit on those fields",
        )
    });
}

fn status_fix(e: &HttpError, access: &str) -> String {
    match e.status() {
        Some(401) => "the session was refused: check the connected app's client credentials user".into(),
        Some(403) => format!("give the integration user {access}"),
        Some(400 | 404) => format!("the object or a field does not exist or is hidden: check CRM_API_VERSION, the settings, and {access}"),
        _ => "Salesforce did not answer as documented: try again".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A describe answer as the REST API Developer Guide's `sObject Describe` gives it
    /// (`DescribeSObjectResult`: `createable`, `updateable`, `fields[]` with `name`,
    /// `createable`, `updateable`, `externalId`, `unique`), for a Task whose external id
    /// field is `Genesys_Interaction_Id__c`.
    fn task(external: bool, description_writable: bool) -> Value {
        let f = |name: &str, writable: bool| {
            json!({"name": name, "createable": writable, "updateable": writable,
                   "externalId": false, "unique": false})
        };
        let mut fields: Vec<Value> = ALWAYS.iter().map(|n| f(n, true)).collect();
        fields.push(f("Description", description_writable));
        fields.push(f("CallObject", true));
        fields.push(f("CallDurationInSeconds", true));
        fields.push(f("CallType", true));
        fields.push(f("CallDisposition", true));
        fields.push(
            json!({"name": "Genesys_Interaction_Id__c", "createable": true,
            "updateable": true, "externalId": external, "unique": true}),
        );
        json!({"name": "Task", "createable": true, "updateable": true, "fields": fields})
    }

    /// The write-back's target with every setting at its default.
    fn target() -> Option<Target> {
        let unset = |_: &str| -> Option<String> { None };
        failsoft::writeback::target_from_env(&unset).ok()
    }

    fn verdicts(described: &Value) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        if let Some(t) = target() {
            judge_described(described, &t, &mut out);
        }
        out.iter()
            .map(|c| (c.item.clone(), c.status == super::super::Status::Ok))
            .collect()
    }

    #[test]
    fn a_task_as_the_write_back_needs_it_passes_every_check() {
        let v = verdicts(&task(true, true));
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(v.iter().all(|(_, ok)| *ok), "{v:?}");
    }

    #[test]
    fn an_external_id_not_marked_so_and_a_read_only_field_each_fail_alone() {
        let v = verdicts(&task(false, true));
        assert_eq!(v.iter().filter(|(_, ok)| !ok).count(), 1, "{v:?}");
        assert!(v.iter().any(|(i, ok)| i.contains("external id") && !ok));
        let v = verdicts(&task(true, false));
        assert_eq!(v.iter().filter(|(_, ok)| !ok).count(), 1, "{v:?}");
        assert!(v.iter().any(|(i, ok)| i.contains("mapped fields") && !ok));
    }

    #[test]
    fn an_object_the_user_cannot_edit_fails() {
        let mut d = task(true, true);
        d["updateable"] = json!(false);
        let v = verdicts(&d);
        assert!(
            v.iter().any(|(i, ok)| i.contains("described") && !ok),
            "{v:?}"
        );
    }
}
