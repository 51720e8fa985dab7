//! Target allocations: the weight each service should hold.
//!
//! # Invariants
//! - A [`TargetAllocation`] only exists validated: every weight in [0, 1] and the weights
//!   sum to 1 within [`SUM_TOLERANCE`]. Services not named get weight 0.
//! - Validation reports every problem at once, each naming its field (`targets.<service>`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::service::{Service, ServiceMap};

/// How far from 1 the weights may sum (the article's 1e-3).
pub const SUM_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 3);

/// Validated target weights per service (deserializing validates like
/// [`TargetAllocation::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TargetFields")]
pub struct TargetAllocation {
    weights: ServiceMap<Decimal>,
}

/// Targets as read, before validation.
#[derive(Deserialize)]
struct TargetFields {
    weights: ServiceMap<Decimal>,
}

impl TryFrom<TargetFields> for TargetAllocation {
    type Error = TargetErrors;

    fn try_from(fields: TargetFields) -> Result<Self, TargetErrors> {
        TargetAllocation::new(fields.weights)
    }
}

/// One problem with a target allocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// A name that is not a service.
    #[error(
        "targets.{0}: unknown service (expected casino, trading, wallet, domains, escrow, reserve)"
    )]
    UnknownService(String),
    /// A weight outside [0, 1].
    #[error("targets.{service}: weight {weight} is outside [0, 1]")]
    OutOfRange {
        /// The service.
        service: Service,
        /// The weight given.
        weight: Decimal,
    },
    /// The weights do not sum to 1.
    #[error("targets: weights sum to {sum}, expected 1 (within 0.001)")]
    BadSum {
        /// The actual sum.
        sum: Decimal,
    },
}

/// Every problem found, in a stable order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct TargetErrors(pub Vec<TargetError>);

impl TargetAllocation {
    /// The article's conservative allocation: 20/30/15/15/10/10.
    pub fn conservative() -> Self {
        TargetAllocation {
            weights: ServiceMap([
                Decimal::new(20, 2),
                Decimal::new(30, 2),
                Decimal::new(15, 2),
                Decimal::new(15, 2),
                Decimal::new(10, 2),
                Decimal::new(10, 2),
            ]),
        }
    }

    /// Validates weights given per service.
    ///
    /// # Errors
    /// Every out-of-range weight and a bad sum, all at once.
    pub fn new(weights: ServiceMap<Decimal>) -> Result<Self, TargetErrors> {
        let mut errors = Vec::new();
        for (service, weight) in weights.iter() {
            if *weight < Decimal::ZERO || *weight > Decimal::ONE {
                errors.push(TargetError::OutOfRange {
                    service,
                    weight: *weight,
                });
            }
        }
        let sum: Decimal = weights.values().copied().sum();
        if (sum - Decimal::ONE).abs() > SUM_TOLERANCE {
            errors.push(TargetError::BadSum { sum });
        }
        if errors.is_empty() {
            Ok(TargetAllocation { weights })
        } else {
            Err(TargetErrors(errors))
        }
    }

    /// Validates weights given by service name (config, CLI); unnamed services get 0.
    ///
    /// # Errors
    /// Unknown names, out-of-range weights and a bad sum, all at once.
    pub fn from_named(named: &BTreeMap<String, Decimal>) -> Result<Self, TargetErrors> {
        let mut weights = ServiceMap::<Decimal>::default();
        let mut errors = Vec::new();
        for (name, weight) in named {
            match name.parse::<Service>() {
                Ok(service) => weights[service] = *weight,
                Err(_) => errors.push(TargetError::UnknownService(name.clone())),
            }
        }
        match TargetAllocation::new(weights) {
            Ok(targets) if errors.is_empty() => Ok(targets),
            Ok(_) => Err(TargetErrors(errors)),
            Err(TargetErrors(more)) => {
                errors.extend(more);
                Err(TargetErrors(errors))
            }
        }
    }

    /// The target weight of one service.
    pub fn weight(&self, service: Service) -> Decimal {
        self.weights[service]
    }

    /// All target weights.
    pub fn weights(&self) -> &ServiceMap<Decimal> {
        &self.weights
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn validation_names_every_problem() {
        struct TestCase {
            input: Vec<(&'static str, Decimal)>,
            expected: Result<(), Vec<&'static str>>,
        }
        let cases = [
            // TC0: the article's conservative allocation.
            TestCase {
                input: vec![
                    ("casino", dec!(0.2)),
                    ("trading", dec!(0.3)),
                    ("wallet", dec!(0.15)),
                    ("domains", dec!(0.15)),
                    ("escrow", dec!(0.1)),
                    ("reserve", dec!(0.1)),
                ],
                expected: Ok(()),
            },
            // TC1: sums to 0.9.
            TestCase {
                input: vec![("casino", dec!(0.5)), ("trading", dec!(0.4))],
                expected: Err(vec!["sum to 0.9"]),
            },
            // TC2: within tolerance (1.0009).
            TestCase {
                input: vec![("casino", dec!(0.5)), ("reserve", dec!(0.5009))],
                expected: Ok(()),
            },
            // TC3: an unknown service and a negative weight, both reported.
            TestCase {
                input: vec![
                    ("poker", dec!(0.1)),
                    ("casino", dec!(-0.1)),
                    ("reserve", dec!(1.1)),
                ],
                expected: Err(vec!["targets.poker", "targets.casino", "targets.reserve"]),
            },
            // TC4: one service holds everything.
            TestCase {
                input: vec![("reserve", dec!(1))],
                expected: Ok(()),
            },
        ];
        for (index, case) in cases.into_iter().enumerate() {
            let named: BTreeMap<String, Decimal> = case
                .input
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            match (TargetAllocation::from_named(&named), case.expected) {
                (Ok(_), Ok(())) => {}
                (Err(errors), Err(needles)) => {
                    let text = errors.to_string();
                    for needle in needles {
                        assert!(
                            text.contains(needle),
                            "TC{index}: `{text}` lacks `{needle}`"
                        );
                    }
                }
                (actual, expected) => panic!("TC{index}: got {actual:?}, expected {expected:?}"),
            }
        }
    }
}
