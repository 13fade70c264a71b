//! The drill itself: two scenarios pass on the real system, and a fault that breaks the
//! fallback (a breaker that can never open) turns the verdict to FAIL.

use failsoft_drill::{run, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_scenarios_pass() -> anyhow::Result<()> {
    let results = run(
        &["crm-down".into(), "analytics-down".into()],
        &Options::default(),
    )
    .await?;
    for r in &results {
        assert!(
            r.passed,
            "{} failed: {:?}",
            r.name,
            r.checks.iter().filter(|c| !c.passed).collect::<Vec<_>>()
        );
        assert!(!r.timeline.is_empty());
    }
    let md = failsoft_drill::report::markdown(&results);
    assert!(
        md.contains("<svg") && md.contains("| crm-down | PASS |"),
        "{md}"
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
