//! Standard output that a closed pipe cannot crash: the one way commands print.
//!
//! `println!` panics when stdout is gone (`ballast status --json | head -1` closes the pipe
//! after one line). Rust ignores SIGPIPE, so the write fails with `BrokenPipe` instead of
//! killing the process; [`line`] turns that into an error the caller can act on: a command
//! stops printing and exits 0 (the reader asked for no more, see `main`), and `ballast run`
//! stops its console feed but keeps trading, recording and stopping as it would otherwise.
//!
//! # Invariants
//! - Nothing here panics on a write failure.
//! - Once a write fails, every later [`line`] or [`text`] fails at once without writing: output ends,
//!   it does not resume with lines missing in the middle.
//! - The first failure is logged once (a warning on stderr), naming the error.

use std::{
    fmt,
    io::{self, Write},
    sync::atomic::{AtomicBool, Ordering},
};

/// Set by the first failed write to stdout.
static CLOSED: AtomicBool = AtomicBool::new(false);
/// Whether that failure was the reader going away.
static BROKEN_PIPE: AtomicBool = AtomicBool::new(false);

/// Stdout could not be written (closed by its reader, or failing): output has ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("standard output closed: {reason}")]
pub struct OutputClosed {
    /// The write error, or why output had already ended.
    pub reason: String,
    /// The reader went away (`EPIPE`): it asked for no more, which is no failure.
    pub broken_pipe: bool,
}

/// Writes one line to stdout and flushes it (the feed is read live, line by line).
///
/// # Errors
/// [`OutputClosed`] when the write fails, or failed before.
pub fn line(args: fmt::Arguments<'_>) -> Result<(), OutputClosed> {
    write(|out| writeln!(out, "{args}"))
}

/// Writes `text` to stdout as it is (a document that brings its own line ends, such as a
/// generated Markdown page) and flushes it.
///
/// # Errors
/// [`OutputClosed`] when the write fails, or failed before.
pub fn text(text: &str) -> Result<(), OutputClosed> {
    write(|out| out.write_all(text.as_bytes()))
}

/// Runs one write on the locked stdout, flushes, and turns a failure into [`OutputClosed`].
fn write(
    body: impl FnOnce(&mut io::StdoutLock<'static>) -> io::Result<()>,
) -> Result<(), OutputClosed> {
    if CLOSED.load(Ordering::Acquire) {
        return Err(OutputClosed {
            reason: "an earlier write failed".to_owned(),
            broken_pipe: BROKEN_PIPE.load(Ordering::Acquire),
        });
    }
    let mut out = io::stdout().lock();
    match body(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(error) => {
            let broken_pipe = error.kind() == io::ErrorKind::BrokenPipe;
            BROKEN_PIPE.store(broken_pipe, Ordering::Release);
            if !CLOSED.swap(true, Ordering::AcqRel) {
                tracing::warn!(%error, "standard output closed; no more output (trading is unaffected)");
            }
            Err(OutputClosed {
                reason: error.to_string(),
                broken_pipe,
            })
        }
    }
}

/// Whether stdout has been found closed.
pub fn is_closed() -> bool {
    CLOSED.load(Ordering::Acquire)
}

/// Whether `error` is (or wraps) an [`OutputClosed`] because the reader went away: the
/// command's output ended as asked, not in failure.
pub fn is_reader_gone(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<OutputClosed>()
            .is_some_and(|c| c.broken_pipe)
    })
}

/// `outln!("...", args)`: [`line`] with `format!` syntax; returns its `Result`.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// Makes a broken stdout end the process quietly with success for commands that still print
/// with `println!` (which panics on a closed pipe): the reader asked for no more output.
/// Other panics keep the default report. `ballast run` does not use this: a panic there is
/// contained and the run stops cleanly (see [`crate::system::contain_panics`]).
pub fn exit_quietly_on_broken_stdout() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        previous(info);
    }));
}
