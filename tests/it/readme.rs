//! The README's Rust example is `crates/spaces-events/examples/meeting.rs`, word for word, and it
//! runs: built by `cargo test --workspace`, run here against the simulator's meeting.

use std::path::{Path, PathBuf};
use std::time::Duration;

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
fn the_readme_shows_the_example_file() {
    let example =
        std::fs::read_to_string(root().join("crates/spaces-events/examples/meeting.rs")).unwrap();
    assert!(
        blocks("rust").contains(&example),
        "README.md must show crates/spaces-events/examples/meeting.rs as it is"
    );
}

#[tokio::test]
async fn the_readme_example_runs_against_the_simulator() {
    // Examples are built next to the test binaries (target/debug/examples).
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .join("examples/meeting");
    assert!(
        example.exists(),
        "{} is missing: run `cargo test --workspace`, which builds the examples",
        example.display()
    );
    let sim = Simulator::new().start().await.unwrap();
    let run = tokio::process::Command::new(&example)
        .args([DEMO_SPACE, sim.url()])
        .env("SPACES_TOKEN", sim.token())
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
    assert!(stdout.contains("joined: Bob"), "{stdout}");
    assert!(stdout.ends_with("meeting over\n"), "{stdout}");
}
