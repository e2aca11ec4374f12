//! The subscription client against the real Node socket.io 2.0.4 server, scripted like Spaces
//! (`tests/peers/spaces-server.js`): middleware registered after attach and asynchronous (no
//! `40` for `/`, early emits dropped), small heartbeat intervals, forced drops, silences,
//! rejected tokens and refused spaces.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use spaces_events::Category;
use spaces_events::client::{ConnectionState, Error, Token, TokenType};
use spaces_events_tests::peer::NodePeer;
use spaces_events_tests::{
    builder, heartbeat, next_event, next_gap, recovers_from_silence, wait_state,
};

#[tokio::test]
async fn every_event_arrives_once_in_order_across_a_forced_drop() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    for n in 1..=5 {
        peer.emit_media("space-1", n).await;
        // Other server events, interleaved, are not media events.
        peer.emit(
            "space-1",
            "PRESENCE_EVENT_RESPONSE",
            json!({"category": "app.event.presence.party.online", "topicId": "space-1"}),
        )
        .await;
    }
    let mut ids: Vec<String> = Vec::new();
    for _ in 1..=5 {
        ids.push(next_event(&mut sub).await.id().unwrap().to_owned());
    }
    peer.command(json!({"cmd": "drop"})).await;
    wait_state(&client, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    wait_state(&client, |s| matches!(s, ConnectionState::Connected)).await;
    // The client re-subscribed by itself.
    peer.wait_count(|e| e["ev"] == "subscribe" && e["space"] == "space-1", 2)
        .await;
    peer.wait_for(|e| e["ev"] == "connection").await;
    for n in 6..=10 {
        peer.emit_media("space-1", n).await;
    }
    // Where the gap was: between event 5 and event 6.
    next_gap(&mut sub).await;
    for _ in 6..=10 {
        ids.push(next_event(&mut sub).await.id().unwrap().to_owned());
    }
    let expected: Vec<String> = (1..=10).map(|n| format!("event-{n}")).collect();
    assert_eq!(ids, expected);
    client.close().await;
    assert!(sub.next().await.is_none(), "the stream ends after close");
}

#[tokio::test]
async fn the_client_pings_so_the_server_never_drops_it() {
    let mut peer = NodePeer::start(json!({ "pingInterval": 200, "pingTimeout": 300 })).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        peer.count(|e| e["ev"] == "ping") >= 6,
        "pings: {}",
        peer.count(|e| e["ev"] == "ping")
    );
    assert_eq!(
        peer.count(|e| e["ev"] == "disconnect"),
        0,
        "{:?}",
        peer.log()
    );
    peer.emit_media("space-1", 1).await;
    assert_eq!(next_event(&mut sub).await.id(), Some("event-1"));
    assert!(matches!(client.state(), ConnectionState::Connected));
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_error_and_is_not_retried() {
    let peer = NodePeer::start(heartbeat()).await;
    let error = builder(&peer.url(), "bad").connect().await.unwrap_err();
    assert!(
        matches!(&error, Error::Auth(message) if message == "Not authorized"),
        "{error:?}"
    );
    assert!(error.is_fatal());
    assert!(!format!("{error} {error:?}").contains("bad"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        peer.count(|e| e["ev"] == "rejected"),
        1,
        "the same token is not tried twice"
    );
}

#[tokio::test]
async fn a_provider_that_keeps_failing_gets_a_bounded_number_of_attempts() {
    let peer = NodePeer::start(heartbeat()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let error = builder(&peer.url(), "unused")
        .token_provider(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok(Token::new(format!("expired-{n}"))) }
        })
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Auth(_)), "{error:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(peer.count(|e| e["ev"] == "rejected"), 3);
}

#[tokio::test]
async fn the_token_provider_is_asked_before_every_attempt() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let client = builder(&peer.url(), "unused")
        .token_provider(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok(Token::new("good")) }
        })
        .connect()
        .await
        .unwrap();
    for _ in 0..2 {
        peer.command(json!({"cmd": "drop"})).await;
        wait_state(&client, |s| {
            matches!(s, ConnectionState::Reconnecting { .. })
        })
        .await;
        wait_state(&client, |s| matches!(s, ConnectionState::Connected)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_refused_space_gives_the_servers_code_and_message() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    match client.subscribe("refused-space").await {
        Err(Error::SubscribeRefused {
            space,
            code,
            message,
        }) => {
            assert_eq!(
                (space.as_str(), code.as_str(), message.as_str()),
                (
                    "refused-space",
                    "not.a.member",
                    "user is not a member of the space"
                )
            );
        }
        other => panic!("{other:?}"),
    }
    // The connection is fine for other spaces.
    let mut ok = client.subscribe("space-ok").await.unwrap();
    assert!(matches!(
        client.subscribe("space-ok").await,
        Err(Error::AlreadySubscribed(_))
    ));
    // The refused duplicate left the first subscription alone (it once unsubscribed it).
    peer.emit_media("space-ok", 1).await;
    assert_eq!(next_event(&mut ok).await.id(), Some("event-1"));
}

#[tokio::test]
async fn silence_longer_than_the_heartbeat_deadline_reconnects() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good")
        .heartbeat_deadline(Duration::from_millis(400))
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.command(json!({"cmd": "silence", "ms": 5000})).await;
    recovers_from_silence(&client, &mut peer, &mut sub, 2, 7).await;
}

#[tokio::test]
async fn many_spaces_share_a_connection_and_unsubscribe_ends_one() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let (mut a, mut b) = (
        client.subscribe("space-a").await.unwrap(),
        client.subscribe("space-b").await.unwrap(),
    );
    peer.emit_media("space-b", 2).await;
    peer.emit_media("space-a", 1).await;
    assert_eq!(next_event(&mut a).await.topic_id(), Some("space-a"));
    assert_eq!(next_event(&mut b).await.topic_id(), Some("space-b"));
    client.unsubscribe("space-b").await.unwrap();
    peer.wait_for(|e| e["ev"] == "unsubscribe" && e["space"] == "space-b")
        .await;
    assert!(b.next().await.is_none());
    drop(a);
    peer.wait_for(|e| e["ev"] == "unsubscribe" && e["space"] == "space-a")
        .await;
}

#[tokio::test]
async fn a_bad_payload_is_an_error_item_and_the_stream_goes_on() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.emit(
        "space-1",
        "MEDIA_SESSION_RESPONSE",
        json!({"topicId": "space-1", "content": {}}),
    )
    .await;
    peer.emit_media("space-1", 2).await;
    match tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
    {
        Some(Err(Error::Decode(e))) => assert_eq!(e.message(), "`category` is required"),
        other => panic!("{other:?}"),
    }
    assert_eq!(next_event(&mut sub).await.id(), Some("event-2"));
}

#[tokio::test]
async fn send_media_session_events_is_relayed_to_the_space() {
    let peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    let tracks: spaces_events::types::SendMediaSessionEvents = serde_json::from_value(json!({
        "category": "tracksstatus", "topicId": "space-1",
        "content": {"mediaSession": {"audio": true, "video": false, "connected": true, "selfMuted": false}}
    }))
    .unwrap();
    client.send_media_session_event(&tracks).await.unwrap();
    let event = next_event(&mut sub).await;
    assert_eq!(event.category(), Category::TracksStatus);
    assert_eq!(
        event
            .content()
            .and_then(|c| c.media_session.as_ref())
            .and_then(|m| m.audio),
        Some(true)
    );
}

#[tokio::test]
async fn a_server_namespace_disconnect_reconnects_and_resubscribes() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.command(json!({"cmd": "nsp_disconnect"})).await;
    peer.wait_count(|e| e["ev"] == "subscribe", 2).await;
    wait_state(&client, |s| matches!(s, ConnectionState::Connected)).await;
    peer.emit_media("space-1", 3).await;
    next_gap(&mut sub).await;
    assert_eq!(next_event(&mut sub).await.id(), Some("event-3"));
}

#[tokio::test]
async fn raw_events_reach_power_users() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let mut raw = client.raw_events().await.unwrap();
    let _sub = client.subscribe("space-1").await.unwrap();
    peer.emit(
        "space-1",
        "MESSAGE_SENT",
        json!({"category": "chat", "topicId": "space-1"}),
    )
    .await;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), raw.recv())
            .await
            .unwrap()
            .unwrap();
        if event.name == "MESSAGE_SENT" {
            assert_eq!(
                event.args[0].get(),
                r#"{"category":"chat","topicId":"space-1"}"#
            );
            break;
        }
    }
}

#[tokio::test]
async fn close_leaves_the_namespace_and_the_server_sees_it() {
    let peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let _sub = client.subscribe("space-1").await.unwrap();
    client.close().await;
    let bye = peer.wait_for(|e| e["ev"] == "disconnect").await;
    assert_eq!(bye["reason"], "client namespace disconnect");
    assert!(matches!(
        client.state(),
        ConnectionState::Closed { error: None }
    ));
    assert!(matches!(
        client.subscribe("space-2").await,
        Err(Error::Closed)
    ));
}

#[tokio::test]
async fn dropping_the_client_during_reconnects_stops_it() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good").connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.kill().await;
    wait_state(&client, |s| {
        matches!(s, ConnectionState::Reconnecting { attempt: 2.., .. })
    })
    .await;
    drop(client);
    let end = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("the stream ends");
    assert!(end.is_none(), "{end:?}");
}

#[tokio::test]
async fn oauth_tokens_and_extra_headers_reach_the_server() {
    let peer = NodePeer::start(heartbeat()).await;
    let _client = builder(&peer.url(), "good")
        .token_type(TokenType::Oauth)
        .header("Origin", "https://spaces.avayacloud.com")
        .connect()
        .await
        .unwrap();
    let connection = peer.wait_for(|e| e["ev"] == "connection").await;
    assert_eq!(
        (
            connection["tokenType"].as_str(),
            connection["origin"].as_str()
        ),
        (Some("oauth"), Some("https://spaces.avayacloud.com"))
    );
}

#[tokio::test]
async fn a_stalled_consumer_loses_nothing_and_keeps_the_link_alive() {
    let mut peer = NodePeer::start(heartbeat()).await;
    let client = builder(&peer.url(), "good")
        .buffer(2)
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    for n in 1..=30 {
        peer.emit_media("space-1", n).await;
    }
    let pings = peer.count(|e| e["ev"] == "ping");
    // The application reads nothing for several heartbeat periods.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        peer.count(|e| e["ev"] == "ping") >= pings + 5,
        "pings went on while the consumer stalled"
    );
    assert_eq!(
        peer.count(|e| e["ev"] == "disconnect"),
        0,
        "{:?}",
        peer.log()
    );
    assert!(matches!(client.state(), ConnectionState::Connected));
    for n in 1..=30 {
        assert_eq!(
            next_event(&mut sub).await.id(),
            Some(format!("event-{n}").as_str())
        );
    }
}
