//! The day's performance book: what each service earned or lost today and the money that
//! flowed into it, closed at midnight into each service's simple return for the day.
//!
//! # Invariants
//! - Transfers and out-of-band top-ups are flows, never performance: they raise the money
//!   at work, not the day's PnL.
//! - A service that held nothing all day returns 0; every return is finite.

use rust_decimal::Decimal;

use super::{
    Ledger,
    checks::{add_to, saturating_add},
    error::StateError,
};
use crate::{
    money::decimal_to_f64,
    service::{Service, ServiceMap},
};

/// The day's performance book, for daily returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct DayBook {
    /// Service values when the day opened.
    start_usdc: ServiceMap<Decimal>,
    /// Performance (income, casino, markets, less fees) earned today.
    pnl_usdc: ServiceMap<Decimal>,
    /// Money that arrived today by transfer or out-of-band top-up.
    inflows_usdc: ServiceMap<Decimal>,
}

impl DayBook {
    /// A day opening at these values, with nothing earned or received yet.
    pub(super) fn open(values_usdc: ServiceMap<Decimal>) -> Self {
        DayBook {
            start_usdc: values_usdc,
            pnl_usdc: ServiceMap::default(),
            inflows_usdc: ServiceMap::default(),
        }
    }
}

impl Ledger {
    /// Closes the day: returns each service's simple return for it and opens the next day
    /// at the current values.
    ///
    /// The return is the day's performance over the money at work that day (the opening
    /// value plus what flowed in), so a transfer in or out is never mistaken for a gain or
    /// a loss. A service that held nothing all day returns 0.
    pub fn close_day(&mut self) -> ServiceMap<f64> {
        let returns = ServiceMap::from_fn(|service| {
            let at_work =
                saturating_add(self.day.start_usdc[service], self.day.inflows_usdc[service]);
            if at_work <= Decimal::ZERO {
                return 0.0;
            }
            let r = self.day.pnl_usdc[service]
                .checked_div(at_work)
                .unwrap_or_default();
            decimal_to_f64(r)
        });
        self.day = DayBook::open(self.values());
        returns
    }

    /// Books `pnl_usdc` as today's performance of `service`.
    pub(super) fn book_pnl(
        &mut self,
        service: Service,
        pnl_usdc: Decimal,
    ) -> Result<(), StateError> {
        add_to(&mut self.day.pnl_usdc[service], pnl_usdc)
    }

    /// Books `amount_usdc` arriving in `service` today as a flow, not performance.
    pub(super) fn book_inflow(
        &mut self,
        service: Service,
        amount_usdc: Decimal,
    ) -> Result<(), StateError> {
        add_to(&mut self.day.inflows_usdc[service], amount_usdc)
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::{
        sim::{
            ledger::{
                Op,
                testing::{article_ledger, mark_move, open},
            },
            markets::PerpMarket,
        },
        venue::protocol::{Direction, PositionSide},
    };

    #[test]
    fn transfers_are_not_returns() {
        let mut ledger = article_ledger();
        // A transfer in, then a 10% gain on the opening balance plus the transfer.
        ledger
            .apply(&Op::Transfer {
                service: Service::Domains,
                direction: Direction::Increase,
                amount_usdc: dec!(50),
            })
            .expect("applies");
        ledger
            .apply(&Op::DomainsIncome {
                amount_usdc: dec!(20),
            })
            .expect("applies");
        let returns = ledger.close_day();
        assert!((returns[Service::Domains] - 0.1).abs() < 1e-12);
        // The reserve lost 50 to the transfer but earned nothing: its return is 0.
        assert_eq!(returns[Service::Reserve], 0.0);
        assert_eq!(returns[Service::Casino], 0.0);
        // The next day opens at the closing balances.
        ledger
            .apply(&Op::CasinoLoss {
                amount_usdc: dec!(20),
            })
            .expect("applies");
        assert!((ledger.close_day()[Service::Casino] + 0.1).abs() < 1e-12);
    }

    #[test]
    fn market_performance_reaches_daily_returns() {
        let mut ledger = article_ledger();
        // A 1x short of 0.001 BTC pays a taker fee of 0.095 → 0.10.
        ledger
            .apply(&open(
                PerpMarket::BtcPerp,
                PositionSide::Short,
                dec!(95),
                1,
                None,
            ))
            .expect("opens");
        // BTC down 10%: the short gains 0.001 × 9,500 = 9.50; trading's day is 9.40 on 300.
        ledger
            .apply(&mark_move(dec!(85500), dec!(3400), dec!(180)))
            .expect("moves");
        let returns = ledger.close_day();
        assert!(
            (returns[Service::Trading] - 9.40 / 300.0).abs() < 1e-12,
            "{returns:?}"
        );
        assert_eq!(returns[Service::Wallet], 0.0);
    }
}
