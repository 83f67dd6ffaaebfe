//! The tarpit: a "blob server" that takes a daemon's download and never finishes it, so the
//! download holds its connection (and one of the daemon's preparation slots) until the daemon's
//! `fetch.total_timeout`.
//!
//! `GET /silent/…` is read and never answered; `GET /trickle/…` is answered `200` with a
//! `Content-Length` of 4 KiB and then a byte every two seconds. It listens on several loopback
//! addresses (`127.0.0.1`, `127.0.0.2`, …): the SDK's `fetch.max_per_host` counts downloads per
//! host for the whole process, so the in-process daemons would otherwise share one host's two
//! slots where separate daemons would have two each.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Connections accepted, and held at once.
#[derive(Default)]
struct Stats {
    accepted: AtomicU64,
    open: AtomicU64,
    peak_open: AtomicU64,
}

/// The running tarpit; it stops when dropped.
pub struct Tarpit {
    addrs: Vec<SocketAddr>,
    stats: Arc<Stats>,
    stop: watch::Sender<bool>,
}

impl Tarpit {
    /// Listens on up to `hosts` loopback addresses (at least `127.0.0.1`; the others where the
    /// system routes them).
    pub async fn start(hosts: usize) -> Result<Self> {
        let (stop, stopped) = watch::channel(false);
        let stats = Arc::new(Stats::default());
        let mut addrs = Vec::new();
        for i in 0..hosts.clamp(1, 250) {
            let ip = Ipv4Addr::new(127, 0, 0, 1 + i as u8);
            let listener = match TcpListener::bind((ip, 0)).await {
                Ok(listener) => listener,
                Err(_) if i > 0 => break,
                Err(e) => return Err(e).context("the tarpit cannot listen on 127.0.0.1"),
            };
            addrs.push(listener.local_addr()?);
            tokio::spawn(serve(listener, stats.clone(), stopped.clone()));
        }
        Ok(Tarpit { addrs, stats, stop })
    }

    /// The URI of tarpit blob `n`, on one of the tarpit's hosts in turn.
    pub fn uri(&self, n: usize, trickle: bool) -> String {
        let path = if trickle { "trickle" } else { "silent" };
        format!(
            "http://{}/{path}/{n}.wgsl",
            self.addrs[n % self.addrs.len()]
        )
    }

    /// Loopback addresses it listens on.
    pub fn hosts(&self) -> usize {
        self.addrs.len()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.stats.accepted.load(Ordering::Relaxed)
    }

    /// The most connections held at once.
    pub fn peak_open(&self) -> u64 {
        self.stats.peak_open.load(Ordering::Relaxed)
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn serve(listener: TcpListener, stats: Arc<Stats>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            accepted = listener.accept() => {
                let Ok((socket, _)) = accepted else { continue };
                let (stats, mut stop) = (stats.clone(), stop.clone());
                tokio::spawn(async move {
                    stats.accepted.fetch_add(1, Ordering::Relaxed);
                    let open = stats.open.fetch_add(1, Ordering::Relaxed) + 1;
                    stats.peak_open.fetch_max(open, Ordering::Relaxed);
                    tokio::select! {
                        _ = stop.changed() => {}
                        _ = hold(socket) => {}
                    }
                    stats.open.fetch_sub(1, Ordering::Relaxed);
                });
            }
        }
    }
}

/// Reads the request head, then never serves the blob; returns when the client gives up.
async fn hold(mut socket: TcpStream) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    if head.starts_with(b"GET /trickle/") {
        socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 4096\r\n\r\n")
            .await?;
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            socket.write_all(b" ").await?;
        }
    }
    while socket.read(&mut buf).await? > 0 {}
    Ok(())
}
