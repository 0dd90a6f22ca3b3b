//! Spreadsheets in and out: reads CSV (UTF-8 with or without a BOM, or GB18030 as Excel saves it on
//! Chinese Windows), xlsx and the old xls into rows of text; writes xlsx and CSV.
//!
//! Reading never trusts the file's name: the bytes say what the file is. Anything that is not a
//! spreadsheet (a PDF, an image, a zip that holds no workbook, binary data) is refused as
//! `unsupported_file_type`, before any row is looked at.

use chrono::NaiveDate;
use std::io::Cursor;

/// The largest file an import reads (the server also refuses larger uploads).
pub const MAX_IMPORT_BYTES: u64 = 64 * 1024 * 1024;
/// The most data rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 1_000_000;
/// The most columns a sheet may use (registers have at most a dozen; some slack for notes).
pub const MAX_IMPORT_COLUMNS: usize = 200;
/// The longest cell a sheet may hold, in characters.
pub const MAX_CELL_CHARS: usize = 10_000;
/// The most cells one import holds (counting the empty ones before a filled cell of its row): a
/// dozen columns of the largest register, with room to spare.
pub const MAX_IMPORT_CELLS: usize = 20_000_000;
/// The most an xlsx may unpack to (what its zip directory declares, before anything is unpacked):
/// a few kilobytes that unpack to gigabytes are refused.
pub const MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;

redgrid_core::vocabulary!(plain
    /// What a file turned out to be.
    FileKind {
        Csv = "csv", "CSV 文件", "CSV file";
        Xlsx = "xlsx", "Excel 工作簿（xlsx）", "Excel workbook (xlsx)";
        Xls = "xls", "Excel 97-2003 工作簿（xls）", "Excel 97-2003 workbook (xls)";
    }
);

/// A sheet read from a file: the header row and the data rows, each with its row number as a
/// spreadsheet shows it (the header is row 1). Blank rows are skipped; their numbers are kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Sheet {
    pub kind: FileKind,
    pub headers: Vec<String>,
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Why a file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The file is larger than the limit.
    TooLarge { size: u64, limit: u64 },
    /// The file is not CSV, xlsx or xls; the text says what it looks like.
    UnsupportedType(String),
    /// The file claims to be a spreadsheet but cannot be read (truncated, damaged).
    Unreadable(String),
    /// No header row, or no data rows.
    Empty,
    /// More rows than one import takes.
    TooManyRows { limit: usize },
    /// A cell beyond the last column a register may have (a sheet whose used range was stretched,
    /// say to XFD1048576).
    TooManyColumns { limit: usize },
    /// A cell longer than any register's column takes.
    CellTooLong { row: usize, limit: usize },
    /// An xlsx whose parts unpack to more than the limit (a zip bomb, or a sheet far too large).
    UnpacksTooLarge { size: u64, limit: u64 },
}

impl ReadError {
    pub fn code(&self) -> &'static str {
        match self {
            ReadError::TooLarge { .. } => "file_too_large",
            ReadError::UnsupportedType(_) => "unsupported_file_type",
            ReadError::Unreadable(_) => "unreadable_file",
            ReadError::Empty => "empty_file",
            ReadError::TooManyRows { .. } => "too_many_rows",
            ReadError::TooManyColumns { .. } => "too_many_columns",
            ReadError::CellTooLong { .. } => "cell_too_long",
            ReadError::UnpacksTooLarge { .. } => "file_too_large",
        }
    }

    pub fn message(&self, lang: redgrid_core::Lang) -> String {
        use redgrid_core::Lang::{En, Zh};
        match (self, lang) {
            (ReadError::TooLarge { size, limit }, Zh) => format!(
                "文件过大（{} MB），单次导入不能超过 {} MB，请拆分后分批导入",
                size / (1024 * 1024),
                limit / (1024 * 1024)
            ),
            (ReadError::TooLarge { size, limit }, En) => format!(
                "the file is too large ({} MB); one import takes at most {} MB — split it",
                size / (1024 * 1024),
                limit / (1024 * 1024)
            ),
            (ReadError::UnpacksTooLarge { size, limit }, Zh) => format!(
                "文件解压后过大（{} MB），不能超过 {} MB",
                size / (1024 * 1024),
                limit / (1024 * 1024)
            ),
            (ReadError::UnpacksTooLarge { size, limit }, En) => format!(
                "the file unpacks to {} MB; at most {} MB",
                size / (1024 * 1024),
                limit / (1024 * 1024)
            ),
            (ReadError::UnsupportedType(what), Zh) => {
                format!("不支持的文件类型（{what}），请上传 .xlsx、.xls 或 .csv 文件")
            }
            (ReadError::UnsupportedType(what), En) => {
                format!("unsupported file type ({what}); upload an .xlsx, .xls or .csv file")
            }
            (ReadError::Unreadable(why), Zh) => format!("文件已损坏或不完整，无法读取：{why}"),
            (ReadError::Unreadable(why), En) => {
                format!("the file is damaged or incomplete and cannot be read: {why}")
            }
            (ReadError::Empty, Zh) => "文件中没有数据行（第 1 行应为表头，其后为数据）".into(),
            (ReadError::Empty, En) => {
                "the file has no data rows (row 1 is the header, data follows)".into()
            }
            (ReadError::TooManyRows { limit }, Zh) => {
                format!("数据行过多，单次导入不能超过 {limit} 行")
            }
            (ReadError::TooManyRows { limit }, En) => {
                format!("too many rows; one import takes at most {limit}")
            }
            (ReadError::TooManyColumns { limit }, Zh) => {
                format!("表格的列数过多（有内容的单元格超出第 {limit} 列），请删除多余的列后重试")
            }
            (ReadError::TooManyColumns { limit }, En) => {
                format!("the sheet has cells beyond column {limit}; delete the extra columns")
            }
            (ReadError::CellTooLong { row, limit }, Zh) => {
                format!("第 {row} 行有单元格超过 {limit} 个字，请检查")
            }
            (ReadError::CellTooLong { row, limit }, En) => {
                format!("row {row} has a cell longer than {limit} characters")
            }
        }
    }
}

/// Says what the bytes are. `name` (the file name, if known) only breaks a tie for text files.
pub fn detect(bytes: &[u8]) -> Result<FileKind, ReadError> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"PK\x03\x04") {
        // A zip: an xlsx holds xl/workbook.xml; a docx, a jar or a plain zip does not.
        let head = &bytes[..bytes.len().min(64 * 1024)];
        let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
        if has(b"xl/") || has(b"[Content_Types].xml") && !has(b"word/") && !has(b"ppt/") {
            return Ok(FileKind::Xlsx);
        }
        return Err(ReadError::UnsupportedType(
            "zip archive without a workbook".into(),
        ));
    }
    if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Ok(FileKind::Xls);
    }
    for (magic, what) in [
        (&b"%PDF"[..], "PDF"),
        (&b"\x89PNG"[..], "PNG image"),
        (&b"\xFF\xD8\xFF"[..], "JPEG image"),
        (&b"GIF8"[..], "GIF image"),
        (&b"\x1F\x8B"[..], "gzip archive"),
        (&b"Rar!"[..], "RAR archive"),
        (&b"7z\xBC\xAF"[..], "7z archive"),
        (&b"PAR1"[..], "Parquet file"),
    ] {
        if starts(magic) {
            return Err(ReadError::UnsupportedType(what.into()));
        }
    }
    let probe = &bytes[..bytes.len().min(8192)];
    if probe.contains(&0) {
        return Err(ReadError::UnsupportedType("binary data".into()));
    }
    Ok(FileKind::Csv)
}

/// Reads the first sheet of a spreadsheet file.
pub fn read(bytes: &[u8]) -> Result<Sheet, ReadError> {
    let size = bytes.len() as u64;
    if size > MAX_IMPORT_BYTES {
        return Err(ReadError::TooLarge {
            size,
            limit: MAX_IMPORT_BYTES,
        });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ReadError::Empty);
    }
    let kind = detect(bytes)?;
    let raw = match kind {
        FileKind::Csv => read_csv(&decode_text(bytes))?,
        FileKind::Xlsx | FileKind::Xls => read_workbook(bytes, kind)?,
    };
    let mut rows = raw
        .into_iter()
        .filter(|(_, r)| r.iter().any(|c| !c.is_empty()));
    let Some((_, headers)) = rows.next() else {
        return Err(ReadError::Empty);
    };
    let rows: Vec<(usize, Vec<String>)> = rows.collect();
    if rows.is_empty() {
        return Err(ReadError::Empty);
    }
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(ReadError::TooManyRows {
            limit: MAX_IMPORT_ROWS,
        });
    }
    Ok(Sheet {
        kind,
        headers,
        rows,
    })
}

/// Text as UTF-8: a BOM is dropped; bytes that are not UTF-8 are read as GB18030 (a superset of
/// GBK, which Excel uses for CSV on Chinese Windows).
fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

/// RFC 4180 CSV: fields separated by commas, quoted with `"` (doubled inside), records ended by LF
/// or CRLF; a quoted field may hold line breaks. Cells are trimmed. Row numbers count records.
fn read_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, ReadError> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    let mut record = 1usize;
    let mut held = 0usize;
    let mut push_cell = |row: &mut Vec<String>, cell: &mut String| {
        row.push(cell.trim().to_string());
        cell.clear();
        held += 1;
        held <= MAX_IMPORT_CELLS
    };
    while let Some(c) = chars.next() {
        // Bounded as it is read: a line of endless commas or one endless cell is refused early.
        if row.len() > MAX_IMPORT_COLUMNS {
            return Err(ReadError::TooManyColumns {
                limit: MAX_IMPORT_COLUMNS,
            });
        }
        if cell.len() > MAX_CELL_CHARS * 4 {
            return Err(ReadError::CellTooLong {
                row: record,
                limit: MAX_CELL_CHARS,
            });
        }
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                c => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.trim().is_empty() && !was_quoted => {
                cell.clear();
                quoted = true;
                was_quoted = true;
            }
            ',' => {
                if !push_cell(&mut row, &mut cell) {
                    return Err(ReadError::TooManyRows {
                        limit: MAX_IMPORT_ROWS,
                    });
                }
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                if !push_cell(&mut row, &mut cell) {
                    return Err(ReadError::TooManyRows {
                        limit: MAX_IMPORT_ROWS,
                    });
                }
                was_quoted = false;
                rows.push((record, std::mem::take(&mut row)));
                record += 1;
                if record > MAX_IMPORT_ROWS + 2 {
                    return Err(ReadError::TooManyRows {
                        limit: MAX_IMPORT_ROWS,
                    });
                }
            }
            c => cell.push(c),
        }
    }
    if quoted {
        return Err(ReadError::Unreadable(format!(
            "a quoted cell that starts in record {record} never ends"
        )));
    }
    if !cell.is_empty() || !row.is_empty() {
        push_cell(&mut row, &mut cell);
        rows.push((record, row));
    }
    Ok(rows)
}

/// Refuses an xlsx whose zip directory declares more than [`MAX_UNPACKED_BYTES`] in all. (A part
/// that unpacks to more than it declares fails its own check while it is read.)
fn check_unpacked_size(bytes: &[u8]) -> Result<(), ReadError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ReadError::Unreadable(e.to_string()))?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let part = zip
            .by_index_raw(i)
            .map_err(|e| ReadError::Unreadable(e.to_string()))?;
        total = total.saturating_add(part.size());
        if total > MAX_UNPACKED_BYTES {
            return Err(ReadError::UnpacksTooLarge {
                size: total,
                limit: MAX_UNPACKED_BYTES,
            });
        }
    }
    Ok(())
}

fn read_workbook(bytes: &[u8], kind: FileKind) -> Result<Vec<(usize, Vec<String>)>, ReadError> {
    use calamine::Reader;
    let cursor = Cursor::new(bytes);
    let unreadable = |e: &dyn std::fmt::Display| ReadError::Unreadable(e.to_string());
    let mut rows = Rows::default();
    match kind {
        FileKind::Xlsx => {
            check_unpacked_size(bytes)?;
            // Cell by cell, never the whole used range: a sheet whose range says A1:XFD1048576
            // would otherwise ask for billions of cells before the first one is read.
            let mut wb: calamine::Xlsx<_> =
                calamine::Xlsx::new(cursor).map_err(|e| unreadable(&e))?;
            let name = wb.sheet_names().first().cloned().ok_or(ReadError::Empty)?;
            let mut cells = wb
                .worksheet_cells_reader(&name)
                .map_err(|e| unreadable(&e))?;
            while let Some(cell) = cells.next_cell().map_err(|e| unreadable(&e))? {
                let (row, col) = cell.get_position();
                let data: calamine::Data = cell.get_value().clone().into();
                rows.put(row as usize, col as usize, &data)?;
            }
        }
        _ => {
            // An .xls sheet has at most 65,536 rows and 256 columns, so its range is bounded.
            let mut wb: calamine::Xls<_> =
                calamine::Xls::new(cursor).map_err(|e| unreadable(&e))?;
            let range = wb
                .worksheet_range_at(0)
                .ok_or(ReadError::Empty)?
                .map_err(|e| unreadable(&e))?;
            for (row, col, data) in range.used_cells() {
                let (r0, c0) = range.start().unwrap_or((0, 0));
                rows.put(r0 as usize + row, c0 as usize + col, data)?;
            }
        }
    }
    Ok(rows.done())
}

/// The rows of a workbook as its cells arrive (row by row, left to right), within the limits.
#[derive(Default)]
struct Rows {
    rows: Vec<(usize, Vec<String>)>,
    /// Cells held so far, empty ones included.
    cells: usize,
}

impl Rows {
    /// Puts one cell (0-based position); refuses a cell beyond the limits before storing it.
    fn put(&mut self, row: usize, col: usize, data: &calamine::Data) -> Result<(), ReadError> {
        if col >= MAX_IMPORT_COLUMNS {
            return Err(ReadError::TooManyColumns {
                limit: MAX_IMPORT_COLUMNS,
            });
        }
        // One header row and the data rows.
        if row > MAX_IMPORT_ROWS {
            return Err(ReadError::TooManyRows {
                limit: MAX_IMPORT_ROWS,
            });
        }
        let text = cell_text(data);
        if text.chars().count() > MAX_CELL_CHARS {
            return Err(ReadError::CellTooLong {
                row: row + 1,
                limit: MAX_CELL_CHARS,
            });
        }
        if text.is_empty() {
            return Ok(());
        }
        if self.rows.last().is_none_or(|(n, _)| *n != row + 1) {
            self.rows.push((row + 1, Vec::new()));
        }
        let Some((_, cells)) = self.rows.last_mut() else {
            return Ok(());
        };
        if cells.len() <= col {
            self.cells += col + 1 - cells.len();
            if self.cells > MAX_IMPORT_CELLS {
                return Err(ReadError::TooManyRows {
                    limit: MAX_IMPORT_ROWS,
                });
            }
            cells.resize(col + 1, String::new());
        }
        cells[col] = text;
        Ok(())
    }

    /// The rows, in order (a file's cells may come out of order; rows are sorted and merged).
    fn done(mut self) -> Vec<(usize, Vec<String>)> {
        self.rows.sort_by_key(|(n, _)| *n);
        let mut out: Vec<(usize, Vec<String>)> = Vec::with_capacity(self.rows.len());
        for (n, cells) in self.rows {
            match out.last_mut() {
                Some((m, prev)) if *m == n => {
                    if prev.len() < cells.len() {
                        prev.resize(cells.len(), String::new());
                    }
                    for (i, c) in cells.into_iter().enumerate().filter(|(_, c)| !c.is_empty()) {
                        prev[i] = c;
                    }
                }
                _ => out.push((n, cells)),
            }
        }
        out
    }
}

/// A cell as text: whole numbers without a decimal point (phones and codes are often typed as
/// numbers), dates as YYYY-MM-DD.
fn cell_text(d: &calamine::Data) -> String {
    use calamine::Data;
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e16 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.date().to_string(),
            Some(t) => t.to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// One cell to write.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Num(f64),
    Date(NaiveDate),
    Empty,
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}
impl From<i64> for Cell {
    fn from(v: i64) -> Self {
        Cell::Int(v)
    }
}
impl From<Option<NaiveDate>> for Cell {
    fn from(v: Option<NaiveDate>) -> Self {
        v.map(Cell::Date).unwrap_or(Cell::Empty)
    }
}
impl From<NaiveDate> for Cell {
    fn from(v: NaiveDate) -> Self {
        Cell::Date(v)
    }
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(i) => i.to_string(),
            Cell::Num(f) => f.to_string(),
            Cell::Date(d) => d.to_string(),
            Cell::Empty => String::new(),
        }
    }
}

/// A sheet to write.
#[derive(Debug, Clone, PartialEq)]
pub struct OutSheet {
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// Writes sheets into an xlsx workbook. Text stays text (so codes and phones keep their leading
/// digits); dates are real dates; the header row is bold and frozen.
pub fn write_xlsx(sheets: &[OutSheet]) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&s.name).map_err(|e| e.to_string())?;
        for (c, h) in s.headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &bold)
                .map_err(|e| e.to_string())?;
            let width = h
                .chars()
                .map(|ch| if ch.is_ascii() { 1.0 } else { 2.0 })
                .sum::<f64>();
            ws.set_column_width(c as u16, width.max(10.0) + 2.0)
                .map_err(|e| e.to_string())?;
        }
        ws.set_freeze_panes(1, 0).map_err(|e| e.to_string())?;
        for (r, row) in s.rows.iter().enumerate() {
            let r = r as u32 + 1;
            for (c, cell) in row.iter().enumerate() {
                let c = c as u16;
                let res = match cell {
                    Cell::Text(t) => ws.write_string(r, c, t).map(|_| ()),
                    Cell::Int(i) => ws.write_number(r, c, *i as f64).map(|_| ()),
                    Cell::Num(f) => ws.write_number(r, c, *f).map(|_| ()),
                    Cell::Date(d) => {
                        use chrono::Datelike;
                        let dt = rust_xlsxwriter::ExcelDateTime::from_ymd(
                            d.year() as u16,
                            d.month() as u8,
                            d.day() as u8,
                        );
                        match dt {
                            Ok(dt) => ws.write_datetime_with_format(r, c, &dt, &date).map(|_| ()),
                            Err(e) => Err(e),
                        }
                    }
                    Cell::Empty => Ok(()),
                };
                res.map_err(|e| e.to_string())?;
            }
        }
    }
    wb.save_to_buffer().map_err(|e| e.to_string())
}

/// Writes a CSV with a UTF-8 BOM (so Excel opens it as UTF-8) and CRLF line ends.
pub fn write_csv(headers: &[String], rows: &[Vec<Cell>]) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let field = |out: &mut String, s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&s.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(s);
        }
    };
    let line = |out: &mut String, cells: Vec<String>| {
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(out, c);
        }
        out.push_str("\r\n");
    };
    line(&mut out, headers.to_vec());
    // Text that a spreadsheet would take for a formula (=, +, -, @) is written as text.
    let safe = |c: &Cell| match c {
        Cell::Text(t) if t.starts_with(['=', '+', '-', '@']) => format!("'{t}"),
        other => other.text(),
    };
    for r in rows {
        line(&mut out, r.iter().map(safe).collect());
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_line_breaks_and_blank_rows() {
        let s =
            read("名称,说明\r\n\"甲,乙\",\"他说\"\"好\"\"\"\r\n,\r\n丙,\"两\n行\"\n".as_bytes())
                .unwrap();
        assert_eq!(s.kind, FileKind::Csv);
        assert_eq!(s.headers, vec!["名称", "说明"]);
        assert_eq!(
            s.rows,
            vec![
                (2, vec!["甲,乙".to_string(), "他说\"好\"".to_string()]),
                (4, vec!["丙".to_string(), "两\n行".to_string()]),
            ]
        );
    }

    #[test]
    fn gbk_and_bom_csv_are_read() {
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,手机号\n张三,13800001111\n");
        let s = read(&gbk).unwrap();
        assert_eq!(s.headers, vec!["姓名", "手机号"]);
        assert_eq!(s.rows[0].1, vec!["张三", "13800001111"]);
        let s = read("\u{feff}姓名\n李四\n".as_bytes()).unwrap();
        assert_eq!(s.headers, vec!["姓名"]);
    }

    #[test]
    fn xlsx_round_trips_text_numbers_and_dates() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap();
        let bytes = write_xlsx(&[OutSheet {
            name: "党员".into(),
            headers: vec!["姓名".into(), "手机号".into(), "日期".into(), "数".into()],
            rows: vec![vec![
                "王五".into(),
                "13900001111".into(),
                d.into(),
                Cell::Int(42),
            ]],
        }])
        .unwrap();
        let s = read(&bytes).unwrap();
        assert_eq!(s.kind, FileKind::Xlsx);
        assert_eq!(s.headers, vec!["姓名", "手机号", "日期", "数"]);
        assert_eq!(
            s.rows,
            vec![(
                2,
                vec![
                    "王五".into(),
                    "13900001111".into(),
                    "2026-03-05".into(),
                    "42".into()
                ]
            )]
        );
        // The CSV writer's output reads back the same.
        let csv = write_csv(
            &s.headers,
            &[vec!["a,b".into(), "x\"y".into(), d.into(), Cell::Int(1)]],
        );
        let back = read(&csv).unwrap();
        assert_eq!(back.rows[0].1, vec!["a,b", "x\"y", "2026-03-05", "1"]);
    }

    #[test]
    fn what_is_not_a_spreadsheet_is_refused() {
        assert_eq!(
            read(b"%PDF-1.7 ...").unwrap_err().code(),
            "unsupported_file_type"
        );
        assert_eq!(
            read(b"\x89PNG\r\n\x1a\n\0\0").unwrap_err().code(),
            "unsupported_file_type"
        );
        assert_eq!(
            read(b"abc\0def").unwrap_err().code(),
            "unsupported_file_type"
        );
        assert_eq!(
            read(b"PK\x03\x04 word/document.xml").unwrap_err().code(),
            "unsupported_file_type"
        );
        assert_eq!(read(b"").unwrap_err(), ReadError::Empty);
        assert_eq!(
            read("姓名,手机号\n".as_bytes()).unwrap_err(),
            ReadError::Empty
        );
        assert_eq!(
            read(b"\"open quote\n").unwrap_err().code(),
            "unreadable_file"
        );
        // A workbook cut in half.
        let bytes = write_xlsx(&[OutSheet {
            name: "a".into(),
            headers: vec!["x".into()],
            rows: vec![vec!["1".into()]],
        }])
        .unwrap();
        assert_eq!(
            read(&bytes[..bytes.len() / 2]).unwrap_err().code(),
            "unreadable_file"
        );
    }
}
