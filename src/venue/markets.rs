//! Typed REST calls for the venue's markets: perpetual orders and positions, wallet trades
//! and the wallet's tax lots.
//!
//! [`MarketsClient`] is built from a [`VenueClient`] and shares its base URL, agent and key;
//! it keeps its own connection pool so that the two clients can evolve separately (the
//! generic request path of `client` is private to it). Its failures are the same
//! [`ClientError`]s, with the same meaning of [`ClientError::is_ambiguous`]: a POST or DELETE
//! that may have been applied must be retried with the same idempotency key.
//!
//! # Invariants
//! - The API key only ever reaches the `Authorization` header; `Debug` omits it (through
//!   [`ApiKey`]'s own redaction) and errors never contain it.
//! - Every POST and DELETE carries the caller's `Idempotency-Key`.
//! - Responses are validated on the way in: a non-positive price or quantity, or a negative
//!   fee or margin, is a [`ClientError::Decode`] naming the field, never a default.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use rust_decimal::Decimal;
use serde::{Serialize, de::DeserializeOwned};

use super::{
    client::{ClientError, VenueClient, init_tls},
    protocol::{
        ClosePositionResponse, ErrorBody, HoldingsResponse, IDEMPOTENCY_HEADER, OrderBody,
        OrderResponse, PositionsResponse, WalletTradeBody, WalletTradeResponse,
    },
};
use crate::secret::ApiKey;

/// Async client for the market endpoints of one agent on one venue.
#[derive(Debug, Clone)]
pub struct MarketsClient {
    http: reqwest::Client,
    /// `scheme://host:port/api/v1`, without a trailing slash.
    base_url: String,
    agent_id: String,
    api_key: Option<ApiKey>,
}

impl MarketsClient {
    /// A client for `venue`'s agent, with a total timeout per request.
    ///
    /// # Errors
    /// [`ClientError::Setup`] when the HTTP client cannot be built.
    pub fn new(venue: &VenueClient, timeout: Duration) -> Result<Self, ClientError> {
        init_tls();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true)
            .user_agent(concat!("ballast/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(MarketsClient {
            http,
            base_url: venue.base_url().to_owned(),
            agent_id: venue.agent_id().to_owned(),
            api_key: venue.api_key().cloned(),
        })
    }

    /// `GET /trading/positions?agent_id=`: open positions (and, on the simulated venue,
    /// resting limit orders with `status: pending`).
    ///
    /// # Errors
    /// A [`ClientError`]; a non-positive price or a negative margin is a decode error
    /// naming the position and field.
    pub async fn positions(&self) -> Result<PositionsResponse, ClientError> {
        let path = "/trading/positions";
        let response: PositionsResponse = self
            .call::<(), _>(
                Method::GET,
                path,
                &[("agent_id", &self.agent_id)],
                None,
                None,
            )
            .await?;
        for (index, position) in response.positions.iter().enumerate() {
            let field = |name: &str| format!("positions[{index}].{name}");
            positive(path, &field("entry_price"), position.entry_price)?;
            positive(path, &field("mark_price"), position.mark_price)?;
            positive(path, &field("notional_usdc"), position.notional_usdc)?;
            non_negative(path, &field("margin_usdc"), position.margin_usdc)?;
        }
        Ok(response)
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
        let path = "/trading/order";
        let body = OrderBody {
            agent_id: self.agent_id.clone(),
            ..body.clone()
        };
        let response: OrderResponse = self
            .call(Method::POST, path, &[], Some(&body), Some(idempotency_key))
            .await?;
        non_negative(path, "fee_usdc", response.fee_usdc)?;
        if let Some(price) = response.fill_price {
            positive(path, "fill_price", price)?;
        }
        Ok(response)
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
        let response: ClosePositionResponse = self
            .call::<(), _>(
                Method::DELETE,
                &path,
                &[("agent_id", &self.agent_id)],
                None,
                Some(idempotency_key),
            )
            .await?;
        non_negative(&path, "fee_usdc", response.fee_usdc)?;
        Ok(response)
    }

    /// `POST /wallet/buy` with an idempotency key.
    ///
    /// # Errors
    /// A [`ClientError`]; see [`ClientError::is_ambiguous`] before retrying.
    pub async fn wallet_buy(
        &self,
        asset: &str,
        quantity: Decimal,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<WalletTradeResponse, ClientError> {
        self.wallet_trade("/wallet/buy", asset, quantity, reason, idempotency_key)
            .await
    }

    /// `POST /wallet/sell` with an idempotency key; the venue sells the oldest lots first.
    ///
    /// # Errors
    /// A [`ClientError`]; `insufficient_holdings` (409) for more than the lots hold.
    pub async fn wallet_sell(
        &self,
        asset: &str,
        quantity: Decimal,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<WalletTradeResponse, ClientError> {
        self.wallet_trade("/wallet/sell", asset, quantity, reason, idempotency_key)
            .await
    }

    /// `GET /wallet/holdings?agent_id=` (*addition*): cash, and each asset with its lots.
    ///
    /// # Errors
    /// A [`ClientError`]; a non-positive quantity or price is a decode error naming it.
    pub async fn holdings(&self) -> Result<HoldingsResponse, ClientError> {
        let path = "/wallet/holdings";
        let response: HoldingsResponse = self
            .call::<(), _>(
                Method::GET,
                path,
                &[("agent_id", &self.agent_id)],
                None,
                None,
            )
            .await?;
        non_negative(path, "cash_usdc", response.cash_usdc)?;
        for holding in &response.holdings {
            let asset = &holding.asset;
            positive(
                path,
                &format!("holdings.{asset}.quantity"),
                holding.quantity,
            )?;
            positive(
                path,
                &format!("holdings.{asset}.price_usdc"),
                holding.price_usdc,
            )?;
            for lot in &holding.lots {
                positive(
                    path,
                    &format!("holdings.{asset}.lots.quantity"),
                    lot.quantity,
                )?;
            }
        }
        Ok(response)
    }

    async fn wallet_trade(
        &self,
        path: &str,
        asset: &str,
        quantity: Decimal,
        reason: &str,
        idempotency_key: &str,
    ) -> Result<WalletTradeResponse, ClientError> {
        let body = WalletTradeBody {
            agent_id: self.agent_id.clone(),
            asset: asset.to_owned(),
            quantity,
            reason: reason.to_owned(),
        };
        let response: WalletTradeResponse = self
            .call(Method::POST, path, &[], Some(&body), Some(idempotency_key))
            .await?;
        positive(path, "quantity", response.quantity)?;
        positive(path, "price_usdc", response.price_usdc)?;
        non_negative(path, "fee_usdc", response.fee_usdc)?;
        Ok(response)
    }

    async fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<R, ClientError> {
        let endpoint = format!("{method} {path}");
        let mutating = method != Method::GET;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(key) = &self.api_key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {}", key.expose()));
        }
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_HEADER, key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| ClientError::Transport {
            endpoint: endpoint.clone(),
            // A connect failure never reached the venue; anything later might have.
            maybe_applied: mutating && !e.is_connect(),
            // reqwest errors carry the URL, never headers, so the key cannot appear here.
            reason: describe_transport(e),
        })?;
        let status = response.status();
        let retry_after_secs = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = response.bytes().await.map_err(|e| ClientError::Transport {
            endpoint: endpoint.clone(),
            reason: describe_transport(e),
            maybe_applied: mutating,
        })?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => (body.code, body.message),
                Err(_) => (
                    "http_error".to_owned(),
                    status
                        .canonical_reason()
                        .unwrap_or("unexpected status")
                        .to_owned(),
                ),
            };
            return Err(ClientError::Status {
                endpoint,
                status: status.as_u16(),
                code,
                message,
                retry_after_secs: retry_after_secs.filter(|_| {
                    matches!(
                        status,
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                    )
                }),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            endpoint,
            reason: e.to_string(),
        })
    }
}

fn describe_transport(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        // Strip the URL: it is known from the endpoint, and keeps messages short.
        error.without_url().to_string()
    }
}

fn positive(path: &str, field: &str, value: Decimal) -> Result<(), ClientError> {
    if value > Decimal::ZERO {
        Ok(())
    } else {
        Err(decode_error(path, field, "is not positive"))
    }
}

fn non_negative(path: &str, field: &str, value: Decimal) -> Result<(), ClientError> {
    if value >= Decimal::ZERO {
        Ok(())
    } else {
        Err(decode_error(path, field, "is negative"))
    }
}

fn decode_error(path: &str, field: &str, what: &str) -> ClientError {
    ClientError::Decode {
        endpoint: path.to_owned(),
        reason: format!("{field} {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key_and_validation_names_fields() {
        let key = ApiKey::new("sk-SENTINEL").expect("non-empty");
        let venue = VenueClient::new("http://127.0.0.1:1", "a", Some(key), Duration::from_secs(1))
            .expect("builds");
        let markets = MarketsClient::new(&venue, Duration::from_secs(1)).expect("builds");
        assert!(!format!("{markets:?}").contains("SENTINEL"));
        let error = positive(
            "/trading/positions",
            "positions[0].mark_price",
            Decimal::ZERO,
        )
        .expect_err("zero is not positive");
        assert!(error.to_string().contains("positions[0].mark_price"));
        assert!(non_negative("/wallet/buy", "fee_usdc", Decimal::NEGATIVE_ONE).is_err());
    }
}
