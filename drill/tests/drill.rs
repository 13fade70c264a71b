//! The drill itself: every scenario passes on the real system, and a fault that breaks
//! the fallback (a breaker that can never open) turns the verdict to FAIL.

use failsoft_drill::{run, Options, SCENARIOS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_passes() -> anyhow::Result<()> {
    let results = run(&[], &Options::default()).await?;
    let names: Vec<&str> = results.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, SCENARIOS);
    for r in &results {
        assert!(
            r.passed,
            "{} failed: {:?}",
            r.name,
            r.checks.iter().filter(|c| !c.passed).collect::<Vec<_>>()
        );
        assert!(!r.timeline.is_empty() && r.checks.len() >= 4, "{}", r.name);
    }
    let md = failsoft_drill::report::markdown(&results);
    for name in SCENARIOS {
        assert!(md.contains(&format!("| {name} | PASS |")), "{md}");
    }
    assert_eq!(md.matches("<svg").count(), SCENARIOS.len());
    // The pictures show what the system did: pages, and the campaigns it switched.
    use failsoft_drill::report::MarkKind;
    let count = |name: &str, kind: MarkKind| {
        results
            .iter()
            .filter(|r| r.name == name)
            .flat_map(|r| &r.marks)
            .filter(|m| m.kind == kind)
            .count()
    };
    assert!(count("campaign-pause", MarkKind::SwitchedOff) >= 3);
    assert!(count("campaign-pause", MarkKind::SwitchedOn) >= 2);
    // Enabled by hand, by the breaker, by the breaker again; disabled by hand and by
    // the automatic restore; the operator's takeover needs no PUT.
    assert_eq!(count("region-overflow", MarkKind::SwitchedOn), 3);
    assert_eq!(count("region-overflow", MarkKind::SwitchedOff), 2);
    assert_eq!(count("crm-maintenance", MarkKind::PageTrigger), 1);
    assert_eq!(count("crm-maintenance", MarkKind::PageResolve), 1);
    assert!(
        md.contains(">02:00</text>") || md.contains(">01:58</text>"),
        "the night reads in its own hours"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_fallback_fails_the_drill() -> anyhow::Result<()> {
    // Injected fault: the CRM breaker cannot trip, so a down CRM is never spared and the
    // on-call engineer is never paged.
    let opts = Options {
        extra_env: vec![("BREAKER_CRM_FAILURE_THRESHOLD".into(), "100000".into())],
    };
    let results = run(&["crm-down".into()], &opts).await?;
    let r = &results[0];
    assert!(!r.passed, "the drill missed a breaker that never opens");
    let failed = r.failed_checks();
    assert!(
        failed.contains(&"breaker opened") && failed.contains(&"on-call paged once"),
        "{failed:?}"
    );
    // What still works is still reported as working.
    assert!(r
        .checks
        .iter()
        .any(|c| c.name == "calls route without CRM context" && c.passed));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_probe_that_cannot_close_fails_the_maintenance_drill() -> anyhow::Result<()> {
    // Injected fault: an OPEN breaker waits an hour before it admits a probe, so at 4 AM
    // nothing closes it and the morning starts degraded: the guide's edge case 1.
    let opts = Options {
        extra_env: vec![("BREAKER_CRM_RECOVERY_TIMEOUT_S".into(), "3600".into())],
    };
    let results = run(&["crm-maintenance".into()], &opts).await?;
    let failed = results[0].failed_checks();
    assert_eq!(
        failed,
        vec![
            "probe alone closes it after the window",
            "morning agents get CRM data",
            "paged once, resolved once"
        ]
    );
    Ok(())
}
