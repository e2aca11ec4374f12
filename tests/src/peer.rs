//! The Node socket.io 2.0.4 peer (`tests/peers/spaces-server.js`), started by a test on
//! 127.0.0.1 and driven through its stdin/stdout.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::Notify;

/// `tests/peers/`.
pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// Installs the peers' npm packages from the committed lockfile, once per process.
pub fn ensure_installed() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = peers_dir();
        if dir.join("node_modules/socket.io/package.json").exists() {
            return;
        }
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm runs (Node.js and npm are needed for the peer tests)");
        assert!(status.success(), "npm ci in {} failed", dir.display());
    });
}

/// A running Spaces-like socket.io 2.0.4 server. Killed on drop.
#[derive(Debug)]
pub struct NodePeer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    child: Child,
    stdin: ChildStdin,
    log: Arc<Mutex<Vec<Value>>>,
    news: Arc<Notify>,
}

impl NodePeer {
    /// Starts the server with `options` (`pingInterval`, `pingTimeout`, `tokens`, `port`, …).
    pub async fn start(options: Value) -> NodePeer {
        ensure_installed();
        let mut child = Command::new("node")
            .arg(peers_dir().join("spaces-server.js"))
            .arg(options.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().expect("piped");
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let (log, news) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Notify::new()));
        let (log2, news2) = (log.clone(), news.clone());
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let value: Value =
                    serde_json::from_str(&line).unwrap_or(json!({ "ev": "output", "line": line }));
                log2.lock().expect("log lock").push(value);
                news2.notify_waiters();
            }
        });
        let mut peer = NodePeer {
            port: 0,
            child,
            stdin,
            log,
            news,
        };
        let listening = peer.wait_for(|e| e["ev"] == "listening").await;
        peer.port = listening["port"].as_u64().expect("port") as u16;
        peer
    }

    /// `http://127.0.0.1:PORT/chat`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/chat", self.port)
    }

    /// Sends a command and waits until the server has carried it out.
    pub async fn command(&mut self, command: Value) {
        let name = command["cmd"].clone();
        let seen = self.count(|e| e["ev"] == "ok" && e["cmd"] == name);
        let line = format!("{command}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("peer stdin");
        self.wait_count(|e| e["ev"] == "ok" && e["cmd"] == name, seen + 1)
            .await;
    }

    /// Emits MEDIA_SESSION_RESPONSE `payload` to `space`'s subscribers.
    pub async fn emit(&mut self, space: &str, event: &str, payload: Value) {
        self.command(json!({ "cmd": "emit", "space": space, "event": event, "payload": payload }))
            .await;
    }

    /// Sends the MEDIA_SESSION_RESPONSE `payload` to its space's subscribers as Spaces would
    /// with `sim` serving the REST API beside this server: `sim` names it (its
    /// [`identity`](spaces_sim::Simulator::identity)) and keeps it in its active-meeting
    /// documents, and this server sends it. Returns it as sent.
    pub async fn send(&mut self, sim: &spaces_sim::Sim, payload: &Value) -> Value {
        let payload = sim.keep(payload);
        let space = payload["topicId"].as_str().unwrap_or_default().to_owned();
        self.emit(&space, "MEDIA_SESSION_RESPONSE", payload.clone())
            .await;
        payload
    }

    /// Closes every connection and refuses new ones for `duration`: the clients miss what is
    /// sent meanwhile.
    pub async fn away(&mut self, duration: Duration) {
        self.command(json!({ "cmd": "away", "ms": duration.as_millis() as u64 }))
            .await;
    }

    /// Emits [`media_event`]`(space, n)` as MEDIA_SESSION_RESPONSE to `space`'s subscribers.
    pub async fn emit_media(&mut self, space: &str, n: u32) {
        self.emit(space, "MEDIA_SESSION_RESPONSE", media_event(space, n))
            .await;
    }

    /// How many reported events match.
    pub fn count(&self, matches: impl Fn(&Value) -> bool) -> usize {
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .filter(|e| matches(e))
            .count()
    }

    /// Every reported event so far.
    pub fn log(&self) -> Vec<Value> {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits (up to 20 s) for a reported event that matches, and returns it.
    pub async fn wait_for(&self, matches: impl Fn(&Value) -> bool) -> Value {
        self.wait_count(&matches, 1).await;
        self.log
            .lock()
            .expect("log lock")
            .iter()
            .find(|e| matches(e))
            .cloned()
            .expect("counted")
    }

    /// Waits (up to 20 s) until `n` reported events match.
    pub async fn wait_count(&self, matches: impl Fn(&Value) -> bool, n: usize) {
        let wait = async {
            loop {
                let news = self.news.notified();
                if self.count(&matches) >= n {
                    return;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), news).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .is_err()
        {
            panic!(
                "the peer did not report it in 20 s; its log: {:#?}",
                self.log()
            );
        }
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// A MEDIA_SESSION_RESPONSE payload for `space` with a sequence number in `_id`.
pub fn media_event(space: &str, n: u32) -> Value {
    json!({
        "_id": format!("event-{n}"),
        "topicId": space,
        "category": "app.event.attendee.added",
        "sender": { "_id": space, "type": "spaceserver" },
        "content": { "attendee": { "_id": format!("user-{n}"), "displayname": format!("Attendee {n}") } },
    })
}
