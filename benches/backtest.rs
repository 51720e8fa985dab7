//! Times the backtester on the reference work and prints one JSON document, for
//! `benches/vs_python_backtest.sh` (which runs `run_backtest.py` beside it). By hand:
//! `cargo bench -p ballast --bench backtest -- [services_3650.csv] [paths] [days]`.
//!
//! - one path: hybrid (daily check, 5-point band, 30-day floor), 10 bps, targets
//!   20/30/15/15/10/10 on `services_3650.csv`, as `numpy_loop` and `pandas_loop`;
//! - Monte Carlo: 1,000 paths × 3,650 days of the venue-like model, hybrid, on every core,
//!   as `numpy_paths`. Paths are generated before the clock starts, as the Python generates
//!   `Rp` before timing `numpy_paths`: both sides exclude path generation. Also timed with
//!   every metric computed (the Python computes none), and the generation alone.
//!
//! Each measurement repeats until its time budget has passed (at least 3 runs) and reports
//! the median, the statistic the Python side reports.

use std::{
    hint::black_box,
    path::PathBuf,
    time::{Duration, Instant},
};

use ballast::{
    backtest::{
        N, Row,
        engine::{BacktestConfig, NoEvents, PathInput, run_path},
        montecarlo::{run_paths_bare, run_with_metrics},
        paths::{PathSource, ServicesModel, parse_returns_csv},
    },
    policy::rules::{Band, RebalanceTo, RuleConfig},
};
use rayon::prelude::*;
use serde_json::json;

fn median_ms<T>(budget_ms: u64, max_runs: usize, mut f: impl FnMut() -> T) -> f64 {
    let budget = Duration::from_millis(budget_ms);
    let start = Instant::now();
    let mut samples = Vec::new();
    while samples.len() < 3 || (start.elapsed() < budget && samples.len() < max_runs) {
        let t = Instant::now();
        black_box(f());
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; positional arguments follow `--`.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let csv = args.first().map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/anchors/data/services_3650.csv")
        },
        PathBuf::from,
    );
    let paths: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let days: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(3650);
    let text = std::fs::read_to_string(&csv).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
    let returns = parse_returns_csv(&text).unwrap_or_else(|e| panic!("{}: {e}", csv.display()));
    let config = BacktestConfig {
        targets: [0.20, 0.30, 0.15, 0.15, 0.10, 0.10],
        rule: RuleConfig::hybrid(Band::Absolute { points: 0.05 }, 30, RebalanceTo::Target),
        cost_bps: 10.0,
        min_trade_usdc: 0.0,
        initial_usdc: 10_000.0,
    };
    let one = || {
        run_path(
            &config,
            PathInput {
                returns: &returns,
                flows_usdc: None,
            },
            &mut (),
            &mut NoEvents,
        )
    };
    let outcome = one();
    let one_path_ms = median_ms(1000, 100_000, one);
    let one_path_metrics_ms = median_ms(1000, 100_000, || {
        run_with_metrics(
            &config,
            PathInput {
                returns: &returns,
                flows_usdc: None,
            },
            0.05,
            0.0,
        )
    });

    let model = ServicesModel::default();
    let generate = || -> Vec<Vec<Row>> {
        (0..paths)
            .into_par_iter()
            .map(|k| {
                let mut path = vec![[0.0; N]; days];
                PathSource::Model(&model).fill(1000, k as u64, &mut path);
                path
            })
            .collect()
    };
    let t = Instant::now();
    let generated = generate();
    let generate_ms = t.elapsed().as_secs_f64() * 1e3;
    let mc_ms = median_ms(3000, 50, || run_paths_bare(&config, &generated));
    let mc_metrics_ms = median_ms(3000, 20, || {
        generated
            .par_iter()
            .map(|returns| {
                run_with_metrics(
                    &config,
                    PathInput {
                        returns,
                        flows_usdc: None,
                    },
                    0.05,
                    0.0,
                )
                .outcome
                .final_value_usdc
            })
            .collect::<Vec<f64>>()
    });
    // The floor any kernel reading these paths meets: summing every return once (48 bytes a
    // path-day from memory), on the same threads.
    let stream_ms = median_ms(3000, 50, || {
        generated
            .par_iter()
            .map(|p| p.iter().map(|r| r.iter().sum::<f64>()).sum::<f64>())
            .sum::<f64>()
    });
    let outcomes = run_paths_bare(&config, &generated);
    let mut finals: Vec<f64> = outcomes.iter().map(|o| o.final_value_usdc).collect();
    finals.sort_by(f64::total_cmp);
    let mean_rebalances =
        outcomes.iter().map(|o| o.rebalances as f64).sum::<f64>() / outcomes.len() as f64;
    let path_days = (paths * days) as f64;
    let doc = json!({
        "threads": rayon::current_num_threads(),
        "one_path": {
            "days": returns.len(),
            "median_ms": one_path_ms,
            "with_metrics_median_ms": one_path_metrics_ms,
            "final_value": outcome.final_value_usdc,
            "rebalances": outcome.rebalances,
            "amount_moved": outcome.amount_moved_usdc,
        },
        "monte_carlo": {
            "paths": paths,
            "days": days,
            "median_ms": mc_ms,
            "path_days_per_s": path_days / (mc_ms / 1e3),
            "with_metrics_median_ms": mc_metrics_ms,
            "with_metrics_path_days_per_s": path_days / (mc_metrics_ms / 1e3),
            "generation_ms": generate_ms,
            "stream_sum_median_ms": stream_ms,
            "stream_sum_path_days_per_s": path_days / (stream_ms / 1e3),
            "median_final_value": finals[finals.len() / 2],
            "mean_rebalances": mean_rebalances,
        }
    });
    println!("{doc}");
}
