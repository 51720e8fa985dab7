//! `ballast optimize`: target weights by one of the optimizers — risk parity (risk budgeting),
//! minimum variance, maximum Sharpe, Black–Litterman (posterior then maximum Sharpe) or
//! fractional Kelly — with risk contributions, expected return, volatility, Sharpe ratio and
//! solver status.
//!
//! Two sources. Without `--returns` it previews the targets a run would use: it reads the
//! venue's `/returns` (`--venue URL`, or the configured venue, the embedded simulated one by
//! default) and the current portfolio, and solves exactly as the live Optimizer does
//! ([`ballast::optimizer::compute_targets_near`] with `[optimizer]`: method, bounds,
//! covariance, views, turnover controls), reporting how much of the portfolio the targets
//! would move and whether the bounds make equal risk impossible. With `--returns FILE.csv` it
//! optimizes any assets of a CSV, as follows.
//!
//! Risk parity holds an asset named `reserve` at the reserve's `[targets]` weight (the article's
//! 10% by default): the reserve is nearly riskless and unconstrained risk parity would pour most
//! of the money into it. Black–Litterman holds it at its prior weight, because maximum Sharpe is
//! indifferent to how much of a riskless asset it holds.
//! `--hold none` turns that off; `--hold NAME=W` holds another asset. The parameters are built
//! by `ballast::optimizer::method_params` and solved by `ballast::math::methods::solve`, as the
//! Optimizer actor's are; this command only turns flags into their inputs. Black–Litterman views
//! state total annual returns (see that module for how the risk-free rate enters).
//!
//! # Invariants
//! - `--json` prints exactly one JSON document; bad input is an error naming its flag.
//! - What a flag leaves open comes from the configuration (`[optimizer]`; `--config FILE` and
//!   `BALLAST__` variables apply): no default value is written here.
//! - Only finite weights within bounds that sum to 1 are printed (the library guarantees it).

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::{Context, anyhow, bail};
use ballast::{
    math::{
        MarketModel,
        black_litterman::View,
        methods::{self, OptimizerMethod},
        returns::{CovarianceMethod, Repair},
    },
    money::decimal_to_f64,
    optimizer::{
        EqualRiskGap, MethodInputs, OptimizerConfig, TurnoverDiagnostics, compute_targets_near,
        method_params,
    },
    service::Service,
    venue::client::VenueClient,
};
use serde::{Deserialize, Serialize};

use super::{
    flags::config_names,
    math_common::{ModelArgs, by_name, ordered, parse_bounds, parse_named},
    venue,
};
use crate::{format::pct_f64, settings::Validated};

/// `ballast optimize` flags. Those without a value take the configuration's (`--config FILE`
/// and `BALLAST__OPTIMIZER__...` apply, as to every command).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Without `--returns`, the venue's `/returns` (see `--venue`); there `--bounds` defaults
    /// to `optimizer.bound_lo`/`bound_hi`.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Without `--returns`: the venue to read `/returns` and the portfolio from (default: the
    /// configured venue; the embedded simulated one unless `venue.mode = "remote"`).
    #[arg(long, conflicts_with = "returns")]
    pub venue: Option<String>,
    /// The optimizer: risk budgeting (equal risk contributions unless `--budgets`; `--bounds`
    /// switch it to the constrained formulation and bound the held asset's weight too),
    /// minimum variance, maximum Sharpe at `--rf`, Black–Litterman from `--views` then maximum
    /// Sharpe, or fractional Kelly (`--kelly-multiplier`) (default: `optimizer.method`).
    #[arg(long, value_parser = config_names(|method: &OptimizerMethod| method.estimates()))]
    pub method: Option<OptimizerMethod>,
    /// Risk budgets `name=b,...` summing to 1 (risk parity; over the assets not held).
    #[arg(long)]
    pub budgets: Option<String>,
    /// Risk parity and Black–Litterman: hold `NAME=W` fixed and allocate the rest; `none` to hold
    /// nothing (default, when an asset is named `reserve`: it at its `[targets]` weight for risk
    /// parity, at its prior weight for Black–Litterman).
    #[arg(long)]
    pub hold: Option<String>,
    /// Annual risk-free rate (max-Sharpe, Black–Litterman, Kelly, and the reported Sharpe;
    /// default: `optimizer.risk_free_rate`).
    #[arg(long)]
    pub rf: Option<f64>,
    /// Views for Black–Litterman (TOML; see `ViewsFile`).
    #[arg(long)]
    pub views: Option<PathBuf>,
    /// Fraction of full Kelly (method kelly), in (0, 1] (default: `optimizer.kelly_multiplier`).
    #[arg(long)]
    pub kelly_multiplier: Option<f64>,
}

/// The `--views` file:
///
/// ```toml
/// tau = 0.05            # prior uncertainty scale (default optimizer.black_litterman.tau)
/// risk_aversion = 2.5   # δ of the equilibrium prior (default ...black_litterman.risk_aversion)
/// prior = { casino = 0.2, trading = 0.3, wallet = 0.15, domains = 0.15, escrow = 0.1, reserve = 0.1 }
/// [[views]]
/// portfolio = { trading = 1.0, wallet = -1.0 }   # trading beats wallet ...
/// expected_return = 0.05                          # ... by 5% a year (total return)
/// confidence = 0.6                                # Idzorek; omit for He–Litterman
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewsFile {
    /// τ.
    pub tau: Option<f64>,
    /// δ.
    pub risk_aversion: Option<f64>,
    /// Market or target weights of the prior (default equal weights).
    pub prior: Option<BTreeMap<String, f64>>,
    /// The views.
    #[serde(default)]
    pub views: Vec<ViewEntry>,
}

/// One view in the `--views` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewEntry {
    /// Asset weights of the view portfolio (assets not named get 0).
    pub portfolio: BTreeMap<String, f64>,
    /// Annual return asserted for that portfolio.
    pub expected_return: f64,
    /// Idzorek confidence in (0, 1].
    pub confidence: Option<f64>,
}

/// What `optimize` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    /// The method run.
    pub method: OptimizerMethod,
    /// Weights by asset.
    pub weights: BTreeMap<String, f64>,
    /// Risk contributions by asset (sum to 1).
    pub risk_contributions: BTreeMap<String, f64>,
    /// Annualized expected return.
    pub expected_return: f64,
    /// Annualized volatility.
    pub volatility: f64,
    /// Sharpe ratio at `rf`; `null` when the portfolio's volatility is zero (undefined).
    pub sharpe: Option<f64>,
    /// `optimal`, or `bounded` when the bounds make equal risk impossible (risk parity from the
    /// venue); anything else is an error.
    pub status: &'static str,
    /// The solver that produced the weights.
    pub solver: String,
    /// Covariance estimator.
    pub covariance: CovarianceMethod,
    /// Ledoit–Wolf shrinkage intensity.
    pub shrinkage: Option<f64>,
    /// Covariance repair applied.
    pub repair: Repair,
    /// Risk parity: largest relative risk-contribution error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rc_max_rel_error: Option<f64>,
    /// Risk parity: the asset held fixed and its weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<(String, f64)>,
    /// Kelly: approximate annual log growth.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub growth_rate: Option<f64>,
    /// Black–Litterman: posterior expected returns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub posterior_mean: Option<BTreeMap<String, f64>>,
    /// Where the returns came from: `--returns FILE`, or the venue's URL.
    pub source: String,
    /// From the venue: how much of the portfolio the targets move from its current weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turnover: Option<TurnoverDiagnostics>,
    /// From the venue, risk parity: set when the bounds make equal risk impossible.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equal_risk_gap: Option<EqualRiskGap>,
    /// Asset names in the returns file's column order (for the table; JSON maps are sorted).
    #[serde(skip)]
    pub order: Vec<String>,
}

fn hold_target(
    args: &Args,
    names: &[String],
    default_weight: impl FnOnce(usize) -> f64,
) -> anyhow::Result<Option<(usize, String, f64)>> {
    let (name, weight) = match args.hold.as_deref().map(str::trim) {
        Some("none") => return Ok(None),
        Some(text) => {
            let pairs = parse_named("hold", text)?;
            if pairs.len() != 1 {
                bail!("--hold: give exactly one NAME=W (or `none`)");
            }
            pairs.into_iter().next().context("--hold: empty")?
        }
        None => match names.iter().position(|n| n == "reserve") {
            Some(index) => ("reserve".to_owned(), default_weight(index)),
            None => return Ok(None),
        },
    };
    let index = names
        .iter()
        .position(|n| *n == name)
        .with_context(|| format!("--hold: `{name}` is not an asset in the returns file"))?;
    Ok(Some((index, name, weight)))
}

/// Black–Litterman's prior and views from `--views`, in the model's asset order; the file's
/// `tau` and `risk_aversion` replace the configured ones.
fn read_views(
    path: &PathBuf,
    model: &MarketModel,
    config: &mut OptimizerConfig,
) -> anyhow::Result<(Vec<f64>, Vec<View>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--views {}: cannot read the file", path.display()))?;
    let file: ViewsFile =
        toml::from_str(&text).map_err(|e| anyhow!("--views {}: {e}", path.display()))?;
    let names = model.names();
    let n = names.len();
    let prior = match &file.prior {
        Some(prior) => ordered("views prior", names, prior)?,
        None => vec![1.0 / n as f64; n],
    };
    let mut views = Vec::new();
    for (k, v) in file.views.iter().enumerate() {
        if let Some(unknown) = v.portfolio.keys().find(|a| !names.contains(a)) {
            bail!("--views: view {k} names `{unknown}`, not an asset in the returns file");
        }
        views.push(View {
            portfolio: names
                .iter()
                .map(|a| v.portfolio.get(a).copied().unwrap_or(0.0))
                .collect(),
            expected_return: v.expected_return,
            confidence: v.confidence,
        });
    }
    let bl = &mut config.black_litterman;
    bl.tau = file.tau.unwrap_or(bl.tau);
    bl.risk_aversion = file.risk_aversion.unwrap_or(bl.risk_aversion);
    Ok((prior, views))
}

/// Runs the optimizer and returns what `run` prints; what the flags leave open comes from
/// `validated` (`[optimizer]`, and the reserve's `[targets]` weight that risk parity holds).
///
/// # Errors
/// Bad input (naming its flag) and optimizer errors (naming the cause).
pub fn execute(args: &Args, validated: &Validated) -> anyhow::Result<Output> {
    let mut config = validated.optimizer.clone();
    config.method = args.method.unwrap_or(config.method);
    if !config.method.estimates() {
        bail!(
            "optimizer.method is `fixed`: nothing to compute; give --method (or set \
             optimizer.method) to preview computed targets"
        );
    }
    config.risk_free_rate = args.rf.unwrap_or(config.risk_free_rate);
    config.kelly_multiplier = args.kelly_multiplier.unwrap_or(config.kelly_multiplier);
    let Some(returns) = &args.model.returns else {
        config.covariance = args.model.covariance.unwrap_or(config.covariance);
        return from_venue(args, validated, config);
    };
    let (covariance, loaded) = args.model.load(config.covariance)?;
    config.covariance = covariance;
    let model = &loaded.model;
    let names = model.names().to_vec();
    let mut inputs = MethodInputs {
        bounds: args.model.bounds(names.len())?,
        ..MethodInputs::default()
    };
    if config.method == OptimizerMethod::BlackLitterman {
        let path = args
            .views
            .as_ref()
            .context("--views FILE.toml is required for --method black-litterman")?;
        (inputs.prior, inputs.views) = read_views(path, model, &mut config)?;
    }
    let mut held = None;
    if config.method.holds_reserve() {
        let reserve_target = decimal_to_f64(validated.targets.weight(Service::Reserve));
        let default_weight = |index: usize| match config.method {
            OptimizerMethod::BlackLitterman => inputs.prior[index],
            _ => reserve_target,
        };
        if let Some((i, name, w)) = hold_target(args, &names, default_weight)? {
            inputs.hold = Some((i, w));
            held = Some((name, w));
        }
    }
    if let (OptimizerMethod::RiskParity, Some(text)) = (config.method, &args.budgets) {
        let not_held: Vec<String> = names
            .iter()
            .enumerate()
            .filter(|(k, _)| inputs.hold.is_none_or(|(i, _)| i != *k))
            .map(|(_, a)| a.clone())
            .collect();
        inputs.budgets = Some(ordered(
            "budgets",
            &not_held,
            &parse_named("budgets", text)?,
        )?);
    }
    let params = method_params(&config, inputs)?;
    let result = methods::solve(model, &params)?;
    let weights = result.weights;
    // Report statistics under the sample/LW model the user asked for (for Black–Litterman the
    // weights were chosen under the posterior, but they are judged against the data).
    let stats = model.stats(&weights, config.risk_free_rate);
    Ok(Output {
        method: config.method,
        weights: by_name(&names, &weights),
        risk_contributions: by_name(&names, &model.risk_contributions(&weights)),
        expected_return: stats.expected_return,
        volatility: stats.volatility,
        sharpe: stats.sharpe,
        status: "optimal",
        solver: result.solver.to_owned(),
        covariance: config.covariance,
        shrinkage: loaded.shrinkage,
        repair: loaded.repair,
        rc_max_rel_error: result.rc_max_rel_error,
        held,
        growth_rate: result.growth_rate,
        posterior_mean: result.posterior_mean.map(|m| by_name(&names, &m)),
        source: format!("--returns {}", returns.display()),
        turnover: None,
        equal_risk_gap: None,
        order: names,
    })
}

/// The targets a run would publish now: the venue's `/returns` and current portfolio, solved
/// by the live Optimizer's own function with `config`.
fn from_venue(
    args: &Args,
    validated: &Validated,
    mut config: OptimizerConfig,
) -> anyhow::Result<Output> {
    for (flag, given) in [
        ("--budgets", args.budgets.is_some()),
        ("--hold", args.hold.is_some()),
        ("--views", args.views.is_some()),
    ] {
        if given {
            bail!(
                "{flag}: applies to --returns FILE; the venue preview uses [optimizer] as a run does"
            );
        }
    }
    if let Some(text) = &args.model.bounds {
        let bounds = parse_bounds(text, Service::ALL.len())?;
        (config.bound_lo, config.bound_hi) = (bounds.lo()[0], bounds.hi()[0]);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (url, returns, portfolio) = runtime.block_on(async {
        let api_key = ballast::secret::ApiKey::from_env();
        let venue = venue::open(validated, args.venue.as_deref(), api_key.as_ref()).await?;
        let client = VenueClient::new(
            &venue.url,
            &validated.settings.venue.agent_id,
            api_key,
            validated.request_timeout,
        )?;
        let fetched = async {
            Ok::<_, anyhow::Error>((
                client.returns(config.lookback_days).await?,
                client.portfolio().await?.to_snapshot()?,
            ))
        }
        .await;
        if let Some(sim) = venue.sim {
            sim.shutdown().await;
        }
        let (returns, portfolio) =
            fetched.with_context(|| format!("reading the venue at {}", venue.url))?;
        Ok::<_, anyhow::Error>((venue.url, returns, portfolio))
    })?;
    let history = returns
        .to_history()
        .map_err(|e| anyhow!("venue /returns: {e}"))?;
    let computed = compute_targets_near(
        &history,
        &config,
        &validated.targets,
        &portfolio.balances_usdc,
    )?;
    let d = computed.diagnostics;
    let names: Vec<String> = Service::ALL.iter().map(|s| s.name().to_owned()).collect();
    let weights: Vec<f64> = Service::ALL
        .iter()
        .map(|s| decimal_to_f64(computed.targets.weight(*s)))
        .collect();
    let risk: Vec<f64> = Service::ALL
        .iter()
        .map(|s| d.risk_contributions[*s])
        .collect();
    Ok(Output {
        method: config.method,
        weights: by_name(&names, &weights),
        risk_contributions: by_name(&names, &risk),
        expected_return: d.expected_return,
        volatility: d.volatility,
        sharpe: d.sharpe,
        status: if d.equal_risk_gap.is_some() {
            "bounded"
        } else {
            "optimal"
        },
        solver: d.solver.to_owned(),
        covariance: d.covariance,
        shrinkage: d.shrinkage,
        repair: d.repair,
        rc_max_rel_error: d.rc_max_rel_error,
        held: config.method.holds_reserve().then(|| {
            (
                Service::Reserve.name().to_owned(),
                decimal_to_f64(validated.targets.weight(Service::Reserve)),
            )
        }),
        growth_rate: d.growth_rate,
        posterior_mean: None,
        source: format!("{url} (/returns, {} days)", d.observations),
        turnover: Some(d.turnover),
        equal_risk_gap: d.equal_risk_gap,
        order: names,
    })
}

/// Prints the optimized weights (a table, or one JSON document with `--json`).
///
/// # Errors
/// As [`execute`].
pub fn run(args: &Args, validated: &Validated, json: bool) -> anyhow::Result<()> {
    let out = execute(args, validated)?;
    if json {
        crate::outln!("{}", serde_json::to_string_pretty(&out)?)?;
        return Ok(());
    }
    crate::outln!("returns from {}", out.source)?;
    crate::outln!(
        "{} ({} covariance{}), solver {}: {}",
        out.method,
        serde_json::to_value(out.covariance)?
            .as_str()
            .unwrap_or("?"),
        out.shrinkage
            .map(|s| format!(", shrinkage {s:.4}"))
            .unwrap_or_default(),
        out.solver,
        out.status
    )?;
    crate::outln!("{:<12} {:>8} {:>8}", "asset", "weight", "risk")?;
    for name in &out.order {
        let w = out.weights.get(name).copied().unwrap_or(0.0);
        let rc = out.risk_contributions.get(name).copied().unwrap_or(0.0);
        crate::outln!("{name:<12} {} {}", pct_f64(w), pct_f64(rc))?;
    }
    crate::outln!(
        "expected return {}  volatility {}  {}",
        pct_f64(out.expected_return).trim(),
        pct_f64(out.volatility).trim(),
        out.sharpe.map_or_else(
            || "Sharpe undefined (volatility is zero)".to_owned(),
            |s| format!("Sharpe {s:.3}")
        )
    )?;
    if let Some(e) = out.rc_max_rel_error {
        crate::outln!("risk-contribution error {e:.1e}")?;
    }
    if let Some((name, w)) = &out.held {
        crate::outln!(
            "{name} held at {} (--hold none to include it)",
            pct_f64(*w).trim()
        )?;
    }
    if let Some(g) = out.growth_rate {
        crate::outln!("expected log growth {} a year", pct_f64(g).trim())?;
    }
    if let Some(t) = &out.turnover {
        crate::outln!(
            "moves {} of the portfolio from its current weights{}",
            pct_f64(t.turnover).trim(),
            if (t.turnover - t.ideal_turnover).abs() > 1e-9 {
                format!(
                    " (unrestrained {}; optimizer.turnover_penalty {}, max_turnover {})",
                    pct_f64(t.ideal_turnover).trim(),
                    t.penalty,
                    t.max_turnover
                )
            } else {
                String::new()
            }
        )?;
    }
    if let Some(gap) = &out.equal_risk_gap {
        crate::outln!("{gap}")?;
    }
    Ok(())
}
