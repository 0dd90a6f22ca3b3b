//! Several districts in one installation, as a city's IT staff run them: one `redgrid.toml` with
//! `[[districts]]`, `admin create --district`, `org import --district`, one `serve` for all, and
//! each district's data, sessions and anchors kept apart.

use std::io::{BufRead, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn redgrid(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_redgrid"))
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run redgrid")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn admin_create(dir: &Path, district: Option<&str>, username: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_redgrid"))
        .args([
            "admin",
            "create",
            "--name",
            "区管理员",
            "--username",
            username,
            "--password-stdin",
        ])
        .args(district.map(|d| ["--district", d]).into_iter().flatten())
        .arg("--data-dir")
        .arg(dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Pass-word-12345\n")
        .unwrap();
    child.wait_with_output().unwrap()
}

/// One HTTP/1.1 exchange: status, head and body.
fn http(
    addr: &str,
    method: &str,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    // Chunked bodies: good enough to search in.
    (status, head.to_string(), body.to_string())
}

fn json_field(body: &str, key: &str) -> String {
    let start = body.find('{').unwrap_or(0);
    let end = body.rfind('}').map(|e| e + 1).unwrap_or(body.len());
    let v: serde_json::Value = serde_json::from_str(&body[start..end]).unwrap_or_default();
    v[key].as_str().unwrap_or_default().to_string()
}

/// A free port on the loopback (bound and let go; a race with another process is unlikely here).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn two_districts_share_one_server_and_nothing_else() {
    let dir = std::env::temp_dir().join(format!("redgrid-cli-city-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let own_port = free_port();
    std::fs::write(
        dir.join("redgrid.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\njobs_interval_secs = 0\n\n\
             [[districts]]\ncode = \"120103\"\nname = \"河西区\"\nhosts = [\"Hexi.Example.GOV\"]\n\n\
             [[districts]]\ncode = \"120104\"\nname = \"南开区\"\nhosts = [\"nankai.example.gov\"]\n\
             listen = \"127.0.0.1:{own_port}\"\nrating_window_days = 3\n"
        ),
    )
    .unwrap();

    // A command that works on one district must be told which.
    let out = admin_create(&dir, None, "nobody");
    assert!(!out.status.success());
    assert!(
        text(&out).contains("say which with --district"),
        "{}",
        text(&out)
    );
    let out = redgrid(&dir, &["check"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("2 districts (120103, 120104); say which with --district"),
        "{}",
        text(&out)
    );
    let out = redgrid(&dir, &["check", "--district", "120199"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no district 120199"), "{}", text(&out));

    // An empty district's database takes no other district's areas.
    let areas = dir.join("areas.csv");
    std::fs::write(
        &areas,
        "区划代码,名称\n120103,河西区\n120103001,大营门街道\n120103001001,新疆路社区\n\
         12010300100101,新疆路第一网格\n",
    )
    .unwrap();
    let a = areas.to_str().unwrap();
    let out = redgrid(&dir, &["org", "import", "areas", a, "--district", "120104"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("other_district"), "{}", text(&out));

    // Each district's first administrator creates the district from the configuration.
    for (code, user) in [("120103", "hexi"), ("120104", "nankai")] {
        let out = admin_create(&dir, Some(code), user);
        assert!(out.status.success(), "{}", text(&out));
    }
    assert!(dir.join("districts/120103/redgrid.db").exists());
    assert!(dir.join("districts/120104/redgrid.db").exists());
    // The areas of one district are refused by the other.
    let out = redgrid(&dir, &["org", "import", "areas", a, "--district", "120104"]);
    assert!(!out.status.success(), "{}", text(&out));
    let out = redgrid(&dir, &["org", "import", "areas", a, "--district", "120103"]);
    assert!(out.status.success(), "{}", text(&out));

    let mut child = Command::new(env!("CARGO_BIN_EXE_redgrid"))
        .arg("serve")
        .arg("--data-dir")
        .arg(&dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap());
    lines.read_line(&mut first).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .map(|a| a.trim_end_matches(':').to_string())
        .unwrap_or_else(|| panic!("the address in {first:?}"));
    assert!(first.contains("2 districts"), "{first}");

    // Each host name reaches its own district; an unknown one gets the list of districts.
    let (st, _, body) = http(&addr, "GET", "hexi.example.gov", "/api/areas", &[], "");
    assert_eq!(st, 200);
    assert!(
        body.contains("新疆路第一网格") && !body.contains("南开"),
        "{body}"
    );
    let (st, _, body) = http(&addr, "GET", "nankai.example.gov", "/api/areas", &[], "");
    assert_eq!(st, 200);
    assert!(body.contains("南开区") && !body.contains("河西"), "{body}");
    let own = format!("127.0.0.1:{own_port}");
    let (st, _, body) = http(&own, "GET", "127.0.0.1", "/api/areas", &[], "");
    assert_eq!(st, 200);
    assert!(
        body.contains("南开区"),
        "its own port serves 南开区: {body}"
    );
    let (st, _, body) = http(&addr, "GET", "10.1.2.3", "/", &[], "");
    assert_eq!(st, 200);
    assert!(
        body.contains("<a href=\"//hexi.example.gov/\">河西区 (120103)</a>"),
        "{body}"
    );
    let (st, _, body) = http(&addr, "GET", "10.1.2.3", "/api/requests", &[], "");
    assert_eq!(st, 404);
    assert!(body.contains("unknown_district"), "{body}");
    let (st, _, body) = http(&addr, "GET", "10.1.2.3", "/readyz", &[], "");
    assert_eq!(st, 200, "{body}");

    // Logging in: one cookie per district, and one district's login is nobody in the other.
    let login = r#"{"login":"hexi","password":"Pass-word-12345"}"#;
    let (st, _, body) = http(
        &addr,
        "POST",
        "nankai.example.gov",
        "/api/login",
        &[],
        login,
    );
    assert_eq!(st, 401, "hexi's account is not 南开区's: {body}");
    let (st, head, body) = http(&addr, "POST", "hexi.example.gov", "/api/login", &[], login);
    assert_eq!(st, 200, "{body}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("a session cookie in {head}"))
        .to_string();
    assert!(cookie.starts_with("redgrid_session_120103="), "{cookie}");
    let csrf = json_field(&body, "csrf_token");
    let (st, _, _) = http(
        &addr,
        "GET",
        "hexi.example.gov",
        "/api/me",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(st, 200);
    let (st, _, _) = http(
        &own,
        "GET",
        "127.0.0.1",
        "/api/me",
        &[("Cookie", &cookie)],
        "",
    );
    assert_eq!(st, 401, "a 河西区 session is no 南开区 session");

    // A request filed in 河西区 is listed there and nowhere else.
    let (_, _, areas) = http(&addr, "GET", "hexi.example.gov", "/api/areas", &[], "");
    let areas: serde_json::Value =
        serde_json::from_str(&areas[areas.find('[').unwrap()..=areas.rfind(']').unwrap()]).unwrap();
    let grid = areas
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "grid")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let filing = format!(
        r#"{{"area_id":{grid},"channel":"hotline","description":"新疆路8号路灯不亮","address":"新疆路8号"}}"#
    );
    let (st, _, body) = http(
        &addr,
        "POST",
        "hexi.example.gov",
        "/api/requests",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        &filing,
    );
    assert_eq!(st, 201, "{body}");
    let (_, _, nankai) = http(
        &addr,
        "GET",
        "nankai.example.gov",
        "/api/public/needs",
        &[],
        "",
    );
    assert!(!nankai.contains("新疆路"), "{nankai}");
    let (_, _, o311) = http(
        &addr,
        "GET",
        "10.1.2.3",
        "/open311/v2/requests.json?jurisdiction_id=120104",
        &[],
        "",
    );
    assert!(!o311.contains("新疆路"), "{o311}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    for code in ["120103", "120104"] {
        let anchors =
            std::fs::read_to_string(dir.join(format!("districts/{code}/audit-anchors.txt")))
                .unwrap_or_default();
        assert!(!anchors.trim().is_empty(), "{code} anchored at shutdown");
    }
    let out = redgrid(&dir, &["check", "--district", "120103"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("checked 1 requests: 0 differences"),
        "{}",
        text(&out)
    );

    // A district pointed at another district's folder is refused before anything is served.
    std::fs::write(
        dir.join("redgrid.toml"),
        format!(
            "listen = \"127.0.0.1:0\"\n[[districts]]\ncode = \"120105\"\ndefault = true\n\
             data_dir = \"{}\"\n",
            dir.join("districts/120103").display()
        ),
    )
    .unwrap();
    let out = redgrid(&dir, &["check"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("holds district 120103") && text(&out).contains("not district 120105"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_district_table_with_mistakes_is_refused_with_the_reason() {
    let dir = std::env::temp_dir().join(format!("redgrid-cli-city-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let two = "[[districts]]\ncode = \"120103\"\nhosts = [\"a.gov\"]\n\n[[districts]]\ncode = ";
    for (toml, reason) in [
        (format!("{two}\"120103\"\n"), "the same code"),
        (format!("{two}\"120104\"\nhosts = [\"A.gov\"]\n"), "the same host name a.gov"),
        (format!("{two}\"12010\"\n"), "6 digits"),
        (
            format!("{two}\"120104\"\nmax_connections = 5\n"),
            "max_connections is set for the whole server",
        ),
        (format!("{two}\"120104\"\nratng_window_days = 5\n"), "unknown field"),
        (
            format!("{two}\"120104\"\nhosts = [\"http://b.gov\"]\n"),
            "is not a host name",
        ),
        (
            format!("database_url = \"sqlite:///tmp/x.db\"\n{two}\"120104\"\n"),
            "each district has its own database",
        ),
        (
            format!("{two}\"120104\"\ndata_dir = \"{}\"\n", dir.join("districts/120103").display()),
            "the same data_dir",
        ),
        (
            "[[districts]]\ncode = \"120103\"\ndefault = true\n[[districts]]\ncode = \"120104\"\ndefault = true\n"
                .to_string(),
            "default = true as well",
        ),
        ("districts = []\n".to_string(), "[[districts]] is empty"),
        (
            format!(
                "{two}\"120104\"\ndata_dir = \"{}\"\n",
                dir.join("districts/x/../120103").display()
            ),
            "the same data_dir",
        ),
        (
            "[[districts]]\ncode = \"120103\"\nhosts = [\"a.gov\"]\ndatabase_url = \"postgres://u@db.lan/rg\"\n\
             [[districts]]\ncode = \"120104\"\nhosts = [\"b.gov\"]\n\
             database_url = \"postgres://v:secret@DB.lan:5432/rg?sslmode=disable\"\n"
                .to_string(),
            "the same database",
        ),
        (format!("{two}\"120104\"\n"), "no request can reach it"),
    ] {
        std::fs::write(dir.join("redgrid.toml"), &toml).unwrap();
        let out = redgrid(&dir, &["check", "--district", "120103"]);
        assert!(!out.status.success(), "{toml}");
        assert!(text(&out).contains(reason), "{toml}\n→ {}", text(&out));
    }
    // A notification log for every district at once is refused: each keeps its own.
    std::fs::write(
        dir.join("redgrid.toml"),
        format!("{two}\"120104\"\nhosts = [\"b.gov\"]\n"),
    )
    .unwrap();
    let out = redgrid(
        &dir,
        &[
            "check",
            "--district",
            "120103",
            "--notify-log",
            "/tmp/all.log",
        ],
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("its own notification log"),
        "{}",
        text(&out)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
