//! One world for the in-process tests: moto with a fresh state table, a clock the test
//! moves, the three vendors' fakes with their secrets in place, and, when asked, the
//! write-back queue and its DLQ. A test builds it with [`World::builder`], says only what
//! differs from the default, and builds the code under test from it as the functions do:
//! the same clients (`services`) and the same variables (`env`).
//!
//! The vendors are always there because a fake is an in-process listener that costs
//! nothing until called; a test that wants a vendor down injects a fault instead, which
//! is what an outage looks like to the code.

use std::sync::Arc;

use anyhow::Result;
use failsoft::breaker::{Breaker, BreakerStore, DynamoBreakerStore, GuardSettings, Policy};
use failsoft::clock::ManualClock;
use failsoft::service::Services;
use serde_json::json;

use crate::fakes::genesys::FakeGenesys;
use crate::fakes::http::FakeServer;
use crate::fakes::pagerduty::FakePagerDuty;
use crate::fakes::salesforce::{self, FakeContact, Org};
use crate::moto::Moto;
use crate::{create_secret, fresh_table, moto, private_moto, sdk_config, Emulator};

/// Where the tests' clocks start: a fixed instant, so that stored times read the same in
/// every run.
pub const T0: i64 = 1_800_000_000_000;

/// The routing key in the PagerDuty secret.
pub const ROUTING_KEY: &str = "R0UTING";

/// The write-back queue and its dead-letter queue, made as the template makes them.
pub struct Queues {
    pub queue: String,
    pub dlq: String,
}

/// What a test asks of its world. Everything has a default; see [`World::builder`].
pub struct Builder {
    start_ms: i64,
    contacts: Vec<FakeContact>,
    granted: Option<Vec<String>>,
    queues: Option<u32>,
    vars: Vec<(String, String)>,
    private: bool,
}

impl Builder {
    /// A moto of the world's own, stopped with it: for tests with dozens of actors at
    /// once, whose queue in the suite's serialised server would hold others up.
    pub fn private_moto(mut self) -> Builder {
        self.private = true;
        self
    }

    /// Start the clock at `ms` instead of [`T0`].
    pub fn clock_at(mut self, ms: i64) -> Builder {
        self.start_ms = ms;
        self
    }

    /// The CRM knows these contacts (none by default).
    pub fn contacts(mut self, contacts: Vec<FakeContact>) -> Builder {
        self.contacts = contacts;
        self
    }

    /// The Genesys client holds exactly `permissions` instead of the README's list.
    pub fn genesys_granted(mut self, permissions: &[&str]) -> Builder {
        self.granted = Some(permissions.iter().map(|p| p.to_string()).collect());
        self
    }

    /// Make the write-back queue and its DLQ, with this visibility timeout.
    pub fn queues(mut self, visibility_s: u32) -> Builder {
        self.queues = Some(visibility_s);
        self
    }

    /// Set a function variable beyond the ones the world sets itself.
    pub fn var(mut self, name: &str, value: impl Into<String>) -> Builder {
        put(&mut self.vars, name, value.into());
        self
    }

    pub async fn build(self) -> Result<World> {
        let own = if self.private {
            Some(private_moto()?)
        } else {
            None
        };
        let m = match &own {
            Some(m) => m,
            None => moto()?,
        };
        let (_, table) = fresh_table(&m.url).await?;
        let genesys = match &self.granted {
            Some(g) => {
                let g: Vec<&str> = g.iter().map(String::as_str).collect();
                FakeGenesys::start_granted(&g).await?
            }
            None => FakeGenesys::start().await?,
        };
        let pd = FakePagerDuty::start().await?;
        let (sf, org) = salesforce::start_org(self.contacts).await?;
        let secrets = [
            (
                format!("gc-{table}"),
                json!({"client_id": "id", "client_secret": "s"}),
            ),
            (format!("pd-{table}"), json!({"routing_key": ROUTING_KEY})),
            (format!("crm-{table}"), salesforce::credentials(&sf.url)),
        ];
        for (name, value) in &secrets {
            create_secret(&m.url, name, value).await?;
        }
        let queues = match self.queues {
            Some(v) => {
                let (queue, dlq) =
                    crate::sqs_pump::create_queues(&m.url, &format!("wb-{table}"), v).await?;
                Some(Queues { queue, dlq })
            }
            None => None,
        };
        let clock = Arc::new(ManualClock::new(self.start_ms));
        let services = crate::services(&m.url, &table, clock.clone()).await;
        let mut vars: Vec<(String, String)> = [
            ("GENESYS_SECRET_ID", format!("gc-{table}")),
            ("GENESYS_API_URL", genesys.server.url.clone()),
            (
                "GENESYS_LOGIN_URL",
                format!("{}/oauth/token", genesys.server.url),
            ),
            ("ALERT_SECRET_ID", format!("pd-{table}")),
            ("PAGERDUTY_EVENTS_URL", pd.events_url()),
            ("CRM_SECRET_ID", format!("crm-{table}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(q) = &queues {
            vars.push(("WRITEBACK_QUEUE_URL".into(), q.queue.clone()));
            vars.push(("WRITEBACK_DLQ_URL".into(), q.dlq.clone()));
        }
        for (k, v) in self.vars {
            put(&mut vars, &k, v);
        }
        Ok(World {
            url: m.url.clone(),
            _moto: own,
            table,
            clock,
            services,
            genesys,
            pd,
            sf,
            org,
            queues,
            vars,
        })
    }
}

/// A test's world. Fields are public: tests read the fakes' books and move the clock.
pub struct World {
    /// moto's URL.
    pub url: String,
    /// This test's state table.
    pub table: String,
    pub clock: Arc<ManualClock>,
    /// The clients a function builds once (`Services::build`), on this world's clock.
    pub services: Services,
    pub genesys: FakeGenesys,
    pub pd: FakePagerDuty,
    pub sf: FakeServer,
    pub org: Org,
    pub queues: Option<Queues>,
    vars: Vec<(String, String)>,
    /// The world's own moto, if it asked for one (`Builder::private_moto`).
    _moto: Option<Moto>,
}

impl World {
    /// A world with every default: clock at [`T0`], no CRM contacts, the README's
    /// Genesys grants, no queues.
    pub fn builder() -> Builder {
        Builder {
            start_ms: T0,
            contacts: Vec::new(),
            granted: None,
            queues: None,
            vars: Vec::new(),
            private: false,
        }
    }

    /// The function variables this world sets, as a function reads them.
    pub fn env(&self) -> impl Fn(&str) -> Option<String> + '_ {
        move |k: &str| {
            self.vars
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        }
    }

    /// A function variable's value, or the empty string.
    pub fn var(&self, name: &str) -> String {
        self.env()(name).unwrap_or_default()
    }

    /// Set (or replace) a function variable after the world is built.
    pub fn set_var(&mut self, name: &str, value: impl Into<String>) {
        put(&mut self.vars, name, value.into());
    }

    /// The variables for a real binary under the emulator: AWS against moto, the table,
    /// and this world's variables.
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = Emulator::aws_env(&self.url, &self.table)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.extend(self.vars.iter().cloned());
        env
    }

    /// A DynamoDB client of its own, as another Lambda instance would have.
    pub async fn dynamo(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&sdk_config(&self.url).await)
    }

    /// A breaker store with a client of its own.
    pub async fn store(&self) -> Arc<dyn BreakerStore> {
        Arc::new(DynamoBreakerStore::new(self.dynamo().await, &self.table))
    }

    /// Breaker `name` on this world's clock and a store of its own. Its store timeout is
    /// patient (30 s), because these tests are about what the breaker decides, and a
    /// loaded machine must not decide it for them; the guard's own timeouts have tests
    /// of their own.
    pub async fn breaker(&self, name: &str, policy: Policy) -> Breaker {
        let settings = GuardSettings {
            store_timeout_ms: 30_000,
            ..GuardSettings::default()
        };
        Breaker::new(
            name,
            policy,
            settings,
            self.store().await,
            self.clock.clone(),
        )
    }

    /// The write-back queues, or an error if the builder was not asked for them.
    pub fn queues(&self) -> Result<&Queues> {
        self.queues
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("this world was built without .queues(..)"))
    }
}

/// Set `name` to `value`, replacing an earlier value: a function reads one.
fn put(vars: &mut Vec<(String, String)>, name: &str, value: String) {
    vars.retain(|(k, _)| k != name);
    vars.push((name.to_string(), value));
}
