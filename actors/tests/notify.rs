//! Notifications end to end: a webhook server started here on 127.0.0.1:0 receives the alert's
//! JSON body, failed deliveries are retried, a command hook gets the body on stdin, and a
//! webhook that never answers delays no plan; a stop waits for the last alert to be delivered.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use ballast_actors::{
    messages::{Alert, AlertDetails, Event, GetNotifierStats},
    settings::{Settings, Validated},
};
use rust_decimal_macros::dec;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::Mutex,
};

/// A webhook receiver on loopback: answers `statuses` in turn (then 200), or never answers.
#[derive(Clone)]
struct Webhook {
    url: String,
    bodies: Arc<Mutex<Vec<String>>>,
    received: Arc<AtomicU64>,
    answered: Arc<AtomicU64>,
}

impl Webhook {
    async fn start(statuses: Vec<u16>, answer: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!(
            "http://{}/hooks/secret-token",
            listener.local_addr().expect("addr")
        );
        let hook = Webhook {
            url,
            bodies: Arc::default(),
            received: Arc::default(),
            answered: Arc::default(),
        };
        let statuses = Arc::new(Mutex::new(statuses.into_iter()));
        let shared = hook.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let hook = shared.clone();
                let statuses = statuses.clone();
                tokio::spawn(async move {
                    while let Some(body) = read_request(&mut socket).await {
                        hook.received.fetch_add(1, Ordering::SeqCst);
                        hook.bodies.lock().await.push(body);
                        if !answer {
                            // Hold the connection open, never answering.
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                            return;
                        }
                        let status = statuses.lock().await.next().unwrap_or(200);
                        let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                        if socket.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                        hook.answered.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        hook
    }
}

/// One HTTP/1.1 request's body (by `content-length`), or `None` at the end of the stream.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if socket.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0_u8; length];
    socket.read_exact(&mut body).await.ok()?;
    Some(String::from_utf8_lossy(&body).into_owned())
}

/// The defaults with `toml` on top.
fn settings(toml: &str) -> Validated {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-notify-{}-{n}.toml", std::process::id()));
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(toml.as_bytes()))
        .expect("writes");
    let validated = Settings::load_with_env(std::slice::from_ref(&path), Vec::new())
        .and_then(Settings::validate)
        .expect("valid settings");
    let _ = std::fs::remove_file(&path);
    validated
}

/// A fresh file `ballast-{name}-PID.json`, and the defaults with a command hook that runs
/// `sh -c "{before}cat > FILE"` (the alert's body on its stdin), then `more` TOML lines of
/// `[notify]`.
fn command_hook(name: &str, before: &str, more: &str) -> (std::path::PathBuf, Validated) {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-{name}-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let validated = settings(&format!(
        "[notify]\ncommand = [\"sh\", \"-c\", \"{before}cat > '{}'\"]\n{more}",
        out.display()
    ));
    (out, validated)
}

#[actix_rt::test]
async fn r13_a_refused_plan_posts_its_alert_as_documented_json_after_retries() {
    // Step 1: a webhook that fails twice (500, 503) before accepting, and a daily cap that
    // refuses the large win's plan.
    let hook = Webhook::start(vec![500, 503], true).await;
    let sim = common::quiet_sim().await;
    let validated = settings(&format!(
        "[risk]\nmax_daily_turnover_usdc = 100.0\n[notify]\nwebhook_url = \"{}\"\n\
         retry_base_ms = 10\nretry_max_ms = 50\n",
        hook.url
    ));
    let system = common::start_synced(common::builder(&sim, validated)).await;
    common::win(&sim, dec!(176.47)).await;

    // Step 2: the third attempt is delivered.
    let delivered = common::eventually(Duration::from_secs(10), async || {
        system
            .notifier
            .send(GetNotifierStats)
            .await
            .is_ok_and(|s| s.delivered >= 1)
    })
    .await;
    assert!(delivered, "never delivered");
    assert_eq!(hook.received.load(Ordering::SeqCst), 3);

    // Step 3: the body is the documented object.
    let body = hook.bodies.lock().await.last().cloned().expect("a body");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["kind"], "risk_refused");
    assert_eq!(json["severity"], "warning");
    assert_eq!(json["run_id"], system.run_id.as_str());
    let at = json["at"].as_str().expect("at");
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339");
    assert!(
        json["message"]
            .as_str()
            .is_some_and(|m| m.contains("risk.max_daily_turnover_usdc")),
        "{json}"
    );
    assert!(json["details"]["refusals"].is_array(), "{json}");
    assert!(json["details"]["plan_id"].is_string(), "{json}");
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn r13_a_webhook_that_never_answers_delays_no_plan() {
    // Step 1: a webhook that takes requests and never answers, with a long timeout, a small
    // queue, and the companion on a quiet venue.
    let hook = Webhook::start(Vec::new(), false).await;
    let sim = common::quiet_sim().await;
    let validated = settings(&format!(
        "[notify]\nwebhook_url = \"{}\"\ntimeout_ms = 600000\nqueue_capacity = 4\n",
        hook.url
    ));
    let system = common::start_synced(common::builder(&sim, validated)).await;

    // Step 2: a flood of alerts; the worker gets stuck on the first.
    for k in 0..200 {
        let alert = Alert::new(
            AlertDetails::Halt {
                source: "test".into(),
                reason: format!("flood {k}"),
            },
            "halted",
            time::OffsetDateTime::now_utc(),
        );
        let _ = system.handles.bus.try_send(Event::from(alert));
    }
    let stuck = common::eventually(Duration::from_secs(10), async || {
        hook.received.load(Ordering::SeqCst) >= 1
    })
    .await;
    assert!(stuck, "the webhook never received the first alert");

    // Step 3: a large win is rebalanced while the webhook still holds its request.
    common::win(&sim, dec!(176.47)).await;
    let summary = common::summary_when(&system, Duration::from_secs(10), "no rebalance", |s| {
        s.rebalances >= 1
    })
    .await;
    assert_eq!(summary.legs_failed, 0, "{summary:?}");
    assert!(!sim.transfers().is_empty());
    assert_eq!(
        hook.answered.load(Ordering::SeqCst),
        0,
        "the webhook answered"
    );
    let stats = system.notifier.send(GetNotifierStats).await.expect("stats");
    assert_eq!(stats.delivered, 0, "{stats:?}");
    assert!(
        stats.dropped > 0,
        "a full queue drops, never blocks: {stats:?}"
    );
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn r13_the_command_hook_gets_the_body_on_stdin() {
    let (out, validated) = command_hook("hook", "", "min_severity = \"info\"\n");
    let sim = common::quiet_sim().await;
    let system = common::builder(&sim, validated)
        .start()
        .await
        .expect("starts");
    let alert = Alert::new(
        AlertDetails::Halt {
            source: "operator".into(),
            reason: "maintenance".into(),
        },
        "trading halted by the operator",
        time::OffsetDateTime::now_utc(),
    );
    system.handles.bus.do_send(Event::from(alert));
    let written = common::eventually(Duration::from_secs(10), async || {
        std::fs::read_to_string(&out).is_ok_and(|t| t.ends_with('\n'))
    })
    .await;
    assert!(
        written,
        "the command never ran, or wrote no newline-terminated line"
    );
    // One line per alert, so a hook that appends to a file keeps JSON lines.
    let body = std::fs::read_to_string(&out).expect("reads");
    assert_eq!(body.lines().count(), 1, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(json["kind"], "halt");
    assert_eq!(json["severity"], "critical");
    assert_eq!(json["details"]["reason"], "maintenance");
    let _ = std::fs::remove_file(&out);
    common::stop(system, sim).await;
}

#[actix_rt::test]
async fn a_stop_waits_for_the_last_alert_to_be_delivered() {
    // A panicked actor's alert is raised just before the run stops: the stop returns only
    // once a slow command hook (half a second) has taken it, so the process may exit then.
    let (out, validated) = command_hook("last", "sleep 0.5; ", "");
    let sim = common::quiet_sim().await;
    let system = common::start_synced(common::builder(&sim, validated)).await;
    system.panicked("injected panic in a test").await;
    common::stop(system, sim).await;
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&out).expect("delivered before the stop returned"),
    )
    .expect("JSON");
    assert_eq!(json["kind"], "actor_panicked");
    assert_eq!(json["severity"], "critical");
    assert!(
        json["details"]["panic"]
            .as_str()
            .is_some_and(|p| p.contains("injected panic")),
        "{json}"
    );
    let _ = std::fs::remove_file(&out);
}
