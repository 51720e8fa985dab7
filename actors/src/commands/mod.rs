//! One module per subcommand; `main.rs` only parses and dispatches.

pub mod frontier;
pub mod kelly;
pub mod math_common;
pub mod optimize;
pub mod plan;
pub mod run;
pub mod sim;
pub mod status;
pub mod venue;
