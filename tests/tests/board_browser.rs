//! The status board in headless Chromium, served by the real queue-metrics function
//! under the emulator: banner and breaker rows in the DOM, polling, and a screenshot.

use failsoft::breaker::Event;
use failsoft_testkit::fakes::http::{FakeServer, Fault, Response};
use failsoft_testkit::{create_secret, fresh_table, headless, moto, Emulator};
use serde_json::json;

#[tokio::test]
async fn the_board_shows_the_banner_and_breakers_and_polls() -> anyhow::Result<()> {
    let m = moto()?;
    let (client, table) = fresh_table(&m.url).await?;
    let api = FakeServer::start(|req, _| {
        if req.path == "/oauth/token" {
            return Response::json(200, &json!({"access_token": "gc", "expires_in": 86400}));
        }
        Response::json(503, &json!({"message": "analytics down"}))
    })
    .await?;
    api.fault("/api/", Fault::Status(503), None);
    let secret = format!("gc-{table}");
    create_secret(
        &m.url,
        &secret,
        &json!({"client_id": "id", "client_secret": "s"}),
    )
    .await?;
    // An operator switched the regional overflow on; their name carries markup too.
    let switches = failsoft::overflow::Switches {
        client: client.clone(),
        table: table.clone(),
    };
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    switches.claim("t", 1, 2, until).await?;
    let sw = failsoft::overflow::Switch {
        group_id: "eg-1".into(),
        group_name: "Regional overflow".into(),
        enabled: true,
        version: 2,
        mode: failsoft::overflow::Mode::Manual,
        by: "<i>alice</i>".into(),
        reason: "INC-1234".into(),
        at_ms: 1_800_000_000_000,
        ivrs: 3,
        note: None,
    };
    anyhow::ensure!(switches.save(&sw, "t", until).await?, "recorded");
    // An operator holds the CRM breaker open; its name carries markup that must stay text.
    failsoft_testkit::operator_command(
        client,
        &table,
        "crm",
        Event::ForceOpen {
            by: "<b>maint</b>".into(),
            until: None,
        },
    )
    .await?;

    let login = format!("{}/oauth/token", api.url);
    let mut env = Emulator::aws_env(&m.url, &table);
    env.extend([
        ("GENESYS_SECRET_ID", secret.as_str()),
        ("GENESYS_LOGIN_URL", login.as_str()),
        ("GENESYS_API_URL", api.url.as_str()),
        ("BOARD_QUEUE_IDS", "q-sales,q-support"),
        ("CAMPAIGN_PAUSE_ON", "crm"),
    ]);
    let emu = Emulator::start(&env)?;
    let base = format!("http://127.0.0.1:{}/lambda-url/queue-metrics/", emu.port);
    // Build the function before the browser's clock starts.
    reqwest::get(format!("{base}board.json"))
        .await?
        .error_for_status()?;

    let dom = tokio::task::spawn_blocking({
        let url = format!("{base}?refresh=1");
        move || headless(&url, &["--virtual-time-budget=4500", "--dump-dom"])
    })
    .await??;
    let banner = "Analytics API unavailable. Queue metrics cannot be displayed.";
    assert!(
        dom.contains(&format!(
            "role=\"alert\" style=\"display: block;\">{banner}"
        )),
        "no banner:\n{dom}"
    );
    assert!(dom.contains("data-breaker=\"crm\""), "no crm row:\n{dom}");
    assert!(
        dom.contains("data-breaker=\"genesys-analytics\""),
        "no analytics row:\n{dom}"
    );
    assert!(dom.contains("FORCED_OPEN"));
    assert!(
        dom.contains("&lt;b&gt;maint&lt;/b&gt;"),
        "the operator's text was not escaped:\n{dom}"
    );
    assert!(!dom.contains("<b>maint</b>"));
    assert!(dom.contains("q-support"));
    // The forced open's page waits in the outbox (no sender here): the board says so,
    // and that no campaign is held off.
    assert!(
        dom.contains("<td>trigger</td><td>pending</td>"),
        "no pending page:\n{dom}"
    );
    assert!(
        dom.contains("<td class=\"muted\">none</td>"),
        "no campaign table:\n{dom}"
    );
    // The regional overflow: the switch, escaped, and a backup nobody checks.
    assert!(
        dom.contains("id=\"overflow-row\"") && dom.contains("Regional overflow (eg-1)"),
        "no overflow row:\n{dom}"
    );
    assert!(dom.contains("<td class=\"degraded\">ACTIVE</td>"), "{dom}");
    assert!(dom.contains("&lt;i&gt;alice&lt;/i&gt;") && !dom.contains("<i>alice</i>"));
    assert!(
        dom.contains("Backup region: not checked"),
        "no backup line:\n{dom}"
    );
    let polls: u32 = dom
        .split("data-polls=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        polls >= 3,
        "polled {polls} times in 4.5 s at a 1 s interval"
    );

    let shot_dir = failsoft_testkit::workspace_root().join("target/test-output");
    std::fs::create_dir_all(&shot_dir)?;
    let shot = shot_dir.join("status-board.png");
    let _ = std::fs::remove_file(&shot);
    let arg = format!("--screenshot={}", shot.display());
    let url = base.clone();
    tokio::task::spawn_blocking(move || {
        headless(
            &url,
            &["--virtual-time-budget=3000", "--window-size=1100,700", &arg],
        )
    })
    .await??;
    let png = std::fs::read(&shot)?;
    assert!(
        png.len() > 1_000 && png.starts_with(b"\x89PNG"),
        "no screenshot"
    );
    Ok(())
}
