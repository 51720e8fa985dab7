//! The one door for REST payloads: parse, then check what serde cannot.
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

use super::protocol::{
    ErrorBody, PortfolioResponse, PricesResponse, RebalanceResponse, ReturnsResponse,
};

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
            // A daily simple return below -100% would mean more than everything was lost.
            if let Some(index) = series.iter().position(|r| *r < -1.0) {
                return Err(format!(
                    "returns_by_service.{service}[{index}] is below -1 (a loss of more than 100%)"
                ));
            }
        }
        Ok(())
    }
}

impl RestPayload for PricesResponse {
    fn check(&self) -> Result<(), String> {
        match self.prices.iter().find(|(_, p)| p.0 <= Decimal::ZERO) {
            Some((asset, _)) => Err(format!("prices.{asset} is not positive")),
            None => Ok(()),
        }
    }
}

impl RestPayload for RebalanceResponse {
    fn check(&self) -> Result<(), String> {
        if self.amount_usdc <= Decimal::ZERO {
            return Err("amount_usdc is not positive".to_owned());
        }
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
            // TC5: a negative transfer.
            TestCase {
                body: r#"{"transfer_id":"t1","service":"casino","direction":"decrease","amount_usdc":-5,"status":"applied"}"#,
                kind: "rebalance",
                error_names: Some("amount_usdc"),
            },
            // TC6: a valid transfer.
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
