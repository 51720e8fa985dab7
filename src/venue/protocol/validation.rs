//! What serde cannot check: the one door for REST payloads.
//!
//! Serde guarantees shape and types; the venue can still send a negative balance, a `NaN`
//! return, a zero price or a transfer of a negative amount. [`decode_rest`] parses a body
//! and runs the type's [`RestPayload::check`], so every REST response the client accepts
//! has passed the same validation, and the fuzz tests exercise exactly this path.
//!
//! # Invariants
//! - Never panics, whatever the bytes.
//! - Every rejection names the field at fault (`returns_by_service.casino[3]`,
//!   `prices.BTC`, `amount_usdc`).

use rust_decimal::Decimal;
use serde::de::DeserializeOwned;

use super::{
    ErrorBody,
    markets::{
        ClosePositionResponse, HoldingsResponse, MarketReturnsResponse, OrderResponse,
        PositionsResponse, WalletTradeResponse,
    },
    portfolio::{PortfolioResponse, PricesResponse, RebalanceResponse, ReturnsResponse},
};

fn positive(field: &str, value: Decimal) -> Result<(), String> {
    if value > Decimal::ZERO {
        Ok(())
    } else {
        Err(format!("{field} is not positive"))
    }
}

fn non_negative(field: &str, value: Decimal) -> Result<(), String> {
    if value >= Decimal::ZERO {
        Ok(())
    } else {
        Err(format!("{field} is negative"))
    }
}

/// A REST response type with checks beyond its serde shape.
pub trait RestPayload {
    /// Checks values serde accepted; the error names the field.
    ///
    /// # Errors
    /// A message naming the field at fault.
    fn check(&self) -> Result<(), String>;
}

/// Parses `bytes` as `T` and checks it.
///
/// # Errors
/// The parse error (serde names the field and position) or the check's message.
pub fn decode_rest<T: DeserializeOwned + RestPayload>(bytes: &[u8]) -> Result<T, String> {
    let value: T = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    value.check()?;
    Ok(value)
}

impl RestPayload for PortfolioResponse {
    fn check(&self) -> Result<(), String> {
        self.to_snapshot().map(|_| ()).map_err(|e| e.to_string())
    }
}

impl RestPayload for ReturnsResponse {
    fn check(&self) -> Result<(), String> {
        for (service, series) in &self.returns_by_service {
            if let Some(index) = series.iter().position(|r| !r.is_finite()) {
                return Err(format!(
                    "returns_by_service.{service}[{index}] is not finite"
                ));
            }
            // A daily simple return of -100% or worse means everything (or more) was lost:
            // nothing an estimate can use (the CSV reader refuses it too).
            if let Some(index) = series.iter().position(|r| *r <= -1.0) {
                return Err(format!(
                    "returns_by_service.{service}[{index}] is -1 or below (a loss of 100% or more)"
                ));
            }
        }
        Ok(())
    }
}

impl RestPayload for PricesResponse {
    fn check(&self) -> Result<(), String> {
        for (asset, price) in &self.prices {
            positive(&format!("prices.{asset}"), price.0)?;
        }
        Ok(())
    }
}

impl RestPayload for RebalanceResponse {
    fn check(&self) -> Result<(), String> {
        positive("amount_usdc", self.amount_usdc)?;
        if self.transfer_id.trim().is_empty() {
            return Err("transfer_id is empty".to_owned());
        }
        if self.status != "applied" {
            return Err(format!("status `{}` is not `applied`", self.status));
        }
        match &self.portfolio {
            Some(portfolio) => portfolio.check().map_err(|e| format!("portfolio: {e}")),
            None => Ok(()),
        }
    }
}

impl RestPayload for PositionsResponse {
    fn check(&self) -> Result<(), String> {
        for (index, position) in self.positions.iter().enumerate() {
            let field = |name: &str| format!("positions[{index}].{name}");
            positive(&field("entry_price"), position.entry_price)?;
            positive(&field("mark_price"), position.mark_price)?;
            positive(&field("notional_usdc"), position.notional_usdc)?;
            non_negative(&field("margin_usdc"), position.margin_usdc)?;
        }
        Ok(())
    }
}

impl RestPayload for OrderResponse {
    fn check(&self) -> Result<(), String> {
        non_negative("fee_usdc", self.fee_usdc)?;
        match self.fill_price {
            Some(price) => positive("fill_price", price),
            None => Ok(()),
        }
    }
}

impl RestPayload for ClosePositionResponse {
    fn check(&self) -> Result<(), String> {
        non_negative("fee_usdc", self.fee_usdc)
    }
}

impl RestPayload for MarketReturnsResponse {
    fn check(&self) -> Result<(), String> {
        if let Some(index) = self
            .returns
            .iter()
            .position(|r| !r.is_finite() || *r < -1.0)
        {
            return Err(format!(
                "returns[{index}] is not a finite return of at least -1"
            ));
        }
        Ok(())
    }
}

impl RestPayload for WalletTradeResponse {
    fn check(&self) -> Result<(), String> {
        positive("quantity", self.quantity)?;
        positive("price_usdc", self.price_usdc)?;
        non_negative("fee_usdc", self.fee_usdc)
    }
}

impl RestPayload for HoldingsResponse {
    fn check(&self) -> Result<(), String> {
        non_negative("cash_usdc", self.cash_usdc)?;
        for holding in &self.holdings {
            let asset = &holding.asset;
            positive(&format!("holdings.{asset}.quantity"), holding.quantity)?;
            positive(&format!("holdings.{asset}.price_usdc"), holding.price_usdc)?;
            for (index, lot) in holding.lots.iter().enumerate() {
                positive(
                    &format!("holdings.{asset}.lots[{index}].quantity"),
                    lot.quantity,
                )?;
            }
        }
        Ok(())
    }
}

impl RestPayload for ErrorBody {
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_payloads_are_checked_beyond_their_shape() {
        struct TestCase {
            body: &'static str,
            kind: &'static str,
            error_names: Option<&'static str>,
        }
        let portfolio = r#"{"casino_balance":200,"trading_balance":300,"wallet_balance":150,"domains_balance":150,"escrow_balance":100,"available_balance":100}"#;
        let cases = [
            // TC0: a valid portfolio.
            TestCase {
                body: portfolio,
                kind: "portfolio",
                error_names: None,
            },
            // TC1: a negative balance.
            TestCase {
                body: r#"{"casino_balance":-1,"trading_balance":300,"wallet_balance":150,"domains_balance":150,"escrow_balance":100,"available_balance":100}"#,
                kind: "portfolio",
                error_names: Some("casino"),
            },
            // TC2: a missing balance.
            TestCase {
                body: r#"{"casino_balance":1}"#,
                kind: "portfolio",
                error_names: Some("trading_balance"),
            },
            // TC3: a return below -100%.
            TestCase {
                body: r#"{"returns_by_service":{"casino":[0.01,-1.5]}}"#,
                kind: "returns",
                error_names: Some("returns_by_service.casino[1]"),
            },
            // TC4: a zero price.
            TestCase {
                body: r#"{"prices":{"BTC":0}}"#,
                kind: "prices",
                error_names: Some("prices.BTC"),
            },
            // TC5: exactly -100% is refused too.
            TestCase {
                body: r#"{"returns_by_service":{"casino":[0.01,-1]}}"#,
                kind: "returns",
                error_names: Some("returns_by_service.casino[1]"),
            },
            // TC6: a negative transfer.
            TestCase {
                body: r#"{"transfer_id":"t1","service":"casino","direction":"decrease","amount_usdc":-5,"status":"applied"}"#,
                kind: "rebalance",
                error_names: Some("amount_usdc"),
            },
            // TC7: a valid transfer.
            TestCase {
                body: r#"{"transfer_id":"t1","service":"casino","direction":"decrease","amount_usdc":5,"status":"applied"}"#,
                kind: "rebalance",
                error_names: None,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let bytes = case.body.as_bytes();
            let result = match case.kind {
                "portfolio" => decode_rest::<PortfolioResponse>(bytes).map(|_| ()),
                "returns" => decode_rest::<ReturnsResponse>(bytes).map(|_| ()),
                "prices" => decode_rest::<PricesResponse>(bytes).map(|_| ()),
                _ => decode_rest::<RebalanceResponse>(bytes).map(|_| ()),
            };
            match (case.error_names, result) {
                (None, Ok(())) => {}
                (Some(field), Err(error)) => {
                    assert!(
                        error.contains(field),
                        "TC{i}: `{error}` should name {field}"
                    );
                }
                (expected, got) => panic!("TC{i}: expected {expected:?}, got {got:?}"),
            }
        }
    }
}
