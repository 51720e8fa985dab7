//! What the operating guide and the systemd unit promise, checked: the unit restarts on
//! failure as a dedicated user with the key from an environment file, stops by SIGTERM and
//! waits longer than ballast's shutdown deadline; the guide explains every kind of alert.

use ballast::alerting::AlertKind;
use ballast_actors::settings::Settings;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The value of `key=` in the unit (the last one, as systemd takes it).
fn setting(unit: &str, key: &str) -> Option<String> {
    unit.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
}

#[test]
fn r13_the_systemd_unit_runs_ballast_as_the_guide_says() {
    let unit = read("config/ballast.service");
    assert_eq!(setting(&unit, "Restart").as_deref(), Some("on-failure"));
    assert_eq!(setting(&unit, "KillSignal").as_deref(), Some("SIGTERM"));
    let user = setting(&unit, "User").expect("a dedicated user");
    assert!(!user.is_empty() && user != "root", "{user}");
    assert!(
        setting(&unit, "EnvironmentFile").is_some(),
        "the key comes from a file"
    );
    assert!(
        setting(&unit, "WorkingDirectory").is_some(),
        "the store's directory"
    );
    let exec = setting(&unit, "ExecStart").expect("ExecStart");
    assert!(exec.contains("ballast") && exec.ends_with(" run"), "{exec}");
    // The default `executor.shutdown_deadline_ms`, as a run without overrides has it.
    let deadline = Settings::load(&[])
        .and_then(Settings::validate)
        .expect("the defaults are valid")
        .shutdown_deadline;
    let stop_secs: u64 = setting(&unit, "TimeoutStopSec")
        .and_then(|s| s.parse().ok())
        .expect("TimeoutStopSec in seconds");
    assert!(
        stop_secs > deadline.as_secs(),
        "systemd would kill ballast inside its own {deadline:?} deadline"
    );
    assert!(
        unit.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .all(|l| !l.contains("PURPLE_FLEA_API_KEY")),
        "no key in the unit itself"
    );
}

#[test]
fn r13_the_guide_says_what_every_alert_means() {
    let guide = read("docs/operating.md");
    for kind in AlertKind::ALL {
        let row = format!("| `{}` |", kind.name());
        assert!(
            guide.contains(&row),
            "docs/operating.md has no row for {}",
            kind.name()
        );
        assert!(
            guide.contains(&format!("{row} {} |", kind.severity().name())),
            "{}: severity",
            kind.name()
        );
    }
    for topic in [
        "## Back up the store",
        "VACUUM INTO",
        "## Rotate logs",
        "## Upgrade",
    ] {
        assert!(guide.contains(topic), "{topic}");
    }
}
