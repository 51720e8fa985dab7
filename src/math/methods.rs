//! The target methods by name: one entry point from a [`MarketModel`] and [`MethodParams`] to
//! weights with their diagnostics, shared by `ballast optimize` (any assets, from a CSV) and the
//! Optimizer actor (the six services, from the venue's `/returns`).
//!
//! - **risk-parity**: risk budgeting (equal contributions unless budgets are given); with bounds,
//!   the constrained formulation ([`super::risk_parity::risk_budget_bounded`]).
//! - **min-variance**, **max-sharpe**: [`super::markowitz`] under the bounds.
//! - **black-litterman**: the posterior of [`super::black_litterman::posterior`], then maximum Sharpe
//!   under it. The equilibrium prior `δΣw` is an *excess* return, so the risk-free rate is added
//!   to it and views, which state total returns, are shifted by `rf·Σpₖ` before blending (an
//!   absolute view loses `rf`, a relative one is unchanged) — PyPortfolioOpt's convention. With
//!   no views the answer is then the prior weights themselves whenever the bounds allow them:
//!   the tangency of `(δΣw, (1 + τ)Σ)` is `w`.
//! - **kelly**: the fractional-Kelly portfolio ([`super::kelly::kelly_portfolio`]); the multiplier acts.
//!
//! **Holding an asset** ([`MethodParams::hold`]): the asset keeps a given weight and the method
//! runs on the other assets, for the rest of the budget, under their bounds rescaled to it (so
//! the final weights respect the original bounds exactly). Both callers hold the reserve for
//! risk parity and Black–Litterman: it is nearly riskless, so risk parity would pour the money
//! into it, and a maximum-Sharpe portfolio is indifferent to how much of a riskless asset
//! earning the risk-free rate it holds (the Sharpe ratio does not change), which leaves the
//! reserve's weight to solver details unless it is fixed.
//!
//! [`OptimizerMethod`] names them all, `fixed` (keep the configured targets) included: it is the
//! one method enum of the configuration, the CLI and [`solve`], with one name table behind its
//! `Display`, `FromStr` and serde.
//!
//! # Invariants
//! - A method's name is the same everywhere (config, CLI, logs, JSON): [`OptimizerMethod::name`].
//! - Every result's weights are finite, within the bounds (long-only `[0, 1]` when none are
//!   given) and sum to 1 within [`super::BUDGET_TOLERANCE`] (the solvers guarantee it; callers
//!   that publish still check at their boundary).
//! - Bad parameters are a [`MathError`] naming them, never a panic.

use std::{fmt, str::FromStr};

use nalgebra::DMatrix;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{self, EnumAccess, VariantAccess, Visitor},
};

use super::{
    MarketModel, MathError, WeightBounds,
    black_litterman::{self, BlackLitterman, View},
    check_finite, finalize_held,
    kelly::kelly_portfolio,
    markowitz::{self, Allocation},
    risk_parity::{
        risk_budget, risk_budget_bounded, risk_parity_with_fixed, risk_parity_with_fixed_bounded,
    },
    with_held,
};

/// How targets are computed: the configuration's `[optimizer] method`, the `--method` of
/// `ballast optimize`, and the dispatch of [`solve`]. `fixed` keeps the configured targets and
/// is the one method [`solve`] refuses: there is nothing to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptimizerMethod {
    /// The configured targets, unchanged.
    Fixed,
    /// Risk budgeting (equal risk contributions unless budgets are given).
    RiskParity,
    /// Minimum variance under the bounds.
    MinVariance,
    /// Maximum Sharpe ratio at the risk-free rate under the bounds.
    MaxSharpe,
    /// Black–Litterman posterior, then maximum Sharpe.
    BlackLitterman,
    /// Fractional-Kelly growth portfolio.
    Kelly,
}

/// The one name table: [`OptimizerMethod::ALL`]'s names in order (config, CLI, logs, JSON).
const METHOD_NAMES: [&str; 6] = [
    "fixed",
    "risk-parity",
    "min-variance",
    "max-sharpe",
    "black-litterman",
    "kelly",
];

/// A name that is not an [`OptimizerMethod`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown method `{0}` (expected one of {names})", names = METHOD_NAMES.join(", "))]
pub struct UnknownMethod(pub String);

impl OptimizerMethod {
    /// Every method, in the order of the name table.
    pub const ALL: [OptimizerMethod; 6] = [
        OptimizerMethod::Fixed,
        OptimizerMethod::RiskParity,
        OptimizerMethod::MinVariance,
        OptimizerMethod::MaxSharpe,
        OptimizerMethod::BlackLitterman,
        OptimizerMethod::Kelly,
    ];

    /// The kebab-case name.
    pub const fn name(self) -> &'static str {
        METHOD_NAMES[self as usize]
    }

    /// Whether [`solve`] computes weights for it: every method but `fixed`.
    pub const fn estimates(self) -> bool {
        !matches!(self, OptimizerMethod::Fixed)
    }

    /// Whether it holds an asset at a given weight ([`MethodParams::hold`]) and allocates the
    /// rest: risk parity and Black–Litterman, for the near-riskless reserve (see the module
    /// docs for why).
    pub const fn holds_reserve(self) -> bool {
        matches!(
            self,
            OptimizerMethod::RiskParity | OptimizerMethod::BlackLitterman
        )
    }
}

impl fmt::Display for OptimizerMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerMethod {
    type Err = UnknownMethod;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        OptimizerMethod::ALL
            .into_iter()
            .find(|method| method.name() == name)
            .ok_or_else(|| UnknownMethod(name.to_owned()))
    }
}

// Serde goes through the name table rather than a derive, so the names live in one place. It
// still presents a unit-variant enum named `OptimizerMethod`, as the derive did: the config
// crate names the enum and lists the table when a configured method is unknown.
impl Serialize for OptimizerMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit_variant("OptimizerMethod", *self as u32, self.name())
    }
}

impl<'de> Deserialize<'de> for OptimizerMethod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = OptimizerMethod;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "one of {}", METHOD_NAMES.join(", "))
            }

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
                name.parse()
                    .map_err(|_| E::unknown_variant(name, &METHOD_NAMES))
            }

            fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
                let (name, variant) = data.variant::<String>()?;
                variant.unit_variant()?;
                self.visit_str(&name)
            }
        }

        deserializer.deserialize_enum("OptimizerMethod", &METHOD_NAMES, NameVisitor)
    }
}

/// Everything a method may need besides the model.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodParams {
    /// Which method (not `fixed`).
    pub method: OptimizerMethod,
    /// Per-asset bounds; `None` is long-only and uncapped.
    pub bounds: Option<WeightBounds>,
    /// Risk parity: hold asset `.0` at weight `.1` and split the rest.
    pub hold: Option<(usize, f64)>,
    /// Risk parity: budgets over the assets not held, in order (default equal).
    pub budgets: Option<Vec<f64>>,
    /// Annual risk-free rate (max-Sharpe, Black–Litterman, Kelly's growth).
    pub risk_free_rate: f64,
    /// Fraction of full Kelly, in (0, 1].
    pub kelly_multiplier: f64,
    /// Black–Litterman prior and views (required for that method; views state total returns).
    pub black_litterman: Option<BlackLitterman>,
}

/// Weights from a method, with what the solver reports about them.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodResult {
    /// Weights in the model's asset order.
    pub weights: Vec<f64>,
    /// The solver that produced them (`newton`, `constrained-risk-budgeting`, `active-set`, ...).
    pub solver: &'static str,
    /// Solver iterations, where the solver counts them (risk parity).
    pub iterations: Option<usize>,
    /// Risk parity: largest relative risk-contribution error among the assets it binds.
    pub rc_max_rel_error: Option<f64>,
    /// Kelly: approximate annual log growth.
    pub growth_rate: Option<f64>,
    /// Black–Litterman: posterior expected (total) returns.
    pub posterior_mean: Option<Vec<f64>>,
}

impl MethodResult {
    fn allocation(a: Allocation) -> Self {
        MethodResult {
            weights: a.weights,
            solver: a.solver.name(),
            iterations: None,
            rc_max_rel_error: None,
            growth_rate: None,
            posterior_mean: None,
        }
    }
}

/// Runs `params.method` on `model`.
///
/// # Errors
/// [`MathError::InvalidArgument`] for method `fixed`, a missing Black–Litterman prior or a held
/// index out of range; every error of the underlying solver (infeasible bounds, no excess return,
/// non-convergence, ...).
pub fn solve(model: &MarketModel, params: &MethodParams) -> Result<MethodResult, MathError> {
    let n = model.len();
    let long_only = WeightBounds::long_only(n);
    let bounds = params.bounds.as_ref().unwrap_or(&long_only);
    let rf = params.risk_free_rate;
    if let (Some((held, held_weight)), false) =
        (params.hold, params.method == OptimizerMethod::RiskParity)
    {
        return solve_holding(model, bounds, held, held_weight, params);
    }
    match params.method {
        OptimizerMethod::Fixed => Err(MathError::InvalidArgument {
            name: "method".into(),
            reason: "`fixed` computes nothing: it keeps the configured weights".into(),
        }),
        OptimizerMethod::RiskParity => {
            let budgets = params.budgets.as_deref();
            let solution = match (params.hold, &params.bounds) {
                (Some((i, w)), Some(b)) => {
                    risk_parity_with_fixed_bounded(model.cov(), i, w, budgets, b)?
                }
                (Some((i, w)), None) => risk_parity_with_fixed(model.cov(), i, w, budgets)?,
                (None, Some(b)) => risk_budget_bounded(model.cov(), budgets, b)?,
                (None, None) => risk_budget(model.cov(), budgets)?,
            };
            Ok(MethodResult {
                solver: if params.bounds.is_some() {
                    "constrained-risk-budgeting"
                } else {
                    "newton"
                },
                iterations: Some(solution.iterations),
                rc_max_rel_error: Some(solution.max_rel_error),
                weights: solution.weights,
                growth_rate: None,
                posterior_mean: None,
            })
        }
        OptimizerMethod::MinVariance => Ok(MethodResult::allocation(markowitz::min_variance(
            model, bounds,
        )?)),
        OptimizerMethod::MaxSharpe => Ok(MethodResult::allocation(markowitz::max_sharpe(
            model, bounds, rf,
        )?)),
        OptimizerMethod::BlackLitterman => {
            let bl = params
                .black_litterman
                .as_ref()
                .ok_or_else(|| MathError::InvalidArgument {
                    name: "black-litterman prior".into(),
                    reason: "no prior weights were given".into(),
                })?;
            check_finite("risk-free rate", rf)?;
            let post = black_litterman::posterior(model, &excess_views(bl, rf))?;
            let mean = post.mean.iter().map(|m| m + rf).collect();
            let post_model = MarketModel::new(model.names().to_vec(), mean, post.cov)?;
            let mut result =
                MethodResult::allocation(markowitz::max_sharpe(&post_model, bounds, rf)?);
            result.posterior_mean = Some(post_model.mean().to_vec());
            Ok(result)
        }
        OptimizerMethod::Kelly => {
            let k = kelly_portfolio(model, bounds, rf, params.kelly_multiplier)?;
            let mut result = MethodResult::allocation(k.allocation);
            result.growth_rate = Some(k.growth_rate);
            Ok(result)
        }
    }
}

/// [`solve`] with asset `held` at `held_weight` and the method run on the others (see the module
/// docs); risk parity has its own exact path and does not come here.
fn solve_holding(
    model: &MarketModel,
    bounds: &WeightBounds,
    held: usize,
    held_weight: f64,
    params: &MethodParams,
) -> Result<MethodResult, MathError> {
    let n = model.len();
    bounds.check_len(n)?;
    if held >= n || n < 2 {
        return Err(MathError::InvalidArgument {
            name: "held asset".into(),
            reason: format!("index {held} with {n} assets"),
        });
    }
    let (lo, hi) = (bounds.lo(), bounds.hi());
    if !(held_weight.is_finite() && held_weight >= lo[held] && held_weight <= hi[held])
        || held_weight >= 1.0
    {
        return Err(MathError::InfeasibleBounds(format!(
            "held asset {held} at {held_weight} is outside its bounds [{}, {}] or leaves nothing \
             to allocate",
            lo[held], hi[held]
        )));
    }
    // Checked before indexing by `keep` below.
    if let Some(bl) = &params.black_litterman
        && (bl.prior_weights.len() != n || bl.views.iter().any(|v| v.portfolio.len() != n))
    {
        return Err(MathError::InvalidArgument {
            name: "black-litterman prior".into(),
            reason: format!("prior and views must cover all {n} assets"),
        });
    }
    let keep: Vec<usize> = (0..n).filter(|&i| i != held).collect();
    let sub_bounds = bounds.for_the_rest(&keep, held, held_weight)?;
    let sub_model = MarketModel::new(
        keep.iter().map(|&i| model.names()[i].clone()).collect(),
        keep.iter().map(|&i| model.mean()[i]).collect(),
        DMatrix::from_fn(keep.len(), keep.len(), |a, b| {
            model.cov()[(keep[a], keep[b])]
        }),
    )?;
    let sub_params = MethodParams {
        bounds: Some(sub_bounds),
        hold: None,
        black_litterman: params.black_litterman.as_ref().map(|bl| BlackLitterman {
            // Reverse optimization is scale-free in the prior weights: only their mix matters.
            prior_weights: keep.iter().map(|&i| bl.prior_weights[i]).collect(),
            views: bl
                .views
                .iter()
                .map(|v| View {
                    portfolio: keep.iter().map(|&i| v.portfolio[i]).collect(),
                    ..v.clone()
                })
                .collect(),
            ..bl.clone()
        }),
        ..params.clone()
    };
    let mut result = solve(&sub_model, &sub_params)?;
    let w = with_held(n, held, held_weight, &keep, &result.weights);
    result.weights = finalize_held(w, bounds, held, held_weight)?;
    if let Some(sub_mean) = result.posterior_mean.take() {
        // The held asset keeps its own expected return; the posterior covers the others.
        let mut mean = model.mean().to_vec();
        for (k, &i) in keep.iter().enumerate() {
            mean[i] = sub_mean[k];
        }
        result.posterior_mean = Some(mean);
    }
    Ok(result)
}

/// The views restated as excess returns over `rf` (see the module docs).
fn excess_views(bl: &BlackLitterman, rf: f64) -> BlackLitterman {
    BlackLitterman {
        views: bl
            .views
            .iter()
            .map(|v| View {
                expected_return: v.expected_return - rf * v.portfolio.iter().sum::<f64>(),
                ..v.clone()
            })
            .collect(),
        ..bl.clone()
    }
}

#[cfg(test)]
mod tests {
    use nalgebra::DMatrix;

    use super::*;

    fn model() -> MarketModel {
        // Three risky assets and a near-riskless one, as the services are.
        let cov = DMatrix::from_row_slice(
            4,
            4,
            &[
                0.09, 0.01, 0.00, 0.0, //
                0.01, 0.04, 0.01, 0.0, //
                0.00, 0.01, 0.16, 0.0, //
                0.0, 0.0, 0.0, 1e-8,
            ],
        );
        MarketModel::unnamed(vec![0.12, 0.10, 0.20, 0.01], cov).expect("valid")
    }

    fn params(method: OptimizerMethod) -> MethodParams {
        MethodParams {
            method,
            bounds: Some(WeightBounds::uniform(4, 0.01, 0.80).expect("bounds")),
            hold: None,
            budgets: None,
            risk_free_rate: 0.045,
            kelly_multiplier: 0.25,
            black_litterman: Some(BlackLitterman {
                prior_weights: vec![0.3, 0.3, 0.3, 0.1],
                risk_aversion: 2.5,
                tau: 0.05,
                views: vec![],
            }),
        }
    }

    #[test]
    fn every_method_returns_bounded_weights_summing_to_one() {
        struct TestCase {
            method: OptimizerMethod,
            hold: Option<(usize, f64)>,
        }
        let cases = [
            // TC0: risk parity with the near-riskless asset held at 10%.
            TestCase {
                method: OptimizerMethod::RiskParity,
                hold: Some((3, 0.1)),
            },
            // TC1: bounded risk parity over every asset (the riskless one is capped).
            TestCase {
                method: OptimizerMethod::RiskParity,
                hold: None,
            },
            // TC2..TC5: the Markowitz family.
            TestCase {
                method: OptimizerMethod::MinVariance,
                hold: None,
            },
            TestCase {
                method: OptimizerMethod::MaxSharpe,
                hold: None,
            },
            TestCase {
                method: OptimizerMethod::BlackLitterman,
                hold: None,
            },
            TestCase {
                method: OptimizerMethod::Kelly,
                hold: None,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut p = params(case.method);
            p.hold = case.hold;
            let r = solve(&model(), &p).unwrap_or_else(|e| panic!("TC{i}: {e}"));
            let sum: f64 = r.weights.iter().sum();
            assert!((sum - 1.0).abs() <= 1e-12, "TC{i}: sum {sum}");
            assert!(
                r.weights.iter().all(|w| (0.01..=0.80).contains(w)),
                "TC{i}: {:?}",
                r.weights
            );
            if let Some((k, w)) = case.hold {
                assert_eq!(r.weights[k], w, "TC{i}");
            }
        }
    }

    #[test]
    fn held_black_litterman_without_views_returns_the_prior_exactly() {
        // With the near-riskless asset free, max-Sharpe is indifferent to its weight; held,
        // the answer is the prior.
        let mut p = params(OptimizerMethod::BlackLitterman);
        p.hold = Some((3, 0.1));
        let r = solve(&model(), &p).expect("solves");
        for (w, prior) in r.weights.iter().zip([0.3, 0.3, 0.3, 0.1]) {
            assert!((w - prior).abs() < 1e-9, "{:?}", r.weights);
        }
        assert_eq!(r.weights[3], 0.1);
        assert_eq!(r.posterior_mean.expect("mean").len(), 4);
    }

    #[test]
    fn holding_checks_the_held_weight() {
        let mut p = params(OptimizerMethod::MinVariance);
        p.hold = Some((3, 0.9));
        let err = solve(&model(), &p).expect_err("0.9 is above the 0.8 cap");
        assert!(err.to_string().contains("outside its bounds"), "{err}");
        p.hold = Some((3, 0.1));
        let r = solve(&model(), &p).expect("solves");
        assert_eq!(r.weights[3], 0.1);
        assert!((r.weights.iter().sum::<f64>() - 1.0).abs() <= 1e-12);
    }

    #[test]
    fn black_litterman_without_views_returns_the_prior() {
        let r = solve(&model(), &params(OptimizerMethod::BlackLitterman)).expect("solves");
        for (w, prior) in r.weights.iter().zip([0.3, 0.3, 0.3, 0.1]) {
            assert!((w - prior).abs() < 1e-9, "{:?}", r.weights);
        }
    }

    #[test]
    fn an_absolute_view_moves_its_asset() {
        let base = solve(&model(), &params(OptimizerMethod::BlackLitterman)).expect("solves");
        let mut p = params(OptimizerMethod::BlackLitterman);
        if let Some(bl) = p.black_litterman.as_mut() {
            bl.views.push(View {
                portfolio: vec![0.0, 1.0, 0.0, 0.0],
                expected_return: 0.30,
                confidence: Some(0.8),
            });
        }
        let bullish = solve(&model(), &p).expect("solves");
        assert!(bullish.weights[1] > base.weights[1] + 0.05, "{bullish:?}");
    }

    #[test]
    fn the_kelly_multiplier_acts() {
        let mut p = params(OptimizerMethod::Kelly);
        let quarter = solve(&model(), &p).expect("solves");
        p.kelly_multiplier = 1.0;
        let full = solve(&model(), &p).expect("solves");
        let m = model();
        assert!(m.stats(&full.weights, 0.0).volatility > m.stats(&quarter.weights, 0.0).volatility);
    }

    #[test]
    fn missing_prior_is_named() {
        let mut p = params(OptimizerMethod::BlackLitterman);
        p.black_litterman = None;
        let err = solve(&model(), &p).expect_err("refused");
        assert!(err.to_string().contains("black-litterman prior"), "{err}");
    }

    #[test]
    fn method_names_round_trip_through_every_door() {
        struct TestCase {
            name: &'static str,
            expected: Option<OptimizerMethod>,
        }
        let cases = [
            // TC0..TC5: the six names.
            TestCase {
                name: "fixed",
                expected: Some(OptimizerMethod::Fixed),
            },
            TestCase {
                name: "risk-parity",
                expected: Some(OptimizerMethod::RiskParity),
            },
            TestCase {
                name: "min-variance",
                expected: Some(OptimizerMethod::MinVariance),
            },
            TestCase {
                name: "max-sharpe",
                expected: Some(OptimizerMethod::MaxSharpe),
            },
            TestCase {
                name: "black-litterman",
                expected: Some(OptimizerMethod::BlackLitterman),
            },
            TestCase {
                name: "kelly",
                expected: Some(OptimizerMethod::Kelly),
            },
            // TC6: snake case is not a name.
            TestCase {
                name: "risk_parity",
                expected: None,
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let json = serde_json::Value::String(case.name.to_owned());
            match case.expected {
                Some(method) => {
                    assert_eq!(case.name.parse(), Ok(method), "TC{i}");
                    assert_eq!(method.to_string(), case.name, "TC{i}");
                    assert_eq!(
                        serde_json::to_value(method).ok(),
                        Some(json.clone()),
                        "TC{i}"
                    );
                    assert_eq!(serde_json::from_value(json).ok(), Some(method), "TC{i}");
                }
                None => {
                    let err = case.name.parse::<OptimizerMethod>().expect_err("unknown");
                    assert!(err.to_string().contains("risk-parity"), "TC{i}: {err}");
                    let err = serde_json::from_value::<OptimizerMethod>(json).expect_err("unknown");
                    assert!(err.to_string().contains(case.name), "TC{i}: {err}");
                }
            }
        }
    }

    #[test]
    fn fixed_is_refused_by_solve() {
        let err = solve(&model(), &params(OptimizerMethod::Fixed)).expect_err("refused");
        assert!(err.to_string().contains("fixed"), "{err}");
    }
}
