//! ballast keeps an autonomous agent's capital on its target allocation.
//!
//! This crate is the library: a pure core of plain functions over plain data (services,
//! money, targets, drift, the rebalance planner, observations of venue events, the trigger
//! policy, portfolio math and the optimizer core built on it, the perp hedge rules) and the
//! adapters the companion needs (the venue protocol and clients, the simulated venue, the
//! SQLite store).
//! The actix actors and the `ballast` binary live in the `ballast-actors` package.
//!
//! # Invariants
//! - Money is `rust_decimal::Decimal`; `f64` appears only inside numeric optimizers and
//!   crosses into money through [`money::decimal_from_f64`].
//! - The core modules do no I/O; only `venue::client`, `venue::stream`, `sim` and `store` do.
//! - The core imports no adapter: the adapters translate the wire and the store's rows into
//!   core types (a venue event becomes an [`observation::Observation`], a return history a
//!   [`optimizer::ReturnHistory`]), never the other way.

#![forbid(unsafe_code)]

pub mod alerting;
pub mod backtest;
pub mod control;
pub mod drift;
pub mod execution;
pub mod hedge;
pub mod math;
pub mod money;
pub mod observation;
pub mod optimizer;
pub mod performance;
pub mod planner;
pub mod policy;
pub mod portfolio;
pub mod report;
pub mod risk;
pub mod secret;
pub mod service;
pub mod sim;
pub mod store;
pub mod targets;
pub mod tax;
pub mod validation;
pub mod venue;

#[cfg(test)]
mod testing;
