//! Fuzz-style property tests of everything ballast decodes from the venue: websocket event
//! frames and REST bodies. Every input must give `Ok` or `Err`, never a panic, and an `Ok`
//! must satisfy the invariants the rest of ballast relies on (no negative balance, no
//! negative size, finite returns, positive prices).
//!
//! Inputs are arbitrary text, and valid payloads with one to three random mutations (a
//! field removed, replaced by any JSON value, retyped, or an unknown field added), which
//! reach much deeper into the decoders than random bytes do: event frames of every type and
//! the bodies of every REST response ballast reads. 104,000 cases in all.

use ballast::venue::protocol::{
    EventFrame, EventKind, OrderResponse, PortfolioResponse, PositionsResponse, PricesResponse,
    RebalanceResponse, ReturnsResponse, WalletTradeResponse, validation::decode_rest,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{Value, json};

const TEXT_CASES: u32 = 24_000;
const FRAME_CASES: u32 = 40_000;
const REST_CASES: u32 = 40_000;

/// Any JSON value, leaves biased towards the troublesome ones.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|x| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("NaN"),
            Just("-1"),
            Just("1e400"),
            Just("-0"),
            Just(""),
            Just("2026-13-45T99:99:99Z"),
            Just("casino"),
            Just("increase"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
        "\\PC{0,12}".prop_map(Value::String),
        Just(json!(-1e308)),
        Just(json!(1e308)),
        Just(json!(-0.000001)),
        Just(json!(u64::MAX)),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn portfolio_json() -> Value {
    json!({
        "casino_balance": 200, "trading_balance": 300, "wallet_balance": 150,
        "domains_balance": 150, "escrow_balance": 100, "available_balance": 100, "seq": 7
    })
}

/// A valid frame of each known type.
fn valid_frames() -> Vec<Value> {
    let ts = "2026-01-01T00:00:00Z";
    vec![
        json!({"seq": 1, "ts": ts, "type": "casino_win", "amount_usdc": 120.5, "stake_usdc": 10, "multiplier": 13.05, "portfolio": portfolio_json()}),
        json!({"seq": 2, "ts": ts, "type": "casino_loss", "amount_usdc": 3.5}),
        json!({"seq": 3, "ts": ts, "type": "referral_income", "amount_usdc": 2, "source_service": "casino"}),
        json!({"seq": 4, "ts": ts, "type": "domains_income", "amount_usdc": 1.25}),
        json!({"seq": 5, "ts": ts, "type": "mark_to_market", "service": "trading", "change_usdc": -4.2}),
        json!({"seq": 6, "ts": ts, "type": "transfer", "transfer_id": "t-1", "service": "wallet", "direction": "increase", "amount_usdc": 10}),
        json!({"seq": 7, "ts": ts, "type": "drawdown", "service": "trading", "drawdown": 0.2}),
        json!({"seq": 8, "ts": ts, "type": "price", "prices": {"BTC": 97000.5, "ETH": 3100}}),
        json!({"seq": 9, "ts": ts, "type": "balance", "portfolio": portfolio_json()}),
        json!({"seq": 9, "ts": ts, "type": "heartbeat"}),
    ]
}

/// A valid body of each REST response ballast reads.
fn valid_rest_bodies() -> Vec<Value> {
    vec![
        portfolio_json(),
        json!({"returns_by_service": {"casino": [0.01, -0.02, 0.0], "trading": [0.001, 0.002, -0.001]}}),
        json!({"prices": {"BTC": 97000.5, "ETH": 3100, "SOL": 180}}),
        json!({"transfer_id": "t-1", "service": "casino", "direction": "decrease", "amount_usdc": 20, "status": "applied", "portfolio": portfolio_json()}),
        json!({"positions": [{"id": "p-1", "market": "BTC-PERP", "side": "long", "notional_usdc": 100, "leverage": 2, "entry_price": 97000, "mark_price": 97100.5, "unrealized_pnl_usdc": 0.1, "margin_usdc": 50, "purpose": "hedge"}]}),
        json!({"order_id": "o-1", "position_id": "p-1", "status": "filled", "fill_price": 97000, "fee_usdc": 0.1, "market": "BTC-PERP", "side": "short", "notional_usdc": 100, "leverage": 2, "margin_usdc": 50}),
        json!({"trade_id": "w-1", "asset": "BTC", "side": "buy", "quantity": 0.001, "price_usdc": 97097, "notional_usdc": 97.1, "fee_usdc": 0, "lots": [{"lot_id": "l-1", "quantity": 0.001, "cost_basis_usdc": 97.1, "acquired_at": "2026-01-01T00:00:00Z"}]}),
    ]
}

/// Decodes `bytes` as REST body kind `which`, checking the invariants of an `Ok`.
fn decode_rest_kind(which: usize, bytes: &[u8]) -> Result<(), String> {
    match which {
        0 => decode_rest::<PortfolioResponse>(bytes).map(|p| {
            assert!(p.to_snapshot().is_ok());
        }),
        1 => decode_rest::<ReturnsResponse>(bytes).map(|r| {
            assert!(
                r.returns_by_service
                    .values()
                    .flatten()
                    .all(|x| x.is_finite() && *x > -1.0)
            );
        }),
        2 => decode_rest::<PricesResponse>(bytes).map(|p| {
            assert!(p.prices.values().all(|x| x.0 > Decimal::ZERO));
        }),
        3 => decode_rest::<RebalanceResponse>(bytes).map(|r| {
            assert!(r.amount_usdc > Decimal::ZERO);
            assert!(r.portfolio.as_ref().is_none_or(|p| p.to_snapshot().is_ok()));
        }),
        4 => decode_rest::<PositionsResponse>(bytes).map(|r| {
            assert!(r.positions.iter().all(|p| p.mark_price > Decimal::ZERO
                && p.entry_price > Decimal::ZERO
                && p.margin_usdc >= Decimal::ZERO));
        }),
        5 => decode_rest::<OrderResponse>(bytes).map(|r| {
            assert!(r.fee_usdc >= Decimal::ZERO);
            assert!(r.fill_price.is_none_or(|p| p > Decimal::ZERO));
        }),
        _ => decode_rest::<WalletTradeResponse>(bytes).map(|r| {
            assert!(r.quantity > Decimal::ZERO && r.price_usdc > Decimal::ZERO);
            assert!(r.fee_usdc >= Decimal::ZERO);
        }),
    }
}

#[test]
fn every_seed_body_is_valid() {
    for (which, body) in valid_rest_bodies().iter().enumerate() {
        let result = decode_rest_kind(which, body.to_string().as_bytes());
        assert!(result.is_ok(), "seed {which}: {result:?}");
    }
    for frame in valid_frames() {
        assert!(EventFrame::decode(&frame.to_string()).is_ok(), "{frame}");
    }
}

/// One mutation of a JSON object: what a buggy or hostile venue might send.
#[derive(Debug, Clone)]
enum Mutation {
    Remove(prop::sample::Index),
    Replace(prop::sample::Index, Value),
    Add(String, Value),
    NestedPortfolio(prop::sample::Index, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
        (any::<prop::sample::Index>(), any_json()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        ("[a-z_]{1,12}", any_json()).prop_map(|(k, v)| Mutation::Add(k, v)),
        (any::<prop::sample::Index>(), any_json())
            .prop_map(|(i, v)| Mutation::NestedPortfolio(i, v)),
    ]
}

fn apply(value: &mut Value, mutation: &Mutation) {
    let Value::Object(map) = value else {
        return;
    };
    let keys: Vec<String> = map.keys().cloned().collect();
    if keys.is_empty() {
        return;
    }
    match mutation {
        Mutation::Remove(i) => {
            map.remove(&keys[i.index(keys.len())]);
        }
        Mutation::Replace(i, v) => {
            map.insert(keys[i.index(keys.len())].clone(), v.clone());
        }
        Mutation::Add(k, v) => {
            map.insert(k.clone(), v.clone());
        }
        Mutation::NestedPortfolio(i, v) => {
            if let Some(Value::Object(portfolio)) = map.get_mut("portfolio") {
                let inner: Vec<String> = portfolio.keys().cloned().collect();
                if !inner.is_empty() {
                    portfolio.insert(inner[i.index(inner.len())].clone(), v.clone());
                }
            }
        }
    }
}

/// The invariants a decoded frame promises.
/// One of `samples` (and which), changed by one to three mutations.
fn mutated(samples: Vec<Value>) -> impl Strategy<Value = (usize, Value)> {
    (0..samples.len(), prop::collection::vec(mutation(), 1..4)).prop_map(
        move |(which, mutations)| {
            let mut value = samples[which].clone();
            for m in &mutations {
                apply(&mut value, m);
            }
            (which, value)
        },
    )
}

/// A fuzz run of `cases` cases that writes no regressions file.
fn fuzz(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn check_frame(frame: &EventFrame) {
    let non_negative = |d: &Decimal| !d.is_sign_negative() || d.is_zero();
    match &frame.kind {
        EventKind::CasinoWin {
            amount_usdc,
            stake_usdc,
            multiplier,
        } => {
            assert!(
                non_negative(amount_usdc) && non_negative(stake_usdc) && non_negative(multiplier)
            );
        }
        EventKind::CasinoLoss { amount_usdc }
        | EventKind::ReferralIncome { amount_usdc, .. }
        | EventKind::DomainsIncome { amount_usdc }
        | EventKind::Transfer { amount_usdc, .. } => assert!(non_negative(amount_usdc)),
        EventKind::Drawdown { drawdown, .. } => assert!(non_negative(drawdown)),
        _ => {}
    }
    if let Some(portfolio) = &frame.portfolio {
        let snapshot = portfolio
            .to_snapshot()
            .expect("a decoded portfolio is valid");
        assert!(
            snapshot
                .balances_usdc
                .values()
                .all(|b| !b.is_sign_negative() || b.is_zero())
        );
    }
}

proptest! {
    #![proptest_config(fuzz(TEXT_CASES))]

    #[test]
    fn arbitrary_text_never_panics_any_decoder(text in "\\PC{0,200}") {
        if let Ok(frame) = EventFrame::decode(&text) {
            check_frame(&frame);
        }
        for which in 0..valid_rest_bodies().len() {
            let _ = decode_rest_kind(which, text.as_bytes());
        }
    }
}

proptest! {
    #![proptest_config(fuzz(FRAME_CASES))]

    #[test]
    fn mutated_event_frames_decode_or_fail_cleanly((_, value) in mutated(valid_frames())) {
        match EventFrame::decode(&value.to_string()) {
            Ok(frame) => {
                check_frame(&frame);
                // What decodes re-encodes and decodes to the same frame.
                prop_assert_eq!(EventFrame::decode(&frame.encode()), Ok(frame));
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }
}

proptest! {
    #![proptest_config(fuzz(REST_CASES))]

    #[test]
    fn mutated_rest_bodies_decode_or_fail_cleanly((which, value) in mutated(valid_rest_bodies())) {
        if let Err(error) = decode_rest_kind(which, value.to_string().as_bytes()) {
            prop_assert!(!error.is_empty());
        }
    }
}
