//! The state table's definition, read from the SAM template: tests and local runs create
//! the table from `infra/template.yaml`, never from a second copy of the schema.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    ScalarAttributeType, SseSpecification, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde_yaml::Value;

/// The logical id of the state table in the template.
pub const LOGICAL_ID: &str = "StateTable";
/// The logical id of the last-known context's table.
pub const CONTEXT_LOGICAL_ID: &str = "ContextTable";

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("template is not valid YAML: {0}")]
    Yaml(String),
    #[error("template has no {0}")]
    Missing(String),
    #[error("DynamoDB refused {op}: {message}")]
    Aws { op: &'static str, message: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    pub attributes: Vec<(String, String)>,
    pub keys: Vec<(String, String)>,
    pub billing_mode: String,
    pub ttl_attribute: Option<String>,
    pub point_in_time_recovery: bool,
    pub sse: bool,
    /// The stream's view type (the outage-actions function reads NEW_AND_OLD_IMAGES).
    pub stream_view: Option<String>,
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

fn string(v: &Value, path: &[&str]) -> Option<String> {
    get(v, path).and_then(Value::as_str).map(str::to_string)
}

fn pairs(props: &Value, list: &str, a: &str, b: &str) -> Result<Vec<(String, String)>, TableError> {
    let items = get(props, &[list])
        .and_then(Value::as_sequence)
        .ok_or_else(|| TableError::Missing(format!("Properties.{list}")))?;
    items
        .iter()
        .map(|i| match (string(i, &[a]), string(i, &[b])) {
            (Some(x), Some(y)) => Ok((x, y)),
            _ => Err(TableError::Missing(format!("{list}[].{a}/{b}"))),
        })
        .collect()
}

impl TableSpec {
    /// The state table's spec.
    pub fn from_template(yaml: &str) -> Result<TableSpec, TableError> {
        TableSpec::from_template_resource(yaml, LOGICAL_ID)
    }

    /// The spec of the table `logical_id` of the template.
    pub fn from_template_resource(yaml: &str, logical_id: &str) -> Result<TableSpec, TableError> {
        let doc: Value = serde_yaml::from_str(yaml).map_err(|e| TableError::Yaml(e.to_string()))?;
        let props = get(&doc, &["Resources", logical_id, "Properties"])
            .ok_or_else(|| TableError::Missing(format!("Resources.{logical_id}.Properties")))?;
        let ttl_enabled = get(props, &["TimeToLiveSpecification", "Enabled"])
            .and_then(Value::as_bool)
            == Some(true);
        Ok(TableSpec {
            attributes: pairs(
                props,
                "AttributeDefinitions",
                "AttributeName",
                "AttributeType",
            )?,
            keys: pairs(props, "KeySchema", "AttributeName", "KeyType")?,
            billing_mode: string(props, &["BillingMode"]).unwrap_or_else(|| "PROVISIONED".into()),
            ttl_attribute: string(props, &["TimeToLiveSpecification", "AttributeName"])
                .filter(|_| ttl_enabled),
            point_in_time_recovery: get(
                props,
                &[
                    "PointInTimeRecoverySpecification",
                    "PointInTimeRecoveryEnabled",
                ],
            )
            .and_then(Value::as_bool)
                == Some(true),
            sse: get(props, &["SSESpecification", "SSEEnabled"]).and_then(Value::as_bool)
                == Some(true),
            stream_view: string(props, &["StreamSpecification", "StreamViewType"]),
        })
    }

    /// Create `name` from this spec, with its TTL and point-in-time recovery.
    pub async fn create(&self, client: &Client, name: &str) -> Result<(), TableError> {
        let aws = |op: &'static str| move |e: String| TableError::Aws { op, message: e };
        let mut req = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::from(self.billing_mode.as_str()))
            .sse_specification(SseSpecification::builder().enabled(self.sse).build());
        if let Some(view) = &self.stream_view {
            let spec = StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(view.as_str()))
                .build()
                .map_err(|e| aws("CreateTable")(e.to_string()))?;
            req = req.stream_specification(spec);
        }
        for (attr, ty) in &self.attributes {
            let def = AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::from(ty.as_str()))
                .build()
                .map_err(|e| aws("CreateTable")(e.to_string()))?;
            req = req.attribute_definitions(def);
        }
        for (attr, ty) in &self.keys {
            let key = KeySchemaElement::builder()
                .attribute_name(attr)
                .key_type(KeyType::from(ty.as_str()))
                .build()
                .map_err(|e| aws("CreateTable")(e.to_string()))?;
            req = req.key_schema(key);
        }
        req.send()
            .await
            .map_err(|e| aws("CreateTable")(format!("{:?}", e.into_service_error())))?;
        if let Some(attr) = &self.ttl_attribute {
            let spec = TimeToLiveSpecification::builder()
                .attribute_name(attr)
                .enabled(true)
                .build()
                .map_err(|e| aws("UpdateTimeToLive")(e.to_string()))?;
            client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| aws("UpdateTimeToLive")(format!("{:?}", e.into_service_error())))?;
        }
        if self.point_in_time_recovery {
            let spec = PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(|e| aws("UpdateContinuousBackups")(e.to_string()))?;
            client
                .update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(spec)
                .send()
                .await
                .map_err(|e| {
                    aws("UpdateContinuousBackups")(format!("{:?}", e.into_service_error()))
                })?;
        }
        Ok(())
    }
}
