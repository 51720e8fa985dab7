//! Casino payouts held in crypto: the casino's value follows BTC by a known ratio, so its
//! returns carry a configured correlation with BTC-PERP that a hedge-ratio estimate can be
//! tested against.
//!
//! `CasinoParams::btc_correlation` is ρ. At start the venue measures the casino's own daily
//! volatility σ_c and BTC's σ_b from a calibration pass of its synthetic history, and sets
//! `β = ρ / √(1 − ρ²) · σ_c / σ_b`: adding `β · r_btc` to returns whose own part has σ_c
//! and is independent of BTC gives them correlation ρ with BTC, and β is the
//! minimum-variance hedge ratio (reported as `casino_btc_beta` in `/sim/stats`). At every
//! BTC mark move the casino's cash is marked by `β × r × cash`, in the synthetic history and
//! live alike, announced as a casino `mark_to_market`.
//!
//! # Invariants
//! - With ρ = 0 nothing here runs: no calibration pass, no mark, the venue as before.
//! - A mark never takes the casino below zero and is whole cents; a zero mark is skipped.

use rust_decimal::Decimal;
use time::OffsetDateTime;

use super::Engine;
use crate::{
    money::{decimal_from_f64, decimal_to_f64, round_cents},
    service::Service,
    sim::{ledger::Op, markets::Asset},
    venue::protocol::EventFrame,
};

/// The casino's mark for a BTC move from `btc_before` to `btc_after` on `casino_usdc` of
/// cash, at ratio `beta`; `None` when it rounds to nothing.
pub(super) fn casino_crypto_mark(
    beta: f64,
    btc_before: Decimal,
    btc_after: Decimal,
    casino_usdc: Decimal,
) -> Option<Op> {
    if beta == 0.0 || btc_before <= Decimal::ZERO || btc_before == btc_after {
        return None;
    }
    let r = decimal_to_f64(btc_after) / decimal_to_f64(btc_before) - 1.0;
    let change = decimal_from_f64(beta * r, "casino crypto mark").ok()?;
    let pnl_usdc = round_cents(casino_usdc * change).max(-casino_usdc);
    (!pnl_usdc.is_zero()).then_some(Op::MarkToMarket {
        service: Service::Casino,
        pnl_usdc,
        fee_usdc: Decimal::ZERO,
    })
}

/// The ratio that gives returns whose own part has the volatility of `own` a correlation
/// of `correlation` with returns like `btc`: `ρ / √(1 − ρ²) · σ_own / σ_btc` (0 when either
/// series is too short or flat).
pub(super) fn calibrate_beta(correlation: f64, own: &[f64], btc: &[f64]) -> f64 {
    let (sd_own, sd_btc) = (std_dev(own), std_dev(btc));
    if correlation == 0.0 || !(sd_own > 0.0 && sd_btc > 0.0) {
        return 0.0;
    }
    let beta = correlation / (1.0 - correlation * correlation).sqrt() * sd_own / sd_btc;
    if beta.is_finite() { beta } else { 0.0 }
}

fn std_dev(series: &[f64]) -> f64 {
    if series.len() < 2 {
        return 0.0;
    }
    let n = series.len() as f64;
    let mean = series.iter().sum::<f64>() / n;
    (series.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

impl Engine {
    /// The casino's ratio to BTC (0 when uncorrelated).
    pub fn casino_btc_beta(&self) -> f64 {
        self.casino_btc_beta
    }

    /// Marks the casino to BTC's move since `btc_before`, after an hour's market moves.
    pub(super) fn mark_casino_to_crypto(
        &mut self,
        hour_end: OffsetDateTime,
        btc_before: Decimal,
        frames: &mut Vec<EventFrame>,
    ) {
        let btc_after = self.ledger.prices()[Asset::Btc];
        let casino_usdc = self.ledger.balances()[Service::Casino];
        if let Some(op) =
            casino_crypto_mark(self.casino_btc_beta, btc_before, btc_after, casino_usdc)
        {
            self.apply_model_ops(hour_end, vec![op], frames);
        }
    }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn marks_follow_btc_by_beta() {
        struct TestCase {
            beta: f64,
            btc_after: Decimal,
            casino_usdc: Decimal,
            expected: Option<Decimal>,
        }
        let cases = [
            // TC0: BTC +2% at β = 0.5 on 200: +2.00.
            TestCase {
                beta: 0.5,
                btc_after: dec!(102000),
                casino_usdc: dec!(200),
                expected: Some(dec!(2.00)),
            },
            // TC1: no correlation, no mark.
            TestCase {
                beta: 0.0,
                btc_after: dec!(102000),
                casino_usdc: dec!(200),
                expected: None,
            },
            // TC2: a huge ratio never takes the casino below zero.
            TestCase {
                beta: 100.0,
                btc_after: dec!(90000),
                casino_usdc: dec!(200),
                expected: Some(dec!(-200)),
            },
            // TC3: less than a cent is skipped.
            TestCase {
                beta: 0.5,
                btc_after: dec!(100001),
                casino_usdc: dec!(1),
                expected: None,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let op = casino_crypto_mark(case.beta, dec!(100000), case.btc_after, case.casino_usdc);
            let pnl = op.map(|op| match op {
                Op::MarkToMarket { pnl_usdc, .. } => pnl_usdc,
                other => panic!("TC{i}: {other:?}"),
            });
            assert_eq!(pnl, case.expected, "TC{i}");
        }
    }

    #[test]
    fn calibration_gives_the_correlation_asked_for() {
        // own and btc uncorrelated by construction (alternating against a ramp).
        let btc: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 0.02 } else { -0.02 })
            .collect();
        let own: Vec<f64> = (0..200)
            .map(|i| if (i / 2) % 2 == 0 { 0.1 } else { -0.1 })
            .collect();
        let beta = calibrate_beta(0.6, &own, &btc);
        let mixed: Vec<f64> = own.iter().zip(&btc).map(|(o, b)| o + beta * b).collect();
        let n = mixed.len() as f64;
        let (mm, mb) = (mixed.iter().sum::<f64>() / n, btc.iter().sum::<f64>() / n);
        let cov: f64 = mixed
            .iter()
            .zip(&btc)
            .map(|(m, b)| (m - mm) * (b - mb))
            .sum();
        let var_m: f64 = mixed.iter().map(|m| (m - mm).powi(2)).sum();
        let var_b: f64 = btc.iter().map(|b| (b - mb).powi(2)).sum();
        let rho = cov / (var_m.sqrt() * var_b.sqrt());
        assert!((rho - 0.6).abs() < 1e-9, "{rho}");
        assert_eq!(calibrate_beta(0.0, &own, &btc), 0.0);
        assert_eq!(calibrate_beta(0.5, &[0.1], &btc), 0.0);
    }
}
