//! `ballast kelly`: the article's binary fractional-Kelly bet size — 52% at 1:1 with quarter
//! Kelly stakes 1% of the bankroll. A bet without a positive edge is refused with an error that
//! says so (Kelly stakes nothing), never sized.
//!
//! # Invariants
//! - `--json` prints exactly one JSON document; bad input exits non-zero naming its flag.

use ballast::math::kelly::{BinaryKelly, DEFAULT_MULTIPLIER, binary_kelly};

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
    /// Bankroll in USDC.
    #[arg(long, default_value_t = 1000.0)]
    pub bankroll: f64,
    /// Print one JSON document; set from the global `--json` flag.
    #[arg(skip)]
    pub json: bool,
}

/// Sizes the bet.
///
/// # Errors
/// Out-of-range arguments and a non-positive edge, each naming the cause.
pub fn execute(args: &Args) -> anyhow::Result<BinaryKelly> {
    Ok(binary_kelly(
        args.win_prob,
        args.odds,
        args.fraction,
        args.bankroll,
    )?)
}

/// Prints the bet size.
///
/// # Errors
/// As [`execute`].
pub fn run(args: &Args) -> anyhow::Result<()> {
    let k = execute(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&k)?);
        return Ok(());
    }
    println!(
        "edge {:.2}% per unit staked; full Kelly {:.2}% of bankroll; at {}× Kelly stake {:.2}% = {:.2} USDC",
        100.0 * k.edge,
        100.0 * k.full_fraction,
        k.multiplier,
        100.0 * k.fraction,
        k.stake
    );
    println!("expected log growth per bet {:.3e}", k.growth_per_bet);
    Ok(())
}
