//! Story: ballast hedges a locked casino overweight and is killed with SIGKILL, once while
//! the hedge is open and once while its order's outcome is unknown (the venue applied it
//! but the reply was lost); meanwhile someone opens a position of their own at the venue.
//! Restarted on the same store, ballast neither opens the hedge again nor loses it: it asks
//! the venue what became of the order's key, reports the position it does not know and
//! leaves it alone, and when the lock clears it closes its own hedge, once. Both sides are
//! the real binary: `ballast sim` and `ballast run --venue`, on 127.0.0.1.

#![cfg(unix)]

mod cli_common;

use std::{
    path::Path,
    process::Child,
    sync::mpsc,
    time::{Duration, Instant},
};

use cli_common::{Sim, TempDir, companion_plain, http_or_null, lines_of, signal, status};

/// Waits for a line containing `needle`, returning it; fails naming what it waited for.
fn wait_for(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    cli_common::wait_for_line(
        lines,
        Duration::from_secs(60),
        &format!("no line with `{needle}`"),
        |line| line.contains(needle),
    )
}

/// Waits for a line containing each of `needles`, in any order; returns the lines found.
fn wait_for_all(lines: &mpsc::Receiver<String>, needles: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut found: Vec<Option<String>> = vec![None; needles.len()];
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|error| panic!("no lines with {needles:?}: {error}; got {found:?}"));
        for (slot, needle) in found.iter_mut().zip(needles) {
            if slot.is_none() && line.contains(needle) {
                *slot = Some(line.clone());
            }
        }
    }
    found.into_iter().flatten().collect()
}

/// One HTTP/1.1 request to the venue; the JSON body of the reply, or `Null` when the venue
/// withheld it (a lost-ack fault holds a reply until the venue stops).
fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> serde_json::Value {
    http_or_null(addr, method, path, body.map(ToString::to_string).as_deref())
}

fn start_companion(base_url: &str, store: &Path, timeout_ms: &str) -> Child {
    companion_plain(
        base_url,
        store,
        &[
            ("BALLAST__VENUE__REQUEST_TIMEOUT_MS", timeout_ms),
            ("BALLAST__HEDGE__ENABLED", "true"),
            // The article's 1:1 short: this story is about the books, not the estimate.
            ("BALLAST__HEDGE__RATIO", "fixed"),
        ],
    )
}

/// A child process killed when the test ends, passing or not, so a failed step leaves no
/// venue or companion running.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Reaped {
    type Target = Child;

    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

/// When the first companion is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// Once it says the hedge is open.
    WhenOpen,
    /// As soon as the venue has the order, whose reply the venue withholds: the store has
    /// the hedge `opening`, of unknown outcome.
    WhileUnknown,
}

#[test]
fn sigkill_with_a_hedge_open_neither_duplicates_nor_loses_it() {
    story(Kill::WhenOpen);
}

#[test]
fn sigkill_while_the_order_is_unresolved_neither_duplicates_nor_loses_it() {
    story(Kill::WhileUnknown);
}

fn story(kill: Kill) {
    let dir = TempDir::new(&format!("crash-hedge-{kill:?}"));
    let store = dir.store();

    // Step 1: a quiet venue whose clock barely moves: time passes only by `advance`. For
    // the unknown outcome it applies every POST and DELETE but withholds the reply, so every
    // request of ballast's is resolved by asking (a status query, or a repeated close).
    let mut args = vec!["--speed", "1", "--no-autoplay"];
    if kill == Kill::WhileUnknown {
        args.extend(["--faults", "lost_ack=1"]);
    }
    let timeout_ms = if kill == Kill::WhileUnknown {
        "3000"
    } else {
        "10000"
    };
    let sim = Sim::start(&args);
    let (base_url, addr) = (sim.base_url.clone(), sim.addr.clone());

    // Step 2: the companion syncs; then 380 of the casino is locked and it wins 230.77.
    let mut companion = Reaped(start_companion(&base_url, &store, timeout_ms));
    let lines = lines_of(&mut companion);
    wait_for(&lines, "balances (resync)");
    for step in [
        serde_json::json!({"type": "lock", "service": "casino", "amount_usdc": 380, "hours": 48}),
        serde_json::json!({"type": "casino_win", "amount_usdc": 230.77}),
    ] {
        request(&addr, "POST", "/api/v1/sim/inject", Some(&step));
    }
    match kill {
        Kill::WhenOpen => {
            let opened = wait_for(&lines, " short BTC-PERP ");
            assert!(opened.contains("$133.84"), "{opened}");
        }
        Kill::WhileUnknown => {
            // The order is applied; its reply is withheld for `timeout_ms`: kill in between.
            let deadline = Instant::now() + Duration::from_secs(60);
            while request(&addr, "GET", "/api/v1/sim/stats", None)["markets"]["orders_accepted"]
                != 1
            {
                assert!(Instant::now() < deadline, "the hedge order never arrived");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    // Step 3: someone else opens a position at the venue; then ballast is killed.
    request(
        &addr,
        "POST",
        "/api/v1/trading/order",
        Some(
            &serde_json::json!({"agent_id": "agent-1", "market": "ETH-PERP", "side": "long",
            "notional_usdc": 20, "leverage": 2, "order_type": "market", "purpose": "manual"}),
        ),
    );
    let positions = request(
        &addr,
        "GET",
        "/api/v1/trading/positions?agent_id=agent-1",
        None,
    );
    let foreign_id = positions["positions"]
        .as_array()
        .expect("positions")
        .iter()
        .find(|p| p["purpose"] == "manual")
        .and_then(|p| p["id"].as_str())
        .expect("the other position")
        .to_owned();
    companion.kill().expect("SIGKILL");
    companion.wait().expect("reaped");

    // Step 4: the restart keeps its hedge (asking the venue about the order's key when its
    // outcome was unknown), reports the other position, and opens nothing.
    let mut companion = Reaped(start_companion(&base_url, &store, timeout_ms));
    let lines = lines_of(&mut companion);
    let found = wait_for_all(&lines, &["hedges reconciled", "balances (resync)"]);
    let reconciled = &found[0];
    let expected = match kill {
        Kill::WhenOpen => "1 kept, 0 resolved",
        Kill::WhileUnknown => "0 kept, 1 resolved",
    };
    assert!(reconciled.contains(expected), "{reconciled}");
    assert!(reconciled.contains(&foreign_id), "{reconciled}");
    // The resync's stuck overweight reaches the hedger (already hedged: nothing to do).
    std::thread::sleep(Duration::from_millis(500));
    let stats = request(&addr, "GET", "/api/v1/sim/stats", None);
    assert_eq!(stats["markets"]["orders_accepted"], 2, "{stats}");
    assert_eq!(stats["markets"]["open_positions"], 2, "{stats}");

    // Step 5: the lock clears: ballast closes its own hedge, and only its own.
    request(
        &addr,
        "POST",
        "/api/v1/sim/advance",
        Some(&serde_json::json!({"hours": 49})),
    );
    let closed = wait_for(&lines, "closed (lock_released)");
    // Named after the balances it was decided on: the first hedge of the casino on them.
    assert!(closed.contains(".hcasino@1 "), "{closed}");
    signal(companion.id(), "INT");
    assert!(companion.wait().expect("exits").success());

    let stats = request(&addr, "GET", "/api/v1/sim/stats", None);
    let positions = request(
        &addr,
        "GET",
        "/api/v1/trading/positions?agent_id=agent-1",
        None,
    );
    let report = status(&store);
    drop(sim);

    assert_eq!(stats["markets"]["orders_accepted"], 2, "{stats}");
    assert_eq!(stats["markets"]["positions_closed"], 1, "{stats}");
    let open: Vec<&str> = positions["positions"]
        .as_array()
        .expect("positions")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(
        open,
        [foreign_id.as_str()],
        "the other position was touched"
    );
    assert!(
        stats["accounting"]["ok"].as_bool().unwrap_or(false),
        "{stats}"
    );
    assert_eq!(stats["duplicate_transfer_keys"], 0);
    let hedges = &report["hedges"];
    assert_eq!(hedges["opened"], 1, "{report}");
    assert_eq!(hedges["closed"], 1, "{report}");
    assert_eq!(hedges["open_now"], 0, "{report}");
    assert_eq!(hedges["failed"], 0, "{report}");
}
