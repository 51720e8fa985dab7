//! Idempotency: the first reply to each `Idempotency-Key`, replayed for a repeat of the same
//! request and refused for a different one.
//!
//! # Invariants
//! - A repeated key with the same request returns the first reply and changes nothing; with
//!   a different request it is refused (422) and changes nothing.
//! - A refusal is remembered under its key like a success, so a retry gets the same answer.
//! - At most `capacity` keys are remembered; the oldest is forgotten first.
//! - A status route (`GET …/{key}`) answers the stored first reply while the key is
//!   remembered, changing nothing; after that only what its own log still knows.

use std::collections::{HashMap, VecDeque};

use serde::Serialize;

use super::{
    Engine,
    outcome::{Processed, refused, refused_with},
};
use crate::sim::{http::Reply, ledger::StateError};

/// Idempotency keys remembered; the oldest is forgotten first.
pub const IDEMPOTENCY_CAPACITY: usize = 100_000;

/// A reply remembered under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    /// Method, path and canonical body of the first request.
    pub fingerprint: String,
    /// HTTP status of the first reply.
    pub status: u16,
    /// JSON body of the first reply.
    pub body: String,
}

/// What an idempotency lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The key is new.
    Miss,
    /// The same request was seen: replay this.
    Replay(StoredReply),
    /// The key was used for a different request.
    Conflict,
}

/// Idempotency keys and their first replies, bounded (oldest forgotten first).
#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    replies: HashMap<String, StoredReply>,
    order: VecDeque<String>,
    capacity: usize,
}

impl IdempotencyStore {
    /// A store remembering at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        IdempotencyStore {
            replies: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// The first reply stored under `key`, whatever the request was.
    pub fn get(&self, key: &str) -> Option<&StoredReply> {
        self.replies.get(key)
    }

    /// Looks a key up against the request's fingerprint.
    pub fn lookup(&self, key: &str, fingerprint: &str) -> Lookup {
        match self.replies.get(key) {
            None => Lookup::Miss,
            Some(stored) if stored.fingerprint == fingerprint => Lookup::Replay(stored.clone()),
            Some(_) => Lookup::Conflict,
        }
    }

    /// Remembers the first reply for a key.
    pub fn insert(&mut self, key: String, reply: StoredReply) {
        if self.replies.contains_key(&key) {
            return;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.replies.remove(&oldest);
        }
        self.order.push_back(key.clone());
        self.replies.insert(key, reply);
    }

    /// Keys remembered.
    pub fn len(&self) -> usize {
        self.replies.len()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }
}

impl Engine {
    /// Runs `process` unless the key was seen: then replays the first reply (same request)
    /// or refuses with 422 (different request), changing nothing. A [`StateError`] from
    /// `process` becomes its refusal, which is remembered under the key like a success.
    pub(in crate::sim) fn idempotent(
        &mut self,
        key: Option<&str>,
        fingerprint: &str,
        process: impl FnOnce(&mut Engine) -> Result<Processed, StateError>,
    ) -> Processed {
        let process = |engine: &mut Engine| process(engine).unwrap_or_else(|e| refused(&e));
        let Some(key) = key else {
            return process(self);
        };
        match self.idempotency.lookup(key, fingerprint) {
            Lookup::Replay(stored) => {
                self.counters.idempotent_replays += 1;
                tracing::debug!(idempotency_key = key, "sim replayed an idempotent reply");
                Processed {
                    reply: Reply {
                        status: stored.status,
                        body: stored.body,
                    },
                    frames: Vec::new(),
                    transfer: None,
                    applied: false,
                }
            }
            Lookup::Conflict => refused_with(Reply::error(
                422,
                "idempotency_key_reused",
                format!("Idempotency-Key `{key}` was already used for a different request"),
            )),
            Lookup::Miss => {
                let processed = process(self);
                self.idempotency.insert(
                    key.to_owned(),
                    StoredReply {
                        fingerprint: fingerprint.to_owned(),
                        status: processed.reply.status,
                        body: processed.reply.body.clone(),
                    },
                );
                processed
            }
        }
    }

    /// The answer of a status route (`GET …/{key}`, *addition*) for the request of one kind
    /// (its fingerprint starts with `fingerprint_prefix`) POSTed under `key`, applying
    /// nothing: the first reply while the key is remembered; once it has been evicted from
    /// the bounded replay map, what `logged` still knows of an applied one, as a 200; else
    /// 404 `unknown_idempotency_key` saying no `what` was received under the key.
    pub(super) fn key_status<T: Serialize>(
        &self,
        fingerprint_prefix: &str,
        key: &str,
        what: &str,
        logged: impl FnOnce() -> Option<T>,
    ) -> Reply {
        if let Some(stored) = self.idempotency.get(key)
            && stored.fingerprint.starts_with(fingerprint_prefix)
        {
            return Reply {
                status: stored.status,
                body: stored.body.clone(),
            };
        }
        if let Some(logged) = logged() {
            return match serde_json::to_string(&logged) {
                Ok(body) => Reply { status: 200, body },
                Err(e) => Reply::error(500, "internal", format!("encoding the status: {e}")),
            };
        }
        Reply::error(
            404,
            "unknown_idempotency_key",
            format!("no {what} was received under Idempotency-Key `{key}`"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::engine::testing::quiet_engine;

    #[test]
    fn idempotency_store_replays_conflicts_and_forgets_oldest() {
        let reply = |fingerprint: &str| StoredReply {
            fingerprint: fingerprint.into(),
            status: 200,
            body: "{}".into(),
        };
        let mut store = IdempotencyStore::new(2);
        store.insert("a".into(), reply("A"));
        store.insert("b".into(), reply("B"));
        assert_eq!(store.lookup("a", "A"), Lookup::Replay(reply("A")));
        assert_eq!(store.lookup("a", "B"), Lookup::Conflict);
        store.insert("c".into(), reply("C"));
        assert_eq!(store.lookup("a", "A"), Lookup::Miss);
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn key_status_answers_the_stored_reply_then_the_log_then_404() {
        struct TestCase {
            prefix: &'static str,
            key: &'static str,
            logged: Option<serde_json::Value>,
            expected: (u16, &'static str),
        }
        let mut engine = quiet_engine();
        engine.idempotency.insert(
            "k".into(),
            StoredReply {
                fingerprint: "POST /trading/order {}".into(),
                status: 409,
                body: "{\"first\":true}".into(),
            },
        );
        let cases = [
            // TC0: a remembered key of this kind: its first reply, whatever the log says.
            TestCase {
                prefix: "POST /trading/",
                key: "k",
                logged: Some(serde_json::json!({"logged": 1})),
                expected: (409, "{\"first\":true}"),
            },
            // TC1: the key was used for another kind: the log answers.
            TestCase {
                prefix: "POST /wallet/",
                key: "k",
                logged: Some(serde_json::json!({"logged": 1})),
                expected: (200, "{\"logged\":1}"),
            },
            // TC2: neither knows it: 404 naming what was asked for and the key.
            TestCase {
                prefix: "POST /wallet/",
                key: "gone",
                logged: None,
                expected: (404, "no trade was received under Idempotency-Key `gone`"),
            },
        ];
        for (index, case) in cases.into_iter().enumerate() {
            let reply = engine.key_status(case.prefix, case.key, "trade", || case.logged);
            assert_eq!(reply.status, case.expected.0, "TC{index}: {reply:?}");
            assert!(reply.body.contains(case.expected.1), "TC{index}: {reply:?}");
        }
        let unknown = engine.key_status("POST /x/", "gone", "trade", || None::<()>);
        assert!(
            unknown.body.contains("unknown_idempotency_key"),
            "{unknown:?}"
        );
    }
}
