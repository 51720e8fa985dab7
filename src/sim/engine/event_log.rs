//! The bounded buffer of announced frames, and the `seq` counter.
//!
//! # Invariants
//! - `seq` increases by one per announced event; every frame carries the portfolio right
//!   after its event, with that `seq`.
//! - Frame timestamps never go backwards in `seq` order.
//! - At most `capacity` frames are kept; the oldest go first.

use std::collections::VecDeque;

use time::OffsetDateTime;

use crate::venue::protocol::{EventFrame, EventKind, PortfolioResponse};

/// Frames kept for replay to clients that resume with `since`.
pub const EVENT_BUFFER_CAPACITY: usize = 10_000;

/// The bounded buffer of announced frames, and the `seq` counter.
#[derive(Debug, Clone)]
pub struct EventLog {
    frames: VecDeque<EventFrame>,
    capacity: usize,
    last_seq: u64,
    last_ts: Option<OffsetDateTime>,
}

impl EventLog {
    /// An empty log keeping at most `capacity` frames (at least one).
    pub fn new(capacity: usize) -> Self {
        EventLog {
            frames: VecDeque::new(),
            capacity: capacity.max(1),
            last_seq: 0,
            last_ts: None,
        }
    }

    /// The `seq` of the last announced event (0 before the first).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Announces an event: gives it the next `seq` and `portfolio` (the balances and locks
    /// right after it), stamped with that `seq`.
    pub fn push(
        &mut self,
        ts: OffsetDateTime,
        kind: EventKind,
        portfolio: &PortfolioResponse,
    ) -> EventFrame {
        self.last_seq += 1;
        let ts = self.last_ts.map_or(ts, |last| ts.max(last));
        self.last_ts = Some(ts);
        let frame = EventFrame {
            seq: self.last_seq,
            ts,
            kind,
            portfolio: Some(PortfolioResponse {
                seq: Some(self.last_seq),
                ..portfolio.clone()
            }),
        };
        if self.frames.len() == self.capacity {
            self.frames.pop_front();
        }
        self.frames.push_back(frame.clone());
        frame
    }

    /// Buffered frames with `seq > since`, oldest first. When `since` is older than the
    /// buffer, this starts at the oldest frame kept: the client sees the gap in `seq` and
    /// must refetch the portfolio.
    pub fn since(&self, since: u64) -> Vec<EventFrame> {
        let start = self.frames.partition_point(|f| f.seq <= since);
        self.frames.range(start..).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{service::ServiceMap, sim::engine::testing::START};

    fn empty() -> PortfolioResponse {
        PortfolioResponse::from_balances(&ServiceMap::default(), None)
    }

    #[test]
    fn event_log_is_bounded_and_resumes_after_since() {
        let mut log = EventLog::new(3);
        for _ in 0..5 {
            log.push(START, EventKind::Balance, &empty());
        }
        let seqs = |frames: Vec<EventFrame>| frames.iter().map(|f| f.seq).collect::<Vec<_>>();
        assert_eq!(seqs(log.since(0)), [3, 4, 5]);
        assert_eq!(seqs(log.since(4)), [5]);
        assert!(log.since(5).is_empty());
        assert!(log.since(99).is_empty());
        // Timestamps never go backwards.
        let frame = log.push(START - time::Duration::HOUR, EventKind::Balance, &empty());
        assert_eq!(frame.ts, START);
        assert_eq!(frame.portfolio.and_then(|p| p.seq), Some(6));
    }
}
