//! The records the store keeps and returns: runs, plans with their legs, leg statuses,
//! balance snapshots, hedges, and the report `ballast status` shows.
//!
//! # Invariants
//! - A leg status has one stored spelling ([`LegStatus::as_str`]) and parses back from
//!   exactly that; any other text is [`StoreError::Corrupt`], never a guess.
//! - Money fields are `Decimal`; they are stored as decimal text (see `codec`).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Serialize;
use time::OffsetDateTime;

use super::{Direction, Service, ServiceMap, StoreError};
use crate::{
    hedge::{HedgeCosts, HedgeStatus},
    observation::PositionSide,
};

/// Status of one leg of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LegStatus {
    /// Recorded, not yet sent (or the outcome of sending is unknown).
    Pending,
    /// The venue applied it.
    Applied,
    /// The venue refused it, or it was abandoned; never retried under the same plan.
    Failed,
    /// Dry run: recorded, never sent.
    DryRun,
}

impl LegStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            LegStatus::Pending => "pending",
            LegStatus::Applied => "applied",
            LegStatus::Failed => "failed",
            LegStatus::DryRun => "dry_run",
        }
    }

    pub(super) fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "pending" => LegStatus::Pending,
            "applied" => LegStatus::Applied,
            "failed" => LegStatus::Failed,
            "dry_run" => LegStatus::DryRun,
            other => {
                return Err(StoreError::Corrupt {
                    column: "legs.status",
                    value: other.to_owned(),
                });
            }
        })
    }
}

/// One leg as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegRecord {
    /// `{run_id}:{plan_seq}:{leg_index}`; also the venue idempotency key.
    pub idempotency_key: String,
    /// Position in the plan.
    pub leg_index: u32,
    /// Service moved.
    pub service: Service,
    /// Direction.
    pub direction: Direction,
    /// Amount.
    pub amount_usdc: Decimal,
    /// Current status.
    pub status: LegStatus,
}

/// A plan as recorded, with its legs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanRecord {
    /// `{run_id}:{plan_seq}`.
    pub plan_id: String,
    /// The run that made it.
    pub run_id: String,
    /// When it was planned (venue or wall time).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// What triggered it (`large_win`, `tick`, `request`, ...).
    pub trigger: String,
    /// Human-readable reason.
    pub reason: String,
    /// Portfolio total at planning time.
    pub total_usdc: Decimal,
    /// The legs, in execution order.
    pub legs: Vec<LegRecord>,
}

/// What `ballast status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    /// Schema version of the file.
    pub schema_version: i64,
    /// Last processed event `seq` of the most recently active stream.
    pub cursor_seq: u64,
    /// Runs recorded.
    pub runs: u64,
    /// The most recent run, if any: id, start, stop (None while running or after a crash).
    pub last_run: Option<RunRecord>,
    /// Plans recorded over all runs.
    pub plans: u64,
    /// Legs per status.
    pub legs_applied: u64,
    /// Legs that failed.
    pub legs_failed: u64,
    /// Legs whose outcome is still unknown.
    pub legs_pending: u64,
    /// Legs recorded in dry-run mode.
    pub legs_dry_run: u64,
    /// USDC moved by applied legs.
    pub turnover_usdc: Decimal,
    /// The latest balance snapshot.
    pub last_snapshot: Option<SnapshotRecord>,
    /// The latest plans, newest first (at most 5).
    pub recent_plans: Vec<PlanRecord>,
    /// Why each failed leg of those plans failed, by idempotency key.
    pub failure_reasons: BTreeMap<String, String>,
    /// The latest alerts, newest first (at most 5).
    pub recent_alerts: Vec<super::AlertRecord>,
    /// The operator's latest control action (its mode is in force), if any.
    pub control: Option<crate::control::ControlRecord>,
    /// The tax book and harvests.
    pub tax: super::TaxStatus,
    /// Perp hedges: counts, costs and the latest ones.
    pub hedges: HedgeReport,
}

/// One perp hedge as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HedgeRecord {
    /// The hedge's id (`ballast::hedge::ids`; `{run_id}:h{seq}` from earlier versions).
    pub hedge_id: String,
    /// The run that opened it.
    pub run_id: String,
    /// The service whose stuck overweight it covers.
    pub service: Service,
    /// The perp market, e.g. `BTC-PERP`.
    pub market: String,
    /// Short (a hedge of an overweight).
    pub side: PositionSide,
    /// Notional of the order, USDC.
    pub notional_usdc: Decimal,
    /// Leverage of the order.
    pub leverage: u32,
    /// Perp dollars per dollar of stuck overweight.
    pub ratio: Decimal,
    /// Why it was opened.
    pub reason: String,
    /// Where it is in its life.
    pub status: HedgeStatus,
    /// The open order's idempotency key.
    pub open_key: String,
    /// The close's idempotency key, once a close was decided.
    pub close_key: Option<String>,
    /// The venue's position id, once filled.
    pub position_id: Option<String>,
    /// When it was decided (venue or wall time).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the venue filled it.
    #[serde(with = "time::serde::rfc3339::option")]
    pub opened_at: Option<OffsetDateTime>,
    /// When it closed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub closed_at: Option<OffsetDateTime>,
    /// Why it closed (`lock_released`, `drift_resolved`, `resize`, `closed_by_venue`).
    pub close_reason: Option<String>,
    /// Fees, funding and realized PnL so far.
    pub costs: HedgeCosts,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// What `ballast status` shows of the hedges.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HedgeReport {
    /// Hedges the venue filled.
    pub opened: u64,
    /// Hedges closed.
    pub closed: u64,
    /// Hedges that may still hold a position (open, or of unknown outcome).
    pub open_now: u64,
    /// Hedges refused or abandoned.
    pub failed: u64,
    /// Hedges recorded in dry run.
    pub dry_run: u64,
    /// Fees, funding and realized PnL of every hedge.
    pub costs: HedgeCosts,
    /// The latest hedges, newest first (at most 5).
    pub recent: Vec<HedgeRecord>,
}

/// One run of the companion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// Run id.
    pub run_id: String,
    /// Start time.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// Clean stop time; `None` while running or after a crash.
    #[serde(with = "time::serde::rfc3339::option")]
    pub stopped_at: Option<OffsetDateTime>,
    /// Venue URL (no credentials).
    pub venue: String,
    /// Whether the run was a dry run.
    pub dry_run: bool,
}

/// A recorded balance snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotRecord {
    /// When observed.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Event `seq` it reflects, if known.
    pub seq: Option<u64>,
    /// Where it came from (`rest`, `event`).
    pub source: String,
    /// Balances per service.
    pub balances_usdc: ServiceMap<Decimal>,
}
