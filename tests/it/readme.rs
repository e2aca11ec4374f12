//! The README's Rust examples are `crates/spaces-events/examples/{meeting,roster}.rs`, word for
//! word, and they run: built by `cargo test --workspace`, run here against the simulator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use spaces_events_tests::example;
use spaces_sim::{DEMO_SPACE, Simulator};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The README's fenced blocks in `language`.
fn blocks(language: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let fence = format!("```{language}\n");
    readme
        .split(&fence)
        .skip(1)
        .map(|rest| {
            rest.split("```\n")
                .next()
                .expect("a closed block")
                .to_owned()
        })
        .collect()
}

#[test]
fn the_readme_shows_the_example_files() {
    for name in ["meeting", "roster"] {
        let path = format!("crates/spaces-events/examples/{name}.rs");
        let example = std::fs::read_to_string(root().join(&path)).unwrap();
        assert!(
            blocks("rust").contains(&example),
            "README.md must show {path} as it is"
        );
    }
}

/// Runs `program` with `args` and the simulator's token; its stdout once it succeeded.
async fn run(program: PathBuf, args: &[&str], token: &str) -> String {
    let run = tokio::process::Command::new(program)
        .args(args)
        .env("SPACES_TOKEN", token)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("ends with the meeting")
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_roster_example_follows_the_meeting() {
    let sim = Simulator::new().start().await.unwrap();
    let stdout = run(
        example("roster"),
        &[DEMO_SPACE, sim.url(), sim.api_url()],
        sim.token(),
    )
    .await;
    assert!(
        stdout.contains("attendee.joined (event): [Ann Lee, Bob (guest)]\n"),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("recording.ready (event): []\n"),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_readme_example_runs_against_the_simulator() {
    let sim = Simulator::new().start().await.unwrap();
    let stdout = run(example("meeting"), &[DEMO_SPACE, sim.url()], sim.token()).await;
    assert!(stdout.contains("joined: Bob"), "{stdout}");
    assert!(stdout.ends_with("meeting over\n"), "{stdout}");
}
