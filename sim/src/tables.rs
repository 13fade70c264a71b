//! The runs behind the tables in `docs/performance.md`, each printed as Markdown.

use std::time::Duration;

use failsoft::breaker::{GuardSettings, Policy, TripPolicy};

use crate::fleet::{run, Report, Scenario, Traffic};
use crate::store::{Latency, StoreModel};
use crate::traffic::{Arrivals, Failure, Outage};

/// The local tests' table: moto, serialised, answering 16–32 clients in 5–25 ms.
fn moto_like() -> StoreModel {
    StoreModel {
        read: Latency::Between(5, 25),
        write: Latency::Between(5, 25),
        per_write: Duration::from_millis(5),
        limits: false,
        sdk_attempts: 2,
        down_from_ms: None,
        pad_bytes: 0,
    }
}

/// The multi-process test's racer: a consecutive-failures threshold over the defaults.
fn racer(instances: usize, threshold: u32, count: u32, fail: bool, seed: u64) -> Scenario {
    let mut s = Scenario::crm(
        instances,
        40.0,
        Traffic::Race {
            at_s: 0.0,
            count,
            fail,
        },
        seed,
    );
    s.policy = Policy {
        trip: TripPolicy::ConsecutiveFailures { threshold },
        ..Policy::default()
    };
    s.store = moto_like();
    s.settings = GuardSettings {
        store_timeout_ms: 30_000,
        ..GuardSettings::default()
    };
    s
}

/// One calibration row: what was measured, what the simulation gives over `seeds`.
pub struct Row {
    pub case: &'static str,
    pub figure: &'static str,
    pub measured: &'static str,
    pub simulated: String,
    pub within: bool,
}

fn spread(values: &[u64]) -> String {
    let lo = values.iter().min().copied().unwrap_or(0);
    let hi = values.iter().max().copied().unwrap_or(0);
    if lo == hi {
        lo.to_string()
    } else {
        format!("{lo}–{hi}")
    }
}

/// The calibration: the multi-process test's races, replayed.
pub fn calibration(seeds: u64) -> anyhow::Result<Vec<Row>> {
    let runs = |make: &dyn Fn(u64) -> Scenario| -> anyhow::Result<Vec<Report>> {
        (1..=seeds).map(|seed| run(&make(seed))).collect()
    };
    let mut rows = Vec::new();

    // 16 processes, 2 failures each, threshold 5: one of them opens it.
    let r = runs(&|seed| racer(16, 5, 2, true, seed))?;
    let opens: Vec<u64> = r.iter().map(|r| won(r, "CLOSED->OPEN")).collect();
    rows.push(Row {
        case: "16 processes × 2 failures, threshold 5, moto",
        figure: "instances that win CLOSED→OPEN",
        measured: "1",
        within: opens.iter().all(|&n| n == 1),
        simulated: spread(&opens),
    });

    // 16 processes, 4 failures each, no threshold: every failure counted.
    let r = runs(&|seed| racer(16, 1_000_000, 4, true, seed))?;
    let counted: Vec<u64> = r.iter().map(|r| r.store.writes_won).collect();
    rows.push(Row {
        case: "16 processes × 4 failures, no threshold, moto",
        figure: "failures counted in the record (writes won)",
        measured: "64",
        within: counted.iter().all(|&n| n == 64),
        simulated: spread(&counted),
    });

    // 32 processes behind writes of 200–625 ms, reads at once, store timeout 250 ms.
    let slow_writes = |seed| {
        let mut s = racer(32, 5, 2, true, seed);
        s.store.write = Latency::Between(200, 625);
        s.settings.store_timeout_ms = 250;
        s
    };
    let r = runs(&slow_writes)?;
    let opens: Vec<u64> = r.iter().map(|r| won(r, "CLOSED->OPEN")).collect();
    rows.push(Row {
        case: "32 processes × 2 failures, writes 200–625 ms, timeout 250 ms",
        figure: "instances that believe they opened it",
        measured: "0–1 (at most one, asserted)",
        within: opens.iter().all(|&n| n <= 1),
        simulated: spread(&opens),
    });
    let at_open: Vec<u64> = r
        .iter()
        .map(|r| u64::from(r.failures_at_open.unwrap_or(0)))
        .collect();
    rows.push(Row {
        case: "the same",
        figure: "failures the OPEN record carries",
        measured: "≥ 5 (36 in one run)",
        within: at_open.iter().all(|&n| n >= 5),
        simulated: spread(&at_open),
    });
    Ok(rows)
}

fn won(r: &Report, label: &str) -> u64 {
    u64::from(r.won.get(label).copied().unwrap_or(0))
}

pub fn calibration_table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| case | figure | measured (tests/tests/breaker_processes.rs) | simulated | within |\n|---|---|---|---|---|\n",
    );
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            r.case,
            r.figure,
            r.measured,
            r.simulated,
            if r.within { "yes" } else { "NO" }
        ));
    }
    out
}

/// A CRM outage at `rate` calls a second on `instances`: 30 s healthy, 60 s down, then
/// 90 s to recover.
pub fn outage(instances: usize, rate: f64, store: StoreModel, seed: u64) -> Scenario {
    let mut s = Scenario::crm(
        instances,
        180.0,
        Traffic::Calls(Arrivals::Steady(rate)),
        seed,
    );
    s.outage = Some(Outage {
        from_s: 30.0,
        to_s: 90.0,
        failure: Failure::Down,
    });
    s.store = store;
    s
}

/// The traffic and failure shapes at 1,000 instances: steady, a peak, a burst after an
/// IVR announcement; the CRM down, slow (3 s, past the call's deadline), flapping (10 s
/// turns). Each a CRM outage from 30 s to 90 s, as in the limits.
pub fn shapes(seed: u64) -> anyhow::Result<Vec<(String, Report)>> {
    let arrivals = [
        ("steady 500/s", Arrivals::Steady(500.0)),
        (
            "peak 200 → 800/s (20–120 s)",
            Arrivals::Peak {
                base: 200.0,
                peak: 800.0,
                from_s: 20.0,
                to_s: 120.0,
            },
        ),
        (
            "burst +1,500/s for 10 s at 35 s",
            Arrivals::Burst {
                base: 300.0,
                burst: 1_500.0,
                at_s: 35.0,
                for_s: 10.0,
            },
        ),
    ];
    let failures = [
        ("down", Failure::Down),
        ("slow 3 s", Failure::Slow(3_000)),
        ("flapping 10 s", Failure::Flapping(10)),
    ];
    let mut out = Vec::new();
    for (a_name, a) in arrivals {
        for (f_name, f) in failures {
            let mut s = outage(1_000, 0.0, StoreModel::fast(), seed);
            s.traffic = Traffic::Calls(a);
            s.outage = Some(Outage {
                from_s: 30.0,
                to_s: 90.0,
                failure: f,
            });
            out.push((format!("{a_name}, CRM {f_name}"), run(&s)?));
        }
    }
    Ok(out)
}

pub fn shapes_table(runs: &[(String, Report)]) -> String {
    let mut out = String::from(
        "| traffic, failure | calls | failures executed | time to OPEN | trials at once | time to close | admitted 30 s after recovery | peak WCU item |\n|---|---|---|---|---|---|---|---|\n",
    );
    let ms =
        |v: Option<i64>| v.map_or("—".to_string(), |v| format!("{:.1} s", v as f64 / 1000.0));
    for (name, r) in runs {
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} | {} | {:.0} % | {} |\n",
            r.calls,
            r.failures_executed,
            ms(r.time_to_open_ms),
            r.trials_at_once,
            ms(r.time_to_close_ms),
            100.0 * r.admitted_after_recovery(),
            r.store
                .meters
                .busiest_item_peak(crate::capacity::Units::Write),
        ));
    }
    out
}

/// The limits: 100 to 3,000 instances at 100 to 1,000 calls a second, one line per run.
pub fn limits_table(runs: &[(usize, f64, Report)]) -> String {
    let mut out = String::from(
        "| instances (lives) | calls/s | failures executed | OPEN seen fleet-wide | time to OPEN | peak WCU item / partition | peak RCU partition | throttles breaker / token | token reads failed | trials at once / per window / per instance in 30 s | time to close | admitted 30 s after recovery | largest items main / count |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let ms =
        |v: Option<i64>| v.map_or("—".to_string(), |v| format!("{:.1} s", v as f64 / 1000.0));
    for (n, rate, r) in runs {
        let st = &r.store;
        out.push_str(&format!(
            "| {n} ({}) | {rate} | {} | {} | {} | {} / {} | {} | {} / {} | {} | {} / {} / {} | {} | {:.0} % | {} / {} B |\n",
            r.lives,
            r.failures_executed,
            ms(r.open_seen_ms),
            ms(r.time_to_open_ms),
            st.meters
                .busiest_item_peak(crate::capacity::Units::Write),
            st.meters.partition_peak(crate::capacity::Units::Write),
            st.meters.partition_peak(crate::capacity::Units::Read),
            st.throttles.get("breaker").copied().unwrap_or(0),
            st.throttles.get("token").copied().unwrap_or(0),
            r.token_failures,
            r.trials_at_once,
            r.max_trials_per_window(),
            r.trials_per_instance_within(30_000),
            ms(r.time_to_close_ms),
            100.0 * r.admitted_after_recovery(),
            st.largest_item,
            st.largest_count,
        ));
    }
    out
}
