//! `demo`, and `record` then `sim --scenario` replay, end to end through the binary.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use spaces_events_tests::validator;
use spaces_sim::{DEMO_SPACE, Simulator};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_spaces-events"));
    command
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

async fn output(command: &mut Command) -> (Option<i32>, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("exits in time")
        .expect("runs");
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn demo_shows_the_whole_meeting_and_exits_0() {
    let (code, stdout, stderr) = output(bin().args(["demo", "--format", "jsonl"])).await;
    assert_eq!(code, Some(0), "{stderr}");
    let schema = validator(None);
    let mut categories = Vec::new();
    for line in stdout.lines() {
        assert!(
            schema.is_valid(&serde_json::from_str::<Value>(line).unwrap()),
            "{line}"
        );
        categories.push(spaces_events::decode(line).unwrap().category());
    }
    for documented in spaces_events_tests::DOCUMENTED_CATEGORIES {
        assert!(
            categories.contains(&documented),
            "{documented:?} missing in {stdout}"
        );
    }
    assert!(
        stderr.contains("3 attended: Ann Lee, Bob (guest), +44 20 7946 0958")
            && stderr.contains("recording rec-6743f2, started by Ann Lee: ready"),
        "the summary: {stderr}"
    );
    let (code, pretty, _) = output(bin().args(["demo"])).await;
    assert_eq!(code, Some(0));
    assert_eq!(pretty.lines().count(), categories.len());
    assert!(
        pretty.contains("app.event.attendee.added") && pretty.contains("Bob (guest)"),
        "{pretty}"
    );
}

/// `record` of the built-in meeting from a simulator of its own into `file`; its stdout.
async fn record(file: &std::path::Path, extra: &[&str]) -> String {
    let sim = Simulator::new().start().await.unwrap();
    let steps = sim.scenario().steps.len().to_string();
    let (code, stdout, stderr) = output(
        bin()
            .args(["record", "--url", sim.url(), "--space", DEMO_SPACE])
            .args(["--format", "jsonl", "--max-events", &steps, "--out"])
            .arg(file)
            .args(extra)
            .env("SPACES_TOKEN", sim.token()),
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    stdout
}

fn lines_as_json(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_recording_replays_as_it_was_received() {
    let dir = std::env::temp_dir().join(format!("spaces-events-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("meeting.jsonl");
    let steps = spaces_sim::Scenario::meeting(std::time::SystemTime::now())
        .steps
        .len();
    std::fs::write(&file, "stale\n").unwrap();
    let recorded_out = record(&file, &[]).await;
    let recording = std::fs::read_to_string(&file).unwrap();
    let payloads: Vec<Value> = lines_as_json(&recording)
        .into_iter()
        .map(|mut l| l["payload"].take())
        .collect();
    assert_eq!(payloads.len(), steps, "an existing file is replaced");
    assert_eq!(lines_as_json(&recorded_out), payloads);

    // `decode` reads a recording as it reads payloads.
    let (code, decoded, stderr) = output(bin().arg("decode").arg(&file)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lines_as_json(&decoded), payloads);

    // Replay it from a second simulator, run by the binary.
    let (replay, url) = start_sim(&[
        "--token",
        "replay-token",
        "--scenario",
        file.to_str().unwrap(),
    ])
    .await;
    let (code, watched, stderr) = output(
        bin()
            .args([
                "watch", "--url", &url, "--space", DEMO_SPACE, "--format", "jsonl",
            ])
            .args(["--max-events", &steps.to_string()])
            .env("SPACES_TOKEN", "replay-token"),
    )
    .await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lines_as_json(&watched), payloads);
    drop(replay);

    // `--append` adds a second session after the first, in time too.
    record(&file, &["--append"]).await;
    let times: Vec<u64> = lines_as_json(&std::fs::read_to_string(&file).unwrap())
        .iter()
        .map(|l| l["at_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(times.len(), 2 * steps);
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_bad_scenario_file_is_named_with_its_line() {
    let file = std::env::temp_dir().join(format!("spaces-events-bad-{}.jsonl", std::process::id()));
    std::fs::write(
        &file,
        "{\"at_ms\":0,\"payload\":{\"category\":\"x\"}}\nnot json\n",
    )
    .unwrap();
    let (code, _, stderr) = output(bin().args(["sim", "--scenario"]).arg(&file)).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("line 2: "), "{stderr}");
    let _ = std::fs::remove_file(&file);
}

/// `sim` in the background; its URL (read off its stdout, all four lines it prints, so that
/// none is written to a closed pipe).
async fn start_sim(args: &[&str]) -> (tokio::process::Child, String) {
    let mut sim = bin().arg("sim").args(args).spawn().expect("runs");
    let mut lines = BufReader::new(sim.stdout.take().expect("stdout")).lines();
    // Every line it prints (until `spaces:`, the last): a pipe closed early would make its
    // next print fail.
    let mut printed = Vec::new();
    while !printed
        .last()
        .is_some_and(|l: &String| l.starts_with("spaces:"))
    {
        printed.push(
            lines
                .next_line()
                .await
                .unwrap()
                .expect("url, api, identity, token, spaces"),
        );
    }
    let url = printed[0]
        .strip_prefix("url: ")
        .expect("url first")
        .to_owned();
    assert!(
        printed[1].starts_with("api: http://127.0.0.1:"),
        "{printed:?}"
    );
    (sim, url)
}

/// What `sim` logged on stderr until it was stopped.
async fn sim_log(mut sim: tokio::process::Child) -> String {
    sim.start_kill().unwrap();
    let out = sim.wait_with_output().await.unwrap();
    String::from_utf8(out.stderr).unwrap()
}

#[tokio::test]
async fn sim_explains_itself_and_refuses_or_rejects_on_request() {
    let (sim, url) = start_sim(&["--refuse-space", "closed-space"]).await;
    let watch = |space: &'static str| {
        let mut command = bin();
        command
            .args([
                "watch", "--url", &url, "--space", space, "--format", "jsonl",
            ])
            .args(["--max-events", "11"])
            .env("SPACES_TOKEN", spaces_sim::DEFAULT_TOKEN);
        command
    };
    let (code, _, stderr) = output(&mut watch("closed-space")).await;
    assert_eq!(code, Some(4), "{stderr}");
    let (code, _, stderr) = output(&mut watch("")).await;
    assert_eq!(code, Some(4), "an empty space id is refused: {stderr}");
    let (code, stdout, stderr) = output(&mut watch(DEMO_SPACE)).await;
    assert_eq!((code, stdout.lines().count()), (Some(0), 11), "{stderr}");
    let log = sim_log(sim).await;
    for line in [
        "client connected",
        "subscription refused (not.a.member)",
        "subscription refused: no space id",
        "subscribed",
        "scenario started",
        "scenario finished; it plays once",
    ] {
        assert!(log.contains(line), "{line:?} not in {log}");
    }
    assert!(
        !log.contains('\x1b'),
        "no colour codes off a terminal: {log:?}"
    );

    let (sim, url) = start_sim(&["--reject-token"]).await;
    let (code, _, stderr) = output(
        bin()
            .args(["watch", "--url", &url, "--space", DEMO_SPACE])
            .env("SPACES_TOKEN", spaces_sim::DEFAULT_TOKEN),
    )
    .await;
    assert_eq!(code, Some(3), "{stderr}");
    assert!(sim_log(sim).await.contains("client rejected"));
}
