//! The cash room: rebalance transfers, casino play, income, escrow fees, the marks of
//! untracked activity, drawdowns and out-of-band balances, and the credits and debits every
//! room moves cash with.
//!
//! # Invariants
//! - A debit never takes a balance below zero: it is refused whole instead.
//! - A transfer moves cash between one service and the reserve and books it as a flow.
//! - Every other cash operation books its change as the performance of the service whose
//!   activity earned or lost it (referral income: the source service, not the reserve).

use rust_decimal::{Decimal, RoundingStrategy};

use super::{
    Ledger,
    checks::{
        MAX_NOTIONAL_USDC, add_to, check_balance, check_cents, check_signed_cents, checked_sum,
        not_reserve, sub, sub_from, too_large,
    },
    error::{StateError, invalid},
};
use crate::{
    money::round_cents,
    service::{Service, ServiceMap},
    venue::protocol::{Direction, EventKind},
};

/// Decimal places reported for casino multipliers.
const MULTIPLIER_DP: u32 = 4;
/// The escrow service's fee on the deals it settles (the article's 1%).
pub const ESCROW_FEE_RATE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// Rounds a casino payout ratio the way events report it.
pub fn round_multiplier(multiplier: Decimal) -> Decimal {
    multiplier.round_dp_with_strategy(MULTIPLIER_DP, RoundingStrategy::MidpointAwayFromZero)
}

impl Ledger {
    /// A rebalance: `amount_usdc` between `service` and the reserve.
    pub(super) fn transfer(
        &mut self,
        service: Service,
        direction: Direction,
        amount_usdc: Decimal,
    ) -> Result<EventKind, StateError> {
        not_reserve(
            "service",
            service,
            Some("the reserve is the other side of every transfer"),
        )?;
        check_cents("amount_usdc", amount_usdc)?;
        let (from, to) = direction.flow(service);
        self.debit(from, amount_usdc)?;
        self.credit(to, amount_usdc)?;
        self.book_inflow(to, amount_usdc)?;
        let transfer_id = format!("tr-{:08}", self.next_transfer_id);
        self.next_transfer_id += 1;
        Ok(EventKind::Transfer {
            transfer_id,
            service,
            direction,
            amount_usdc,
        })
    }

    /// Casino bets paid out `amount_usdc` net of their stakes.
    pub(super) fn casino_win(
        &mut self,
        amount_usdc: Decimal,
        stake_usdc: Decimal,
        multiplier: Decimal,
    ) -> Result<EventKind, StateError> {
        check_cents("amount_usdc", amount_usdc)?;
        check_cents("stake_usdc", stake_usdc)?;
        if multiplier <= Decimal::ONE {
            return Err(invalid("multiplier", "must be above 1 for a win"));
        }
        self.credit(Service::Casino, amount_usdc)?;
        add_to(&mut self.income.casino_net_usdc, amount_usdc)?;
        self.book_pnl(Service::Casino, amount_usdc)?;
        Ok(EventKind::CasinoWin {
            amount_usdc,
            stake_usdc,
            multiplier: multiplier.round_dp(MULTIPLIER_DP),
        })
    }

    /// Casino bets lost `amount_usdc`.
    pub(super) fn casino_loss(&mut self, amount_usdc: Decimal) -> Result<EventKind, StateError> {
        check_cents("amount_usdc", amount_usdc)?;
        self.debit(Service::Casino, amount_usdc)?;
        sub_from(&mut self.income.casino_net_usdc, amount_usdc)?;
        self.book_pnl(Service::Casino, -amount_usdc)?;
        Ok(EventKind::CasinoLoss { amount_usdc })
    }

    /// Referral income paid into the reserve, earned by `source_service`.
    pub(super) fn referral_income(
        &mut self,
        amount_usdc: Decimal,
        source_service: Service,
    ) -> Result<EventKind, StateError> {
        check_cents("amount_usdc", amount_usdc)?;
        not_reserve("source_service", source_service, None)?;
        self.credit(Service::Reserve, amount_usdc)?;
        add_to(&mut self.income.referral_usdc, amount_usdc)?;
        // The cash lands in the reserve, but it is the source service's activity that
        // earned it: booking it there keeps the reserve's returns at zero (riskless), as the
        // optimizers assume.
        self.book_pnl(source_service, amount_usdc)?;
        Ok(EventKind::ReferralIncome {
            amount_usdc,
            source_service,
        })
    }

    /// Domain rental income.
    pub(super) fn domains_income(&mut self, amount_usdc: Decimal) -> Result<EventKind, StateError> {
        check_cents("amount_usdc", amount_usdc)?;
        self.credit(Service::Domains, amount_usdc)?;
        add_to(&mut self.income.domains_usdc, amount_usdc)?;
        self.book_pnl(Service::Domains, amount_usdc)?;
        Ok(EventKind::DomainsIncome { amount_usdc })
    }

    /// The escrow service's fee on deals of `deal_usdc` it settled.
    pub(super) fn escrow_fee(&mut self, deal_usdc: Decimal) -> Result<EventKind, StateError> {
        check_cents("deal_usdc", deal_usdc)?;
        if deal_usdc > MAX_NOTIONAL_USDC {
            return Err(invalid("deal_usdc", "is too large"));
        }
        let fee_usdc = round_cents(deal_usdc * ESCROW_FEE_RATE);
        if fee_usdc.is_zero() {
            return Err(invalid("deal_usdc", "earns less than a cent of fee"));
        }
        self.credit(Service::Escrow, fee_usdc)?;
        add_to(&mut self.income.escrow_fees_usdc, fee_usdc)?;
        self.book_pnl(Service::Escrow, fee_usdc)?;
        self.stats.escrow_deals += 1;
        Ok(EventKind::EscrowFee {
            deal_usdc,
            amount_usdc: fee_usdc,
        })
    }

    /// A change in the cash value of `service`'s untracked activity, less fees paid on it.
    pub(super) fn mark_to_market(
        &mut self,
        service: Service,
        pnl_usdc: Decimal,
        fee_usdc: Decimal,
    ) -> Result<EventKind, StateError> {
        not_reserve(
            "service",
            service,
            Some("idle USDC has no market value to mark"),
        )?;
        check_signed_cents("change_usdc", pnl_usdc)?;
        if !fee_usdc.is_zero() {
            check_cents("fee_usdc", fee_usdc)?;
        }
        let change_usdc = sub(pnl_usdc, fee_usdc)?;
        self.change(service, change_usdc)?;
        add_to(&mut self.income.mark_to_market_usdc, pnl_usdc)?;
        add_to(&mut self.fees_usdc, fee_usdc)?;
        self.book_pnl(service, change_usdc)?;
        Ok(EventKind::MarkToMarket {
            service,
            change_usdc,
        })
    }

    /// A fall in `service`'s cash by the fraction `drawdown` of it.
    pub(super) fn drawdown(
        &mut self,
        service: Service,
        drawdown: Decimal,
    ) -> Result<EventKind, StateError> {
        not_reserve("service", service, None)?;
        if drawdown <= Decimal::ZERO || drawdown > Decimal::ONE {
            return Err(invalid("drawdown", "must be in (0, 1]"));
        }
        let loss_usdc = round_cents(
            self.balances_usdc[service]
                .checked_mul(drawdown)
                .ok_or_else(too_large)?,
        );
        self.change(service, -loss_usdc)?;
        sub_from(&mut self.income.mark_to_market_usdc, loss_usdc)?;
        self.book_pnl(service, -loss_usdc)?;
        Ok(EventKind::Drawdown { service, drawdown })
    }

    /// Cash balances set out of band; positions and lots are untouched.
    pub(super) fn set_balances(
        &mut self,
        balances_usdc: &ServiceMap<Decimal>,
    ) -> Result<EventKind, StateError> {
        for (service, value) in balances_usdc.iter() {
            check_balance(service, *value)?;
        }
        let old_total = checked_sum(self.balances_usdc.values())?;
        let new_total = checked_sum(balances_usdc.values())?;
        add_to(&mut self.adjustments_usdc, sub(new_total, old_total)?)?;
        for service in Service::ALL {
            // A top-up is money arriving, like a transfer in: a flow, not performance.
            let delta = sub(balances_usdc[service], self.balances_usdc[service])?;
            if delta > Decimal::ZERO {
                self.book_inflow(service, delta)?;
            }
        }
        self.balances_usdc = *balances_usdc;
        Ok(EventKind::Balance)
    }

    /// Adds `amount_usdc` to `service`'s cash.
    pub(super) fn credit(
        &mut self,
        service: Service,
        amount_usdc: Decimal,
    ) -> Result<(), StateError> {
        add_to(&mut self.balances_usdc[service], amount_usdc)
    }

    /// Takes `amount_usdc` from `service`'s cash, refusing a shortfall.
    pub(super) fn debit(
        &mut self,
        service: Service,
        amount_usdc: Decimal,
    ) -> Result<(), StateError> {
        let available_usdc = self.balances_usdc[service];
        if amount_usdc > available_usdc {
            return Err(StateError::InsufficientBalance {
                service,
                requested_usdc: amount_usdc,
                available_usdc,
            });
        }
        self.balances_usdc[service] = available_usdc - amount_usdc;
        Ok(())
    }

    /// Debits what a request costs, refusing a shortfall as [`StateError::InsufficientFunds`]
    /// that names the request's `field` and says what the money was for (`detail`, built
    /// only then).
    pub(super) fn debit_for(
        &mut self,
        field: &'static str,
        service: Service,
        amount_usdc: Decimal,
        detail: impl FnOnce() -> String,
    ) -> Result<(), StateError> {
        let available_usdc = self.balances_usdc[service];
        if amount_usdc > available_usdc {
            return Err(StateError::InsufficientFunds {
                field,
                service,
                requested_usdc: amount_usdc,
                available_usdc,
                detail: detail(),
            });
        }
        self.debit(service, amount_usdc)
    }

    /// Credits or debits `change_usdc` by its sign.
    fn change(&mut self, service: Service, change_usdc: Decimal) -> Result<(), StateError> {
        if change_usdc.is_sign_negative() {
            self.debit(service, -change_usdc)
        } else {
            self.credit(service, change_usdc)
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::{
        sim::ledger::{Op, testing::article_ledger},
        testing::usdc,
    };

    /// A rebalance transfer of `amount_usdc` into (`Increase`) or out of `service`.
    fn transfer(service: Service, direction: Direction, amount_usdc: Decimal) -> Op {
        Op::Transfer {
            service,
            direction,
            amount_usdc,
        }
    }

    #[test]
    fn apply_validates_and_moves_money() {
        struct TestCase {
            op: Op,
            expected: Result<ServiceMap<Decimal>, &'static str>,
        }
        let cases = [
            // TC0: an increase moves money from the reserve into the service.
            TestCase {
                op: transfer(Service::Casino, Direction::Increase, dec!(50)),
                expected: Ok(ServiceMap(usdc![250, 300, 150, 150, 100, 50])),
            },
            // TC1: a decrease moves it back.
            TestCase {
                op: transfer(Service::Trading, Direction::Decrease, dec!(0.01)),
                expected: Ok(ServiceMap(usdc![200, 299.99, 150, 150, 100, 100.01])),
            },
            // TC2: a decrease beyond the balance.
            TestCase {
                op: transfer(Service::Escrow, Direction::Decrease, dec!(100.01)),
                expected: Err("insufficient_balance"),
            },
            // TC3: an increase beyond the reserve.
            TestCase {
                op: transfer(Service::Casino, Direction::Increase, dec!(100.01)),
                expected: Err("insufficient_balance"),
            },
            // TC4: the reserve is not a transfer target.
            TestCase {
                op: transfer(Service::Reserve, Direction::Increase, dec!(1)),
                expected: Err("service"),
            },
            // TC5: fractions of a cent.
            TestCase {
                op: transfer(Service::Casino, Direction::Increase, dec!(1.001)),
                expected: Err("amount_usdc"),
            },
            // TC6: zero.
            TestCase {
                op: transfer(Service::Casino, Direction::Increase, dec!(0)),
                expected: Err("amount_usdc"),
            },
            // TC7: trailing zeros are still whole cents.
            TestCase {
                op: Op::CasinoLoss {
                    amount_usdc: dec!(1.500),
                },
                expected: Ok(ServiceMap(usdc![198.5, 300, 150, 150, 100, 100])),
            },
            // TC8: a casino loss larger than the bankroll.
            TestCase {
                op: Op::CasinoLoss {
                    amount_usdc: dec!(200.01),
                },
                expected: Err("insufficient_balance"),
            },
            // TC9: a mark-to-market loss net of fees.
            TestCase {
                op: Op::MarkToMarket {
                    service: Service::Wallet,
                    pnl_usdc: dec!(-10),
                    fee_usdc: dec!(0.5),
                },
                expected: Ok(ServiceMap(usdc![200, 300, 139.5, 150, 100, 100])),
            },
            // TC10: a 25% drawdown of trading.
            TestCase {
                op: Op::Drawdown {
                    service: Service::Trading,
                    drawdown: dec!(0.25),
                },
                expected: Ok(ServiceMap(usdc![200, 225, 150, 150, 100, 100])),
            },
            // TC11: a drawdown above 100%.
            TestCase {
                op: Op::Drawdown {
                    service: Service::Trading,
                    drawdown: dec!(1.5),
                },
                expected: Err("drawdown"),
            },
            // TC12: referral income lands in the reserve.
            TestCase {
                op: Op::ReferralIncome {
                    amount_usdc: dec!(2.5),
                    source_service: Service::Casino,
                },
                expected: Ok(ServiceMap(usdc![200, 300, 150, 150, 100, 102.5])),
            },
            // TC13: a negative out-of-band balance.
            TestCase {
                op: Op::SetBalances {
                    balances_usdc: ServiceMap(usdc![-1, 0, 0, 0, 0, 0]),
                },
                expected: Err("casino_balance"),
            },
            // TC14: a win must pay more than its stake.
            TestCase {
                op: Op::CasinoWin {
                    amount_usdc: dec!(1),
                    stake_usdc: dec!(1),
                    multiplier: dec!(1),
                },
                expected: Err("multiplier"),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            let mut ledger = article_ledger();
            let before = ledger.clone();
            match (ledger.apply(&case.op), &case.expected) {
                (Ok(_), Ok(balances)) => assert_eq!(&ledger.balances(), balances, "TC{index}"),
                (Err(err), Err(needle)) => {
                    let text = format!("{} {err}", err.code());
                    assert!(text.contains(needle), "TC{index}: {text} lacks {needle}");
                    assert_eq!(ledger, before, "TC{index}: a refused op changed the books");
                }
                (actual, expected) => panic!("TC{index}: got {actual:?}, expected {expected:?}"),
            }
            assert!(ledger.accounting().ok, "TC{index}: identity broken");
        }
    }

    #[test]
    fn transfer_ids_are_unique_and_ordered() {
        let mut ledger = article_ledger();
        let mut ids = Vec::new();
        for _ in 0..3 {
            match ledger.apply(&Op::Transfer {
                service: Service::Casino,
                direction: Direction::Decrease,
                amount_usdc: dec!(1),
            }) {
                Ok(EventKind::Transfer { transfer_id, .. }) => ids.push(transfer_id),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(ids, ["tr-00000001", "tr-00000002", "tr-00000003"]);
    }
}
