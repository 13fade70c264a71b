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

/// What the system did that the timeline marks: a page, or a switch made in Genesys (a
/// campaign turned off or on, the emergency group enabled or disabled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    PageTrigger,
    PageResolve,
    SwitchedOff,
    SwitchedOn,
}

impl MarkKind {
    const ALL: [MarkKind; 4] = [
        MarkKind::PageTrigger,
        MarkKind::PageResolve,
        MarkKind::SwitchedOff,
        MarkKind::SwitchedOn,
    ];

    fn legend(self) -> &'static str {
        match self {
            MarkKind::PageTrigger => "page",
            MarkKind::PageResolve => "resolve",
            MarkKind::SwitchedOff => "switched off",
            MarkKind::SwitchedOn => "switched on",
        }
    }

    /// An SVG shape centred on (x, y).
    fn shape(self, x: f64, y: f64) -> String {
        match self {
            MarkKind::PageTrigger => format!(
                "<path d=\"M{:.1} {:.1} l5 9 h-10 z\" fill=\"#cf222e\"",
                x,
                y - 5.0
            ),
            MarkKind::PageResolve => format!(
                "<path d=\"M{:.1} {:.1} l5 -9 h-10 z\" fill=\"#2da44e\"",
                x,
                y + 4.0
            ),
            MarkKind::SwitchedOff => format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"#8250df\"",
                x - 4.0,
                y - 4.0
            ),
            MarkKind::SwitchedOn => format!(
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4.5\" fill=\"none\" stroke=\"#8250df\" stroke-width=\"2\""
            ),
        }
    }
}

/// One mark on the timeline, at `t_ms` since the scenario started (real time).
#[derive(Clone, Debug, Serialize)]
pub struct Mark {
    pub t_ms: u64,
    pub kind: MarkKind,
    pub label: String,
}

/// The scenario's own clock, for the timeline's axis.
#[derive(Clone, Debug, Default, Serialize)]
pub enum Clock {
    /// Real time: seconds since the scenario started.
    #[default]
    Real,
    /// Simulated time of day: `anchors` pair real `t_ms` with simulated minutes since
    /// midnight; positions between them are interpolated.
    Simulated { anchors: Vec<(u64, f64)> },
}

#[derive(Clone, Debug, Serialize)]
pub struct Scenario {
    pub name: String,
    pub guide: String,
    pub passed: bool,
    pub checks: Vec<Check>,
    pub timeline: Vec<Observation>,
    pub marks: Vec<Mark>,
    pub clock: Clock,
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
            marks: Vec::new(),
            clock: Clock::Real,
        }
    }

    /// Mark pages and campaign changes on the timeline.
    pub fn with_marks(mut self, marks: Vec<Mark>) -> Scenario {
        self.marks = marks;
        self
    }

    pub fn on_clock(mut self, clock: Clock) -> Scenario {
        self.clock = clock;
        self
    }

    /// A real `t_ms` on the scenario's own clock: ms, or simulated minutes.
    fn at(&self, t_ms: u64) -> f64 {
        match &self.clock {
            Clock::Real => t_ms as f64,
            Clock::Simulated { anchors } => {
                let Some(first) = anchors.first() else {
                    return 0.0;
                };
                let mut prev = *first;
                for &(t, m) in anchors {
                    if t >= t_ms {
                        if t == prev.0 {
                            return m;
                        }
                        let f = (t_ms.saturating_sub(prev.0)) as f64 / (t - prev.0) as f64;
                        return prev.1 + f * (m - prev.1);
                    }
                    prev = (t, m);
                }
                prev.1
            }
        }
    }

    /// An axis label for a position on the scenario's clock.
    fn label(&self, at: f64) -> String {
        match self.clock {
            Clock::Real => format!("{:.1} s", at / 1000.0),
            Clock::Simulated { .. } => {
                let m = at.round().max(0.0) as u64;
                format!("{:02}:{:02}", (m / 60) % 24, m % 60)
            }
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

/// The scenario at a glance, on its own clock: one band of breaker states per
/// dependency, a lane of what the system did (pages, campaign changes), and answer
/// latency as points on a scale; with a legend for all of it.
pub fn svg(s: &Scenario) -> String {
    let deps = dependencies(s);
    let (w, band, left, right) = (760.0, 16.0, 120.0, 24.0);
    // The legend takes two lines: the states, then the marks and the latency points.
    let (legend_y, legend2_y) = (32.0, 48.0);
    let bands_top = 60.0;
    let lane_y = bands_top + band * deps.len() as f64 + 12.0;
    let plot_top = lane_y + 18.0;
    let h = plot_top + 130.0;
    let axis_y = h - 30.0;
    let last_t = s
        .timeline
        .iter()
        .map(|o| o.t_ms)
        .chain(s.marks.iter().map(|m| m.t_ms))
        .max()
        .unwrap_or(1)
        .max(1);
    let (start, end) = (s.at(0), s.at(last_t));
    let span = (end - start).max(1e-9);
    let max_lat = s
        .timeline
        .iter()
        .map(|o| o.latency_ms)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let x = |t: u64| left + ((s.at(t) - start) / span) * (w - left - right);
    let y = |l: u64| axis_y - (l as f64 / max_lat) * (axis_y - plot_top);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\
         <text x=\"{left}\" y=\"14\" font-weight=\"bold\">{}</text>",
        escape(&s.name)
    );
    // The legend: states, then what the system did, then latency.
    let mut lx = left;
    for (label, state) in [
        ("CLOSED", "CLOSED"),
        ("HALF_OPEN / FORCED_CLOSED", "HALF_OPEN"),
        ("OPEN / FORCED_OPEN", "OPEN"),
    ] {
        let _ = write!(
            out,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"10\" height=\"10\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{legend_y:.1}\">{label}</text>",
            legend_y - 9.0,
            state_colour(state),
            lx + 14.0
        );
        lx += 28.0 + 7.0 * label.len() as f64;
    }
    let mut lx = left;
    for k in MarkKind::ALL {
        let _ = write!(out, "{}/>", k.shape(lx + 4.0, legend2_y - 4.0));
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{legend2_y:.1}\">{}</text>",
            lx + 12.0,
            k.legend()
        );
        lx += 28.0 + 7.0 * k.legend().len() as f64;
    }
    let _ = write!(
        out,
        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#0969da\"/><text x=\"{:.1}\" y=\"{legend2_y:.1}\">answer latency</text>",
        lx + 4.0,
        legend2_y - 4.0,
        lx + 12.0
    );
    for (row, dep) in deps.iter().enumerate() {
        let top = bands_top + band * row as f64;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            top + band - 4.0,
            escape(dep)
        );
        let seen: Vec<&Observation> = s.timeline.iter().filter(|o| o.dependency == *dep).collect();
        for (i, o) in seen.iter().enumerate() {
            let next = seen.get(i + 1).map(|n| n.t_ms).unwrap_or(last_t);
            let _ = write!(
                out,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\"><title>{} {} from {}</title></rect>",
                x(o.t_ms),
                (x(next) - x(o.t_ms)).max(1.0),
                band - 2.0,
                state_colour(&o.breaker),
                escape(dep),
                escape(&o.breaker),
                s.label(s.at(o.t_ms))
            );
        }
    }
    // What the system did: one lane, each mark with its time and what it was.
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">actions</text>",
        left - 6.0,
        lane_y + 4.0
    );
    for m in &s.marks {
        let _ = write!(
            out,
            "{}><title>{} {}</title></{}>",
            m.kind.shape(x(m.t_ms), lane_y),
            s.label(s.at(m.t_ms)),
            escape(&m.label),
            match m.kind {
                MarkKind::PageTrigger | MarkKind::PageResolve => "path",
                MarkKind::SwitchedOff => "rect",
                MarkKind::SwitchedOn => "circle",
            }
        );
    }
    for o in &s.timeline {
        let _ = write!(
            out,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#0969da\"><title>{} {} → {} ({} ms)</title></circle>",
            x(o.t_ms),
            y(o.latency_ms),
            s.label(s.at(o.t_ms)),
            escape(&o.what),
            escape(&o.answer),
            o.latency_ms
        );
    }
    // The latency scale.
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{plot_top:.1}\" x2=\"{left}\" y2=\"{axis_y:.1}\" stroke=\"#555\"/>"
    );
    for f in [0.0, 0.5, 1.0] {
        let ms = (max_lat * f).round() as u64;
        let _ = write!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{left}\" y2=\"{1:.1}\" stroke=\"#555\"/><text x=\"{2:.1}\" y=\"{3:.1}\" text-anchor=\"end\">{ms} ms</text>",
            left - 4.0,
            y(ms),
            left - 6.0,
            y(ms) + 4.0
        );
    }
    let _ = write!(
        out,
        "<text x=\"14\" y=\"{:.1}\">latency</text>",
        (plot_top + axis_y) / 2.0
    );
    // The time axis, on the scenario's clock.
    let _ = write!(
        out,
        "<line x1=\"{left}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\" stroke=\"#555\"/>",
        w - right
    );
    for i in 0..=5 {
        let at = start + span * f64::from(i) / 5.0;
        let px = left + (w - left - right) * f64::from(i) / 5.0;
        let _ = write!(
            out,
            "<line x1=\"{px:.1}\" y1=\"{axis_y:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"#555\"/><text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis_y + 4.0,
            axis_y + 16.0,
            s.label(at)
        );
    }
    out.push_str("</svg>");
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
        // Two state bands, plus the legend's three state swatches and its campaign-off.
        assert_eq!(svg.matches("<rect").count(), 2 + 4, "{svg}");
        // Three answers, plus the legend's latency dot and campaign-on.
        assert_eq!(svg.matches("<circle").count(), 3 + 2, "{svg}");
        assert!(
            svg.contains(">0.0 s</text>") && svg.contains(">5 ms</text>"),
            "{svg}"
        );
    }

    #[test]
    fn a_simulated_night_reads_in_hours_and_marks_its_pages() {
        let s = Scenario::new(
            "night",
            "g",
            vec![],
            vec![
                obs(0, "01:58 health-probe", "crm healthy", "crm", "CLOSED"),
                obs(500, "02:00 health-probe", "crm unhealthy", "crm", "OPEN"),
                obs(60_500, "04:02 health-probe", "crm healthy", "crm", "CLOSED"),
            ],
        )
        .on_clock(Clock::Simulated {
            anchors: vec![(0, 118.0), (500, 120.0), (60_500, 242.0)],
        })
        .with_marks(vec![
            Mark {
                t_ms: 600,
                kind: MarkKind::PageTrigger,
                label: "crm paged".into(),
            },
            Mark {
                t_ms: 60_600,
                kind: MarkKind::PageResolve,
                label: "crm resolved".into(),
            },
        ]);
        let svg = svg(&s);
        assert!(svg.contains(">01:58</text>"), "{svg}");
        assert!(svg.contains(">02:00 crm paged</title>"), "{svg}");
        assert!(svg.contains(">04:02 crm resolved</title>"), "{svg}");
        assert!(
            !svg.contains(" s</text>"),
            "no real seconds on a simulated axis: {svg}"
        );
        for word in [
            "page",
            "resolve",
            "switched off",
            "switched on",
            "answer latency",
        ] {
            assert!(
                svg.contains(&format!(">{word}</text>")),
                "legend lacks {word}"
            );
        }
    }
}
