//! Charts drawn as SVG on the server: no script, no external library, readable without colour (each
//! chart carries a title and its figures as text; a table of the same figures sits beside it).

// SVG is XML: its text is escaped as Open311's XML is.
use crate::open311::xml_escape as esc;
use std::fmt::Write;

/// The colours of the series (dark enough on white for text, WCAG AA).
pub const RED: &str = "#b71c1c";
pub const BLUE: &str = "#1f4e99";
pub const GREEN: &str = "#2e7d32";
pub const YELLOW: &str = "#b26a00";
pub const GREY: &str = "#555555";

/// A "nice" upper bound for an axis.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if v <= m * mag {
            return m * mag;
        }
    }
    10.0 * mag
}

fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

/// One line of a line chart. `None` is a point with no figure (a month with nothing to rate, say):
/// the line is broken there rather than drawn through zero.
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: &'a str,
    pub values: Vec<Option<f64>>,
}

/// An open chart of `w` × `h` with its accessible title; the caller adds the shapes and `</svg>`.
fn open(w: f64, h: f64, title: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="t-{id}" xmlns="http://www.w3.org/2000/svg"><title id="t-{id}">{t}</title>"#,
        id = slug(title),
        t = esc(title)
    );
    s
}

/// A line chart over labelled points (e.g. months), with a legend.
pub fn line_chart(title: &str, labels: &[String], series: &[Series<'_>]) -> String {
    let (w, h) = (640.0, 260.0);
    let (left, right, top, bottom) = (44.0, 12.0, 28.0, 40.0);
    let max = nice_max(
        series
            .iter()
            .flat_map(|s| s.values.iter().flatten().copied())
            .fold(0.0, f64::max),
    );
    let n = labels.len().max(2);
    let x = |i: usize| left + (w - left - right) * i as f64 / (n - 1) as f64;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v / max);
    let mut s = open(w, h, title);
    for k in 0..=4 {
        let v = max * k as f64 / 4.0;
        let yy = y(v);
        let _ = write!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{x2}" y2="{yy:.1}" stroke="#ddd"/><text x="{tx}" y="{ty:.1}" font-size="11" text-anchor="end" fill="#333">{v}</text>"##,
            x2 = w - right,
            tx = left - 4.0,
            ty = yy + 4.0,
            v = number(v)
        );
    }
    let step = (labels.len() / 8).max(1);
    for (i, l) in labels.iter().enumerate() {
        if i % step == 0 || i + 1 == labels.len() {
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#333">{}</text>"##,
                x(i),
                h - bottom + 16.0,
                esc(l)
            );
        }
    }
    for (k, ser) in series.iter().enumerate() {
        // One polyline per run of points with a figure.
        let mut runs: Vec<Vec<String>> = vec![Vec::new()];
        for (i, v) in ser.values.iter().enumerate() {
            match v {
                Some(v) => {
                    if let Some(run) = runs.last_mut() {
                        run.push(format!("{:.1},{:.1}", x(i), y(*v)));
                    }
                }
                None => runs.push(Vec::new()),
            }
        }
        for run in runs.iter().filter(|r| r.len() > 1) {
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{c}" stroke-width="2.5" points="{p}"/>"#,
                c = ser.colour,
                p = run.join(" ")
            );
        }
        for (i, v) in ser.values.iter().enumerate() {
            let Some(v) = v else { continue };
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"><title>{} {}: {}</title></circle>"#,
                x(i),
                y(*v),
                ser.colour,
                esc(labels.get(i).map(String::as_str).unwrap_or("")),
                esc(ser.name),
                number(*v)
            );
        }
        let lx = left + 150.0 * k as f64;
        let _ = write!(
            s,
            r##"<rect x="{lx}" y="8" width="14" height="4" fill="{c}"/><text x="{tx}" y="14" font-size="12" fill="#222">{n}</text>"##,
            c = ser.colour,
            tx = lx + 18.0,
            n = esc(ser.name)
        );
    }
    s.push_str("</svg>");
    s
}

/// Horizontal bars for rates (0–1) with their values printed, one per labelled row.
pub fn rate_bars(title: &str, rows: &[(String, Option<f64>)]) -> String {
    let row_h = 24.0;
    let (w, left, right, top) = (640.0, 190.0, 56.0, 8.0);
    let h = top * 2.0 + row_h * rows.len().max(1) as f64;
    let mut s = open(w, h, title);
    for (i, (label, v)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let shown: String = label.chars().take(14).collect();
        let _ = write!(
            s,
            r##"<text x="{tx}" y="{ty:.1}" font-size="12" text-anchor="end" fill="#222">{l}</text>"##,
            tx = left - 6.0,
            ty = y + 16.0,
            l = esc(&shown)
        );
        match v {
            Some(v) => {
                let bw = (w - left - right) * v.clamp(0.0, 1.0);
                let colour = if *v >= 0.9 {
                    GREEN
                } else if *v >= 0.75 {
                    YELLOW
                } else {
                    RED
                };
                let _ = write!(
                    s,
                    r##"<rect x="{left}" y="{ry:.1}" width="{bw:.1}" height="16" fill="{colour}"/><text x="{vx:.1}" y="{ty:.1}" font-size="12" fill="#222">{p:.1}%</text>"##,
                    ry = y + 4.0,
                    vx = left + bw + 4.0,
                    ty = y + 16.0,
                    p = v * 100.0
                );
            }
            None => {
                let _ = write!(
                    s,
                    r##"<text x="{left}" y="{ty:.1}" font-size="12" fill="#555">—</text>"##,
                    ty = y + 16.0
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// Stacked bars of green / yellow / red counts per labelled row (e.g. per level).
pub fn light_bars(title: &str, rows: &[(String, [i64; 3])]) -> String {
    let row_h = 30.0;
    let (w, left, right, top) = (640.0, 110.0, 70.0, 8.0);
    let h = top * 2.0 + row_h * rows.len().max(1) as f64;
    let max = rows
        .iter()
        .map(|(_, c)| c.iter().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let mut s = open(w, h, title);
    for (i, (label, counts)) in rows.iter().enumerate() {
        let y = top + row_h * i as f64;
        let _ = write!(
            s,
            r##"<text x="{tx}" y="{ty:.1}" font-size="12" text-anchor="end" fill="#222">{l}</text>"##,
            tx = left - 6.0,
            ty = y + 19.0,
            l = esc(label)
        );
        let mut x = left;
        for (k, colour) in [GREEN, YELLOW, RED].iter().enumerate() {
            let bw = (w - left - right) * counts[k] as f64 / max;
            if bw > 0.0 {
                let _ = write!(
                    s,
                    r#"<rect x="{x:.1}" y="{ry:.1}" width="{bw:.1}" height="20" fill="{colour}"><title>{n}</title></rect>"#,
                    ry = y + 4.0,
                    n = counts[k]
                );
            }
            x += bw;
        }
        let _ = write!(
            s,
            r##"<text x="{vx:.1}" y="{ty:.1}" font-size="12" fill="#222">{a}/{b}/{c}</text>"##,
            vx = x + 4.0,
            ty = y + 19.0,
            a = counts[0],
            b = counts[1],
            c = counts[2]
        );
    }
    s.push_str("</svg>");
    s
}

fn slug(title: &str) -> String {
    let mut h: u32 = 2166136261;
    for b in title.bytes() {
        h = (h ^ b as u32).wrapping_mul(16777619);
    }
    format!("{h:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_in_charts_is_escaped() {
        let svg = rate_bars("<b>", &[("a<script>".into(), Some(0.5))]);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;b&gt;"));
        assert!(svg.contains("50.0%"));
    }

    #[test]
    fn axes_round_up() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(130.0), 200.0);
        assert_eq!(nice_max(240.0), 250.0);
    }

    #[test]
    fn every_point_of_a_line_is_drawn() {
        let svg = line_chart(
            "t",
            &["1".into(), "2".into(), "3".into()],
            &[Series {
                name: "n",
                colour: RED,
                values: vec![Some(1.0), Some(2.0), Some(3.0)],
            }],
        );
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<polyline").count(), 1);
        let bars = light_bars("l", &[("grid".into(), [3, 2, 1])]);
        assert!(bars.contains("3/2/1"));
    }

    #[test]
    fn a_point_without_a_figure_is_a_gap_not_zero() {
        let labels: Vec<String> = (1..=5).map(|i| i.to_string()).collect();
        let svg = line_chart(
            "t",
            &labels,
            &[Series {
                name: "n",
                colour: RED,
                values: vec![Some(50.0), Some(60.0), None, Some(80.0), Some(90.0)],
            }],
        );
        // Four points, two lines (1–2 and 4–5), nothing drawn at 3 and no zero.
        assert_eq!(svg.matches("<circle").count(), 4);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(!svg.contains("3 n:"));
        // Nothing at all: no line, no point.
        let empty = line_chart(
            "e",
            &labels,
            &[Series {
                name: "n",
                colour: RED,
                values: vec![None; 5],
            }],
        );
        assert_eq!(empty.matches("<circle").count(), 0);
        assert_eq!(empty.matches("<polyline").count(), 0);
    }
}
