//! Files that used to take the server down (issue 21): read with bounded memory and refused with a
//! clear reason. The files are kept in `tests/files/`.

use redgrid_app::tabular::{self, MAX_IMPORT_COLUMNS, MAX_IMPORT_ROWS, ReadError};

fn file(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/files/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_sheet_whose_only_cell_is_xfd1048576_is_refused_without_allocating_its_range() {
    // 6.7 KB in the report; here 1.6 KB: its range asks for 17 billion cells.
    let e = tabular::read(&file("one-cell-at-XFD1048576.xlsx")).unwrap_err();
    assert_eq!(
        e,
        ReadError::TooManyColumns {
            limit: MAX_IMPORT_COLUMNS
        }
    );
    assert_eq!(e.code(), "too_many_columns");
    assert!(e.message(redgrid_core::Lang::Zh).contains("列数过多"));
}

#[test]
fn three_million_rows_are_refused_as_they_are_read() {
    let e = tabular::read(&file("three-million-rows.xlsx")).unwrap_err();
    assert_eq!(
        e,
        ReadError::TooManyRows {
            limit: MAX_IMPORT_ROWS
        }
    );
}

#[test]
fn csv_too_long_too_wide_or_with_an_endless_cell_is_refused_early() {
    let many = "姓名\n".to_string() + &"x\n".repeat(MAX_IMPORT_ROWS + 5);
    assert!(matches!(
        tabular::read(many.as_bytes()),
        Err(ReadError::TooManyRows { .. })
    ));
    let wide = "a,".repeat(MAX_IMPORT_COLUMNS + 10) + "\nb\n";
    assert!(matches!(
        tabular::read(wide.as_bytes()),
        Err(ReadError::TooManyColumns { .. })
    ));
    let endless = format!("姓名\n\"{}\n", "长".repeat(50_000));
    assert!(matches!(
        tabular::read(endless.as_bytes()),
        Err(ReadError::CellTooLong { .. })
    ));
}

#[test]
fn ordinary_sheets_still_read_cell_by_cell() {
    let sheet = tabular::OutSheet {
        name: "党员".into(),
        headers: vec!["姓名".into(), "手机号".into(), "备注".into()],
        rows: vec![
            vec![
                "张三".into(),
                tabular::Cell::Int(13800001111),
                tabular::Cell::Empty,
            ],
            vec![
                tabular::Cell::Empty,
                tabular::Cell::Empty,
                "只有备注".into(),
            ],
        ],
    };
    let bytes = tabular::write_xlsx(&[sheet]).unwrap();
    let read = tabular::read(&bytes).unwrap();
    assert_eq!(read.headers, ["姓名", "手机号", "备注"]);
    assert_eq!(
        read.rows[0],
        (2, vec!["张三".to_string(), "13800001111".to_string()])
    );
    assert_eq!(
        read.rows[1],
        (
            3,
            vec![String::new(), String::new(), "只有备注".to_string()]
        )
    );
}

#[test]
fn csv_exports_write_formula_like_text_as_text() {
    let bytes = tabular::write_csv(
        &["诉求内容".into()],
        &[
            vec!["=HYPERLINK(\"http://x\")".into()],
            vec!["@SUM(A1)".into()],
            vec![tabular::Cell::Int(-5)],
        ],
    );
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{text}");
    assert!(text.contains("'@SUM(A1)"));
    assert!(text.contains("\r\n-5\r\n"), "numbers stay numbers");
}

#[test]
fn an_xlsx_that_would_unpack_to_gigabytes_is_refused_before_unpacking() {
    use std::io::Write;
    // A tiny workbook whose directory then declares a 4 GB sheet, as a zip bomb does.
    let mut bytes = Vec::new();
    {
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(&mut bytes));
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("[Content_Types].xml", o).unwrap();
        z.write_all(b"<Types/>").unwrap();
        z.start_file("xl/worksheets/sheet1.xml", o).unwrap();
        z.write_all(b"<worksheet/>").unwrap();
        z.finish().unwrap();
    }
    let at = bytes
        .windows(4)
        .rposition(|w| w == b"PK\x01\x02")
        .expect("a central directory entry");
    bytes[at + 24..at + 28].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    let e = tabular::read(&bytes).unwrap_err();
    assert!(
        matches!(e, ReadError::UnpacksTooLarge { limit, .. } if limit == tabular::MAX_UNPACKED_BYTES),
        "{e:?}"
    );
    assert_eq!(e.code(), "file_too_large");
    assert!(e.message(redgrid_core::Lang::Zh).contains("解压后过大"));
}
