//! The simulated venue's HTTP layer: routes, auth, fault middleware, and request parsing
//! that names the field at fault.
//!
//! Handlers are thin: parse, take the engine lock, call one [`Engine`] method, publish the
//! frames it returns while still holding the lock, answer. Middleware runs, outermost
//! first: counting (and the receipt instant), auth, then faults; `/api/v1/sim/*` is exempt
//! from faults so that tests and people rehearsing always see what happened.
//!
//! # Invariants
//! - Every error response, including unknown paths, wrong methods, bad JSON and failed
//!   extractors, is an `ErrorBody` JSON naming the field or header at fault.
//! - A fault response (503, 429) is decided before the request is processed, so it never
//!   changes the books; a lost ack is decided after, so it always has.
//! - The API key is compared, never logged.

use std::{collections::HashMap, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{
        DefaultBodyLimit, MatchedPath, OriginalUri, Path, Query, Request, State,
        rejection::QueryRejection,
    },
    http::{HeaderMap, HeaderValue, Method, header},
    middleware::{Next, from_fn_with_state, map_response},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use serde::{Serialize, de::DeserializeOwned};
use time::OffsetDateTime;

use super::{
    config::SimError,
    engine::{Engine, MAX_RETURN_DAYS, Processed},
    faults::Fault,
    http::{MAX_REQUEST_BODY_BYTES, Reply, check_agent, error, json, json_errors},
    ledger::StateError,
    markets::Asset,
    shared::{Shared, stopped},
    ws,
};
use crate::venue::protocol::{
    API_BASE, IDEMPOTENCY_HEADER, OrderBody, PricesResponse, RebalanceBody, TradeSide,
    WalletTradeBody, WireDecimal,
    sim::{AdvanceBody, InjectRequest},
};

/// Longest `Idempotency-Key` accepted.
const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;
/// `Retry-After` seconds sent with an injected 429.
const RETRY_AFTER_SECS: u64 = 1;
/// Days of returns when `/returns` is called without `days`.
const DEFAULT_RETURN_DAYS: usize = 30;

/// When the request reached the venue, before any injected latency.
#[derive(Debug, Clone, Copy)]
struct ReceivedAt(tokio::time::Instant);

/// A request's query parameters, or why axum could not read them (answered as an
/// `ErrorBody` naming the parameter).
type QueryParams = Result<Query<HashMap<String, String>>, QueryRejection>;

/// What a handler answers: its response, or the error response that stopped it early (both
/// are sent as they are).
type Answer = Result<Response, Response>;

/// Marks a response produced by an injected fault, so it is not counted as a rejection.
#[derive(Debug, Clone, Copy)]
struct FaultResponse;

/// Builds the router for `/api/v1`.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/agents/{id}/portfolio", get(portfolio))
        .route("/agents/{id}/rebalance", post(rebalance))
        .route("/agents/{id}/rebalance/{key}", get(rebalance_status))
        .route("/agents/{id}/returns", get(returns))
        .route("/agents/{id}/events", get(ws::events))
        .route("/prices", get(prices))
        .route("/trading/positions", get(positions))
        .route("/trading/positions/{id}", delete(close_position))
        .route("/trading/order", post(order))
        .route("/trading/order/{key}", get(order_status))
        .route("/trading/returns", get(market_returns))
        .route("/wallet/buy", post(wallet_buy))
        .route("/wallet/sell", post(wallet_sell))
        .route("/wallet/holdings", get(holdings))
        .route("/wallet/trades/{key}", get(wallet_trade_status))
        .route("/sim/stats", get(stats))
        .route("/sim/inject", post(inject))
        .route("/sim/advance", post(advance))
        .route_layer(from_fn_with_state(Arc::clone(&shared), faults_layer))
        .route_layer(from_fn_with_state(Arc::clone(&shared), auth_layer))
        .route_layer(from_fn_with_state(Arc::clone(&shared), count_layer))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest(API_BASE, api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BODY_BYTES))
        // Outermost: whatever answered, an error leaves as an `ErrorBody`.
        .layer(map_response(json_errors))
        .with_state(shared)
}

async fn count_layer(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    request
        .extensions_mut()
        .insert(ReceivedAt(tokio::time::Instant::now()));
    let endpoint = format!(
        "{} {}",
        request.method(),
        request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str)
    );
    shared.engine().count_request(&endpoint);
    let response = next.run(request).await;
    if response.status().is_client_error() && response.extensions().get::<FaultResponse>().is_none()
    {
        shared.engine().count_rejected();
    }
    response
}

async fn auth_layer(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if let Some(key) = &shared.api_key {
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        if !presented.is_some_and(|token| key.matches(token)) {
            tracing::debug!(uri = %request.uri(), "sim refused a request without a valid bearer token");
            let mut response = error(
                401,
                "unauthorized",
                "missing or invalid `Authorization: Bearer <key>` header",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

async fn faults_layer(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    // Inside the nested router the URI has lost its `/api/v1` prefix; the matched path
    // keeps the full template.
    let simulator_only = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| path.as_str().starts_with(&format!("{API_BASE}/sim/")));
    if simulator_only {
        return next.run(request).await;
    }
    if shared.roll(Fault::Latency) {
        let delay = shared.dice().delay();
        tokio::time::sleep(delay).await;
    }
    if shared.roll(Fault::Http429) {
        let mut response = error(429, "rate_limited", "too many requests (injected fault)");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        response.extensions_mut().insert(FaultResponse);
        return response;
    }
    if shared.roll(Fault::Http5xx) {
        let mut response = error(503, "unavailable", "venue unavailable (injected fault)");
        response.extensions_mut().insert(FaultResponse);
        return response;
    }
    next.run(request).await
}

async fn not_found(
    State(shared): State<Arc<Shared>>,
    method: Method,
    request: Request,
) -> Response {
    {
        let mut engine = shared.engine();
        engine.count_request(&format!("{method} unmatched"));
        engine.count_rejected();
    }
    error(
        404,
        "not_found",
        format!("no endpoint at {}", request.uri().path()),
    )
}

async fn method_not_allowed(method: Method, OriginalUri(uri): OriginalUri) -> Response {
    error(
        405,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}

async fn portfolio(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    check_agent(&shared.agent_id, &id)?;
    let portfolio = shared.engine().portfolio();
    Ok(json(&portfolio))
}

async fn returns(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Answer {
    check_agent(&shared.agent_id, &id)?;
    let days = return_days(query_param(query, "days")?.as_deref())?;
    let returns = shared.engine().returns(days);
    Ok(json(&returns))
}

async fn market_returns(State(shared): State<Arc<Shared>>, query: QueryParams) -> Answer {
    let params = match query {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return Err(error(
                400,
                "bad_request",
                format!("query string: {}", rejection.body_text()),
            ));
        }
    };
    let Some(market) = params.get("market") else {
        return Err(error(
            400,
            "bad_request",
            "`market` query parameter is missing",
        ));
    };
    let days = return_days(params.get("days").map(String::as_str))?;
    let returns = shared
        .engine()
        .market_returns(market, days)
        .map_err(|unknown| Reply::refusal(&unknown).into_response())?;
    Ok(json(&returns))
}

/// The `days` query parameter of the return endpoints (default 30).
#[allow(clippy::result_large_err)]
fn return_days(text: Option<&str>) -> Result<usize, Response> {
    match text {
        None => Ok(DEFAULT_RETURN_DAYS),
        Some(text) => match text.parse::<usize>() {
            Ok(days) if (1..=MAX_RETURN_DAYS).contains(&days) => Ok(days),
            _ => Err(error(
                400,
                "bad_request",
                format!("`days`: `{text}` must be an integer in [1, {MAX_RETURN_DAYS}]"),
            )),
        },
    }
}

async fn prices(State(shared): State<Arc<Shared>>, query: QueryParams) -> Answer {
    let all = shared.engine().prices();
    let Some(requested) = query_param(query, "assets")? else {
        return Ok(json(&PricesResponse { prices: all }));
    };
    let mut prices = std::collections::BTreeMap::<String, WireDecimal>::new();
    for asset in requested
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        let asset = Asset::parse("assets", asset)
            .map_err(|unknown| Reply::refusal(&unknown.into()).into_response())?;
        if let Some(price) = all.get(asset.symbol()) {
            prices.insert(asset.symbol().to_owned(), *price);
        }
    }
    Ok(json(&PricesResponse { prices }))
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let stats = shared.stats();
    json(&stats)
}

async fn rebalance(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    received_at: Option<axum::Extension<ReceivedAt>>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let received_at = received_at.map_or_else(tokio::time::Instant::now, |r| r.0.0);
    check_agent(&shared.agent_id, &id)?;
    let key = idempotency_key(&headers)?;
    let body: RebalanceBody =
        parse_fields(&body, &["service", "direction", "amount_usdc", "reason"])?;
    let fingerprint = fingerprint(&format!("POST {API_BASE}/agents/{id}/rebalance"), &body);
    let processed = process(&shared, key.as_deref(), &fingerprint, |engine, now| {
        engine.rebalance(&body, key.as_deref(), received_at, now)
    });
    Ok(finish(&shared, processed).await)
}

async fn rebalance_status(
    State(shared): State<Arc<Shared>>,
    Path((id, key)): Path<(String, String)>,
) -> Answer {
    check_agent(&shared.agent_id, &id)?;
    let prefix = format!("POST {API_BASE}/agents/{id}/rebalance ");
    let status = shared.engine().rebalance_status(&prefix, &key);
    Ok(status.into_response())
}

async fn inject(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Answer {
    let key = idempotency_key(&headers)?;
    let request: InjectRequest = serde_json::from_slice(&body)
        .map_err(|e| error(400, "bad_request", format!("inject body: {e}")))?;
    let fingerprint = fingerprint(&format!("POST {API_BASE}/sim/inject"), &request);
    // A `balance` injection sets cash; the services it leaves out keep theirs. Simulator
    // routes are exempt from faults, so no lost ack either.
    let processed = process(&shared, key.as_deref(), &fingerprint, |engine, now| {
        engine.inject_request(&request, now)
    });
    Ok(processed.reply.into_response())
}

/// The `agent_id` query parameter, which must name the simulated agent (`required`: whether
/// leaving it out is an error).
#[allow(clippy::result_large_err)]
fn agent_query(shared: &Shared, query: QueryParams, required: bool) -> Result<(), Response> {
    match query_param(query, "agent_id")? {
        Some(id) => check_agent(&shared.agent_id, &id),
        None if required => Err(error(
            400,
            "bad_request",
            "`agent_id` query parameter is missing",
        )),
        None => Ok(()),
    }
}

async fn positions(State(shared): State<Arc<Shared>>, query: QueryParams) -> Answer {
    agent_query(&shared, query, true)?;
    let positions = shared.engine().positions();
    Ok(json(&positions))
}

async fn holdings(State(shared): State<Arc<Shared>>, query: QueryParams) -> Answer {
    agent_query(&shared, query, true)?;
    let holdings = shared.engine().holdings();
    Ok(json(&holdings))
}

async fn wallet_trade_status(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    query: QueryParams,
) -> Answer {
    agent_query(&shared, query, false)?;
    let prefix = format!("POST {API_BASE}/wallet/");
    let status = shared.engine().wallet_trade_status(&prefix, &key);
    Ok(status.into_response())
}

async fn order(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Answer {
    let key = idempotency_key(&headers)?;
    let body: OrderBody = parse_fields_with(
        &body,
        &[
            "agent_id",
            "market",
            "side",
            "notional_usdc",
            "leverage",
            "order_type",
            "purpose",
        ],
        &["limit_price"],
    )?;
    check_agent(&shared.agent_id, &body.agent_id)?;
    let fingerprint = fingerprint(&format!("POST {API_BASE}/trading/order"), &body);
    let processed = process(&shared, key.as_deref(), &fingerprint, |engine, now| {
        engine.order(&body, now)
    });
    Ok(finish(&shared, processed).await)
}

async fn order_status(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Answer {
    let prefix = format!("POST {API_BASE}/trading/order ");
    let status = shared.engine().order_status(&prefix, &key);
    Ok(status.into_response())
}

async fn close_position(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    query: QueryParams,
    headers: HeaderMap,
) -> Answer {
    // The article's DELETE has no agent: the id is enough, and `agent_id`, when sent, must
    // be this venue's agent.
    agent_query(&shared, query, false)?;
    let key = idempotency_key(&headers)?;
    let fingerprint = format!("DELETE {API_BASE}/trading/positions/{id}");
    let processed = process(&shared, key.as_deref(), &fingerprint, |engine, now| {
        engine.close_position(&id, now)
    });
    Ok(finish(&shared, processed).await)
}

async fn wallet_buy(state: State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Answer {
    wallet_trade(state, TradeSide::Buy, headers, body).await
}

async fn wallet_sell(state: State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Answer {
    wallet_trade(state, TradeSide::Sell, headers, body).await
}

async fn wallet_trade(
    State(shared): State<Arc<Shared>>,
    side: TradeSide,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let key = idempotency_key(&headers)?;
    let body: WalletTradeBody = parse_fields_with(
        &body,
        &["agent_id", "asset", "quantity", "reason"],
        &["lot_ids"],
    )?;
    check_agent(&shared.agent_id, &body.agent_id)?;
    let fingerprint = fingerprint(&format!("POST {API_BASE}/wallet/{}", side.name()), &body);
    let processed = process(&shared, key.as_deref(), &fingerprint, |engine, now| {
        engine.wallet_trade(side, &body, key.as_deref(), now)
    });
    Ok(finish(&shared, processed).await)
}

/// Runs one mutating request on the engine at the simulated time now, under its
/// `Idempotency-Key` when it has one ([`Engine::idempotent`]: a repeat replays the first
/// reply), and broadcasts what it announced (and the transfer it applied) before the lock is
/// released, so subscribers see frames in `seq` order.
fn process(
    shared: &Shared,
    idempotency_key: Option<&str>,
    fingerprint: &str,
    handle: impl FnOnce(&mut Engine, OffsetDateTime) -> Result<Processed, StateError>,
) -> Processed {
    let now = shared.clock.now();
    let mut engine = shared.engine();
    let processed = engine.idempotent(idempotency_key, fingerprint, |engine| handle(engine, now));
    shared.publish(&processed.frames, processed.transfer.as_ref());
    processed
}

/// What identifies a request for its `Idempotency-Key`: the route and the parsed body.
fn fingerprint(route: &str, body: &impl Serialize) -> String {
    format!(
        "{route} {}",
        serde_json::to_string(body).unwrap_or_default()
    )
}

/// Answers a processed mutating request, unless a lost-ack fault swallows the answer.
async fn finish(shared: &Shared, processed: Processed) -> Response {
    if processed.applied && shared.roll(Fault::LostAck) {
        return lose_ack(shared).await;
    }
    processed.reply.into_response()
}

async fn advance(State(shared): State<Arc<Shared>>, body: Bytes) -> Answer {
    let body: AdvanceBody = parse_fields(&body, &["hours"])?;
    Ok(match shared.advance(body.hours).await {
        Ok(advanced) => json(&advanced),
        Err(SimError::Rejected(rejected)) => Reply::refusal(&rejected).into_response(),
        Err(other) => error(400, "bad_request", other.to_string()),
    })
}

/// The request was applied, but its response "never arrives": hold it until the client
/// gives up (or the venue shuts down, which releases it with a 503).
async fn lose_ack(shared: &Shared) -> Response {
    let mut shutdown = shared.shutting_down();
    stopped(&mut shutdown).await;
    let mut response = error(503, "unavailable", "venue shutting down");
    response.extensions_mut().insert(FaultResponse);
    response
}

#[allow(clippy::result_large_err)]
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Response> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let bad = |reason: &str| {
        error(
            400,
            "bad_request",
            format!("`{IDEMPOTENCY_HEADER}` header {reason}"),
        )
    };
    let key = value
        .to_str()
        .map_err(|_| bad("is not visible ASCII"))?
        .trim();
    if key.is_empty() {
        return Err(bad("is empty"));
    }
    if key.len() > IDEMPOTENCY_KEY_MAX_LEN {
        return Err(bad(&format!(
            "is longer than {IDEMPOTENCY_KEY_MAX_LEN} bytes"
        )));
    }
    Ok(Some(key.to_owned()))
}

#[allow(clippy::result_large_err)]
fn query_param(query: QueryParams, name: &str) -> Result<Option<String>, Response> {
    match query {
        Ok(Query(mut params)) => Ok(params.remove(name)),
        Err(rejection) => Err(error(
            400,
            "bad_request",
            format!("query string: {}", rejection.body_text()),
        )),
    }
}

/// Parses a JSON object whose fields are exactly `fields`, naming the first field that is
/// missing, unknown or invalid.
#[allow(clippy::result_large_err)]
fn parse_fields<T: DeserializeOwned>(body: &[u8], fields: &[&str]) -> Result<T, Response> {
    parse_fields_with(body, fields, &[])
}

/// [`parse_fields`] with `optional` fields that may also appear.
#[allow(clippy::result_large_err)]
fn parse_fields_with<T: DeserializeOwned>(
    body: &[u8],
    fields: &[&str],
    optional: &[&str],
) -> Result<T, Response> {
    let bad = |message: String| error(400, "bad_request", message);
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("body is not JSON: {e}")))?;
    let serde_json::Value::Object(object) = &value else {
        return Err(bad("body must be a JSON object".to_owned()));
    };
    let known = |k: &str| fields.contains(&k) || optional.contains(&k);
    if let Some(unknown) = object.keys().find(|k| !known(k.as_str())) {
        let expected = fields.iter().chain(optional).copied().collect::<Vec<_>>();
        return Err(bad(format!(
            "`{unknown}` is not a known field (expected {})",
            expected.join(", ")
        )));
    }
    if let Some(missing) = fields.iter().find(|f| !object.contains_key(**f)) {
        return Err(bad(format!("`{missing}` is missing")));
    }
    serde_json::from_value(value.clone()).map_err(|e| {
        // serde names the variant or type but not always the field: find the field whose
        // value alone fails, by trying each against a copy with a known-good body.
        let field = fields
            .iter()
            .chain(optional)
            .find(|f| field_is_invalid::<T>(object, f))
            .copied()
            .unwrap_or("body");
        bad(format!("`{field}`: {e}"))
    })
}

/// Whether `field`'s value is what breaks the body: with the field removed, the body either
/// parses (an optional field was the problem) or fails only for lacking it.
fn field_is_invalid<T: DeserializeOwned>(
    object: &serde_json::Map<String, serde_json::Value>,
    field: &str,
) -> bool {
    let mut without = object.clone();
    without.remove(field);
    match serde_json::from_value::<T>(serde_json::Value::Object(without)) {
        Err(e) => e.to_string().contains(&format!("missing field `{field}`")),
        Ok(_) => true,
    }
}
