//! The Genesys outbound campaign API: list, read and switch voice and messaging
//! campaigns, through the paced Genesys client (`crate::genesys`).

use serde_json::Value;
use tokio::time::Instant;

use crate::genesys::{ApiError, GenesysApi};
use crate::http;

/// Voice campaigns and messaging campaigns: the same statuses and `version` rule, on
/// two paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Voice,
    Messaging,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Voice, Kind::Messaging];

    pub fn path(self) -> &'static str {
        match self {
            Kind::Voice => "/api/v2/outbound/campaigns",
            Kind::Messaging => "/api/v2/outbound/messagingcampaigns",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Voice => "voice",
            Kind::Messaging => "messaging",
        }
    }

    /// The PUT's query. A voice campaign's `maxCallsPerAgent` may be a decimal, which
    /// Genesys keeps only when the PUT says `useMaxCallsPerAgentDecimal=true` (SDK
    /// `OutboundApi.put_outbound_campaign`; Genesys's Terraform provider always sends
    /// it): without it, our off-and-on round trip could change the pacing a person set.
    /// Messaging campaigns have no such parameter.
    pub fn put_query(self) -> &'static str {
        match self {
            Kind::Voice => "?useMaxCallsPerAgentDecimal=true",
            Kind::Messaging => "",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One campaign as read: the whole body is kept, because a PUT replaces the campaign.
#[derive(Clone, Debug, PartialEq)]
pub struct Campaign {
    pub kind: Kind,
    pub id: String,
    pub name: String,
    pub status: String,
    pub version: i64,
    pub division: Option<String>,
    /// When Genesys last saw it changed (`dateModified`), if it says.
    pub modified: Option<String>,
    body: Value,
}

impl Campaign {
    pub fn from_body(kind: Kind, body: Value) -> Option<Campaign> {
        let id = body.get("id")?.as_str()?.to_string();
        // Ids go into URL paths: refuse anything but a GUID's characters.
        if !http::genesys_id(&id) {
            return None;
        }
        Some(Campaign {
            kind,
            name: crate::genesys::entity_name(&body),
            status: body
                .get("campaignStatus")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            version: body.get("version").and_then(Value::as_i64)?,
            division: body
                .pointer("/division/id")
                .and_then(Value::as_str)
                .map(str::to_string),
            modified: body
                .get("dateModified")
                .and_then(Value::as_str)
                .map(str::to_string),
            id,
            body,
        })
    }

    /// The body of a PUT that switches it to `status`, with the version just read.
    pub fn switched(&self, status: &str) -> Value {
        let mut b = self.body.clone();
        if let Some(o) = b.as_object_mut() {
            o.insert("campaignStatus".into(), Value::String(status.into()));
            o.insert("version".into(), Value::from(self.version));
        }
        b
    }
}

/// The campaign calls of the paced Genesys client: they live with the campaigns they
/// read and write; the client, its pacing and its token live in `crate::genesys`.
impl GenesysApi {
    /// Every campaign of `kind` whose status is `on`, in `divisions` if any are given,
    /// across all pages.
    pub async fn list_on(
        &self,
        kind: Kind,
        divisions: &[String],
        deadline: Instant,
    ) -> Result<Vec<Campaign>, ApiError> {
        let mut out = Vec::new();
        let mut filter = String::new();
        for d in divisions {
            filter.push_str(&format!("&divisionId={d}"));
        }
        // Bounded: Genesys allows 50 active campaigns; 100 pages of 100 is far beyond.
        for page in 1..=100u32 {
            let path = format!("{}?pageSize=100&pageNumber={page}{filter}", kind.path());
            let body = self
                .request(reqwest::Method::GET, &path, None, deadline)
                .await?;
            let entities = body
                .get("entities")
                .and_then(Value::as_array)
                .ok_or(ApiError::Malformed)?;
            for e in entities {
                let c = Campaign::from_body(kind, e.clone()).ok_or(ApiError::Malformed)?;
                let in_division = divisions.is_empty()
                    || c.division.as_ref().is_some_and(|d| divisions.contains(d));
                if c.status == "on" && in_division {
                    out.push(c);
                }
            }
            let pages = body.get("pageCount").and_then(Value::as_u64).unwrap_or(1);
            if u64::from(page) >= pages || entities.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    pub async fn get(&self, kind: Kind, id: &str, deadline: Instant) -> Result<Campaign, ApiError> {
        let path = format!("{}/{id}", kind.path());
        let body = self
            .request(reqwest::Method::GET, &path, None, deadline)
            .await?;
        Campaign::from_body(kind, body).ok_or(ApiError::Malformed)
    }

    /// PUT `c` back with `status` and the version it was read with.
    /// `ApiError::VersionConflict` means the version moved; any other 400, that Genesys
    /// refuses the transition.
    pub async fn switch(
        &self,
        c: &Campaign,
        status: &str,
        deadline: Instant,
    ) -> Result<Campaign, ApiError> {
        let path = format!("{}/{}{}", c.kind.path(), c.id, c.kind.put_query());
        let body = self
            .request(
                reqwest::Method::PUT,
                &path,
                Some(&c.switched(status)),
                deadline,
            )
            .await?;
        Ok(Campaign::from_body(c.kind, body).unwrap_or_else(|| c.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_switch_keeps_the_whole_campaign_and_the_version_read() {
        let body = json!({"id": "c-1", "name": "Renewals", "campaignStatus": "on", "version": 7,
                          "division": {"id": "d1"}, "dialingMode": "preview", "contactList": {"id": "l1"}});
        let c = Campaign::from_body(Kind::Voice, body).unwrap_or_else(|| panic!("parses"));
        let put = c.switched("off");
        assert_eq!(put["campaignStatus"], "off");
        assert_eq!(put["version"], 7);
        assert_eq!(put["contactList"]["id"], "l1");
        assert_eq!(c.division.as_deref(), Some("d1"));
    }

    #[test]
    fn an_id_that_is_not_a_guid_is_refused() {
        for id in ["", "../users", "a b", "x?y=1"] {
            let body = json!({"id": id, "campaignStatus": "on", "version": 1});
            assert_eq!(Campaign::from_body(Kind::Voice, body), None, "{id}");
        }
    }
}
