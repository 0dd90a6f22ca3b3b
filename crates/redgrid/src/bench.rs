//! `redgrid bench intake`: submit + accept + dispatch over HTTP by concurrent keep-alive clients, and
//! the same commands straight through the service (the ceiling), on SQLite and on PostgreSQL. Prints
//! throughput, p50/p99 latency and the ratio API ÷ ceiling. A program that prints figures, never a
//! test that asserts times.

use bytes_free::Body;
use clap::Subcommand;
use http_body_util::BodyExt;
use redgrid_core::command::{Command, SubmitInput};
use redgrid_core::person::Actor;
use redgrid_core::request::Channel;
use redgrid_store::Store;
use redgrid_store::service::now;
use redgrid_store::testing::{self, Fixture};
use redgrid_web::AppState;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod bytes_free {
    pub type Body = http_body_util::Full<axum::body::Bytes>;
}

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Importing the member register from xlsx and from CSV: rows/s and total time.
    Import {
        /// Member rows per file.
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// Backends to measure: sqlite, postgres or both.
        #[arg(long, default_value = "sqlite,postgres")]
        backends: String,
        #[arg(long, env = "REDGRID_BENCH_PG_URL")]
        pg_url: Option<String>,
    },
    /// Intake throughput: submit, accept, dispatch.
    Intake {
        /// Requests to carry through the three commands, per mode and backend.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Unmeasured requests per client first, in each mode (connections, statement caches, pages).
        #[arg(long, default_value_t = 10)]
        warmup: usize,
        /// Concurrent clients (each one keep-alive connection).
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Backends to measure: sqlite, postgres or both.
        #[arg(long, default_value = "sqlite,postgres")]
        backends: String,
        /// PostgreSQL to use (a throwaway schema is made and dropped); default REDGRID_TEST_PG_URL or the local server.
        #[arg(long, env = "REDGRID_BENCH_PG_URL")]
        pg_url: Option<String>,
    },
    /// Scorecard speed at scale: redgrid's pre-summed counts against a plain GROUP BY.
    Scorecard {
        /// Requests to load per backend (the target is 10,000,000).
        #[arg(long, default_value_t = 10_000_000)]
        count: usize,
        /// Backends to measure: sqlite, postgres or both.
        #[arg(long, default_value = "sqlite,postgres")]
        backends: String,
        /// Runs of redgrid's path per case (the best is reported).
        #[arg(long, default_value_t = 5)]
        repeat: usize,
        #[arg(long, env = "REDGRID_BENCH_PG_URL")]
        pg_url: Option<String>,
    },
}

pub async fn run(cmd: BenchCmd) -> Result<(), String> {
    match cmd {
        BenchCmd::Import {
            rows,
            backends,
            pg_url,
        } => {
            let pg_url = pg_url.unwrap_or_else(testing::postgres_url);
            crate::org_cmd::bench_import(rows, &backends, &pg_url).await
        }
        BenchCmd::Scorecard {
            count,
            backends,
            repeat,
            pg_url,
        } => {
            let pg_url = pg_url.unwrap_or_else(testing::postgres_url);
            crate::bench_scorecard::run(count, &backends, &pg_url, repeat.max(1)).await
        }
        BenchCmd::Intake {
            count,
            warmup,
            clients,
            backends,
            pg_url,
        } => {
            let pg_url = pg_url.unwrap_or_else(testing::postgres_url);
            println!(
                "redgrid bench intake: {count} requests × (submit, accept, dispatch), {clients} clients, \
                 after {warmup} unmeasured requests per client"
            );
            println!(
                "{:<9} {:<8} {:>7} {:>9} {:>10} {:>9} {:>9}",
                "backend", "mode", "ops", "seconds", "ops/s", "p50 ms", "p99 ms"
            );
            for b in backends.split(',').map(str::trim) {
                let db = match b {
                    "sqlite" => testing::sqlite().await.map_err(|e| e.to_string())?,
                    "postgres" => match testing::postgres_at(&pg_url)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        Some(db) => db,
                        None => {
                            println!("{b:<9} skipped: PostgreSQL unreachable (set --pg-url)");
                            continue;
                        }
                    },
                    other => return Err(format!("unknown backend {other:?}")),
                };
                intake(b, db.store.clone(), count, warmup, clients).await?;
            }
            Ok(())
        }
    }
}

struct Figures {
    ops: usize,
    seconds: f64,
    p50: f64,
    p99: f64,
}

impl Figures {
    fn from(mut lat: Vec<Duration>, elapsed: Duration) -> Self {
        lat.sort();
        let q = |p: f64| {
            lat.get(((lat.len() as f64 - 1.0) * p).round() as usize)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(0.0)
        };
        Figures {
            ops: lat.len(),
            seconds: elapsed.as_secs_f64(),
            p50: q(0.5),
            p99: q(0.99),
        }
    }
    fn rate(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }
    fn print(&self, backend: &str, mode: &str) {
        println!(
            "{backend:<9} {mode:<8} {:>7} {:>9.2} {:>10.0} {:>9.2} {:>9.2}",
            self.ops,
            self.seconds,
            self.rate(),
            self.p50,
            self.p99
        );
    }
}

fn input(f: &Fixture) -> SubmitInput {
    SubmitInput {
        category_id: None,
        channel: Some(Channel::App),
        description: Some("小区东门路灯不亮，晚上出行不便".into()),
        area_id: Some(f.grid_a1_1.id),
        address: Some("幸福里3号楼".into()),
        ..Default::default()
    }
}

async fn intake(
    backend: &str,
    store: Arc<dyn Store>,
    count: usize,
    warmup: usize,
    clients: usize,
) -> Result<(), String> {
    let (service, f) = testing::seed(store.clone())
        .await
        .map_err(|e| e.to_string())?;
    // Like `redgrid serve`: deadlines computed at dispatch, on the default calendar.
    let policy = redgrid_core::deadline::WorkingTimePolicy::new(
        redgrid_core::calendar::Calendar::new(vec![]),
    );
    let service = Arc::new(service.with_deadlines(Arc::new(policy)));
    let f = Arc::new(f);
    let per_client = count.div_ceil(clients);

    // The ceiling: the service directly, no HTTP.
    let gate = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (s, f, gate) = (service.clone(), f.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(per_client * 3);
            let resident = Actor::Person(f.resident.clone());
            let worker = Actor::Person(f.grid_worker.clone());
            for i in 0..warmup + per_client {
                if i == warmup {
                    gate.wait().await;
                }
                let t = Instant::now();
                let (r, _) = s
                    .submit(&resident, &input(&f), vec![], None, now())
                    .await
                    .map_err(|e| e.to_string())?;
                if i >= warmup {
                    lat.push(t.elapsed());
                }
                let t = Instant::now();
                let accept = Command::Accept {
                    category_id: Some(f.cat_garbage.id),
                    tier: None,
                    urgent: None,
                    level: None,
                };
                s.run(r.id, &worker, &accept, vec![], now())
                    .await
                    .map_err(|e| e.to_string())?;
                if i >= warmup {
                    lat.push(t.elapsed());
                }
                let t = Instant::now();
                s.run(
                    r.id,
                    &worker,
                    &Command::Dispatch {
                        unit_id: Some(f.unit_grid_a1_1.id),
                    },
                    vec![],
                    now(),
                )
                .await
                .map_err(|e| e.to_string())?;
                if i >= warmup {
                    lat.push(t.elapsed());
                }
            }
            Ok::<_, String>(lat)
        }));
    }
    gate.wait().await;
    let started = Instant::now();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.map_err(|e| e.to_string())??);
    }
    let ceiling = Figures::from(lat, started.elapsed());
    ceiling.print(backend, "ceiling");

    // The API: a real server on a free port, keep-alive HTTP/1.1 clients.
    store
        .add_demo_token(f.resident.id, "bench-resident")
        .await
        .map_err(|e| e.to_string())?;
    store
        .add_demo_token(f.grid_worker.id, "bench-worker")
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let state = Arc::new(AppState::new(service.clone()));
    let server = tokio::spawn(redgrid_web::serve(listener, state, async {
        let _ = stop_rx.await;
    }));
    let body = serde_json::json!({
        "channel": "app", "description": "小区东门路灯不亮，晚上出行不便",
        "area_id": f.grid_a1_1.id.0, "address": "幸福里3号楼"
    })
    .to_string();
    let accept = serde_json::json!({"category_id": f.cat_garbage.id.0}).to_string();
    let dispatch = serde_json::json!({"unit_id": f.unit_grid_a1_1.id.0}).to_string();
    let gate = Arc::new(tokio::sync::Barrier::new(clients + 1));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (body, accept, dispatch, gate) =
            (body.clone(), accept.clone(), dispatch.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr)
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let (mut send, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let mut lat = Vec::with_capacity(per_client * 3);
            for i in 0..warmup + per_client {
                if i == warmup {
                    gate.wait().await;
                }
                let t = Instant::now();
                let created = post(&mut send, "/api/requests", "bench-resident", &body).await?;
                if i >= warmup {
                    lat.push(t.elapsed());
                }
                let id = created["id"].as_i64().ok_or("no id in the response")?;
                let t = Instant::now();
                post(
                    &mut send,
                    &format!("/api/requests/{id}/accept"),
                    "bench-worker",
                    &accept,
                )
                .await?;
                if i >= warmup {
                    lat.push(t.elapsed());
                }
                let t = Instant::now();
                post(
                    &mut send,
                    &format!("/api/requests/{id}/dispatch"),
                    "bench-worker",
                    &dispatch,
                )
                .await?;
                if i >= warmup {
                    lat.push(t.elapsed());
                }
            }
            Ok::<_, String>(lat)
        }));
    }
    gate.wait().await;
    let started = Instant::now();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.map_err(|e| e.to_string())??);
    }
    let api = Figures::from(lat, started.elapsed());
    api.print(backend, "api");
    println!(
        "{backend:<9} ratio api/ceiling throughput = {:.2}",
        api.rate() / ceiling.rate()
    );
    let _ = stop_tx.send(());
    let _ = server.await;
    Ok(())
}

async fn post(
    send: &mut hyper::client::conn::http1::SendRequest<Body>,
    path: &str,
    token: &str,
    json: &str,
) -> Result<serde_json::Value, String> {
    let req = hyper::Request::post(path)
        .header("host", "bench")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::new(axum::body::Bytes::from(json.to_string())))
        .map_err(|e| e.to_string())?;
    send.ready().await.map_err(|e| e.to_string())?;
    let res = send.send_request(req).await.map_err(|e| e.to_string())?;
    let status = res.status();
    let bytes = res
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if !status.is_success() {
        return Err(format!(
            "{path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}
