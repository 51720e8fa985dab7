//! `GET /metrics`: the [`StatusReport`] in the Prometheus text exposition format (0.0.4).
//!
//! Every value is read from the same report `/status` serves, so a scrape and a status taken
//! together agree. Names start with `ballast_`; money is in USDC, weights are fractions, and
//! durations are seconds.
//!
//! # Invariants
//! - Each family is announced once (`# HELP`, `# TYPE`) before its samples; label values are
//!   escaped (`\`, `"`, newline).
//! - Counters end in `_total`; a histogram's buckets are cumulative and end with `+Inf`.

use std::{fmt::Write as _, sync::Arc};

use axum::{
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use ballast::control::Mode;
use rust_decimal::{Decimal, prelude::ToPrimitive};

use super::{AppState, status::StatusReport};

/// The exposition format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// An exposition being written.
#[derive(Debug, Default)]
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape(val));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    /// A family with one unlabelled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// A family with one sample per `(label value, value)`.
    fn labelled<'a>(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        label: &str,
        values: impl IntoIterator<Item = (&'a str, f64)>,
    ) {
        self.family(name, kind, help);
        for (key, value) in values {
            self.sample(name, &[(label, key)], value);
        }
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{value}")
    }
}

fn float(value: Decimal) -> f64 {
    value.to_f64().unwrap_or(f64::NAN)
}

fn count(value: u64) -> f64 {
    value as f64
}

/// Reads one field of a service's line.
type ServiceField = fn(&super::status::ServiceLine) -> Decimal;

/// Renders `report` as a Prometheus text exposition.
pub fn render(report: &StatusReport) -> String {
    let mut x = Exposition::default();
    let summary = &report.metrics;
    x.single(
        "ballast_up",
        "gauge",
        "1 while the companion serves this endpoint.",
        1.0,
    );
    x.single(
        "ballast_stream_connected",
        "gauge",
        "1 while the venue's event stream is connected.",
        f64::from(u8::from(report.connection.state == "connected")),
    );
    x.single(
        "ballast_gate_open",
        "gauge",
        "1 while the trading gate is open (stream connected and synced).",
        f64::from(u8::from(report.gate == "open")),
    );
    x.labelled(
        "ballast_control_mode",
        "gauge",
        "1 for the operator's mode now (running, paused, halted), 0 for the others.",
        "mode",
        Mode::ALL.into_iter().map(|mode| {
            (
                mode.name(),
                f64::from(u8::from(report.control.mode == mode)),
            )
        }),
    );
    x.single(
        "ballast_last_event_seq",
        "gauge",
        "Highest venue event seq seen.",
        count(report.last_event_seq),
    );
    if let Some(allocation) = &report.allocation {
        x.single(
            "ballast_portfolio_value_usdc",
            "gauge",
            "Portfolio value, USDC.",
            float(allocation.total_usdc),
        );
        x.single(
            "ballast_max_abs_drift",
            "gauge",
            "Largest absolute drift of a service from its target (weight units).",
            float(allocation.max_abs_drift),
        );
        let per_service: [(&str, &str, ServiceField); 5] = [
            ("ballast_balance_usdc", "Balance per service, USDC.", |l| {
                l.balance_usdc
            }),
            (
                "ballast_weight",
                "Weight per service (fraction of value).",
                |l| l.weight,
            ),
            ("ballast_target_weight", "Target weight per service.", |l| {
                l.target
            }),
            (
                "ballast_band",
                "Drift band per service (weight units).",
                |l| l.band,
            ),
            (
                "ballast_drift",
                "Weight minus target per service (positive: overweight).",
                |l| l.drift,
            ),
        ];
        for (name, help, value) in per_service {
            x.labelled(
                name,
                "gauge",
                help,
                "service",
                allocation
                    .services
                    .iter()
                    .map(|line| (line.service.name(), float(value(line)))),
            );
        }
    }
    x.labelled(
        "ballast_events_total",
        "counter",
        "Venue events processed, by type (heartbeats excluded).",
        "kind",
        summary
            .events_by_type
            .iter()
            .map(|(kind, n)| (kind.as_str(), count(*n))),
    );
    x.labelled(
        "ballast_plans_total",
        "counter",
        "Rebalance plans made, by trigger.",
        "trigger",
        report
            .counters
            .plans_by_trigger
            .iter()
            .map(|(trigger, n)| (trigger.as_str(), count(*n))),
    );
    x.labelled(
        "ballast_rebalances_total",
        "counter",
        "Plans that moved money (or would have, in dry run), by trigger.",
        "trigger",
        summary
            .rebalances_by_trigger
            .iter()
            .map(|(trigger, n)| (trigger.as_str(), count(*n))),
    );
    x.labelled(
        "ballast_legs_total",
        "counter",
        "Legs by outcome: applied by the venue, failed (failed, skipped or unknown), dry run.",
        "outcome",
        [
            ("applied", count(summary.legs_applied)),
            ("failed", count(summary.legs_failed)),
            ("dry_run", count(summary.legs_dry_run)),
        ],
    );
    x.single(
        "ballast_leg_retries_total",
        "counter",
        "Extra POSTs of legs, each under the leg's own idempotency key.",
        count(summary.leg_retries),
    );
    x.single(
        "ballast_turnover_usdc_total",
        "counter",
        "USDC moved by applied legs.",
        float(summary.turnover_usdc),
    );
    x.single(
        "ballast_stream_connections_total",
        "counter",
        "Event stream connections opened.",
        count(summary.connections),
    );
    x.single(
        "ballast_stream_reconnects_total",
        "counter",
        "Times the event stream went down (each is followed by a reconnect).",
        count(report.connection.disconnects),
    );
    x.single(
        "ballast_malformed_frames_total",
        "counter",
        "Event frames rejected by validation.",
        count(summary.malformed_frames),
    );
    x.single(
        "ballast_daily_ticks_total",
        "counter",
        "Daily ticks.",
        count(summary.ticks),
    );
    x.single(
        "ballast_targets_refused_total",
        "counter",
        "Optimizer results refused (the previous targets stayed).",
        count(summary.targets_refused),
    );
    x.single(
        "ballast_balance_alerts_total",
        "counter",
        "Balance changes the venue did not announce.",
        count(summary.balance_alerts),
    );
    x.labelled(
        "ballast_risk_refusals_total",
        "counter",
        "Plans refused whole by a risk limit, by limit.",
        "limit",
        ["max_leg_usdc", "max_daily_turnover_usdc"]
            .into_iter()
            .map(|limit| {
                let n = report.counters.refusals_by_limit.get(limit).copied();
                (limit, count(n.unwrap_or(0)))
            }),
    );
    let histogram = &report.counters.event_to_order_seconds;
    let name = "ballast_event_to_order_seconds";
    x.family(
        name,
        "histogram",
        "From a venue event reaching ballast's bus to the venue applying the first leg of the plan it triggered.",
    );
    for (bound, n) in histogram.bounds_secs.iter().zip(&histogram.cumulative) {
        x.sample(
            &format!("{name}_bucket"),
            &[("le", &number(*bound))],
            count(*n),
        );
    }
    x.sample(
        &format!("{name}_bucket"),
        &[("le", "+Inf")],
        count(histogram.count),
    );
    x.sample(&format!("{name}_sum"), &[], histogram.sum_secs);
    x.sample(&format!("{name}_count"), &[], count(histogram.count));
    x.out
}

/// `GET /metrics`.
pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    match super::status::report(&state).await {
        Ok(report) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, CONTENT_TYPE)],
            render(&report),
        )
            .into_response(),
        Err(message) => super::error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_numbers_are_prometheus_numbers() {
        struct TestCase {
            value: f64,
            expected: &'static str,
        }
        let cases = [
            // TC0: integers print without a fraction.
            TestCase {
                value: 3.0,
                expected: "3",
            },
            // TC1: fractions as Rust prints them (shortest round trip).
            TestCase {
                value: 0.25,
                expected: "0.25",
            },
            // TC2-3: the special values by their exposition names.
            TestCase {
                value: f64::INFINITY,
                expected: "+Inf",
            },
            TestCase {
                value: f64::NAN,
                expected: "NaN",
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            assert_eq!(number(case.value), case.expected, "TC{i}");
        }
        let mut x = Exposition::default();
        x.sample("m", &[("why", "a \"b\"\\\nc")], 1.0);
        assert_eq!(x.out, "m{why=\"a \\\"b\\\"\\\\\\nc\"} 1\n");
    }
}
