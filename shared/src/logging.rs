//! JSON logs through `tracing`, on stdout beside the EMF lines.

use tracing_subscriber::EnvFilter;

use crate::config::{Env, ProcessEnv};

/// The log filter: `RUST_LOG`, else `LOG_LEVEL`, else `info`.
pub fn filter_from(env: &impl Env) -> String {
    env.get("RUST_LOG")
        .or_else(|| env.get("LOG_LEVEL"))
        .unwrap_or_else(|| "info".to_string())
}

/// Install the JSON subscriber once.
pub fn init() {
    let filter = filter_from(&ProcessEnv);
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::new(filter))
        .with_current_span(false)
        .without_time()
        .with_target(false)
        .try_init();
}

/// Mask a phone number for logs: everything but the last 4 digits becomes `*`.
pub fn mask_ani(ani: &str) -> String {
    let digits: Vec<char> = ani.chars().filter(char::is_ascii_digit).collect();
    let keep = digits.len().saturating_sub(4);
    digits
        .iter()
        .enumerate()
        .map(|(i, c)| if i < keep { '*' } else { *c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::mask_ani;

    #[test]
    fn masks_all_but_last_four_digits() {
        assert_eq!(mask_ani("tel:+13175550123"), "*******0123");
        assert_eq!(mask_ani("12"), "12");
        assert_eq!(mask_ani("anonymous"), "");
    }
}
