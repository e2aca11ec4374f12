//! The Rust examples of the README and the documentation site (`docs/src/`) are
//! `crates/spaces-events/examples/{meeting,roster}.rs`, word for word, and they run: built by
//! `cargo test --workspace`, run here against the simulator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use spaces_events_tests::example;
use spaces_sim::{DEMO_SPACE, Simulator};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The README's and the documentation pages' Markdown.
fn pages() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("docs/src") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(std::fs::read_to_string(&path).expect("a page"));
            }
        }
    }
    let mut pages = vec![std::fs::read_to_string(root().join("README.md")).expect("README.md")];
    walk(&root().join("docs/src"), &mut pages);
    pages
}

/// The fenced blocks in `language` of the README and the documentation pages.
fn blocks(language: &str) -> Vec<String> {
    let fence = format!("```{language}\n");
    pages()
        .iter()
        .flat_map(|page| {
            page.split(&fence)
                .skip(1)
                .map(|rest| {
                    rest.split("```\n")
                        .next()
                        .expect("a closed block")
                        .to_owned()
                })
                .collect::<Vec<_>>()
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
            "the README or a docs page must show {path} as it is"
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
