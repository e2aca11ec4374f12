//! [`FaultProxy`]: a TCP proxy that understands websocket framing. It is the simulator's front
//! door in front of socketioxide, and tests put it in front of other servers (the Node
//! socket.io 2.0.4 peer), for two reasons.
//!
//! - **Fidelity.** socket.io 2.0.4 strips the query from a CONNECT's namespace
//!   (`40/chat?token=…,` connects `/chat`); socketioxide does not and refuses it. The proxy
//!   removes the query from client CONNECT frames, so clients behave as against Spaces (servers
//!   that strip it themselves see the same connection either way).
//! - **Faults.** Drop every connection, swallow all traffic for a while or for good (a
//!   half-open link), or inject a frame into the server-to-client stream (between frames, never
//!   inside one).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

/// A websocket-aware TCP proxy with fault controls; see the module docs. Dropping it closes
/// every connection it carries.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    faults: Arc<Faults>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy on a free 127.0.0.1 port in front of `upstream`.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(upstream: SocketAddr) -> io::Result<FaultProxy> {
        Ok(FaultProxy::serve(
            TcpListener::bind("127.0.0.1:0").await?,
            upstream,
        ))
    }

    /// Proxies the clients of `listener` to `upstream`.
    pub(crate) fn serve(listener: TcpListener, upstream: SocketAddr) -> FaultProxy {
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let faults = Arc::new(Faults::default());
        let task = tokio::spawn(serve(listener, upstream, faults.clone()));
        FaultProxy { addr, faults, task }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.faults.accepted.load(Ordering::SeqCst)
    }

    /// Closes every open connection (clients see the TCP connection end).
    pub fn drop_connections(&self) {
        let _ = self.faults.drop.send(());
    }

    /// Closes the connections accepted in the next `duration` at once (a server that is down;
    /// open connections are not touched).
    pub fn refuse(&self, duration: Duration) {
        *self.faults.refuse_until.lock().expect("fault lock") = Some(Instant::now() + duration);
    }

    /// Swallows every frame, both ways, on every connection for `duration`; the sockets stay
    /// open (a link gone quiet).
    pub fn silence(&self, duration: Duration) {
        *self.faults.silent_until.lock().expect("fault lock") = Some(Instant::now() + duration);
    }

    /// Swallows every frame, both ways and for good, on the connections open now; the sockets
    /// stay open (a half-open link). Connections made later work.
    pub fn blackhole(&self) {
        self.faults.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// Writes a text frame to every client, between the server's frames.
    pub fn inject(&self, text: &str) {
        let _ = self.faults.inject.send(text.to_owned());
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // Close the clients' connections too, also one being accepted right now: they are
        // served by tasks of their own. Set before the broadcast, so a connection that
        // subscribes after it sees the flag.
        self.faults.closed.store(true, Ordering::SeqCst);
        self.drop_connections();
        self.task.abort();
    }
}

/// Fault controls shared by every proxied connection.
#[derive(Debug)]
struct Faults {
    /// Set for good when the proxy stops: no connection may outlive it.
    closed: AtomicBool,
    accepted: AtomicUsize,
    /// Raised by `blackhole`: connections accepted before it swallow everything.
    epoch: AtomicU64,
    silent_until: Mutex<Option<Instant>>,
    refuse_until: Mutex<Option<Instant>>,
    drop: broadcast::Sender<()>,
    inject: broadcast::Sender<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            closed: AtomicBool::new(false),
            accepted: AtomicUsize::new(0),
            epoch: AtomicU64::new(0),
            silent_until: Mutex::new(None),
            refuse_until: Mutex::new(None),
            drop: broadcast::channel(4).0,
            inject: broadcast::channel(64).0,
        }
    }
}

impl Faults {
    /// Whether a connection accepted at `epoch` must swallow frames now.
    fn quiet(&self, epoch: u64) -> bool {
        self.epoch.load(Ordering::SeqCst) > epoch
            || self
                .silent_until
                .lock()
                .expect("fault lock")
                .is_some_and(|until| Instant::now() < until)
    }
}

/// Accepts clients on `listener` and proxies each to `upstream`.
async fn serve(listener: TcpListener, upstream: SocketAddr, faults: Arc<Faults>) {
    while let Ok((client, _)) = listener.accept().await {
        // Subscribed at accept: a drop reaches every connection accepted before it.
        let (mut dropped, inject) = (faults.drop.subscribe(), faults.inject.subscribe());
        let refused = faults
            .refuse_until
            .lock()
            .expect("fault lock")
            .is_some_and(|until| Instant::now() < until);
        if refused || faults.closed.load(Ordering::SeqCst) {
            continue;
        }
        faults.accepted.fetch_add(1, Ordering::SeqCst);
        let epoch = faults.epoch.load(Ordering::SeqCst);
        let faults = faults.clone();
        tokio::spawn(async move {
            let server = tokio::select! {
                server = TcpStream::connect(upstream) => match server {
                    Ok(server) => server,
                    Err(_) => return,
                },
                _ = dropped.recv() => return,
            };
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            // Whichever ends first ends the connection: the halves drop and both sockets close.
            tokio::select! {
                _ = pump(client_read, server_write, Direction::Up, &faults, epoch, None) => {}
                _ = pump(server_read, client_write, Direction::Down, &faults, epoch, Some(inject)) => {}
                _ = dropped.recv() => {}
            }
        });
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Client to server (masked frames).
    Up,
    /// Server to client.
    Down,
}

/// Copies the HTTP upgrade head, then whole websocket frames, applying faults.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    direction: Direction,
    faults: &Faults,
    epoch: u64,
    mut inject: Option<broadcast::Receiver<String>>,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(8192);
    let head = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if from.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    };
    to.write_all(&buf[..head]).await?;
    buf.drain(..head);
    loop {
        while let Some(len) = frame_len(&buf) {
            let frame: Vec<u8> = buf.drain(..len).collect();
            if faults.quiet(epoch) {
                continue;
            }
            let frame = if direction == Direction::Up {
                strip_connect_query(frame)
            } else {
                frame
            };
            to.write_all(&frame).await?;
        }
        tokio::select! {
            read = from.read_buf(&mut buf) => if read? == 0 { return Ok(()) },
            // Only whole frames were written, so an injected frame lands between frames.
            Ok(text) = async { match inject.as_mut() { Some(rx) => rx.recv().await, None => std::future::pending().await } } => {
                if !faults.quiet(epoch) {
                    to.write_all(&encode(0x81, None, text.as_bytes())).await?;
                }
            }
        }
    }
}

/// The length of the first frame in `buf` if it is complete.
fn frame_len(buf: &[u8]) -> Option<usize> {
    let (b1, rest) = (*buf.get(1)?, buf.get(2..)?);
    let (len, header) = match b1 & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
            4,
        ),
        127 => (u64::from_be_bytes(rest.get(..8)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    let total = usize::try_from(len).ok()?.checked_add(header + mask)?;
    (buf.len() >= total).then_some(total)
}

/// A frame: first byte, optional mask key, payload (masked here when a key is given).
fn encode(b0: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![b0];
    let m = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(m | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// Rewrites a client text frame `40/nsp?query,…` to `40/nsp,…`, as socket.io 2.0.4 reads it.
fn strip_connect_query(frame: Vec<u8>) -> Vec<u8> {
    // Only complete, masked, single-frame text messages short enough to be a CONNECT.
    if frame.len() < 6 || frame[0] != 0x81 || frame[1] & 0x80 == 0 {
        return frame;
    }
    let header = match frame[1] & 0x7f {
        126 => 4,
        127 => return frame,
        _ => 2,
    };
    let key: [u8; 4] = frame[header..header + 4].try_into().expect("4 bytes");
    let payload: Vec<u8> = frame[header + 4..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ key[i % 4])
        .collect();
    if !payload.starts_with(b"40/") {
        return frame;
    }
    let Some(q) = payload.iter().position(|&b| b == b'?') else {
        return frame;
    };
    let end = payload[q..]
        .iter()
        .position(|&b| b == b',')
        .map_or(payload.len(), |c| q + c);
    let rewritten = [&payload[..q], &payload[end..]].concat();
    encode(0x81, Some(key), &rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let small = encode(0x81, None, b"hello");
        assert_eq!(frame_len(&small), Some(small.len()));
        assert_eq!(frame_len(&small[..3]), None);
        let big = encode(0x81, Some([1, 2, 3, 4]), &[b'x'; 300]);
        assert_eq!((big[1], frame_len(&big)), (0x80 | 126, Some(big.len())));
        let huge = encode(0x82, None, &vec![0; 70_000]);
        assert_eq!(frame_len(&huge), Some(huge.len()));
        assert_eq!(frame_len(&[0x81, 0xff, 0xff]), None);
    }

    #[test]
    fn the_connect_query_is_removed() {
        let key = [9, 8, 7, 6];
        let frame = encode(0x81, Some(key), b"40/chat?token=abc&tokenType=jwt,");
        assert_eq!(
            strip_connect_query(frame),
            encode(0x81, Some(key), b"40/chat,")
        );
        let event = encode(0x81, Some(key), b"42/chat,[\"a?b\"]");
        assert_eq!(strip_connect_query(event.clone()), event);
        let plain = encode(0x81, Some(key), b"40/chat,");
        assert_eq!(strip_connect_query(plain.clone()), plain);
    }
}
