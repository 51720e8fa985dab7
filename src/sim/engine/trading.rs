//! The trading service's endpoints: `GET /trading/positions`, `POST /trading/order`, the
//! status of an order by its key (`GET /trading/order/{key}`, *addition*) and
//! `DELETE /trading/positions/{id}`.
//!
//! # Invariants
//! - Closing a position that is already closed answers the first close again and changes
//!   nothing, with or without an `Idempotency-Key`.
//! - A position's reported unrealized PnL is what closing it at this mark would realize
//!   (before the closing fee).

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::{
    Engine,
    outcome::{Processed, applied, first_applied},
};
use crate::{
    sim::{
        book::{ClosedPosition, floor_cents},
        http::Reply,
        ledger::{Op, OpenOrder, StateError},
        markets::PerpMarket,
    },
    venue::protocol::{
        ClosePositionResponse, EventKind, OrderBody, OrderResponse, PortfolioResponse, Position,
        PositionsResponse,
    },
};

impl Engine {
    /// `GET /trading/positions`: open positions and resting orders, oldest first.
    pub fn positions(&self) -> PositionsResponse {
        let prices = self.ledger.prices();
        let positions = self
            .ledger
            .positions()
            .map(|p| {
                let mark = prices[p.market.underlying()];
                Position {
                    id: p.id.clone(),
                    market: p.market.name().to_owned(),
                    side: p.side,
                    notional_usdc: p.notional_usdc,
                    leverage: p.leverage,
                    entry_price: p.entry_price,
                    mark_price: mark,
                    // Rounded as a close would realize it, so closing at this mark realizes
                    // exactly this (before the closing fee).
                    unrealized_pnl_usdc: floor_cents(p.unrealized_pnl_usdc(mark)),
                    purpose: p.purpose.clone(),
                    margin_usdc: p.margin_usdc,
                    quantity: p.quantity,
                    opened_at: Some(p.opened_at),
                    status: p.status.name().to_owned(),
                    order_type: Some(p.order_type),
                    limit_price: p.limit_price,
                    funding_usdc: p.funding_usdc,
                    fees_paid_usdc: p.fees_paid_usdc,
                }
            })
            .collect();
        PositionsResponse { positions }
    }

    /// Handles `POST /trading/order` (already parsed; the agent checked).
    pub fn order(&mut self, body: &OrderBody, ts: OffsetDateTime) -> Result<Processed, StateError> {
        let market = PerpMarket::parse("market", &body.market)?;
        let op = Op::OpenPosition(OpenOrder {
            market,
            side: body.side,
            notional_usdc: body.notional_usdc,
            leverage: body.leverage,
            order_type: body.order_type,
            limit_price: body.limit_price,
            purpose: body.purpose.clone(),
            at: ts,
        });
        let frames = self.apply(ts, &op)?;
        let frame = first_applied(&frames, "notional_usdc")?;
        let (order_id, position_id, status, fill_price, fee_usdc, quantity) = match &frame.kind {
            EventKind::PositionOpened {
                order_id,
                position_id,
                fill_price,
                fee_usdc,
                quantity,
                ..
            } => (
                order_id.clone(),
                position_id.clone(),
                "filled",
                Some(*fill_price),
                *fee_usdc,
                *quantity,
            ),
            EventKind::OrderPlaced {
                order_id,
                position_id,
                ..
            } => (
                order_id.clone(),
                position_id.clone(),
                "open",
                None,
                Decimal::ZERO,
                Decimal::ZERO,
            ),
            _ => (
                String::new(),
                String::new(),
                "filled",
                None,
                Decimal::ZERO,
                Decimal::ZERO,
            ),
        };
        let margin_usdc = self
            .ledger
            .positions()
            .find(|p| p.id == position_id)
            .map(|p| p.margin_usdc)
            .unwrap_or_default();
        tracing::info!(
            order_id,
            position_id,
            market = market.name(),
            side = ?body.side,
            notional_usdc = %body.notional_usdc,
            leverage = body.leverage,
            status,
            purpose = body.purpose,
            "sim accepted order"
        );
        let response = OrderResponse {
            order_id,
            position_id,
            status: status.to_owned(),
            fill_price,
            fee_usdc,
            market: market.name().to_owned(),
            side: Some(body.side),
            notional_usdc: body.notional_usdc,
            leverage: body.leverage,
            margin_usdc,
            quantity,
            portfolio: frame.portfolio.clone(),
        };
        Ok(applied(&response, frames))
    }

    /// Handles `GET /trading/order/{key}` (*addition*): the first reply to the order POSTed
    /// under `key`, as a replay would return it, applying nothing; 404
    /// `unknown_idempotency_key` when no order arrived under that key (or it has left the
    /// replay memory). A client whose order timed out resolves it with this, never by
    /// resubmitting blindly.
    pub fn order_status(&self, order_fingerprint_prefix: &str, key: &str) -> Reply {
        // Orders keep no log of their own: only the replay map knows their replies.
        self.key_status(order_fingerprint_prefix, key, "order", || {
            None::<OrderResponse>
        })
    }

    /// Handles `DELETE /trading/positions/{id}`: closes at the mark, cancels a resting
    /// order, or (for a position already closed) answers the first close again.
    pub fn close_position(
        &mut self,
        position_id: &str,
        ts: OffsetDateTime,
    ) -> Result<Processed, StateError> {
        if let Some(closed) = self.ledger.closed_position(position_id) {
            let response = close_response(closed, None);
            self.counters.repeated_closes += 1;
            let mut processed = applied(&response, Vec::new());
            processed.applied = false;
            return Ok(processed);
        }
        let op = Op::ClosePosition {
            position_id: position_id.to_owned(),
            at: ts,
        };
        let frames = self.apply(ts, &op)?;
        let closed = self.ledger.closed_position(position_id).ok_or_else(|| {
            StateError::PositionNotFound {
                position_id: position_id.to_owned(),
            }
        })?;
        let portfolio = frames.first().and_then(|f| f.portfolio.clone());
        let response = close_response(closed, portfolio);
        tracing::info!(
            position_id,
            status = response.status,
            realized_pnl_usdc = %response.realized_pnl_usdc,
            fee_usdc = %response.fee_usdc,
            "sim closed position"
        );
        Ok(applied(&response, frames))
    }
}

/// The reply to a close, from its remembered outcome.
fn close_response(
    closed: &ClosedPosition,
    portfolio: Option<PortfolioResponse>,
) -> ClosePositionResponse {
    ClosePositionResponse {
        position_id: closed.position_id.clone(),
        realized_pnl_usdc: closed.realized_pnl_usdc,
        fee_usdc: closed.fee_usdc,
        status: closed.status.name().to_owned(),
        market: closed.market.name().to_owned(),
        close_price: closed.close_price,
        returned_usdc: closed.returned_usdc,
        funding_usdc: closed.funding_usdc,
        portfolio,
    }
}
