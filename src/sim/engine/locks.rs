//! Locks on withdrawals: funds in play after a large win, or a scripted settlement delay,
//! that a `decrease` may not take until they are released.
//!
//! A lock holds an amount of one service for some simulated hours. The part of a service
//! that is locked is the sum of its active locks, at most its cash; the portfolio reports it
//! (`locked_usdc`), so a client knows what it may move now, and a decrease asking for more
//! than the rest is refused (`409 funds_locked`). Locks are announced (`funds_locked`) and
//! released at the end of the first simulated hour at or after they expire
//! (`funds_released`). A lock moves no money and the books never see it.
//!
//! After a casino win of at least `large_win_fraction` of the portfolio, with
//! `after_large_win_hours` set, the casino's bankroll is in play: all of its cash is locked
//! for that long (the article's "2–3 day spot rebalance window", made real).
//!
//! The wallet's coins are reported locked too: the wallet's balance is its cash plus its
//! lots at the mark, but a transfer moves cash only, and coins become cash only when sold. So
//! the wallet's `locked_usdc` is its balance less what a `decrease` may take (its cash less
//! its locks, whole cents); it changes with every price move and is never announced, since no
//! lock is placed or released. A decrease above the wallet's cash is still refused as before
//! (`409 insufficient_balance`); one that takes locked cash, `409 funds_locked`.
//!
//! # Invariants
//! - A decrease never takes locked cash; every other operation is untouched by locks.
//! - Every lock placed is released exactly once, and announced both times.
//! - The locked part reported is never more than the service's balance; what is left (the
//!   free part) is never more than its cash less its locks.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Engine, MAX_ADVANCE_HOURS};
use crate::{
    money::round_cents,
    service::{Direction, Service, ServiceMap},
    sim::ledger::{Op, StateError, check_cents, invalid},
    venue::protocol::{EventFrame, EventKind, RebalanceBody},
};

/// When the venue locks winnings on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockParams {
    /// Hours the casino's bankroll stays locked after a large win; 0 never locks.
    pub after_large_win_hours: u32,
    /// A casino win at least this fraction of the portfolio (before it) is large.
    pub large_win_fraction: Decimal,
}

impl Default for LockParams {
    /// No automatic locks; a large win is the article's 10% of the portfolio.
    fn default() -> Self {
        LockParams {
            after_large_win_hours: 0,
            large_win_fraction: Decimal::new(10, 2),
        }
    }
}

impl LockParams {
    /// Checks every parameter.
    ///
    /// # Errors
    /// One line per bad field, naming it.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.after_large_win_hours > MAX_ADVANCE_HOURS {
            problems.push(format!(
                "locks.after_large_win_hours: {} must be at most {MAX_ADVANCE_HOURS}",
                self.after_large_win_hours
            ));
        }
        if !(self.large_win_fraction > Decimal::ZERO && self.large_win_fraction <= Decimal::ONE) {
            problems.push(format!(
                "locks.large_win_fraction: {} must be in (0, 1]",
                self.large_win_fraction
            ));
        }
        crate::validation::every_problem(problems)
    }
}

/// One lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Lock {
    service: Service,
    amount_usdc: Decimal,
    until: OffsetDateTime,
}

/// The active locks and their parameters.
#[derive(Debug, Clone, Default)]
pub(super) struct Locks {
    params: LockParams,
    active: Vec<Lock>,
    pub(super) placed: u64,
    pub(super) released: u64,
    pub(super) refused_decreases: u64,
}

impl Locks {
    fn held(&self, service: Service) -> Decimal {
        self.active
            .iter()
            .filter(|lock| lock.service == service)
            .map(|lock| lock.amount_usdc)
            .sum()
    }

    fn next_release(&self, service: Service) -> Option<OffsetDateTime> {
        self.active
            .iter()
            .filter(|lock| lock.service == service)
            .map(|lock| lock.until)
            .min()
    }
}

impl Engine {
    /// Sets when the venue locks winnings on its own.
    #[must_use]
    pub fn with_locks(mut self, params: LockParams) -> Self {
        self.locks.params = params;
        self
    }

    /// The part of each service's cash its active locks hold now, at most its cash.
    fn cash_locked_usdc(&self) -> ServiceMap<Decimal> {
        let cash = self.ledger.balances();
        ServiceMap::from_fn(|service| self.locks.held(service).min(cash[service]))
    }

    /// The locked part of each service as the portfolio reports it: its active locks, at
    /// most its cash, and for the wallet also its coins (its balance less its free cash).
    pub fn locked_usdc(&self) -> ServiceMap<Decimal> {
        let mut locked = self.cash_locked_usdc();
        let wallet = Service::Wallet;
        let free_cash_usdc = round_cents(self.ledger.balances()[wallet] - locked[wallet]);
        let balance_usdc = self.ledger.reported_values()[wallet];
        locked[wallet] = (balance_usdc - free_cash_usdc).max(Decimal::ZERO);
        locked
    }

    /// Places a lock of `amount_usdc` on `service` for `hours` and announces it.
    ///
    /// # Errors
    /// The reserve, an amount that is not positive whole cents, or hours outside
    /// `1..=`[`MAX_ADVANCE_HOURS`], naming the field.
    pub fn lock(
        &mut self,
        ts: OffsetDateTime,
        service: Service,
        amount_usdc: Decimal,
        hours: u32,
    ) -> Result<EventFrame, StateError> {
        if service == Service::Reserve {
            return Err(invalid("service", "the reserve cannot be locked"));
        }
        check_cents("amount_usdc", amount_usdc)?;
        if !(1..=MAX_ADVANCE_HOURS).contains(&hours) {
            return Err(invalid(
                "hours",
                &format!("{hours} must be between 1 and {MAX_ADVANCE_HOURS}"),
            ));
        }
        let until = ts + time::Duration::hours(i64::from(hours));
        Ok(self.place_lock(ts, service, amount_usdc, until))
    }

    fn place_lock(
        &mut self,
        ts: OffsetDateTime,
        service: Service,
        amount_usdc: Decimal,
        until: OffsetDateTime,
    ) -> EventFrame {
        self.locks.active.push(Lock {
            service,
            amount_usdc,
            until,
        });
        self.locks.placed += 1;
        tracing::info!(%service, %amount_usdc, %until, "sim locked funds");
        self.announce(
            ts,
            EventKind::FundsLocked {
                service,
                amount_usdc,
                until,
            },
        )
    }

    /// The lock a large casino win sets off, placed before the win is announced so the win's
    /// own frame already reports it; `before_total_usdc` is the portfolio before the win.
    pub(super) fn lock_after_win(
        &mut self,
        ts: OffsetDateTime,
        op: &Op,
        before_total_usdc: Decimal,
    ) -> Option<Lock> {
        let Op::CasinoWin { amount_usdc, .. } = op else {
            return None;
        };
        let hours = self.locks.params.after_large_win_hours;
        let large = *amount_usdc >= before_total_usdc * self.locks.params.large_win_fraction;
        if hours == 0 || !large || before_total_usdc <= Decimal::ZERO {
            return None;
        }
        // The whole bankroll is in play, winnings included.
        let lock = Lock {
            service: Service::Casino,
            amount_usdc: self.ledger.balances()[Service::Casino],
            until: ts + time::Duration::hours(i64::from(hours)),
        };
        self.locks.active.push(lock.clone());
        Some(lock)
    }

    /// Announces a lock [`Engine::lock_after_win`] placed.
    pub(super) fn announce_lock(&mut self, ts: OffsetDateTime, lock: Lock) -> EventFrame {
        self.locks.placed += 1;
        tracing::info!(service = %lock.service, amount_usdc = %lock.amount_usdc,
                       until = %lock.until, "sim locked a large win");
        self.announce(
            ts,
            EventKind::FundsLocked {
                service: lock.service,
                amount_usdc: lock.amount_usdc,
                until: lock.until,
            },
        )
    }

    /// Releases every lock expired by `now`, announcing each.
    pub(super) fn release_locks(&mut self, now: OffsetDateTime, frames: &mut Vec<EventFrame>) {
        let (due, kept): (Vec<Lock>, Vec<Lock>) = std::mem::take(&mut self.locks.active)
            .into_iter()
            .partition(|lock| lock.until <= now);
        self.locks.active = kept;
        for lock in due {
            self.locks.released += 1;
            tracing::info!(service = %lock.service, amount_usdc = %lock.amount_usdc,
                           "sim released funds");
            frames.push(self.announce(
                now,
                EventKind::FundsReleased {
                    service: lock.service,
                    amount_usdc: lock.amount_usdc,
                },
            ));
        }
    }

    /// Refuses a decrease that asks for locked cash.
    ///
    /// # Errors
    /// [`StateError::FundsLocked`] naming `amount_usdc`, what is free and until when.
    pub(super) fn check_unlocked(&mut self, body: &RebalanceBody) -> Result<(), StateError> {
        if body.direction != Direction::Decrease {
            return Ok(());
        }
        let locked_usdc = self.cash_locked_usdc()[body.service];
        if locked_usdc.is_zero() {
            return Ok(());
        }
        let free_usdc = self.ledger.balances()[body.service] - locked_usdc;
        if body.amount_usdc <= free_usdc {
            return Ok(());
        }
        self.locks.refused_decreases += 1;
        let until = self
            .locks
            .next_release(body.service)
            .and_then(|at| {
                at.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        Err(StateError::FundsLocked {
            service: body.service,
            requested_usdc: body.amount_usdc,
            free_usdc,
            locked_usdc,
            until,
        })
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::sim::engine::testing::{START, quiet_engine};

    fn decrease(amount_usdc: Decimal) -> RebalanceBody {
        RebalanceBody {
            service: Service::Casino,
            direction: Direction::Decrease,
            amount_usdc,
            reason: "test".into(),
        }
    }

    #[test]
    fn a_decrease_takes_only_the_free_part_until_the_release() {
        let mut engine = quiet_engine();
        let frame = engine
            .lock(START, Service::Casino, dec!(150), 48)
            .expect("locks");
        assert_eq!(frame.kind.type_name(), "funds_locked");
        let portfolio = frame.portfolio.expect("balances");
        assert_eq!(portfolio.locked()[Service::Casino], dec!(150));
        struct TestCase {
            amount_usdc: Decimal,
            expected_refused: bool,
        }
        let now = tokio::time::Instant::now();
        let cases = [
            // TC0: more than the 50 free: refused, naming the field and the figures.
            TestCase {
                amount_usdc: dec!(50.01),
                expected_refused: true,
            },
            // TC1: exactly the free part moves.
            TestCase {
                amount_usdc: dec!(50),
                expected_refused: false,
            },
            // TC2: nothing is free any more.
            TestCase {
                amount_usdc: dec!(1),
                expected_refused: true,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            match engine.rebalance(&decrease(case.amount_usdc), None, now, START) {
                Ok(_) => assert!(!case.expected_refused, "TC{i}: applied"),
                Err(error) => {
                    assert!(case.expected_refused, "TC{i}: {error}");
                    assert_eq!(error.code(), "funds_locked", "TC{i}");
                    assert!(error.to_string().contains("`amount_usdc`"), "TC{i}");
                    assert!(error.to_string().contains("50"), "TC{i}: {error}");
                }
            }
        }
        // An increase is never locked.
        let increase = RebalanceBody {
            direction: Direction::Increase,
            ..decrease(dec!(10))
        };
        assert!(engine.rebalance(&increase, None, now, START).is_ok());
        // Two days later the lock is released and announced; everything may move.
        let mut frames = Vec::new();
        engine.release_locks(START + time::Duration::hours(47), &mut frames);
        assert!(frames.is_empty(), "released early");
        engine.release_locks(START + time::Duration::hours(48), &mut frames);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].kind.type_name(), "funds_released");
        assert!(
            frames[0]
                .portfolio
                .as_ref()
                .expect("balances")
                .locked_usdc
                .is_empty()
        );
        assert!(
            engine
                .rebalance(&decrease(dec!(150)), None, now, START)
                .is_ok()
        );
        let stats = engine.stats(START);
        assert_eq!(
            (
                stats.locks.placed,
                stats.locks.released,
                stats.locks.refused_decreases
            ),
            (1, 1, 2)
        );
        assert!(stats.accounting.ok);
    }

    #[test]
    fn the_wallets_coins_are_reported_locked_and_only_its_cash_can_leave() {
        use crate::sim::markets::Asset;
        let mut engine = quiet_engine();
        let wallet = |amount_usdc: Decimal, direction: Direction| RebalanceBody {
            service: Service::Wallet,
            direction,
            amount_usdc,
            reason: "test".into(),
        };
        // No coins: nothing of the wallet's $150 is locked.
        assert!(engine.portfolio().locked_usdc.is_empty());
        let buy = Op::WalletBuy {
            asset: Asset::Btc,
            quantity: dec!(0.0015),
            at: START,
        };
        let frames = engine.apply(START, &buy).expect("buys");
        // The buy's own frame already reports the coins locked.
        let announced = frames[0].portfolio.as_ref().expect("balances").locked();
        let cash_usdc = engine.cash_balances()[Service::Wallet];
        let balance_usdc = engine.balances()[Service::Wallet];
        assert!(cash_usdc < dec!(10), "{cash_usdc}");
        let free_usdc = round_cents(cash_usdc);
        assert_eq!(announced[Service::Wallet], balance_usdc - free_usdc);
        let reply = engine.portfolio();
        let snapshot = reply.to_snapshot().expect("valid");
        assert_eq!(snapshot.free_usdc(Service::Wallet), free_usdc);
        // A price move changes the coins' value, and so the locked part; the free part stays.
        let mut prices = engine.ledger.prices();
        prices[Asset::Btc] = dec!(190000);
        engine
            .apply(START, &Op::MarkMove { prices, at: START })
            .expect("moves");
        let snapshot = engine.portfolio().to_snapshot().expect("valid");
        assert!(snapshot.locked_usdc[Service::Wallet] > dec!(280));
        assert_eq!(snapshot.free_usdc(Service::Wallet), free_usdc);
        // The free part leaves; a cent more would have been coins: refused as before.
        let now = tokio::time::Instant::now();
        let refused = engine
            .rebalance(
                &wallet(free_usdc + dec!(0.01), Direction::Decrease),
                None,
                now,
                START,
            )
            .expect_err("only cash leaves");
        assert_eq!(refused.code(), "insufficient_balance", "{refused}");
        engine
            .rebalance(&wallet(free_usdc, Direction::Decrease), None, now, START)
            .expect("the free part moves");
        let snapshot = engine.portfolio().to_snapshot().expect("valid");
        assert_eq!(snapshot.free_usdc(Service::Wallet), Decimal::ZERO);
        // A lock on the wallet's cash is added to its coins.
        engine
            .rebalance(&wallet(dec!(20), Direction::Increase), None, now, START)
            .expect("increase");
        engine
            .lock(START, Service::Wallet, dec!(5), 1)
            .expect("locks");
        let snapshot = engine.portfolio().to_snapshot().expect("valid");
        assert_eq!(
            snapshot.free_usdc(Service::Wallet),
            round_cents(engine.cash_balances()[Service::Wallet]) - dec!(5)
        );
        assert!(engine.stats(START).accounting.ok);
    }

    #[test]
    fn bad_locks_are_refused_naming_the_field() {
        struct TestCase {
            service: Service,
            amount_usdc: Decimal,
            hours: u32,
            expected: &'static str,
        }
        let cases = [
            // TC0: the reserve is the hub, never locked.
            TestCase {
                service: Service::Reserve,
                amount_usdc: dec!(1),
                hours: 1,
                expected: "`service`",
            },
            // TC1: fractions of a cent.
            TestCase {
                service: Service::Casino,
                amount_usdc: dec!(1.001),
                hours: 1,
                expected: "`amount_usdc`",
            },
            // TC2: no duration.
            TestCase {
                service: Service::Casino,
                amount_usdc: dec!(1),
                hours: 0,
                expected: "`hours`",
            },
        ];
        let mut engine = quiet_engine();
        for (i, case) in cases.iter().enumerate() {
            let error = engine
                .lock(START, case.service, case.amount_usdc, case.hours)
                .expect_err("refused");
            assert!(error.to_string().contains(case.expected), "TC{i}: {error}");
        }
    }

    #[test]
    fn a_large_win_is_locked_and_its_own_frame_says_so() {
        let mut engine = quiet_engine().with_locks(LockParams {
            after_large_win_hours: 48,
            ..LockParams::default()
        });
        // A 5% win is not large; a 23% one is.
        let small = Op::CasinoWin {
            amount_usdc: dec!(50),
            stake_usdc: dec!(50),
            multiplier: dec!(2),
        };
        let frames = engine.apply(START, &small).expect("applies");
        assert_eq!(frames.len(), 1);
        let large = Op::CasinoWin {
            amount_usdc: dec!(240),
            stake_usdc: dec!(240),
            multiplier: dec!(2),
        };
        let frames = engine.apply(START, &large).expect("applies");
        let kinds: Vec<&str> = frames.iter().map(|f| f.kind.type_name()).collect();
        assert_eq!(kinds, ["casino_win", "funds_locked"]);
        // The whole bankroll (200 + 50 + 240) is in play.
        for frame in &frames {
            let locked = frame.portfolio.as_ref().expect("balances").locked();
            assert_eq!(
                locked[Service::Casino],
                dec!(490),
                "{}",
                frame.kind.type_name()
            );
        }
    }
}
