//! Scripted events: what a test, a scenario or a person rehearsing can make happen now.
//!
//! [`Injection`] is the library form (the contract of [`crate::sim::SimHandle::inject`]);
//! [`InjectRequest`] is its JSON form for `POST /api/v1/sim/inject` and scenario files,
//! tagged by `type` like the events it causes. A `balance` request may name only some
//! services; the others keep their balances.
//!
//! # Invariants
//! - Every injection becomes exactly one ledger [`Op`], validated by the ledger like any
//!   other; nothing here changes a balance.
//! - A win's reported stake and multiplier are plausible: the stake never exceeds the casino
//!   balance when the casino has any, and `amount = stake × (multiplier − 1)` up to the
//!   multiplier's rounding.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::state::{Op, StateError, check_cents, round_multiplier};
use crate::{
    service::{Service, ServiceMap},
    venue::protocol::{WireDecimal, wire},
};

/// An event to apply and announce at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Injection {
    /// The casino pays out `amount_usdc` net (a 1:1 bet of the same stake when the bankroll
    /// covers it, otherwise a long shot whose stake it does cover).
    CasinoWin {
        /// Net amount won, positive, whole cents.
        amount_usdc: Decimal,
    },
    /// The casino loses `amount_usdc` (at most its balance).
    CasinoLoss {
        /// Positive, whole cents.
        amount_usdc: Decimal,
    },
    /// Referral income paid into the reserve.
    ReferralIncome {
        /// Positive, whole cents.
        amount_usdc: Decimal,
        /// The service whose referrals earned it.
        source_service: Service,
    },
    /// Domain rental income.
    DomainsIncome {
        /// Positive, whole cents.
        amount_usdc: Decimal,
    },
    /// A signed change in a service's market value.
    MarkToMarket {
        /// The service (not the reserve).
        service: Service,
        /// Signed, whole cents.
        change_usdc: Decimal,
    },
    /// A service loses `drawdown` of its balance (0.2 = 20%), announced as a drawdown.
    Drawdown {
        /// The service (not the reserve).
        service: Service,
        /// Fraction in (0, 1].
        drawdown: Decimal,
    },
    /// Cash balances set out of band, announced as a `balance` event; positions and lots
    /// are untouched.
    Balance {
        /// The new cash of every service.
        balances_usdc: ServiceMap<Decimal>,
    },
}

/// Multipliers tried, smallest first, when a win is larger than the casino balance: the
/// smallest long shot whose stake the bankroll covers.
const LONG_SHOT_MULTIPLIERS: [i64; 9] = [3, 5, 11, 21, 51, 101, 201, 501, 1001];

impl Injection {
    /// The ledger operation, given the balances it will apply to.
    ///
    /// # Errors
    /// An amount that is not positive whole cents, naming the field.
    pub fn to_op(&self, balances_usdc: &ServiceMap<Decimal>) -> Result<Op, StateError> {
        Ok(match self {
            Injection::CasinoWin { amount_usdc } => {
                check_cents("amount_usdc", *amount_usdc)?;
                let (stake_usdc, multiplier) =
                    plausible_bet(*amount_usdc, balances_usdc[Service::Casino]);
                Op::CasinoWin {
                    amount_usdc: *amount_usdc,
                    stake_usdc,
                    multiplier,
                }
            }
            Injection::CasinoLoss { amount_usdc } => Op::CasinoLoss {
                amount_usdc: *amount_usdc,
            },
            Injection::ReferralIncome {
                amount_usdc,
                source_service,
            } => Op::ReferralIncome {
                amount_usdc: *amount_usdc,
                source_service: *source_service,
            },
            Injection::DomainsIncome { amount_usdc } => Op::DomainsIncome {
                amount_usdc: *amount_usdc,
            },
            Injection::MarkToMarket {
                service,
                change_usdc,
            } => {
                if change_usdc.is_zero() {
                    return Err(StateError::Invalid {
                        field: "change_usdc",
                        reason: "must not be zero".into(),
                    });
                }
                Op::MarkToMarket {
                    service: *service,
                    pnl_usdc: *change_usdc,
                    fee_usdc: Decimal::ZERO,
                }
            }
            Injection::Drawdown { service, drawdown } => Op::Drawdown {
                service: *service,
                drawdown: *drawdown,
            },
            Injection::Balance { balances_usdc } => Op::SetBalances {
                balances_usdc: *balances_usdc,
            },
        })
    }
}

/// A stake and multiplier that explain a net win of `amount_usdc` from a casino holding
/// `casino_usdc`.
fn plausible_bet(amount_usdc: Decimal, casino_usdc: Decimal) -> (Decimal, Decimal) {
    let cent = Decimal::new(1, 2);
    if amount_usdc <= casino_usdc || casino_usdc < cent {
        return (amount_usdc, Decimal::TWO);
    }
    let stake_usdc = LONG_SHOT_MULTIPLIERS
        .iter()
        .map(|m| {
            (amount_usdc / Decimal::from(m - 1))
                .round_dp_with_strategy(2, RoundingStrategy::AwayFromZero)
        })
        .find(|stake| *stake <= casino_usdc)
        .unwrap_or(casino_usdc);
    let multiplier = round_multiplier(Decimal::ONE + amount_usdc / stake_usdc);
    (stake_usdc, multiplier)
}

/// The JSON body of `POST /api/v1/sim/inject` and of a scenario step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InjectRequest {
    /// See [`Injection::CasinoWin`].
    CasinoWin {
        /// Net amount won.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// See [`Injection::CasinoLoss`].
    CasinoLoss {
        /// Amount lost.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// See [`Injection::ReferralIncome`].
    ReferralIncome {
        /// Amount.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
        /// Source service.
        source_service: Service,
    },
    /// See [`Injection::DomainsIncome`].
    DomainsIncome {
        /// Amount.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// See [`Injection::MarkToMarket`].
    MarkToMarket {
        /// Service.
        service: Service,
        /// Signed change.
        #[serde(with = "wire")]
        change_usdc: Decimal,
    },
    /// See [`Injection::Drawdown`].
    Drawdown {
        /// Service.
        service: Service,
        /// Fraction lost.
        #[serde(with = "wire")]
        drawdown: Decimal,
    },
    /// See [`Injection::Balance`]; services left out keep their balances.
    Balance {
        /// New balances by service name (`casino`, ..., `reserve`).
        balances_usdc: BTreeMap<Service, WireDecimal>,
    },
}

impl InjectRequest {
    /// The injection, filling services a `balance` request leaves out from `current_usdc`.
    pub fn into_injection(self, current_usdc: &ServiceMap<Decimal>) -> Injection {
        match self {
            InjectRequest::CasinoWin { amount_usdc } => Injection::CasinoWin { amount_usdc },
            InjectRequest::CasinoLoss { amount_usdc } => Injection::CasinoLoss { amount_usdc },
            InjectRequest::ReferralIncome {
                amount_usdc,
                source_service,
            } => Injection::ReferralIncome {
                amount_usdc,
                source_service,
            },
            InjectRequest::DomainsIncome { amount_usdc } => {
                Injection::DomainsIncome { amount_usdc }
            }
            InjectRequest::MarkToMarket {
                service,
                change_usdc,
            } => Injection::MarkToMarket {
                service,
                change_usdc,
            },
            InjectRequest::Drawdown { service, drawdown } => {
                Injection::Drawdown { service, drawdown }
            }
            InjectRequest::Balance { balances_usdc } => {
                let mut next = *current_usdc;
                for (service, value) in balances_usdc {
                    next[service] = value.0;
                }
                Injection::Balance {
                    balances_usdc: next,
                }
            }
        }
    }
}

impl From<&Injection> for InjectRequest {
    fn from(injection: &Injection) -> Self {
        match injection.clone() {
            Injection::CasinoWin { amount_usdc } => InjectRequest::CasinoWin { amount_usdc },
            Injection::CasinoLoss { amount_usdc } => InjectRequest::CasinoLoss { amount_usdc },
            Injection::ReferralIncome {
                amount_usdc,
                source_service,
            } => InjectRequest::ReferralIncome {
                amount_usdc,
                source_service,
            },
            Injection::DomainsIncome { amount_usdc } => {
                InjectRequest::DomainsIncome { amount_usdc }
            }
            Injection::MarkToMarket {
                service,
                change_usdc,
            } => InjectRequest::MarkToMarket {
                service,
                change_usdc,
            },
            Injection::Drawdown { service, drawdown } => {
                InjectRequest::Drawdown { service, drawdown }
            }
            Injection::Balance { balances_usdc } => InjectRequest::Balance {
                balances_usdc: balances_usdc
                    .iter()
                    .map(|(service, value)| (service, WireDecimal(*value)))
                    .collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn wins_get_plausible_bets() {
        struct TestCase {
            amount_usdc: Decimal,
            casino_usdc: Decimal,
            expected: (Decimal, Decimal),
        }
        let cases = [
            // TC0: the bankroll covers an even-money bet of the same size.
            TestCase {
                amount_usdc: dec!(150),
                casino_usdc: dec!(200),
                expected: (dec!(150), dec!(2)),
            },
            // TC1: a win of 3× the bankroll is a 5× long shot on a quarter of it.
            TestCase {
                amount_usdc: dec!(600),
                casino_usdc: dec!(200),
                expected: (dec!(150), dec!(5)),
            },
            // TC2: an empty casino still reports an even-money bet.
            TestCase {
                amount_usdc: dec!(10),
                casino_usdc: dec!(0),
                expected: (dec!(10), dec!(2)),
            },
            // TC3: a huge win on a tiny bankroll stakes the whole bankroll.
            TestCase {
                amount_usdc: dec!(1000000),
                casino_usdc: dec!(1),
                expected: (dec!(1), dec!(1000001)),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            assert_eq!(
                plausible_bet(case.amount_usdc, case.casino_usdc),
                case.expected,
                "TC{index}"
            );
        }
    }

    #[test]
    fn wire_form_round_trips_and_fills_partial_balances() {
        let current = ServiceMap([dec!(1), dec!(2), dec!(3), dec!(4), dec!(5), dec!(6)]);
        let request: InjectRequest =
            serde_json::from_str(r#"{"type":"balance","balances_usdc":{"casino":700.5}}"#)
                .expect("parses");
        let injection = request.into_injection(&current);
        assert_eq!(
            injection,
            Injection::Balance {
                balances_usdc: ServiceMap([
                    dec!(700.5),
                    dec!(2),
                    dec!(3),
                    dec!(4),
                    dec!(5),
                    dec!(6)
                ])
            }
        );
        let text = serde_json::to_string(&InjectRequest::from(&injection)).expect("encodes");
        let back: InjectRequest = serde_json::from_str(&text).expect("parses");
        assert_eq!(back.into_injection(&ServiceMap::default()), injection);
        let unknown = serde_json::from_str::<InjectRequest>(r#"{"type":"casino_win","amount":1}"#);
        assert!(unknown.is_err_and(|e| e.to_string().contains("amount")));
    }
}
