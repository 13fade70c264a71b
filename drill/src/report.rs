//! The drill's report: a terminal table, Markdown with an SVG timeline, and JSON.

use std::fmt::Write as _;

use serde::Serialize;

/// One thing the drill saw.
#[derive(Clone, Debug, Serialize)]
pub struct Observation {
    /// Milliseconds since the scenario started.
    pub t_ms: u64,
    pub what: String,
    pub answer: String,
    pub latency_ms: u64,
    pub breaker: String,
    pub alerts: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    pub name: String,
    pub guide: String,
    pub passed: bool,
    pub checks: Vec<Check>,
    pub timeline: Vec<Observation>,
}

impl Scenario {
    /// The names of the checks that failed.
    pub fn failed_checks(&self) -> Vec<&str> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.as_str())
            .collect()
    }

    pub fn new(
        name: &str,
        guide: &str,
        checks: Vec<Check>,
        timeline: Vec<Observation>,
    ) -> Scenario {
        Scenario {
            name: name.into(),
            guide: guide.into(),
            passed: checks.iter().all(|c| c.passed),
            checks,
            timeline,
        }
    }
}

pub fn check(name: &str, passed: bool, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        passed,
        detail: detail.into(),
    }
}

pub fn table(results: &[Scenario]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<16} {:<8} {:>6}  failed checks",
        "scenario", "verdict", "calls"
    );
    for r in results {
        let failed = r.failed_checks();
        let verdict = if r.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{:<16} {:<8} {:>6}  {}",
            r.name,
            verdict,
            r.timeline.len(),
            failed.join(", ")
        );
    }
    out
}

fn state_colour(state: &str) -> &'static str {
    match state {
        "CLOSED" => "#2da44e",
        "HALF_OPEN" | "FORCED_CLOSED" => "#d4a72c",
        "OPEN" | "FORCED_OPEN" => "#cf222e",
        _ => "#8c959f",
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Breaker state as a band, answer latency as points, on one time axis.
pub fn svg(s: &Scenario) -> String {
    let (w, h, band) = (720.0, 200.0, 18.0);
    let end = s.timeline.iter().map(|o| o.t_ms).max().unwrap_or(1).max(1) as f64;
    let max_lat = s
        .timeline
        .iter()
        .map(|o| o.latency_ms)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x = |t: u64| 40.0 + (t as f64 / end) * (w - 60.0);
    let y = |l: u64| h - 30.0 - (l as f64 / max_lat) * (h - 70.0);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\
         <text x=\"40\" y=\"14\">{} — breaker state (band) and answer latency (points, max {max_lat} ms)</text>",
        escape(&s.name)
    );
    for (i, o) in s.timeline.iter().enumerate() {
        let next = s
            .timeline
            .get(i + 1)
            .map(|n| n.t_ms)
            .unwrap_or(o.t_ms + (end as u64 / 50).max(1));
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"20\" width=\"{:.1}\" height=\"{band}\" fill=\"{}\"><title>{}</title></rect>",
            x(o.t_ms),
            (x(next) - x(o.t_ms)).max(1.0),
            state_colour(&o.breaker),
            escape(&o.breaker)
        );
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#0969da\"><title>{} → {} ({} ms)</title></circle>",
            x(o.t_ms),
            y(o.latency_ms),
            escape(&o.what),
            escape(&o.answer),
            o.latency_ms
        );
    }
    let _ = write!(
        out,
        "<line x1=\"40\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#555\"/><text x=\"40\" y=\"{2}\">0 s</text>\
         <text x=\"{3}\" y=\"{2}\" text-anchor=\"end\">{4:.1} s</text></svg>",
        h - 30.0,
        w - 20.0,
        h - 12.0,
        w - 20.0,
        end / 1000.0
    );
    out
}

pub fn markdown(results: &[Scenario]) -> String {
    let mut out =
        String::from("# Failsoft outage drill\n\n| scenario | verdict | calls |\n|---|---|---|\n");
    for r in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            r.name,
            if r.passed { "PASS" } else { "**FAIL**" },
            r.timeline.len()
        );
    }
    for r in results {
        let _ = write!(out, "\n## {}\n\n{}\n\n", r.name, r.guide);
        for c in &r.checks {
            let _ = writeln!(
                out,
                "- {} {}: {}",
                if c.passed { "✅" } else { "❌" },
                c.name,
                c.detail
            );
        }
        let _ = write!(out, "\n{}\n\n| t (ms) | call | answer | latency (ms) | breaker | alerts |\n|---|---|---|---|---|---|\n", svg(r));
        for o in &r.timeline {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                o.t_ms, o.what, o.answer, o.latency_ms, o.breaker, o.alerts
            );
        }
    }
    out
}
