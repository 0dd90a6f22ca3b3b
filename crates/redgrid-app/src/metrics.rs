//! What the server counts about itself, for `/metrics` in Prometheus' text format
//! (docs/operators/operations.md, "Metrics"). Counters and latency histograms live here, in memory
//! (they start from zero at each start, as Prometheus expects); gauges such as open requests by
//! light, the outbox backlog and the WAL's size are read from the store when scraped.
//!
//! No label carries personal data: commands by kind and outcome, HTTP requests by route pattern
//! (`/api/requests/{id}`, never the id) and status, jobs by name and outcome.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

/// One label set, rendered `{a="x",b="y"}`.
type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
struct Inner {
    counters: BTreeMap<(&'static str, Labels), u64>,
    histograms: BTreeMap<(&'static str, Labels), Histogram>,
}

/// The server's own counts. Cheap to update from any task.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

/// The help text of each metric this module writes.
const HELP: &[(&str, &str, &str)] = &[
    (
        "redgrid_commands_total",
        "counter",
        "Commands run on requests, by kind and outcome (ok or the refusal's code).",
    ),
    (
        "redgrid_command_seconds",
        "histogram",
        "Time to run a command, by kind.",
    ),
    (
        "redgrid_http_requests_total",
        "counter",
        "HTTP requests answered, by route pattern, method and status.",
    ),
    (
        "redgrid_http_request_seconds",
        "histogram",
        "Time to answer an HTTP request, by route pattern.",
    ),
    (
        "redgrid_job_rounds_total",
        "counter",
        "Rounds of the background jobs, by job and outcome.",
    ),
    (
        "redgrid_notifications_total",
        "counter",
        "Notifications handled by delivery rounds, by result (delivered, failed).",
    ),
    (
        "redgrid_detector_alerts_total",
        "counter",
        "Electricity alerts filed as requests by the scheduled detector runs.",
    ),
];

fn labels(pairs: &[(&'static str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (*k, (*v).to_string())).collect()
}

fn render_labels(out: &mut String, l: &Labels, extra: Option<(&str, &str)>) {
    if l.is_empty() && extra.is_none() {
        return;
    }
    out.push('{');
    let mut first = true;
    for (k, v) in l.iter().map(|(k, v)| (*k, v.as_str())).chain(extra) {
        if !first {
            out.push(',');
        }
        first = false;
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(out, "{k}=\"{v}\"");
    }
    out.push('}');
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while counting leaves the counts usable; never poison the server over them.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `by` to a counter.
    pub fn add(&self, name: &'static str, pairs: &[(&'static str, &str)], by: u64) {
        if by == 0 {
            return;
        }
        *self
            .lock()
            .counters
            .entry((name, labels(pairs)))
            .or_default() += by;
    }

    /// Records a duration in a histogram.
    pub fn observe(&self, name: &'static str, pairs: &[(&'static str, &str)], took: Duration) {
        self.lock()
            .histograms
            .entry((name, labels(pairs)))
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// A command ran: its kind, `ok` or the refusal's code, and how long it took.
    pub fn command(&self, kind: &str, outcome: &str, took: Duration) {
        self.add(
            "redgrid_commands_total",
            &[("kind", kind), ("outcome", outcome)],
            1,
        );
        self.observe("redgrid_command_seconds", &[("kind", kind)], took);
    }

    /// An HTTP request was answered.
    pub fn http(&self, route: &str, method: &str, status: u16, took: Duration) {
        let status = status.to_string();
        self.add(
            "redgrid_http_requests_total",
            &[("route", route), ("method", method), ("status", &status)],
            1,
        );
        self.observe("redgrid_http_request_seconds", &[("route", route)], took);
    }

    /// A background job's round ended (`ok` or `error`).
    pub fn job_round(&self, job: &str, outcome: &str) {
        self.add(
            "redgrid_job_rounds_total",
            &[("job", job), ("outcome", outcome)],
            1,
        );
    }

    /// The counters and histograms in Prometheus' text format, followed by `gauges`: each a
    /// name, its help and its labelled values.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let inner = self.lock();
        let mut out = String::new();
        for (name, kind, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((n, l), v) in &inner.counters {
                if n == name {
                    out.push_str(name);
                    render_labels(&mut out, l, None);
                    let _ = writeln!(out, " {v}");
                }
            }
            for ((n, l), h) in &inner.histograms {
                if n != name {
                    continue;
                }
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = write!(out, "{name}_bucket");
                    render_labels(&mut out, l, Some(("le", &b.to_string())));
                    let _ = writeln!(out, " {}", h.counts[i]);
                }
                let _ = write!(out, "{name}_bucket");
                render_labels(&mut out, l, Some(("le", "+Inf")));
                let _ = writeln!(out, " {}", h.count);
                let _ = write!(out, "{name}_sum");
                render_labels(&mut out, l, None);
                let _ = writeln!(out, " {}", h.sum);
                let _ = write!(out, "{name}_count");
                render_labels(&mut out, l, None);
                let _ = writeln!(out, " {}", h.count);
            }
        }
        for g in gauges {
            let _ = writeln!(out, "# HELP {} {}\n# TYPE {} gauge", g.name, g.help, g.name);
            for (l, v) in &g.values {
                out.push_str(g.name);
                render_labels(&mut out, l, None);
                let _ = writeln!(out, " {v}");
            }
        }
        out
    }
}

/// A value read when scraped.
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub values: Vec<(Labels, f64)>,
}

impl Gauge {
    /// A gauge with one unlabelled value.
    pub fn single(name: &'static str, help: &'static str, value: f64) -> Self {
        Gauge {
            name,
            help,
            values: vec![(Vec::new(), value)],
        }
    }

    /// A gauge with one value per label value.
    pub fn by(
        name: &'static str,
        help: &'static str,
        label: &'static str,
        values: impl IntoIterator<Item = (impl Into<String>, f64)>,
    ) -> Self {
        Gauge {
            name,
            help,
            values: values
                .into_iter()
                .map(|(k, v)| (vec![(label, k.into())], v))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_prometheus_text() {
        let m = Metrics::default();
        m.command("accept", "ok", Duration::from_millis(3));
        m.command("accept", "ok", Duration::from_millis(30));
        m.command("accept", "illegal_transition", Duration::from_millis(2));
        m.http("/api/requests/{id}", "GET", 200, Duration::from_millis(4));
        let text = m.render(&[Gauge::by(
            "redgrid_open_requests",
            "Open requests by light.",
            "light",
            [("red", 3.0)],
        )]);
        assert!(text.contains("redgrid_commands_total{kind=\"accept\",outcome=\"ok\"} 2\n"));
        assert!(text.contains(
            "redgrid_commands_total{kind=\"accept\",outcome=\"illegal_transition\"} 1\n"
        ));
        assert!(text.contains("redgrid_command_seconds_bucket{kind=\"accept\",le=\"0.005\"} 2\n"));
        assert!(text.contains("redgrid_command_seconds_bucket{kind=\"accept\",le=\"+Inf\"} 3\n"));
        assert!(text.contains("redgrid_command_seconds_count{kind=\"accept\"} 3\n"));
        assert!(text.contains(
            "redgrid_http_requests_total{route=\"/api/requests/{id}\",method=\"GET\",status=\"200\"} 1\n"
        ));
        assert!(text.contains(
            "# TYPE redgrid_open_requests gauge\nredgrid_open_requests{light=\"red\"} 3\n"
        ));
        // Every sample line is `name{labels} value` or `name value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
