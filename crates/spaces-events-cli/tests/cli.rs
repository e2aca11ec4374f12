//! The `spaces-events` binary on the fixture corpus.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use spaces_events_tests::fixtures;

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A fixture as one line (JSON strings cannot hold raw newlines, so this keeps the value).
fn one_line(text: &str) -> String {
    text.trim_end().replace('\n', " ")
}

#[test]
fn decode_is_lossless_on_every_valid_fixture_and_names_every_invalid_line() {
    let (valid, invalid) = (fixtures("valid"), fixtures("invalid"));
    // Interleave: valid, invalid, valid, ... so line numbers are checked, then the rest.
    let mut lines = Vec::new();
    let mut expected_errors = Vec::new();
    let mut expected_out = Vec::new();
    let mut bad = invalid.iter();
    for (_, text) in &valid {
        lines.push(one_line(text));
        expected_out.push(serde_json::from_str::<Value>(text).unwrap());
        if let Some((name, text)) = bad.next() {
            lines.push(one_line(text));
            expected_errors.push((lines.len(), name));
        }
    }
    assert!(bad.next().is_none(), "more invalid than valid fixtures");

    let output = run(&["decode", "-"], &lines.join("\n"));
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(printed.len(), valid.len());
    for ((line, expected), (name, _)) in printed.iter().zip(&expected_out).zip(&valid) {
        assert_eq!(
            &serde_json::from_str::<Value>(line).unwrap(),
            expected,
            "{name}"
        );
    }
    let stderr = String::from_utf8(output.stderr).unwrap();
    let messages: Vec<&str> = stderr.lines().collect();
    assert_eq!(messages.len(), expected_errors.len(), "{stderr}");
    for (message, (number, name)) in messages.iter().zip(&expected_errors) {
        assert!(
            message.starts_with(&format!("line {number}: ")),
            "{name}: {message}"
        );
    }
}

#[test]
fn decode_exits_zero_when_all_lines_are_valid() {
    let input: Vec<String> = fixtures("valid").iter().map(|(_, t)| one_line(t)).collect();
    let output = run(&["decode"], &input.join("\n"));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.stderr.is_empty());
}

#[test]
fn decode_reads_a_file_and_reports_a_missing_one() {
    let path = spaces_events_tests::fixtures_dir().join("invalid/sender_string.json");
    let output = run(&["decode", path.to_str().unwrap()], "");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "line 1: `sender` must be an object, got a string (column 62)\n"
    );
    let output = run(&["decode", "/nonexistent/x.jsonl"], "");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn schema_prints_the_media_session_response_schema() {
    let output = run(&["schema"], "");
    assert_eq!(output.status.code(), Some(0));
    let schema: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["title"], "MediaSessionResponse");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    let output = run(&["schema", "subscription"], "");
    let schema: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(schema["definitions"]["SubscribeChannelFailed"].is_object());
}
