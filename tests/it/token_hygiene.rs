//! Token hygiene under TRACE logging. In a test binary of its own: tracing keeps, per log
//! statement, a process-wide cache of whether any subscriber wants it, and tests on other threads
//! hitting the same statements while this one installs its capturing subscriber made it miss
//! events (it failed 3 runs in 7 beside the other reliability tests).

use std::io::Write;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::json;
use spaces_events::client::{ConnectionState, Token};
use spaces_events_tests::peer::NodePeer;
use spaces_events_tests::{builder, next_item, wait_state};

/// A whole session — connect, drops, reconnects, an auth failure, errors — logged at TRACE:
/// the token is nowhere in the logs, the errors, or any `Debug` output.
#[tokio::test]
async fn the_token_never_leaks() {
    const SECRET: &str = "tok-SECRET-7f3a9c+/=";
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = {
        let logs = logs.clone();
        move || Capture(logs.clone())
    };
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(writer)
            .with_ansi(false)
            .finish(),
    );
    let mut peer =
        NodePeer::start(json!({ "pingInterval": 300, "pingTimeout": 600, "tokens": [SECRET] }))
            .await;
    let builder =
        builder(&peer.url(), "unused").token_provider(|| async { Ok(Token::new(SECRET)) });
    let mut seen = vec![format!("{builder:?}"), format!("{:?}", Token::new(SECRET))];
    let client = builder.connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.command(json!({"cmd": "raw", "data": r#"2/chat,["MEDIA_SESSION_RESPONSE",{"category":"#}))
        .await;
    seen.push(format!("{:?}", next_item(&mut sub).await));
    peer.command(json!({"cmd": "drop"})).await;
    wait_state(&client, |s| matches!(s, ConnectionState::Connected)).await;
    peer.command(json!({"cmd": "tokens", "tokens": []})).await;
    peer.command(json!({"cmd": "drop"})).await;
    let state = wait_state(&client, |s| matches!(s, ConnectionState::Closed { .. })).await;
    seen.push(format!("{state:?}"));
    if let ConnectionState::Closed { error: Some(error) } = &state {
        seen.push(error.to_string());
    }
    while let Some(last) = sub.next().await {
        seen.push(format!("{last:?}"));
    }
    seen.push(format!("{client:?}"));
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG"),
        "tracing captured nothing"
    );
    assert!(
        logs.contains("WARN") && logs.contains("connection lost; reconnecting"),
        "a reconnect is a warning: {logs}"
    );
    assert!(
        seen.iter().any(|s| s.contains("Not authorized")),
        "{seen:?}"
    );
    let encoded = "tok-SECRET-7f3a9c%2B%2F%3D";
    for text in seen.iter().chain([&logs]) {
        assert!(
            !text.contains("tok-SECRET") && !text.contains(encoded),
            "the token leaked: {text}"
        );
    }
}

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
