//! Simulated hours: each releases the locks that expired, runs the markets (mark moves,
//! funding, the casino's crypto) and, with autoplay, the agent's own activity; at midnight
//! the day's returns close.
//!
//! Hours run in order from a cursor ([`Engine::next_hour_end`]). The activity task runs
//! hours as the clock reaches them, and `/sim/advance` runs the hours it skips over at once.
//!
//! # Invariants
//! - An hour never runs twice, and hours never run out of order.
//! - One call runs at most [`MAX_ADVANCE_HOURS`].

use time::OffsetDateTime;

use super::Engine;
use crate::{
    sim::{ledger::Op, markets::Asset},
    venue::protocol::EventFrame,
};

/// Most simulated hours one `/sim/advance` runs (a leap year), so one request cannot hold
/// the venue for long.
pub const MAX_ADVANCE_HOURS: u32 = 24 * 366;

impl Engine {
    /// The end of the next simulated hour to run.
    pub fn next_hour_end(&self) -> OffsetDateTime {
        self.next_hour_end
    }

    /// Runs the next simulated hour if the clock has reached its end.
    pub fn run_next_hour_if_due(&mut self, now: OffsetDateTime) -> Option<Vec<EventFrame>> {
        if self.next_hour_end > now {
            return None;
        }
        let hour_end = self.next_hour_end;
        self.next_hour_end += time::Duration::HOUR;
        Some(self.run_hour(hour_end))
    }

    /// Runs every hour whose end the clock has reached, at most [`MAX_ADVANCE_HOURS`];
    /// returns the frames and the number of hours run.
    pub fn run_due_hours(&mut self, now: OffsetDateTime) -> (Vec<EventFrame>, u32) {
        let mut frames = Vec::new();
        let mut hours = 0;
        while hours < MAX_ADVANCE_HOURS {
            let Some(mut emitted) = self.run_next_hour_if_due(now) else {
                break;
            };
            frames.append(&mut emitted);
            hours += 1;
        }
        (frames, hours)
    }

    /// Runs the simulated hour that ends at `hour_end`: the markets, then (with autoplay)
    /// the agent's activity at the new prices; at midnight also closes the day's returns.
    pub fn run_hour(&mut self, hour_end: OffsetDateTime) -> Vec<EventFrame> {
        let mut frames = Vec::new();
        self.release_locks(hour_end, &mut frames);
        let btc_before = self.ledger.prices()[Asset::Btc];
        let market_ops = self.price_model.hour(hour_end);
        self.apply_model_ops(hour_end, market_ops, &mut frames);
        self.mark_casino_to_crypto(hour_end, btc_before, &mut frames);
        if self.autoplay {
            // The activity sees the cash and prices after this hour's market moves.
            let (cash, prices) = (self.ledger.balances(), self.ledger.prices());
            let activity_ops = self.model.hour(&cash, hour_end, &prices);
            self.apply_model_ops(hour_end, activity_ops, &mut frames);
        }
        if hour_end.hour() == 0 && hour_end.minute() == 0 {
            self.close_returns_day();
        }
        frames
    }

    pub(super) fn apply_model_ops(
        &mut self,
        hour_end: OffsetDateTime,
        ops: Vec<Op>,
        frames: &mut Vec<EventFrame>,
    ) {
        for op in ops {
            match self.apply(hour_end, &op) {
                Ok(mut emitted) => frames.append(&mut emitted),
                // The models only produce operations the ledger accepts; if one is refused
                // anyway the market simply skips it.
                Err(error) => tracing::warn!(%error, ?op, "simulated activity refused"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::sim::engine::{
        history::MAX_RETURN_DAYS,
        testing::{START, engine},
    };

    #[test]
    fn hours_emit_events_in_seq_order_and_midnight_adds_a_day() {
        let mut engine = engine();
        let days_before = engine.returns(usize::MAX).returns_by_service["casino"].len();
        let mut hour_end = START + time::Duration::HOUR;
        let mut last = 0;
        for _ in 0..48 {
            for frame in engine.run_hour(hour_end) {
                assert_eq!(frame.seq, last + 1);
                last = frame.seq;
            }
            hour_end += time::Duration::HOUR;
        }
        assert!(last > 48);
        let days_after = engine.returns(usize::MAX).returns_by_service["casino"].len();
        assert_eq!(days_after, (days_before + 2).min(MAX_RETURN_DAYS));
        assert!(engine.stats(hour_end).accounting.ok);
    }
}
