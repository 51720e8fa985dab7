//! Scripted events: what a test, a scenario or a person rehearsing can make happen now, and
//! the ledger operation each one is.
//!
//! An injection is an [`InjectRequest`]: the JSON body of `POST /api/v1/sim/inject` and of
//! a scenario step, tagged by `type` like the events it causes, whose `balance` may name
//! only some services (the others keep their cash). [`Injection`] is the same vocabulary in
//! its library form (the contract of [`SimHandle::inject`](crate::sim::SimHandle::inject)),
//! whose `balance` names every service. [`to_op`] turns either straight into the ledger's
//! [`Op`].
//!
//! # Invariants
//! - Every injection but `lock` becomes exactly one ledger [`Op`], validated by the ledger
//!   like any other; nothing here changes a balance. A `lock` moves no money: the engine
//!   applies it beside the books (`engine::locks`).
//! - A win's reported stake and multiplier are plausible: the stake never exceeds the casino
//!   balance when the casino has any, and `amount = stake × (multiplier − 1)` up to the
//!   multiplier's rounding.

use std::collections::BTreeMap;

use rust_decimal::{Decimal, RoundingStrategy};

use super::ledger::{Op, StateError, check_cents, invalid, round_multiplier};
use crate::{
    service::{Service, ServiceMap},
    venue::protocol::{WireDecimal, sim::InjectRequest},
};

/// An injection in library form: a `balance` sets the cash of every service.
pub type Injection = InjectRequest<ServiceMap<Decimal>>;

/// What a `balance` injection carries: the new cash of every service, or of only some.
pub trait NewBalances {
    /// The cash of every service after the injection, given the cash now.
    fn resolve(&self, current_usdc: &ServiceMap<Decimal>) -> ServiceMap<Decimal>;
}

impl NewBalances for ServiceMap<Decimal> {
    fn resolve(&self, _current_usdc: &ServiceMap<Decimal>) -> ServiceMap<Decimal> {
        *self
    }
}

/// The wire form: services left out keep their cash.
impl NewBalances for BTreeMap<Service, WireDecimal> {
    fn resolve(&self, current_usdc: &ServiceMap<Decimal>) -> ServiceMap<Decimal> {
        let mut next = *current_usdc;
        for (service, value) in self {
            next[*service] = value.0;
        }
        next
    }
}

/// Multipliers tried, smallest first, when a win is larger than the casino balance: the
/// smallest long shot whose stake the bankroll covers.
const LONG_SHOT_MULTIPLIERS: [i64; 9] = [3, 5, 11, 21, 51, 101, 201, 501, 1001];

/// The ledger operation an injection is, given the cash it will apply to (a win's stake
/// is sized from the casino's, a partial `balance` keeps the rest).
///
/// # Errors
/// A win that is not positive whole cents, or a zero mark, naming the field.
pub fn to_op<B: NewBalances>(
    injection: &InjectRequest<B>,
    cash_usdc: &ServiceMap<Decimal>,
) -> Result<Op, StateError> {
    Ok(match injection {
        InjectRequest::CasinoWin { amount_usdc } => {
            check_cents("amount_usdc", *amount_usdc)?;
            let (stake_usdc, multiplier) = plausible_bet(*amount_usdc, cash_usdc[Service::Casino]);
            Op::CasinoWin {
                amount_usdc: *amount_usdc,
                stake_usdc,
                multiplier,
            }
        }
        InjectRequest::CasinoLoss { amount_usdc } => Op::CasinoLoss {
            amount_usdc: *amount_usdc,
        },
        InjectRequest::ReferralIncome {
            amount_usdc,
            source_service,
        } => Op::ReferralIncome {
            amount_usdc: *amount_usdc,
            source_service: *source_service,
        },
        InjectRequest::DomainsIncome { amount_usdc } => Op::DomainsIncome {
            amount_usdc: *amount_usdc,
        },
        InjectRequest::MarkToMarket {
            service,
            change_usdc,
        } => {
            if change_usdc.is_zero() {
                return Err(invalid("change_usdc", "must not be zero"));
            }
            Op::MarkToMarket {
                service: *service,
                pnl_usdc: *change_usdc,
                fee_usdc: Decimal::ZERO,
            }
        }
        InjectRequest::Drawdown { service, drawdown } => Op::Drawdown {
            service: *service,
            drawdown: *drawdown,
        },
        InjectRequest::Balance { balances_usdc } => Op::SetBalances {
            balances_usdc: balances_usdc.resolve(cash_usdc),
        },
        // A lock moves no money: the engine keeps locks beside the books.
        InjectRequest::Lock { .. } => {
            return Err(invalid("type", "`lock` is not a ledger operation"));
        }
    })
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
        let filled = ServiceMap([dec!(700.5), dec!(2), dec!(3), dec!(4), dec!(5), dec!(6)]);
        let expected = Op::SetBalances {
            balances_usdc: filled,
        };
        assert_eq!(to_op(&request, &current), Ok(expected.clone()));
        // The library form names every service: the same op whatever the cash now.
        let injection = Injection::Balance {
            balances_usdc: filled,
        };
        assert_eq!(
            to_op(&injection, &ServiceMap::default()),
            Ok(expected.clone())
        );
        // The wire form of every service set round-trips to the same op.
        let full: InjectRequest = InjectRequest::Balance {
            balances_usdc: filled
                .iter()
                .map(|(service, value)| (service, WireDecimal(*value)))
                .collect(),
        };
        let text = serde_json::to_string(&full).expect("encodes");
        let back: InjectRequest = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, full);
        assert_eq!(to_op(&back, &ServiceMap::default()), Ok(expected));
        let unknown = serde_json::from_str::<InjectRequest>(r#"{"type":"casino_win","amount":1}"#);
        assert!(unknown.is_err_and(|e| e.to_string().contains("amount")));
    }
}
