//! Shared helpers for the binary-level tests: the real `ballast` binary as `ballast sim` and
//! `ballast run`, a temporary store, stdout read line by line on a thread, and plain HTTP/1.1
//! requests to the venue (the tests need no client).
//!
//! # Invariants
//! - Every venue binds 127.0.0.1 port 0; every wait is bounded and fails naming what it
//!   waited for.

#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ballast");

/// A fresh temporary directory for one test, removed when dropped.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `ballast-{name}-{pid}` under the system's temp directory, emptied.
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ballast-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    /// The store path inside it.
    pub fn store(&self) -> PathBuf {
        self.0.join("ballast.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// This test binary's scratch directory, `ballast-{test}-{pid}` under Cargo's temp dir,
/// created: for the input files a case hands the binary (left behind for a look after a
/// failure).
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ballast-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A file `name` holding `body` in the [`scratch_dir`] of `test`.
pub fn scratch_file(test: &str, name: &str, body: &str) -> PathBuf {
    let path = scratch_dir(test).join(name);
    std::fs::write(&path, body).expect("writes");
    path
}

/// Lines of a child's stdout, read on a thread.
pub fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line satisfying `done`, at most `limit`; returns it, or fails naming `what`.
pub fn wait_for_line(
    lines: &mpsc::Receiver<String>,
    limit: Duration,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if done(&line) => return line,
            Ok(_) => {}
            Err(error) => panic!("{what}: {error}"),
        }
    }
}

/// A `ballast sim` on a free loopback port.
#[derive(Debug)]
pub struct Sim {
    /// The process.
    pub child: Child,
    /// `http://127.0.0.1:PORT/api/v1`.
    pub base_url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Sim {
    /// Starts `ballast --json sim --listen 127.0.0.1:0` with `extra` arguments.
    pub fn start(extra: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .args(["--json", "sim", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("PURPLE_FLEA_API_KEY")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sim starts");
        let lines = lines_of(&mut child);
        let first: serde_json::Value = serde_json::from_str(
            &lines
                .recv_timeout(Duration::from_secs(30))
                .expect("sim prints its address"),
        )
        .expect("JSON");
        Self {
            child,
            base_url: first["base_url"].as_str().expect("base_url").to_owned(),
            addr: first["addr"].as_str().expect("addr").to_owned(),
        }
    }

    /// `GET path` as JSON.
    pub fn get(&self, path: &str) -> serde_json::Value {
        http(&self.addr, "GET", path, None)
    }

    /// `POST /api/v1/sim/inject` with `body`.
    pub fn inject(&self, body: &str) -> serde_json::Value {
        http(&self.addr, "POST", "/api/v1/sim/inject", Some(body))
    }

    /// The venue's statistics.
    pub fn stats(&self) -> serde_json::Value {
        self.get("/api/v1/sim/stats")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request, its body parsed as JSON.
pub fn http(addr: &str, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
    let response = exchange(addr, method, path, body, None).expect("response read");
    json_body(&response)
}

/// One HTTP/1.1 request that waits at most five seconds for the reply: its JSON body, or
/// `Null` when the venue withheld it (a lost-ack fault holds a reply until the venue stops).
pub fn http_or_null(addr: &str, method: &str, path: &str, body: Option<&str>) -> serde_json::Value {
    exchange(addr, method, path, body, Some(Duration::from_secs(5)))
        .map_or(serde_json::Value::Null, |response| json_body(&response))
}

/// Sends one request and reads the whole response; `None` when reading it failed (its
/// `read_timeout` passed).
fn exchange(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    read_timeout: Option<Duration>,
) -> Option<String> {
    let mut stream = TcpStream::connect(addr).expect("venue reachable");
    stream.set_read_timeout(read_timeout).expect("timeout set");
    let body = body.unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("request written");
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

/// The JSON body of a raw HTTP response.
fn json_body(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("JSON body ({e}): {response}"))
}

/// `ballast run --venue URL` on `store` with `env` on top, stdout piped.
fn run_command(base_url: &str, store: &Path, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(["run", "--venue", base_url])
        .env("BALLAST__STORE__PATH", store)
        .env_remove("PURPLE_FLEA_API_KEY")
        .stdout(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// `ballast run --json --venue URL` on `store`, with `env` on top; stdout and stderr piped.
pub fn companion(base_url: &str, store: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    run_command(base_url, store, env)
        .arg("--json")
        .args(args)
        .stderr(Stdio::piped())
        .spawn()
        .expect("companion starts")
}

/// A [`companion`] and its stdout lines, once it has printed its start-up balances (it has
/// synced with the venue); fails naming `what` when it does not within a minute.
pub fn synced_companion(
    base_url: &str,
    store: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    what: &str,
) -> (Child, mpsc::Receiver<String>) {
    let mut child = companion(base_url, store, args, env);
    let lines = lines_of(&mut child);
    wait_for_line(&lines, Duration::from_secs(60), what, |l| {
        is_kind(l, "balances")
    });
    (child, lines)
}

/// `ballast run --venue URL` on `store`, with `env` on top, printing the operator's lines
/// (stdout piped) and its logs nowhere: for tests that read what a person would see.
pub fn companion_plain(base_url: &str, store: &Path, env: &[(&str, &str)]) -> Child {
    run_command(base_url, store, env)
        .stderr(Stdio::null())
        .spawn()
        .expect("companion starts")
}

/// What a finished run of the binary printed, and its exit code.
#[derive(Debug)]
pub struct Run {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Standard output, lossily decoded.
    pub stdout: String,
    /// Standard error, lossily decoded.
    pub stderr: String,
}

/// The binary without the developer's own configuration: no `RUST_LOG`, no `BALLAST__...`.
pub fn bare_command() -> Command {
    let mut command = Command::new(BIN);
    command.env_remove("RUST_LOG");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("BALLAST__")) {
        command.env_remove(key);
    }
    command
}

/// Runs `command` with `env` on top to its end.
pub fn finish(mut command: Command, env: &[(&str, &str)]) -> Run {
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("runs the binary");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `ballast ARGS` on `store` with stdout and stderr piped, without the developer's log
/// filter or API key.
pub fn spawn_on(store: &Path, args: &[&str]) -> Child {
    Command::new(BIN)
        .args(args)
        .env("BALLAST__STORE__PATH", store)
        .env_remove("RUST_LOG")
        .env_remove("PURPLE_FLEA_API_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts")
}

/// `ballast --json status --store PATH`.
pub fn status(store: &Path) -> serde_json::Value {
    let output = Command::new(BIN)
        .args(["--json", "status", "--store"])
        .arg(store)
        .output()
        .expect("status runs");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "status prints JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Sends a signal by name (`TERM`, `INT`, `KILL`) with `kill`.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid}");
}

/// Whether a JSON line of `ballast run --json` is of `kind`.
pub fn is_kind(line: &str, kind: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v["kind"] == kind)
}

/// Reads what is left of a child's stderr.
pub fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut text);
    }
    text
}
