//! The simulated venue's books: a pure state machine over balances, income and fees.
//!
//! Everything that moves money on the simulated venue is an [`Op`]; [`Ledger::apply`]
//! validates it, changes the balances and returns the [`EventKind`] the venue announces for
//! it. Nothing here does I/O, reads a clock or draws a random number, so the same sequence
//! of operations always gives the same books; the HTTP layer and the activity model only
//! build operations and hand them in.
//!
//! Beside the balances the ledger keeps the day's performance book: what each service
//! earned or lost today (excluding transfers, which are flows, not performance) and the
//! money that flowed into it, so that the day's simple return per service can be closed at
//! midnight ([`Ledger::close_day`]). Referral income is paid into the reserve but booked as
//! performance of the service whose referrals earned it, so the reserve's return is zero.
//!
//! # Invariants
//! - Every balance is non-negative, in whole cents, after every operation; an operation
//!   that would break this is rejected and changes nothing.
//! - The accounting identity holds exactly in `Decimal` after every operation:
//!   `Σ balances = initial funds + income − fees + out-of-band adjustments`, where income is
//!   referral + domains + casino net + mark-to-market ([`Ledger::accounting`]).
//! - A transfer never creates or destroys money: it moves it between one service and the
//!   reserve.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::{
    money::{CENT_DP, decimal_to_f64, round_cents, wire},
    service::{Service, ServiceMap},
    venue::protocol::{Direction, EventKind, WireDecimal},
};

/// Decimal places reported for casino multipliers.
const MULTIPLIER_DP: u32 = 4;

/// One thing that changes (or announces) the venue's books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A rebalance: USDC between a tradable service and the reserve.
    Transfer {
        /// The service (never the reserve).
        service: Service,
        /// Increase (reserve → service) or decrease (service → reserve).
        direction: Direction,
        /// Positive, whole cents.
        amount_usdc: Decimal,
    },
    /// Casino bets paid out (net of their stakes).
    CasinoWin {
        /// Net amount won, positive, whole cents.
        amount_usdc: Decimal,
        /// Total staked on the bets, whole cents.
        stake_usdc: Decimal,
        /// Payout as a multiple of the stake (2 for an even-money win).
        multiplier: Decimal,
    },
    /// Casino bets lost.
    CasinoLoss {
        /// Amount lost, positive, whole cents, at most the casino balance.
        amount_usdc: Decimal,
    },
    /// Referral income credited to the reserve.
    ReferralIncome {
        /// Positive, whole cents.
        amount_usdc: Decimal,
        /// The service whose referrals earned it (never the reserve).
        source_service: Service,
    },
    /// Domain rental income credited to the domains balance.
    DomainsIncome {
        /// Positive, whole cents.
        amount_usdc: Decimal,
    },
    /// A change in the value of a service's holdings, less fees paid on them.
    MarkToMarket {
        /// The service (never the reserve).
        service: Service,
        /// Signed change in value before fees, whole cents.
        pnl_usdc: Decimal,
        /// Fees paid, non-negative, whole cents.
        fee_usdc: Decimal,
    },
    /// A fall in a service's value by a fraction of its balance.
    Drawdown {
        /// The service (never the reserve).
        service: Service,
        /// Fraction lost, in (0, 1].
        drawdown: Decimal,
    },
    /// Balances set out of band (an operator's correction, a deposit or withdrawal).
    SetBalances {
        /// The new balance of every service, non-negative, whole cents.
        balances_usdc: ServiceMap<Decimal>,
    },
    /// New asset prices; changes no balance.
    Price {
        /// USDC per unit, positive.
        prices: BTreeMap<String, WireDecimal>,
    },
}

/// Why the ledger refused an operation; the venue maps each to an HTTP status and code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// A field is out of range (HTTP 400 `bad_request`).
    #[error("`{field}` {reason}")]
    Invalid {
        /// The request field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A service holds less than the operation takes (HTTP 409 `insufficient_balance`).
    #[error(
        "insufficient balance: {service} holds {available_usdc} USDC, the request needs {requested_usdc} USDC"
    )]
    InsufficientBalance {
        /// The service that would go negative (`reserve` for an increase).
        service: Service,
        /// What the operation takes.
        requested_usdc: Decimal,
        /// What the service holds.
        available_usdc: Decimal,
    },
}

impl StateError {
    /// The stable error code for the venue's error body.
    pub fn code(&self) -> &'static str {
        match self {
            StateError::Invalid { .. } => "bad_request",
            StateError::InsufficientBalance { .. } => "insufficient_balance",
        }
    }

    /// The HTTP status the venue answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            StateError::Invalid { .. } => 400,
            StateError::InsufficientBalance { .. } => 409,
        }
    }
}

/// Cumulative income by kind since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomeTotals {
    /// Referral income credited to the reserve.
    #[serde(with = "wire")]
    pub referral_usdc: Decimal,
    /// Domain rental income.
    #[serde(with = "wire")]
    pub domains_usdc: Decimal,
    /// Casino wins minus casino losses.
    #[serde(with = "wire")]
    pub casino_net_usdc: Decimal,
    /// Mark-to-market changes (including drawdowns), before fees.
    #[serde(with = "wire")]
    pub mark_to_market_usdc: Decimal,
}

impl IncomeTotals {
    /// The sum of every kind.
    pub fn total_usdc(&self) -> Decimal {
        self.referral_usdc + self.domains_usdc + self.casino_net_usdc + self.mark_to_market_usdc
    }
}

/// The result of checking the accounting identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountingCheck {
    /// Whether `total_usdc == expected_usdc` exactly.
    pub ok: bool,
    /// Σ balances.
    #[serde(with = "wire")]
    pub total_usdc: Decimal,
    /// Initial funds + income − fees + adjustments.
    #[serde(with = "wire")]
    pub expected_usdc: Decimal,
    /// Funds at the start.
    #[serde(with = "wire")]
    pub initial_funds_usdc: Decimal,
    /// Income by kind.
    pub income: IncomeTotals,
    /// Fees paid.
    #[serde(with = "wire")]
    pub fees_usdc: Decimal,
    /// Net out-of-band balance changes (`SetBalances`).
    #[serde(with = "wire")]
    pub adjustments_usdc: Decimal,
}

/// The day's performance book, for daily returns.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DayBook {
    /// Balances when the day opened.
    start_usdc: ServiceMap<Decimal>,
    /// Performance (income, casino, mark-to-market, less fees) earned today.
    pnl_usdc: ServiceMap<Decimal>,
    /// Money that arrived today by transfer or out-of-band top-up.
    inflows_usdc: ServiceMap<Decimal>,
}

impl DayBook {
    fn open(balances_usdc: ServiceMap<Decimal>) -> Self {
        DayBook {
            start_usdc: balances_usdc,
            pnl_usdc: ServiceMap::default(),
            inflows_usdc: ServiceMap::default(),
        }
    }
}

/// The books of one agent on the simulated venue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    balances_usdc: ServiceMap<Decimal>,
    initial_funds_usdc: Decimal,
    income: IncomeTotals,
    fees_usdc: Decimal,
    adjustments_usdc: Decimal,
    next_transfer_id: u64,
    day: DayBook,
}

impl Ledger {
    /// Opens the books with these balances.
    ///
    /// # Errors
    /// A negative balance, or one with fractions of a cent, naming the service.
    pub fn new(initial_balances_usdc: ServiceMap<Decimal>) -> Result<Self, StateError> {
        for (service, value) in initial_balances_usdc.iter() {
            check_balance(service, *value)?;
        }
        let initial_funds_usdc = checked_sum(initial_balances_usdc.values())?;
        Ok(Ledger {
            balances_usdc: initial_balances_usdc,
            initial_funds_usdc,
            income: IncomeTotals::default(),
            fees_usdc: Decimal::ZERO,
            adjustments_usdc: Decimal::ZERO,
            next_transfer_id: 1,
            day: DayBook::open(initial_balances_usdc),
        })
    }

    /// Current balances.
    pub fn balances(&self) -> ServiceMap<Decimal> {
        self.balances_usdc
    }

    /// Income by kind since the start.
    pub fn income(&self) -> IncomeTotals {
        self.income
    }

    /// Validates and applies one operation, returning the event that announces it.
    ///
    /// # Errors
    /// A [`StateError`] naming the field at fault; the ledger is then unchanged.
    pub fn apply(&mut self, op: &Op) -> Result<EventKind, StateError> {
        // Work on a copy so a failure half-way leaves nothing behind.
        let mut next = self.clone();
        let kind = next.apply_in_place(op)?;
        *self = next;
        Ok(kind)
    }

    fn apply_in_place(&mut self, op: &Op) -> Result<EventKind, StateError> {
        match op {
            Op::Transfer {
                service,
                direction,
                amount_usdc,
            } => {
                if *service == Service::Reserve {
                    return Err(invalid(
                        "service",
                        "must not be `reserve`: the reserve is the other side of every transfer",
                    ));
                }
                check_cents("amount_usdc", *amount_usdc)?;
                let (from, to) = direction.flow(*service);
                self.debit(from, *amount_usdc)?;
                self.credit(to, *amount_usdc)?;
                self.day.inflows_usdc[to] = add(self.day.inflows_usdc[to], *amount_usdc)?;
                let transfer_id = format!("tr-{:08}", self.next_transfer_id);
                self.next_transfer_id += 1;
                Ok(EventKind::Transfer {
                    transfer_id,
                    service: *service,
                    direction: *direction,
                    amount_usdc: *amount_usdc,
                })
            }
            Op::CasinoWin {
                amount_usdc,
                stake_usdc,
                multiplier,
            } => {
                check_cents("amount_usdc", *amount_usdc)?;
                check_cents("stake_usdc", *stake_usdc)?;
                if *multiplier <= Decimal::ONE {
                    return Err(invalid("multiplier", "must be above 1 for a win"));
                }
                self.credit(Service::Casino, *amount_usdc)?;
                self.income.casino_net_usdc = add(self.income.casino_net_usdc, *amount_usdc)?;
                self.book_pnl(Service::Casino, *amount_usdc)?;
                Ok(EventKind::CasinoWin {
                    amount_usdc: *amount_usdc,
                    stake_usdc: *stake_usdc,
                    multiplier: multiplier.round_dp(MULTIPLIER_DP),
                })
            }
            Op::CasinoLoss { amount_usdc } => {
                check_cents("amount_usdc", *amount_usdc)?;
                self.debit(Service::Casino, *amount_usdc)?;
                self.income.casino_net_usdc = sub(self.income.casino_net_usdc, *amount_usdc)?;
                self.book_pnl(Service::Casino, -*amount_usdc)?;
                Ok(EventKind::CasinoLoss {
                    amount_usdc: *amount_usdc,
                })
            }
            Op::ReferralIncome {
                amount_usdc,
                source_service,
            } => {
                check_cents("amount_usdc", *amount_usdc)?;
                if *source_service == Service::Reserve {
                    return Err(invalid("source_service", "must not be `reserve`"));
                }
                self.credit(Service::Reserve, *amount_usdc)?;
                self.income.referral_usdc = add(self.income.referral_usdc, *amount_usdc)?;
                // The cash lands in the reserve, but it is the source service's activity that
                // earned it: booking it there keeps the reserve's returns at zero (riskless),
                // as the optimizers assume.
                self.book_pnl(*source_service, *amount_usdc)?;
                Ok(EventKind::ReferralIncome {
                    amount_usdc: *amount_usdc,
                    source_service: *source_service,
                })
            }
            Op::DomainsIncome { amount_usdc } => {
                check_cents("amount_usdc", *amount_usdc)?;
                self.credit(Service::Domains, *amount_usdc)?;
                self.income.domains_usdc = add(self.income.domains_usdc, *amount_usdc)?;
                self.book_pnl(Service::Domains, *amount_usdc)?;
                Ok(EventKind::DomainsIncome {
                    amount_usdc: *amount_usdc,
                })
            }
            Op::MarkToMarket {
                service,
                pnl_usdc,
                fee_usdc,
            } => {
                if *service == Service::Reserve {
                    return Err(invalid(
                        "service",
                        "must not be `reserve`: idle USDC has no market value to mark",
                    ));
                }
                check_signed_cents("change_usdc", *pnl_usdc)?;
                if !fee_usdc.is_zero() {
                    check_cents("fee_usdc", *fee_usdc)?;
                }
                let change_usdc = sub(*pnl_usdc, *fee_usdc)?;
                self.change(*service, change_usdc)?;
                self.income.mark_to_market_usdc = add(self.income.mark_to_market_usdc, *pnl_usdc)?;
                self.fees_usdc = add(self.fees_usdc, *fee_usdc)?;
                self.book_pnl(*service, change_usdc)?;
                Ok(EventKind::MarkToMarket {
                    service: *service,
                    change_usdc,
                })
            }
            Op::Drawdown { service, drawdown } => {
                if *service == Service::Reserve {
                    return Err(invalid("service", "must not be `reserve`"));
                }
                if *drawdown <= Decimal::ZERO || *drawdown > Decimal::ONE {
                    return Err(invalid("drawdown", "must be in (0, 1]"));
                }
                let loss_usdc = round_cents(
                    self.balances_usdc[*service]
                        .checked_mul(*drawdown)
                        .ok_or_else(too_large)?,
                );
                self.change(*service, -loss_usdc)?;
                self.income.mark_to_market_usdc = sub(self.income.mark_to_market_usdc, loss_usdc)?;
                self.book_pnl(*service, -loss_usdc)?;
                Ok(EventKind::Drawdown {
                    service: *service,
                    drawdown: *drawdown,
                })
            }
            Op::SetBalances { balances_usdc } => {
                for (service, value) in balances_usdc.iter() {
                    check_balance(service, *value)?;
                }
                let old_total = checked_sum(self.balances_usdc.values())?;
                let new_total = checked_sum(balances_usdc.values())?;
                self.adjustments_usdc = add(self.adjustments_usdc, sub(new_total, old_total)?)?;
                for service in Service::ALL {
                    // A top-up is money arriving, like a transfer in: a flow, not performance.
                    let delta = sub(balances_usdc[service], self.balances_usdc[service])?;
                    if delta > Decimal::ZERO {
                        self.day.inflows_usdc[service] =
                            add(self.day.inflows_usdc[service], delta)?;
                    }
                }
                self.balances_usdc = *balances_usdc;
                Ok(EventKind::Balance)
            }
            Op::Price { prices } => {
                for price in prices.values() {
                    if price.0 <= Decimal::ZERO {
                        return Err(invalid("prices", "every price must be positive"));
                    }
                }
                Ok(EventKind::Price {
                    prices: prices.clone(),
                })
            }
        }
    }

    /// Closes the day: returns each service's simple return for it and opens the next day
    /// at the current balances.
    ///
    /// The return is the day's performance over the money at work that day (the opening
    /// balance plus what flowed in), so a transfer in or out is never mistaken for a gain or
    /// a loss. A service that held nothing all day returns 0.
    pub fn close_day(&mut self) -> ServiceMap<f64> {
        let returns = ServiceMap::from_fn(|service| {
            let at_work = self.day.start_usdc[service]
                .checked_add(self.day.inflows_usdc[service])
                .unwrap_or(Decimal::MAX);
            if at_work <= Decimal::ZERO {
                return 0.0;
            }
            let r = self.day.pnl_usdc[service]
                .checked_div(at_work)
                .unwrap_or_default();
            decimal_to_f64(r)
        });
        self.day = DayBook::open(self.balances_usdc);
        returns
    }

    /// Checks the accounting identity.
    pub fn accounting(&self) -> AccountingCheck {
        let total_usdc = checked_sum(self.balances_usdc.values()).unwrap_or(Decimal::MAX);
        let expected_usdc = self
            .initial_funds_usdc
            .checked_add(self.income.total_usdc())
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
        }
    }

    fn credit(&mut self, service: Service, amount_usdc: Decimal) -> Result<(), StateError> {
        self.balances_usdc[service] = add(self.balances_usdc[service], amount_usdc)?;
        Ok(())
    }

    fn debit(&mut self, service: Service, amount_usdc: Decimal) -> Result<(), StateError> {
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

    fn change(&mut self, service: Service, change_usdc: Decimal) -> Result<(), StateError> {
        if change_usdc.is_sign_negative() {
            self.debit(service, -change_usdc)
        } else {
            self.credit(service, change_usdc)
        }
    }

    fn book_pnl(&mut self, service: Service, pnl_usdc: Decimal) -> Result<(), StateError> {
        self.day.pnl_usdc[service] = add(self.day.pnl_usdc[service], pnl_usdc)?;
        Ok(())
    }
}

/// Checks that an amount is positive and in whole cents.
///
/// # Errors
/// [`StateError::Invalid`] naming `field`.
pub fn check_cents(field: &'static str, amount_usdc: Decimal) -> Result<(), StateError> {
    if amount_usdc <= Decimal::ZERO {
        return Err(invalid(field, "must be positive"));
    }
    check_signed_cents(field, amount_usdc)
}

fn check_signed_cents(field: &'static str, amount_usdc: Decimal) -> Result<(), StateError> {
    if amount_usdc.normalize().scale() > CENT_DP {
        return Err(invalid(field, "must have at most 2 decimal places"));
    }
    Ok(())
}

fn check_balance(service: Service, value: Decimal) -> Result<(), StateError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(invalid(service.balance_field(), "must not be negative"));
    }
    check_signed_cents(service.balance_field(), value)
}

/// Rounds a casino payout ratio the way events report it.
pub fn round_multiplier(multiplier: Decimal) -> Decimal {
    multiplier.round_dp_with_strategy(MULTIPLIER_DP, RoundingStrategy::MidpointAwayFromZero)
}

fn checked_sum<'a>(mut values: impl Iterator<Item = &'a Decimal>) -> Result<Decimal, StateError> {
    values.try_fold(Decimal::ZERO, |acc, v| add(acc, *v))
}

fn add(a: Decimal, b: Decimal) -> Result<Decimal, StateError> {
    a.checked_add(b).ok_or_else(too_large)
}

fn sub(a: Decimal, b: Decimal) -> Result<Decimal, StateError> {
    a.checked_sub(b).ok_or_else(too_large)
}

fn too_large() -> StateError {
    invalid("amount_usdc", "is too large")
}

fn invalid(field: &'static str, reason: &str) -> StateError {
    StateError::Invalid {
        field,
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn article_balances() -> ServiceMap<Decimal> {
        ServiceMap([
            dec!(200),
            dec!(300),
            dec!(150),
            dec!(150),
            dec!(100),
            dec!(100),
        ])
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
                op: Op::Transfer {
                    service: Service::Casino,
                    direction: Direction::Increase,
                    amount_usdc: dec!(50),
                },
                expected: Ok(ServiceMap([
                    dec!(250),
                    dec!(300),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(50),
                ])),
            },
            // TC1: a decrease moves it back.
            TestCase {
                op: Op::Transfer {
                    service: Service::Trading,
                    direction: Direction::Decrease,
                    amount_usdc: dec!(0.01),
                },
                expected: Ok(ServiceMap([
                    dec!(200),
                    dec!(299.99),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(100.01),
                ])),
            },
            // TC2: a decrease beyond the balance.
            TestCase {
                op: Op::Transfer {
                    service: Service::Escrow,
                    direction: Direction::Decrease,
                    amount_usdc: dec!(100.01),
                },
                expected: Err("insufficient_balance"),
            },
            // TC3: an increase beyond the reserve.
            TestCase {
                op: Op::Transfer {
                    service: Service::Casino,
                    direction: Direction::Increase,
                    amount_usdc: dec!(100.01),
                },
                expected: Err("insufficient_balance"),
            },
            // TC4: the reserve is not a transfer target.
            TestCase {
                op: Op::Transfer {
                    service: Service::Reserve,
                    direction: Direction::Increase,
                    amount_usdc: dec!(1),
                },
                expected: Err("service"),
            },
            // TC5: fractions of a cent.
            TestCase {
                op: Op::Transfer {
                    service: Service::Casino,
                    direction: Direction::Increase,
                    amount_usdc: dec!(1.001),
                },
                expected: Err("amount_usdc"),
            },
            // TC6: zero.
            TestCase {
                op: Op::Transfer {
                    service: Service::Casino,
                    direction: Direction::Increase,
                    amount_usdc: dec!(0),
                },
                expected: Err("amount_usdc"),
            },
            // TC7: trailing zeros are still whole cents.
            TestCase {
                op: Op::CasinoLoss {
                    amount_usdc: dec!(1.500),
                },
                expected: Ok(ServiceMap([
                    dec!(198.5),
                    dec!(300),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(100),
                ])),
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
                expected: Ok(ServiceMap([
                    dec!(200),
                    dec!(300),
                    dec!(139.5),
                    dec!(150),
                    dec!(100),
                    dec!(100),
                ])),
            },
            // TC10: a 25% drawdown of trading.
            TestCase {
                op: Op::Drawdown {
                    service: Service::Trading,
                    drawdown: dec!(0.25),
                },
                expected: Ok(ServiceMap([
                    dec!(200),
                    dec!(225),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(100),
                ])),
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
                expected: Ok(ServiceMap([
                    dec!(200),
                    dec!(300),
                    dec!(150),
                    dec!(150),
                    dec!(100),
                    dec!(102.5),
                ])),
            },
            // TC13: a negative out-of-band balance.
            TestCase {
                op: Op::SetBalances {
                    balances_usdc: ServiceMap([
                        dec!(-1),
                        dec!(0),
                        dec!(0),
                        dec!(0),
                        dec!(0),
                        dec!(0),
                    ]),
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
            let mut ledger = Ledger::new(article_balances()).expect("valid");
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
    fn transfers_are_not_returns() {
        let mut ledger = Ledger::new(article_balances()).expect("valid");
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
    fn transfer_ids_are_unique_and_ordered() {
        let mut ledger = Ledger::new(article_balances()).expect("valid");
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

#[cfg(test)]
mod property_tests {
    use proptest::prelude::*;

    use super::*;

    fn cents() -> impl Strategy<Value = Decimal> {
        // Mostly whole cents, some zero, some with a third decimal place (invalid).
        prop_oneof![
            8 => (0_i64..50_000).prop_map(|c| Decimal::new(c, 2)),
            1 => Just(Decimal::ZERO),
            1 => (1_i64..50_000).prop_map(|m| Decimal::new(m, 3)),
        ]
    }

    fn service() -> impl Strategy<Value = Service> {
        prop::sample::select(Service::ALL.to_vec())
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (service(), any::<bool>(), cents()).prop_map(|(service, up, amount_usdc)| {
                Op::Transfer {
                    service,
                    direction: if up {
                        Direction::Increase
                    } else {
                        Direction::Decrease
                    },
                    amount_usdc,
                }
            }),
            (cents(), cents(), 100_u32..10_000).prop_map(|(amount_usdc, stake_usdc, m)| {
                Op::CasinoWin {
                    amount_usdc,
                    stake_usdc,
                    multiplier: Decimal::new(i64::from(m), 2),
                }
            }),
            cents().prop_map(|amount_usdc| Op::CasinoLoss { amount_usdc }),
            (cents(), service()).prop_map(|(amount_usdc, source_service)| Op::ReferralIncome {
                amount_usdc,
                source_service,
            }),
            cents().prop_map(|amount_usdc| Op::DomainsIncome { amount_usdc }),
            (service(), cents(), any::<bool>(), cents()).prop_map(
                |(service, pnl, negative, fee_usdc)| Op::MarkToMarket {
                    service,
                    pnl_usdc: if negative { -pnl } else { pnl },
                    fee_usdc,
                }
            ),
            (service(), 0_i64..=120).prop_map(|(service, pct)| Op::Drawdown {
                service,
                drawdown: Decimal::new(pct, 2),
            }),
            prop::array::uniform6(cents()).prop_map(|b| Op::SetBalances {
                balances_usdc: ServiceMap(b),
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn prop_identity_holds_and_balances_stay_non_negative(
            initial in prop::array::uniform6((0_i64..100_000).prop_map(|c| Decimal::new(c, 2))),
            ops in prop::collection::vec(op(), 1..80),
        ) {
            let mut ledger = Ledger::new(ServiceMap(initial)).expect("valid start");
            for op in &ops {
                let before = ledger.clone();
                let total_before = before.accounting().total_usdc;
                match ledger.apply(op) {
                    Ok(_) => {
                        if let Op::Transfer { .. } = op {
                            // Transfers conserve the total exactly.
                            prop_assert_eq!(ledger.accounting().total_usdc, total_before);
                        }
                    }
                    Err(_) => prop_assert_eq!(&ledger, &before),
                }
                let check = ledger.accounting();
                prop_assert!(check.ok, "identity broken after {:?}: {:?}", op, check);
                for (service, value) in ledger.balances().iter() {
                    prop_assert!(*value >= Decimal::ZERO, "{} negative after {:?}", service, op);
                    prop_assert!(value.normalize().scale() <= CENT_DP);
                }
            }
            for r in ledger.close_day().values() {
                prop_assert!(r.is_finite());
            }
        }
    }
}
