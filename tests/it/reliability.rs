//! What must hold when things go wrong (RELIABILITY.md), against the real Node socket.io 2.0.4
//! peer: malformed input, half-open links, a killed server, shutdown in awkward moments, token
//! hygiene under TRACE logging, TLS with a test CA.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use spaces_events::client::{Client, ConnectionState, Error, Reconnect, Roots};
use spaces_events_tests::net::tls_terminator;
use spaces_events_tests::peer::NodePeer;
use spaces_events_tests::{
    builder, heartbeat, next_gap, next_item, recovers_from_silence, wait_state,
};
use spaces_sim::FaultProxy;

/// 1. Malformed input between good events: each is reported and skipped; the connection stays up.
#[tokio::test]
async fn malformed_input_mid_stream_is_reported_and_skipped() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.emit_media("space-1", 1).await;
    peer.command(json!({"cmd": "raw", "data": r#"2/chat,["MEDIA_SESSION_RESPONSE",{"category":"#}))
        .await;
    peer.emit(
        "space-1",
        "MEDIA_SESSION_RESPONSE",
        json!("a string, not a payload"),
    )
    .await;
    peer.emit(
        "space-1",
        "MEDIA_SESSION_RESPONSE",
        json!({"topicId": "space-1", "content": {}}),
    )
    .await;
    peer.command(
        json!({"cmd": "raw", "data": format!("2/chat,{}", "[".repeat(100) + &"]".repeat(100))}),
    )
    .await;
    peer.emit_media("space-1", 2).await;
    assert_eq!(next_item(&mut sub).await.unwrap().id(), Some("event-1"));
    assert!(
        matches!(next_item(&mut sub).await, Err(Error::Protocol(_))),
        "truncated packet"
    );
    assert!(
        matches!(next_item(&mut sub).await, Err(Error::Decode(_))),
        "a string payload"
    );
    match next_item(&mut sub).await {
        Err(Error::Decode(e)) => assert_eq!(e.message(), "`category` is required"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        next_item(&mut sub).await,
        Err(Error::Protocol(
            spaces_events::protocol::ProtocolError::TooDeep { limit: 64 }
        ))
    ));
    assert_eq!(next_item(&mut sub).await.unwrap().id(), Some("event-2"));
    assert!(matches!(client.state(), ConnectionState::Connected));
    assert_eq!(peer.count(|e| e["ev"] == "connection"), 1, "no reconnect");
}

/// 3. A half-open link (everything swallowed both ways) is detected within the heartbeat
/// deadline; the client reconnects, re-subscribes and goes on.
#[tokio::test]
async fn a_half_open_link_is_detected_and_replaced() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let proxy = FaultProxy::start(([127, 0, 0, 1], peer.port).into())
        .await
        .unwrap();
    let url = format!("http://{}/chat", proxy.addr());
    let client = builder(&url, "good").connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    proxy.blackhole();
    recovers_from_silence(&client, &mut peer, &mut sub, 2, 3).await;
    assert_eq!(proxy.connections(), 2);
}

/// 4. The server killed (SIGKILL) and restarted on the same port: back and re-subscribed within
/// the maximum backoff delay plus 1 s of the restart; the stream goes on.
#[tokio::test]
async fn a_killed_and_restarted_server_is_rejoined() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let port = peer.port;
    let policy = Reconnect::default();
    let client = Client::builder(&peer.url(), "good")
        .reconnect(policy.clone())
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.kill().await;
    wait_state(&client, |s| {
        matches!(s, ConnectionState::Reconnecting { attempt: 2.., .. })
    })
    .await;
    let mut peer =
        NodePeer::start(json!({ "pingInterval": 300, "pingTimeout": 600, "port": port })).await;
    let restarted = Instant::now();
    peer.wait_for(|e| e["ev"] == "subscribe" && e["space"] == "space-1")
        .await;
    let rejoined = restarted.elapsed();
    assert!(
        rejoined <= policy.max_delay + Duration::from_secs(1),
        "re-subscribed {rejoined:?} after the restart"
    );
    peer.emit_media("space-1", 4).await;
    next_gap(&mut sub).await;
    assert_eq!(next_item(&mut sub).await.unwrap().id(), Some("event-4"));
}

/// 6. `close()` during a reconnect, during a subscribe, and with a stalled consumer: it returns,
/// streams end, and the server sees the socket go.
#[tokio::test]
async fn close_ends_everything_in_awkward_moments() {
    // During a reconnect.
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.kill().await;
    wait_state(&client, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    tokio::time::timeout(Duration::from_secs(5), client.close())
        .await
        .expect("close returns");
    assert!(
        tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .expect("stream ends")
            .is_none()
    );
    assert!(matches!(
        client.state(),
        ConnectionState::Closed { error: None }
    ));

    // During a subscribe the server never answers.
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.subscribe("silent-space").await }
    });
    peer.wait_for(|e| e["ev"] == "subscribe").await;
    tokio::time::timeout(Duration::from_secs(5), client.close())
        .await
        .expect("close returns");
    let answer = tokio::time::timeout(Duration::from_secs(5), pending)
        .await
        .expect("subscribe returns")
        .unwrap();
    assert!(matches!(answer, Err(Error::Closed)), "{answer:?}");
    peer.wait_for(|e| e["ev"] == "engine_close").await;

    // With a stalled consumer and a full buffer.
    let client = Client::builder(&peer.url(), "good")
        .buffer(1)
        .connect()
        .await
        .unwrap();
    let sub = client.subscribe("space-1").await.unwrap();
    for n in 1..=20 {
        peer.emit_media("space-1", n).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    tokio::time::timeout(Duration::from_secs(5), client.close())
        .await
        .expect("close returns");
    peer.wait_count(|e| e["ev"] == "engine_close", 2).await;
    drop(sub);
    peer.kill().await;
}

/// 9. `wss://` with a certificate from a CA made in the test: trusted once the CA is added as a
/// root; without it, a clear, fatal TLS error (no retry loop).
#[tokio::test]
async fn tls_with_a_test_ca() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let (port, ca) = tls_terminator(([127, 0, 0, 1], peer.port).into()).await;
    let url = format!("wss://localhost:{port}/chat");
    let client = builder(&url, "good")
        .roots(Roots::None)
        .add_root_certificate(ca.as_bytes())
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.emit_media("space-1", 5).await;
    assert_eq!(next_item(&mut sub).await.unwrap().id(), Some("event-5"));

    let started = Instant::now();
    let error = builder(&url, "good").connect().await.unwrap_err();
    assert!(
        matches!(&error, Error::Tls { message, source: Some(_) } if message.contains("UnknownIssuer")),
        "{error:?}"
    );
    assert!(error.is_fatal());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no retries on an untrusted certificate"
    );
    assert_eq!(peer.count(|e| e["ev"] == "connection"), 1);
}

/// 10. Configuration errors fail `connect()` at once, with their own variant, before any attempt
/// (a bad header used to be retried as a lost connection forever).
#[tokio::test]
async fn configuration_errors_fail_connect_at_once() {
    // Nothing listens there; nothing is attempted either.
    let url = "ws://127.0.0.1:1/chat";
    let error = Client::builder(url, "t")
        .header("Origin", "a\nb")
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::Header { name, .. } if name == "Origin"),
        "{error:?}"
    );
    let error = Client::builder(url, "t")
        .header("bad name", "v")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Header { .. }), "{error:?}");
    let error = Client::builder(url, "t")
        .add_root_certificate(b"not a certificate")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Certificate(_)), "{error:?}");
    let error = Client::builder("ftp://127.0.0.1/chat", "t")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(&error, Error::Url(_)), "{error:?}");
    assert!(error.is_config() && error.is_fatal());
}

/// 11. A first connection that cannot be made ends `connect()` within the connect timeout with
/// `Error::Connect`, naming the URL (never the token) and the cause: refused, or a server that
/// accepts TCP and then says nothing. (It used to retry silently forever.)
#[tokio::test]
async fn a_first_connection_that_fails_ends_connect_within_the_timeout() {
    const SECRET: &str = "tok-SECRET-first";
    let refused = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused_port = refused.local_addr().unwrap().port();
    drop(refused);
    // Accepts connections and never answers.
    let mute = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mute_port = mute.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = mute.accept().await {
            held.push(socket);
        }
    });
    for (port, cause) in [(refused_port, "refused"), (mute_port, "timed out")] {
        let started = Instant::now();
        let error = Client::builder(&format!("http://127.0.0.1:{port}/chat"), SECRET)
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
            .unwrap_err();
        let text = error.to_string();
        assert!(
            matches!(&error, Error::Connect { url, attempts: 1.., .. } if url == &format!("ws://127.0.0.1:{port}/socket.io/")),
            "{error:?}"
        );
        assert!(text.to_lowercase().contains(cause), "{text}");
        assert!(!format!("{text} {error:?}").contains("SECRET"), "{text}");
        assert!(error.is_fatal());
        // Bounded by the timeout; the margin only absorbs a slow machine.
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
    }
}
