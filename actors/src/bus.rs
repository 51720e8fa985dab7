//! The EventBus: fans every [`Event`] out to its subscribers (metrics, custom triggers).
//!
//! Producers send one message to the bus instead of keeping their own subscriber lists,
//! so an actor added after start-up (a custom trigger) sees the same stream as built-in
//! ones. The trading path (watcher → detector → executor) never goes through the bus.
//!
//! # Invariants
//! - Delivery to each subscriber is in publication order.
//! - A subscriber whose mailbox is full loses that message (counted and logged) instead of
//!   stalling the bus: observers must never hold up trading.

use actix::{Actor, Context, Handler, Message, Recipient};
use tracing::warn;

use crate::messages::Event;

/// Mailbox capacity of the bus.
pub const BUS_MAILBOX_CAPACITY: usize = 4_096;

/// Adds a subscriber.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Subscribe(pub Recipient<Event>);

/// The bus.
#[derive(Debug, Default)]
pub struct EventBus {
    subscribers: Vec<Recipient<Event>>,
    dropped: u64,
}

impl Actor for EventBus {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(BUS_MAILBOX_CAPACITY);
    }
}

impl Handler<Subscribe> for EventBus {
    type Result = ();

    fn handle(&mut self, message: Subscribe, _ctx: &mut Self::Context) {
        self.subscribers.push(message.0);
    }
}

impl Handler<Event> for EventBus {
    type Result = ();

    fn handle(&mut self, event: Event, _ctx: &mut Self::Context) {
        self.subscribers.retain(Recipient::connected);
        for subscriber in &self.subscribers {
            if subscriber.try_send(event.clone()).is_err() {
                self.dropped += 1;
                warn!(
                    dropped = self.dropped,
                    "subscriber mailbox full; event dropped for it"
                );
            }
        }
    }
}

/// Resolves once every event published before it has been handed to the subscribers.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Flush;

impl Handler<Flush> for EventBus {
    type Result = ();

    fn handle(&mut self, _message: Flush, _ctx: &mut Self::Context) {}
}
