//! Where Spaces is and which spaces to follow, asked of the REST API: `--discover` (service
//! configurations, and the regional cluster of an address) and `--all-spaces` (the paged list,
//! re-listed on a timer and on a space's change, followed and dropped without a restart, at a
//! pace; a refused space reported, the others followed), against the simulator.

use std::process::Stdio;
use std::time::Duration;

use spaces_events_tests::peer::media_event;
use spaces_events_tests::{finish, quiet_sim};
use spaces_sim::{DEMO_SPACE, Scenario, Sim, Simulator};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `spaces-events <args>` with the simulator's token, output piped.
fn run(token: &str, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args(args)
        .env("SPACES_TOKEN", token)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs")
}

async fn emit(sim: &Sim, space: &str, n: u32) {
    sim.emit("MEDIA_SESSION_RESPONSE", &media_event(space, n))
        .await;
}

#[tokio::test]
async fn discover_finds_the_socket_and_the_regional_cluster() {
    let region = quiet_sim().await;
    let global = Simulator::new()
        .scenario(Scenario::default())
        .flavor(
            "eu",
            region.api_url().trim_end_matches("/api"),
            region.url().trim_end_matches("/chat"),
            &["ann@eu.example"],
        )
        .start()
        .await
        .unwrap();
    for (sim, discover, nth) in [
        (&global, "--discover", 1),
        (&global, "--discover=bob@global.example", 2),
        (&region, "--discover=ann@eu.example", 1),
    ] {
        let child = run(
            global.token(),
            &[
                "watch",
                discover,
                "--api-url",
                global.api_url(),
                "--space",
                "s1",
                "--format",
                "jsonl",
                "--max-events",
                "1",
            ],
        );
        sim.subscribed("s1", nth).await;
        emit(sim, "s1", 1).await;
        let (code, stdout, stderr) = finish(child).await;
        assert_eq!(code, Some(0), "{discover}: {stderr}");
        assert!(stdout.contains("event-1"), "{stdout}");
        let socket = sim.url().replace("http://", "ws://");
        assert!(
            stderr.contains(&format!("discovered socket {socket}")),
            "{stderr}"
        );
        assert_eq!(
            stderr.contains("cluster eu"),
            discover.contains("ann@"),
            "{stderr}"
        );
    }
    assert_eq!(global.subscriptions_to("s1"), 2);
    assert_eq!(region.subscriptions_to("s1"), 1);

    // A REST API that names no socket server: a clear error, exit 5.
    global.rest_fault(spaces_sim::RestFault::Status(404));
    let (code, _, stderr) = finish(run(
        global.token(),
        &[
            "watch",
            "--discover",
            "--api-url",
            global.api_url(),
            "--space",
            "s1",
        ],
    ))
    .await;
    assert_eq!(code, Some(5), "{stderr}");
    assert!(
        stderr.contains("error: discovering where Spaces is: GET /service-configurations"),
        "{stderr}"
    );
}

/// `watch --all-spaces` on `sim`, re-listing every `relist` seconds.
fn watch_all(sim: &Sim, relist: &str, max_events: &str) -> Child {
    run(
        sim.token(),
        &[
            "watch",
            "--url",
            sim.url(),
            "--api-url",
            sim.api_url(),
            "--all-spaces",
            "--relist",
            relist,
            "--subscribe-rate",
            "2000",
            "--format",
            "jsonl",
            "--max-events",
            max_events,
        ],
    )
}

#[tokio::test]
async fn watch_all_spaces_follows_the_list_as_it_changes() {
    let sim = quiet_sim().await;
    // Three pages (the simulator serves 100 at most), and one space that refuses.
    let mut spaces: Vec<String> = (0..250).map(|n| format!("space-{n:03}")).collect();
    spaces.push("space-refused".into());
    sim.refuse_space("space-refused");
    sim.set_spaces(&spaces);
    let child = watch_all(&sim, "3600", "3");
    for space in &spaces[..250] {
        sim.subscribed(space, 1).await;
    }
    assert!(sim.space_listings() >= 3, "every page was asked for");

    // A space changes: the MESSAGE_SENT about it makes the client list again at once (the
    // timer is an hour away): space-000 is gone, space-new is followed.
    spaces.retain(|s| s != "space-000");
    spaces.push("space-new".into());
    sim.set_spaces(&spaces);
    let changed = serde_json::json!({
        "category": "topic.updated", "topicId": "space-001", "content": { "title": "Renamed" }
    });
    sim.emit("MESSAGE_SENT", &changed).await;
    sim.subscribed("space-new", 1).await;
    sim.unsubscribed("space-000", 1).await;
    emit(&sim, "space-000", 1).await; // nobody hears this one
    emit(&sim, "space-new", 2).await;
    emit(&sim, "space-249", 3).await;
    emit(&sim, "space-001", 4).await;

    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    let ids: Vec<String> = stdout
        .lines()
        .map(|l| spaces_events::decode(l).unwrap().id().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["event-2", "event-3", "event-4"]);
    assert!(
        stderr.contains("warning: space-refused: subscription to space space-refused refused"),
        "a refused space is reported: {stderr}"
    );
    assert!(stderr.contains("dropped space-000"), "{stderr}");
    assert!(stderr.contains("listed 251 space(s)"), "{stderr}");
}

#[tokio::test]
async fn the_list_is_asked_again_on_a_timer() {
    let sim = quiet_sim().await;
    sim.set_spaces(&["a"]);
    let child = watch_all(&sim, "0.2", "1");
    sim.subscribed("a", 1).await;
    sim.set_spaces(&["b"]);
    sim.subscribed("b", 1).await;
    sim.unsubscribed("a", 1).await;
    emit(&sim, "b", 1).await;
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("event-1"));
}

#[tokio::test]
async fn meeting_all_spaces_shows_each_listed_meeting() {
    let sim = Simulator::new().start().await.unwrap();
    sim.set_spaces(&[DEMO_SPACE, "quiet-space"]);
    let mut child = run(
        sim.token(),
        &[
            "meeting",
            "--url",
            sim.url(),
            "--api-url",
            sim.api_url(),
            "--all-spaces",
            "--format",
            "jsonl",
        ],
    );
    sim.subscribed("quiet-space", 1).await;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // The built-in meeting plays in DEMO_SPACE from its first subscription.
    loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("a change in time")
            .unwrap()
            .expect("a line");
        let change: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(
            change["space"] == DEMO_SPACE || change["space"] == "quiet-space",
            "{line}"
        );
        if change["space"] == DEMO_SPACE && change["change"] == "attendee.joined" {
            break;
        }
    }
    child.start_kill().unwrap();
}
