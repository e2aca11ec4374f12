//! The bridge as a library (`Bridge`, `Sources`) against the simulator and a real nats-server,
//! and the consumer example reading what it published.

use std::time::{Duration, SystemTime};

use spaces_events::client::Client;
use spaces_events::rest::Rest;
use spaces_events_nats::{Bridge, Config};
use spaces_events_tests::example;
use spaces_events_tests::nats::NatsServer;
use spaces_sim::{DEMO_SPACE, Scenario, Simulator};

#[tokio::test]
async fn the_consumer_example_reads_what_the_library_bridged() {
    let nats = NatsServer::start().await;
    let sim = Simulator::new()
        .scenario(Scenario::default())
        .start()
        .await
        .unwrap();
    let client = Client::connect(sim.url(), sim.token()).await.unwrap();
    let rest = Rest::builder(sim.api_url())
        .token(sim.token())
        .build()
        .unwrap();
    let bridge = Bridge::new(
        async_nats::connect(nats.url()).await.unwrap(),
        Config::default(),
    )
    .await
    .unwrap();
    bridge
        .sources()
        .follow(&client, &rest, DEMO_SPACE)
        .await
        .unwrap();
    assert_eq!(bridge.sources().spaces(), [DEMO_SPACE]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stats = bridge.stats();
    let running = tokio::spawn(async move { bridge.run(stopped).await });
    let meeting = Scenario::meeting(SystemTime::now());
    sim.play(&meeting, 50.0).await;
    while stats
        .acknowledged
        .load(std::sync::atomic::Ordering::Relaxed)
        < meeting.steps.len() as u64
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();

    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(example("consume"))
            .args([nats.url().as_str(), "spaces.*.app.event.attendee.>", "4"])
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the example ends after 4 messages")
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        format!(
            "{DEMO_SPACE} app.event.attendee.added Bob (guest)\n{DEMO_SPACE} app.event.attendee.added +44 20 7946 0958\n\
             {DEMO_SPACE} app.event.attendee.left +44 20 7946 0958\n{DEMO_SPACE} app.event.attendee.left Bob (guest)\n"
        )
    );
}
