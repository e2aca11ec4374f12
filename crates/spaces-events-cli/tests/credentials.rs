//! Tokens that outlast the process, as `watch` uses them (every command shares its token
//! options): a token file rotated under it, a credential helper, OAuth2 `login`, refresh and
//! `logout`, a private CA. Each runs against the simulator and the Node socket.io 2.0.4 peer,
//! under both readings of what Spaces does when a token expires on an open socket.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use spaces_events_tests::peer::{NodePeer, media_event};
use spaces_events_tests::{browse, finish, redirect, replace_file, sigterm};
use spaces_sim::{Expiry, MEDIA_SESSION_RESPONSE, Scenario, Sim, Simulator};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

const SPACE: &str = "space-1";

/// Where the client connects: the simulator, or the Node peer asking the simulator which
/// tokens are good; each playing `expiry`.
struct Server {
    sim: Sim,
    node: Option<NodePeer>,
}

impl Server {
    async fn start(node: bool, expiry: Expiry) -> Server {
        let sim = Simulator::new()
            .scenario(Scenario::default())
            .expiry(expiry)
            .start()
            .await
            .expect("the simulator starts");
        if !node {
            return Server { sim, node: None };
        }
        let mut options = json!({ "authUrl": format!("{}/users/me", sim.api_url()) });
        if expiry == Expiry::Close {
            options["expiry"] = json!("close");
        }
        let node = Some(NodePeer::start(options).await);
        Server { sim, node }
    }

    fn sim(&self) -> &Sim {
        &self.sim
    }

    fn url(&self) -> String {
        match &self.node {
            None => self.sim.url().to_owned(),
            Some(peer) => peer.url(),
        }
    }

    /// Waits until `SPACE` has been subscribed `n` times.
    async fn subscribed(&self, n: usize) {
        match &self.node {
            None => self.sim.subscribed(SPACE, n).await,
            Some(peer) => {
                peer.wait_count(|e| e["ev"] == "subscribe" && e["space"] == SPACE, n)
                    .await;
            }
        }
    }

    async fn emit(&mut self, n: u32) {
        match &mut self.node {
            None => {
                self.sim
                    .emit(MEDIA_SESSION_RESPONSE, &media_event(SPACE, n))
                    .await;
            }
            Some(peer) => peer.emit_media(SPACE, n).await,
        }
    }

    /// Closes the connections, as a network would: how a token is needed again under
    /// [`Expiry::Keep`].
    async fn drop_connections(&mut self) {
        match &mut self.node {
            None => self.sim.drop_connections(),
            Some(peer) => peer.command(json!({ "cmd": "drop" })).await,
        }
    }
}

/// `spaces-events <args>`, no token from the environment, output piped.
fn cli(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spaces-events"));
    command
        .args(args)
        .env_remove("SPACES_TOKEN")
        .env_remove("SSL_CERT_FILE")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// `watch --format jsonl` of `SPACE` on `server` with `source` (`--token-file F`, …).
fn watch(server: &Server, source: &[&str]) -> (Child, Lines<BufReader<ChildStdout>>) {
    let url = server.url();
    let mut args = vec!["watch", "--url", &url, "--api-url", server.sim().api_url()];
    args.extend(["--space", SPACE, "--format", "jsonl"]);
    args.extend(source);
    let mut child = cli(&args).spawn().expect("the binary runs");
    let lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    (child, lines)
}

/// The next line `watch` prints: the event with `_id` `event-{n}`.
async fn expect_event(lines: &mut Lines<BufReader<ChildStdout>>, n: u32) {
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("an event within 20 s")
        .expect("stdout")
        .expect("a line");
    let event: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(event["_id"], format!("event-{n}"), "{line}");
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("se-creds-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A token file replaced under a running `watch` (the old token refused) is followed; a
/// refused token the file still holds ends it with exit 3, naming the file.
async fn rotated_token_file(node: bool, expiry: Expiry) {
    let mut server = Server::start(node, expiry).await;
    let dir = dir(&format!("file-{node}-{expiry:?}"));
    let file = dir.join("token");
    let first = server.sim().rotate_tokens();
    replace_file(&file, &first);
    let (child, mut lines) = watch(&server, &["--token-file", file.to_str().unwrap()]);
    server.subscribed(1).await;
    server.emit(1).await;
    expect_event(&mut lines, 1).await;
    // The owner rotates the secret: the old token is refused from now on.
    let second = server.sim().rotate_tokens();
    replace_file(&file, &second);
    if expiry == Expiry::Keep {
        server.drop_connections().await;
    }
    server.subscribed(2).await;
    server.emit(2).await;
    expect_event(&mut lines, 2).await;
    // Rotated again, but the file is not: the same refused token twice is fatal.
    let third = server.sim().rotate_tokens();
    if expiry == Expiry::Keep {
        server.drop_connections().await;
    }
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, Some(3), "{stderr}");
    let named = format!(
        "the token file {} gave the refused token again",
        file.display()
    );
    assert!(stderr.contains(&named), "{stderr}");
    for token in [&first, &second, &third] {
        assert!(!stderr.contains(token.as_str()), "{stderr}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// For each scenario `name(node, expiry)`, a module `name` with a test per server (the
/// simulator, the Node socket.io 2.0.4 peer) and reading (`keep`, `close`).
macro_rules! each_server {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use spaces_sim::Expiry;
            #[tokio::test]
            async fn sim_keep() {
                super::$scenario(false, Expiry::Keep).await
            }
            #[tokio::test]
            async fn sim_close() {
                super::$scenario(false, Expiry::Close).await
            }
            #[tokio::test]
            async fn node_keep() {
                super::$scenario(true, Expiry::Keep).await
            }
            #[tokio::test]
            async fn node_close() {
                super::$scenario(true, Expiry::Close).await
            }
        }
    )*};
}

each_server!(rotated_token_file, credential_helper, login_refresh_logout);

/// A credential helper's JSON token is used; a failing helper is named with its exit status,
/// never its output.
async fn credential_helper(node: bool, expiry: Expiry) {
    let mut server = Server::start(node, expiry).await;
    let dir = dir(&format!("command-{node}-{expiry:?}"));
    let file = dir.join("token.json");
    let token = server.sim().rotate_tokens();
    replace_file(
        &file,
        &json!({ "token": token, "expires_at": "2099-01-01T00:00:00Z" }).to_string(),
    );
    let helper = format!("cat {}", file.display());
    let (child, mut lines) = watch(&server, &["--token-command", &helper]);
    server.subscribed(1).await;
    server.emit(1).await;
    expect_event(&mut lines, 1).await;
    sigterm(&child);
    assert_eq!(finish(child).await.0, Some(0));

    let failing = "printf 'hunter%s' 2; exit 7";
    let (child, _) = watch(
        &server,
        &["--token-command", failing, "--connect-timeout", "2"],
    );
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, Some(5), "{stderr}");
    let named = format!("token command `{failing}` failed (exit status: 7)");
    assert!(stderr.contains(&named), "{stderr}");
    assert!(!stderr.contains("hunter2") && !stdout.contains("hunter2"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// The simulator's identity provider behind TLS (as the real one is: the `oauth2` crate
/// revokes only over HTTPS), with its CA in a file.
struct Identity {
    /// `https://localhost:PORT`.
    url: String,
    /// Where the same provider answers in plain HTTP, for the test's "browser".
    plain: String,
    ca_file: PathBuf,
}

impl Identity {
    async fn start(sim: &Sim, dir: &Path) -> Identity {
        let plain = sim.identity_url().to_owned();
        let addr = plain.trim_start_matches("http://").parse().unwrap();
        let (port, ca) = spaces_events_tests::net::tls_terminator(addr).await;
        let ca_file = dir.join("identity-ca.pem");
        std::fs::write(&ca_file, ca).unwrap();
        Identity {
            url: format!("https://localhost:{port}"),
            plain,
            ca_file,
        }
    }

    fn ca(&self) -> &str {
        self.ca_file.to_str().unwrap()
    }
}

/// `login --no-browser` at `identity`, writing `path`; `paste` answers with the redirect's
/// address on standard input instead of letting the "browser" come back.
async fn login(identity: &Identity, path: &Path, paste: bool) {
    let path = path.to_str().unwrap();
    let mut command = cli(&["login", "--client-id", "bot-1", "--no-browser"]);
    command.args(["--identity-url", &identity.url, "--credentials", path]);
    command.args(["--ca-file", identity.ca()]);
    if paste {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("the binary runs");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped")).lines();
    let url = loop {
        let line = stderr
            .next_line()
            .await
            .unwrap()
            .expect("the address to open");
        if let Some(url) = line.trim().strip_prefix(identity.url.as_str()) {
            break format!("{}{url}", identity.plain);
        }
    };
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    if paste {
        let location = redirect(&url).await;
        let mut stdin = child.stdin.take().expect("piped");
        stdin
            .write_all(format!("{location}\n").as_bytes())
            .await
            .unwrap();
    } else {
        assert_eq!(browse(&url).await, 200, "the loopback page");
    }
    let (code, _, _) = finish(child).await;
    assert_eq!(code, Some(0));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(written["type"], "spaces_oauth");
    assert!(
        written["refresh_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "only its owner reads it");
}

/// `login` (the browser's redirect, and a pasted one), `watch --credentials`, `logout`, and a
/// refresh token revoked under a running `watch`.
async fn login_refresh_logout(node: bool, expiry: Expiry) {
    let mut server = Server::start(node, expiry).await;
    let dir = dir(&format!("oauth-{node}-{expiry:?}"));
    let (browsed, pasted) = (dir.join("browsed.json"), dir.join("pasted.json"));
    let identity = Identity::start(server.sim(), &dir).await;
    login(&identity, &browsed, false).await;
    login(&identity, &pasted, true).await;

    let credentials = [
        "--credentials",
        browsed.to_str().unwrap(),
        "--ca-file",
        identity.ca(),
    ];
    let (child, mut lines) = watch(&server, &credentials);
    server.subscribed(1).await;
    server.emit(1).await;
    expect_event(&mut lines, 1).await;

    // logout revokes at the provider and removes the file.
    let access: Value = serde_json::from_str(&std::fs::read_to_string(&pasted).unwrap()).unwrap();
    let access = access["access_token"].as_str().unwrap().to_owned();
    assert!(server.sim().accepts(&access));
    let out = cli(&["logout", "--credentials", pasted.to_str().unwrap()])
        .args(["--ca-file", identity.ca()])
        .spawn()
        .unwrap();
    let (code, _, stderr) = finish(out).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!pasted.exists() && !server.sim().accepts(&access));

    // The user removes the application's access: the refresh is refused, which is fatal.
    server.sim().revoke();
    if expiry == Expiry::Keep {
        server.drop_connections().await;
    }
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("was refused (invalid_grant): run `spaces-events login` again"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_private_ca_from_ca_file_or_ssl_cert_file_for_the_socket_and_the_rest_api() {
    let mut server = Server::start(false, Expiry::Keep).await;
    let sim = server.sim();
    let socket = sim
        .url()
        .trim_start_matches("http://")
        .trim_end_matches("/chat");
    let api = sim
        .api_url()
        .trim_start_matches("http://")
        .trim_end_matches("/api");
    let (socket_port, ca) = spaces_events_tests::net::tls_terminator(socket.parse().unwrap()).await;
    let (api_port, api_ca) = spaces_events_tests::net::tls_terminator(api.parse().unwrap()).await;
    let dir = dir("ca");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, format!("{ca}{api_ca}")).unwrap();
    let url = format!("wss://localhost:{socket_port}/chat");
    let api_url = format!("https://localhost:{api_port}/api");
    let run = |extra: &[&str], env_ca: bool| {
        let mut command = cli(&["watch", "--url", &url, "--api-url", &api_url]);
        command.args(["--space", SPACE, "--format", "jsonl", "--max-events", "1"]);
        command
            .args(["--guest", "Bot", "--connect-timeout", "5"])
            .args(extra);
        if env_ca {
            command.env("SSL_CERT_FILE", &ca_file);
        }
        command.spawn().expect("the binary runs")
    };
    // Not trusted: the guest token's REST call fails on the certificate.
    let (code, _, stderr) = finish(run(&[], false)).await;
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("certificate") || stderr.contains("TLS"),
        "{stderr}"
    );
    for (extra, env_ca) in [
        (&["--ca-file", ca_file.to_str().unwrap()][..], false),
        (&[][..], true),
    ] {
        let child = run(extra, env_ca);
        let subscribed = server.sim().subscriptions_to(SPACE) + 1;
        server.subscribed(subscribed).await;
        server.emit(subscribed as u32).await;
        let (code, stdout, stderr) = finish(child).await;
        assert_eq!(code, Some(0), "{stderr}");
        assert!(stdout.contains(&format!("event-{subscribed}")), "{stdout}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn a_webhook_receiver_behind_a_private_ca() {
    let mut server = Server::start(false, Expiry::Keep).await;
    let (tx, mut delivered) = tokio::sync::mpsc::unbounded_channel::<String>();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let _ = tx.send(body);
            async { "ok" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let plain = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (port, ca) = spaces_events_tests::net::tls_terminator(plain).await;
    let dir = dir("webhook-ca");
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let to = format!("https://localhost:{port}/hook");
    let child = cli(&["webhook", "--to", &to, "--url", server.sim().url()])
        .args(["--space", SPACE, "--max-events", "1", "--ca-file"])
        .arg(&ca_file)
        .env("SPACES_TOKEN", server.sim().token())
        .env(
            "SPACES_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .spawn()
        .unwrap();
    server.subscribed(1).await;
    server.emit(1).await;
    let body = tokio::time::timeout(Duration::from_secs(20), delivered.recv())
        .await
        .expect("delivered over TLS")
        .unwrap();
    assert!(body.contains("event-1"), "{body}");
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}
