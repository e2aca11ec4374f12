//! The client against the simulator: the meeting, and the client's fault scenarios (drop,
//! silence, malformed frames, rejected token, refused space).

use std::time::Duration;

use spaces_events::client::{Builder, ConnectionState, Error};
use spaces_events_tests::peer::media_event;
use spaces_events_tests::{next_gap, next_item, wait_state};
use spaces_sim::{DEMO_SPACE, Scenario, Sim, Simulator};

fn builder(sim: &Sim) -> Builder {
    // The client's defaults (token also in CONNECT) work: the simulator strips the query as
    // socket.io 2.0.4 does.
    spaces_events_tests::builder(sim.url(), sim.token())
}

async fn quick() -> Sim {
    Simulator::new()
        .heartbeat(Duration::from_millis(300), Duration::from_millis(600))
        .start()
        .await
        .unwrap()
}

/// Waits until the simulator has accepted `n` subscriptions to `space-1`.
async fn wait_subscriptions(sim: &Sim, n: usize) {
    tokio::time::timeout(Duration::from_secs(20), sim.subscribed("space-1", n))
        .await
        .expect("re-subscribed in time");
    assert!(sim.subscriptions() >= n);
}

#[tokio::test]
async fn the_meeting_plays_every_documented_category() {
    let sim = Simulator::new().start().await.unwrap();
    let client = builder(&sim).connect().await.unwrap();
    let mut sub = client.subscribe(DEMO_SPACE).await.unwrap();
    let mut categories = Vec::new();
    for step in &sim.scenario().steps {
        let event = next_item(&mut sub).await.unwrap();
        assert_eq!(event.category_name(), step.payload["category"]);
        categories.push(event.category());
    }
    for documented in spaces_events_tests::DOCUMENTED_CATEGORIES {
        assert!(categories.contains(&documented), "{documented:?}");
    }
}

#[tokio::test]
async fn a_scenario_played_on_demand_in_another_space_and_faster() {
    let sim = Simulator::new()
        .scenario(Scenario::default())
        .start()
        .await
        .unwrap();
    let client = builder(&sim).connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    wait_subscriptions(&sim, 1).await;
    // The built-in meeting takes about 3 s; at 100× it takes 30 ms.
    let meeting = Scenario::meeting(std::time::SystemTime::now()).in_space("space-1");
    sim.play(&meeting, 100.0).await;
    for step in &meeting.steps {
        let event = next_item(&mut sub).await.unwrap();
        assert_eq!(event.id(), step.payload["_id"].as_str());
        assert_eq!(event.topic_id(), Some("space-1"));
    }
}

#[tokio::test]
async fn a_drop_costs_a_reconnect_and_nothing_else() {
    let sim = quick().await;
    let client = builder(&sim).connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    sim.emit("MEDIA_SESSION_RESPONSE", &media_event("space-1", 1))
        .await;
    assert_eq!(next_item(&mut sub).await.unwrap().id(), Some("event-1"));
    sim.drop_connections();
    wait_state(&client, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    wait_state(&client, |s| matches!(s, ConnectionState::Connected)).await;
    wait_subscriptions(&sim, 2).await;
    sim.emit("MEDIA_SESSION_RESPONSE", &media_event("space-1", 2))
        .await;
    next_gap(&mut sub).await;
    assert_eq!(next_item(&mut sub).await.unwrap().id(), Some("event-2"));
    assert_eq!(sim.connections(), 2);
}

#[tokio::test]
async fn silence_is_detected_and_survived() {
    let sim = quick().await;
    let client = builder(&sim)
        .heartbeat_deadline(Duration::from_millis(400))
        .connect()
        .await
        .unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    sim.silence(Duration::from_millis(1500));
    wait_state(&client, |s| {
        matches!(
            s,
            ConnectionState::Reconnecting {
                reason: Error::Timeout(_),
                ..
            }
        )
    })
    .await;
    wait_state(&client, |s| matches!(s, ConnectionState::Connected)).await;
    wait_subscriptions(&sim, 2).await;
    sim.emit("MEDIA_SESSION_RESPONSE", &media_event("space-1", 3))
        .await;
    next_gap(&mut sub).await;
    assert_eq!(next_item(&mut sub).await.unwrap().id(), Some("event-3"));
}

#[tokio::test]
async fn malformed_frames_are_reported_and_skipped() {
    let sim = quick().await;
    let client = builder(&sim).connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    sim.inject_frame(r#"42/chat,["MEDIA_SESSION_RESPONSE",{"category":"#);
    sim.inject_frame(r#"42/chat,["MEDIA_SESSION_RESPONSE","just a string"]"#);
    sim.emit("MEDIA_SESSION_RESPONSE", &media_event("space-1", 4))
        .await;
    assert!(matches!(next_item(&mut sub).await, Err(Error::Protocol(_))));
    assert!(matches!(next_item(&mut sub).await, Err(Error::Decode(_))));
    assert_eq!(next_item(&mut sub).await.unwrap().id(), Some("event-4"));
    assert!(matches!(client.state(), ConnectionState::Connected));
}

#[tokio::test]
async fn a_rejected_token_and_a_refused_space() {
    let sim = quick().await;
    sim.refuse_space("secret-space");
    let client = builder(&sim).connect().await.unwrap();
    assert!(
        matches!(client.subscribe("secret-space").await, Err(Error::SubscribeRefused { code, .. }) if code == "not.a.member")
    );
    sim.set_tokens(&[]);
    let error = builder(&sim).connect().await.unwrap_err();
    assert!(
        matches!(&error, Error::Auth(m) if m == "Not authorized"),
        "{error:?}"
    );
    assert_eq!(sim.rejections(), 1);
}

#[tokio::test]
async fn a_restarted_simulator_is_rejoined() {
    let sim = quick().await;
    let addr: std::net::SocketAddr = sim
        .url()
        .trim_start_matches("http://")
        .trim_end_matches("/chat")
        .parse()
        .unwrap();
    let client = builder(&sim).connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    drop(sim);
    wait_state(&client, |s| {
        matches!(s, ConnectionState::Reconnecting { .. })
    })
    .await;
    let sim = Simulator::new().addr(addr).start().await.unwrap();
    wait_subscriptions(&sim, 1).await;
    sim.emit("MEDIA_SESSION_RESPONSE", &media_event("space-1", 5))
        .await;
    next_gap(&mut sub).await;
    assert_eq!(next_item(&mut sub).await.unwrap().id(), Some("event-5"));
}
