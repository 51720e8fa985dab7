//! Criterion benchmarks of every portfolio-math method at n = 6, 20, 100 and 500 assets, on
//! deterministic synthetic data shaped like the anchors (a 3-factor model with fat-ish tails,
//! 730 days; bounds as the anchors use per size). `cargo bench -p ballast --bench math`.
//!
//! The comparison with the Python libraries on the anchor data itself is
//! `benches/vs_python.sh` (through the `timings` bench).

use std::hint::black_box;

use ballast::math::{
    MarketModel, WeightBounds,
    black_litterman::{BlackLitterman, View, posterior},
    frontier::efficient_frontier,
    hedge::min_variance_hedge,
    kelly::{binary_kelly, kelly_portfolio},
    markowitz::{max_sharpe, min_variance},
    returns::ReturnsTable,
    risk_parity::risk_budget,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

const DAYS: usize = 730;
const SIZES: [usize; 4] = [6, 20, 100, 500];

/// splitmix64: a tiny deterministic generator, so the benches need no rand dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn table(n: usize, seed: u64) -> ReturnsTable {
    let mut rng = Rng(seed);
    let loads: Vec<f64> = (0..n * 3).map(|_| 0.5 + 0.5 * rng.normal()).collect();
    let idio: Vec<f64> = (0..n).map(|_| 0.008 + 0.032 * rng.uniform()).collect();
    let mu: Vec<f64> = (0..n).map(|_| -0.0002 + 0.001 * rng.uniform()).collect();
    let vols = [0.012, 0.007, 0.005];
    let mut data = Vec::with_capacity(DAYS * n);
    for _ in 0..DAYS {
        let f: Vec<f64> = vols.iter().map(|v| v * rng.normal()).collect();
        for i in 0..n {
            let common: f64 = (0..3).map(|k| loads[i * 3 + k] * f[k]).sum();
            data.push(mu[i] + common + idio[i] * rng.normal());
        }
    }
    let names = (0..n).map(|i| format!("a{i:03}")).collect();
    ReturnsTable::new(names, data).expect("valid synthetic returns")
}

fn bounds_for(n: usize) -> WeightBounds {
    let (lo, hi) = match n {
        0..=6 => (0.02, 0.60),
        7..=20 => (0.0, 0.15),
        21..=100 => (0.0, 0.05),
        _ => (0.0, 0.02),
    };
    WeightBounds::uniform(n, lo, hi).expect("feasible bounds")
}

struct Case {
    n: usize,
    table: ReturnsTable,
    model: MarketModel,
    bounds: WeightBounds,
}

fn cases() -> Vec<Case> {
    SIZES
        .iter()
        .map(|&n| {
            let table = table(n, 42 + n as u64);
            let cov = table.sample_covariance().expect("enough rows");
            let model = MarketModel::new(table.names().to_vec(), table.annual_mean(), cov)
                .expect("valid model");
            Case {
                n,
                table,
                model,
                bounds: bounds_for(n),
            }
        })
        .collect()
}

fn bench_methods(c: &mut Criterion) {
    let cases = cases();
    let mut g = c.benchmark_group("math");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_millis(300));
    g.measurement_time(std::time::Duration::from_secs(1));
    for case in &cases {
        let n = case.n;
        g.bench_with_input(BenchmarkId::new("sample_covariance", n), case, |b, c| {
            b.iter(|| black_box(c.table.sample_covariance()))
        });
        g.bench_with_input(BenchmarkId::new("ledoit_wolf", n), case, |b, c| {
            b.iter(|| black_box(c.table.ledoit_wolf()))
        });
        g.bench_with_input(BenchmarkId::new("risk_parity", n), case, |b, c| {
            b.iter(|| black_box(risk_budget(c.model.cov(), None)))
        });
        g.bench_with_input(BenchmarkId::new("min_variance", n), case, |b, c| {
            b.iter(|| black_box(min_variance(&c.model, &c.bounds)))
        });
        g.bench_with_input(BenchmarkId::new("max_sharpe", n), case, |b, c| {
            b.iter(|| black_box(max_sharpe(&c.model, &c.bounds, 0.045)))
        });
        g.bench_with_input(BenchmarkId::new("frontier_50", n), case, |b, c| {
            b.iter(|| black_box(efficient_frontier(&c.model, &c.bounds, 50)))
        });
        g.bench_with_input(BenchmarkId::new("kelly_portfolio", n), case, |b, c| {
            b.iter(|| black_box(kelly_portfolio(&c.model, &c.bounds, 0.045, 0.25)))
        });
        let params = BlackLitterman {
            prior_weights: vec![1.0 / n as f64; n],
            risk_aversion: 2.5,
            tau: 0.05,
            views: vec![View {
                portfolio: (0..n)
                    .map(|i| match i {
                        0 => 1.0,
                        1 => -1.0,
                        _ => 0.0,
                    })
                    .collect(),
                expected_return: 0.05,
                confidence: Some(0.6),
            }],
        };
        g.bench_with_input(BenchmarkId::new("black_litterman", n), case, |b, c| {
            b.iter(|| black_box(posterior(&c.model, &params)))
        });
        let (s, p) = (case.table.column(0), case.table.column(n - 1));
        g.bench_with_input(BenchmarkId::new("hedge_ratio", n), case, |b, _| {
            b.iter(|| black_box(min_variance_hedge(&s, &p)))
        });
    }
    g.bench_function("binary_kelly", |b| {
        b.iter(|| black_box(binary_kelly(black_box(0.52), 1.0, 0.25, 1000.0)))
    });
    g.finish();
}

criterion_group!(benches, bench_methods);
criterion_main!(benches);
