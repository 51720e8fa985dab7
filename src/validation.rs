//! What the core's configuration checks share: a problem that names its key, the value given
//! and the rule it breaks ([`KeyRuleError`]), and the result of a check that lists every
//! problem rather than the first ([`every_problem`]).
//!
//! # Invariants
//! - A check passes exactly when it found no problem, and a failed one returns every
//!   problem it found, in the order found.
//! - `Display` of a [`KeyRuleError`] is `{key}: {value} {rule}`, the key relative to its
//!   section (the settings loader prefixes the section).

/// One bad configured value: its key, the value given and what it must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {value} {rule}")]
pub struct KeyRuleError {
    /// The key, relative to its section (`threshold`, `max_leg_usdc`, ...).
    pub key: &'static str,
    /// The value given, as the configuration writes it.
    pub value: String,
    /// What it must be.
    pub rule: &'static str,
}

/// The result of a check that collected `problems`: `Ok` when there are none, else all
/// of them.
///
/// # Errors
/// `problems`, when it is not empty.
pub fn every_problem<E>(problems: Vec<E>) -> Result<(), Vec<E>> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
