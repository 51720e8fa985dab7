//! Shared helpers for the HTTP API tests: a companion with its API on 127.0.0.1:0 and a known
//! control token, and small JSON clients.
//!
//! # Invariants
//! - Every API binds loopback port 0; every request has a timeout.

#![allow(dead_code)]

use std::time::Duration;

use ballast::{sim::SimHandle, store::Store};
use ballast_actors::{
    http::{HttpOptions, token::ControlToken},
    settings::Validated,
    system::RunningSystem,
};
use serde_json::Value;

/// The token the tests' companions accept.
pub const TOKEN: &str = "test-control-token-0123456789";

/// A companion on `sim` with `store` and its HTTP API on a free loopback port, synced with
/// the venue; returns it with the API's base URL.
pub async fn start(sim: &SimHandle, validated: Validated, store: Store) -> (RunningSystem, String) {
    let options = HttpOptions {
        listen: "127.0.0.1:0".parse().expect("address"),
        token: ControlToken::new(TOKEN).expect("token"),
        address_file: None,
    };
    let system = crate::common::start_synced(
        crate::common::builder_at(&sim.base_url(), validated, store).http(options),
    )
    .await;
    let addr = system.http_addr().expect("the API is served");
    (system, format!("http://{addr}"))
}

/// [`start`] with the default settings and an in-memory store.
pub async fn start_default(sim: &SimHandle) -> (RunningSystem, String) {
    start(
        sim,
        crate::common::default_settings(),
        Store::open_in_memory().expect("store"),
    )
    .await
}

/// An HTTP client with a timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// `GET url` as `(status, JSON body)`.
pub async fn get_json(url: &str) -> (u16, Value) {
    let response = client().get(url).send().await.expect("GET answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// `POST {base}/control/{command}` with `token` (none: no header) and `reason`.
pub async fn control(base: &str, command: &str, token: Option<&str>, reason: &str) -> (u16, Value) {
    let mut request = client()
        .post(format!("{base}/control/{command}"))
        .json(&serde_json::json!({"reason": reason, "by": "test"}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("POST answered");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}

/// The status document.
pub async fn status(base: &str) -> Value {
    let (code, body) = get_json(&format!("{base}/status")).await;
    assert_eq!(code, 200, "{body}");
    body
}
