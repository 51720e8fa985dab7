//! The ballast companion: actix actors around the `ballast` core.
//!
//! One file per actor: [`clock`], [`watcher`] (BalanceWatcher), [`detector`]
//! (DriftDetector), [`optimizer`], [`executor`] (SpotExecutor), [`hedger`]
//! (HedgeExecutor), [`harvester`] (TaxHarvester, with the wallet's guarded order path in
//! [`wallet_orders`]), [`metrics`] (MetricsRecorder), [`notify`] (Notifier: alerts to a
//! webhook or a command), plus the [`bus`] that fans events out. [`messages`] is the one message
//! catalogue; [`system`] wires everything; [`settings`] loads the configuration;
//! [`output`] is the one way to print (a closed stdout ends output, never the process).
//! [`format`](mod@format) is how numbers read on the console; [`control`] is the operator's
//! switch and [`http`] the HTTP API (status, metrics, dashboard, control) with its
//! StatusBoard.
//!
//! A custom trigger is an actor that sends [`messages::RebalanceRequest`] to
//! [`system::Handles::requests`]; see `examples/custom_trigger.rs`. One that wants fresh
//! targets sends [`messages::RecomputeTargets`] to [`system::Handles::optimizer`].
//!
//! # Invariants
//! - Actors hold state and do I/O; every decision is a call into `ballast`'s pure core.
//! - Every mailbox has an explicit capacity, and observers sit behind the bus, off the
//!   trading path.

#![forbid(unsafe_code)]

pub mod bus;
pub mod clock;
pub mod commands;
pub mod control;
pub mod detector;
pub mod executor;
pub mod files;
pub mod format;
pub mod gate;
pub mod harvester;
pub mod hedger;
pub mod http;
mod keyed_send;
pub mod live_metrics;
pub mod messages;
pub mod metrics;
pub mod notify;
pub mod optimizer;
pub mod output;
pub mod settings;
pub mod system;
pub mod wallet_orders;
pub mod watcher;
