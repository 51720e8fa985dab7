//! Which lots a sale uses: the disposal method's order, and a quantity taken along it.
//!
//! # Invariants
//! - FIFO orders by purchase time (then book order); HIFO by basis per unit, highest first
//!   (then FIFO); a specific-lot sale uses exactly the lots named, in the order named.
//! - A selection takes whole lots in order and splits only the last one; it never takes
//!   more from a lot than the lot holds, and either takes exactly the quantity asked or
//!   refuses.

use rust_decimal::Decimal;

use super::{TaxError, config::DisposalMethod, div, lot::Lot};

/// The lots of one asset in the order `method` sells them (specific: purchase order, for
/// the caller to pick from).
pub fn ordered<'a>(
    lots: impl IntoIterator<Item = &'a Lot>,
    method: DisposalMethod,
) -> Vec<&'a Lot> {
    let mut lots: Vec<&Lot> = lots.into_iter().collect();
    // Stable sorts: equal keys keep book order, which is the venue's lot order.
    lots.sort_by_key(|lot| lot.bought_at);
    if method == DisposalMethod::Hifo {
        lots.sort_by_key(|lot| std::cmp::Reverse(unit_basis(lot)));
    }
    lots
}

/// Basis per unit of a lot (zero for an empty one, which no book holds).
pub fn unit_basis(lot: &Lot) -> Decimal {
    div(lot.cost_basis_usdc, lot.quantity, "unit basis").unwrap_or(Decimal::ZERO)
}

/// Takes `quantity` along `lots` (already in the method's order): whole lots, then part of
/// the last. Returns `(lot_id, units)` per lot used.
///
/// # Errors
/// [`TaxError::InsufficientLots`] when the lots hold less; [`TaxError::Invalid`] for a
/// quantity that is not positive.
pub fn take(lots: &[&Lot], quantity: Decimal) -> Result<Vec<(String, Decimal)>, TaxError> {
    if quantity <= Decimal::ZERO {
        return Err(TaxError::Invalid {
            field: "quantity",
            value: quantity,
            must: "positive",
        });
    }
    let mut left = quantity;
    let mut used = Vec::new();
    for lot in lots {
        if left.is_zero() {
            break;
        }
        let units = lot.quantity.min(left);
        used.push((lot.lot_id.clone(), units));
        left -= units;
    }
    if left > Decimal::ZERO {
        let available: Decimal = lots.iter().map(|lot| lot.quantity).sum();
        return Err(TaxError::InsufficientLots {
            asset: lots.first().map(|l| l.asset.clone()).unwrap_or_default(),
            requested: quantity,
            available,
        });
    }
    Ok(used)
}

/// The lots named by `lot_ids` (book ids), in that order, from `lots`.
///
/// # Errors
/// [`TaxError::UnknownLot`] for an id none of `lots` has.
pub fn named<'a>(lots: &[&'a Lot], lot_ids: &[String]) -> Result<Vec<&'a Lot>, TaxError> {
    lot_ids
        .iter()
        .map(|id| {
            lots.iter()
                .find(|lot| &lot.lot_id == id)
                .copied()
                .ok_or_else(|| TaxError::UnknownLot {
                    asset: lots.first().map(|l| l.asset.clone()).unwrap_or_default(),
                    lot_id: id.clone(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;
    use time::macros::datetime;

    use super::*;
    use crate::tax::lot::{LotOrigin, test_lot};

    #[test]
    fn each_method_takes_its_lots() {
        // Three BTC lots: A old and cheap, B mid and dear, C new and mid-priced.
        let a = test_lot(
            "A",
            "BTC",
            dec!(1),
            dec!(50000),
            datetime!(2025-01-01 0:00 UTC),
        );
        let b = test_lot(
            "B",
            "BTC",
            dec!(1),
            dec!(90000),
            datetime!(2025-03-01 0:00 UTC),
        );
        let c = test_lot(
            "C",
            "BTC",
            dec!(2),
            dec!(140000),
            datetime!(2025-06-01 0:00 UTC),
        );
        // Book order differs from purchase order on purpose.
        let book = [&c, &a, &b];
        struct TestCase {
            method: DisposalMethod,
            named: Vec<&'static str>,
            quantity: Decimal,
            expected: Result<Vec<(&'static str, Decimal)>, &'static str>,
        }
        let cases = [
            // TC0: FIFO takes the oldest first and splits the last lot used.
            TestCase {
                method: DisposalMethod::Fifo,
                named: vec![],
                quantity: dec!(1.5),
                expected: Ok(vec![("A", dec!(1)), ("B", dec!(0.5))]),
            },
            // TC1: HIFO takes the highest basis per unit first: B (90k), C (70k), A (50k).
            TestCase {
                method: DisposalMethod::Hifo,
                named: vec![],
                quantity: dec!(2.25),
                expected: Ok(vec![("B", dec!(1)), ("C", dec!(1.25))]),
            },
            // TC2: specific lots in the order named.
            TestCase {
                method: DisposalMethod::Specific,
                named: vec!["C", "A"],
                quantity: dec!(2.5),
                expected: Ok(vec![("C", dec!(2)), ("A", dec!(0.5))]),
            },
            // TC3: more than the named lots hold.
            TestCase {
                method: DisposalMethod::Specific,
                named: vec!["A"],
                quantity: dec!(1.1),
                expected: Err("selling 1.1 but the lots hold 1"),
            },
            // TC4: an unknown lot.
            TestCase {
                method: DisposalMethod::Specific,
                named: vec!["Z"],
                quantity: dec!(1),
                expected: Err("lot `Z` of BTC is not in the book"),
            },
            // TC5: all of it, exactly.
            TestCase {
                method: DisposalMethod::Fifo,
                named: vec![],
                quantity: dec!(4),
                expected: Ok(vec![("A", dec!(1)), ("B", dec!(1)), ("C", dec!(2))]),
            },
        ];
        for (index, case) in cases.into_iter().enumerate() {
            let in_order = ordered(book, case.method);
            let result = if case.method == DisposalMethod::Specific {
                let ids: Vec<String> = case.named.iter().map(|s| (*s).to_owned()).collect();
                named(&in_order, &ids).and_then(|lots| take(&lots, case.quantity))
            } else {
                take(&in_order, case.quantity)
            };
            match (result, case.expected) {
                (Ok(got), Ok(want)) => {
                    let want: Vec<(String, Decimal)> =
                        want.into_iter().map(|(id, q)| (id.to_owned(), q)).collect();
                    assert_eq!(got, want, "TC{index}");
                }
                (Err(error), Err(needle)) => {
                    assert!(error.to_string().contains(needle), "TC{index}: {error}");
                }
                (got, want) => panic!("TC{index}: got {got:?}, want {want:?}"),
            }
        }
        assert_eq!(a.origin, LotOrigin::External);
    }
}
