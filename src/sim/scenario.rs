//! Scenario scripts: a fixed sequence of injections at simulated times, from TOML.
//!
//! ```toml
//! [[step]]
//! after_hours = 2          # simulated hours after the venue started
//! type = "casino_win"
//! amount_usdc = 150
//!
//! [[step]]
//! after_hours = 30
//! type = "balance"
//! balances_usdc = { casino = 400 }
//! ```
//!
//! Each step is an [`InjectRequest`] (the `POST /api/v1/sim/inject` body) plus
//! `after_hours`. [`Scenario::run`] waits for each step's simulated time on the venue's
//! clock and injects it, so a scenario replays identically at any speed.
//!
//! # Invariants
//! - Steps run in `after_hours` order (stable for equal times).
//! - Parsing never panics; errors name the step and field.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::{config::SimError, runtime::SimHandle};
use crate::{money::decimal_to_f64, venue::protocol::sim::InjectRequest};

/// One scripted step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScenarioStep {
    /// Simulated hours after the start at which the step happens (fractions allowed).
    #[serde(with = "crate::venue::protocol::wire")]
    pub after_hours: Decimal,
    /// What happens.
    #[serde(flatten)]
    pub inject: InjectRequest,
}

/// A scenario: steps at simulated times.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// The steps, in the order given (sorted by time on load).
    #[serde(default, rename = "step")]
    pub steps: Vec<ScenarioStep>,
}

impl Scenario {
    /// Parses a scenario from TOML text; `origin` names it in errors.
    ///
    /// # Errors
    /// [`SimError::Scenario`] naming the problem.
    pub fn parse(text: &str, origin: &str) -> Result<Self, SimError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| SimError::Scenario {
            path: origin.to_owned(),
            reason: e.to_string(),
        })?;
        if let Some((index, step)) = scenario
            .steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.after_hours < Decimal::ZERO)
        {
            return Err(SimError::Scenario {
                path: origin.to_owned(),
                reason: format!(
                    "step {index}: `after_hours` {} must not be negative",
                    step.after_hours
                ),
            });
        }
        scenario.steps.sort_by_key(|s| s.after_hours);
        Ok(scenario)
    }

    /// Reads and parses a scenario file.
    ///
    /// # Errors
    /// [`SimError::Scenario`] when it cannot be read or parsed.
    pub fn load(path: &std::path::Path) -> Result<Self, SimError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SimError::Scenario {
            path: origin.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&text, &origin)
    }

    /// Plays the scenario against a running venue, each step at its simulated time.
    /// Steps whose time has passed run at once.
    ///
    /// # Errors
    /// The first step the venue refuses, naming its index.
    pub async fn run(&self, sim: &SimHandle) -> Result<(), SimError> {
        let clock = sim.clock();
        for (index, step) in self.steps.iter().enumerate() {
            let offset = time::Duration::seconds_f64(decimal_to_f64(step.after_hours) * 3600.0);
            let at = clock.start.checked_add(offset).unwrap_or(clock.start);
            tokio::time::sleep_until(clock.instant_for(at)).await;
            // A `balance` step keeps the cash of the services it leaves out.
            sim.inject(step.inject.clone())
                .await
                .map_err(|e| SimError::Scenario {
                    path: "scenario".to_owned(),
                    reason: format!("step {index}: {e}"),
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::sim::test_support::assert_outcome;

    #[test]
    fn parse_scenarios() {
        struct TestCase {
            input: &'static str,
            expected: Result<usize, &'static str>,
        }
        let cases = [
            // TC0: two steps, out of order.
            TestCase {
                input: r#"
                    [[step]]
                    after_hours = 30
                    type = "balance"
                    balances_usdc = { casino = 400 }

                    [[step]]
                    after_hours = 2.5
                    type = "casino_win"
                    amount_usdc = 150
                "#,
                expected: Ok(2),
            },
            // TC1: empty.
            TestCase {
                input: "",
                expected: Ok(0),
            },
            // TC2: an unknown type.
            TestCase {
                input: "[[step]]\nafter_hours = 1\ntype = \"meteor\"\n",
                expected: Err("meteor"),
            },
            // TC3: a negative time.
            TestCase {
                input: "[[step]]\nafter_hours = -1\ntype = \"casino_loss\"\namount_usdc = 1\n",
                expected: Err("after_hours"),
            },
            // TC4: a missing amount.
            TestCase {
                input: "[[step]]\nafter_hours = 1\ntype = \"casino_loss\"\n",
                expected: Err("amount_usdc"),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            let steps = Scenario::parse(case.input, "test.toml").map(|s| s.steps.len());
            assert_outcome(index, steps, case.expected);
        }
        let scenario = Scenario::parse(cases[0].input, "t").expect("parses");
        assert_eq!(scenario.steps[0].after_hours, dec!(2.5));
    }
}
