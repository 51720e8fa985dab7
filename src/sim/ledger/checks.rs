//! The ledger's limits, its field checks, and the checked arithmetic every money movement
//! goes through.
//!
//! # Invariants
//! - Every check names the request field at fault.
//! - Checked arithmetic never panics: an overflow is a refusal (`amount_usdc` too large),
//!   and a reported value saturates instead of failing the request that reads it.

use rust_decimal::Decimal;

use super::error::{StateError, invalid};
use crate::{
    money::CENT_DP,
    service::Service,
    sim::{book::QUANTITY_DP, markets::MAX_PRICE_USDC},
};

/// Largest order notional or escrow deal accepted, USDC. With [`MAX_PRICE_USDC`], whole-cent
/// prices and [`MAX_QUANTITY`] it keeps every product of a quantity and a price within the
/// 28 significant digits `Decimal` holds exactly, so values and PnL are never rounded.
pub const MAX_NOTIONAL_USDC: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 0);
/// Largest wallet trade, in units.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

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

/// Checks that an amount of either sign is in whole cents.
pub(super) fn check_signed_cents(
    field: &'static str,
    amount_usdc: Decimal,
) -> Result<(), StateError> {
    if amount_usdc.normalize().scale() > CENT_DP {
        return Err(invalid(field, "must have at most 2 decimal places"));
    }
    Ok(())
}

/// Checks a price: positive, whole cents, at most [`MAX_PRICE_USDC`].
pub(super) fn check_price(field: &'static str, price: Decimal) -> Result<(), StateError> {
    if price <= Decimal::ZERO {
        return Err(invalid(field, "must be positive"));
    }
    if price > MAX_PRICE_USDC {
        return Err(invalid(field, &format!("must be at most {MAX_PRICE_USDC}")));
    }
    check_signed_cents(field, price)
}

/// Checks a wallet quantity: positive, at most [`MAX_QUANTITY`] and [`QUANTITY_DP`] places.
pub(super) fn check_quantity(quantity: Decimal) -> Result<(), StateError> {
    if quantity <= Decimal::ZERO {
        return Err(invalid("quantity", "must be positive"));
    }
    if quantity > MAX_QUANTITY {
        return Err(invalid(
            "quantity",
            &format!("must be at most {MAX_QUANTITY}"),
        ));
    }
    if quantity.normalize().scale() > QUANTITY_DP {
        return Err(invalid(
            "quantity",
            &format!("must have at most {QUANTITY_DP} decimal places"),
        ));
    }
    Ok(())
}

/// Checks a service's cash: non-negative, whole cents, naming the service's balance field.
pub(super) fn check_balance(service: Service, value: Decimal) -> Result<(), StateError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(invalid(service.balance_field(), "must not be negative"));
    }
    check_signed_cents(service.balance_field(), value)
}

/// Refuses the reserve in `field` where an op needs a tradable service, saying `why` when
/// the reason is not obvious.
pub(super) fn not_reserve(
    field: &'static str,
    service: Service,
    why: Option<&str>,
) -> Result<(), StateError> {
    if service != Service::Reserve {
        return Ok(());
    }
    let reason = match why {
        Some(why) => format!("must not be `reserve`: {why}"),
        None => "must not be `reserve`".to_owned(),
    };
    Err(invalid(field, &reason))
}

/// The sum of `values`, refusing an overflow.
pub(super) fn checked_sum<'a>(
    mut values: impl Iterator<Item = &'a Decimal>,
) -> Result<Decimal, StateError> {
    values.try_fold(Decimal::ZERO, |acc, v| add(acc, *v))
}

/// `a + b`, refusing an overflow.
pub(super) fn add(a: Decimal, b: Decimal) -> Result<Decimal, StateError> {
    a.checked_add(b).ok_or_else(too_large)
}

/// `a − b`, refusing an overflow.
pub(super) fn sub(a: Decimal, b: Decimal) -> Result<Decimal, StateError> {
    a.checked_sub(b).ok_or_else(too_large)
}

/// `total += amount`, refusing an overflow (and then leaving `total` as it was).
pub(super) fn add_to(total: &mut Decimal, amount: Decimal) -> Result<(), StateError> {
    *total = add(*total, amount)?;
    Ok(())
}

/// `total −= amount`, refusing an overflow (and then leaving `total` as it was).
pub(super) fn sub_from(total: &mut Decimal, amount: Decimal) -> Result<(), StateError> {
    *total = sub(*total, amount)?;
    Ok(())
}

/// The refusal of an amount whose arithmetic overflows.
pub(super) fn too_large() -> StateError {
    invalid("amount_usdc", "is too large")
}

/// `a + b`, or `Decimal::MAX` when that overflows: for reported values, which must not
/// fail the request that reads them.
pub(super) fn saturating_add(a: Decimal, b: Decimal) -> Decimal {
    a.checked_add(b).unwrap_or(Decimal::MAX)
}
