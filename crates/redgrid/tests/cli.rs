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
        "volunteer",
        "member",
        "grid_worker",
        "community_staff",
        "street_staff",
        "department_staff",
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
    // 60 filed requests, plus the suggestions the demo's organisation turned into requests.
    let checked = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(checked.contains("requests: 0 differences"), "{checked}");
    assert!(
        checked.contains("every reference of requests, events and notices names a row"),
        "{checked}"
    );

    // A notice's unit removed behind the server's back (SQLite's keys off for the purpose).
    let store = redgrid_store::open(&format!("sqlite://{d}/redgrid.db"))
        .await
        .unwrap();
    let broken = store
        .execute_raw(
            "PRAGMA foreign_keys = OFF; UPDATE outbox SET unit_id = unit_id + 1000000 \
             WHERE id = (SELECT MIN(id) FROM outbox WHERE unit_id IS NOT NULL); \
             PRAGMA foreign_keys = ON",
        )
        .await
        .unwrap();
    assert!(broken > 0, "the demo sent a notice to a unit");
    let out = redgrid(&["check", "--data-dir", d]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("outbox.unit_id: 1 references name no row")
            && stdout.contains("requests: 0 differences"),
        "{stdout}"
    );
    store
        .execute_raw(
            "PRAGMA foreign_keys = OFF; UPDATE outbox SET unit_id = unit_id - 1000000 \
             WHERE unit_id > 1000000; PRAGMA foreign_keys = ON",
        )
        .await
        .unwrap();
    drop(store);

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

/// Runs of 7 or more digits: phone numbers, ID numbers and bank cards look like this; nothing public
/// should contain one.
fn long_digit_runs(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
        } else {
            if run.len() >= 7 {
                found.push(run.clone());
            }
            run.clear();
        }
    }
    found
}

/// The text in the cells of an .xlsx: every `<t>` element of its shared strings and sheets (the
/// rest of the XML is layout: widths and sizes in long numbers).
fn xlsx_text(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an xlsx is a zip");
    let mut cells = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        if name.starts_with("xl/") && name.ends_with(".xml") {
            let mut xml = String::new();
            f.read_to_string(&mut xml).unwrap();
            for part in xml.split("<t").skip(1) {
                if let Some((open, rest)) = part.split_once('>')
                    && (open.is_empty() || open.starts_with(' '))
                    && let Some((t, _)) = rest.split_once("</t>")
                {
                    cells.push(t.to_string());
                }
            }
        }
    }
    assert!(!cells.is_empty(), "an export has cells");
    cells.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_page_and_export_of_the_demo_is_free_of_personal_data() {
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let dir = std::env::temp_dir().join(format!("redgrid-scan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let out = redgrid(&[
        "demo",
        "--no-serve",
        "--requests",
        "400",
        "--residents",
        "120",
        "--data-dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = redgrid_store::open(&format!("sqlite://{d}/redgrid.db"))
        .await
        .unwrap();
    // Every person's full name and phone in the demo.
    let mut names = Vec::new();
    let mut phones = Vec::new();
    let mut misses = 0;
    let mut id = 1;
    while misses < 50 {
        match store.person(redgrid_core::ids::PersonId(id)).await.unwrap() {
            Some(p) => {
                misses = 0;
                names.push(p.name.clone());
                phones.extend(p.phone.clone());
            }
            None => misses += 1,
        }
        id += 1;
    }
    assert!(names.len() > 100, "the demo has people: {}", names.len());
    // Every exact address, and how many residents typed their name, address or phone into what
    // they wrote.
    let mut addresses = Vec::new();
    let mut typed = 0;
    let mut misses = 0;
    let mut id = 1;
    while misses < 50 {
        match store
            .request(redgrid_core::ids::RequestId(id))
            .await
            .unwrap()
        {
            Some(r) => {
                misses = 0;
                addresses.extend(r.location.address.clone());
                if r.description.contains("我是") || r.description.contains("联系电话") {
                    typed += 1;
                }
            }
            None => misses += 1,
        }
        id += 1;
    }
    assert!(
        typed > 40,
        "the demo's residents type personal data into their requests: {typed}"
    );
    let service = redgrid_app::Service::new(store, Default::default())
        .await
        .unwrap();
    let app = redgrid_web::router(std::sync::Arc::new(redgrid_web::AppState::new(
        std::sync::Arc::new(service),
    )));
    let get = |uri: String, lang: &'static str| {
        let app = app.clone();
        async move {
            let req = axum::http::Request::builder()
                .uri(&uri)
                .header("accept-language", lang)
                .body(Body::empty())
                .unwrap();
            let res = app.oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200, "{uri}");
            res.into_body().collect().await.unwrap().to_bytes().to_vec()
        }
    };
    let mut pages = 0;
    let mut rows = 0;
    for list in ["needs", "results", "rectifications"] {
        for lang in ["zh-CN", "en"] {
            // Every JSON page, following the cursor.
            let mut cursor = String::new();
            loop {
                let body = get(format!("/api/public/{list}?limit=200{cursor}"), lang).await;
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let text = String::from_utf8(body).unwrap();
                scan(&format!("{list} json"), &text, &names, &phones, &addresses);
                pages += 1;
                rows += v["items"].as_array().map_or(0, |a| a.len());
                match v["next_cursor"].as_str() {
                    Some(c) => cursor = format!("&cursor={c}"),
                    None => break,
                }
            }
            let csv = get(format!("/api/public/{list}?format=csv"), lang).await;
            scan(
                &format!("{list} csv"),
                &String::from_utf8(csv).unwrap(),
                &names,
                &phones,
                &addresses,
            );
            let xlsx = get(format!("/api/public/{list}?format=xlsx"), lang).await;
            scan(
                &format!("{list} xlsx"),
                &xlsx_text(&xlsx),
                &names,
                &phones,
                &addresses,
            );
            let html = get(format!("/public/{list}"), lang).await;
            scan(
                &format!("{list} page"),
                &String::from_utf8(html).unwrap(),
                &names,
                &phones,
                &addresses,
            );
            pages += 3;
        }
    }
    // Open311, as any client reads it.
    for uri in [
        "/open311/v2/requests.json?page_size=200",
        "/open311/v2/requests.xml?page_size=200",
    ] {
        let body = get(uri.to_string(), "zh-CN").await;
        scan(
            uri,
            &String::from_utf8(body).unwrap(),
            &names,
            &phones,
            &addresses,
        );
        pages += 1;
    }
    assert!(rows > 100, "the lists have rows to scan: {rows}");
    println!(
        "scanned {pages} public pages, exports and Open311 answers ({rows} JSON rows) for {} names, {} phones, {} addresses and every house number ({typed} requests had personal data typed in)",
        names.len(),
        phones.len(),
        addresses.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn scan(what: &str, text: &str, names: &[String], phones: &[String], addresses: &[String]) {
    let runs = long_digit_runs(text);
    assert!(
        runs.is_empty(),
        "{what} carries digit runs like phones or IDs: {runs:?}"
    );
    for a in addresses {
        assert!(!text.contains(a.as_str()), "{what} carries the address {a}");
    }
    // No house number of any kind: a building, a unit or a room.
    let chars: Vec<char> = text.chars().collect();
    for (i, w) in chars.windows(3).enumerate() {
        let numbered = w[0].is_ascii_digit()
            && (matches!((w[1], w[2]), ('号', '楼') | ('单', '元')) || w[1] == '室');
        assert!(
            !numbered,
            "{what} carries a house number: {}",
            chars[i.saturating_sub(12)..(i + 6).min(chars.len())]
                .iter()
                .collect::<String>()
        );
    }
    for n in names.iter().filter(|n| n.chars().count() >= 2) {
        assert!(!text.contains(n.as_str()), "{what} carries the name {n}");
    }
    for p in phones {
        assert!(!text.contains(p.as_str()), "{what} carries the phone {p}");
    }
}

#[test]
fn the_demo_has_an_organisation_whose_registers_round_trip_and_whose_campaign_reports() {
    let dir = std::env::temp_dir().join(format!("redgrid-cli-org-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let out = redgrid(&[
        "demo",
        "--no-serve",
        "--requests",
        "120",
        "--residents",
        "60",
        "--data-dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("party organisations"), "{err}");
    // The campaigns and their statistics, printed and as a workbook with Chinese headers.
    let out = redgrid(&["org", "campaigns", "--data-dir", d]);
    let campaigns = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(campaigns.contains("DJYL-12M"), "{campaigns}");
    let xlsx = dir.join("stats.xlsx");
    let out = redgrid(&[
        "org",
        "stats",
        "DJYL-12M",
        "--xlsx",
        xlsx.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("走访调研") && text.contains("个党组织"),
        "{text}"
    );
    let book = xlsx_text(&std::fs::read(&xlsx).unwrap());
    assert!(
        book.contains("走访调研（次）") && book.contains("合计"),
        "{book}"
    );
    // A register exported and imported again: every row is an update, nothing is created.
    let members = dir.join("members.xlsx");
    let out = redgrid(&[
        "org",
        "export",
        "members",
        "-o",
        members.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = redgrid(&[
        "org",
        "import",
        "members",
        members.to_str().unwrap(),
        "--data-dir",
        d,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("新增 0"), "{text}");
    // A bad file: exit 1, every bad row listed, nothing imported.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "姓名,手机号,所在党组织编码\n甲,123,C001-1\n乙,13900000001,NOPE\n",
    )
    .unwrap();
    let out = redgrid(&[
        "org",
        "import",
        "members",
        bad.to_str().unwrap(),
        "--data-dir",
        d,
        "--lang",
        "en",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("row 2") && text.contains("row 3") && text.contains("nothing imported"),
        "{text}"
    );
    let template = dir.join("t.xlsx");
    let out = redgrid(&[
        "org",
        "template",
        "pairings",
        "-o",
        template.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(xlsx_text(&std::fs::read(&template).unwrap()).contains("结对类型*"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_files_power_alerts_once_in_their_grids_and_precision_reads_them() {
    let dir = std::env::temp_dir().join(format!("redgrid-cli-power-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let out = redgrid(&[
        "demo",
        "--no-serve",
        "--requests",
        "60",
        "--residents",
        "40",
        "--data-dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("power alerts"), "{err}");
    let district = std::fs::read_dir(dir.join("power"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().into_string().unwrap())
        .find(|n| n.len() == 6)
        .expect("a district folder");
    // Every filed alert is linked in the database to a power_alert request in a grid, and none
    // carries the address in its text.
    let store = redgrid_store::open(&format!("sqlite://{d}/redgrid.db"))
        .await
        .unwrap();
    let links = store.power_alert_links(&district).await.unwrap();
    assert!(!links.is_empty(), "the demo filed alerts");
    assert!(
        !dir.join("power")
            .join(&district)
            .join("alerts.csv")
            .exists(),
        "the links are in the database, not in a file beside it"
    );
    for link in &links {
        let r = store
            .request(link.request_id)
            .await
            .unwrap()
            .expect("the request");
        assert_eq!(r.channel, redgrid_core::request::Channel::PowerAlert);
        assert!(r.description.starts_with("电力预警"), "{}", r.description);
        assert!(!r.description.contains("号楼"), "{}", r.description);
        assert_eq!(r.attachments.len(), 1, "the evidence chart");
        assert_eq!(
            r.restricted,
            link.detector == "routine",
            "only routine alerts are restricted: {link:?}"
        );
    }
    drop(store);
    // A range open at one end is read to the edge of the data; a reversed one is refused.
    for args in [["--from", "2026-01-01"], ["--to", "2026-12-31"]] {
        let out = redgrid(&["power", "analyze", "--data-dir", d, args[0], args[1]]);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = redgrid(&[
        "power",
        "analyze",
        "--data-dir",
        d,
        "--from",
        "2026-03-01",
        "--to",
        "2026-01-01",
    ]);
    assert!(
        !out.status.success()
            && out.status.code() != Some(101)
            && String::from_utf8_lossy(&out.stderr).contains("is after --to"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Analysing again files nothing twice.
    let out = redgrid(&[
        "power",
        "analyze",
        "--data-dir",
        d,
        "--district",
        &district,
        "--file",
        "--recent-days",
        "14",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("filed 0 new requests"), "{text}");
    let store = redgrid_store::open(&format!("sqlite://{d}/redgrid.db"))
        .await
        .unwrap();
    assert_eq!(store.power_alert_links(&district).await.unwrap(), links);
    drop(store);
    // A household back home: three days of ordinary use for one meter whose vacancy goes on at
    // the end of the readings. The next filing tells that request, alone, that it is over, though
    // the episode's last day is before the days filed; the other meters lag behind it and none of
    // them is taken for removed.
    let back = links
        .iter()
        .find(|l| l.detector == "vacancy" && l.ended.is_none())
        .expect("a vacancy going on")
        .clone();
    let mut csv = String::from("meter,time,kwh\n");
    for n in 1..=3u32 {
        let day = back.day + chrono::Duration::days(n.into());
        for q in 0..96u32 {
            // Every day a little different: a day repeating the one before is a head-end filler.
            let busy = [28, 29, 48, 72 + n, 76, 84].contains(&q);
            let kwh = if busy {
                0.3 + 0.01 * f64::from(n)
            } else {
                0.02
            };
            csv.push_str(&format!(
                "{},{day}T{:02}:{:02}:00+08:00,{kwh}\n",
                back.meter,
                q / 4,
                q % 4 * 15
            ));
        }
    }
    let file = dir.join("back.csv");
    std::fs::write(&file, csv).unwrap();
    let f = file.to_str().unwrap();
    let out = redgrid(&[
        "power",
        "ingest",
        f,
        "--data-dir",
        d,
        "--district",
        &district,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let file_recent = || {
        redgrid(&[
            "power",
            "analyze",
            "--data-dir",
            d,
            "--district",
            &district,
            "--file",
            "--recent-days",
            "2",
        ])
    };
    let out = file_recent();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("0 new requests") && text.contains("1 filed before are over"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&file_recent().stdout).to_string();
    assert!(text.contains("0 filed before are over"), "{text}");
    let store = redgrid_store::open(&format!("sqlite://{d}/redgrid.db"))
        .await
        .unwrap();
    let now: Vec<redgrid_store::AlertLink> = store.power_alert_links(&district).await.unwrap();
    let expected: Vec<redgrid_store::AlertLink> = links
        .iter()
        .map(|l| redgrid_store::AlertLink {
            ended: if l.request_id == back.request_id {
                Some(back.day)
            } else {
                l.ended
            },
            ..l.clone()
        })
        .collect();
    assert_eq!(now, expected);
    let links = now;
    // An installation from before the links were in the database has them in alerts.csv: they are
    // moved in on the next run, and the file is renamed.
    store
        .execute_raw("DELETE FROM power_alert_links")
        .await
        .unwrap();
    drop(store);
    let mut csv = String::from("request_id,detector,meter,day,since,severity,reasons\n");
    for l in &links {
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            l.request_id.0, l.detector, l.meter, l.day, l.since, l.severity, l.reasons
        ));
    }
    let legacy = dir.join("power").join(&district).join("alerts.csv");
    std::fs::write(&legacy, csv).unwrap();
    // Precision: every filed alert counted, none checked yet.
    let out = redgrid(&[
        "power",
        "precision",
        "--data-dir",
        d,
        "--district",
        &district,
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let filed: u64 = text
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(filed as usize, links.len(), "{text}");
    assert!(text.contains('—'), "{text}");
    assert!(!legacy.exists());
    assert!(legacy.with_extension("csv.imported").exists());
    let store = redgrid_store::open(&format!("sqlite://{d}/redgrid.db"))
        .await
        .unwrap();
    // The old ledger never knew whether an episode was over.
    let unended: Vec<redgrid_store::AlertLink> = links
        .iter()
        .map(|l| redgrid_store::AlertLink {
            ended: None,
            ..l.clone()
        })
        .collect();
    assert_eq!(store.power_alert_links(&district).await.unwrap(), unended);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_stops_the_server_cleanly_leaving_no_wal_and_an_anchor() {
    use std::io::{BufRead, Read, Write};
    let dir = std::env::temp_dir().join(format!("redgrid-cli-term-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Something in the audit chain, so there is a head to anchor.
    let d = dir.to_str().unwrap();
    let out = redgrid(&[
        "admin",
        "create",
        "--name",
        "管理员",
        "--username",
        "admin",
        "--district-code",
        "120199",
        "--district-name",
        "滨城新区",
        "--data-dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Anchors go to the file every second, and to an HTTP receiver (a listener of the test's own).
    let receiver = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = dir.join("redgrid.toml");
    std::fs::write(
        &config,
        format!(
            "anchor_interval_secs = 1\nanchor_url = \"http://{}/anchors\"\n",
            receiver.local_addr().unwrap()
        ),
    )
    .unwrap();
    let received = std::thread::spawn(move || {
        let (mut conn, _) = receiver.accept().unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
            if got.windows(4).any(|w| w == b"\r\n\r\n") && got.ends_with(b"\n") {
                break;
            }
        }
        let _ = conn.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
        String::from_utf8_lossy(&got).to_string()
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_redgrid"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--jobs-interval-secs",
            "0",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .arg("--config")
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("the address in {first:?}"))
        .to_string();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The running server anchors within seconds, to the file and to the receiver.
    let anchors_file = dir.join("audit-anchors.txt");
    let mut waited = 0;
    while std::fs::read_to_string(&anchors_file).map_or(true, |t| t.trim().is_empty())
        && waited < 50
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
        waited += 1;
    }
    assert!(waited < 50, "no anchor within 5 s of starting");
    let posted = received.join().unwrap();
    let head = std::fs::read_to_string(&anchors_file).unwrap();
    let first = head
        .lines()
        .next()
        .unwrap()
        .split('#')
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(
        posted.starts_with("POST /anchors HTTP/1.1")
            && posted.contains(&format!("120199 {first} ")),
        "{posted}"
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("SIGTERM: shutting down"), "{log}");
    assert!(
        !log.contains("\u{1b}["),
        "no colour codes in a log that is not a terminal: {log}"
    );
    let wal = dir.join("redgrid.db-wal");
    assert!(
        std::fs::metadata(&wal).map_or(0, |m| m.len()) == 0,
        "the WAL is emptied at shutdown"
    );
    let anchors = std::fs::read_to_string(dir.join("audit-anchors.txt")).unwrap();
    assert!(
        !anchors.trim().is_empty(),
        "the chain's head was anchored at shutdown"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `export AREA=… UNIT=…` lines of the demo's output, as name → value.
fn exports(stdout: &str) -> std::collections::HashMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_backup_taken_under_write_load_restores_clean_and_restore_waits_for_the_server() {
    use std::io::{BufRead, Read, Write};
    let dir = std::env::temp_dir().join(format!("redgrid-cli-backup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let live = dir.join("live");
    let d = live.to_str().unwrap();
    let out = redgrid(&[
        "demo",
        "--no-serve",
        "--requests",
        "40",
        "--residents",
        "20",
        "--data-dir",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vars = exports(&String::from_utf8_lossy(&out.stdout));
    let (token, area) = (vars["RESIDENT"].clone(), vars["AREA"].clone());
    // One resident files far faster than the filing limits allow: switch them off here.
    std::fs::write(
        live.join("redgrid.toml"),
        "filings_per_person_hour = 0\nfilings_per_address_hour = 0\n",
    )
    .unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_redgrid"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--jobs-interval-secs",
            "0",
            "--data-dir",
            d,
        ])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .to_string();
    // Residents keep filing while the backup is taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, addr) = (stop.clone(), addr.clone());
        std::thread::spawn(move || {
            let mut filed = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let body =
                    format!(r#"{{"channel":"app","description":"楼道灯不亮","area_id":{area}}}"#);
                let mut s = std::net::TcpStream::connect(&addr).unwrap();
                write!(
                    s,
                    "POST /api/requests HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\
                     Authorization: Bearer {token}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .unwrap();
                let mut answer = String::new();
                s.read_to_string(&mut answer).unwrap();
                assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
                filed += 1;
            }
            filed
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));
    let file = dir.join("backup.zip");
    let out = redgrid(&["backup", file.to_str().unwrap(), "--data-dir", d]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(std::time::Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let filed = writer.join().unwrap();
    assert!(filed > 0);
    // A second backup under the same name is refused; nothing is left half-written.
    let again = redgrid(&["backup", file.to_str().unwrap(), "--data-dir", d]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    // While the server runs on the live folder, a restore there is refused and changes nothing.
    let refused = redgrid(&["restore", file.to_str().unwrap(), "--data-dir", d]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("another redgrid is running"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(live.join("redgrid.db").exists());
    // Into a fresh folder (given the district's chain key, which no backup holds): replayed,
    // recounted and verified clean.
    let fresh = dir.join("fresh");
    std::fs::create_dir_all(&fresh).unwrap();
    // Another key with the same number is not the right one: refused before anything changes.
    std::fs::write(
        fresh.join("chain.key"),
        format!("1 {} 1\n", "cd".repeat(32)),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            fresh.join("chain.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let wrong = redgrid(&[
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        fresh.to_str().unwrap(),
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("another key with that number"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    assert!(!fresh.join("redgrid.db").exists(), "nothing was restored");
    // The key can be rotated only while no server runs on the folder.
    let busy = redgrid(&["audit", "rotate-key", "--data-dir", d]);
    assert!(
        !busy.status.success()
            && String::from_utf8_lossy(&busy.stderr).contains("another redgrid is running"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    std::fs::remove_file(fresh.join("chain.key")).unwrap();
    std::fs::copy(live.join("chain.key"), fresh.join("chain.key")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            fresh.join("chain.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }
    let out = redgrid(&[
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        fresh.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(", 0 differences"), "{text}");
    assert!(text.contains("scorecard: counts agree"), "{text}");
    assert!(text.contains("references: 0 that name no row"), "{text}");
    assert!(text.contains(" 0 problems"), "{text}");
    assert!(fresh.join("power").is_dir(), "the power folder came back");
    // After the server stops, the live folder can be restored too, keeping what it replaced.
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    let out = redgrid(&["restore", file.to_str().unwrap(), "--data-dir", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("kept what it replaced"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_backup_restores_into_another_database_clean() {
    use redgrid_store::postgres::PgStore;
    let base = std::env::var("REDGRID_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/redgrid_test".to_string());
    let root = base
        .rsplit_once('/')
        .map_or(base.as_str(), |(r, _)| r)
        .to_string();
    let (from, to) = (
        format!("{root}/redgrid_cli_backup_from"),
        format!("{root}/redgrid_cli_backup_to"),
    );
    for url in [&from, &to] {
        if let Err(e) = PgStore::drop_database(url).await {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL is required under CI: {e}"
            );
            eprintln!("SKIPPED: PostgreSQL at {root} is unreachable ({e})");
            return;
        }
        PgStore::create_database(url).await.unwrap();
    }
    let dir = std::env::temp_dir().join(format!("redgrid-cli-pgbackup-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (a, b) = (dir.join("a"), dir.join("b"));
    let out = redgrid(&[
        "demo",
        "--no-serve",
        "--requests",
        "30",
        "--residents",
        "20",
        "--data-dir",
        a.to_str().unwrap(),
        "--database-url",
        &from,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join("pg.zip");
    let out = redgrid(&[
        "backup",
        file.to_str().unwrap(),
        "--data-dir",
        a.to_str().unwrap(),
        "--database-url",
        &from,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("postgres database"));
    // A PostgreSQL backup is refused by a SQLite configuration, and the other way round.
    let wrong = redgrid(&[
        "restore",
        file.to_str().unwrap(),
        "--data-dir",
        dir.join("c").to_str().unwrap(),
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("holds a postgres database"));
    // The chain key is not in the backup: without it the restore refuses, and changes nothing.
    let restore_to_b = || {
        redgrid(&[
            "restore",
            file.to_str().unwrap(),
            "--data-dir",
            b.to_str().unwrap(),
            "--database-url",
            &to,
        ])
    };
    let keyless = restore_to_b();
    assert_eq!(keyless.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&keyless.stderr).contains("chain.key"),
        "{}",
        String::from_utf8_lossy(&keyless.stderr)
    );
    assert!(!b.join("audit-anchors.txt").exists(), "nothing was changed");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(a.join("chain.key"), b.join("chain.key")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(b.join("chain.key"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
    }
    // A server of the target database, from another data folder or machine (it holds the
    // database's running lock, as `serve` does): the restore refuses, and changes nothing.
    let server = PgStore::hold_running_lock(&to, false)
        .await
        .unwrap()
        .expect("a server takes the shared lock");
    let busy = restore_to_b();
    assert_eq!(busy.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&busy.stderr).contains("a redgrid server is running"),
        "{}",
        String::from_utf8_lossy(&busy.stderr)
    );
    assert!(!b.join("audit-anchors.txt").exists(), "nothing was changed");
    drop(server);
    let out = restore_to_b();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(", 0 differences") && text.contains(" 0 problems"),
        "{text}"
    );
    for url in [&from, &to] {
        let _ = PgStore::drop_database(url).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn restore_refuses_what_is_not_a_redgrid_backup_and_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("redgrid-cli-badrestore-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let not_zip = dir.join("notes.txt");
    std::fs::write(&not_zip, "hello").unwrap();
    let no_manifest = dir.join("other.zip");
    {
        let f = std::fs::File::create(&no_manifest).unwrap();
        let mut z = zip::ZipWriter::new(f);
        z.start_file("x.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, b"x").unwrap();
        z.finish().unwrap();
    }
    let no_database = dir.join("manifest-only.zip");
    {
        let f = std::fs::File::create(&no_database).unwrap();
        let mut z = zip::ZipWriter::new(f);
        z.start_file("MANIFEST.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut z, b"format = 1\nbackend = sqlite\n").unwrap();
        z.finish().unwrap();
    }
    let data = dir.join("data");
    for (file, says) in [
        (
            &no_database,
            "the backup has no redgrid.db; nothing was changed",
        ),
        (&not_zip, "not a redgrid backup (not a zip file)"),
        (&no_manifest, "not a redgrid backup (no MANIFEST.txt)"),
        (&dir.join("missing.zip"), "cannot read"),
    ] {
        let out = redgrid(&[
            "restore",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
        assert!(!data.join("redgrid.db").exists(), "nothing was restored");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 22, part 3: the chain's key is made once, kept private, required, checked and rotated.
#[test]
fn the_chain_key_is_made_once_kept_private_and_required() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("redgrid-cli-key-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let ok = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let refused = |out: &std::process::Output, why: &str| {
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success() && err.contains(why), "{err}");
    };
    ok(&redgrid(&[
        "admin",
        "create",
        "--name",
        "管理员",
        "--username",
        "admin",
        "--district-code",
        "120116",
        "--district-name",
        "滨海新区",
        "--data-dir",
        d,
    ]));
    let key = dir.join("chain.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "only its owner may read the key");
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.lines().any(|l| l.starts_with("1 ")), "{text}");
    // Verification says what it proved and what it could not.
    let out = ok(&redgrid(&["audit", "verify", "--data-dir", d]));
    assert!(out.contains("0 problems"), "{out}");
    assert!(out.contains("proved: records 1–"), "{out}");
    assert!(out.contains("not proved: no anchor was checked"), "{out}");
    ok(&redgrid(&[
        "audit",
        "anchor",
        "--data-dir",
        d,
        "--append",
        &format!("{d}/audit-anchors.txt"),
    ]));
    let out = ok(&redgrid(&["audit", "verify", "--data-dir", d]));
    assert!(
        out.contains("proved: the chain still holds its newest anchored record"),
        "{out}"
    );
    // Readable by others: refused, with the fix.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(&redgrid(&["check", "--data-dir", d]), "chmod 600");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Missing: refused, never a new chain.
    let aside = dir.join("chain.key.aside");
    std::fs::rename(&key, &aside).unwrap();
    refused(&redgrid(&["check", "--data-dir", d]), "no key was found");
    refused(
        &redgrid(&["serve", "--listen", "127.0.0.1:0", "--data-dir", d]),
        "no key was found",
    );
    assert!(!key.exists(), "no new key was made over a keyed chain");
    // Wrong: refused.
    std::fs::write(&key, format!("1 {} 1\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    refused(
        &redgrid(&["check", "--data-dir", d]),
        "does not match the audit chain",
    );
    refused(
        &redgrid(&["serve", "--listen", "127.0.0.1:0", "--data-dir", d]),
        "does not match the audit chain",
    );
    std::fs::rename(&aside, &key).unwrap();
    // From the environment instead of the file, the same keyring works.
    let ring = std::fs::read_to_string(&key).unwrap();
    let env_ring: Vec<&str> = ring.lines().filter(|l| !l.starts_with('#')).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_redgrid"))
        .args(["audit", "verify", "--data-dir", d])
        .env("REDGRID_CHAIN_KEY", env_ring.join(";"))
        .output()
        .unwrap();
    ok(&out);
    // Rotated: new records use key 2, old ones still verify with key 1.
    let out = ok(&redgrid(&["audit", "rotate-key", "--data-dir", d]));
    assert!(out.contains("key 2"), "{out}");
    ok(&redgrid(&[
        "org",
        "import",
        "areas",
        "../../tests/district/区划.csv",
        "--data-dir",
        d,
    ]));
    let out = ok(&redgrid(&["audit", "verify", "--data-dir", d]));
    assert!(out.contains("0 problems"), "{out}");
    // An erasure from the command line: unknown refused; done once; a second time changes nothing;
    // the chain still verifies.
    refused(
        &redgrid(&["person", "erase", "999", "--reason", "x", "--data-dir", d]),
        "999",
    );
    let out = ok(&redgrid(&[
        "person",
        "erase",
        "1",
        "--reason",
        "离职人员申请删除",
        "--data-dir",
        d,
    ]));
    assert!(out.contains("person 1 erased"), "{out}");
    let out = ok(&redgrid(&[
        "person",
        "erase",
        "1",
        "--reason",
        "again",
        "--data-dir",
        d,
    ]));
    assert!(out.contains("erased before"), "{out}");
    let out = ok(&redgrid(&["audit", "verify", "--data-dir", d]));
    assert!(out.contains("0 problems"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}
