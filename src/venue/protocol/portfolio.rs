//! The agent's own endpoints: its balances, rebalance transfers, return history and prices.
//!
//! # Invariants
//! - [`PortfolioResponse::to_snapshot`] rejects negative balances, naming the field.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::wire;
use crate::{
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
        }
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

    /// Validates and converts to a snapshot.
    ///
    /// # Errors
    /// A negative balance, naming its field.
    pub fn to_snapshot(&self) -> Result<PortfolioSnapshot, SnapshotError> {
        PortfolioSnapshot::new(self.balances(), self.seq)
    }
}

/// Which way a rebalance transfer moves money, seen from the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Move USDC from the reserve into the service.
    Increase,
    /// Move USDC from the service into the reserve.
    Decrease,
}

impl Direction {
    /// `(from, to)` of a transfer for `service`: the reserve is always the other side.
    pub const fn flow(self, service: Service) -> (Service, Service) {
        match self {
            Direction::Increase => (Service::Reserve, service),
            Direction::Decrease => (service, Service::Reserve),
        }
    }

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Increase => "increase",
            Direction::Decrease => "decrease",
        }
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

/// `GET /agents/{id}/returns?days=N`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnsResponse {
    /// Daily simple returns per service, oldest first.
    pub returns_by_service: BTreeMap<String, Vec<f64>>,
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
