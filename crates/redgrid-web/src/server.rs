//! The HTTP server loop: accepts connections up to a cap, times out idle and slow ones, and shuts
//! down gracefully (docs/operators/limits.md, "Connections").
//!
//! Each connection is served by hyper's HTTP/1.1 machinery with a timer, so the header timeout
//! covers both a client that is slow to send its request head and a keep-alive connection that
//! sits idle between requests. A request's whole handling, body included, is bounded by the
//! router's own timeout (408). At the cap the loop stops accepting until a connection closes, and
//! says so in the log; the kernel's backlog holds new clients meanwhile.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How the server treats connections.
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Connections open at once; at the cap, new ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long a client may take to send a request head, and how long a keep-alive connection
    /// may sit idle between requests.
    pub idle_timeout: Duration,
    /// At shutdown, how long requests in flight may take to finish before their connections are
    /// dropped.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: 1000,
            idle_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// What happened to the connections at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// Every request in flight finished within the grace period.
    Drained,
    /// The grace period ran out with connections still open; they were dropped.
    GraceExpired,
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets requests in
/// flight finish within the grace period and returns.
pub async fn serve_app(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<Stopped> {
    let slots = connection_slots(&options);
    serve_app_sharing(listener, app, shutdown, options, slots).await
}

/// The connection slots of [`ServeOptions::max_connections`], to share between listeners.
pub fn connection_slots(options: &ServeOptions) -> Arc<Semaphore> {
    Arc::new(Semaphore::new(options.max_connections.max(1)))
}

/// Like [`serve_app`], taking connections from `slots`, which several listeners may share (so that
/// `max_connections` holds for the whole server).
pub async fn serve_app_sharing(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
    slots: Arc<Semaphore>,
) -> std::io::Result<Stopped> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_full_warning: Option<Instant> = None;
    // The connections' tasks, so that those still open when the grace period ends are stopped.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        if slots.available_permits() == 0
            && last_full_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            tracing::warn!(
                max_connections = options.max_connections,
                "connection limit reached: new connections wait until one closes \
                 (raise max_connections, or look for clients holding connections open)"
            );
            last_full_warning = Some(Instant::now());
        }
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(s) => s,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: say so, and give it a moment.
                    tracing::error!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request)
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(options.idle_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    let open = options.max_connections.max(1) - slots.available_permits();
    tracing::info!(open, "stopped accepting; finishing the requests in flight");
    match tokio::time::timeout(options.shutdown_grace, graceful.shutdown()).await {
        Ok(()) => Ok(Stopped::Drained),
        Err(_) => {
            tracing::warn!(
                grace_seconds = options.shutdown_grace.as_secs(),
                open = connections.len(),
                "shutdown grace period over; dropping the connections still open"
            );
            // Their handlers stop where they are. A command already handed to the store finishes
            // there (SQLite's writer commits what it was given); one mid-transaction on
            // PostgreSQL is rolled back when its connection goes.
            connections.shutdown().await;
            Ok(Stopped::GraceExpired)
        }
    }
}
