//! `spaces-events watch` against the real Node socket.io 2.0.4 peer, beside the reference client
//! (socket.io-client 2.0.4).

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use spaces_events_tests::peer::{NodePeer, peers_dir};
use spaces_events_tests::{finish, sigterm};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

fn watch(peer: &NodePeer, token: &str, extra: &[&str]) -> Child {
    run(&["watch"], peer, token, extra)
}

/// `spaces-events <command…> --url PEER <extra…>` with `token` in SPACES_TOKEN, output piped.
fn run(command: &[&str], peer: &NodePeer, token: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args(command)
        .args(["--url", &peer.url()])
        .args(extra)
        .env("SPACES_TOKEN", token)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs")
}

/// Waits for the process; returns (exit code, stdout, stderr).

#[tokio::test]
async fn jsonl_shows_what_socket_io_client_receives_across_a_drop() {
    let mut peer = NodePeer::start(json!({ "pingInterval": 300, "pingTimeout": 600 })).await;
    let ours = watch(
        &peer,
        "good",
        &[
            "--space",
            "space-1",
            "--format",
            "jsonl",
            "--max-events",
            "10",
        ],
    );
    let mut reference = Command::new("node")
        .arg(peers_dir().join("reference-client.js"))
        .args([&peer.url(), "good", "space-1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    peer.wait_count(|e| e["ev"] == "subscribe", 2).await;
    for n in 1..=5 {
        peer.emit_media("space-1", n).await;
    }
    peer.command(json!({"cmd": "drop"})).await;
    peer.wait_count(|e| e["ev"] == "subscribe", 4).await;
    for n in 6..=10 {
        peer.emit_media("space-1", n).await;
    }
    let (code, stdout, stderr) = finish(ours).await;
    assert_eq!(code, Some(0), "{stderr}");
    let mut lines = BufReader::new(reference.stdout.take().unwrap()).lines();
    let mut expected = Vec::new();
    while expected.len() < 10 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        expected.push(line);
    }
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{stderr}");
    // Every failure is visible: a status line on stderr, plain text when it is not a terminal.
    assert!(
        stderr.contains("connection lost: ")
            && stderr.contains("; retrying in ")
            && stderr.contains(" s, attempt 1"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\x1b'),
        "no colour codes off a terminal: {stderr:?}"
    );
}

/// Two spaces merged into one output, each in its order; SIGTERM after many events (one
/// shutdown listener serves the whole loop) ends it with 0 and every line written.
#[tokio::test]
async fn two_spaces_in_one_output_until_sigterm() {
    let mut peer = NodePeer::start(json!({})).await;
    let mut child = watch(
        &peer,
        "good",
        &[
            "--space", "space-1", "--space", "space-2", "--format", "jsonl",
        ],
    );
    peer.wait_count(|e| e["ev"] == "subscribe", 2).await;
    for n in 1..=20 {
        peer.emit_media(if n % 2 == 0 { "space-2" } else { "space-1" }, n)
            .await;
    }
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut got = Vec::new();
    while got.len() < 20 {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("20 lines in time")
            .unwrap()
            .expect("a line");
        let event: Value = serde_json::from_str(&line).unwrap();
        got.push((
            event["topicId"].as_str().unwrap().to_owned(),
            event["_id"].as_str().unwrap().to_owned(),
        ));
    }
    for (space, parity) in [("space-1", 1), ("space-2", 0)] {
        let ids: Vec<&str> = got
            .iter()
            .filter(|(s, _)| s == space)
            .map(|(_, id)| id.as_str())
            .collect();
        let sent: Vec<String> = (1..=20)
            .filter(|n| n % 2 == parity)
            .map(|n| format!("event-{n}"))
            .collect();
        assert_eq!(ids, sent, "{space} in order");
    }
    sigterm(&child);
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lines.next_line().await.unwrap(), None, "nothing after");
}

#[tokio::test]
async fn a_rejected_token_exits_3_and_is_never_printed() {
    let peer = NodePeer::start(json!({})).await;
    let (code, stdout, stderr) =
        finish(watch(&peer, "secret-token-123", &["--space", "space-1"])).await;
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("authentication rejected: Not authorized"),
        "{stderr}"
    );
    assert!(!stdout.contains("secret-token-123") && !stderr.contains("secret-token-123"));
}

#[tokio::test]
async fn a_refused_space_exits_4_with_the_servers_reason() {
    let peer = NodePeer::start(json!({})).await;
    let (code, _, stderr) = finish(watch(&peer, "good", &["--space", "refused-1"])).await;
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("not.a.member: user is not a member of the space"),
        "{stderr}"
    );
}

/// `watch` of a port nobody listens on (bound, noted, closed), with `token`; (port, exit code,
/// stderr).
async fn watch_closed_port(token: &str, extra: &[&str]) -> (u16, Option<i32>, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args(["watch", "--url", &format!("http://127.0.0.1:{port}/chat")])
        .args(["--space", "s"])
        .args(extra)
        .env("SPACES_TOKEN", token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (code, _, stderr) = finish(child).await;
    (port, code, stderr)
}

#[tokio::test]
async fn giving_up_exits_5() {
    let (_, code, stderr) = watch_closed_port("good", &["--max-retries", "2"]).await;
    assert_eq!(code, Some(5), "{stderr}");
    assert!(
        stderr.contains("gave up after 2 connection attempts"),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_first_connection_that_fails_exits_5_naming_the_url() {
    let (port, code, stderr) =
        watch_closed_port("tok-SECRET-cli", &["--connect-timeout", "1"]).await;
    assert_eq!(code, Some(5), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "could not connect to ws://127.0.0.1:{port}/socket.io/"
        )),
        "{stderr}"
    );
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");
    assert!(
        !stderr.contains("SECRET") && !stderr.contains('\x1b'),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_token_on_the_command_line_gets_a_warning_and_a_missing_one_is_usage() {
    let peer = NodePeer::start(json!({})).await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args([
            "watch",
            "--url",
            &peer.url(),
            "--space",
            "s1",
            "--token",
            "good",
            "--max-events",
            "0",
        ])
        .env_remove("SPACES_TOKEN")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert_eq!(child.wait().await.unwrap().code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: --token puts the token on the command line"),
        "{stderr}"
    );
    let (code, _, stderr) = finish(
        Command::new(env!("CARGO_BIN_EXE_spaces-events"))
            .args(["watch", "--space", "s1"])
            .env_remove("SPACES_TOKEN")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
    .await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no token"), "{stderr}");
}

#[tokio::test]
async fn trace_logs_and_output_never_contain_the_token() {
    token_never_in_logs("text").await;
}

/// JSON logs: each line an object with the fields of its spans (the connection's URL and
/// attempt), the token in none.
#[tokio::test]
async fn json_logs_carry_their_spans_and_never_the_token() {
    let stderr = token_never_in_logs("json").await;
    let logs: Vec<Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("each log line is JSON"))
        .collect();
    assert!(logs.len() > 10, "{stderr}");
    let connections: Vec<&Value> = logs
        .iter()
        .filter(|l| l["span"]["name"] == "connection")
        .collect();
    assert!(
        connections.iter().any(|l| l["span"]["attempt"] == 1)
            && connections.iter().any(|l| l["span"]["attempt"] == 2),
        "{stderr}"
    );
    assert!(
        connections
            .iter()
            .all(|l| l["span"]["url"].as_str().is_some_and(|u| !u.contains('?'))),
        "the URL without its query"
    );
    assert!(
        logs.iter()
            .any(|l| l["fields"]["space"] == "space-1" && l["level"] == "DEBUG"),
        "{stderr}"
    );
}

/// Runs `watch` with trace logs in `format` through a drop and a rejected token; asserts the
/// token is nowhere; returns stderr.
async fn token_never_in_logs(format: &str) -> String {
    const SECRET: &str = "tok-SECRET-7f3a9c+/=";
    let mut peer =
        NodePeer::start(json!({ "pingInterval": 300, "pingTimeout": 600, "tokens": [SECRET] }))
            .await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args([
            "watch",
            "--url",
            &peer.url(),
            "--space",
            "space-1",
            "--format",
            "jsonl",
            "--log-format",
            format,
        ])
        .env("SPACES_TOKEN", SECRET)
        .env("RUST_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    peer.wait_for(|e| e["ev"] == "subscribe").await;
    peer.emit_media("space-1", 1).await;
    peer.command(json!({"cmd": "raw", "data": r#"2/chat,["MEDIA_SESSION_RESPONSE",{"category":"#}))
        .await;
    peer.command(json!({"cmd": "drop"})).await;
    peer.wait_count(|e| e["ev"] == "subscribe", 2).await;
    peer.command(json!({"cmd": "tokens", "tokens": []})).await;
    peer.command(json!({"cmd": "drop"})).await;
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let (code, stdout, stderr) = finish_split(child, stdout, stderr).await;
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "no logs: {stderr}"
    );
    for text in [&stdout, &stderr] {
        assert!(
            !text.contains("tok-SECRET") && !text.contains("7f3a9c"),
            "the token leaked:\n{text}"
        );
    }
    stderr
}

async fn finish_split(
    mut child: Child,
    mut stdout: tokio::process::ChildStdout,
    mut stderr: tokio::process::ChildStderr,
) -> (Option<i32>, String, String) {
    let (mut out, mut err) = (String::new(), String::new());
    let read = async {
        let _ = tokio::join!(
            stdout.read_to_string(&mut out),
            stderr.read_to_string(&mut err)
        );
        child.wait().await
    };
    let status = tokio::time::timeout(Duration::from_secs(30), read)
        .await
        .expect("exits in time")
        .expect("waits");
    (status.code(), out, err)
}

#[tokio::test]
async fn help_shows_token_and_unknown_categories_get_a_warning() {
    let (code, help, _) = finish(
        Command::new(env!("CARGO_BIN_EXE_spaces-events"))
            .args(["watch", "--help"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
    .await;
    assert_eq!(code, Some(0));
    assert!(
        help.contains("--token <TOKEN>") && help.contains("process lists"),
        "{help}"
    );

    let mut peer = NodePeer::start(json!({})).await;
    let child = watch(
        &peer,
        "good",
        &[
            "--space",
            "space-1",
            "--max-events",
            "1",
            "--category",
            "attendee.added",
        ],
    );
    peer.wait_count(|e| e["ev"] == "subscribe", 1).await;
    // A meeting without a status: the line says nothing of a status.
    let payload = json!({"category": "app.event.meeting.started", "topicId": "space-1"});
    peer.emit("space-1", "MEDIA_SESSION_RESPONSE", payload)
        .await;
    let payload = json!({"category": "attendee.added", "topicId": "space-1"});
    peer.emit("space-1", "MEDIA_SESSION_RESPONSE", payload)
        .await;
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("warning: --category \"attendee.added\" is not a known category"),
        "{stderr}"
    );
    // Still filtered by that name: the meeting before it is not shown.
    assert!(
        stdout.contains("attendee.added") && !stdout.contains("meeting.started"),
        "{stdout}"
    );

    let child = watch(&peer, "good", &["--space", "space-2", "--max-events", "1"]);
    peer.wait_count(|e| e["ev"] == "subscribe", 2).await;
    let payload = json!({"category": "app.event.meeting.started", "topicId": "space-2"});
    peer.emit("space-2", "MEDIA_SESSION_RESPONSE", payload)
        .await;
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.trim_end().ends_with("0 attendee(s)"), "{stdout:?}");
}

/// `spaces-events <command> … --format jsonl --max-events 3000` whose stdout nobody reads for 3 s
/// (ten heartbeat periods) while the server bursts 3000 events: the pings go on, the server never
/// drops the connection, and afterwards every event comes out once and in order. Returns stdout.
async fn stalled_stdout(command: &[&str]) -> String {
    const EVENTS: u32 = 3000;
    let mut peer = NodePeer::start(json!({ "pingInterval": 300, "pingTimeout": 600 })).await;
    let max = EVENTS.to_string();
    let extra = [
        "--space",
        "space-1",
        "--format",
        "jsonl",
        "--max-events",
        &max,
    ];
    let mut child = run(command, &peer, "good", &extra);
    peer.wait_for(|e| e["ev"] == "subscribe").await;
    peer.command(json!({ "cmd": "burst", "space": "space-1", "count": EVENTS,
        "payload": spaces_events_tests::peer::media_event("space-1", 0) }))
        .await;
    let pings = peer.count(|e| e["ev"] == "ping");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        peer.count(|e| e["ev"] == "ping") >= pings + 5,
        "pings went on while stdout was blocked: {:?}",
        peer.log()
    );
    assert_eq!(
        peer.count(|e| e["ev"] == "disconnect"),
        0,
        "{:?}",
        peer.log()
    );
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    let ids: Vec<String> = stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["_id"].to_string())
        .collect();
    let expected: Vec<String> = (0..EVENTS).map(|n| format!("\"burst-{n}\"")).collect();
    assert!(
        ids == expected,
        "{} lines, not burst-0..{EVENTS} in order",
        ids.len()
    );
    assert_eq!(
        peer.count(|e| e["ev"] == "subscribe"),
        1,
        "one connection throughout"
    );
    stdout
}

#[tokio::test]
async fn a_blocked_stdout_never_stops_the_heartbeat_and_loses_nothing() {
    stalled_stdout(&["watch"]).await;
}

#[tokio::test]
async fn record_with_a_blocked_stdout_keeps_the_link_and_writes_every_event() {
    let dir = std::env::temp_dir().join(format!("spaces-events-stall-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("burst.jsonl");
    let stdout = stalled_stdout(&["record", "--out", file.to_str().unwrap()]).await;
    let recorded: Vec<String> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["payload"].to_string())
        .collect();
    assert_eq!(recorded, stdout.lines().collect::<Vec<_>>());
    std::fs::remove_dir_all(&dir).unwrap();
}
