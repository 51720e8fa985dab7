//! The simulated venue answers every error in the documented body and never serves other
//! machines by accident (issue 14, item 10).
//!
//! Over real loopback HTTP: an oversized POST (axum's plain-text 413 before), a path segment
//! that is not UTF-8 (axum's plain-text 400), a wrong method and a plain GET of the event
//! stream are each `{"code", "message"}` JSON with the status's code. The listen check is
//! table-tested without binding anything beyond loopback.

mod sim_support;

use std::net::SocketAddr;

use ballast::{
    secret::ApiKey,
    sim::{SimConfig, SimError},
};
use sim_support::{client, get, quiet, start};

#[tokio::test]
async fn every_error_is_the_documented_json_body() {
    let sim = start(quiet()).await;
    let http = client();
    let base = sim.base_url();
    let oversized = vec![b'x'; 3 * 1024 * 1024];
    let cases = [
        // TC0: a body over the limit: 413, not axum's plain text.
        (
            http.post(format!("{base}/agents/agent-1/rebalance"))
                .header("content-type", "application/json")
                .body(oversized),
            413,
            "payload_too_large",
            "larger than the 2097152 bytes",
        ),
        // TC1: a path segment that is not UTF-8: 400, not axum's plain text.
        (
            http.get(format!("{base}/agents/%FF/portfolio")),
            400,
            "bad_request",
            "UTF-8",
        ),
        // TC2: a method the path does not take.
        (
            http.put(format!("{base}/agents/agent-1/portfolio")),
            405,
            "method_not_allowed",
            "PUT",
        ),
        // TC3: the event stream without a websocket upgrade.
        (
            http.get(format!("{base}/agents/agent-1/events")),
            400,
            "bad_request",
            "websocket",
        ),
        // TC4: nothing there.
        (
            http.delete(format!("{base}/no/such/thing")),
            404,
            "not_found",
            "/no/such/thing",
        ),
    ];
    for (i, (request, status, code, needle)) in cases.into_iter().enumerate() {
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), status, "TC{i}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("application/json"),
            "TC{i}: {content_type}"
        );
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        assert_eq!(body["code"], code, "TC{i}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "TC{i}: {body}");
    }
    // The venue still works after refusing them.
    let ok = get(&http, format!("{base}/agents/agent-1/portfolio")).await;
    assert_eq!(ok.status(), 200);
    sim.shutdown().await;
}

#[test]
fn only_loopback_is_served_unless_remote_is_allowed_with_a_key() {
    struct TestCase {
        addr: &'static str,
        allow_remote: bool,
        key: bool,
        expected: Result<(), &'static [&'static str]>,
    }
    let cases = [
        // TC0: loopback needs nothing.
        TestCase {
            addr: "127.0.0.1:8787",
            allow_remote: false,
            key: false,
            expected: Ok(()),
        },
        // TC1: IPv6 loopback too.
        TestCase {
            addr: "[::1]:8787",
            allow_remote: false,
            key: false,
            expected: Ok(()),
        },
        // TC2: every interface, no key: both refusals (the issue's `auth=off` on 0.0.0.0).
        TestCase {
            addr: "0.0.0.0:8787",
            allow_remote: false,
            key: false,
            expected: Err(&["listen: 0.0.0.0:8787", "--allow-remote", "api_key:"]),
        },
        // TC3: allowed, but without a key: refused.
        TestCase {
            addr: "0.0.0.0:8787",
            allow_remote: true,
            key: false,
            expected: Err(&["api_key:", "PURPLE_FLEA_API_KEY"]),
        },
        // TC4: a key, but not allowed: refused.
        TestCase {
            addr: "[::]:8787",
            allow_remote: false,
            key: true,
            expected: Err(&["listen: [::]:8787"]),
        },
        // TC5: allowed with a key: served.
        TestCase {
            addr: "192.168.1.5:8787",
            allow_remote: true,
            key: true,
            expected: Ok(()),
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let cfg = SimConfig {
            allow_remote: case.allow_remote,
            api_key: case.key.then(|| ApiKey::new("sk-test")).flatten(),
            ..quiet()
        };
        let addr: SocketAddr = case.addr.parse().expect("address");
        match (cfg.check_listen(addr), case.expected) {
            (Ok(()), Ok(())) => {}
            (Err(SimError::Config(problems)), Err(needles)) => {
                let text = problems.join("\n");
                for needle in needles {
                    assert!(text.contains(needle), "TC{i}: lacks `{needle}`: {text}");
                }
                if !case.key {
                    assert!(text.contains("api_key"), "TC{i}: {text}");
                }
            }
            (got, _) => panic!("TC{i}: {got:?}"),
        }
    }
}
