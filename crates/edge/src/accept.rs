//! The accept loop: each connection counted against its network's cap for as long as its socket
//! lives (WebSockets included), HTTP/1 with a header-read timeout that also closes idle
//! keep-alive connections, Nagle off, and a graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::limits::ConnectionGuard;
use crate::metrics::Metrics;
use crate::State;

/// After an accept error (such as running out of file descriptors), wait this long.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A TCP stream that holds its network's connection slot until it is dropped, which for an
/// upgraded WebSocket is when the socket closes, not when its HTTP request ends.
struct Counted {
    stream: TcpStream,
    _guard: ConnectionGuard,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open requests finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // Finished connections are reaped as we go, so the set holds only open ones.
        while connections.try_join_next().is_some() {}
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let Some(guard) = state.connections.open(remote.ip(), state.max_connections_per_network)
        else {
            // Dropping the stream closes it: this network already holds its share.
            Metrics::add(&state.metrics.connections_refused);
            continue;
        };
        // No Nagle: an echo reply must not wait for the previous segment's acknowledgement.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::warn!(%error, "cannot turn off Nagle's algorithm on a connection");
        }
        let io = TokioIo::new(Counted { stream, _guard: guard });
        connections.spawn(connection(
            io,
            remote,
            app.clone(),
            state.header_read_timeout,
            closing_rx.clone(),
        ));
    }
    // Open sockets close with "going away", and connections finish their requests.
    state.live.close_all();
    closing_tx.send_replace(true);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection, with upgrades, until it ends or the edge shuts down.
async fn connection(
    io: TokioIo<Counted>,
    remote: SocketAddr,
    app: Router,
    header_read_timeout: Duration,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        app.clone().oneshot(request.map(axum::body::Body::new))
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let mut served = pin!(builder.serve_connection(io, service).with_upgrades());
    tokio::select! {
        result = served.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
        }
        () = async { drop(closing.wait_for(|closing| *closing).await) } => {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
}
