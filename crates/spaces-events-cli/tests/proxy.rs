//! `watch` behind a real HTTP proxy, tinyproxy (skipped, saying so, where it is not installed),
//! in front of the Node socket.io 2.0.4 server: the proxy environment variables are read by
//! default, `NO_PROXY` and `--no-proxy` bypass them, `--proxy` names one, and a refused password
//! exits 5 naming the proxy, never the password.

use std::process::Stdio;

use serde_json::json;
use spaces_events_tests::finish;
use spaces_events_tests::peer::NodePeer;
use spaces_events_tests::tinyproxy::Tinyproxy;
use tokio::process::{Child, Command};

/// `watch --space space-1 --format jsonl --max-events 1` against `peer`, in `env` (and no other
/// proxy variable).
fn watch(peer: &NodePeer, env: &[(&str, &str)], extra: &[&str]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spaces-events"));
    for name in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command
        .args(["watch", "--url", &peer.url(), "--space", "space-1"])
        .args([
            "--format",
            "jsonl",
            "--max-events",
            "1",
            "--connect-timeout",
            "5",
        ])
        .args(extra)
        .envs(env.iter().copied())
        .env("SPACES_TOKEN", "good")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs")
}

/// Waits for its subscription, sends one event, and returns (exit code, stdout, stderr).
async fn one_event(
    peer: &mut NodePeer,
    child: Child,
    subscriptions: usize,
) -> (Option<i32>, String, String) {
    peer.wait_count(|e| e["ev"] == "subscribe", subscriptions)
        .await;
    peer.emit_media("space-1", subscriptions as u32).await;
    finish(child).await
}

#[tokio::test]
async fn the_environment_names_the_proxy_and_no_proxy_bypasses_it() {
    let Some(proxy) = Tinyproxy::start(None).await else {
        return;
    };
    let mut peer = NodePeer::start(json!({})).await;
    let connect = format!("CONNECT 127.0.0.1:{} HTTP/1.1", peer.port);
    let tunnels = |proxy: &Tinyproxy| proxy.requests().iter().filter(|r| **r == connect).count();
    let url = proxy.url(None);

    for (n, variable) in ["HTTP_PROXY", "http_proxy", "ALL_PROXY"].iter().enumerate() {
        let child = watch(&peer, &[(variable, &url)], &[]);
        let (code, stdout, stderr) = one_event(&mut peer, child, n + 1).await;
        assert_eq!(code, Some(0), "{variable}: {stderr}");
        assert!(stdout.contains("event-"), "{variable}: {stdout}");
        assert_eq!(
            tunnels(&proxy),
            n + 1,
            "{variable} is used: {:?}",
            proxy.requests()
        );
    }

    // NO_PROXY (a host, a network, `*`) and --no-proxy go direct.
    let mut subscriptions = 3;
    for (env, extra) in [
        (
            vec![("HTTP_PROXY", url.as_str()), ("NO_PROXY", "127.0.0.1")],
            vec![],
        ),
        (
            vec![
                ("HTTP_PROXY", url.as_str()),
                ("no_proxy", "example.com,127.0.0.0/8"),
            ],
            vec![],
        ),
        (
            vec![("HTTP_PROXY", url.as_str()), ("NO_PROXY", "*")],
            vec![],
        ),
        (vec![("HTTP_PROXY", url.as_str())], vec!["--no-proxy"]),
        // NO_PROXY applies to --proxy too, as with curl.
        (
            vec![("NO_PROXY", "127.0.0.1")],
            vec!["--proxy", url.as_str()],
        ),
    ] {
        subscriptions += 1;
        let child = watch(&peer, &env, &extra);
        let (code, stdout, stderr) = one_event(&mut peer, child, subscriptions).await;
        assert_eq!(code, Some(0), "{env:?} {extra:?}: {stderr}");
        assert!(stdout.contains("event-"), "{stdout}");
        assert_eq!(tunnels(&proxy), 3, "{env:?} {extra:?} bypasses the proxy");
    }

    // --proxy replaces a variable naming another (dead) proxy.
    let child = watch(
        &peer,
        &[("HTTP_PROXY", "http://127.0.0.1:9")],
        &["--proxy", &url],
    );
    let (code, _, stderr) = one_event(&mut peer, child, subscriptions + 1).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(tunnels(&proxy), 4);
}

#[tokio::test]
async fn a_wrong_proxy_password_exits_5_naming_the_proxy() {
    let Some(proxy) = Tinyproxy::start(Some(("bot", "s3cret"))).await else {
        return;
    };
    let peer = NodePeer::start(json!({})).await;
    let child = watch(
        &peer,
        &[
            ("HTTPS_PROXY", "http://127.0.0.1:9"),
            ("HTTP_PROXY", &proxy.url(Some(("bot", "wrong-pass")))),
        ],
        &[],
    );
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(&format!(
            "error: proxy http://127.0.0.1:{}: refused CONNECT",
            proxy.port
        )),
        "{stderr}"
    );
    assert!(
        !stderr.contains("wrong-pass") && !stderr.contains("bot:"),
        "{stderr}"
    );
    assert_eq!(peer.count(|e| e["ev"] == "connection"), 0);
}
