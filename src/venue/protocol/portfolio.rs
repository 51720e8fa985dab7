//! The agent's own endpoints: its balances, rebalance transfers, return history and prices,
//! and their translation into the core's types.
//!
//! # Invariants
//! - [`PortfolioResponse::to_snapshot`] rejects negative balances, naming the field.
//! - [`ReturnsResponse::to_history`] resolves every service name once, rejecting one that is
//!   not a service with its field named; the core never sees the names.
//! - [`Direction`] is the core's, re-exported here because the wire spells it the same.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::wire;
pub use crate::service::Direction;
use crate::{
    optimizer::{OptimizeError, ReturnHistory},
    portfolio::{PortfolioSnapshot, SnapshotError},
    service::{Service, ServiceMap},
};

/// `GET /agents/{id}/portfolio`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortfolioResponse {
    /// Casino bankroll.
    #[serde(with = "wire")]
    pub casino_balance: Decimal,
    /// Trading margin.
    #[serde(with = "wire")]
    pub trading_balance: Decimal,
    /// Wallet value in USDC.
    #[serde(with = "wire")]
    pub wallet_balance: Decimal,
    /// Domains value.
    #[serde(with = "wire")]
    pub domains_balance: Decimal,
    /// Escrow deposits.
    #[serde(with = "wire")]
    pub escrow_balance: Decimal,
    /// Idle USDC: ballast's reserve.
    #[serde(with = "wire")]
    pub available_balance: Decimal,
    /// The last event `seq` these balances reflect (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The part of each service's balance the venue will not let a `decrease` take now
    /// (funds in play, a settlement delay), by service name; services without a lock are
    /// left out, and the field is omitted when nothing is locked (*addition*).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub locked_usdc: BTreeMap<Service, WireDecimal>,
}

impl PortfolioResponse {
    /// Builds the response body from a balance map.
    pub fn from_balances(balances_usdc: &ServiceMap<Decimal>, seq: Option<u64>) -> Self {
        PortfolioResponse {
            casino_balance: balances_usdc[Service::Casino],
            trading_balance: balances_usdc[Service::Trading],
            wallet_balance: balances_usdc[Service::Wallet],
            domains_balance: balances_usdc[Service::Domains],
            escrow_balance: balances_usdc[Service::Escrow],
            available_balance: balances_usdc[Service::Reserve],
            seq,
            locked_usdc: BTreeMap::new(),
        }
    }

    /// The same body with these locks (zero amounts left out).
    #[must_use]
    pub fn with_locked(mut self, locked_usdc: &ServiceMap<Decimal>) -> Self {
        self.locked_usdc = locked_usdc
            .iter()
            .filter(|(_, amount)| !amount.is_zero())
            .map(|(service, amount)| (service, WireDecimal(*amount)))
            .collect();
        self
    }

    /// The locks keyed by service (zero where none).
    pub fn locked(&self) -> ServiceMap<Decimal> {
        let mut locked = ServiceMap::default();
        for (service, amount) in &self.locked_usdc {
            locked[*service] = amount.0;
        }
        locked
    }

    /// The balances keyed by service.
    pub fn balances(&self) -> ServiceMap<Decimal> {
        ServiceMap([
            self.casino_balance,
            self.trading_balance,
            self.wallet_balance,
            self.domains_balance,
            self.escrow_balance,
            self.available_balance,
        ])
    }

    /// Validates and converts to a snapshot, locks included.
    ///
    /// # Errors
    /// A negative balance or lock, naming its field.
    pub fn to_snapshot(&self) -> Result<PortfolioSnapshot, SnapshotError> {
        PortfolioSnapshot::new(self.balances(), self.seq)?.with_locked(self.locked())
    }
}

/// `POST /agents/{id}/rebalance`: moves USDC between a service and the reserve.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebalanceBody {
    /// The service to move money into or out of (never `reserve`).
    pub service: Service,
    /// Increase or decrease.
    pub direction: Direction,
    /// Amount in USDC, positive, whole cents.
    #[serde(with = "wire")]
    pub amount_usdc: Decimal,
    /// Human-readable reason, for the venue's audit trail.
    pub reason: String,
}

/// Response to a rebalance transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RebalanceResponse {
    /// Venue-assigned transfer id.
    pub transfer_id: String,
    /// Echo of the request.
    pub service: Service,
    /// Echo of the request.
    pub direction: Direction,
    /// Amount actually moved.
    #[serde(with = "wire")]
    pub amount_usdc: Decimal,
    /// Always `applied` for a success.
    pub status: String,
    /// Balances after the transfer (*addition*).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portfolio: Option<PortfolioResponse>,
}

impl RebalanceResponse {
    /// The balances after the transfer, when the venue returned valid ones.
    pub fn snapshot(&self) -> Option<PortfolioSnapshot> {
        self.portfolio.as_ref()?.to_snapshot().ok()
    }
}

/// `GET /agents/{id}/returns?days=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnsResponse {
    /// Daily simple returns per service, oldest first.
    pub returns_by_service: BTreeMap<String, Vec<f64>>,
}

/// A `/returns` body naming something that is not a service, or a service twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("returns_by_service.{name} is not a service, or repeats one")]
pub struct UnknownReturnsService {
    /// The name as sent.
    pub name: String,
}

impl From<UnknownReturnsService> for OptimizeError {
    fn from(error: UnknownReturnsService) -> Self {
        OptimizeError::UnknownService(error.name)
    }
}

impl ReturnsResponse {
    /// The history keyed by service, for the optimizer. Names are read as config names are
    /// (case and surrounding blanks forgiven).
    ///
    /// # Errors
    /// The first name (in name order) that is not a service or names one already given.
    pub fn to_history(&self) -> Result<ReturnHistory, UnknownReturnsService> {
        let mut history = ReturnHistory::default();
        for (name, series) in &self.returns_by_service {
            let unknown = || UnknownReturnsService { name: name.clone() };
            let service = name.parse::<Service>().map_err(|_| unknown())?;
            if history
                .series_by_service
                .insert(service, series.clone())
                .is_some()
            {
                return Err(unknown());
            }
        }
        Ok(history)
    }
}

/// `GET /prices?assets=BTC,ETH`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricesResponse {
    /// USDC price per asset.
    pub prices: BTreeMap<String, WireDecimal>,
}

/// A Decimal that (de)serializes as a JSON number, for use inside collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WireDecimal(#[serde(with = "wire")] pub Decimal);

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn returns_become_a_history_keyed_by_service() {
        struct TestCase {
            /// `(name, series)` as the venue sends them.
            input: Vec<(&'static str, Vec<f64>)>,
            expected: Result<Vec<(Service, Vec<f64>)>, &'static str>,
        }
        let cases = [
            // TC0: every name resolves once; the series are kept as sent.
            TestCase {
                input: vec![("casino", vec![0.01, -0.02]), ("reserve", vec![0.0, 0.0])],
                expected: Ok(vec![
                    (Service::Casino, vec![0.01, -0.02]),
                    (Service::Reserve, vec![0.0, 0.0]),
                ]),
            },
            // TC1: names are forgiven as in config (case, blanks).
            TestCase {
                input: vec![("Trading ", vec![0.5])],
                expected: Ok(vec![(Service::Trading, vec![0.5])]),
            },
            // TC2: a name that is not a service, with its field named.
            TestCase {
                input: vec![("casino", vec![0.01]), ("poker", vec![0.01])],
                expected: Err("returns_by_service.poker is not a service"),
            },
            // TC3: one service spelled twice.
            TestCase {
                input: vec![("Casino", vec![0.01]), ("casino", vec![0.02])],
                expected: Err("returns_by_service.casino"),
            },
            // TC4: an empty body is an empty history (the optimizer refuses it).
            TestCase {
                input: vec![],
                expected: Ok(vec![]),
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let response = ReturnsResponse {
                returns_by_service: case
                    .input
                    .into_iter()
                    .map(|(name, series)| (name.to_owned(), series))
                    .collect(),
            };
            match (response.to_history(), case.expected) {
                (Ok(history), Ok(expected)) => {
                    assert_eq!(history, expected.into_iter().collect(), "TC{i}");
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn an_unknown_service_is_refused_as_bad_returns() {
        // The optimizer's refusal reads as it did when the core parsed the names itself.
        let error = OptimizeError::from(UnknownReturnsService {
            name: "poker".into(),
        });
        assert_eq!(error.kind(), "bad_returns");
        assert_eq!(error.to_string(), "returns: `poker` is not a service");
    }

    #[test]
    fn a_transfer_reply_gives_its_valid_balances() {
        let reply = |portfolio| RebalanceResponse {
            transfer_id: "tx-1".into(),
            service: Service::Casino,
            direction: Direction::Decrease,
            amount_usdc: dec!(10),
            status: "applied".into(),
            portfolio,
        };
        let balances = ServiceMap([dec!(1); 6]);
        let mut negative = balances;
        negative[Service::Wallet] = dec!(-1);
        assert_eq!(reply(None).snapshot(), None);
        assert_eq!(
            reply(Some(PortfolioResponse::from_balances(&negative, Some(3)))).snapshot(),
            None
        );
        assert_eq!(
            reply(Some(PortfolioResponse::from_balances(&balances, Some(3)))).snapshot(),
            Some(PortfolioSnapshot::new(balances, Some(3)).expect("valid"))
        );
    }
}
