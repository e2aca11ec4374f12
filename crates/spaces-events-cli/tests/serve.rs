//! `spaces-events serve`: the page in a real browser (Debian's Chromium driven by
//! playwright-core; skipped, naming the package, where it is not installed) as the simulator
//! plays a meeting; the JSON API and the change stream (with a `Last-Event-ID` resume); the
//! token a public address needs; and the same dashboard from a bridge's NATS bucket.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use spaces_events_tests::nats::NatsServer;
use spaces_events_tests::peer::peers_dir;
use spaces_events_tests::{finish, http_get, quiet_sim};
use spaces_sim::{DEMO_SPACE, Scenario, Sim};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

fn free() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// `spaces-events serve --bind ADDR <args>` with the simulator's token.
fn serve(addr: &str, token: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args(["serve", "--bind", addr])
        .args(args)
        .env("SPACES_TOKEN", token)
        .env_remove("RUST_LOG")
        .env_remove("SPACES_SERVE_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs")
}

/// `serve` on `addr` of `space` on `sim`'s socket and REST API, with `extra` arguments.
fn serve_space(addr: &str, sim: &Sim, space: &str, extra: &[&str]) -> Child {
    let mut args = vec![
        "--url",
        sim.url(),
        "--api-url",
        sim.api_url(),
        "--space",
        space,
    ];
    args.extend_from_slice(extra);
    serve(addr, sim.token(), &args)
}

/// The dashboard of `sim`'s DEMO_SPACE, once it answers: its address and process.
async fn serving_demo_space(sim: &Sim) -> (String, Child) {
    let addr = free();
    let child = serve_space(&addr, sim, DEMO_SPACE, &[]);
    until(&addr, "/api/spaces", |b| b.contains(DEMO_SPACE)).await;
    (addr, child)
}

/// Waits until `path` answers 200 and `ready` holds of its body.
async fn until(addr: &str, path: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_get(addr, path).await;
        if status == 200 && ready(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_page_shows_the_meeting_as_it_plays_in_a_real_browser() {
    if !Path::new("/usr/bin/chromium").exists() {
        eprintln!(
            "SKIPPED: /usr/bin/chromium not found (Debian package chromium; cargo xtask test installs it)"
        );
        return;
    }
    let sim = quiet_sim().await;
    let (addr, _serve) = serving_demo_space(&sim).await;
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let mut browser = Command::new("node")
        .arg(peers_dir().join("dashboard.js"))
        .arg(format!("http://{addr}/"))
        .arg(&screenshot)
        .current_dir(peers_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let mut lines = BufReader::new(browser.stdout.take().unwrap()).lines();
    let mut next = async || -> Value {
        let line = tokio::time::timeout(Duration::from_secs(90), lines.next_line())
            .await
            .expect("the browser says something in time")
            .unwrap()
            .expect("the browser script ended early (its stderr says why)");
        serde_json::from_str(&line).unwrap()
    };
    assert_eq!(next().await["what"], "ready");
    // Slowly, so that the page is looked at while the people are there.
    let meeting = Scenario::meeting(SystemTime::now());
    let play = sim.play(&meeting, 0.2);
    let watched = async {
        let joined = next().await;
        assert_eq!(joined["what"], "joined");
        assert!(
            joined["status"]
                .as_str()
                .is_some_and(|s| s.starts_with("Meeting in progress")),
            "{joined}"
        );
        let checks = next().await;
        assert_eq!(checks["what"], "checks");
        assert!(
            checks["overflow"].as_i64().is_some_and(|o| o <= 0),
            "wider than a phone: {checks}"
        );
        assert_eq!(next().await["what"], "left");
    };
    tokio::join!(play, watched);
    let status = browser.wait().await.unwrap();
    assert!(status.success());
    assert!(
        std::fs::metadata(&screenshot).unwrap().len() > 10_000,
        "a screenshot"
    );
    eprintln!("screenshot: {}", screenshot.display());
}

/// `GET path` over one HTTP/1.1 connection, reading the SSE body for `wait`: (status line,
/// body so far).
async fn sse(addr: &str, path: &str, last_event_id: Option<&str>, wait: Duration) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let resume = last_event_id
        .map(|id| format!("Last-Event-ID: {id}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{resume}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut text = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut text)).await;
    String::from_utf8_lossy(&text).into_owned()
}

#[tokio::test]
async fn the_api_the_change_stream_and_its_resume() {
    let sim = quiet_sim().await;
    let (addr, _serve) = serving_demo_space(&sim).await;
    sim.play(&Scenario::meeting(SystemTime::now()), f64::INFINITY)
        .await;
    let meeting = until(&addr, &format!("/api/spaces/{DEMO_SPACE}/meeting"), |b| {
        b.contains(r#""status":"inactive""#)
    })
    .await;
    let meeting: Value = serde_json::from_str(&meeting).unwrap();
    assert_eq!(meeting["space"], DEMO_SPACE);
    assert_eq!(meeting["recordings"][0]["state"], "ready");
    assert_eq!(
        http_get(&addr, "/api/spaces/not-followed/meeting").await.0,
        404
    );
    let page = http_get(&addr, "/").await;
    assert!(
        page.0 == 200 && page.1.contains("<label for=\"filter\">"),
        "the page"
    );

    // A new client gets every meeting as it is; a resuming one the changes after its last id.
    let fresh = sse(&addr, "/api/changes", None, Duration::from_millis(500)).await;
    assert!(
        fresh.contains("text/event-stream") && fresh.contains("event: state"),
        "{fresh}"
    );
    let resumed = sse(&addr, "/api/changes", Some("1"), Duration::from_millis(500)).await;
    let ids: Vec<u64> = resumed
        .lines()
        .filter_map(|l| l.strip_prefix("id: ").and_then(|id| id.parse().ok()))
        .collect();
    assert!(
        ids.len() > 5 && ids[0] == 2,
        "the changes after id 1: {ids:?}"
    );
    assert!(resumed.contains("event: change") && resumed.contains(r#""change":"meeting.ended""#));
}

#[tokio::test]
async fn a_token_guards_the_dashboard_and_a_public_address_needs_one() {
    let sim = quiet_sim().await;
    let (code, _, stderr) = finish(serve("0.0.0.0:0", sim.token(), &["--space", "s"])).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is not a loopback address: give --auth-token"),
        "{stderr}"
    );

    let addr = free();
    let _serve = serve_space(&addr, &sim, "s", &["--auth-token", "let-me-in"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while http_get(&addr, "/api/spaces").await.0 != 401 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "401 without the token"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(http_get(&addr, "/api/spaces?token=let-me-in").await.0, 200);
    assert_eq!(http_get(&addr, "/?token=wrong").await.0, 401);
    // The Spaces token is nowhere in what the dashboard serves.
    let page = http_get(&addr, "/?token=let-me-in").await.1;
    let api = http_get(&addr, "/api/spaces?token=let-me-in").await.1;
    assert!(!page.contains(sim.token()) && !api.contains(sim.token()));
}

#[tokio::test]
async fn from_a_bridge_clusters_bucket_with_no_socket_of_its_own() {
    let nats = NatsServer::start().await;
    let sim = quiet_sim().await;
    let mut bridge = Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args(["bridge", "--url", sim.url(), "--api-url", sim.api_url()])
        .args(["--nats", &nats.url(), "--space", DEMO_SPACE])
        .env("SPACES_TOKEN", sim.token())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    sim.subscribed(DEMO_SPACE, 1).await;
    sim.play(&Scenario::meeting(SystemTime::now()), f64::INFINITY)
        .await;
    let addr = free();
    let connections = sim.connections();
    let _serve = serve(&addr, "", &["--nats", &nats.url()]);
    until(&addr, &format!("/api/spaces/{DEMO_SPACE}/meeting"), |b| {
        b.contains(r#""status":"inactive""#) && b.contains("ready")
    })
    .await;
    assert_eq!(sim.connections(), connections, "no socket of its own");
    let _ = bridge.kill().await;
}
