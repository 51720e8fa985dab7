//! A point-in-time view of the agent's capital across the six services.
//!
//! # Invariants
//! - Every balance is non-negative (a snapshot is validated when it is built from venue
//!   data; see [`PortfolioSnapshot::new`]).
//! - `total_usdc` is the exact Decimal sum of the balances.

use rust_decimal::Decimal;
use serde::Serialize;

use crate::service::{Service, ServiceMap};

/// Balances per service at one moment, optionally tied to the venue's event sequence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortfolioSnapshot {
    /// USDC per service; `Reserve` is the venue's `available_balance`.
    pub balances_usdc: ServiceMap<Decimal>,
    /// The last venue event sequence number reflected in these balances, when known.
    pub seq: Option<u64>,
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
