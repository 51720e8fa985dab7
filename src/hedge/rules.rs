//! When to hedge, how much, and when to let go: the HedgeExecutor's decisions.
//!
//! The bridge: a service overweight by more than `threshold` whose excess the venue will not
//! let move now (locked: funds in play, a settlement delay; the part of the excess its free
//! balance does not cover) gets a short perp for that stuck part, sized by the hedge ratio and capped; when the lock lifts the spot rebalance can move
//! the excess, and when the excess shrinks below what is worth covering the drift has
//! resolved: either way the hedge closes. It is a bridge with an automatic unwind, never a
//! permanent position.
//!
//! # Invariants
//! - Nothing opens unless the service is overweight by more than the threshold and its
//!   stuck part, and the notional after every cap, are at least `min_notional_usdc`.
//! - An opened notional is whole cents, at most `max_notional_usdc` and the risk cap, and
//!   its margin plus taker fee fits the margin available less a cushion
//!   ([`MARGIN_CUSHION`]).
//! - An open hedge is closed as soon as its service has nothing locked or its stuck part
//!   is immaterial; it is resized only when the cover it should give moved by more than
//!   half of its notional (and by at least `min_notional_usdc`), so small moves never churn
//!   fees.
//! - Every skip carries its reason, naming the key or figure that decided it.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use super::config::HedgeConfig;
use crate::{
    money::round_cents, portfolio::PortfolioSnapshot, service::Service, targets::TargetAllocation,
};

/// A service whose overweight cannot all move now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockedExcess {
    /// The service.
    pub service: Service,
    /// Weight − target (positive: overweight).
    pub drift: Decimal,
    /// Balance above its target share of the total, USDC.
    pub excess_usdc: Decimal,
    /// What the venue has locked, USDC.
    pub locked_usdc: Decimal,
    /// The part of the excess that cannot move now: what the free part of the balance does
    /// not cover, `max(0, excess − free)`, whole cents. The planner moves the rest.
    pub stuck_usdc: Decimal,
}

/// Every tradable service whose overweight is at least partly locked, in service order.
pub fn locked_excess(
    snapshot: &PortfolioSnapshot,
    targets: &TargetAllocation,
) -> Vec<LockedExcess> {
    let total = snapshot.total_usdc();
    if total <= Decimal::ZERO {
        return Vec::new();
    }
    let weights = snapshot.weights();
    Service::TRADABLE
        .into_iter()
        .filter_map(|service| {
            let excess_usdc = snapshot.balance(service) - total * targets.weight(service);
            let locked_usdc = snapshot.locked_usdc[service];
            let stuck_usdc = round_cents(excess_usdc - snapshot.free_usdc(service));
            (stuck_usdc > Decimal::ZERO).then(|| LockedExcess {
                service,
                drift: weights[service] - targets.weight(service),
                excess_usdc: round_cents(excess_usdc),
                locked_usdc,
                stuck_usdc,
            })
        })
        .collect()
}

/// Whether the DriftDetector should tell the HedgeExecutor about the stuck overweight now:
/// after a plan that left some behind, or whenever the set of services with one changes
/// (a lock appeared, or lifted: then the list it sends is empty).
pub fn request_due(previous: &[Service], now: &[LockedExcess], planned: bool) -> bool {
    let services: Vec<Service> = now.iter().map(|e| e.service).collect();
    (planned && !now.is_empty()) || services != previous
}

/// Why no hedge opens (or an open one is not resized).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// The service is not overweight by more than `hedge.threshold`.
    BelowThreshold {
        /// Its drift.
        drift: Decimal,
        /// The threshold.
        threshold: Decimal,
    },
    /// The stuck part, or the notional after the caps, is below `hedge.min_notional_usdc`.
    NotMaterial {
        /// The notional it would have been.
        notional_usdc: Decimal,
        /// The minimum.
        min_usdc: Decimal,
    },
    /// The ratio was not usable (too weak a correlation, not estimated, not positive).
    Ratio {
        /// Why, naming the figure and key.
        reason: String,
    },
    /// The stream is down: no order while the view may be stale.
    StreamDown,
    /// The operator paused or halted trading.
    Held,
}

impl SkipReason {
    /// A short stable name of the kind of reason (`below_threshold`, `not_material`,
    /// `ratio`, `stream_down`, `held`).
    pub fn kind(&self) -> &'static str {
        match self {
            SkipReason::BelowThreshold { .. } => "below_threshold",
            SkipReason::NotMaterial { .. } => "not_material",
            SkipReason::Ratio { .. } => "ratio",
            SkipReason::StreamDown => "stream_down",
            SkipReason::Held => "held",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::BelowThreshold { drift, threshold } => write!(
                f,
                "drift {} is not above hedge.threshold {}",
                drift.round_dp(4),
                threshold
            ),
            SkipReason::NotMaterial {
                notional_usdc,
                min_usdc,
            } => write!(
                f,
                "notional {notional_usdc} USDC is below hedge.min_notional_usdc {min_usdc}"
            ),
            SkipReason::Ratio { reason } => f.write_str(reason),
            SkipReason::StreamDown => f.write_str("stream down; no order until a fresh snapshot"),
            SkipReason::Held => f.write_str("trading paused or halted by the operator"),
        }
    }
}

/// The share of the trading cash a hedge's margin leaves alone, for moves of the cash
/// between sizing and the fill.
pub const MARGIN_CUSHION: Decimal = Decimal::from_parts(2, 0, 0, false, 2);

/// What bounds the size of a hedge besides its own configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimits {
    /// Trading cash free for margin and fees, USDC.
    pub margin_available_usdc: Decimal,
    /// The venue's taker fee on the notional (0.001 on the simulator).
    pub taker_fee_rate: Decimal,
    /// `risk.max_leg_usdc`, when on: a hedge's notional obeys it like a transfer's amount.
    pub max_leg_usdc: Option<Decimal>,
}

/// A hedge to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenOrder {
    /// The service it covers.
    pub service: Service,
    /// Notional of the short, USDC, whole cents.
    pub notional_usdc: Decimal,
    /// Leverage of the order.
    pub leverage: u32,
    /// Perp dollars per dollar of stuck overweight.
    pub ratio: Decimal,
    /// What the stuck part was.
    pub stuck_usdc: Decimal,
    /// The caps that cut it below `stuck × ratio` (`hedge.max_notional_usdc`,
    /// `risk.max_leg_usdc`, `margin`), for the record.
    pub capped_by: Vec<&'static str>,
}

/// The notional that covers `stuck_usdc` at `ratio`, within every cap, and the caps that
/// bit.
fn sized(
    config: &HedgeConfig,
    stuck_usdc: Decimal,
    ratio: Decimal,
    limits: &SizeLimits,
) -> (Decimal, Vec<&'static str>) {
    let mut notional = round_cents(stuck_usdc * ratio);
    let mut capped_by = Vec::new();
    let leverage = Decimal::from(config.max_leverage);
    // margin + fee = n / L + n × f ≤ available  ⇔  n ≤ available × L / (1 + L × f). The
    // venue rounds the margin and the fee each up to the cent, so two cents are kept aside,
    // and the cash can move between sizing and the fill (marks, the spot plan running
    // beside), so MARGIN_CUSHION of it is left alone too.
    let usable = limits.margin_available_usdc * (Decimal::ONE - MARGIN_CUSHION);
    let margin_cap = ((usable - Decimal::new(2, 2)).max(Decimal::ZERO) * leverage
        / (Decimal::ONE + leverage * limits.taker_fee_rate))
        .round_dp_with_strategy(2, RoundingStrategy::ToZero);
    let caps = [
        ("hedge.max_notional_usdc", Some(config.max_notional_usdc)),
        ("risk.max_leg_usdc", limits.max_leg_usdc),
        ("margin", Some(margin_cap)),
    ];
    for (name, cap) in caps {
        if let Some(cap) = cap
            && notional > cap
        {
            notional = cap;
            capped_by.push(name);
        }
    }
    (notional, capped_by)
}

/// Whether `excess` is overweight enough to hedge at all, before any ratio is estimated.
///
/// # Errors
/// [`SkipReason::BelowThreshold`] when the drift is not above `hedge.threshold`.
pub fn eligible(config: &HedgeConfig, excess: &LockedExcess) -> Result<(), SkipReason> {
    if excess.drift <= config.threshold {
        return Err(SkipReason::BelowThreshold {
            drift: excess.drift,
            threshold: config.threshold,
        });
    }
    Ok(())
}

/// Trading cash free for a new hedge's margin and fee: the trading balance less what its
/// open positions and resting orders hold (each position's margin plus unrealized PnL),
/// never below zero.
pub fn margin_available(
    trading_balance_usdc: Decimal,
    held_usdc: impl IntoIterator<Item = Decimal>,
) -> Decimal {
    let held: Decimal = held_usdc.into_iter().sum();
    (trading_balance_usdc - held).max(Decimal::ZERO)
}

/// Whether to open a hedge for `excess` at `ratio`.
///
/// # Errors
/// The [`SkipReason`] when no hedge should open.
pub fn decide_open(
    config: &HedgeConfig,
    excess: &LockedExcess,
    ratio: Decimal,
    limits: &SizeLimits,
) -> Result<OpenOrder, SkipReason> {
    eligible(config, excess)?;
    let (notional_usdc, capped_by) = sized(config, excess.stuck_usdc, ratio, limits);
    if notional_usdc < config.min_notional_usdc || notional_usdc <= Decimal::ZERO {
        return Err(SkipReason::NotMaterial {
            notional_usdc,
            min_usdc: config.min_notional_usdc,
        });
    }
    Ok(OpenOrder {
        service: excess.service,
        notional_usdc,
        leverage: config.max_leverage,
        ratio,
        stuck_usdc: excess.stuck_usdc,
        capped_by,
    })
}

/// Why a hedge closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The venue lifted the lock: the spot rebalance can move the excess now.
    LockReleased,
    /// The stuck overweight shrank below what is worth covering.
    DriftResolved,
    /// Closed to reopen at another size.
    Resize,
    /// The venue closed it (liquidation, or a close outside ballast).
    ClosedByVenue,
}

impl CloseReason {
    /// Every reason.
    pub const ALL: [CloseReason; 4] = [
        CloseReason::LockReleased,
        CloseReason::DriftResolved,
        CloseReason::Resize,
        CloseReason::ClosedByVenue,
    ];

    /// The stored spelling.
    pub fn name(self) -> &'static str {
        match self {
            CloseReason::LockReleased => "lock_released",
            CloseReason::DriftResolved => "drift_resolved",
            CloseReason::Resize => "resize",
            CloseReason::ClosedByVenue => "closed_by_venue",
        }
    }

    /// Parses the stored spelling; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.name() == text)
    }
}

/// What becomes of an open hedge given fresh balances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldDecision {
    /// Leave it.
    Keep,
    /// Close it.
    Close(CloseReason),
    /// Close it and open one of this notional instead.
    Resize {
        /// The new notional, USDC.
        notional_usdc: Decimal,
    },
}

/// An open hedge, as the hold rule reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeldHedge {
    /// The service it covers.
    pub service: Service,
    /// Its notional, USDC.
    pub notional_usdc: Decimal,
    /// The ratio it was opened at.
    pub ratio: Decimal,
}

/// Whether an open hedge stays, closes or is resized, given fresh balances.
pub fn decide_hold(
    config: &HedgeConfig,
    hedge: &HeldHedge,
    snapshot: &PortfolioSnapshot,
    targets: &TargetAllocation,
    limits: &SizeLimits,
) -> HoldDecision {
    if snapshot.locked_usdc[hedge.service].is_zero() {
        return HoldDecision::Close(CloseReason::LockReleased);
    }
    let stuck = locked_excess(snapshot, targets)
        .into_iter()
        .find(|e| e.service == hedge.service);
    let Some(stuck) = stuck else {
        return HoldDecision::Close(CloseReason::DriftResolved);
    };
    // The margin of the hedge itself is already out of the trading cash: it counts as
    // available for its own replacement.
    let own_margin = hedge.notional_usdc / Decimal::from(config.max_leverage.max(1));
    let limits = SizeLimits {
        margin_available_usdc: limits.margin_available_usdc + own_margin,
        ..*limits
    };
    let (wanted, _) = sized(config, stuck.stuck_usdc, hedge.ratio, &limits);
    if wanted < config.min_notional_usdc || wanted <= Decimal::ZERO {
        return HoldDecision::Close(CloseReason::DriftResolved);
    }
    let moved = (wanted - hedge.notional_usdc).abs();
    if moved > hedge.notional_usdc / Decimal::TWO && moved >= config.min_notional_usdc {
        HoldDecision::Resize {
            notional_usdc: wanted,
        }
    } else {
        HoldDecision::Keep
    }
}

/// The services of `excess`, for [`request_due`]'s memory.
pub fn services_of(excess: &[LockedExcess]) -> Vec<Service> {
    excess.iter().map(|e| e.service).collect()
}

#[cfg(test)]
mod tests;
