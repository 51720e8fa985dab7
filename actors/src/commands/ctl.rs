//! `ballast ctl`: steers a running `ballast run` through its HTTP API.
//!
//! `ballast ctl pause|resume|halt|rebalance|recompute` posts to `/control/{command}` with the
//! control token; `ballast ctl status` reads `/status`. The API's address comes from `--url`,
//! else from `http.addr` in the data directory (written by the run), else from a fixed
//! `http.listen`. The token comes from `BALLAST_CONTROL_TOKEN`, else `control.token_file`, else
//! `control.token` in the data directory.
//!
//! # Invariants
//! - The token goes only into the `Authorization` header; it is never printed.
//! - A refused command (401, 403, 409, ...) exits non-zero with the API's message.

use std::{path::Path, time::Duration};

use anyhow::{Context, bail};
use ballast::{control::Command, money::format_usdc};
use rust_decimal::Decimal;
use serde_json::Value;

use crate::{
    format::{allocation_header, allocation_row, pct},
    http::token::{self, ADDRESS_FILE_NAME, ControlToken},
    settings::Settings,
};

/// How long one request may take (a halt waits for a leg POST in flight).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Action {
    /// Stop making plans; the leg in flight finishes.
    Pause,
    /// Trade again; triggers that waited fire.
    Resume,
    /// Stop every order at once (survives restarts until resumed).
    Halt,
    /// Rebalance to target now.
    Rebalance,
    /// Recompute the targets now.
    Recompute,
    /// Show the running companion's status.
    Status,
}

/// `ballast ctl` arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// pause, resume, halt, rebalance, recompute, or status.
    #[arg(value_enum)]
    pub action: Action,
    /// Why (recorded with the action).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Who is asking (recorded; default `ballast ctl ($USER)`).
    #[arg(long)]
    pub by: Option<String>,
    /// The API's base URL (default: `http.addr` in the data directory).
    #[arg(long)]
    pub url: Option<String>,
}

impl Action {
    fn command(self) -> Option<Command> {
        match self {
            Action::Pause => Some(Command::Pause),
            Action::Resume => Some(Command::Resume),
            Action::Halt => Some(Command::Halt),
            Action::Rebalance => Some(Command::Rebalance),
            Action::Recompute => Some(Command::Recompute),
            Action::Status => None,
        }
    }
}

/// Runs `ballast ctl`.
///
/// # Errors
/// When no running companion is found, the token is missing, or the API refuses.
pub fn run(args: &Args, settings: &Settings, json: bool) -> anyhow::Result<()> {
    let data_dir = token::data_dir(&settings.store.path);
    let base = match &args.url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => base_url(settings, &data_dir)?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    ballast::venue::client::init_tls();
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("ballast-ctl/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")?;
    runtime.block_on(async {
        match args.action.command() {
            None => {
                let url = format!("{base}/status");
                let response = client
                    .get(&url)
                    .send()
                    .await
                    .with_context(|| format!("GET {url}: is `ballast run` running?"))?;
                let body = checked(response, &url).await?;
                if json {
                    crate::outln!("{}", serde_json::to_string_pretty(&body)?)?;
                } else {
                    print_status(&body)?;
                }
                Ok(())
            }
            Some(command) => {
                let configured = &settings.control.token_file;
                let configured =
                    (!configured.as_os_str().is_empty()).then_some(configured.as_path());
                let token = ControlToken::load(configured, &data_dir)?;
                let by = args.by.clone().unwrap_or_else(|| {
                    let user = std::env::var("USER")
                        .or_else(|_| std::env::var("LOGNAME"))
                        .unwrap_or_else(|_| "unknown".to_owned());
                    format!("ballast ctl ({user})")
                });
                let url = format!("{base}/control/{command}");
                let response = client
                    .post(&url)
                    .bearer_auth(token.expose())
                    .json(&serde_json::json!({"reason": args.reason, "by": by}))
                    .send()
                    .await
                    .with_context(|| format!("POST {url}: is `ballast run` running?"))?;
                let body = checked(response, &url).await?;
                if json {
                    crate::outln!("{body}")?;
                } else {
                    crate::outln!(
                        "{command}: trading is {} (was {}); recorded at {} by {} — {}",
                        text(&body["mode"]),
                        text(&body["previous"]),
                        text(&body["at"]),
                        text(&body["by"]),
                        text(&body["note"])
                    )?;
                }
                Ok(())
            }
        }
    })
}

/// The API's base URL from the run's address file, else a fixed `http.listen`.
fn base_url(settings: &Settings, data_dir: &Path) -> anyhow::Result<String> {
    let file = data_dir.join(ADDRESS_FILE_NAME);
    if let Ok(text) = std::fs::read_to_string(&file)
        && !text.trim().is_empty()
    {
        return Ok(text.trim().trim_end_matches('/').to_owned());
    }
    let listen = settings.http.listen.trim();
    if let Ok(addr) = listen.parse::<std::net::SocketAddr>()
        && addr.port() != 0
    {
        return Ok(format!("http://{addr}"));
    }
    bail!(
        "no running ballast found: {} does not exist (start `ballast run` with the HTTP API on, or pass --url)",
        file.display()
    )
}

/// The JSON body of a 2xx response, or an error carrying the API's message.
async fn checked(response: reqwest::Response, url: &str) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("{url}: the answer is not JSON"))?;
    if !status.is_success() {
        bail!(
            "{url}: HTTP {} {}: {}",
            status.as_u16(),
            text(&body["error"]),
            text(&body["message"])
        );
    }
    Ok(body)
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn decimal(value: &Value) -> Decimal {
    text(value).parse().unwrap_or_default()
}

fn print_status(body: &Value) -> Result<(), crate::output::OutputClosed> {
    let run = &body["run"];
    crate::outln!(
        "run        {} on {}{}",
        text(&run["run_id"]),
        text(&run["venue"]),
        if run["dry_run"].as_bool() == Some(true) {
            " (dry run)"
        } else {
            ""
        }
    )?;
    let control = &body["control"];
    let last = &control["last_action"];
    crate::outln!(
        "control    {}{}",
        text(&control["mode"]),
        if last.is_null() {
            String::new()
        } else {
            format!(
                " — {} by {} at {}{}",
                text(&last["command"]),
                text(&last["by"]),
                text(&last["at"]),
                match text(&last["reason"]) {
                    reason if reason.is_empty() => String::new(),
                    reason => format!(": {reason}"),
                }
            )
        }
    )?;
    crate::outln!(
        "stream     {} (gate {}), last event #{}",
        text(&body["connection"]["state"]),
        text(&body["gate"]),
        text(&body["last_event_seq"])
    )?;
    let allocation = &body["allocation"];
    if let Some(services) = allocation["services"].as_array() {
        crate::outln!(
            "balances   {} at {}",
            format_usdc(decimal(&allocation["total_usdc"])),
            text(&allocation["at"])
        )?;
        crate::outln!("{}", allocation_header())?;
        for line in services {
            crate::outln!(
                "{}{}",
                allocation_row(
                    &text(&line["service"]),
                    &format_usdc(decimal(&line["balance_usdc"])),
                    &pct(decimal(&line["weight"])),
                    &pct(decimal(&line["target"])),
                    &pct(decimal(&line["drift"])),
                ),
                if line["outside_band"].as_bool() == Some(true) {
                    "  outside band"
                } else {
                    ""
                }
            )?;
        }
    }
    if let Some(plan) = body["recent_plans"]
        .as_array()
        .and_then(|plans| plans.last())
    {
        crate::outln!(
            "last plan  {} [{}] {} — {}",
            text(&plan["plan_id"]),
            text(&plan["trigger"]),
            text(&plan["status"]),
            text(&plan["reason"])
        )?;
    }
    let metrics = &body["metrics"];
    crate::outln!(
        "run        {} events, {} rebalances, {} legs applied, {} failed, turnover {}",
        text(&metrics["events_seen"]),
        text(&metrics["rebalances"]),
        text(&metrics["legs_applied"]),
        text(&metrics["legs_failed"]),
        format_usdc(decimal(&metrics["turnover_usdc"]))
    )?;
    for warning in body["warnings"]
        .as_array()
        .map(|w| w.iter().rev().take(3).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        crate::outln!(
            "warning    {} [{}] {}",
            text(&warning["at"]),
            text(&warning["kind"]),
            text(&warning["message"])
        )?;
    }
    Ok(())
}
