//! Story: an operator opens the dashboard in a browser. Headless Chromium loads it from a
//! companion running on the simulated venue (everything on 127.0.0.1); the page shows the
//! allocation against target, and after a scripted large win (the venue's `/sim/inject`) the
//! allocation on the page changes by itself, over the live feed, with the win among the events
//! and the rebalance among the plans. A screenshot is saved and its path printed.
//!
//! The browser is driven over the DevTools protocol by a small client written here (a
//! websocket, JSON commands). Without Chromium the test says so and passes — on a user's
//! machine — unless `BALLAST_REQUIRE_CHROMIUM=1` (set by `.ci/run`), where a missing browser
//! fails it.

#[path = "../../tests/common/mod.rs"]
mod common;
mod http_support;

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use common::quiet_sim;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

/// Set to `1` where a missing Chromium must fail the test (CI).
const REQUIRE_ENV: &str = "BALLAST_REQUIRE_CHROMIUM";
/// Names tried on `PATH`, after `BALLAST_CHROMIUM`.
const BROWSERS: [&str; 4] = ["chromium", "chromium-browser", "google-chrome", "chrome"];

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("BALLAST_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| BROWSERS.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// A headless Chromium on a fresh profile, killed (by its own pid) on drop.
struct Browser {
    child: Child,
    profile: PathBuf,
    devtools: String,
}

impl Browser {
    fn launch(binary: &PathBuf, url: &str) -> Self {
        let profile = std::env::temp_dir().join(format!("ballast-chromium-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("profile dir");
        let mut child = Command::new(binary)
            // Chromium's own temporary files go into the profile too, which the drop removes.
            .env("TMPDIR", &profile)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                "--window-size=1280,1700",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium starts");
        // Chromium announces its DevTools endpoint on stderr.
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("ws://") {
                    let _ = tx.send(line[at..].trim().to_owned());
                }
            }
        });
        let endpoint = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("chromium announces its DevTools endpoint");
        let devtools = endpoint
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host:port")
            .to_owned();
        Self {
            child,
            profile,
            devtools,
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A DevTools session on one page.
struct Page {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    next_id: u64,
}

impl Page {
    async fn attach(browser: &Browser, url: &str) -> Self {
        let list = format!("http://{}/json/list", browser.devtools);
        let mut target = None;
        for _ in 0..100 {
            let pages: Value = http_support::client()
                .get(&list)
                .send()
                .await
                .expect("DevTools answers")
                .json()
                .await
                .expect("JSON");
            target = pages.as_array().and_then(|pages| {
                pages
                    .iter()
                    .find(|p| {
                        p["type"] == "page" && p["url"].as_str().is_some_and(|u| u.starts_with(url))
                    })
                    .and_then(|p| p["webSocketDebuggerUrl"].as_str().map(str::to_owned))
            });
            if target.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let target = target.expect("the dashboard page is open");
        let (socket, _) = tokio_tungstenite::connect_async(target)
            .await
            .expect("DevTools websocket");
        Self { socket, next_id: 0 }
    }

    /// Sends one command and returns its `result`, skipping the events in between.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let command = json!({"id": id, "method": method, "params": params});
        self.socket
            .send(Message::text(command.to_string()))
            .await
            .expect("command sent");
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .expect("DevTools answers in time")
                .expect("socket open")
                .expect("frame");
            let Message::Text(text) = message else {
                continue;
            };
            let answer: Value = serde_json::from_str(&text).expect("JSON");
            if answer["id"] == id {
                assert!(answer["error"].is_null(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// Evaluates `expression` in the page, returning its value.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        result["result"]["value"].clone()
    }
}

/// What the test reads from the DOM.
const READ_DOM: &str = r##"JSON.stringify({
  total: document.getElementById("total").getAttribute("data-total-usdc"),
  rows: [...document.querySelectorAll("#allocation tbody tr")].map(r => [r.dataset.service, r.dataset.weight, r.dataset.target]),
  events: document.getElementById("events").textContent,
  plans: [...document.querySelectorAll("#plans .plan[data-trigger]")].map(p => p.dataset.trigger),
  feed: document.getElementById("feed").textContent,
  mode: document.getElementById("mode-text").textContent
})"##;

async fn read_dom(page: &mut Page) -> Value {
    let text = page.eval(READ_DOM).await;
    serde_json::from_str(text.as_str().unwrap_or("{}")).expect("DOM JSON")
}

/// Polls the DOM until `done` holds, at most 30 s; fails with the last DOM read.
async fn dom_when(page: &mut Page, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        last = read_dom(page).await;
        if done(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {last}");
}

/// A number the page shows as text (`"1176.47"`, `"0.20"`); NaN when absent.
fn number(value: &Value) -> f64 {
    value
        .as_str()
        .and_then(|text| text.parse().ok())
        .unwrap_or(f64::NAN)
}

fn weight_of(dom: &Value, service: &str) -> f64 {
    dom["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row[0] == service))
        .map_or(f64::NAN, |row| number(&row[1]))
}

/// Standard base64 (the screenshot), decoded.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text.bytes().filter(|c| *c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0_u32, |n, (i, d)| n | (u32::from(*d) << (18 - 6 * i)));
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[actix_rt::test]
async fn the_dashboard_shows_the_allocation_and_follows_a_large_win_live() {
    let Some(chromium) = find_chromium() else {
        let required = std::env::var(REQUIRE_ENV).is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{REQUIRE_ENV}=1 but no Chromium was found (BALLAST_CHROMIUM, or one of {BROWSERS:?} on PATH)"
        );
        println!(
            "SKIPPED the_dashboard_shows_the_allocation_and_follows_a_large_win_live: no Chromium \
             found (install it with `apt-get install -y chromium`, or point BALLAST_CHROMIUM at one)"
        );
        return;
    };

    // Step 1: the companion on a quiet venue, with its API and dashboard.
    let sim = quiet_sim().await;
    let (system, base) = http_support::start_default(&sim).await;

    // Step 2: the browser opens the dashboard; the allocation is shown against target.
    let url = format!("{base}/");
    let browser = Browser::launch(&chromium, &url);
    let mut page = Page::attach(&browser, &url).await;
    let before = dom_when(&mut page, "the allocation is shown", |dom| {
        dom["rows"].as_array().is_some_and(|rows| rows.len() == 6)
            && number(&dom["total"]) == 1000.0
            && dom["feed"] == "live"
    })
    .await;
    assert_eq!(weight_of(&before, "casino"), 0.2);
    assert_eq!(before["mode"], "running");

    // Step 3: a scripted large win at the venue; the page follows by itself.
    let response = http_support::client()
        .post(format!("{}/sim/inject", sim.base_url()))
        .json(&json!({"type": "casino_win", "amount_usdc": "176.47"}))
        .send()
        .await
        .expect("injected");
    assert_eq!(response.status().as_u16(), 200);
    let after = dom_when(&mut page, "the page follows the win", |dom| {
        number(&dom["total"]) == 1176.47
            && dom["events"]
                .as_str()
                .is_some_and(|events| events.contains("casino win +$176.47"))
            && dom["plans"]
                .as_array()
                .is_some_and(|plans| plans.iter().any(|p| p == "large_win"))
    })
    .await;
    assert_ne!(number(&after["total"]), number(&before["total"]));

    // Step 4: a screenshot of the page as it is now.
    let shot = page
        .call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        )
        .await;
    let png = base64_decode(shot["data"].as_str().expect("image data"));
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join("dashboard.png");
    std::fs::write(&path, &png).expect("screenshot saved");
    println!("dashboard screenshot: {}", path.display());

    drop(page);
    drop(browser);
    common::stop(system, sim).await;
}
