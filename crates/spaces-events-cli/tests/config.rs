//! `--config FILE` and `SPACES_*` for the bridge, against the simulator and a real
//! nats-server: the file sets options, the environment overrides it, the command line both; an
//! unknown key names its line; SIGHUP reads the spaces again without touching the others.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use spaces_events_tests::nats::NatsServer;
use spaces_events_tests::{finish, quiet_sim, sigterm};
use spaces_sim::Sim;
use tokio::process::{Child, Command};

fn bridge(args: &[&str], env: &[(&str, &str)], token: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .arg("bridge")
        .args(args)
        .envs(env.iter().copied())
        .env("SPACES_TOKEN", token)
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs")
}

/// A file of this test's own with `text`, removed when dropped.
struct File(PathBuf);

impl Drop for File {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl std::ops::Deref for File {
    type Target = PathBuf;

    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

fn file(name: &str, text: &str) -> File {
    let path = std::env::temp_dir().join(format!("{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    File(path)
}

async fn emit(sim: &Sim, space: &str, n: u32) {
    let payload = json!({ "_id": format!("ev-{n}"), "topicId": space,
        "category": "app.event.attendee.added", "content": {} });
    sim.emit("MEDIA_SESSION_RESPONSE", &payload).await;
}

#[tokio::test]
async fn the_file_sets_options_the_environment_and_the_command_line_override() {
    let nats = NatsServer::start().await;
    let sim = quiet_sim().await;
    let dead = "nats://127.0.0.1:1";
    let config = file(
        "bridge.toml",
        &format!(
            "# a bridge\nurl = \"{}\"\napi-url = \"{}\"\nnats = [\"{dead}\"]\nspace = [\"a\"]\n\
             max-events = 1\nlease = false\n",
            sim.url(),
            sim.api_url()
        ),
    );
    let config = config.to_str().unwrap();
    // SPACES_NATS overrides the file's dead server; --max-events 2 overrides its 1.
    let child = bridge(
        &["--config", config, "--max-events", "2"],
        &[("SPACES_NATS", &nats.url())],
        sim.token(),
    );
    sim.subscribed("a", 1).await;
    emit(&sim, "a", 1).await;
    emit(&sim, "a", 2).await;
    let (code, stdout, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "2 events acknowledged\n");
    // --nats overrides SPACES_NATS.
    let child = bridge(
        &["--config", config, "--nats", &nats.url()],
        &[("SPACES_NATS", dead)],
        sim.token(),
    );
    sim.subscribed("a", 2).await;
    emit(&sim, "a", 3).await;
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test]
async fn an_unknown_key_or_a_bad_value_names_its_line() {
    let config = file(
        "typo.toml",
        "nats = [\"nats://127.0.0.1:4222\"]\n\n  lease-tll = 5\n",
    );
    let (code, _, stderr) = finish(bridge(&["--config", config.to_str().unwrap()], &[], "t")).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--config {}, line 3: `lease-tll`: not an option of `bridge`",
            config.display()
        )),
        "{stderr}"
    );
    let config = file("flag.toml", "lease = \"yes\"\n");
    let (code, _, stderr) = finish(bridge(&["--config", config.to_str().unwrap()], &[], "t")).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("line 1: `lease`: expected true or false"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sighup_reads_the_spaces_again_and_keeps_the_others() {
    let nats = NatsServer::start().await;
    let sim = quiet_sim().await;
    let spaces = file("spaces.txt", "a\n");
    let config = file(
        "reload.toml",
        &format!(
            "url = \"{}\"\napi-url = \"{}\"\nnats = [\"{}\"]\nspaces-file = \"{}\"\n",
            sim.url(),
            sim.api_url(),
            nats.url(),
            spaces.display()
        ),
    );
    let child = bridge(&["--config", config.to_str().unwrap()], &[], sim.token());
    let pid = child.id().unwrap().to_string();
    let hangup = || {
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap();
    };
    // Bounded: a bridge that stopped listening must fail the test, not hang it.
    let within = async |what: &str, wait: std::pin::Pin<Box<dyn Future<Output = ()> + '_>>| {
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .unwrap_or_else(|_| panic!("{what} within 30 s"));
    };
    within("a subscribed", Box::pin(sim.subscribed("a", 1))).await;
    std::fs::write(&*spaces, "a\nb\n").unwrap();
    hangup();
    within(
        "b subscribed after SIGHUP",
        Box::pin(sim.subscribed("b", 1)),
    )
    .await;
    std::fs::write(&*spaces, "b\n").unwrap();
    hangup();
    within("a dropped after SIGHUP", Box::pin(sim.unsubscribed("a", 1))).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        (sim.subscriptions_to("a"), sim.subscriptions_to("b")),
        (1, 1),
        "the kept subscription was never touched"
    );
    sigterm(&child);
    let (code, _, stderr) = finish(child).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("reloaded: 2 space(s)") && stderr.contains("dropped a"),
        "{stderr}"
    );
}
