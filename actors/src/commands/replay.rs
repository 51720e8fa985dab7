//! `ballast backtest --events FILE`: replays a run recorded by `ballast run --record-events`
//! through the live trigger policy and says whether it decides exactly as the run did.
//!
//! # Invariants
//! - Reads the file, calls the core (`ballast::policy::replay`), prints: no decision here.
//! - `--json` prints exactly one JSON document; a replay that differs from the recording
//!   is reported (with the first difference) and exits with an error.

use std::path::Path;

use anyhow::{Context, bail};
use ballast::policy::{Notice, replay::replay};
use serde_json::Value;

use crate::format::short_time;

/// Largest recording read (bytes).
pub const MAX_RECORDING_BYTES: u64 = 1024 * 1024 * 1024;

/// Replays the recording at `path`.
///
/// # Errors
/// An unreadable or malformed file (naming the line), or a replay that differs.
pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .with_context(|| format!("--events {shown}: cannot read the file"))?
        .len();
    if size > MAX_RECORDING_BYTES {
        bail!(
            "--events {shown}: {size} bytes is more than the {MAX_RECORDING_BYTES} a recording may have"
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--events {shown}: cannot read the file"))?;
    let result = replay(&text).map_err(|e| anyhow::anyhow!("--events {shown}: {e}"))?;
    let adjustments: Vec<&Notice> = result
        .notices
        .iter()
        .filter(|n| matches!(n, Notice::TargetsAdjusted { .. }))
        .collect();
    let days = result
        .notices
        .iter()
        .filter(|n| matches!(n, Notice::DayClosed { .. }))
        .count();
    let decisions: Vec<Value> = result
        .decisions
        .iter()
        .map(|d| serde_json::from_str(d))
        .collect::<Result<_, _>>()
        .context("re-reading a replayed decision")?;
    if json {
        crate::outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "inputs": result.inputs,
                "decisions": decisions,
                "recorded_decisions": result.recorded_decisions,
                "identical": result.identical(),
                "first_mismatch": result.first_mismatch,
                "days_closed": days,
                "target_adjustments": adjustments,
            }))?
        )?;
    } else {
        crate::outln!(
            "replayed {} inputs of {shown} through the live policy: {} decisions, {} days closed",
            result.inputs,
            decisions.len(),
            days
        )?;
        for decision in &decisions {
            let trigger = &decision["trigger"];
            let name = trigger["adjustments"][0]["kind"]
                .as_str()
                .or_else(|| trigger["kind"].as_str())
                .unwrap_or_default();
            crate::outln!(
                "  plan {} at {} [{name}]: {} legs",
                decision["plan_seq"],
                decision["at"].as_str().unwrap_or_default(),
                decision["plan"]["legs"].as_array().map_or(0, Vec::len)
            )?;
        }
        for notice in &adjustments {
            if let Notice::TargetsAdjusted {
                at, adjustments, ..
            } = notice
            {
                for adjustment in adjustments {
                    crate::outln!(
                        "  targets at {} [{}] {}",
                        short_time(*at),
                        adjustment.name(),
                        adjustment.describe()
                    )?;
                }
            }
        }
        if result.identical() {
            crate::outln!(
                "identical to the recorded run: all {} decisions, byte for byte",
                result.recorded_decisions
            )?;
        }
    }
    if let Some(mismatch) = &result.first_mismatch {
        bail!(
            "--events {shown}: decision {} differs from the recording (recorded {}, replayed {})",
            mismatch.index + 1,
            mismatch.recorded.as_deref().unwrap_or("nothing"),
            mismatch.replayed.as_deref().unwrap_or("nothing")
        );
    }
    Ok(())
}
