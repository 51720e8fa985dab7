//! Checking a money reply against its request before a leg is booked.
//!
//! The venue answers a transfer (or a status query about one) with what it did: service,
//! direction, amount, status and its transfer id. A leg is booked applied only when that
//! answer describes the transfer that was asked for under the leg's key, and its transfer id
//! is not already booked for another leg. Anything else is a venue that applied something
//! else, or nothing, or lies: the leg stays unresolved (`pending`), an alert is raised, and
//! the plan stops (see the executor).
//!
//! The reply names no key, so "for this key" is checked through the transfer id:
//! [`BookedTransfers`] remembers which leg each transfer id was booked for, within one run
//! and one numbering of the venue (a venue that restarts numbers its transfers afresh, and so
//! does each embedded venue of a new run).
//!
//! # Invariants
//! - A reply is accepted only when every field matches exactly (amounts compare as
//!   `Decimal`, so `25` and `25.00` match).
//! - Every mismatch found is reported, each naming its field, with what was asked and what
//!   came back.
//! - [`BookedTransfers`] holds at most [`BOOKED_MEMORY`] ids.

use std::{
    collections::{HashMap, VecDeque},
    fmt,
};

use rust_decimal::Decimal;

use crate::{
    observation::TradeSide,
    service::{Direction, Service},
};

/// The reply status of an applied transfer.
pub const APPLIED_STATUS: &str = "applied";

/// What a leg asked the venue to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requested<'a> {
    /// The leg's idempotency key.
    pub key: &'a str,
    /// Service moved.
    pub service: Service,
    /// Direction.
    pub direction: Direction,
    /// Amount asked for.
    pub amount_usdc: Decimal,
}

/// What the venue says it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replied<'a> {
    /// The venue's transfer id.
    pub transfer_id: &'a str,
    /// Service moved.
    pub service: Service,
    /// Direction.
    pub direction: Direction,
    /// Amount moved.
    pub amount_usdc: Decimal,
    /// `applied` for a success.
    pub status: &'a str,
}

/// One field of a reply that does not match its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Another service.
    Service {
        /// Asked.
        requested: Service,
        /// Replied.
        replied: Service,
    },
    /// The other direction.
    Direction {
        /// Asked.
        requested: Direction,
        /// Replied.
        replied: Direction,
    },
    /// Another amount.
    Amount {
        /// Asked.
        requested_usdc: Decimal,
        /// Replied.
        replied_usdc: Decimal,
    },
    /// Not `applied`.
    Status {
        /// Replied.
        replied: String,
    },
    /// Another asset (a wallet trade).
    Asset {
        /// Asked.
        requested: String,
        /// Replied.
        replied: String,
    },
    /// The other side (a wallet trade).
    Side {
        /// Asked.
        requested: TradeSide,
        /// Replied.
        replied: TradeSide,
    },
    /// Another number of units (a wallet trade).
    Quantity {
        /// Asked.
        requested: Decimal,
        /// Replied.
        replied: Decimal,
    },
    /// The transfer id is already booked for another leg.
    TransferId {
        /// The id.
        transfer_id: String,
        /// The leg it is booked for.
        booked_for: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Service { requested, replied } => write!(
                f,
                "service: asked {}, replied {}",
                requested.name(),
                replied.name()
            ),
            Mismatch::Direction { requested, replied } => write!(
                f,
                "direction: asked {}, replied {}",
                requested.name(),
                replied.name()
            ),
            Mismatch::Amount {
                requested_usdc,
                replied_usdc,
            } => write!(
                f,
                "amount_usdc: asked {requested_usdc}, replied {replied_usdc}"
            ),
            Mismatch::Asset { requested, replied } => {
                write!(f, "asset: asked {requested}, replied {replied}")
            }
            Mismatch::Side { requested, replied } => write!(
                f,
                "side: asked {}, replied {}",
                requested.name(),
                replied.name()
            ),
            Mismatch::Quantity { requested, replied } => {
                write!(f, "quantity: asked {requested}, replied {replied}")
            }
            Mismatch::Status { replied } => {
                write!(f, "status: replied `{replied}`, not `{APPLIED_STATUS}`")
            }
            Mismatch::TransferId {
                transfer_id,
                booked_for,
            } => write!(
                f,
                "transfer_id: {transfer_id} is already booked for leg {booked_for}"
            ),
        }
    }
}

/// A reply that does not describe its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("venue reply for leg {key} does not match its request: {}", join(.mismatches))]
pub struct ReplyMismatch {
    /// The leg's key.
    pub key: String,
    /// Every field that differs.
    pub mismatches: Vec<Mismatch>,
}

fn join(mismatches: &[Mismatch]) -> String {
    mismatches
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks `replied` against `requested`. `booked_for` is the key of the leg the store
/// already books `replied.transfer_id` for, if any (it may be this leg's own key: a reply
/// seen twice is the same transfer).
///
/// # Errors
/// A [`ReplyMismatch`] naming every field that differs.
pub fn check_reply(
    requested: &Requested<'_>,
    replied: &Replied<'_>,
    booked_for: Option<&str>,
) -> Result<(), ReplyMismatch> {
    let mut mismatches = Vec::new();
    if replied.service != requested.service {
        mismatches.push(Mismatch::Service {
            requested: requested.service,
            replied: replied.service,
        });
    }
    if replied.direction != requested.direction {
        mismatches.push(Mismatch::Direction {
            requested: requested.direction,
            replied: replied.direction,
        });
    }
    if replied.amount_usdc != requested.amount_usdc {
        mismatches.push(Mismatch::Amount {
            requested_usdc: requested.amount_usdc,
            replied_usdc: replied.amount_usdc,
        });
    }
    if replied.status != APPLIED_STATUS {
        mismatches.push(Mismatch::Status {
            replied: replied.status.to_owned(),
        });
    }
    if let Some(other) = booked_for.filter(|other| *other != requested.key) {
        mismatches.push(Mismatch::TransferId {
            transfer_id: replied.transfer_id.to_owned(),
            booked_for: other.to_owned(),
        });
    }
    verdict(requested.key, mismatches)
}

/// A wallet trade, as asked or as the venue says it was done: the asset, the side (`buy` or
/// `sell`) and the units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trade<'a> {
    /// Asset ticker.
    pub asset: &'a str,
    /// Buy or sell.
    pub side: TradeSide,
    /// Units.
    pub quantity: Decimal,
}

/// Checks a wallet trade's reply against its order (under the order's key `key`): the lot
/// book takes units and proceeds from the reply, so a reply for another asset, side or
/// quantity is never booked.
///
/// # Errors
/// A [`ReplyMismatch`] naming every field that differs.
pub fn check_trade(
    key: &str,
    requested: &Trade<'_>,
    replied: &Trade<'_>,
) -> Result<(), ReplyMismatch> {
    let mut mismatches = Vec::new();
    if replied.asset != requested.asset {
        mismatches.push(Mismatch::Asset {
            requested: requested.asset.to_owned(),
            replied: replied.asset.to_owned(),
        });
    }
    if replied.side != requested.side {
        mismatches.push(Mismatch::Side {
            requested: requested.side,
            replied: replied.side,
        });
    }
    if replied.quantity != requested.quantity {
        mismatches.push(Mismatch::Quantity {
            requested: requested.quantity,
            replied: replied.quantity,
        });
    }
    verdict(key, mismatches)
}

/// `Ok` when nothing differs, else the mismatch of the leg or order under `key`.
fn verdict(key: &str, mismatches: Vec<Mismatch>) -> Result<(), ReplyMismatch> {
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(ReplyMismatch {
            key: key.to_owned(),
            mismatches,
        })
    }
}

/// Transfer ids remembered by [`BookedTransfers`].
pub const BOOKED_MEMORY: usize = 100_000;

/// Which leg each transfer id was booked for, in the venue's current numbering (oldest ids
/// forgotten first).
#[derive(Debug, Clone, Default)]
pub struct BookedTransfers {
    epoch: u32,
    by_id: HashMap<String, String>,
    order: VecDeque<String>,
}

impl BookedTransfers {
    /// The key of the leg `transfer_id` was booked for in numbering `epoch`, if any. A new
    /// epoch forgets the old numbering's ids.
    pub fn booked_for(&mut self, transfer_id: &str, epoch: u32) -> Option<&str> {
        self.follow(epoch);
        self.by_id.get(transfer_id).map(String::as_str)
    }

    /// Books `transfer_id` for the leg `key` in numbering `epoch`.
    pub fn book(&mut self, transfer_id: &str, key: &str, epoch: u32) {
        self.follow(epoch);
        if self.by_id.contains_key(transfer_id) {
            return;
        }
        if self.order.len() == BOOKED_MEMORY
            && let Some(oldest) = self.order.pop_front()
        {
            self.by_id.remove(&oldest);
        }
        self.order.push_back(transfer_id.to_owned());
        self.by_id.insert(transfer_id.to_owned(), key.to_owned());
    }

    fn follow(&mut self, epoch: u32) {
        if epoch != self.epoch {
            *self = Self {
                epoch,
                ..Self::default()
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn a_wallet_trade_reply_is_checked_field_by_field() {
        struct TestCase {
            replied: Trade<'static>,
            expected: Vec<Mismatch>,
        }
        let asked = Trade {
            asset: "BTC",
            side: TradeSide::Sell,
            quantity: dec!(0.5),
        };
        let cases = [
            // TC0: the trade asked for (0.50 and 0.5 are one quantity).
            TestCase {
                replied: Trade {
                    quantity: dec!(0.50),
                    ..asked
                },
                expected: vec![],
            },
            // TC1: another asset and side.
            TestCase {
                replied: Trade {
                    asset: "ETH",
                    side: TradeSide::Buy,
                    ..asked
                },
                expected: vec![
                    Mismatch::Asset {
                        requested: "BTC".into(),
                        replied: "ETH".into(),
                    },
                    Mismatch::Side {
                        requested: TradeSide::Sell,
                        replied: TradeSide::Buy,
                    },
                ],
            },
            // TC2: ten times the units.
            TestCase {
                replied: Trade {
                    quantity: dec!(5),
                    ..asked
                },
                expected: vec![Mismatch::Quantity {
                    requested: dec!(0.5),
                    replied: dec!(5),
                }],
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let found = check_trade("k:sell", &asked, &case.replied)
                .err()
                .map(|mismatch| mismatch.mismatches)
                .unwrap_or_default();
            assert_eq!(found, case.expected, "TC{i}");
        }
        let shown = check_trade(
            "k:sell",
            &asked,
            &Trade {
                asset: "ETH",
                ..asked
            },
        )
        .expect_err("mismatch")
        .to_string();
        assert!(
            shown.contains("k:sell") && shown.contains("asset: asked BTC, replied ETH"),
            "{shown}"
        );
    }

    #[test]
    fn a_reply_must_describe_its_request() {
        struct TestCase {
            replied: Replied<'static>,
            booked_for: Option<&'static str>,
            expected: Vec<Mismatch>,
        }
        let requested = Requested {
            key: "e0.5@1:0",
            service: Service::Casino,
            direction: Direction::Decrease,
            amount_usdc: dec!(25),
        };
        let echo = Replied {
            transfer_id: "tr-1",
            service: Service::Casino,
            direction: Direction::Decrease,
            amount_usdc: dec!(25.00),
            status: "applied",
        };
        let cases = [
            // TC0: the echo of the request (amounts compare as numbers).
            TestCase {
                replied: echo,
                booked_for: None,
                expected: vec![],
            },
            // TC1: the same transfer seen again for the same leg.
            TestCase {
                replied: echo,
                booked_for: Some("e0.5@1:0"),
                expected: vec![],
            },
            // TC2: the hostile venue: escrow, another direction and amount, one id for all.
            TestCase {
                replied: Replied {
                    service: Service::Escrow,
                    direction: Direction::Increase,
                    amount_usdc: dec!(999999),
                    ..echo
                },
                booked_for: Some("e0.4@1:0"),
                expected: vec![
                    Mismatch::Service {
                        requested: Service::Casino,
                        replied: Service::Escrow,
                    },
                    Mismatch::Direction {
                        requested: Direction::Decrease,
                        replied: Direction::Increase,
                    },
                    Mismatch::Amount {
                        requested_usdc: dec!(25),
                        replied_usdc: dec!(999999),
                    },
                    Mismatch::TransferId {
                        transfer_id: "tr-1".into(),
                        booked_for: "e0.4@1:0".into(),
                    },
                ],
            },
            // TC3: a cent less.
            TestCase {
                replied: Replied {
                    amount_usdc: dec!(24.99),
                    ..echo
                },
                booked_for: None,
                expected: vec![Mismatch::Amount {
                    requested_usdc: dec!(25),
                    replied_usdc: dec!(24.99),
                }],
            },
            // TC4: not applied.
            TestCase {
                replied: Replied {
                    status: "pending",
                    ..echo
                },
                booked_for: None,
                expected: vec![Mismatch::Status {
                    replied: "pending".into(),
                }],
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let result = check_reply(&requested, &case.replied, case.booked_for);
            let found = result.err().map(|e| e.mismatches).unwrap_or_default();
            assert_eq!(found, case.expected, "TC{i}");
        }
    }

    #[test]
    fn transfer_ids_are_one_legs_within_a_numbering() {
        let mut booked = BookedTransfers::default();
        booked.book("tr-1", "e0.1@1:0", 0);
        assert_eq!(booked.booked_for("tr-1", 0), Some("e0.1@1:0"));
        // Booking again keeps the first leg.
        booked.book("tr-1", "e0.2@1:0", 0);
        assert_eq!(booked.booked_for("tr-1", 0), Some("e0.1@1:0"));
        assert_eq!(booked.booked_for("tr-2", 0), None);
        // The venue renumbered (it restarted): its ids start afresh.
        assert_eq!(booked.booked_for("tr-1", 1), None);
        booked.book("tr-1", "e1.1@1:0", 1);
        assert_eq!(booked.booked_for("tr-1", 1), Some("e1.1@1:0"));
    }

    #[test]
    fn a_mismatch_names_every_field() {
        let requested = Requested {
            key: "e0.5@1:0",
            service: Service::Casino,
            direction: Direction::Decrease,
            amount_usdc: dec!(25),
        };
        let replied = Replied {
            transfer_id: "tr-9",
            service: Service::Escrow,
            direction: Direction::Decrease,
            amount_usdc: dec!(-999999),
            status: "applied",
        };
        let error = check_reply(&requested, &replied, None).expect_err("mismatch");
        assert_eq!(
            error.to_string(),
            "venue reply for leg e0.5@1:0 does not match its request: service: asked casino, \
             replied escrow; amount_usdc: asked 25, replied -999999"
        );
    }
}
