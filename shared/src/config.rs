//! Reading the environment: the `Env` port, the one place that touches `std::env`, and
//! the parsing helpers every component's `Config::from_env(&impl Env)` uses. Every
//! variable read is in docs/configuration.md (a test holds them together).

use crate::clock::Millis;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var} is required")]
    Missing { var: String },
    #[error("{var}={value:?} is invalid: {why}")]
    Invalid {
        var: String,
        value: String,
        why: String,
    },
}

/// Reads variables; `std::env::var` in production, a map in tests. An empty value reads
/// as unset.
pub trait Env {
    fn get(&self, var: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var(var).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Env for F {
    fn get(&self, var: &str) -> Option<String> {
        self(var)
    }
}

pub fn required(env: &dyn Env, var: &str) -> Result<String, ConfigError> {
    env.get(var).ok_or_else(|| ConfigError::Missing {
        var: var.to_string(),
    })
}

pub fn parsed<T: std::str::FromStr>(env: &dyn Env, var: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match env.get(var) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
            var: var.to_string(),
            value: v.clone(),
            why: e.to_string(),
        }),
    }
}

/// Seconds, fractions allowed (the drill compresses a minute-long schedule), as ms:
/// above 0 and at most a day.
pub fn seconds_ms(var: &str, s: f64) -> Result<Millis, ConfigError> {
    if s > 0.0 && s <= 86_400.0 {
        Ok(((s * 1000.0).ceil() as Millis).max(1))
    } else {
        Err(ConfigError::Invalid {
            var: var.to_string(),
            value: s.to_string(),
            why: "must be above 0 and at most 86400".into(),
        })
    }
}

/// `v` within `lo..=hi`: every numeric knob has an upper bound, so no value overflows
/// the arithmetic it feeds.
pub fn in_range<T: PartialOrd + std::fmt::Display>(
    var: &str,
    v: T,
    lo: T,
    hi: T,
) -> Result<T, ConfigError> {
    if v >= lo && v <= hi {
        Ok(v)
    } else {
        Err(ConfigError::Invalid {
            var: var.to_string(),
            value: v.to_string(),
            why: format!("must be {lo}..={hi}"),
        })
    }
}

/// A number from `var` (or its `default`), within `lo..=hi`.
pub fn number<T>(env: &dyn Env, var: &str, default: T, lo: T, hi: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
    T::Err: std::fmt::Display,
{
    in_range(var, parsed(env, var, default)?, lo, hi)
}

/// The name to read for a renamed variable: `new`, unless only the old name is set.
/// The old name keeps working for deployments made before the renaming.
pub fn renamed(env: &dyn Env, new: &str, old: &str) -> String {
    if env.get(new).is_none() && env.get(old).is_some() {
        tracing::warn!(old, new, "deprecated variable name; please rename it");
        return old.to_string();
    }
    new.to_string()
}

/// An environment of fixed pairs, for unit tests of the `from_env`s.
#[cfg(test)]
pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let m: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| m.get(k).cloned()
}
