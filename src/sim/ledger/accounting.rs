//! What the books are worth, what the markets did, and the accounting identity that ties
//! every balance back to the money that came in.
//!
//! # Invariants
//! - Values are exact in `Decimal`; only [`Ledger::reported_values`] rounds (down, to the
//!   cent), as the portfolio reports them.
//! - Reading a value never fails: bounded inputs keep the sums in range, and a saturated
//!   sum would show as a broken identity, never a panic.

use rust_decimal::Decimal;

use super::{
    Ledger,
    checks::{checked_sum, saturating_add},
};
use crate::{
    money::round_cents,
    service::{Service, ServiceMap},
    sim::book::PositionStatus,
    venue::protocol::sim::{AccountingCheck, MarketStats},
};

impl Ledger {
    /// Each service's value, exact: cash, plus positions for trading and lots at the mid
    /// for the wallet.
    pub fn values(&self) -> ServiceMap<Decimal> {
        let mut values = self.balances_usdc;
        // Bounded inputs (prices, quantities, notionals) keep these sums in range; a
        // saturated value would only show as a broken identity, never a panic.
        values[Service::Trading] = saturating_add(values[Service::Trading], self.positions_value());
        values[Service::Wallet] = saturating_add(values[Service::Wallet], self.holdings_value());
        values
    }

    /// Each service's value rounded down to the cent, as the portfolio reports it.
    pub fn reported_values(&self) -> ServiceMap<Decimal> {
        self.values().map(|_, value| round_cents(*value))
    }

    /// What the markets did, with the open counts now.
    pub fn market_stats(&self) -> MarketStats {
        let pending = self
            .positions
            .values()
            .filter(|p| p.status == PositionStatus::Pending)
            .count();
        MarketStats {
            open_positions: (self.positions.len() - pending) as u64,
            pending_orders: pending as u64,
            open_lots: self.lots.0.iter().map(|lots| lots.len() as u64).sum(),
            ..self.stats.clone()
        }
    }

    /// Checks the accounting identity.
    pub fn accounting(&self) -> AccountingCheck {
        let cash_usdc = checked_sum(self.balances_usdc.values()).unwrap_or(Decimal::MAX);
        let positions_value_usdc = self.positions_value();
        let holdings_value_usdc = self.holdings_value();
        let unrealized_pnl_usdc = self.unrealized_pnl();
        let total_usdc = cash_usdc
            .checked_add(positions_value_usdc)
            .and_then(|v| v.checked_add(holdings_value_usdc))
            .unwrap_or(Decimal::MAX);
        let expected_usdc = self
            .initial_funds_usdc
            .checked_add(self.income.total_usdc())
            .and_then(|v| v.checked_add(unrealized_pnl_usdc))
            .and_then(|v| v.checked_sub(self.fees_usdc))
            .and_then(|v| v.checked_add(self.adjustments_usdc))
            .unwrap_or(Decimal::MIN);
        AccountingCheck {
            ok: total_usdc == expected_usdc,
            total_usdc,
            expected_usdc,
            initial_funds_usdc: self.initial_funds_usdc,
            income: self.income,
            fees_usdc: self.fees_usdc,
            adjustments_usdc: self.adjustments_usdc,
            cash_usdc,
            positions_value_usdc,
            holdings_value_usdc,
            unrealized_pnl_usdc,
            trading_fees_usdc: self.trading_fees_usdc,
        }
    }

    fn positions_value(&self) -> Decimal {
        self.positions
            .values()
            .map(|p| p.value_usdc(self.prices[p.market.underlying()]))
            .fold(Decimal::ZERO, saturating_add)
    }

    fn holdings_value(&self) -> Decimal {
        self.lots
            .iter()
            .flat_map(|(asset, lots)| lots.iter().map(move |lot| (asset, lot)))
            .map(|(asset, lot)| lot.quantity * self.prices[asset])
            .fold(Decimal::ZERO, saturating_add)
    }

    fn unrealized_pnl(&self) -> Decimal {
        let positions = self
            .positions
            .values()
            .map(|p| p.unrealized_pnl_usdc(self.prices[p.market.underlying()]));
        let lots = self.lots.iter().flat_map(|(asset, lots)| {
            lots.iter()
                .map(move |lot| lot.quantity * self.prices[asset] - lot.cost_basis_usdc)
        });
        positions.chain(lots).fold(Decimal::ZERO, saturating_add)
    }
}
