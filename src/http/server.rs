//! The connection loop: hyper's HTTP/1 server with the limits a public service needs, which
//! `axum::serve` does not expose: a deadline for a request's headers (a slow sender cannot hold
//! a connection), a cap on header size, a cap on open connections (in all and per client
//! address), and a graceful drain.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

use super::client_ip::{ClientIp, TrustedProxies};

/// Limits of the connection layer.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    pub header_timeout: Duration,
    /// Bytes of a request head (request line and headers) at most; more answers 431.
    pub max_header_bytes: usize,
    pub max_connections: usize,
    /// Open connections from one client address at most; 0: no cap. Connections from a
    /// trusted proxy are not counted: they carry many clients (the proxy caps those).
    pub max_connections_per_ip: usize,
    /// Peers whose `Forwarded`/`X-Forwarded-For` name the client.
    pub trusted_proxies: Arc<TrustedProxies>,
    /// How long in-flight requests may take to finish after shutdown begins.
    pub drain_timeout: Duration,
}

/// Serves `service` on `listener` until `shutdown` completes, then drains open connections.
pub async fn serve<S>(
    listener: TcpListener,
    service: S,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address = PerAddress::new(limits.max_connections_per_ip);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, "connection refused: too many open connections");
            drop(stream);
            continue;
        };
        let from_proxy = limits.trusted_proxies.trusts(peer.ip());
        let address_slot = if from_proxy {
            Some(None)
        } else {
            per_address.acquire(peer.ip())
        };
        let Some(address_slot) = address_slot else {
            tracing::warn!(%peer, "connection refused: too many open connections from this address");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let trusted = Arc::clone(&limits.trusted_proxies);
        let service =
            service
                .clone()
                .map_request(move |req: hyper::Request<hyper::body::Incoming>| {
                    let mut req = req.map(axum::body::Body::new);
                    let client = if from_proxy {
                        trusted.client(peer.ip(), req.headers())
                    } else {
                        peer.ip()
                    };
                    req.extensions_mut().insert(ConnectInfo(peer));
                    req.extensions_mut().insert(ClientIp(client));
                    req
                });
        let connection = http.serve_connection(
            TokioIo::new(super::wire::EnvelopedErrors::new(stream)),
            TowerToHyperService::new(service),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
            drop(slot);
            drop(address_slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("in-flight requests did not finish in time");
    }
    Ok(())
}

/// Open connections per client address, so that one address (slow bodies, idle keep-alives)
/// cannot take every slot of `max_connections`.
#[derive(Clone)]
struct PerAddress {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection's place in its address's count, given back when dropped.
struct AddressSlot {
    ip: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerAddress {
    fn new(cap: usize) -> Self {
        Self {
            cap,
            open: Arc::default(),
        }
    }

    /// A slot for one more connection from `ip`; `None` at the cap. Without a cap every
    /// connection gets one (that counts nothing).
    fn acquire(&self, ip: IpAddr) -> Option<Option<AddressSlot>> {
        if self.cap == 0 {
            return Some(None);
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Some(AddressSlot {
            ip,
            open: Arc::clone(&self.open),
        }))
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                // Addresses with no connection are forgotten: the map stays as small as the
                // set of connected clients.
                open.remove(&self.ip);
            }
        }
    }
}

/// The client's address, as the connection loop recorded it: the peer's, or behind a trusted
/// proxy the one the proxy reported.
pub fn client_address(req: &axum::http::Extensions) -> Option<IpAddr> {
    req.get::<ClientIp>().map(|c| c.0)
}
