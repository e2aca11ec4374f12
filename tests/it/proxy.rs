//! The client and the REST API through a real HTTP proxy, tinyproxy (skipped, saying so, where
//! it is not installed): events from the Node socket.io 2.0.4 server arrive through a CONNECT
//! tunnel, `ws://` and `wss://`; Basic auth works, and a wrong password is a fatal error naming
//! the proxy. (The proxy environment variables and `NO_PROXY` are tested through the CLI, whose
//! environment is its own: `crates/spaces-events-cli/tests/proxy.rs`.)

use spaces_events::client::{Builder, Error, Roots};
use spaces_events::rest::Rest;
use spaces_events_tests::net::tls_terminator;
use spaces_events_tests::peer::NodePeer;
use spaces_events_tests::tinyproxy::Tinyproxy;
use spaces_events_tests::{builder, heartbeat, next_event};

/// Connects `builder`, subscribes to space-1 and gets the event `peer` sends there.
async fn one_event(builder: Builder, peer: &mut NodePeer) {
    let client = builder.connect().await.unwrap();
    let mut sub = client.subscribe("space-1").await.unwrap();
    peer.emit_media("space-1", 1).await;
    assert_eq!(next_event(&mut sub).await.id(), Some("event-1"));
    client.close().await;
}

#[tokio::test]
async fn events_arrive_through_a_connect_tunnel() {
    let Some(proxy) = Tinyproxy::start(None).await else {
        return;
    };
    let mut peer = NodePeer::start(heartbeat()).await;
    one_event(
        builder(&peer.url(), "good").proxy(&proxy.url(None)),
        &mut peer,
    )
    .await;
    let requests = proxy.requests();
    eprintln!("tinyproxy saw: {requests:?}");
    assert!(
        requests.contains(&format!("CONNECT 127.0.0.1:{} HTTP/1.1", peer.port)),
        "{requests:?}"
    );
}

#[tokio::test]
async fn tls_to_spaces_runs_inside_the_tunnel() {
    let Some(proxy) = Tinyproxy::start(None).await else {
        return;
    };
    let mut peer = NodePeer::start(heartbeat()).await;
    let (port, ca) = tls_terminator(([127, 0, 0, 1], peer.port).into()).await;
    let tls = builder(&format!("wss://localhost:{port}/chat"), "good")
        .roots(Roots::None)
        .add_root_certificate(ca.as_bytes())
        .proxy(&proxy.url(None));
    one_event(tls, &mut peer).await;
    let requests = proxy.requests();
    assert!(
        requests.contains(&format!("CONNECT localhost:{port} HTTP/1.1")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn basic_auth_and_a_wrong_password() {
    let Some(tinyproxy) = Tinyproxy::start(Some(("bot", "s3cret"))).await else {
        return;
    };
    let mut peer = NodePeer::start(heartbeat()).await;
    let authorized = builder(&peer.url(), "good").proxy(&tinyproxy.url(Some(("bot", "s3cret"))));
    one_event(authorized, &mut peer).await;

    let error = builder(&peer.url(), "good")
        .proxy(&tinyproxy.url(Some(("bot", "wrong-pass"))))
        .connect()
        .await
        .unwrap_err();
    let text = format!("{error} {error:?}");
    eprintln!("{error}");
    assert!(
        matches!(&error, Error::Proxy { status: Some(401 | 407), proxy, .. } if *proxy == format!("http://127.0.0.1:{}", tinyproxy.port)),
        "{error:?}"
    );
    assert!(error.is_fatal(), "a refused password is not retried");
    assert!(
        !text.contains("wrong-pass") && !text.contains("bot:"),
        "{text}"
    );
    // Refused at the proxy: the origin never saw the second client.
    assert_eq!(peer.count(|e| e["ev"] == "connection"), 1);
}

#[tokio::test]
async fn rest_calls_go_through_the_same_proxy() {
    let Some(proxy) = Tinyproxy::start(Some(("bot", "s3cret"))).await else {
        return;
    };
    let sim = spaces_sim::Simulator::new().start().await.unwrap();
    let rest = Rest::builder(sim.api_url())
        .proxy(&proxy.url(Some(("bot", "s3cret"))))
        .build()
        .unwrap();
    let configurations = rest.service_configurations().await.unwrap();
    assert!(configurations.json().contains("socketio_server_url"));
    let requests = proxy.requests();
    assert!(
        requests.iter().any(
            |r| r.starts_with("GET http://127.0.0.1:") && r.contains("/service-configurations")
        ),
        "{requests:?}"
    );
    // Direct when told so, whatever the environment says.
    let direct = Rest::builder(sim.api_url()).no_proxy().build().unwrap();
    direct.service_configurations().await.unwrap();
    assert_eq!(proxy.requests().len(), requests.len());
}
