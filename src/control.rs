//! Operator control: what the operator can ask of a running companion, and what each request
//! does to the trading mode.
//!
//! The mode is one of [`Mode::Running`] (plans are made and sent), [`Mode::Paused`] (no new
//! plan; the leg in flight finishes, the rest of its plan waits for a resume) and
//! [`Mode::Halted`] (no leg is sent at all, retries included). [`decide`] is the one rule for
//! what a [`Command`] does in a mode; the actors carry it out and the store keeps every
//! accepted command as a [`ControlRecord`], so the mode survives a restart.
//!
//! # Invariants
//! - Only `resume` leaves `paused` or `halted`; `halt` is accepted in every mode.
//! - A `rebalance` is accepted only while running: a paused or halted companion sends nothing.
//! - A `recompute` changes no mode (new targets move no money by themselves).
//! - Every accepted command yields the mode after it; a refusal names the mode that refused.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The trading mode set by the operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Plans are made and sent.
    #[default]
    Running,
    /// No new plan; the leg in flight finishes and the rest of its plan waits for a resume.
    Paused,
    /// No leg is sent, no retry is made; survives restarts until resumed.
    Halted,
}

impl Mode {
    /// Every mode, in order of strictness.
    pub const ALL: [Mode; 3] = [Mode::Running, Mode::Paused, Mode::Halted];

    /// The mode's name, as stored and served.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Running => "running",
            Mode::Paused => "paused",
            Mode::Halted => "halted",
        }
    }

    /// Whether new plans wait (paused or halted).
    pub const fn holds_plans(self) -> bool {
        !matches!(self, Mode::Running)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|mode| mode.name() == text)
            .ok_or_else(|| UnknownName(text.to_owned()))
    }
}

/// What the operator can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Stop making plans; let the leg in flight finish.
    Pause,
    /// Back to running; triggers that waited fire against the latest balances.
    Resume,
    /// Stop every order at once, retries included.
    Halt,
    /// Rebalance to target now.
    Rebalance,
    /// Recompute the targets now.
    Recompute,
}

impl Command {
    /// Every command.
    pub const ALL: [Command; 5] = [
        Command::Pause,
        Command::Resume,
        Command::Halt,
        Command::Rebalance,
        Command::Recompute,
    ];

    /// The command's name, as in `POST /control/{name}` and `ballast ctl {name}`.
    pub const fn name(self) -> &'static str {
        match self {
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Halt => "halt",
            Command::Rebalance => "rebalance",
            Command::Recompute => "recompute",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Command {
    type Err = UnknownName;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Command::ALL
            .into_iter()
            .find(|command| command.name() == text)
            .ok_or_else(|| UnknownName(text.to_owned()))
    }
}

/// A mode or command name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not one of pause, resume, halt, rebalance, recompute (or a mode: running, paused, halted)"
)]
pub struct UnknownName(pub String);

/// A command the current mode refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{command} refused: trading is {mode}; resume first")]
pub struct Refused {
    /// The command.
    pub command: Command,
    /// The mode that refused it.
    pub mode: Mode,
}

/// What `command` does in `mode`: the mode after it.
///
/// # Errors
/// [`Refused`] for a `rebalance` while paused or halted, and a `pause` while halted (it would
/// loosen the halt).
pub fn decide(mode: Mode, command: Command) -> Result<Mode, Refused> {
    match (command, mode) {
        (Command::Halt, _) => Ok(Mode::Halted),
        (Command::Resume, _) => Ok(Mode::Running),
        (Command::Pause, Mode::Halted) | (Command::Rebalance, Mode::Paused | Mode::Halted) => {
            Err(Refused { command, mode })
        }
        (Command::Pause, _) => Ok(Mode::Paused),
        (Command::Rebalance | Command::Recompute, mode) => Ok(mode),
    }
}

/// One accepted command: who asked, when, why, and the mode after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlRecord {
    /// When it was accepted (wall time).
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The command.
    pub command: Command,
    /// The mode before it.
    pub previous: Mode,
    /// The mode after it.
    pub mode: Mode,
    /// Who asked (the requester's own label, else its address).
    pub by: String,
    /// Why, in the requester's words (may be empty).
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_in_every_mode() {
        struct TestCase {
            mode: Mode,
            command: Command,
            expected: Result<Mode, ()>,
        }
        use Command::*;
        use Mode::*;
        let cases = [
            // TC0: pause while running.
            TestCase {
                mode: Running,
                command: Pause,
                expected: Ok(Paused),
            },
            // TC1: pause twice is harmless.
            TestCase {
                mode: Paused,
                command: Pause,
                expected: Ok(Paused),
            },
            // TC2: pause would loosen a halt.
            TestCase {
                mode: Halted,
                command: Pause,
                expected: Err(()),
            },
            // TC3-5: halt from anywhere.
            TestCase {
                mode: Running,
                command: Halt,
                expected: Ok(Halted),
            },
            TestCase {
                mode: Paused,
                command: Halt,
                expected: Ok(Halted),
            },
            TestCase {
                mode: Halted,
                command: Halt,
                expected: Ok(Halted),
            },
            // TC6-8: resume from anywhere.
            TestCase {
                mode: Running,
                command: Resume,
                expected: Ok(Running),
            },
            TestCase {
                mode: Paused,
                command: Resume,
                expected: Ok(Running),
            },
            TestCase {
                mode: Halted,
                command: Resume,
                expected: Ok(Running),
            },
            // TC9-11: rebalance only while running.
            TestCase {
                mode: Running,
                command: Rebalance,
                expected: Ok(Running),
            },
            TestCase {
                mode: Paused,
                command: Rebalance,
                expected: Err(()),
            },
            TestCase {
                mode: Halted,
                command: Rebalance,
                expected: Err(()),
            },
            // TC12-14: recompute anywhere, mode unchanged.
            TestCase {
                mode: Running,
                command: Recompute,
                expected: Ok(Running),
            },
            TestCase {
                mode: Paused,
                command: Recompute,
                expected: Ok(Paused),
            },
            TestCase {
                mode: Halted,
                command: Recompute,
                expected: Ok(Halted),
            },
        ];
        for (i, case) in cases.into_iter().enumerate() {
            let got = decide(case.mode, case.command);
            match case.expected {
                Ok(mode) => assert_eq!(got, Ok(mode), "TC{i}"),
                Err(()) => {
                    let refused = got.expect_err(&format!("TC{i}: refused"));
                    assert_eq!(refused.mode, case.mode, "TC{i}");
                    assert!(refused.to_string().contains(case.mode.name()), "TC{i}");
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for mode in Mode::ALL {
            assert_eq!(mode.name().parse::<Mode>(), Ok(mode));
        }
        for command in Command::ALL {
            assert_eq!(command.name().parse::<Command>(), Ok(command));
        }
        assert!("stop".parse::<Command>().is_err());
        assert!("".parse::<Mode>().is_err());
    }
}
