//! `ballast kelly`: the article's binary fractional-Kelly bet size — 52% at 1:1 with quarter
//! Kelly stakes 1% of the bankroll. A bet without a positive edge gets the article's answer, a
//! stake of 0, with the (negative) edge shown, and the command succeeds.
//!
//! The fractions are `f64` (the math); the bankroll and the stake are money, `Decimal` USDC. The
//! stake is `bankroll × fraction` in whole cents, rounded toward zero so it never exceeds what
//! Kelly allows; the fraction is first rounded to [`FRACTION_DP`] places so that `f64` noise
//! (0.52 − 0.48 is 0.04000000000000004) cannot tip a stake across a cent.
//!
//! # Invariants
//! - `--json` prints exactly one JSON document; bad input exits non-zero naming its flag.
//! - Money in the JSON is a decimal string (`"stake_usdc": "10.00"`), as in every command's
//!   output; ratios are JSON numbers rounded to [`RATIO_DP`] places, so `0.04` never reads
//!   `0.04000000000000004`.

use anyhow::Context;
use ballast::{
    math::{
        MathError,
        kelly::{DEFAULT_MULTIPLIER, binary_kelly},
    },
    money::{decimal_from_f64, decimal_to_f64, round_cents},
};
use rust_decimal::Decimal;
use serde::Serialize;

/// Decimal places the staked fraction keeps before it multiplies the bankroll: far below a cent
/// for any bankroll under 10^10 USDC, far above `f64` rounding noise.
pub const FRACTION_DP: u32 = 12;

/// Decimal places of the ratios printed (edge, fractions, growth): what `f64` arithmetic
/// leaves beyond them is noise.
pub const RATIO_DP: i32 = 12;

/// `x` rounded to [`RATIO_DP`] decimal places.
fn denoise(x: f64) -> f64 {
    let scale = 10_f64.powi(RATIO_DP);
    (x * scale).round() / scale
}

/// `ballast kelly` flags.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Probability of winning, in (0, 1).
    #[arg(long)]
    pub win_prob: f64,
    /// Net odds: profit per unit staked on a win (1 for even money).
    #[arg(long)]
    pub odds: f64,
    /// Fraction of full Kelly to stake, in (0, 1].
    #[arg(long, default_value_t = DEFAULT_MULTIPLIER)]
    pub fraction: f64,
    /// Bankroll in USDC (a decimal amount).
    #[arg(long = "bankroll", value_name = "USDC", default_value = "1000")]
    pub bankroll_usdc: Decimal,
}

/// A sized bet, as printed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Output {
    /// Expected profit per unit staked: `odds·p − (1 − p)`.
    pub edge: f64,
    /// Full-Kelly fraction of the bankroll.
    pub full_fraction: f64,
    /// The multiplier applied (`--fraction`).
    pub multiplier: f64,
    /// Fraction of the bankroll staked.
    pub fraction: f64,
    /// The bankroll, USDC.
    pub bankroll_usdc: Decimal,
    /// The stake, USDC, whole cents rounded toward zero.
    pub stake_usdc: Decimal,
    /// Expected log growth per bet at the staked fraction.
    pub growth_per_bet: f64,
    /// Whether the bet has a positive edge; without one Kelly stakes nothing.
    pub has_edge: bool,
}

/// Sizes the bet; a bet without a positive edge stakes 0.
///
/// # Errors
/// Out-of-range arguments, each naming the cause.
pub fn execute(args: &Args) -> anyhow::Result<Output> {
    if args.bankroll_usdc < Decimal::ZERO {
        anyhow::bail!("--bankroll: {} USDC is negative", args.bankroll_usdc);
    }
    let sized = binary_kelly(
        args.win_prob,
        args.odds,
        args.fraction,
        decimal_to_f64(args.bankroll_usdc),
    );
    let k = match sized {
        Err(MathError::NoEdge { edge, .. }) => {
            return Ok(Output {
                edge: denoise(edge),
                full_fraction: 0.0,
                multiplier: args.fraction,
                fraction: 0.0,
                bankroll_usdc: args.bankroll_usdc,
                stake_usdc: Decimal::new(0, 2),
                growth_per_bet: 0.0,
                has_edge: false,
            });
        }
        other => other?,
    };
    let fraction = decimal_from_f64(k.fraction, "staked fraction")?.round_dp(FRACTION_DP);
    let stake_usdc = args
        .bankroll_usdc
        .checked_mul(fraction)
        .map(round_cents)
        .with_context(|| format!("--bankroll: {} USDC is too large", args.bankroll_usdc))?;
    Ok(Output {
        edge: denoise(k.edge),
        full_fraction: denoise(k.full_fraction),
        multiplier: k.multiplier,
        fraction: denoise(k.fraction),
        bankroll_usdc: args.bankroll_usdc,
        stake_usdc,
        growth_per_bet: denoise(k.growth_per_bet),
        has_edge: true,
    })
}

/// Prints the bet size.
///
/// # Errors
/// As [`execute`].
pub fn run(args: &Args, json: bool) -> anyhow::Result<()> {
    let k = execute(args)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&k)?)?;
        return Ok(());
    }
    if !k.has_edge {
        crate::outln!(
            "no edge: {:.2}% per unit staked (win {:.1}% at {}:1); Kelly stakes nothing: {} USDC",
            100.0 * k.edge,
            100.0 * args.win_prob,
            args.odds,
            k.stake_usdc
        )?;
        return Ok(());
    }
    crate::outln!(
        "edge {:.2}% per unit staked; full Kelly {:.2}% of bankroll; at {}× Kelly stake {:.2}% = {} USDC",
        100.0 * k.edge,
        100.0 * k.full_fraction,
        k.multiplier,
        100.0 * k.fraction,
        k.stake_usdc
    )?;
    crate::outln!("expected log growth per bet {:.3e}", k.growth_per_bet)?;
    Ok(())
}
