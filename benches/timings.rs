//! Times the Rust side of the speed table on the anchor datasets and prints one JSON
//! document: median milliseconds and accuracy per (dataset, method). `benches/vs_python.sh` runs
//! it beside the Python anchors; by hand:
//! `cargo bench -p ballast --bench timings -- ../shared/anchors services_730 factor_100`.
//!
//! Each measurement repeats the call until ~0.3 s have passed (at least 5 runs, at most 20,000)
//! and reports the median, the statistic the Python side reports.

use std::{
    hint::black_box,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use ballast::math::{
    MarketModel, WeightBounds, frontier::efficient_frontier, markowitz, returns::ReturnsTable,
    risk_parity::risk_budget,
};
use serde_json::{Value, json};

fn median_ms<T>(mut f: impl FnMut() -> T) -> f64 {
    let budget = Duration::from_millis(300);
    let start = Instant::now();
    let mut samples = Vec::new();
    while samples.len() < 5 || (start.elapsed() < budget && samples.len() < 20_000) {
        let t = Instant::now();
        black_box(f());
        samples.push(t.elapsed().as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn vec_of(v: &Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}

fn max_abs(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn run(dir: &Path, name: &str) -> Result<Vec<Value>, String> {
    let csv = std::fs::read_to_string(dir.join(format!("data/{name}.csv")))
        .map_err(|e| format!("{name}.csv: {e}"))?;
    let exp: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("expected/{name}.json")))
            .map_err(|e| format!("{name}.json: {e}"))?,
    )
    .map_err(|e| e.to_string())?;
    let table = ReturnsTable::from_csv(&csv).map_err(|e| e.to_string())?;
    let n = table.assets();
    let cov = table.sample_covariance().map_err(|e| e.to_string())?;
    let model = MarketModel::new(table.names().to_vec(), table.annual_mean(), cov.clone())
        .map_err(|e| e.to_string())?;
    let b = vec_of(&exp["bounds"]);
    let bounds = WeightBounds::uniform(n, b[0], b[1]).map_err(|e| e.to_string())?;
    let fb = vec_of(&exp["frontier"]["bounds"]);
    let fbounds = WeightBounds::uniform(n, fb[0], fb[1]).map_err(|e| e.to_string())?;
    let rf = exp["rf"].as_f64().unwrap_or(0.045);
    let mut rows = Vec::new();
    let mut row = |method: &str, ms: f64, quality: String| {
        rows.push(
            json!({"dataset": name, "n": n, "method": method, "median_ms": ms, "quality": quality}),
        );
    };

    let ms = median_ms(|| table.ledoit_wolf());
    let lw = table.ledoit_wolf();
    let s_ref = exp["ledoit_wolf"]["shrinkage"].as_f64().unwrap_or(f64::NAN);
    row(
        "ledoit-wolf",
        ms,
        format!(
            "shrinkage err {:.1e}",
            (lw.shrinkage.unwrap_or(f64::NAN) - s_ref).abs()
        ),
    );

    let ms = median_ms(|| risk_budget(&cov, None));
    let rp = risk_budget(&cov, None).map_err(|e| e.to_string())?;
    row(
        "risk-parity",
        ms,
        format!(
            "RC err {:.1e}, max abs(w-ref) {:.1e}",
            rp.max_rel_error,
            max_abs(&rp.weights, &vec_of(&exp["risk_parity"]["weights"]))
        ),
    );

    let ms = median_ms(|| markowitz::min_variance(&model, &bounds));
    let mv = markowitz::min_variance(&model, &bounds).map_err(|e| e.to_string())?;
    row(
        "min-variance",
        ms,
        format!(
            "max abs(w-ref) {:.1e}",
            max_abs(&mv.weights, &vec_of(&exp["min_variance"]["weights"]))
        ),
    );

    let ms = median_ms(|| markowitz::max_sharpe(&model, &bounds, rf));
    let msr = markowitz::max_sharpe(&model, &bounds, rf).map_err(|e| e.to_string())?;
    row(
        "max-sharpe",
        ms,
        format!(
            "max abs(w-ref) {:.1e}",
            max_abs(&msr.weights, &vec_of(&exp["max_sharpe"]["weights"]))
        ),
    );

    let ms = median_ms(|| efficient_frontier(&model, &fbounds, 50));
    let f = efficient_frontier(&model, &fbounds, 50).map_err(|e| e.to_string())?;
    let refs = exp["frontier"]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let err = f
        .points
        .iter()
        .zip(&refs)
        .map(|(p, r)| max_abs(&p.weights, &vec_of(&r["weights"])))
        .fold(0.0, f64::max);
    row(
        "frontier-50",
        ms,
        format!("{}/50 points, max abs(w-ref) {:.1e}", f.points.len(), err),
    );
    Ok(rows)
}

fn main() {
    // `cargo bench` passes `--bench`; everything not starting with `-` is ours.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let Some((dir, names)) = args.split_first() else {
        eprintln!("usage: timings ANCHORS_DIR DATASET...");
        return;
    };
    let dir = PathBuf::from(dir);
    let names: Vec<&str> = if names.is_empty() {
        vec!["services_730", "factor_20", "factor_100", "factor_500"]
    } else {
        names.iter().map(String::as_str).collect()
    };
    let mut rows = Vec::new();
    for name in names {
        match run(&dir, name) {
            Ok(r) => rows.extend(r),
            Err(e) => eprintln!("skipping {name}: {e}"),
        }
    }
    println!("{}", Value::Array(rows));
}
