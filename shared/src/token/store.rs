//! The token item: the port and its DynamoDB adapter. Only this module knows the layout
//! (`pk = "token#<provider>"`, see README).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use crate::clock::Millis;
use crate::store::classify_sdk_error;
use crate::store::StoreError;

/// A token as the fleet shares it. Its Debug never shows the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    pub access_token: String,
    /// Salesforce: the API base from the token response.
    pub instance_url: Option<String>,
    /// When the token really expires (epoch ms).
    pub expires_ms: Millis,
    /// When it was issued (epoch ms).
    pub issued_ms: Millis,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("instance_url", &self.instance_url)
            .field("expires_ms", &self.expires_ms)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenRecord {
    pub token: Option<Token>,
    pub fetched_ms: Millis,
    /// Who holds the refresh lease, until when.
    pub lease: Option<(String, Millis)>,
    /// No request to the token endpoint before this (a 429's Retry-After, fleet-wide).
    pub not_before_ms: Millis,
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    async fn load(&self, provider: &str) -> Result<TokenRecord, StoreError>;
    /// Take the refresh lease if nobody holds a live one.
    async fn try_lease(
        &self,
        provider: &str,
        owner: &str,
        now: Millis,
        until: Millis,
    ) -> Result<bool, StoreError>;
    /// Store a fresh token and drop the lease, if `owner` still holds it.
    async fn save(
        &self,
        provider: &str,
        owner: &str,
        token: &Token,
        now: Millis,
    ) -> Result<bool, StoreError>;
    /// Drop `owner`'s lease; optionally hold every instance off until `not_before`.
    async fn release(
        &self,
        provider: &str,
        owner: &str,
        not_before: Option<Millis>,
    ) -> Result<(), StoreError>;
    /// Mark `token` expired (a 401), unless a newer token has replaced it.
    async fn invalidate(&self, provider: &str, token: &Token) -> Result<(), StoreError>;
}

pub struct DynamoTokenStore {
    client: Client,
    table: String,
    seal: Option<KmsSeal>,
}

impl DynamoTokenStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoTokenStore {
            client,
            table: table.into(),
            seal: None,
        }
    }

    /// Keep token values encrypted under a KMS key: the table, its point-in-time
    /// backups and its exports then hold no usable bearer token.
    pub fn sealed_with(mut self, seal: KmsSeal) -> Self {
        self.seal = Some(seal);
        self
    }
}

/// Encrypts token values with a KMS key, bound to their provider by the encryption
/// context: a role may be allowed to open one provider's tokens only.
pub struct KmsSeal {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsSeal {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> KmsSeal {
        KmsSeal {
            client,
            key_id: key_id.into(),
        }
    }

    async fn seal(&self, provider: &str, token: &str) -> Result<Vec<u8>, StoreError> {
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(token.as_bytes()))
            .encryption_context("provider", provider)
            .send()
            .await
            .map_err(classify_sdk_error)?;
        out.ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| StoreError::Corrupt("KMS returned no ciphertext".into()))
    }

    async fn open(&self, provider: &str, sealed: &[u8]) -> Result<String, StoreError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(sealed))
            .encryption_context("provider", provider)
            .send()
            .await
            .map_err(classify_sdk_error)?;
        let plain = out
            .plaintext()
            .ok_or_else(|| StoreError::Corrupt("KMS returned no plaintext".into()))?;
        String::from_utf8(plain.as_ref().to_vec())
            .map_err(|_| StoreError::Corrupt("sealed token is not text".into()))
    }
}

pub const PREFIX: &str = "token#";
/// A token item outlives its token by this long before DynamoDB's TTL removes it.
const TTL_GRACE_S: i64 = 86_400;

fn key(provider: &str) -> AttributeValue {
    AttributeValue::S(format!("{PREFIX}{provider}"))
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn num(item: &HashMap<String, AttributeValue>, k: &str) -> Millis {
    item.get(k)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
fn text(item: &HashMap<String, AttributeValue>, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

/// A token's fingerprint (SHA-256, hex): how a refused token is named in a condition
/// without its value, which a sealed item does not hold in the clear.
fn fingerprint(token: &str) -> AttributeValue {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    AttributeValue::S(d.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// The token an item holds, given its value (read plain, or opened).
fn token_of(item: &HashMap<String, AttributeValue>, access_token: String) -> Token {
    Token {
        access_token,
        instance_url: text(item, "instance_url"),
        expires_ms: num(item, "expires_ms"),
        issued_ms: num(item, "fetched_ms"),
    }
}

fn from_item(item: &HashMap<String, AttributeValue>) -> TokenRecord {
    TokenRecord {
        token: text(item, "token").map(|t| token_of(item, t)),
        fetched_ms: num(item, "fetched_ms"),
        lease: text(item, "lease_owner").map(|o| (o, num(item, "lease_exp"))),
        not_before_ms: num(item, "not_before_ms"),
    }
}

/// A failed condition is an answer here (`false`), not an error.
fn condition_failed<R>(e: &SdkError<UpdateItemError, R>) -> bool {
    matches!(e, SdkError::ServiceError(se) if matches!(se.err(), UpdateItemError::ConditionalCheckFailedException(_)))
}

impl DynamoTokenStore {
    async fn update(
        &self,
        provider: &str,
        expr: &str,
        cond: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", key(provider))
            .update_expression(expr)
            .condition_expression(cond);
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        if expr.contains("#t") || cond.contains("#t") {
            // `token` is a DynamoDB reserved word.
            req = req.expression_attribute_names("#t", "token");
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(classify_sdk_error(e)),
        }
    }
}

#[async_trait]
impl TokenStore for DynamoTokenStore {
    async fn load(&self, provider: &str) -> Result<TokenRecord, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", key(provider))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify_sdk_error)?;
        let Some(item) = out.item() else {
            return Ok(TokenRecord::default());
        };
        let mut rec = from_item(item);
        // A sealed value is opened here; a plain one (written before sealing was turned
        // on) is read as it is, and sealed by the next refresh.
        if let (Some(AttributeValue::B(sealed)), Some(seal)) = (item.get("token"), &self.seal) {
            rec.token = Some(token_of(item, seal.open(provider, sealed.as_ref()).await?));
        }
        Ok(rec)
    }

    async fn try_lease(
        &self,
        provider: &str,
        owner: &str,
        now: Millis,
        until: Millis,
    ) -> Result<bool, StoreError> {
        self.update(
            provider,
            "SET lease_owner = :o, lease_exp = :u",
            "attribute_not_exists(lease_exp) OR lease_exp < :now",
            vec![
                (":o", AttributeValue::S(owner.into())),
                (":u", n(until)),
                (":now", n(now)),
            ],
        )
        .await
    }

    async fn save(
        &self,
        provider: &str,
        owner: &str,
        token: &Token,
        now: Millis,
    ) -> Result<bool, StoreError> {
        let url = token.instance_url.clone().unwrap_or_default();
        let (value, cond) = match &self.seal {
            Some(seal) => (
                AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                    seal.seal(provider, &token.access_token).await?,
                )),
                "lease_owner = :o",
            ),
            // A process without the key (an operator's CLI run without
            // TOKEN_KMS_KEY_ID, say) never puts a live token in clear text where the
            // fleet keeps it sealed: it may replace only a plain value, or none. It
            // keeps its token in memory instead.
            None => (
                AttributeValue::S(token.access_token.clone()),
                "lease_owner = :o AND (attribute_not_exists(#t) OR attribute_type(#t, :plain))",
            ),
        };
        let mut values = vec![
            (":t", value),
            (":sha", fingerprint(&token.access_token)),
            (":url", AttributeValue::S(url)),
            (":e", n(token.expires_ms)),
            (":now", n(now)),
            (":ttl", n(token.expires_ms / 1000 + TTL_GRACE_S)),
            (":zero", n(0)),
            (":o", AttributeValue::S(owner.into())),
        ];
        if self.seal.is_none() {
            values.push((":plain", AttributeValue::S("S".into())));
        }
        self.update(
            provider,
            "SET #t = :t, token_sha = :sha, instance_url = :url, expires_ms = :e, fetched_ms = :now, expires_at = :ttl, not_before_ms = :zero \
             REMOVE lease_owner, lease_exp",
            cond,
            values,
        )
        .await
    }

    async fn release(
        &self,
        provider: &str,
        owner: &str,
        not_before: Option<Millis>,
    ) -> Result<(), StoreError> {
        let (expr, mut values) = match not_before {
            Some(nb) => (
                "SET not_before_ms = :nb REMOVE lease_owner, lease_exp",
                vec![(":nb", n(nb))],
            ),
            None => ("REMOVE lease_owner, lease_exp", vec![]),
        };
        values.push((":o", AttributeValue::S(owner.into())));
        self.update(provider, expr, "lease_owner = :o", values)
            .await
            .map(|_| ())
    }

    async fn invalidate(&self, provider: &str, token: &Token) -> Result<(), StoreError> {
        // The token is known by its fingerprint (a sealed value differs at every
        // encryption), or by its value in an item written before fingerprints.
        self.update(
            provider,
            "SET expires_ms = :zero",
            "token_sha = :sha OR #t = :t",
            vec![
                (":zero", n(0)),
                (":sha", fingerprint(&token.access_token)),
                (":t", AttributeValue::S(token.access_token.clone())),
            ],
        )
        .await
        .map(|_| ())
    }
}
