//! The event stream `GET /agents/{id}/events?since=SEQ` (*addition*): its frames, what each
//! reports, and the decoder. `venue::observe` turns a frame into the core's observation.
//!
//! # Invariants
//! - Decoding never panics; [`EventFrame::decode`] returns a typed error for every bad frame,
//!   and unknown event types decode to [`EventKind::Unknown`] rather than failing.
//! - Every decoded frame re-encodes to itself.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    markets::WalletLot,
    portfolio::{PortfolioResponse, WireDecimal},
    wire,
};
use crate::{
    observation::{PositionSide, TradeSide},
    service::{Direction, Service},
};

/// One frame of the event stream `GET /agents/{id}/events?since=SEQ` (*addition*).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFrame {
    /// Monotonically increasing sequence number; the stream resumes after it.
    pub seq: u64,
    /// Venue time of the event.
    pub ts: OffsetDateTime,
    /// What happened.
    pub kind: EventKind,
    /// Balances right after the event, when the venue includes them.
    pub portfolio: Option<PortfolioResponse>,
}

/// What a venue event reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A casino bet paid out.
    CasinoWin {
        /// Net amount won, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
        /// Stake of the bet, USDC.
        #[serde(with = "wire")]
        stake_usdc: Decimal,
        /// Payout multiple of the stake.
        #[serde(with = "wire")]
        multiplier: Decimal,
    },
    /// Casino losses (possibly several bets aggregated).
    CasinoLoss {
        /// Amount lost, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// Referral income credited to the available balance.
    ReferralIncome {
        /// Amount, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
        /// The service whose referrals earned it.
        source_service: Service,
    },
    /// Domain rental income credited to the domains balance.
    DomainsIncome {
        /// Amount, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// Trading or wallet mark-to-market change.
    MarkToMarket {
        /// The service whose value moved.
        service: Service,
        /// Signed change, USDC.
        #[serde(with = "wire")]
        change_usdc: Decimal,
    },
    /// A rebalance transfer was applied.
    Transfer {
        /// Venue transfer id.
        transfer_id: String,
        /// Service.
        service: Service,
        /// Direction.
        direction: Direction,
        /// Amount, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// A service fell from its local peak.
    Drawdown {
        /// The service.
        service: Service,
        /// Fall from the peak as a fraction (0.2 = 20%).
        #[serde(with = "wire")]
        drawdown: Decimal,
    },
    /// Asset prices.
    Price {
        /// USDC price per asset.
        prices: BTreeMap<String, WireDecimal>,
    },
    /// A limit order is resting until the mark reaches its price (*addition*).
    OrderPlaced {
        /// The position it will open.
        position_id: String,
        /// The order.
        order_id: String,
        /// Market, e.g. `BTC-PERP`.
        market: String,
        /// Long or short.
        side: PositionSide,
        /// Notional, USDC.
        #[serde(with = "wire")]
        notional_usdc: Decimal,
        /// Leverage.
        leverage: u32,
        /// Limit price.
        #[serde(with = "wire")]
        limit_price: Decimal,
        /// Margin and maker fee held back from the trading balance, USDC.
        #[serde(with = "wire")]
        reserved_usdc: Decimal,
    },
    /// An order filled and a position opened (*addition*).
    PositionOpened {
        /// The position.
        position_id: String,
        /// The order.
        order_id: String,
        /// Market, e.g. `BTC-PERP`.
        market: String,
        /// Long or short.
        side: PositionSide,
        /// Notional, USDC.
        #[serde(with = "wire")]
        notional_usdc: Decimal,
        /// Leverage.
        leverage: u32,
        /// Fill price.
        #[serde(with = "wire")]
        fill_price: Decimal,
        /// Fee charged, USDC.
        #[serde(with = "wire")]
        fee_usdc: Decimal,
        /// Margin taken, USDC.
        #[serde(with = "wire")]
        margin_usdc: Decimal,
        /// Units of the underlying.
        #[serde(with = "wire")]
        quantity: Decimal,
    },
    /// A position closed, was liquidated, or a resting order was cancelled (*addition*).
    PositionClosed {
        /// The position.
        position_id: String,
        /// Market.
        market: String,
        /// `closed`, `cancelled` or `liquidated`.
        status: String,
        /// The mark it closed at (none for a cancelled order).
        #[serde(
            default,
            with = "wire::option",
            skip_serializing_if = "Option::is_none"
        )]
        close_price: Option<Decimal>,
        /// Realized PnL before the fee, USDC.
        #[serde(with = "wire")]
        realized_pnl_usdc: Decimal,
        /// Closing fee, USDC.
        #[serde(with = "wire")]
        fee_usdc: Decimal,
    },
    /// Funding was exchanged on the open positions (*addition*).
    Funding {
        /// Rate of the period per market; positive: longs pay shorts.
        rates: BTreeMap<String, WireDecimal>,
        /// Net funding the agent received, USDC (negative when it paid).
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// The wallet bought or sold an asset (*addition*).
    WalletTrade {
        /// Venue trade id.
        trade_id: String,
        /// Asset symbol.
        asset: String,
        /// Buy or sell.
        side: TradeSide,
        /// Units.
        #[serde(with = "wire")]
        quantity: Decimal,
        /// Fill price, USDC per unit.
        #[serde(with = "wire")]
        price_usdc: Decimal,
        /// Cash paid or received, USDC.
        #[serde(with = "wire")]
        notional_usdc: Decimal,
        /// For a sale: proceeds − basis of the lots used.
        #[serde(
            default,
            with = "wire::option",
            skip_serializing_if = "Option::is_none"
        )]
        realized_pnl_usdc: Option<Decimal>,
        /// The mid price the spread was taken from.
        #[serde(with = "wire")]
        mid_price_usdc: Decimal,
        /// What the spread cost against the mid, USDC.
        #[serde(with = "wire")]
        spread_usdc: Decimal,
        /// The lot a buy created, or the lots a sale used, first in first out.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        lots: Vec<WalletLot>,
    },
    /// The escrow service earned its fee on settled deals (*addition*).
    EscrowFee {
        /// Volume of the deals settled, USDC.
        #[serde(with = "wire")]
        deal_usdc: Decimal,
        /// Fee earned (1% of the volume), USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// Part of a service's balance is locked: a `decrease` cannot take it until `until`
    /// (funds in play after a large win, a settlement delay) (*addition*).
    FundsLocked {
        /// The service.
        service: Service,
        /// Amount locked by this lock, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
        /// When the lock is released.
        #[serde(with = "time::serde::rfc3339")]
        until: OffsetDateTime,
    },
    /// A lock was released: its amount may move again (*addition*).
    FundsReleased {
        /// The service.
        service: Service,
        /// Amount the lock held, USDC.
        #[serde(with = "wire")]
        amount_usdc: Decimal,
    },
    /// A balance snapshot with no other news.
    Balance,
    /// Keep-alive; carries no state.
    Heartbeat,
    /// An event type this version does not know; kept so its `seq` still advances.
    #[serde(skip)]
    Unknown {
        /// The `type` field as sent.
        type_name: String,
    },
}

impl EventKind {
    /// The wire `type` name.
    pub fn type_name(&self) -> &str {
        match self {
            EventKind::CasinoWin { .. } => "casino_win",
            EventKind::CasinoLoss { .. } => "casino_loss",
            EventKind::ReferralIncome { .. } => "referral_income",
            EventKind::DomainsIncome { .. } => "domains_income",
            EventKind::MarkToMarket { .. } => "mark_to_market",
            EventKind::Transfer { .. } => "transfer",
            EventKind::Drawdown { .. } => "drawdown",
            EventKind::Price { .. } => "price",
            EventKind::OrderPlaced { .. } => "order_placed",
            EventKind::PositionOpened { .. } => "position_opened",
            EventKind::PositionClosed { .. } => "position_closed",
            EventKind::Funding { .. } => "funding",
            EventKind::WalletTrade { .. } => "wallet_trade",
            EventKind::EscrowFee { .. } => "escrow_fee",
            EventKind::FundsLocked { .. } => "funds_locked",
            EventKind::FundsReleased { .. } => "funds_released",
            EventKind::Balance => "balance",
            EventKind::Heartbeat => "heartbeat",
            EventKind::Unknown { type_name } => type_name,
        }
    }
}

/// The `type` names this version decodes; any other is [`EventKind::Unknown`].
pub(crate) const KNOWN_EVENT_TYPES: [&str; 18] = [
    "casino_win",
    "casino_loss",
    "referral_income",
    "domains_income",
    "mark_to_market",
    "transfer",
    "drawdown",
    "price",
    "order_placed",
    "position_opened",
    "position_closed",
    "funding",
    "wallet_trade",
    "escrow_fee",
    "funds_locked",
    "funds_released",
    "balance",
    "heartbeat",
];

/// A frame that could not be decoded; names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not a JSON object.
    #[error("event frame is not a JSON object: {0}")]
    NotJson(String),
    /// A required field is absent.
    #[error("event frame is missing `{0}`")]
    Missing(&'static str),
    /// A field has the wrong type or an invalid value.
    #[error("event field `{field}` is invalid: {reason}")]
    Invalid {
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
}

impl EventFrame {
    /// Decodes one text frame of the event stream.
    ///
    /// # Errors
    /// A [`DecodeError`] naming the field; never panics. Amounts must be finite and, where
    /// they are sizes rather than changes, non-negative.
    pub fn decode(text: &str) -> Result<EventFrame, DecodeError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        let mut object = match value {
            serde_json::Value::Object(map) => map,
            _ => return Err(DecodeError::NotJson("not an object".into())),
        };
        let seq = object
            .get("seq")
            .ok_or(DecodeError::Missing("seq"))?
            .as_u64()
            .ok_or_else(|| invalid("seq", "not a non-negative integer"))?;
        let ts_text = required_str(&object, "ts")?;
        let ts = OffsetDateTime::parse(ts_text, &time::format_description::well_known::Rfc3339)
            .map_err(|e| invalid("ts", &e.to_string()))?;
        let type_name = required_str(&object, "type")?.to_owned();
        let portfolio = match object.remove("portfolio") {
            None | Some(serde_json::Value::Null) => None,
            Some(p) => {
                let portfolio: PortfolioResponse =
                    serde_json::from_value(p).map_err(|e| invalid("portfolio", &e.to_string()))?;
                portfolio
                    .to_snapshot()
                    .map_err(|e| invalid("portfolio", &e.to_string()))?;
                Some(portfolio)
            }
        };
        let kind = if KNOWN_EVENT_TYPES.contains(&type_name.as_str()) {
            object.remove("seq");
            object.remove("ts");
            let kind: EventKind = serde_json::from_value(serde_json::Value::Object(object))
                .map_err(|e| invalid(&type_name, &e.to_string()))?;
            kind.validate()?;
            kind
        } else {
            EventKind::Unknown { type_name }
        };
        Ok(EventFrame {
            seq,
            ts,
            kind,
            portfolio,
        })
    }

    /// Encodes the frame as the venue sends it.
    pub fn encode(&self) -> String {
        let mut value = match &self.kind {
            EventKind::Unknown { type_name } => serde_json::json!({ "type": type_name }),
            kind => serde_json::to_value(kind).unwrap_or_else(|_| serde_json::json!({})),
        };
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("seq".into(), self.seq.into());
            let ts = self
                .ts
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
            map.insert("ts".into(), ts.into());
            if let Some(portfolio) = &self.portfolio {
                map.insert(
                    "portfolio".into(),
                    serde_json::to_value(portfolio).unwrap_or(serde_json::Value::Null),
                );
            }
        }
        value.to_string()
    }
}

impl EventKind {
    /// Checks the values serde accepted: sizes non-negative, prices positive.
    ///
    /// # Errors
    /// A [`DecodeError::Invalid`] naming the field.
    fn validate(&self) -> Result<(), DecodeError> {
        let non_negative = |field: &str, v: &Decimal| {
            if v.is_sign_negative() && !v.is_zero() {
                Err(invalid(field, "negative"))
            } else {
                Ok(())
            }
        };
        let positive = |field: &str, v: &Decimal| {
            if *v <= Decimal::ZERO {
                Err(invalid(field, "not positive"))
            } else {
                Ok(())
            }
        };
        match self {
            EventKind::CasinoWin {
                amount_usdc,
                stake_usdc,
                multiplier,
            } => {
                non_negative("amount_usdc", amount_usdc)?;
                non_negative("stake_usdc", stake_usdc)?;
                non_negative("multiplier", multiplier)
            }
            EventKind::CasinoLoss { amount_usdc }
            | EventKind::ReferralIncome { amount_usdc, .. }
            | EventKind::DomainsIncome { amount_usdc }
            | EventKind::Transfer { amount_usdc, .. }
            | EventKind::FundsLocked { amount_usdc, .. }
            | EventKind::FundsReleased { amount_usdc, .. } => {
                non_negative("amount_usdc", amount_usdc)
            }
            EventKind::Drawdown { drawdown, .. } => non_negative("drawdown", drawdown),
            EventKind::Price { prices } => {
                for (asset, price) in prices {
                    if price.0 <= Decimal::ZERO {
                        return Err(invalid(&format!("prices.{asset}"), "not positive"));
                    }
                }
                Ok(())
            }
            EventKind::OrderPlaced {
                notional_usdc,
                limit_price,
                reserved_usdc,
                ..
            } => {
                positive("notional_usdc", notional_usdc)?;
                positive("limit_price", limit_price)?;
                non_negative("reserved_usdc", reserved_usdc)
            }
            EventKind::PositionOpened {
                notional_usdc,
                fill_price,
                fee_usdc,
                margin_usdc,
                ..
            } => {
                positive("notional_usdc", notional_usdc)?;
                positive("fill_price", fill_price)?;
                non_negative("fee_usdc", fee_usdc)?;
                non_negative("margin_usdc", margin_usdc)
            }
            EventKind::PositionClosed {
                close_price,
                fee_usdc,
                ..
            } => {
                if let Some(price) = close_price {
                    positive("close_price", price)?;
                }
                non_negative("fee_usdc", fee_usdc)
            }
            EventKind::WalletTrade {
                quantity,
                price_usdc,
                notional_usdc,
                ..
            } => {
                positive("quantity", quantity)?;
                positive("price_usdc", price_usdc)?;
                non_negative("notional_usdc", notional_usdc)
            }
            EventKind::EscrowFee {
                deal_usdc,
                amount_usdc,
            } => {
                non_negative("deal_usdc", deal_usdc)?;
                non_negative("amount_usdc", amount_usdc)
            }
            EventKind::MarkToMarket { .. }
            | EventKind::Funding { .. }
            | EventKind::Balance
            | EventKind::Heartbeat
            | EventKind::Unknown { .. } => Ok(()),
        }
    }
}

/// The string field `field` of a frame, which must be present.
fn required_str<'a>(
    object: &'a serde_json::Map<String, serde_json::Value>,
    field: &'static str,
) -> Result<&'a str, DecodeError> {
    object
        .get(field)
        .ok_or(DecodeError::Missing(field))?
        .as_str()
        .ok_or_else(|| invalid(field, "not a string"))
}

fn invalid(field: &str, reason: &str) -> DecodeError {
    DecodeError::Invalid {
        field: field.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::service::ServiceMap;

    #[test]
    fn decode_event_frames() {
        struct TestCase {
            input: &'static str,
            expected: Result<&'static str, &'static str>,
        }
        let cases = [
            // TC0: a casino win with the portfolio after it.
            TestCase {
                input: r#"{"seq":7,"ts":"2026-01-01T00:00:00Z","type":"casino_win","amount_usdc":150.5,"stake_usdc":3,"multiplier":51.17,
                  "portfolio":{"casino_balance":350,"trading_balance":300,"wallet_balance":150,"domains_balance":150,"escrow_balance":100,"available_balance":100}}"#,
                expected: Ok("casino_win"),
            },
            // TC1: an unknown type is kept, not rejected.
            TestCase {
                input: r#"{"seq":8,"ts":"2026-01-01T00:00:00Z","type":"funding_payment","x":1}"#,
                expected: Ok("funding_payment"),
            },
            // TC2: missing seq.
            TestCase {
                input: r#"{"ts":"2026-01-01T00:00:00Z","type":"balance"}"#,
                expected: Err("seq"),
            },
            // TC3: negative seq.
            TestCase {
                input: r#"{"seq":-1,"ts":"2026-01-01T00:00:00Z","type":"balance"}"#,
                expected: Err("seq"),
            },
            // TC4: bad JSON.
            TestCase {
                input: r#"{"seq":1,"#,
                expected: Err("JSON"),
            },
            // TC5: negative win amount.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"casino_win","amount_usdc":-5,"stake_usdc":1,"multiplier":2}"#,
                expected: Err("amount_usdc"),
            },
            // TC6: negative balance inside the portfolio.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"balance","portfolio":{"casino_balance":-1,"trading_balance":0,"wallet_balance":0,"domains_balance":0,"escrow_balance":0,"available_balance":0}}"#,
                expected: Err("casino_balance"),
            },
            // TC7: a missing field of a known type.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"referral_income","amount_usdc":5}"#,
                expected: Err("source_service"),
            },
            // TC8: a bad timestamp.
            TestCase {
                input: r#"{"seq":1,"ts":"yesterday","type":"balance"}"#,
                expected: Err("ts"),
            },
            // TC9: a non-positive price.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"price","prices":{"BTC":0}}"#,
                expected: Err("prices.BTC"),
            },
            // TC10: a fill.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"position_opened","position_id":"pos-1","order_id":"ord-1","market":"BTC-PERP","side":"short","notional_usdc":100,"leverage":2,"fill_price":95000,"fee_usdc":0.1,"margin_usdc":50,"quantity":0.00105263}"#,
                expected: Ok("position_opened"),
            },
            // TC11: a negative fee.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"position_closed","position_id":"pos-1","market":"BTC-PERP","status":"closed","close_price":1,"realized_pnl_usdc":-3,"fee_usdc":-0.1}"#,
                expected: Err("fee_usdc"),
            },
            // TC12: funding is signed.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"funding","rates":{"BTC-PERP":0.0001},"amount_usdc":-0.11}"#,
                expected: Ok("funding"),
            },
            // TC13: a wallet trade of nothing.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"wallet_trade","trade_id":"wt-1","asset":"SOL","side":"buy","quantity":0,"price_usdc":180.18,"notional_usdc":0,"mid_price_usdc":180,"spread_usdc":0}"#,
                expected: Err("quantity"),
            },
            // TC14: escrow income.
            TestCase {
                input: r#"{"seq":1,"ts":"2026-01-01T00:00:00Z","type":"escrow_fee","deal_usdc":1234.56,"amount_usdc":12.34}"#,
                expected: Ok("escrow_fee"),
            },
        ];
        for (index, case) in cases.iter().enumerate() {
            match (EventFrame::decode(case.input), case.expected) {
                (Ok(frame), Ok(name)) => assert_eq!(frame.kind.type_name(), name, "TC{index}"),
                (Err(err), Err(needle)) => {
                    assert!(
                        err.to_string().contains(needle),
                        "TC{index}: {err} lacks {needle}"
                    )
                }
                (actual, expected) => panic!("TC{index}: got {actual:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn encode_then_decode_is_identity() {
        let frame = EventFrame {
            seq: 42,
            ts: time::macros::datetime!(2026-03-01 12:00 UTC),
            kind: EventKind::ReferralIncome {
                amount_usdc: dec!(12.34),
                source_service: Service::Trading,
            },
            portfolio: Some(PortfolioResponse::from_balances(
                &ServiceMap([dec!(1), dec!(2), dec!(3), dec!(4), dec!(5), dec!(6.01)]),
                Some(42),
            )),
        };
        assert_eq!(EventFrame::decode(&frame.encode()), Ok(frame));
    }
}
