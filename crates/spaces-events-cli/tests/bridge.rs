//! `spaces-events bridge` against a real NATS server (`nats-server -js`, from the pinned PyPI
//! wheel) and the simulator: every event once and in order, redundancy through SIGKILL, a NATS
//! outage, shared spaces, bad URLs and passwords.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use async_nats::jetstream;
use futures_util::TryStreamExt;
use serde_json::{Value, json};
use spaces_events_tests::nats::NatsServer;
use spaces_sim::{DEMO_SPACE, Scenario, Sim, Simulator};
use tokio::process::{Child, Command};

/// `spaces-events bridge` for `sim` and `nats`, output piped.
fn bridge(sim: &Sim, nats: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args([
            "bridge",
            "--url",
            sim.url(),
            "--api-url",
            sim.api_url(),
            "--nats",
            nats,
        ])
        .args(extra)
        .env("SPACES_TOKEN", sim.token())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs")
}

async fn sim() -> Sim {
    Simulator::new()
        .scenario(Scenario::default())
        .heartbeat(Duration::from_millis(300), Duration::from_millis(600))
        .start()
        .await
        .expect("the simulator starts")
}

async fn jetstream(nats: &NatsServer) -> jetstream::Context {
    jetstream::new(async_nats::connect(nats.url()).await.expect("NATS"))
}

/// Every message of the stream, in order: (subject, headers, payload).
async fn messages(
    js: &jetstream::Context,
    at_least: u64,
) -> Vec<(String, BTreeMap<String, String>, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut stream = loop {
        if let Ok(mut stream) = js.get_stream("SPACES").await
            && stream
                .info()
                .await
                .is_ok_and(|i| i.state.messages >= at_least)
        {
            break stream;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stream never had {at_least} messages"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut out = Vec::new();
    for seq in 1..=last {
        let Ok(m) = stream.get_raw_message(seq).await else {
            continue;
        };
        let headers = m
            .headers
            .iter()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.to_string(), v.to_string())))
            .collect();
        out.push((
            m.subject.to_string(),
            headers,
            String::from_utf8(m.payload.to_vec()).unwrap(),
        ));
    }
    out
}

fn event(space: &str, n: u32) -> Value {
    json!({ "_id": format!("ev-{n}"), "topicId": space, "category": "app.event.attendee.added",
        "content": { "attendee": { "_id": format!("u{n}"), "displayname": format!("P{n}") } } })
}

async fn terminate(mut child: Child) -> Option<i32> {
    let pid = child.id().expect("running").to_string();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits")
        .unwrap();
    status.code()
}

#[tokio::test]
async fn every_event_lands_once_in_order_with_its_subject_headers_and_meeting_state() {
    let nats = NatsServer::start().await;
    let sim = sim().await;
    let child = bridge(&sim, &nats.url(), &["--space", DEMO_SPACE]);
    sim.subscribed(DEMO_SPACE, 1).await;
    let meeting = Scenario::meeting(SystemTime::now());
    sim.play(&meeting, 50.0).await;
    let js = jetstream(&nats).await;
    let got = messages(&js, meeting.steps.len() as u64).await;
    assert_eq!(got.len(), meeting.steps.len());
    for (step, (subject, headers, payload)) in meeting.steps.iter().zip(&got) {
        let category = step.payload["category"].as_str().unwrap();
        assert_eq!(*subject, format!("spaces.{DEMO_SPACE}.{category}"));
        assert_eq!(
            *payload,
            serde_json::to_string(&step.payload).unwrap(),
            "the wire JSON, byte for byte"
        );
        assert_eq!(
            headers["Nats-Msg-Id"],
            format!("{DEMO_SPACE}:{}", step.payload["_id"].as_str().unwrap())
        );
        assert_eq!(headers["Spaces-Category"], category);
        assert_eq!(headers["Spaces-Topic"], DEMO_SPACE);
        assert!(headers["Spaces-Received"].parse::<u64>().is_ok());
    }
    // The meeting's state, in the bucket.
    let kv = js.get_key_value("spaces_meetings").await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let state: Value = kv
            .get(DEMO_SPACE)
            .await
            .unwrap()
            .map(|b| serde_json::from_slice(&b).unwrap())
            .unwrap_or_default();
        if state["recordings"][0]["state"] == "ready" {
            assert_eq!(
                (
                    state["status"].as_str(),
                    state["attendees"].as_array().map(Vec::len)
                ),
                (Some("inactive"), Some(0))
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the meeting state never arrived: {state}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(terminate(child).await, Some(0));
}

#[tokio::test]
async fn two_bridges_one_killed_every_event_once() {
    let nats = NatsServer::start().await;
    let sim = sim().await;
    let a = bridge(&sim, &nats.url(), &["--space", DEMO_SPACE]);
    let mut b = bridge(&sim, &nats.url(), &["--space", DEMO_SPACE]);
    sim.subscribed(DEMO_SPACE, 2).await;
    for n in 0..100 {
        sim.emit("MEDIA_SESSION_RESPONSE", &event(DEMO_SPACE, n))
            .await;
    }
    b.kill().await.unwrap(); // SIGKILL, mid-stream
    for n in 100..200 {
        sim.emit("MEDIA_SESSION_RESPONSE", &event(DEMO_SPACE, n))
            .await;
    }
    let got = messages(&jetstream(&nats).await, 200).await;
    let ids: Vec<&str> = got
        .iter()
        .map(|(_, h, _)| h["Nats-Msg-Id"].as_str())
        .collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!((ids.len(), unique.len()), (200, 200), "each event once");
    assert_eq!(terminate(a).await, Some(0));
}

#[tokio::test]
async fn a_nats_outage_loses_nothing_and_keeps_the_spaces_connection() {
    let mut nats = NatsServer::start().await;
    let sim = sim().await;
    let child = bridge(&sim, &nats.url(), &["--space", DEMO_SPACE]);
    sim.subscribed(DEMO_SPACE, 1).await;
    for n in 0..50 {
        sim.emit("MEDIA_SESSION_RESPONSE", &event(DEMO_SPACE, n))
            .await;
    }
    messages(&jetstream(&nats).await, 50).await;
    nats.stop().await;
    for n in 50..100 {
        sim.emit("MEDIA_SESSION_RESPONSE", &event(DEMO_SPACE, n))
            .await;
    }
    // Several heartbeat periods of the simulator (300 ms / 600 ms) with NATS away.
    tokio::time::sleep(Duration::from_secs(3)).await;
    nats.restart().await;
    for n in 100..150 {
        sim.emit("MEDIA_SESSION_RESPONSE", &event(DEMO_SPACE, n))
            .await;
    }
    let got = messages(&jetstream(&nats).await, 150).await;
    let ids: Vec<String> = got
        .iter()
        .map(|(_, h, _)| h["Nats-Msg-Id"].clone())
        .collect();
    let expected: Vec<String> = (0..150).map(|n| format!("{DEMO_SPACE}:ev-{n}")).collect();
    assert_eq!(ids, expected, "every event once, in order");
    assert_eq!(
        sim.connections(),
        1,
        "the Spaces connection was never dropped"
    );
    assert_eq!(terminate(child).await, Some(0));
}

#[tokio::test]
async fn leases_share_twelve_spaces_among_three_bridges_and_survive_one_killed() {
    let nats = NatsServer::start().await;
    let sim = sim().await;
    let spaces: Vec<String> = (0..12)
        .map(|n| format!("5f1051f0f3ed772f915e{n:04x}"))
        .collect();
    let file = std::env::temp_dir().join(format!("spaces-{}.txt", std::process::id()));
    std::fs::write(&file, spaces.join("\n")).unwrap();
    let args = [
        "--lease",
        "--lease-ttl",
        "2",
        "--spaces-file",
        file.to_str().unwrap(),
    ];
    let mut bridges: Vec<Child> = (0..3).map(|_| bridge(&sim, &nats.url(), &args)).collect();
    let js = jetstream(&nats).await;
    let owners =
        async |want: &dyn Fn(&BTreeMap<String, String>) -> bool| -> BTreeMap<String, String> {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                if let Ok(kv) = js.get_key_value("spaces_leases").await {
                    let keys: Vec<String> = kv.keys().await.unwrap().try_collect().await.unwrap();
                    let mut owners = BTreeMap::new();
                    for key in keys.iter().filter(|k| k.starts_with("space.")) {
                        if let Ok(Some(owner)) = kv.get(key).await {
                            owners.insert(key.clone(), String::from_utf8(owner.to_vec()).unwrap());
                        }
                    }
                    if want(&owners) {
                        return owners;
                    }
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the claims never settled"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
    let pid = |child: &Child| format!("{}-", child.id().unwrap());
    let pids: Vec<String> = bridges.iter().map(pid).collect();
    // Each space held by exactly one bridge (one slot each), every bridge holding its share.
    let settled = owners(&|o| {
        o.len() == 12
            && pids
                .iter()
                .all(|p| o.values().filter(|v| v.starts_with(p.as_str())).count() == 4)
    })
    .await;
    for space in &spaces {
        assert_eq!(
            settled
                .keys()
                .filter(|k| k.contains(space.as_str()))
                .count(),
            1,
            "{space}"
        );
    }
    // Kill one: its spaces go to the two others.
    let dead = bridges.remove(0);
    let dead_pid = pid(&dead);
    let mut dead = dead;
    dead.kill().await.unwrap();
    let killed = std::time::Instant::now();
    let alive: Vec<String> = bridges.iter().map(pid).collect();
    let taken = owners(&|o| {
        o.len() == 12
            && o.values()
                .all(|v| alive.iter().any(|p| v.starts_with(p.as_str())))
    })
    .await;
    // Reported, not asserted (no timed assertions): TTL 2 s, renewals every 0.67 s.
    eprintln!("taken over {:?} after the SIGKILL", killed.elapsed());
    let moved: Vec<String> = settled
        .iter()
        .filter(|(_, v)| v.starts_with(dead_pid.as_str()))
        .map(|(k, _)| k.split('.').nth(1).unwrap().to_owned())
        .collect();
    assert_eq!(moved.len(), 4);
    assert!(taken.len() == 12);
    // Every event emitted once the new holders subscribed lands (the first holder's
    // subscription, then the new one's).
    for space in &moved {
        sim.subscribed(space, 2).await;
    }
    for (n, space) in spaces.iter().enumerate() {
        sim.emit("MEDIA_SESSION_RESPONSE", &event(space, n as u32))
            .await;
    }
    let got = messages(&js, 12).await;
    let landed: BTreeSet<String> = got
        .iter()
        .map(|(_, h, _)| h["Spaces-Topic"].clone())
        .collect();
    assert_eq!(landed, spaces.iter().cloned().collect());
    for child in bridges {
        assert_eq!(terminate(child).await, Some(0));
    }
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn a_bad_nats_url_or_password_is_a_clear_error_and_exit_6() {
    let sim = sim().await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = bridge(
        &sim,
        &format!("nats://127.0.0.1:{closed}"),
        &["--space", DEMO_SPACE],
    )
    .wait_with_output()
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(
        stderr.contains(&format!("NATS at nats://127.0.0.1:{closed}")),
        "{stderr}"
    );
    assert_eq!(sim.connections(), 0, "Spaces is not even tried");

    let nats = NatsServer::start_with(&["--user", "bridge", "--pass", "right-password"]).await;
    let url = format!("nats://bridge:wrong-password@127.0.0.1:{}", nats.port);
    let out = bridge(&sim, &url, &["--space", DEMO_SPACE])
        .wait_with_output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert!(stderr.to_lowercase().contains("author"), "{stderr}");
    assert!(
        !stderr.contains("wrong-password"),
        "the password is not printed: {stderr}"
    );
}
