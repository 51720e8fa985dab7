//! The Optimizer: publishes the targets the DriftDetector steers towards.
//!
//! Method `fixed` publishes the configured `[targets]` at start-up and again on each daily
//! tick (so subscribers that joined late see them). Estimation-based methods plug in here:
//! they compute weights with `ballast`'s pure optimizers and publish only results that are
//! finite, within bounds and converged, keeping the previous targets otherwise.
//!
//! # Invariants
//! - Only validated [`TargetAllocation`]s are ever published.

use actix::{Actor, Context, Handler, Recipient};
use ballast::targets::TargetAllocation;

use crate::{
    messages::{Event, TargetsUpdated, Tick},
    settings::OptimizerMethod,
};

/// The optimizer.
#[derive(Debug)]
pub struct Optimizer {
    method: OptimizerMethod,
    targets: TargetAllocation,
    detector: Recipient<TargetsUpdated>,
    bus: Recipient<Event>,
}

impl Optimizer {
    /// An optimizer starting from `targets`.
    pub fn new(
        method: OptimizerMethod,
        targets: TargetAllocation,
        detector: Recipient<TargetsUpdated>,
        bus: Recipient<Event>,
    ) -> Self {
        Self {
            method,
            targets,
            detector,
            bus,
        }
    }

    fn publish(&self, diagnostics: &str) {
        let update = TargetsUpdated {
            targets: self.targets.clone(),
            method: match self.method {
                OptimizerMethod::Fixed => "fixed".to_owned(),
            },
            diagnostics: diagnostics.to_owned(),
        };
        let _ = self.bus.try_send(update.clone().into());
        let _ = self.detector.try_send(update);
    }
}

impl Actor for Optimizer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(16);
        self.publish("configured targets");
    }
}

impl Handler<Tick> for Optimizer {
    type Result = ();

    fn handle(&mut self, _tick: Tick, _ctx: &mut Self::Context) {
        match self.method {
            // Fixed targets do not change; nothing to recompute or republish.
            OptimizerMethod::Fixed => {}
        }
    }
}
