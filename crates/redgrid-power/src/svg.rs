//! A small chart of an alert's days, as SVG text (no scripts, no fonts from elsewhere).

use crate::{Day, date_of};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Daily totals as bars, the alert's days `[from, to]` in red, with the first and last dates; a
/// day without full data (`None`) is a dashed outline marked 数据缺失, never a low bar.
pub fn daily_chart(days: &[(Day, Option<f32>)], from: Day, to: Day, title: &str) -> String {
    let (w, h, pad) = (320.0f32, 120.0f32, 20.0f32);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\"><title>{}</title>",
        esc(title)
    );
    if days.is_empty() {
        s.push_str("<text x=\"10\" y=\"60\" font-size=\"12\">no readings</text></svg>");
        return s;
    }
    let first = days[0].0;
    let last = days[days.len() - 1].0;
    let n = (last - first + 1).max(1) as f32;
    let max = days.iter().filter_map(|d| d.1).fold(0.1f32, f32::max);
    let bw = (w - 2.0 * pad) / n;
    s.push_str(&format!(
        "<line x1=\"{pad}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#888\"/>",
        y = h - pad,
        x2 = w - pad
    ));
    for &(d, v) in days {
        let x = pad + (d - first) as f32 * bw;
        let Some(v) = v else {
            s.push_str(&format!(
                "<rect x=\"{x:.1}\" y=\"{pad}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#94a3b8\" stroke-dasharray=\"2 2\"><title>{} 数据缺失 / no data</title></rect>",
                (bw - 1.0).max(0.5),
                h - 2.0 * pad,
                date_of(d)
            ));
            continue;
        };
        let bh = (v / max) * (h - 2.0 * pad);
        let colour = if d >= from && d <= to {
            "#b91c1c"
        } else {
            "#64748b"
        };
        s.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{colour}\"><title>{} {v:.2} kWh</title></rect>",
            h - pad - bh,
            (bw - 1.0).max(0.5),
            date_of(d)
        ));
    }
    s.push_str(&format!(
        "<text x=\"{pad}\" y=\"{}\" font-size=\"10\">{}</text><text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text><text x=\"{pad}\" y=\"12\" font-size=\"10\">{max:.1} kWh</text></svg>",
        h - 5.0,
        date_of(first),
        w - pad,
        h - 5.0,
        date_of(last)
    ));
    s
}
