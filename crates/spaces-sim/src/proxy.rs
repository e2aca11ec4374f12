//! The simulator's front door: a TCP proxy in front of socketioxide that understands websocket
//! framing, for two reasons.
//!
//! - **Fidelity.** socket.io 2.0.4 strips the query from a CONNECT's namespace
//!   (`40/chat?token=…,` connects `/chat`); socketioxide does not and refuses it. The proxy
//!   removes the query from client CONNECT frames, so clients behave as against Spaces.
//! - **Faults.** Drop every connection, swallow all traffic for a while (a half-open link), or
//!   inject a frame into the server-to-client stream (between frames, never inside one).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

/// Fault controls shared by every proxied connection.
#[derive(Debug)]
pub(crate) struct Faults {
    /// Set for good when the simulator stops: no connection may outlive it.
    closed: std::sync::atomic::AtomicBool,
    silent_until: Mutex<Option<Instant>>,
    drop: broadcast::Sender<()>,
    inject: broadcast::Sender<String>,
}

impl Faults {
    pub(crate) fn new() -> Self {
        Faults {
            closed: std::sync::atomic::AtomicBool::new(false),
            silent_until: Mutex::new(None),
            drop: broadcast::channel(4).0,
            inject: broadcast::channel(64).0,
        }
    }

    pub(crate) fn drop_connections(&self) {
        let _ = self.drop.send(());
    }

    /// Drops every connection, now and later: set before the broadcast, so a connection that
    /// subscribes after it sees the flag.
    pub(crate) fn close(&self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        self.drop_connections();
    }

    pub(crate) fn silence(&self, duration: Duration) {
        *self.silent_until.lock().expect("fault lock") = Some(Instant::now() + duration);
    }

    pub(crate) fn inject(&self, text: &str) {
        let _ = self.inject.send(text.to_owned());
    }

    fn silent(&self) -> bool {
        self.silent_until
            .lock()
            .expect("fault lock")
            .is_some_and(|until| Instant::now() < until)
    }
}

/// Accepts clients on `listener` and proxies each to `upstream`.
pub(crate) async fn serve(listener: TcpListener, upstream: SocketAddr, faults: Arc<Faults>) {
    while let Ok((client, _)) = listener.accept().await {
        // Subscribed at accept: a drop reaches every connection accepted before it.
        let (mut dropped, inject) = (faults.drop.subscribe(), faults.inject.subscribe());
        if faults.closed.load(std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
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
                _ = pump(client_read, server_write, Direction::Up, &faults, None) => {}
                _ = pump(server_read, client_write, Direction::Down, &faults, Some(inject)) => {}
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
            if faults.silent() {
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
                if !faults.silent() {
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
