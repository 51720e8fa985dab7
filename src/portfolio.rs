//! A point-in-time view of the agent's capital across the six services.
//!
//! # Invariants
//! - Every balance is non-negative (a snapshot is validated when it is built from venue
//!   data; see [`PortfolioSnapshot::new`]).
//! - `total_usdc` is the exact Decimal sum of the balances.
//! - [`unexplained_changes`] compares two snapshots only when they are at the same venue
//!   `seq`: then no announced event can explain a difference, so it happened out of band.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::service::{Service, ServiceMap};

/// Balances per service at one moment, optionally tied to the venue's event sequence.
/// Deserializing validates like [`PortfolioSnapshot::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SnapshotFields")]
pub struct PortfolioSnapshot {
    /// USDC per service; `Reserve` is the venue's `available_balance`.
    pub balances_usdc: ServiceMap<Decimal>,
    /// The last venue event sequence number reflected in these balances, when known.
    pub seq: Option<u64>,
}

/// A snapshot as read, before validation.
#[derive(Deserialize)]
struct SnapshotFields {
    balances_usdc: ServiceMap<Decimal>,
    seq: Option<u64>,
}

impl TryFrom<SnapshotFields> for PortfolioSnapshot {
    type Error = SnapshotError;

    fn try_from(fields: SnapshotFields) -> Result<Self, SnapshotError> {
        PortfolioSnapshot::new(fields.balances_usdc, fields.seq)
    }
}

/// The article's $1,000 agent on its conservative target (20/30/15/15/10/10), USDC: the
/// starting balances of examples and tests.
pub fn article_balances_usdc() -> ServiceMap<Decimal> {
    ServiceMap([200, 300, 150, 150, 100, 100].map(Decimal::from))
}

/// A service whose balance changed with no venue event to explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnexplainedChange {
    /// The service.
    pub service: Service,
    /// What ballast held.
    pub held_usdc: Decimal,
    /// What the venue now reports.
    pub venue_usdc: Decimal,
}

/// The services whose balance moved by more than `alert_fraction` of the held total
/// between `held` and `fresh` although both are at the same venue `seq` (nothing announced
/// in between). Empty when the seqs differ or are unknown (events may explain the change),
/// or when `alert_fraction` is not positive (the check is off).
pub fn unexplained_changes(
    held: &PortfolioSnapshot,
    fresh: &PortfolioSnapshot,
    alert_fraction: Decimal,
) -> Vec<UnexplainedChange> {
    let same_point = matches!((held.seq, fresh.seq), (Some(a), Some(b)) if a == b);
    if !same_point || alert_fraction <= Decimal::ZERO {
        return Vec::new();
    }
    let threshold_usdc = held.total_usdc() * alert_fraction;
    Service::ALL
        .into_iter()
        .filter(|service| (fresh.balance(*service) - held.balance(*service)).abs() > threshold_usdc)
        .map(|service| UnexplainedChange {
            service,
            held_usdc: held.balance(service),
            venue_usdc: fresh.balance(service),
        })
        .collect()
}

/// A snapshot that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// A balance below zero.
    #[error("{field} is negative ({value})")]
    Negative {
        /// The venue field name, e.g. `casino_balance`.
        field: &'static str,
        /// The offending value.
        value: Decimal,
    },
    /// The sum of balances overflowed.
    #[error("total portfolio value overflows")]
    Overflow,
}

impl PortfolioSnapshot {
    /// Builds a validated snapshot.
    ///
    /// # Errors
    /// A negative balance (naming its venue field) or an overflowing total.
    pub fn new(
        balances_usdc: ServiceMap<Decimal>,
        seq: Option<u64>,
    ) -> Result<Self, SnapshotError> {
        for (service, value) in balances_usdc.iter() {
            if value.is_sign_negative() && !value.is_zero() {
                return Err(SnapshotError::Negative {
                    field: service.balance_field(),
                    value: *value,
                });
            }
        }
        let snapshot = PortfolioSnapshot { balances_usdc, seq };
        snapshot.checked_total().ok_or(SnapshotError::Overflow)?;
        Ok(snapshot)
    }

    fn checked_total(&self) -> Option<Decimal> {
        self.balances_usdc
            .values()
            .try_fold(Decimal::ZERO, |acc, v| acc.checked_add(*v))
    }

    /// Total portfolio value in USDC.
    pub fn total_usdc(&self) -> Decimal {
        // Validated at construction, so the sum fits.
        self.checked_total().unwrap_or(Decimal::MAX)
    }

    /// The balance of one service.
    pub fn balance(&self, service: Service) -> Decimal {
        self.balances_usdc[service]
    }

    /// Current weight of each service (zero everywhere when the portfolio is empty).
    pub fn weights(&self) -> ServiceMap<Decimal> {
        let total = self.total_usdc();
        if total.is_zero() {
            return ServiceMap::default();
        }
        self.balances_usdc
            .map(|_, v| v.checked_div(total).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn snapshot(casino: Decimal, seq: Option<u64>) -> PortfolioSnapshot {
        // The article's $1,000 agent on its conservative target.
        let mut balances = article_balances_usdc();
        balances[Service::Casino] = casino;
        PortfolioSnapshot::new(balances, seq).expect("valid")
    }

    #[test]
    fn only_changes_no_event_explains_beyond_the_threshold_are_reported() {
        struct TestCase {
            held: PortfolioSnapshot,
            fresh: PortfolioSnapshot,
            alert_fraction: Decimal,
            expected: Vec<Service>,
        }
        let cases = [
            // TC0: $50 on $1,000 at the same seq: 5% > 2%.
            TestCase {
                held: snapshot(dec!(200), Some(7)),
                fresh: snapshot(dec!(250), Some(7)),
                alert_fraction: dec!(0.02),
                expected: vec![Service::Casino],
            },
            // TC1: $15 is 1.5%: below the threshold.
            TestCase {
                held: snapshot(dec!(200), Some(7)),
                fresh: snapshot(dec!(185), Some(7)),
                alert_fraction: dec!(0.02),
                expected: vec![],
            },
            // TC2: events happened in between (seq moved): they may explain it.
            TestCase {
                held: snapshot(dec!(200), Some(7)),
                fresh: snapshot(dec!(300), Some(9)),
                alert_fraction: dec!(0.02),
                expected: vec![],
            },
            // TC3: an unknown seq proves nothing.
            TestCase {
                held: snapshot(dec!(200), None),
                fresh: snapshot(dec!(300), None),
                alert_fraction: dec!(0.02),
                expected: vec![],
            },
            // TC4: a zero fraction switches the check off.
            TestCase {
                held: snapshot(dec!(200), Some(7)),
                fresh: snapshot(dec!(900), Some(7)),
                alert_fraction: Decimal::ZERO,
                expected: vec![],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let found: Vec<Service> =
                unexplained_changes(&case.held, &case.fresh, case.alert_fraction)
                    .iter()
                    .map(|c| c.service)
                    .collect();
            assert_eq!(found, case.expected, "TC{i}");
        }
    }
}
