//! A real HTTP proxy: `tinyproxy` (Debian package `tinyproxy`, which `cargo xtask test`
//! installs), started on a free 127.0.0.1 port with a configuration and a log of its own.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// Where Debian installs it.
const BINARY: &str = "/usr/bin/tinyproxy";

/// A running tinyproxy; killed on drop.
#[derive(Debug)]
pub struct Tinyproxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
    _child: Child,
}

impl Tinyproxy {
    /// Starts one (with `BasicAuth user password` if `auth`), or returns `None` after saying
    /// why on stderr when tinyproxy is not installed: the caller's test is then skipped.
    pub async fn start(auth: Option<(&str, &str)>) -> Option<Tinyproxy> {
        if !Path::new(BINARY).exists() {
            eprintln!(
                "SKIPPED: {BINARY} not found; install the Debian package `tinyproxy` \
                 (cargo xtask test does: apt-get install tinyproxy)"
            );
            return None;
        }
        // A free port is only free until someone takes it: another test's server may bind it
        // before tinyproxy does, which then exits. Then another port.
        for _ in 0..5 {
            if let Some(proxy) = Self::spawn(auth).await {
                return Some(proxy);
            }
        }
        panic!("tinyproxy did not start on any of 5 free ports");
    }

    /// One try on a free port: `None` if tinyproxy exited (its port was taken meanwhile).
    async fn spawn(auth: Option<(&str, &str)>) -> Option<Tinyproxy> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("tinyproxy-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("its directory");
        let log = dir.join("tinyproxy.log");
        // No `ConnectPort` line: CONNECT is allowed to every port (the simulator's are random).
        let mut config = format!(
            "Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 600\nMaxClients 200\n\
             LogLevel Connect\nLogFile \"{}\"\n",
            log.display()
        );
        if let Some((user, password)) = auth {
            config.push_str(&format!("BasicAuth {user} {password}\n"));
        }
        let conf = dir.join("tinyproxy.conf");
        std::fs::write(&conf, config).expect("its configuration");
        let mut child = Command::new(BINARY)
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("tinyproxy starts");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let listening = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok();
            // Something answers, and tinyproxy still runs: then it is tinyproxy that answers.
            if child.try_wait().expect("its status").is_some() {
                return None;
            }
            if listening {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "tinyproxy listens on {port}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(Tinyproxy {
            port,
            log,
            _child: child,
        })
    }

    /// `http://127.0.0.1:PORT`, with `user:password@` if given.
    pub fn url(&self, auth: Option<(&str, &str)>) -> String {
        match auth {
            Some((user, password)) => format!("http://{user}:{password}@127.0.0.1:{}", self.port),
            None => format!("http://127.0.0.1:{}", self.port),
        }
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The requests it logged (`CONNECT 127.0.0.1:4000 HTTP/1.1`, `GET http://… HTTP/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|line| line.split_once("Request (file descriptor ").map(|(_, r)| r))
            .filter_map(|r| r.split_once("): ").map(|(_, r)| r.trim().to_owned()))
            .collect()
    }
}
