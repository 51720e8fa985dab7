//! Store tests: round trips are exact, the cursor never moves back, legs keep their status,
//! and the schema refuses files from the future.

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use time::macros::datetime;

use super::*;

fn plan(run_id: &str, plan_seq: u32, amounts: &[(Service, Direction, Decimal)]) -> PlanRecord {
    let plan_id = format!("{run_id}:{plan_seq}");
    PlanRecord {
        legs: amounts
            .iter()
            .enumerate()
            .map(|(i, (service, direction, amount_usdc))| LegRecord {
                idempotency_key: format!("{plan_id}:{i}"),
                leg_index: u32::try_from(i).expect("few legs"),
                service: *service,
                direction: *direction,
                amount_usdc: *amount_usdc,
                status: LegStatus::Pending,
            })
            .collect(),
        plan_id,
        run_id: run_id.to_owned(),
        created_at: datetime!(2026-01-01 00:05 UTC),
        trigger: "large_win".into(),
        reason: "casino won 15% of bankroll".into(),
        total_usdc: dec!(1234.56),
    }
}

fn run(run_id: &str) -> RunRecord {
    RunRecord {
        run_id: run_id.into(),
        started_at: datetime!(2026-01-01 00:00 UTC),
        stopped_at: None,
        venue: "http://127.0.0.1:1/api/v1".into(),
        dry_run: false,
    }
}

#[tokio::test]
async fn cursor_never_moves_backwards() {
    let store = Store::open_in_memory().expect("opens");
    assert_eq!(store.load_cursor("v#a").await.expect("loads"), 0);
    store.save_cursor("v#a", 42).await.expect("saves");
    store.save_cursor("v#a", 17).await.expect("saves");
    assert_eq!(store.load_cursor("v#a").await.expect("loads"), 42);
    // Another venue or agent has its own cursor.
    assert_eq!(store.load_cursor("v#b").await.expect("loads"), 0);
}

#[tokio::test]
async fn plans_round_trip_exactly_and_pending_legs_are_found() {
    let store = Store::open_in_memory().expect("opens");
    store.start_run(run("r1")).await.expect("run");
    let recorded = plan(
        "r1",
        1,
        &[
            (Service::Casino, Direction::Decrease, dec!(120.01)),
            (Service::Trading, Direction::Increase, dec!(0.10)),
        ],
    );
    store.record_plan(recorded.clone()).await.expect("records");
    assert_eq!(store.pending_legs().await.expect("reads"), recorded.legs);

    store
        .update_leg(
            "r1:1:0".into(),
            LegStatus::Applied,
            Some("t-1".into()),
            None,
        )
        .await
        .expect("updates");
    let pending = store.pending_legs().await.expect("reads");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].idempotency_key, "r1:1:1");

    let status = store.status().await.expect("status");
    assert_eq!(status.plans, 1);
    assert_eq!(status.legs_applied, 1);
    assert_eq!(status.legs_pending, 1);
    assert_eq!(status.turnover_usdc, dec!(120.01));
    assert_eq!(status.recent_plans[0].legs[1].amount_usdc, dec!(0.10));
    assert_eq!(status.last_run.expect("a run").run_id, "r1");
    assert!(status.failure_reasons.is_empty());

    // A failed leg's reason is part of the status.
    store
        .update_leg(
            "r1:1:1".into(),
            LegStatus::Failed,
            None,
            Some("POST /agents/a/rebalance: HTTP 409 insufficient_balance".into()),
        )
        .await
        .expect("updates");
    let status = store.status().await.expect("status");
    assert_eq!(status.legs_failed, 1);
    assert_eq!(
        status.failure_reasons.get("r1:1:1").map(String::as_str),
        Some("POST /agents/a/rebalance: HTTP 409 insufficient_balance")
    );
}

#[tokio::test]
async fn a_duplicate_idempotency_key_is_refused_and_records_nothing() {
    let store = Store::open_in_memory().expect("opens");
    store.start_run(run("r1")).await.expect("run");
    let first = plan("r1", 1, &[(Service::Casino, Direction::Decrease, dec!(1))]);
    store.record_plan(first.clone()).await.expect("records");
    let mut clash = plan("r1", 2, &[(Service::Wallet, Direction::Decrease, dec!(2))]);
    clash.legs[0].idempotency_key = first.legs[0].idempotency_key.clone();
    assert!(store.record_plan(clash).await.is_err());
    // The failed transaction left no half-recorded plan behind.
    assert_eq!(store.status().await.expect("status").plans, 1);
}

#[tokio::test]
async fn snapshots_and_status_survive_reopening_the_file() {
    let dir = std::env::temp_dir().join(format!("ballast-store-{}", std::process::id()));
    let path = dir.join("ballast.db");
    let _ = std::fs::remove_file(&path);
    {
        let store = Store::open(&path).expect("opens");
        store.start_run(run("r9")).await.expect("run");
        let balances = ServiceMap::from_fn(|s| Decimal::from(s.index() as u32 * 10) + dec!(0.01));
        let snapshot = PortfolioSnapshot::new(balances, Some(7)).expect("valid");
        store
            .record_snapshot(
                datetime!(2026-01-02 00:00 UTC),
                "rest",
                snapshot,
                Durability::Written,
            )
            .await
            .expect("records");
        store.save_cursor("v#a", 7).await.expect("cursor");
        store
            .finish_run("r9".into(), datetime!(2026-01-03 00:00 UTC))
            .await
            .expect("finishes");
    }
    let status = read_status(&path).expect("reads");
    assert_eq!(status.cursor_seq, 7);
    let snapshot = status.last_snapshot.expect("a snapshot");
    assert_eq!(snapshot.balances_usdc[Service::Reserve], dec!(50.01));
    assert!(status.last_run.expect("a run").stopped_at.is_some());
    // Reopening migrates nothing and keeps the data.
    let store = Store::open(&path).expect("reopens");
    assert_eq!(store.load_cursor("v#a").await.expect("cursor"), 7);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_written_write_leaves_the_connection_syncing_every_commit() {
    // TC0: the write succeeds; TC1: it fails. Either way the next write is on disk again.
    let c = Connection::open_in_memory().expect("opens");
    c.pragma_update(None, "synchronous", "FULL").expect("sets");
    let synchronous = |c: &Connection| -> i64 {
        c.pragma_query_value(None, "synchronous", |r| r.get(0))
            .expect("reads")
    };
    let during = write_with(&c, Durability::Written, |c| Ok(synchronous(c))).expect("writes");
    assert_eq!(
        (during, synchronous(&c)),
        (1, 2),
        "TC0: NORMAL during, FULL after"
    );
    let failed = write_with(&c, Durability::Written, |_| -> Result<(), _> {
        Err(StoreError::Closed)
    });
    assert!(matches!(failed, Err(StoreError::Closed)), "TC1: {failed:?}");
    assert_eq!(synchronous(&c), 2, "TC1: FULL after a failed write");
    let on_disk = write_with(&c, Durability::OnDisk, |c| Ok(synchronous(c))).expect("writes");
    assert_eq!(on_disk, 2, "an on-disk write runs at FULL");
}

#[test]
fn a_database_from_a_newer_ballast_is_refused() {
    let mut connection = Connection::open_in_memory().expect("opens");
    connection
        .pragma_update(None, "user_version", schema::CURRENT_VERSION + 1)
        .expect("sets");
    assert!(matches!(
        schema::migrate(&mut connection),
        Err(StoreError::TooNew { .. })
    ));
}

#[tokio::test]
async fn applied_turnover_is_summed_per_utc_day() {
    let store = Store::open_in_memory().expect("opens");
    store.start_run(run("r1")).await.expect("run");
    let mut yesterday = plan("r1", 1, &[(Service::Casino, Direction::Decrease, dec!(40))]);
    yesterday.created_at = datetime!(2025-12-31 23:00 UTC);
    let today = plan(
        "r1",
        2,
        &[
            (Service::Casino, Direction::Decrease, dec!(25.50)),
            (Service::Wallet, Direction::Increase, dec!(10)),
        ],
    );
    for recorded in [yesterday, today] {
        store.record_plan(recorded).await.expect("records");
    }
    for key in ["r1:1:0", "r1:2:0"] {
        store
            .update_leg(key.into(), LegStatus::Applied, Some("t".into()), None)
            .await
            .expect("updates");
    }
    // r1:2:1 stays pending: not money moved (yet).
    let day = datetime!(2026-01-01 12:00 UTC).date();
    assert_eq!(store.applied_usdc_on(day).await.expect("sums"), dec!(25.50));
    let before = datetime!(2025-12-31 12:00 UTC).date();
    assert_eq!(store.applied_usdc_on(before).await.expect("sums"), dec!(40));
}

#[test]
fn the_days_turnover_reads_todays_plans_without_sorting_every_leg() {
    // Read before every plan while a daily cap is on (the relative one is, by default): it
    // must walk plans newest first through `legs_by_plan`, not sort all applied legs.
    let mut connection = Connection::open_in_memory().expect("opens");
    schema::migrate(&mut connection).expect("migrates");
    let sql = super::legs::APPLIED_ON_DAY_SQL;
    let mut explain = connection
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .expect("explains");
    let steps: Vec<String> = explain
        .query_map([], |r| r.get::<_, String>(3))
        .expect("runs")
        .map(|step| step.expect("reads"))
        .collect();
    assert!(
        steps.iter().any(|s| s.contains("legs_by_plan")),
        "{steps:?}"
    );
    assert!(
        !steps.iter().any(|s| s.contains("TEMP B-TREE")),
        "{steps:?}"
    );
}

#[tokio::test]
async fn a_seq_beyond_the_column_is_refused_by_name_and_never_saved() {
    // An event numbered 2^64 - 1 once saturated into the cursor (9223372036854775807), and
    // every later event looked old.
    let store = Store::open_in_memory().expect("opens");
    store.save_cursor("v#a", 29).await.expect("saves");
    let error = store
        .save_cursor("v#a", u64::MAX)
        .await
        .expect_err("refused");
    assert!(matches!(
        error,
        StoreError::OutOfRange {
            column: "cursor.seq",
            ..
        }
    ));
    assert!(error.to_string().contains("cursor.seq"), "{error}");
    assert!(store.rebase_cursor("v#a", u64::MAX, 1).await.is_err());
    assert_eq!(store.load_cursor("v#a").await.expect("loads"), 29);
    // The largest value the column holds is kept exactly.
    store
        .save_cursor("v#b", i64::MAX as u64)
        .await
        .expect("saves");
    assert_eq!(
        store.load_cursor("v#b").await.expect("loads"),
        i64::MAX as u64
    );
}

#[tokio::test]
async fn a_rebase_moves_the_cursor_down_into_a_new_epoch() {
    let store = Store::open_in_memory().expect("opens");
    assert_eq!(
        store.load_cursor_state("v#a").await.expect("loads"),
        Cursor::default()
    );
    store.save_cursor("v#a", 29).await.expect("saves");
    store.rebase_cursor("v#a", 3, 1).await.expect("rebases");
    assert_eq!(
        store.load_cursor_state("v#a").await.expect("loads"),
        Cursor { seq: 3, epoch: 1 }
    );
    // Within the new epoch the cursor again only moves forward.
    store.save_cursor("v#a", 2).await.expect("saves");
    store.save_cursor("v#a", 5).await.expect("saves");
    assert_eq!(
        store.load_cursor_state("v#a").await.expect("loads"),
        Cursor { seq: 5, epoch: 1 }
    );
}

#[tokio::test]
async fn a_plan_recorded_twice_is_named_as_a_duplicate() {
    let store = Store::open_in_memory().expect("opens");
    store.start_run(run("r1")).await.expect("run");
    store.start_run(run("r2")).await.expect("run");
    let first = plan("r1", 1, &[(Service::Casino, Direction::Decrease, dec!(1))]);
    store.record_plan(first.clone()).await.expect("records");
    // A later run planning the same trigger: same plan id.
    let again = PlanRecord {
        run_id: "r2".into(),
        ..first
    };
    let error = store.record_plan(again).await.expect_err("refused");
    assert!(
        matches!(&error, StoreError::DuplicatePlan { plan_id } if plan_id == "r1:1"),
        "{error:?}"
    );
    // A plan of a run never recorded is another error, not a duplicate.
    let orphan = plan("r9", 1, &[(Service::Casino, Direction::Decrease, dec!(1))]);
    let error = store.record_plan(orphan).await.expect_err("refused");
    assert!(matches!(error, StoreError::Sqlite(_)), "{error:?}");
}

#[tokio::test]
async fn pending_legs_know_their_run() {
    let store = Store::open_in_memory().expect("opens");
    store.start_run(run("r1")).await.expect("run");
    let mut recorded = plan(
        "r1",
        1,
        &[
            (Service::Casino, Direction::Decrease, dec!(5)),
            (Service::Wallet, Direction::Increase, dec!(5)),
        ],
    );
    // Keys named after a trigger carry no run id: the store knows it.
    recorded.plan_id = "e0.7@1".into();
    for (i, leg) in recorded.legs.iter_mut().enumerate() {
        leg.idempotency_key = format!("e0.7@1:{i}");
    }
    store.record_plan(recorded).await.expect("records");
    store
        .update_leg(
            "e0.7@1:0".into(),
            LegStatus::Applied,
            Some("tr-1".into()),
            None,
        )
        .await
        .expect("updates");
    let pending = store.pending_legs_with_run().await.expect("reads");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].leg.idempotency_key, "e0.7@1:1");
    assert_eq!(pending[0].run_id, "r1");
}

#[cfg(unix)]
#[tokio::test]
async fn the_store_is_private_to_its_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("ballast-private-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("data").join("ballast.db");
    let store = Store::open(&path).expect("opens");
    store
        .start_run(run("r1"))
        .await
        .expect("a write creates the WAL");
    let mode = |name: &str| {
        let file = dir.join("data").join(name);
        std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(""), 0o700, "the directory");
    for file in ["ballast.db", "ballast.db-wal", "ballast.db-shm"] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_latest_control_action_is_the_mode_a_restart_comes_back_in() {
    use crate::control::{Command, ControlRecord, Mode};
    let dir = std::env::temp_dir().join(format!("ballast-control-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("ballast.db");
    let record = |command, previous, mode, reason: &str| ControlRecord {
        at: datetime!(2026-01-01 00:10 UTC),
        command,
        previous,
        mode,
        by: "ops@host".into(),
        reason: reason.into(),
    };
    {
        let store = Store::open(&path).expect("opens");
        assert_eq!(store.last_control().await.expect("reads"), None);
        store
            .record_control(record(Command::Pause, Mode::Running, Mode::Paused, ""))
            .await
            .expect("records");
        store
            .record_control(record(
                Command::Halt,
                Mode::Paused,
                Mode::Halted,
                "venue incident",
            ))
            .await
            .expect("records");
    }
    // Reopened (a restart), and read-only beside a running companion: the halt stands.
    let store = Store::open(&path).expect("reopens");
    let last = store.last_control().await.expect("reads").expect("a row");
    assert_eq!(
        last,
        record(Command::Halt, Mode::Paused, Mode::Halted, "venue incident")
    );
    drop(store);
    let status = read_status(&path).expect("reads");
    assert_eq!(status.control.map(|c| c.mode), Some(Mode::Halted));
    let _ = std::fs::remove_dir_all(&dir);
}
