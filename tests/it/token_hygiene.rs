//! Token hygiene under TRACE logging. In a test binary of its own: tracing keeps, per log
//! statement, a process-wide cache of whether any subscriber wants it, and tests on other threads
//! hitting the same statements while this one installs its capturing subscriber made it miss
//! events (it failed 3 runs in 7 beside the other reliability tests).

use std::io::Write;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use serde_json::json;
use spaces_events::client::{Client, ConnectionState, Token};
use spaces_events::meeting::MeetingError;
use spaces_events::rest::Rest;
use spaces_events_tests::peer::NodePeer;
use spaces_events_tests::{builder, next_item, wait_state};
use spaces_sim::{RestFault, Scenario, Simulator};

/// A whole session — connect, drops, reconnects, an auth failure, errors, REST calls and a
/// meeting watch — logged at TRACE: the token is nowhere in the logs, the errors, or any `Debug`
/// output.
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
    seen.extend(rest_session(SECRET).await);
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

/// REST calls and a meeting watch with the token, failures included; what they showed.
async fn rest_session(secret: &str) -> Vec<String> {
    let sim = Simulator::new()
        .token(secret)
        .scenario(Scenario::default())
        .start()
        .await
        .unwrap();
    let rest = Rest::builder(sim.api_url())
        .token(secret)
        .attempts(2)
        .build()
        .unwrap();
    let mut seen = vec![format!("{rest:?}")];
    seen.push(format!("{:?}", rest.active_meeting("space-1").await));
    seen.push(format!(
        "{:?}",
        rest.join_space("space-1", Some(secret)).await
    ));
    let client = Client::builder(sim.url(), secret).connect().await.unwrap();
    let mut meeting = client.meeting("space-1", &rest).await.unwrap();
    seen.push(format!("{:?}", meeting.next().await));
    sim.rest_fault(RestFault::Status(500));
    seen.push(format!("{:?}", rest.active_meeting("space-1").await));
    sim.drop_connections();
    let failed = meeting.next().await;
    assert!(
        matches!(failed, Some(Err(MeetingError::Resync(_)))),
        "{failed:?}"
    );
    seen.push(format!("{failed:?}"));
    sim.rest_fault(RestFault::None);
    let guest = Rest::builder(sim.api_url())
        .build()
        .unwrap()
        .anonymous_auth("G", "g")
        .await
        .unwrap();
    seen.push(format!("{guest:?}"));
    let guest_token = guest.token().expose().to_owned();
    assert!(
        seen.iter().all(|s| !s.contains(&guest_token)),
        "a guest token leaked: {seen:?}"
    );
    seen
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
