//! Fault injection for the simulated venue: what can go wrong, how often, and the draws.
//!
//! A [`FaultConfig`] is written as a comma-separated list such as
//! `latency=50ms,jitter=20ms,http5xx=0.05,http429=0.02,drop_ws=0.001,silent_ws=0.001,`
//! `duplicate=0.01,reorder=0.01,malformed=0.01,lost_ack=0.01`. Durations take `ms` or `s`;
//! every other key is a probability in [0, 1], drawn once per request (HTTP faults) or once
//! per event frame sent (websocket faults). Every fault is off by default.
//!
//! [`FaultDice`] draws from its own ChaCha stream seeded from the venue seed, so switching
//! faults on or off never changes the market the casino and prices produce.
//!
//! # Invariants
//! - Parsing never panics and every error names the key (and value) at fault.
//! - `FaultConfig::default()` injects nothing, and `to_string()` parses back to an equal
//!   config.

use std::{fmt, str::FromStr, time::Duration};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which faults the venue injects, and how often.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FaultConfig {
    /// Fixed delay added before every HTTP response.
    pub latency: Duration,
    /// Extra uniformly random delay in `[0, jitter]` on top of `latency`.
    pub jitter: Duration,
    /// Probability that a request fails with 503 before it is processed.
    pub http5xx: f64,
    /// Probability that a request is throttled with 429 and `Retry-After` before it is
    /// processed.
    pub http429: f64,
    /// Probability per frame that the websocket is closed abruptly (no close frame).
    pub drop_ws: f64,
    /// Probability per frame that the websocket goes silent: open, but no frame (not even a
    /// heartbeat) is ever sent on it again.
    pub silent_ws: f64,
    /// Probability per frame that it is sent twice.
    pub duplicate: f64,
    /// Probability per frame that it is held back and sent after the next one.
    pub reorder: f64,
    /// Probability per frame that a malformed frame is sent just before it.
    pub malformed: f64,
    /// Probability that a mutating POST or DELETE is applied but its response never arrives.
    pub lost_ack: f64,
}

/// The fault kinds, as named in the spec string and in the venue's stats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// `latency` (and `jitter`).
    Latency,
    /// `http5xx`.
    Http5xx,
    /// `http429`.
    Http429,
    /// `drop_ws`.
    DropWs,
    /// `silent_ws`.
    SilentWs,
    /// `duplicate`.
    Duplicate,
    /// `reorder`.
    Reorder,
    /// `malformed`.
    Malformed,
    /// `lost_ack`.
    LostAck,
}

impl Fault {
    /// The name used in the spec string and in stats.
    pub const fn name(self) -> &'static str {
        match self {
            Fault::Latency => "latency",
            Fault::Http5xx => "http5xx",
            Fault::Http429 => "http429",
            Fault::DropWs => "drop_ws",
            Fault::SilentWs => "silent_ws",
            Fault::Duplicate => "duplicate",
            Fault::Reorder => "reorder",
            Fault::Malformed => "malformed",
            Fault::LostAck => "lost_ack",
        }
    }
}

/// A fault spec that does not parse; names the key and value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("fault spec: `{key}`: {reason}")]
pub struct FaultSpecError {
    /// The key (or the whole item, when it has no `=`).
    pub key: String,
    /// What is wrong.
    pub reason: String,
}

const KEYS: &str = "latency, jitter, http5xx, http429, drop_ws, silent_ws, duplicate, reorder, malformed, lost_ack";

/// Longest latency or jitter accepted: a minute is already far beyond any client timeout.
const MAX_DELAY: Duration = Duration::from_secs(60);

impl FaultConfig {
    /// Whether any fault is switched on.
    pub fn is_active(&self) -> bool {
        *self != FaultConfig::default()
    }

    /// The probability fields, by name, in spec order.
    fn probabilities(&self) -> [(Fault, f64); 8] {
        [
            (Fault::Http5xx, self.http5xx),
            (Fault::Http429, self.http429),
            (Fault::DropWs, self.drop_ws),
            (Fault::SilentWs, self.silent_ws),
            (Fault::Duplicate, self.duplicate),
            (Fault::Reorder, self.reorder),
            (Fault::Malformed, self.malformed),
            (Fault::LostAck, self.lost_ack),
        ]
    }

    /// Checks every value is in range, listing every problem.
    ///
    /// # Errors
    /// One line per bad field.
    pub fn validate(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for (fault, p) in self.probabilities() {
            if !(0.0..=1.0).contains(&p) {
                problems.push(format!(
                    "faults.{}: {p} is not a probability in [0, 1]",
                    fault.name()
                ));
            }
        }
        for (name, delay) in [("latency", self.latency), ("jitter", self.jitter)] {
            if delay > MAX_DELAY {
                problems.push(format!("faults.{name}: {delay:?} exceeds {MAX_DELAY:?}"));
            }
        }
        crate::validation::every_problem(problems)
    }
}

impl FromStr for FaultConfig {
    type Err = FaultSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut config = FaultConfig::default();
        let mut seen = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item.split_once('=').ok_or_else(|| FaultSpecError {
                key: item.to_owned(),
                reason: "expected key=value".to_owned(),
            })?;
            let (key, value) = (key.trim(), value.trim());
            let error = |reason: String| FaultSpecError {
                key: key.to_owned(),
                reason,
            };
            if seen.contains(&key) {
                return Err(error("given twice".to_owned()));
            }
            seen.push(key);
            match key {
                "latency" => config.latency = parse_delay(value).map_err(error)?,
                "jitter" => config.jitter = parse_delay(value).map_err(error)?,
                _ => {
                    let p = parse_probability(value).map_err(error)?;
                    let slot = match key {
                        "http5xx" => &mut config.http5xx,
                        "http429" => &mut config.http429,
                        "drop_ws" => &mut config.drop_ws,
                        "silent_ws" => &mut config.silent_ws,
                        "duplicate" => &mut config.duplicate,
                        "reorder" => &mut config.reorder,
                        "malformed" => &mut config.malformed,
                        "lost_ack" => &mut config.lost_ack,
                        _ => return Err(error(format!("unknown fault (expected one of {KEYS})"))),
                    };
                    *slot = p;
                }
            }
        }
        Ok(config)
    }
}

fn parse_delay(value: &str) -> Result<Duration, String> {
    let (number, scale_ms) = if let Some(ms) = value.strip_suffix("ms") {
        (ms, 1.0)
    } else if let Some(s) = value.strip_suffix('s') {
        (s, 1000.0)
    } else {
        return Err(format!("`{value}` needs a unit, e.g. 50ms or 1s"));
    };
    let number: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a duration"))?;
    let ms = number * scale_ms;
    if !ms.is_finite() || ms < 0.0 {
        return Err(format!("`{value}` must be a non-negative duration"));
    }
    let delay = Duration::from_secs_f64(ms / 1000.0);
    if delay > MAX_DELAY {
        return Err(format!("`{value}` exceeds {MAX_DELAY:?}"));
    }
    Ok(delay)
}

fn parse_probability(value: &str) -> Result<f64, String> {
    let p: f64 = value
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("`{value}` is not a probability in [0, 1]"));
    }
    Ok(p)
}

impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        if !self.latency.is_zero() {
            items.push(format!("latency={}ms", self.latency.as_secs_f64() * 1000.0));
        }
        if !self.jitter.is_zero() {
            items.push(format!("jitter={}ms", self.jitter.as_secs_f64() * 1000.0));
        }
        for (fault, p) in self.probabilities() {
            if p > 0.0 {
                items.push(format!("{}={p}", fault.name()));
            }
        }
        f.write_str(&items.join(","))
    }
}

impl TryFrom<String> for FaultConfig {
    type Error = FaultSpecError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<FaultConfig> for String {
    fn from(config: FaultConfig) -> String {
        config.to_string()
    }
}

/// Salt that separates the fault stream from the market stream of the same seed.
const FAULT_SEED_SALT: u64 = 0xFA17_5EED_0000_0001;

/// The seeded dice behind every fault decision.
#[derive(Debug)]
pub struct FaultDice {
    config: FaultConfig,
    rng: ChaCha8Rng,
}

impl FaultDice {
    /// Dice for this config, seeded from the venue seed.
    pub fn new(config: FaultConfig, seed: u64) -> Self {
        FaultDice {
            config,
            rng: ChaCha8Rng::seed_from_u64(seed ^ FAULT_SEED_SALT),
        }
    }

    /// The config the dice follow.
    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Switches to another config, keeping the random stream where it is (tests and
    /// rehearsals turn faults on and off while the venue runs).
    pub fn set_config(&mut self, config: FaultConfig) {
        self.config = config;
    }

    /// Whether `fault` happens this time. Draws nothing when the fault is off, so a config
    /// with one fault on gives the same sequence for it as before others were added.
    pub fn roll(&mut self, fault: Fault) -> bool {
        let p = match fault {
            Fault::Latency => {
                return !self.config.latency.is_zero() || !self.config.jitter.is_zero();
            }
            Fault::Http5xx => self.config.http5xx,
            Fault::Http429 => self.config.http429,
            Fault::DropWs => self.config.drop_ws,
            Fault::SilentWs => self.config.silent_ws,
            Fault::Duplicate => self.config.duplicate,
            Fault::Reorder => self.config.reorder,
            Fault::Malformed => self.config.malformed,
            Fault::LostAck => self.config.lost_ack,
        };
        p > 0.0 && self.rng.random_bool(p.min(1.0))
    }

    /// The delay for one response: `latency` plus a uniform draw in `[0, jitter]`.
    pub fn delay(&mut self) -> Duration {
        let jitter = if self.config.jitter.is_zero() {
            Duration::ZERO
        } else {
            self.config.jitter.mul_f64(self.rng.random::<f64>())
        };
        self.config.latency + jitter
    }

    /// A number in `0..n`, for choosing among malformed-frame variants.
    pub fn pick(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::test_support::assert_outcome;

    #[test]
    fn parse_fault_specs() {
        struct TestCase {
            input: &'static str,
            expected: Result<FaultConfig, &'static str>,
        }
        let cases = [
            // TC0: empty is no faults.
            TestCase {
                input: "",
                expected: Ok(FaultConfig::default()),
            },
            // TC1: the full example.
            TestCase {
                input: "latency=50ms,jitter=20ms,http5xx=0.05,http429=0.02,drop_ws=0.001,silent_ws=0.001,duplicate=0.01,reorder=0.01,malformed=0.01,lost_ack=0.01",
                expected: Ok(FaultConfig {
                    latency: Duration::from_millis(50),
                    jitter: Duration::from_millis(20),
                    http5xx: 0.05,
                    http429: 0.02,
                    drop_ws: 0.001,
                    silent_ws: 0.001,
                    duplicate: 0.01,
                    reorder: 0.01,
                    malformed: 0.01,
                    lost_ack: 0.01,
                }),
            },
            // TC2: seconds and spaces.
            TestCase {
                input: " latency = 1.5s , http5xx=1 ",
                expected: Ok(FaultConfig {
                    latency: Duration::from_millis(1500),
                    http5xx: 1.0,
                    ..FaultConfig::default()
                }),
            },
            // TC3: unknown key.
            TestCase {
                input: "latency=5ms,explode=0.1",
                expected: Err("`explode`: unknown fault"),
            },
            // TC4: probability out of range.
            TestCase {
                input: "http5xx=1.5",
                expected: Err("`http5xx`: `1.5` is not a probability"),
            },
            // TC5: a duration without a unit.
            TestCase {
                input: "latency=50",
                expected: Err("`latency`: `50` needs a unit"),
            },
            // TC6: not key=value.
            TestCase {
                input: "duplicate",
                expected: Err("`duplicate`: expected key=value"),
            },
            // TC7: NaN.
            TestCase {
                input: "reorder=NaN",
                expected: Err("`reorder`"),
            },
            // TC8: given twice.
            TestCase {
                input: "lost_ack=0.1,lost_ack=0.2",
                expected: Err("given twice"),
            },
            // TC9: a negative delay.
            TestCase {
                input: "jitter=-5ms",
                expected: Err("`jitter`"),
            },
        ];
        for (index, case) in cases.into_iter().enumerate() {
            assert_outcome(index, case.input.parse::<FaultConfig>(), case.expected);
        }
    }

    #[test]
    fn display_parses_back() {
        let config: FaultConfig = "latency=50ms,jitter=20ms,http429=0.02,lost_ack=0.5"
            .parse()
            .expect("parses");
        assert_eq!(config.to_string().parse::<FaultConfig>(), Ok(config));
        assert_eq!(FaultConfig::default().to_string(), "");
        assert!(!FaultConfig::default().is_active());
        assert!(config.is_active());
    }

    #[test]
    fn dice_are_deterministic_and_respect_zero_and_one() {
        let config: FaultConfig = "http5xx=1,duplicate=0.5".parse().expect("parses");
        let mut a = FaultDice::new(config, 7);
        let mut b = FaultDice::new(config, 7);
        for _ in 0..100 {
            assert!(a.roll(Fault::Http5xx));
            assert!(!a.roll(Fault::Http429));
            assert_eq!(a.roll(Fault::Duplicate), b.roll(Fault::Duplicate));
            b.roll(Fault::Http5xx);
        }
    }
}
