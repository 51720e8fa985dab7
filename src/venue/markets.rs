//! Typed REST calls for the venue's markets: perpetual orders (and their status by key),
//! positions, a perp market's daily returns, wallet trades and the wallet's tax lots.
//!
//! [`MarketsClient`] shares the venue client's request path: the same Bearer header,
//! `Idempotency-Key` on every POST and DELETE, typed [`ClientError`]s with the same meaning
//! of [`ClientError::is_ambiguous`], and the same validation door
//! ([`super::protocol::validation::decode_rest`]), where each response's checks live.
//!
//! # Invariants
//! - The API key only ever reaches the `Authorization` header; `Debug` omits it.
//! - A non-positive price or quantity, or a negative fee or margin, is a
//!   [`ClientError::Decode`] naming the field, never a default.

use std::time::Duration;

use reqwest::Method;
use rust_decimal::Decimal;
use serde::{Serialize, de::DeserializeOwned};

use super::{
    client::{ClientError, VenueClient, key_status},
    protocol::{
        ClosePositionResponse, HoldingsResponse, MarketReturnsResponse, OrderBody, OrderResponse,
        PositionsResponse, WalletTradeBody, WalletTradeResponse, validation::RestPayload,
    },
};
use crate::{execution::KeyStatus, observation::TradeSide};

/// Async client for the market endpoints of one agent on one venue.
#[derive(Debug, Clone)]
pub struct MarketsClient {
    venue: VenueClient,
}

impl MarketsClient {
    /// A client for `venue`'s agent, with a total timeout per request.
    ///
    /// # Errors
    /// [`ClientError::Setup`] when the HTTP client cannot be built.
    pub fn new(venue: &VenueClient, timeout: Duration) -> Result<Self, ClientError> {
        Ok(MarketsClient {
            venue: VenueClient::new(
                venue.base_url(),
                venue.agent_id(),
                venue.api_key().cloned(),
                timeout,
            )?,
        })
    }

    /// `GET /trading/positions?agent_id=`: open positions (and, on the simulated venue,
    /// resting limit orders with `status: pending`).
    ///
    /// # Errors
    /// A [`ClientError`]; a non-positive price or a negative margin is a decode error
    /// naming the position and field.
    pub async fn positions(&self) -> Result<PositionsResponse, ClientError> {
        self.agents_own(Method::GET, "/trading/positions", None)
            .await
    }

    /// `POST /trading/order` with an idempotency key. `body.agent_id` is this client's agent
    /// whatever the caller set.
    ///
    /// # Errors
    /// A [`ClientError`]; see [`ClientError::is_ambiguous`] before retrying.
    pub async fn order(
        &self,
        body: &OrderBody,
        idempotency_key: &str,
    ) -> Result<OrderResponse, ClientError> {
        let body = OrderBody {
            agent_id: self.venue.agent_id().to_owned(),
            ..body.clone()
        };
        self.post("/trading/order", &body, idempotency_key).await
    }

    /// `GET /trading/order/{key}` (*addition*): what became of the order sent under
    /// `idempotency_key`, asked without resubmitting it.
    ///
    /// # Errors
    /// A [`ClientError`] when the venue cannot say; the order then stays unresolved.
    pub async fn order_status(
        &self,
        idempotency_key: &str,
    ) -> Result<KeyStatus<OrderResponse>, ClientError> {
        let path = format!("/trading/order/{idempotency_key}");
        key_status(
            self.venue
                .call::<(), OrderResponse>(Method::GET, &path, &[], None, None)
                .await,
        )
    }

    /// `GET /trading/returns?market=M&days=N` (*addition*): the daily returns of a perp
    /// market's mark, day for day with `/agents/{id}/returns`.
    ///
    /// # Errors
    /// A [`ClientError`]; a non-finite return is a decode error naming its index.
    pub async fn market_returns(
        &self,
        market: &str,
        days: u32,
    ) -> Result<MarketReturnsResponse, ClientError> {
        let days_text = days.to_string();
        self.venue
            .call::<(), _>(
                Method::GET,
                "/trading/returns",
                &[("market", market), ("days", &days_text)],
                None,
                None,
            )
            .await
    }

    /// `DELETE /trading/positions/{id}` with an idempotency key: closes at the mark (or
    /// cancels a resting order). Repeating it answers the first close.
    ///
    /// # Errors
    /// A [`ClientError`]; `position_not_found` (404) for an id the venue never had.
    pub async fn close_position(
        &self,
        position_id: &str,
        idempotency_key: &str,
    ) -> Result<ClosePositionResponse, ClientError> {
        let path = format!("/trading/positions/{position_id}");
        self.agents_own(Method::DELETE, &path, Some(idempotency_key))
            .await
    }

    /// `POST /wallet/buy` or `POST /wallet/sell` with an idempotency key; a sale uses the
    /// oldest lots first.
    ///
    /// # Errors
    /// A [`ClientError`]; see [`ClientError::is_ambiguous`] before retrying;
    /// `insufficient_holdings` (409) for a sale of more than the lots hold.
    pub async fn wallet_trade(
        &self,
        side: TradeSide,
        asset: &str,
        quantity: Decimal,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<WalletTradeResponse, ClientError> {
        let path = match side {
            TradeSide::Buy => "/wallet/buy",
            TradeSide::Sell => "/wallet/sell",
        };
        let body = self.wallet_trade_body(asset, quantity, Vec::new(), reason);
        self.post(path, &body, idempotency_key).await
    }

    /// `POST /wallet/sell` naming the lots to sell from, in order (`lot_ids`, an
    /// *addition*; empty for first in, first out).
    ///
    /// # Errors
    /// A [`ClientError`]; `insufficient_holdings` (409) for more than the lots named hold,
    /// `bad_request` naming `lot_ids` for a lot the venue does not hold.
    pub async fn wallet_sell_lots(
        &self,
        asset: &str,
        quantity: Decimal,
        lot_ids: &[String],
        reason: &str,
        idempotency_key: &str,
    ) -> Result<WalletTradeResponse, ClientError> {
        let body = self.wallet_trade_body(asset, quantity, lot_ids.to_vec(), reason);
        self.post("/wallet/sell", &body, idempotency_key).await
    }

    /// `GET /wallet/trades/{key}` (*addition*): what became of the wallet trade sent under
    /// `idempotency_key`, asked without resubmitting it.
    ///
    /// # Errors
    /// A [`ClientError`] when the venue cannot say; the order then stays unresolved.
    pub async fn wallet_trade_status(
        &self,
        idempotency_key: &str,
    ) -> Result<KeyStatus<WalletTradeResponse>, ClientError> {
        let path = format!("/wallet/trades/{idempotency_key}");
        key_status(self.agents_own(Method::GET, &path, None).await)
    }

    /// `GET /wallet/holdings?agent_id=` (*addition*): cash, and each asset with its lots.
    ///
    /// # Errors
    /// A [`ClientError`]; a non-positive quantity or price is a decode error naming it.
    pub async fn holdings(&self) -> Result<HoldingsResponse, ClientError> {
        self.agents_own(Method::GET, "/wallet/holdings", None).await
    }

    /// The body of a wallet buy or sale for this client's agent (`lot_ids` empty: first in,
    /// first out).
    fn wallet_trade_body(
        &self,
        asset: &str,
        quantity: Decimal,
        lot_ids: Vec<String>,
        reason: &str,
    ) -> WalletTradeBody {
        WalletTradeBody {
            agent_id: self.venue.agent_id().to_owned(),
            asset: asset.to_owned(),
            quantity,
            reason: reason.to_owned(),
            lot_ids,
        }
    }

    /// A bodiless request about this client's agent (`?agent_id=`), keyed when it mutates.
    async fn agents_own<R: DeserializeOwned + RestPayload>(
        &self,
        method: Method,
        path: &str,
        idempotency_key: Option<&str>,
    ) -> Result<R, ClientError> {
        let query = [("agent_id", self.venue.agent_id())];
        self.venue
            .call::<(), _>(method, path, &query, None, idempotency_key)
            .await
    }

    /// A keyed `POST` of `body` (which names the agent itself).
    async fn post<B: Serialize, R: DeserializeOwned + RestPayload>(
        &self,
        path: &str,
        body: &B,
        idempotency_key: &str,
    ) -> Result<R, ClientError> {
        self.venue
            .call(Method::POST, path, &[], Some(body), Some(idempotency_key))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ApiKey;

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::new("sk-SENTINEL").expect("non-empty");
        let venue = VenueClient::new("http://127.0.0.1:1", "a", Some(key), Duration::from_secs(1))
            .expect("builds");
        let markets = MarketsClient::new(&venue, Duration::from_secs(1)).expect("builds");
        assert!(!format!("{markets:?}").contains("SENTINEL"));
    }
}
