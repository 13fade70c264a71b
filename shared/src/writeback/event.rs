//! The after-call-work event as Genesys's EventBridge integration delivers it (through
//! SQS): the envelope's `detail.topicName` and `detail.eventBody`. A message that is not
//! a readable ACW event is poison: retrying it cannot help.

use serde_json::Value;

use crate::http::genesys_id;

/// What a write-back needs from one ACW event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AfterCall {
    pub conversation_id: String,
    pub participant_id: String,
    pub ani: Option<String>,
    pub queue_id: Option<String>,
    pub wrapup_code: Option<String>,
    pub notes: Option<String>,
    pub duration_ms: Option<u64>,
    /// None for `UNKNOWN`, absent, or a value newer than this code.
    pub direction: Option<Direction>,
    pub media: MediaType,
    /// Epoch milliseconds: the SDK model types `eventTime` as an integer.
    pub event_time_ms: Option<i64>,
}

/// `direction` of the ACW event: `UNKNOWN`, `INBOUND` or `OUTBOUND` (SDK model
/// `AcwDetailEventTopicAfterCallWorkEvent`). `UNKNOWN`, or a value added later, is no
/// direction, never poison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// `mediaType` of the ACW event. The SDK model lists `UNKNOWN`, `VOICE`, `CHAT`,
/// `EMAIL`, `CALLBACK`, `COBROWSE`, `VIDEO`, `SCREENSHARE`, `MESSAGE`; the topic fires
/// for each. A value added later is kept as it came (`Other`), never poison.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MediaType {
    Voice,
    Callback,
    Chat,
    Email,
    Message,
    Cobrowse,
    Video,
    Screenshare,
    Unknown,
    Other(String),
}

impl MediaType {
    /// Every value the SDK model lists, as Genesys spells them.
    pub const KNOWN: [&'static str; 9] = [
        "VOICE",
        "CALLBACK",
        "CHAT",
        "EMAIL",
        "MESSAGE",
        "COBROWSE",
        "VIDEO",
        "SCREENSHARE",
        "UNKNOWN",
    ];

    /// From the event's value, case-insensitively; absent is `Unknown`.
    pub fn parse(s: Option<&str>) -> MediaType {
        let Some(s) = s else {
            return MediaType::Unknown;
        };
        match s.to_ascii_uppercase().as_str() {
            "VOICE" => MediaType::Voice,
            "CALLBACK" => MediaType::Callback,
            "CHAT" => MediaType::Chat,
            "EMAIL" => MediaType::Email,
            "MESSAGE" => MediaType::Message,
            "COBROWSE" => MediaType::Cobrowse,
            "VIDEO" => MediaType::Video,
            "SCREENSHARE" => MediaType::Screenshare,
            "UNKNOWN" | "" => MediaType::Unknown,
            other => MediaType::Other(other.chars().take(40).collect()),
        }
    }

    /// As Genesys spells it.
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::Voice => "VOICE",
            MediaType::Callback => "CALLBACK",
            MediaType::Chat => "CHAT",
            MediaType::Email => "EMAIL",
            MediaType::Message => "MESSAGE",
            MediaType::Cobrowse => "COBROWSE",
            MediaType::Video => "VIDEO",
            MediaType::Screenshare => "SCREENSHARE",
            MediaType::Unknown => "UNKNOWN",
            MediaType::Other(s) => s,
        }
    }

    /// A telephone call: a voice interaction, or a callback (which an agent places as
    /// a call). Only these are Salesforce "Call" Tasks with call fields.
    pub fn is_call(&self) -> bool {
        matches!(self, MediaType::Voice | MediaType::Callback)
    }

    /// The word a Task's subject starts with.
    pub fn label(&self) -> &'static str {
        match self {
            MediaType::Voice => "Call",
            MediaType::Callback => "Callback",
            MediaType::Chat => "Chat",
            MediaType::Email => "Email",
            MediaType::Message => "Message",
            MediaType::Cobrowse => "Co-browse",
            MediaType::Video => "Video",
            MediaType::Screenshare => "Screen share",
            MediaType::Unknown | MediaType::Other(_) => "Interaction",
        }
    }
}

/// Why a message can never be written: it goes to the DLQ with this reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Poison {
    #[error("the message is not JSON")]
    NotJson,
    #[error("not an after-call-work event (topic {0:?})")]
    NotAcw(String),
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{0} is not valid")]
    Invalid(&'static str),
}

const TOPIC_PREFIX: &str = "v2.detail.events.conversation.";
/// Salesforce's Task description holds 32,000 characters; notes are clipped to it.
pub const MAX_NOTES: usize = 32_000;
/// Wrap-up codes, queue ids and the like are short; anything longer is not Genesys's.
const MAX_SHORT: usize = 255;

impl AfterCall {
    /// Parse one SQS message body (the EventBridge event, as the rule's target sends it).
    pub fn parse(body: &str) -> Result<AfterCall, Poison> {
        let v: Value = serde_json::from_str(body).map_err(|_| Poison::NotJson)?;
        let detail = v.get("detail").ok_or(Poison::Missing("detail"))?;
        let topic = detail
            .get("topicName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !(topic.starts_with(TOPIC_PREFIX) && topic.ends_with(".acw")) {
            return Err(Poison::NotAcw(topic.chars().take(120).collect()));
        }
        let b = detail
            .get("eventBody")
            .ok_or(Poison::Missing("detail.eventBody"))?;
        let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
        let id = |k: &'static str| -> Result<String, Poison> {
            let s = text(k).ok_or(Poison::Missing(k))?;
            genesys_id(&s).then_some(s).ok_or(Poison::Invalid(k))
        };
        let short = |k: &'static str| -> Result<Option<String>, Poison> {
            match text(k) {
                Some(s) if s.chars().count() > MAX_SHORT => Err(Poison::Invalid(k)),
                other => Ok(other.filter(|s| !s.is_empty())),
            }
        };
        let duration_ms = match b.get("wrapupDurationMs") {
            None | Some(Value::Null) => None,
            Some(d) => Some(d.as_u64().ok_or(Poison::Invalid("wrapupDurationMs"))?),
        };
        let direction = match short("direction")?
            .map(|d| d.to_ascii_uppercase())
            .as_deref()
        {
            Some("INBOUND") => Some(Direction::Inbound),
            Some("OUTBOUND") => Some(Direction::Outbound),
            _ => None,
        };
        // An integer (epoch ms) as the SDK model says; a time we cannot read leaves the
        // activity undated rather than losing the record.
        let event_time_ms = b
            .get("eventTime")
            .and_then(Value::as_i64)
            .filter(|ms| (0..=253_402_300_799_999).contains(ms));
        Ok(AfterCall {
            conversation_id: id("conversationId")?,
            participant_id: id("participantId")?,
            ani: short("ani")?,
            queue_id: short("queueId")?,
            wrapup_code: short("wrapupCode")?,
            notes: text("wrapupNotes").map(|n| n.chars().take(MAX_NOTES).collect()),
            duration_ms,
            direction,
            media: MediaType::parse(b.get("mediaType").and_then(Value::as_str)),
            event_time_ms,
        })
    }

    /// The activity's day (UTC, `YYYY-MM-DD`), from `eventTime`.
    pub fn activity_date(&self) -> Option<String> {
        self.event_time_ms
            .map(|ms| crate::clock::iso8601(ms).chars().take(10).collect())
    }

    /// The external id the Task is upserted by: one per conversation and participant, so
    /// a redelivered event updates and never duplicates.
    pub fn external_id(&self) -> String {
        format!("{}:{}", self.conversation_id, self.participant_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(body: Value) -> String {
        json!({
            "version": "0",
            "detail-type": "v2.detail.events.conversation.{id}.acw",
            "source": "aws.partner/genesys.com/cloud/org/acw",
            "detail": {"topicName": "v2.detail.events.conversation.c0ffee00-0000-4000-8000-000000000001.acw",
                       "eventBody": body, "metadata": {"CorrelationId": "x"}}
        })
        .to_string()
    }

    fn acw() -> Value {
        json!({"eventTime": 1_795_833_660_000_i64, "conversationId": "c0ffee00-0000-4000-8000-000000000001",
               "participantId": "9a9a0000-0000-4000-8000-000000000002", "direction": "INBOUND", "mediaType": "VOICE",
               "ani": "tel:+13175550123", "queueId": "q-sales", "wrapupCode": "Resolved",
               "wrapupNotes": "Customer asked about renewal", "wrapupDurationMs": 42000})
    }

    #[test]
    fn reads_an_acw_event_from_its_envelope() {
        let c = AfterCall::parse(&envelope(acw())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.external_id(),
            "c0ffee00-0000-4000-8000-000000000001:9a9a0000-0000-4000-8000-000000000002"
        );
        assert_eq!(c.direction, Some(Direction::Inbound));
        assert_eq!(c.media, MediaType::Voice);
        assert_eq!(c.duration_ms, Some(42_000));
        // eventTime is epoch milliseconds: 2026-11-28T02:41:00Z.
        assert_eq!(c.activity_date().as_deref(), Some("2026-11-28"));
        assert_eq!(c.wrapup_code.as_deref(), Some("Resolved"));
    }

    #[test]
    fn what_cannot_be_written_is_poison_with_its_reason() {
        assert_eq!(AfterCall::parse("{not json"), Err(Poison::NotJson));
        let other =
            json!({"detail": {"topicName": "v2.users.x.presence", "eventBody": {}}}).to_string();
        assert!(matches!(AfterCall::parse(&other), Err(Poison::NotAcw(_))));
        let mut b = acw();
        b["conversationId"] = json!("../sobjects/User");
        assert_eq!(
            AfterCall::parse(&envelope(b)),
            Err(Poison::Invalid("conversationId"))
        );
        let mut b = acw();
        b.as_object_mut().map(|o| o.remove("participantId"));
        assert_eq!(
            AfterCall::parse(&envelope(b)),
            Err(Poison::Missing("participantId"))
        );
        let mut b = acw();
        b["wrapupDurationMs"] = json!("long");
        assert_eq!(
            AfterCall::parse(&envelope(b)),
            Err(Poison::Invalid("wrapupDurationMs"))
        );
    }

    #[test]
    fn unknown_enum_values_are_never_poison() {
        for (direction, want) in [
            ("UNKNOWN", None),
            ("SIDEWAYS", None),
            ("OUTBOUND", Some(Direction::Outbound)),
        ] {
            let mut b = acw();
            b["direction"] = json!(direction);
            let c = AfterCall::parse(&envelope(b)).unwrap_or_else(|e| panic!("{direction}: {e}"));
            assert_eq!(c.direction, want, "{direction}");
        }
        for m in MediaType::KNOWN {
            let mut b = acw();
            b["mediaType"] = json!(m);
            let c = AfterCall::parse(&envelope(b)).unwrap_or_else(|e| panic!("{m}: {e}"));
            assert_eq!(c.media.as_str(), m);
        }
        let mut b = acw();
        b["mediaType"] = json!("HOLOGRAM");
        let c = AfterCall::parse(&envelope(b)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.media, MediaType::Other("HOLOGRAM".into()));
        assert!(!c.media.is_call());
        // A time that is not epoch ms leaves the activity undated, nothing more.
        let mut b = acw();
        b["eventTime"] = json!("yesterday");
        let c = AfterCall::parse(&envelope(b)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.activity_date(), None);
    }

    #[test]
    fn notes_are_clipped_to_what_salesforce_holds() {
        let mut b = acw();
        b["wrapupNotes"] = json!("é".repeat(MAX_NOTES + 10));
        let c = AfterCall::parse(&envelope(b)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.notes.map(|n| n.chars().count()), Some(MAX_NOTES));
    }
}
