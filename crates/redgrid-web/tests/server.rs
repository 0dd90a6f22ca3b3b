//! The server loop over real sockets (issue 21, point 4): idle and half-sent connections are closed
//! after the idle timeout, a client that reads nothing loses its connection after the write
//! timeout, connections beyond the cap wait for a free slot, and shutdown lets a request in flight
//! finish.

use redgrid_app::testing;
use redgrid_web::AppState;
use redgrid_web::server::{ServeOptions, Stopped};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Running {
    addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<Stopped>>,
    _db: testing::TestDb,
}

async fn start(options: ServeOptions) -> Running {
    let db = testing::sqlite().await.unwrap();
    let (service, _) = testing::seed(db.store.clone()).await.unwrap();
    let state = Arc::new(AppState::new(Arc::new(service)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(redgrid_web::serve_with(
        listener,
        state,
        async {
            let _ = stopped.await;
        },
        options,
    ));
    Running {
        addr,
        stop: Some(stop),
        server,
        _db: db,
    }
}

/// Reads until the peer closes; the bytes read, or `None` when `within` passed first.
async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(all),
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => return None,
        }
    }
}

const HEALTH: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_after_the_idle_timeout() {
    let s = start(ServeOptions {
        idle_timeout: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    // A connection that never says anything.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    // One that starts a request head and never finishes it.
    let mut half = TcpStream::connect(s.addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    // One that is served, then idles on keep-alive.
    let mut kept = TcpStream::connect(s.addr).await.unwrap();
    kept.write_all(HEALTH).await.unwrap();
    let started = Instant::now();
    for stream in [&mut silent, &mut half] {
        let got = read_to_close(stream, Duration::from_secs(5)).await;
        assert!(got.is_some(), "closed within 5 s");
    }
    let served = read_to_close(&mut kept, Duration::from_secs(5))
        .await
        .expect("the idle keep-alive connection is closed too");
    assert!(String::from_utf8_lossy(&served).starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() >= Duration::from_millis(900));
}

/// A client that asks and asks but reads nothing fills the socket buffers; once the server's write
/// has waited `write_timeout`, the connection is dropped and its slot serves someone else.
#[tokio::test]
async fn a_client_that_reads_nothing_loses_its_connection_after_the_write_timeout() {
    let s = start(ServeOptions {
        max_connections: 1,
        idle_timeout: Duration::from_secs(30),
        write_timeout: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    // A small receive window, so that the answers back up quickly.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(s.addr).await.unwrap();
    const ASKED: usize = 40_000;
    let (mut reader, mut writer) = stalled.split();
    let asking = async {
        let many = HEALTH.repeat(ASKED);
        // Fails once the server drops the connection; that is expected.
        let _ = writer.write_all(&many).await;
    };
    // Ask for far more than the buffers hold, and read nothing for 3 s.
    let _ = tokio::time::timeout(Duration::from_secs(3), asking).await;
    // The only slot is free again: a new client is served.
    let mut next = TcpStream::connect(s.addr).await.unwrap();
    next.write_all(HEALTH).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), next.read(&mut buf))
        .await
        .expect("served within 5 s, in the stalled client's slot")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // The stalled client gets what was in flight, then the end: not every answer it asked for.
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), reader.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("the stalled connection was not closed"),
        }
    }
    let answers = got.windows(12).filter(|w| w == b"HTTP/1.1 200").count();
    assert!(
        answers < ASKED,
        "{answers} answers: the connection was cut short"
    );
}

#[tokio::test]
async fn beyond_the_cap_a_connection_waits_for_a_free_slot() {
    let s = start(ServeOptions {
        max_connections: 2,
        idle_timeout: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let _a = TcpStream::connect(s.addr).await.unwrap();
    let _b = TcpStream::connect(s.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The third is accepted by the kernel but served only once an idle one is timed out.
    let started = Instant::now();
    let mut third = TcpStream::connect(s.addr).await.unwrap();
    third.write_all(HEALTH).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("served within 5 s")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited for a slot: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish_and_refuses_new_connections() {
    let mut s = start(ServeOptions::default()).await;
    // A login whose body is still arriving when the shutdown begins.
    let body = br#"{"login":"nobody","password":"wrong-password"}"#;
    let mut slow = TcpStream::connect(s.addr).await.unwrap();
    let head = format!(
        "POST /api/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = s.stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    // New connections are no longer taken.
    let refused = TcpStream::connect(s.addr).await;
    assert!(refused.is_err(), "the listener is closed");
    slow.write_all(&body[10..]).await.unwrap();
    let answer = read_to_close(&mut slow, Duration::from_secs(5))
        .await
        .expect("answered, then closed");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let stopped = tokio::time::timeout(Duration::from_secs(5), s.server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(stopped, Stopped::Drained);
}

#[tokio::test]
async fn a_request_that_outlasts_the_grace_period_is_dropped_and_reported() {
    let mut s = start(ServeOptions {
        shutdown_grace: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let mut stuck = TcpStream::connect(s.addr).await.unwrap();
    stuck
        .write_all(
            b"POST /api/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = s.stop.take().unwrap().send(());
    let stopped = tokio::time::timeout(Duration::from_secs(5), s.server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(stopped, Stopped::GraceExpired);
    // The stuck connection is closed when the grace period ends, not left to run on.
    assert!(
        read_to_close(&mut stuck, Duration::from_secs(2))
            .await
            .is_some(),
        "the connection is dropped"
    );
}
