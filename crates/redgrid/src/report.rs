//! `redgrid report rates`: the scorecard in the terminal or as an Excel file with Chinese headers.

use redgrid_app::Service;
use redgrid_app::scorecard::{COLUMNS, Cell, GroupBy, Scorecard};
use redgrid_core::scorecard::{Period, show_rate};
use std::path::Path;

#[derive(clap::Args)]
pub struct RatesArgs {
    #[command(flatten)]
    pub config: crate::config::ConfigArgs,
    /// 2026-10-05 (day), 2026-10 (month), 2026-Q4 (quarter), 2026 (year) or 2026-10-01..2026-10-15.
    #[arg(long)]
    pub period: String,
    /// unit, level, street, community, category, class or district.
    #[arg(long, default_value = "unit")]
    pub by: String,
    /// Write an Excel workbook (Chinese headers) instead of printing a table.
    #[arg(long)]
    pub xlsx: Option<std::path::PathBuf>,
}

fn text(c: &Cell) -> String {
    match c {
        Cell::Text(t) => t.clone(),
        Cell::Count(n) => n.to_string(),
        Cell::Rate(r) => show_rate(*r),
    }
}

/// Display width in a terminal: CJK and full-width characters take two columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let u = c as u32;
            if (0x1100..=0x115F).contains(&u)
                || (0x2E80..=0xA4CF).contains(&u)
                || (0xAC00..=0xD7A3).contains(&u)
                || (0xF900..=0xFAFF).contains(&u)
                || (0xFF00..=0xFF60).contains(&u)
                || (0xFFE0..=0xFFE6).contains(&u)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

fn pad(s: &str, w: usize, right: bool) -> String {
    let fill = " ".repeat(w.saturating_sub(width(s)));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

/// The scorecard as an aligned text table, total last.
pub fn table(card: &Scorecard) -> String {
    let mut rows: Vec<Vec<String>> = vec![COLUMNS.iter().map(|c| c.0.to_string()).collect()];
    for r in card.rows.iter().chain(std::iter::once(&card.total)) {
        rows.push(COLUMNS.iter().map(|c| text(&(c.2)(r))).collect());
    }
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| rows.iter().map(|r| width(&r[i])).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "三率 / scorecard by {} ({}), {} – {} (responses as of {})\n",
        card.by.label(redgrid_core::Lang::Zh),
        card.by.as_str(),
        card.period.start,
        card.period.end.pred_opt().unwrap_or(card.period.end),
        card.as_of
            .with_timezone(&redgrid_core::calendar::shanghai())
            .format("%Y-%m-%d %H:%M")
    );
    for (n, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, cell)| pad(cell, widths[i], i != 1))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if n == 0 || n == rows.len() - 2 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
            out.push('\n');
        }
    }
    out
}

/// Writes the scorecard as an Excel workbook (see [`redgrid_app::scorecard::workbook`]).
pub fn write_xlsx(card: &Scorecard, path: &Path) -> anyhow::Result<()> {
    let bytes = redgrid_app::scorecard::workbook(card).map_err(anyhow::Error::msg)?;
    std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

/// Parses the arguments, builds the scorecard and prints or writes it.
pub async fn rates(service: &Service, args: &RatesArgs) -> anyhow::Result<String> {
    let period = Period::parse(&args.period).ok_or_else(|| {
        anyhow::anyhow!(
            "period {:?} is not a day (2026-10-05), month (2026-10), quarter (2026-Q4), year (2026) \
             or range (2026-10-01..2026-10-15, not ending before it starts)",
            args.period
        )
    })?;
    let by = GroupBy::parse(&args.by).ok_or_else(|| {
        anyhow::anyhow!(
            "--by {:?}: use unit, level, street, community, category, class or district",
            args.by
        )
    })?;
    let card = service
        .scorecard(by, period, redgrid_app::service::now())
        .await?;
    match &args.xlsx {
        Some(path) => {
            write_xlsx(&card, path)?;
            Ok(format!(
                "wrote {} ({} rows)\n",
                path.display(),
                card.rows.len() + 1
            ))
        }
        None => Ok(table(&card)),
    }
}
