//! A custom trigger in a few lines: rebalance whenever any service reports a drawdown of
//! at least 15% from its peak ("de-risk after a hit").
//!
//! Run it against the embedded simulated venue for 20 seconds:
//! `cargo run --release -p ballast-actors --example custom_trigger`
//!
//! The whole trigger is `DrawdownGuard`: it subscribes to every [`Event`] and sends a
//! [`RebalanceRequest`] to the DriftDetector. The built-in policy still decides how (it
//! plans from fresh balances, decreases first, never on stale state).

use actix::{Actor, Context, Handler, Recipient};
use ballast::observation::Happening;
use ballast_actors::messages::{Event, RebalanceRequest};
use rust_decimal::Decimal;

/// Requests a rebalance after a drawdown of at least `threshold`.
#[derive(Debug)]
pub struct DrawdownGuard {
    /// Where requests go (`Handles::requests`).
    pub requests: Recipient<RebalanceRequest>,
    /// Fall from peak that triggers (0.15 = 15%).
    pub threshold: Decimal,
}

impl Actor for DrawdownGuard {
    type Context = Context<Self>;
}

impl Handler<Event> for DrawdownGuard {
    type Result = ();

    fn handle(&mut self, event: Event, _ctx: &mut Self::Context) {
        if let Event::Venue(venue) = event
            && let Happening::Drawdown { service, drawdown } = &venue.observation.what
            && *drawdown >= self.threshold
        {
            let reason = format!("{} fell {drawdown} from its peak", service.name());
            let _ = self.requests.try_send(RebalanceRequest { reason });
        }
    }
}

#[allow(dead_code)]
fn main() -> anyhow::Result<()> {
    use ballast_actors::{
        commands::venue,
        metrics::Console,
        settings::{OutputFormat, Settings},
        system::SystemBuilder,
    };

    let validated = Settings::load(&[])?.validate()?;
    actix_rt::System::new().block_on(async move {
        let venue = venue::open(&validated, None, None).await?;
        let store = ballast::store::Store::open_in_memory()?;
        let running = SystemBuilder::new(
            validated,
            &venue.url,
            None,
            venue.time,
            store,
            Console::On(OutputFormat::Text),
        )
        // The one line that adds the trigger.
        .add_actor(|handles| {
            let guard = DrawdownGuard {
                requests: handles.requests.clone(),
                threshold: Decimal::new(15, 2),
            };
            Some(guard.start().recipient())
        })
        .start()
        .await?;
        tokio::time::sleep(std::time::Duration::from_secs(20)).await;
        let summary = running.shutdown(std::time::Duration::from_secs(5)).await?;
        println!("{}", serde_json::to_string_pretty(&summary)?);
        if let Some(sim) = venue.sim {
            sim.shutdown().await;
        }
        Ok(())
    })
}
