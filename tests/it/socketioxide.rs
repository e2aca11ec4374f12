//! The client against socketioxide (feature `v4`: Engine.IO 3), a second server we did not
//! write: EIO3 framing, heartbeats, events. socketioxide does not strip the query from the
//! namespace of a CONNECT, so it needs `token_in_connect(false)` (see
//! shared/reference/socketio-v2-eio3.md §4.3).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef};
use spaces_events::client::{Client, ConnectionState, Error};
use spaces_events_tests::peer::media_event;

/// Starts a socketioxide server on 127.0.0.1 that answers SUBSCRIBE_CHANNEL like Spaces and then
/// sends three events; returns its URL and handle.
async fn server() -> (String, SocketIo) {
    let (layer, io) = SocketIo::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(600))
        .build_layer();
    io.ns("/", async |_: SocketRef| {});
    io.ns("/chat", async |socket: SocketRef| {
        socket.on(
            "SUBSCRIBE_CHANNEL",
            async |socket: SocketRef, Data::<Value>(payload)| {
                let space = payload["channel"]["_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                socket.join(space.clone());
                socket.emit("CHANNEL_SUBSCRIBED", &payload).ok();
                for n in 1..=3 {
                    socket
                        .emit("MEDIA_SESSION_RESPONSE", &media_event(&space, n))
                        .ok();
                }
            },
        );
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/chat", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().layer(layer)).await });
    (url, io)
}

#[tokio::test]
async fn events_and_heartbeats_over_socketioxide() {
    let (url, io) = server().await;
    let client = Client::builder(&url, "t")
        .token_in_connect(false)
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    for n in 1..=3 {
        let event = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(event.id(), Some(format!("event-{n}").as_str()));
    }
    // Several heartbeat periods: socketioxide drops a client that does not ping.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(matches!(client.state(), ConnectionState::Connected));
    io.of("/chat")
        .unwrap()
        .to("space-1")
        .emit("MEDIA_SESSION_RESPONSE", &media_event("space-1", 4))
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event.id(), Some("event-4"));
}

#[tokio::test]
async fn the_query_in_connect_is_refused_by_socketioxide() {
    let (url, _io) = server().await;
    let error = Client::builder(&url, "t").connect().await.unwrap_err();
    assert!(
        matches!(&error, Error::Auth(m) if m.contains("Invalid namespace")),
        "{error:?}"
    );
}
