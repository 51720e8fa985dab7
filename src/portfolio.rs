//! A point-in-time view of the agent's capital across the six services.
//!
//! # Invariants
//! - Every balance is non-negative (a snapshot is validated when it is built from venue
//!   data; see [`PortfolioSnapshot::new`]).
//! - `total_usdc` is the exact Decimal sum of the balances.
//! - [`unexplained_changes`] compares two snapshots only when they are at the same venue
//!   `seq`: then no announced event can explain a difference, so it happened out of band.
//! - A service's locked part is never negative and never above its balance
//!   ([`PortfolioSnapshot::with_locked`] caps it), so `free + locked = balance`.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::service::{Service, ServiceMap};

/// Balances per service at one moment, optionally tied to the venue's event sequence.
/// Deserializing validates like [`PortfolioSnapshot::new`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SnapshotFields")]
pub struct PortfolioSnapshot {
    /// USDC per service; `Reserve` is the venue's `available_balance`.
    pub balances_usdc: ServiceMap<Decimal>,
    /// The last venue event sequence number reflected in these balances, when known.
    pub seq: Option<u64>,
    /// The part of each balance the venue will not let move now (funds in play, a
    /// settlement delay): zero unless the venue reports a lock. At most the balance.
    #[serde(skip_serializing_if = "no_lock")]
    pub locked_usdc: ServiceMap<Decimal>,
}

/// Whether nothing is locked (the field is then left out of JSON, as before locks existed).
fn no_lock(locked_usdc: &ServiceMap<Decimal>) -> bool {
    locked_usdc.values().all(Decimal::is_zero)
}

/// A snapshot as read, before validation.
#[derive(Deserialize)]
struct SnapshotFields {
    balances_usdc: ServiceMap<Decimal>,
    seq: Option<u64>,
}

impl TryFrom<SnapshotFields> for PortfolioSnapshot {
    type Error = SnapshotError;

    fn try_from(fields: SnapshotFields) -> Result<Self, SnapshotError> {
        PortfolioSnapshot::new(fields.balances_usdc, fields.seq)
    }
}

/// The article's $1,000 agent on its conservative target (20/30/15/15/10/10), USDC: the
/// starting balances of examples and tests.
pub fn article_balances_usdc() -> ServiceMap<Decimal> {
    ServiceMap([200, 300, 150, 150, 100, 100].map(Decimal::from))
}

/// A service whose balance changed with no venue event to explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UnexplainedChange {
    /// The service.
    pub service: Service,
    /// What ballast held.
    pub held_usdc: Decimal,
    /// What the venue now reports.
    pub venue_usdc: Decimal,
}

/// The services whose balance moved by more than `alert_fraction` of the held total
/// between `held` and `fresh` although both are at the same venue `seq` (nothing announced
/// in between). Empty when the seqs differ or are unknown (events may explain the change),
/// or when `alert_fraction` is not positive (the check is off).
pub fn unexplained_changes(
    held: &PortfolioSnapshot,
    fresh: &PortfolioSnapshot,
    alert_fraction: Decimal,
) -> Vec<UnexplainedChange> {
    let same_point = matches!((held.seq, fresh.seq), (Some(a), Some(b)) if a == b);
    if !same_point || alert_fraction <= Decimal::ZERO {
        return Vec::new();
    }
    let threshold_usdc = held.total_usdc() * alert_fraction;
    Service::ALL
        .into_iter()
        .filter(|service| (fresh.balance(*service) - held.balance(*service)).abs() > threshold_usdc)
        .map(|service| UnexplainedChange {
            service,
            held_usdc: held.balance(service),
            venue_usdc: fresh.balance(service),
        })
        .collect()
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
    /// A locked amount below zero.
    #[error("locked_usdc.{service} is negative ({value})")]
    NegativeLock {
        /// The service.
        service: Service,
        /// The offending value.
        value: Decimal,
    },
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
        let snapshot = PortfolioSnapshot {
            balances_usdc,
            seq,
            locked_usdc: ServiceMap::default(),
        };
        snapshot.checked_total().ok_or(SnapshotError::Overflow)?;
        Ok(snapshot)
    }

    /// The same balances with the venue's locks: each service's locked part, capped at its
    /// balance (a lock on more than a service holds locks all of it).
    ///
    /// # Errors
    /// A negative locked amount, naming the service's `locked_usdc` entry.
    pub fn with_locked(mut self, locked_usdc: ServiceMap<Decimal>) -> Result<Self, SnapshotError> {
        for (service, value) in locked_usdc.iter() {
            if value.is_sign_negative() && !value.is_zero() {
                return Err(SnapshotError::NegativeLock {
                    service,
                    value: *value,
                });
            }
        }
        self.locked_usdc = ServiceMap::from_fn(|s| locked_usdc[s].min(self.balances_usdc[s]));
        Ok(self)
    }

    /// What the venue lets move out of `service` now: its balance less its locked part.
    pub fn free_usdc(&self, service: Service) -> Decimal {
        self.balances_usdc[service] - self.locked_usdc[service].min(self.balances_usdc[service])
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

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn snapshot(casino: Decimal, seq: Option<u64>) -> PortfolioSnapshot {
        // The article's $1,000 agent on its conservative target.
        let mut balances = article_balances_usdc();
        balances[Service::Casino] = casino;
        PortfolioSnapshot::new(balances, seq).expect("valid")
    }

    #[test]
    fn only_changes_no_event_explains_beyond_the_threshold_are_reported() {
        struct TestCase {
            held: PortfolioSnapshot,
            fresh: PortfolioSnapshot,
            alert_fraction: Decimal,
            expected: Vec<Service>,
        }
        let cases = [
            // TC0: $50 on $1,000 at the same seq: 5% > 2%.
            TestCase {
                held: snapshot(dec!(200), Some(7)),
                fresh: snapshot(dec!(250), Some(7)),
                alert_fraction: dec!(0.02),
                expected: vec![Service::Casino],
            },
            // TC1: $15 is 1.5%: below the threshold.
            TestCase {
                held: snapshot(dec!(200), Some(7)),
                fresh: snapshot(dec!(185), Some(7)),
                alert_fraction: dec!(0.02),
                expected: vec![],
            },
            // TC2: events happened in between (seq moved): they may explain it.
            TestCase {
                held: snapshot(dec!(200), Some(7)),
                fresh: snapshot(dec!(300), Some(9)),
                alert_fraction: dec!(0.02),
                expected: vec![],
            },
            // TC3: an unknown seq proves nothing.
            TestCase {
                held: snapshot(dec!(200), None),
                fresh: snapshot(dec!(300), None),
                alert_fraction: dec!(0.02),
                expected: vec![],
            },
            // TC4: a zero fraction switches the check off.
            TestCase {
                held: snapshot(dec!(200), Some(7)),
                fresh: snapshot(dec!(900), Some(7)),
                alert_fraction: Decimal::ZERO,
                expected: vec![],
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let found: Vec<Service> =
                unexplained_changes(&case.held, &case.fresh, case.alert_fraction)
                    .iter()
                    .map(|c| c.service)
                    .collect();
            assert_eq!(found, case.expected, "TC{i}");
        }
    }

    #[test]
    fn locks_are_capped_at_the_balance_and_leave_the_rest_free() {
        struct TestCase {
            casino_locked: Decimal,
            expected: Result<(Decimal, Decimal), &'static str>,
        }
        let cases = [
            // TC0: no lock: everything is free.
            TestCase {
                casino_locked: Decimal::ZERO,
                expected: Ok((dec!(200), dec!(0))),
            },
            // TC1: part locked.
            TestCase {
                casino_locked: dec!(150),
                expected: Ok((dec!(50), dec!(150))),
            },
            // TC2: a lock above the balance locks all of it, no more.
            TestCase {
                casino_locked: dec!(900),
                expected: Ok((dec!(0), dec!(200))),
            },
            // TC3: a negative lock is refused, naming the entry.
            TestCase {
                casino_locked: dec!(-1),
                expected: Err("locked_usdc.casino"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut locked = ServiceMap::default();
            locked[Service::Casino] = case.casino_locked;
            let result = snapshot(dec!(200), None).with_locked(locked);
            match (result, case.expected) {
                (Ok(s), Ok((free, held))) => {
                    assert_eq!(s.free_usdc(Service::Casino), free, "TC{i}");
                    assert_eq!(s.locked_usdc[Service::Casino], held, "TC{i}");
                    assert_eq!(s.free_usdc(Service::Trading), dec!(300), "TC{i}");
                }
                (Err(e), Err(needle)) => assert!(e.to_string().contains(needle), "TC{i}: {e}"),
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
    }
}
