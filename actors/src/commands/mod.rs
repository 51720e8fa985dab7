//! One module per subcommand; `main.rs` only parses and dispatches.

pub mod backtest;
pub mod backtest_plot;
pub mod config;
pub mod ctl;
pub mod flags;
pub mod frontier;
pub mod kelly;
pub mod math_common;
pub mod optimize;
pub mod plan;
pub mod plot;
pub mod replay;
pub mod report;
pub mod run;
pub mod sim;
pub mod status;
pub mod venue;

use anyhow::Context as _;

/// Resolves on Ctrl-C, or SIGTERM on Unix (what service managers send), so `run` and `sim`
/// stop gracefully either way.
///
/// # Errors
/// When a signal handler cannot be installed.
pub async fn wait_for_stop() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("installing the SIGTERM handler")?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    Ok(())
}
