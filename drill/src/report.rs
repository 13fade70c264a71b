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
    /// The breaker whose state `breaker` is (empty: none observed).
    pub dependency: String,
    pub breaker: String,
    /// PagerDuty incidents opened so far.
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
        "{:<19} {:<8} {:>6}  failed checks",
        "scenario", "verdict", "events"
    );
    for r in results {
        let failed = r.failed_checks();
        let verdict = if r.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(
            out,
            "{:<19} {:<8} {:>6}  {}",
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

/// The dependencies observed, in order of first appearance.
fn dependencies(s: &Scenario) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for o in &s.timeline {
        if !o.dependency.is_empty() && !out.contains(&o.dependency.as_str()) {
            out.push(&o.dependency);
        }
    }
    out
}

/// Breaker states as one band per dependency, answer latency as points, on one time axis.
pub fn svg(s: &Scenario) -> String {
    let deps = dependencies(s);
    let (w, band, left) = (720.0, 16.0, 120.0);
    let plot_top = 24.0 + band * deps.len() as f64 + 10.0;
    let h = plot_top + 130.0;
    let end = s.timeline.iter().map(|o| o.t_ms).max().unwrap_or(1).max(1) as f64;
    let max_lat = s
        .timeline
        .iter()
        .map(|o| o.latency_ms)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x = |t: u64| left + (t as f64 / end) * (w - left - 20.0);
    let y = |l: u64| h - 30.0 - (l as f64 / max_lat) * (h - 30.0 - plot_top);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\
         <text x=\"{left}\" y=\"14\">{} — breaker states (bands) and answer latency (points, max {max_lat} ms)</text>",
        escape(&s.name)
    );
    for (row, dep) in deps.iter().enumerate() {
        let top = 22.0 + band * row as f64;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            top + band - 4.0,
            escape(dep)
        );
        let seen: Vec<&Observation> = s.timeline.iter().filter(|o| o.dependency == *dep).collect();
        for (i, o) in seen.iter().enumerate() {
            let next = seen.get(i + 1).map(|n| n.t_ms).unwrap_or(end as u64);
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {}</title></rect>",
                x(o.t_ms),
                (x(next) - x(o.t_ms)).max(1.0),
                band - 2.0,
                state_colour(&o.breaker),
                escape(dep),
                escape(&o.breaker)
            );
        }
    }
    for o in &s.timeline {
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
        "<line x1=\"{left}\" y1=\"{0}\" x2=\"{1}\" y2=\"{0}\" stroke=\"#555\"/><text x=\"{left}\" y=\"{2}\">0 s</text>\
         <text x=\"{3}\" y=\"{2}\" text-anchor=\"end\">{4:.1} s</text></svg>",
        h - 30.0,
        w - 20.0,
        h - 12.0,
        w - 20.0,
        end / 1000.0
    );
    out
}

/// Rows that say the same thing as the one before: same kind of call (its simulated
/// clock aside), answer, breaker and incidents.
fn same(a: &Observation, b: &Observation) -> bool {
    let kind = |w: &str| {
        w.split_once(' ')
            .filter(|(h, _)| h.len() == 5 && h.as_bytes()[2] == b':')
            .map(|(_, rest)| rest.to_string())
            .unwrap_or_else(|| w.to_string())
    };
    kind(&a.what) == kind(&b.what)
        && a.answer == b.answer
        && a.dependency == b.dependency
        && a.breaker == b.breaker
        && a.alerts == b.alerts
}

fn row(o: &Observation) -> String {
    // Rows of what a fake saw, not a function's answer, carry no breaker or latency.
    if o.dependency.is_empty() {
        return format!("| {} | {} | {} | | | |", o.t_ms, o.what, o.answer);
    }
    format!(
        "| {} | {} | {} | {} | {} {} | {} |",
        o.t_ms, o.what, o.answer, o.latency_ms, o.dependency, o.breaker, o.alerts
    )
}

/// The timeline as Markdown rows; a run of more than 3 like rows shows its first and last.
fn rows(timeline: &[Observation]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < timeline.len() {
        let mut j = i + 1;
        while j < timeline.len() && same(&timeline[i], &timeline[j]) {
            j += 1;
        }
        if j - i > 3 {
            out.push(row(&timeline[i]));
            out.push(format!("| ⋮ | {} more like this | | | | |", j - i - 2));
            out.push(row(&timeline[j - 1]));
        } else {
            out.extend(timeline[i..j].iter().map(row));
        }
        i = j;
    }
    out
}

pub fn markdown(results: &[Scenario]) -> String {
    let mut out =
        String::from("# Failsoft outage drill\n\n| scenario | verdict | events |\n|---|---|---|\n");
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
        let _ = write!(out, "\n{}\n\n| t (ms) | call | answer | latency (ms) | breaker | incidents |\n|---|---|---|---|---|---|\n", svg(r));
        for line in rows(&r.timeline) {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(t_ms: u64, what: &str, answer: &str, dep: &str, breaker: &str) -> Observation {
        Observation {
            t_ms,
            what: what.into(),
            answer: answer.into(),
            latency_ms: 5,
            dependency: dep.into(),
            breaker: breaker.into(),
            alerts: 0,
        }
    }

    #[test]
    fn long_runs_of_like_rows_collapse_to_first_and_last() {
        let mut t: Vec<Observation> = (0..6)
            .map(|m| {
                obs(
                    m,
                    &format!("02:0{m} health-probe"),
                    "crm unhealthy",
                    "crm",
                    "OPEN",
                )
            })
            .collect();
        t.push(obs(9, "04:00 health-probe", "crm healthy", "crm", "CLOSED"));
        let r = rows(&t);
        assert_eq!(r.len(), 4, "{r:#?}");
        assert!(r[0].contains("02:00") && r[2].contains("02:05"), "{r:#?}");
        assert!(r[1].contains("4 more like this"), "{r:#?}");
        assert!(r[3].contains("crm CLOSED"), "{r:#?}");
        // Three like rows are kept as they are.
        assert_eq!(rows(&t[3..]).len(), 4);
    }

    #[test]
    fn one_band_per_dependency() {
        let s = Scenario::new(
            "x",
            "g",
            vec![],
            vec![
                obs(0, "crm-lookup", "found", "crm-auth", "CLOSED"),
                obs(5, "token-cache", "stale", "genesys-auth", "OPEN"),
                obs(9, "pagerduty", "HTTP 500", "", ""),
            ],
        );
        let svg = svg(&s);
        assert!(svg.contains(">crm-auth</text>") && svg.contains(">genesys-auth</text>"));
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
    }
}
