//! The simulator's own checks: it replays the same for a seed, it reproduces what the
//! multi-process test measures, and its store charges what DynamoDB charges.

use failsoft_sim::{run, tables, Arrivals, Scenario, StoreModel, Traffic};

#[test]
fn a_seed_replays_the_same_run() -> anyhow::Result<()> {
    let s = tables::outage(20, 50.0, StoreModel::fast(), 7);
    let (a, b) = (run(&s)?, run(&s)?);
    assert_eq!(
        (a.calls, a.lookups, a.failures_executed, a.store.writes),
        (b.calls, b.lookups, b.failures_executed, b.store.writes)
    );
    assert_eq!(a.time_to_open_ms, b.time_to_open_ms);
    assert!(a.failures_executed > 0, "the outage was met: {a:?}");
    Ok(())
}

#[test]
fn the_races_of_the_multi_process_test_come_out_as_measured() -> anyhow::Result<()> {
    let rows = tables::calibration(2)?;
    assert!(!rows.is_empty());
    for r in &rows {
        assert!(
            r.within,
            "{}: {} measured, {} simulated",
            r.figure, r.measured, r.simulated
        );
    }
    Ok(())
}

#[test]
fn a_healthy_fleet_writes_nothing_and_reads_about_once_a_second_per_instance() -> anyhow::Result<()>
{
    let s = Scenario::crm(10, 30.0, Traffic::Calls(Arrivals::Steady(40.0)), 3);
    let r = run(&s)?;
    assert!(r.calls > 1_000, "{}", r.calls);
    assert_eq!(r.store.writes, 0, "a healthy call writes nothing");
    assert_eq!(r.failures_executed, 0);
    // Every instance reads at most once per cache period (1 s), plus its token once.
    assert!(r.store.reads <= 10 * 31 + 10 + 5, "{} reads", r.store.reads);
    Ok(())
}

#[test]
fn an_outage_opens_the_breaker_and_recovery_closes_it() -> anyhow::Result<()> {
    let r = run(&tables::outage(50, 100.0, StoreModel::fast(), 11))?;
    let open = r
        .time_to_open_ms
        .ok_or_else(|| anyhow::anyhow!("never opened: {r:?}"))?;
    assert!(open < 2_000, "opened {open} ms into the outage");
    assert!(r.time_to_close_ms.is_some(), "closed after recovery: {r:?}");
    assert!(r.max_trials_per_window() >= 1);
    Ok(())
}
