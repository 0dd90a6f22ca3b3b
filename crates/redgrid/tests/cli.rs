//! The binary as an operator uses it: build a small demo, check it, tamper with it, check again.

use std::process::Command;

fn redgrid(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_redgrid"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run redgrid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_then_check_then_tamper_then_check() {
    let dir = std::env::temp_dir().join(format!("redgrid-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let out = redgrid(&[
        "demo",
        "--no-serve",
        "--requests",
        "60",
        "--residents",
        "30",
        "--data-dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for role in [
        "resident",
        "grid_worker",
        "volunteer",
        "verifier",
        "supervisor",
        "district_admin",
    ] {
        assert!(
            stdout.contains(role),
            "the demo prints a token for {role}: {stdout}"
        );
    }
    assert!(stdout.contains("export AREA="), "{stdout}");

    let out = redgrid(&["check", "--data-dir", d]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("checked 60 requests: 0 differences"));

    // Running the demo again reuses the district.
    let out = redgrid(&["demo", "--no-serve", "--data-dir", d]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("using the existing demo district"));

    // Someone edits a request row by hand.
    let store = redgrid_store::open(&format!("sqlite://{d}/redgrid.db"))
        .await
        .unwrap();
    store
        .execute_raw("UPDATE requests SET status = 'closed', rework_count = 9 WHERE id = 7")
        .await
        .unwrap();
    drop(store);
    let out = redgrid(&["check", "--data-dir", d]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("request 7:") && stdout.contains("rework_count"),
        "{stdout}"
    );
    assert!(stdout.contains("1 differences"), "{stdout}");

    // A bad config is a clear error, exit 2.
    std::fs::write(dir.join("redgrid.toml"), "listen = 5\n").unwrap();
    let out = redgrid(&["check", "--data-dir", d]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("redgrid.toml"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn calendar_check_reports_every_bad_line_and_passes_the_sample() {
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../calendars/2026.cal");
    let out = redgrid(&["calendar", "check", sample]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2026"));
    let bad = std::env::temp_dir().join(format!("redgrid-bad-{}.cal", std::process::id()));
    std::fs::write(
        &bad,
        "year 2026\nhours mon-fri 09:00-12:00 11:00-17:00\nholiday 2026-02-30 x\nfoo\n",
    )
    .unwrap();
    let out = redgrid(&["calendar", "check", bad.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    for line in [":2: hours overlap", ":3: bad date", ":4: unknown key"] {
        assert!(stderr.contains(line), "{line} in {stderr}");
    }
    let _ = std::fs::remove_file(bad);
}
