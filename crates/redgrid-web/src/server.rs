//! The HTTP server loop: accepts connections up to a cap, times out idle and slow ones, and shuts
//! down gracefully (docs/operators/limits.md, "Connections").
//!
//! Each connection is served by hyper's HTTP/1.1 machinery with a timer, so the header timeout
//! covers both a client that is slow to send its request head and a keep-alive connection that
//! sits idle between requests. A request's whole handling, body included, is bounded by the
//! router's own timeout (408). Writing the answer is bounded too: a client that stops reading for
//! `write_timeout` loses its connection. At the cap the loop stops accepting until a connection
//! closes, and says so in the log; the kernel's backlog holds new clients meanwhile.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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
    /// How long a write of the answer may wait for a client that reads nothing, before the
    /// connection is dropped.
    pub write_timeout: Duration,
    /// At shutdown, how long requests in flight may take to finish before their connections are
    /// dropped.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: 1000,
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(60),
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
            .serve_connection(
                TokioIo::new(WriteTimeout::new(stream, options.write_timeout)),
                service,
            );
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

/// A stream whose writes fail once one has waited `limit` without progress: a client that stops
/// reading its answer (its receive window full) cannot hold a connection, and a slot, for ever.
/// Any progress starts the wait again, so a slow but living download goes on.
struct WriteTimeout<S> {
    inner: S,
    limit: Duration,
    /// Running while a write waits; dropped when one goes through.
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteTimeout<S> {
    fn new(inner: S, limit: Duration) -> Self {
        WriteTimeout {
            inner,
            limit,
            waiting: None,
        }
    }

    /// What a write that returned `polled` gives: its result (the wait is over), pending while the
    /// wait lasts, or an error once it has lasted `limit`.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if polled.is_ready() {
            self.waiting = None;
            return polled;
        }
        let limit = self.limit;
        let waiting = self
            .waiting
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match waiting.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing of the answer within the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.timed(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.timed(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.timed(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.timed(cx, polled)
    }
}
