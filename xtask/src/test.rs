//! `cargo xtask test`: every check and test suite of the project, in the order CI needs them.

use std::process::Command;

use crate::{Result, codegen, root};

pub(crate) fn run() -> Result {
    cargo(&["fmt", "--all", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    step("codegen --check");
    codegen::run(true)?;
    npm_ci()?;
    cargo(&["test", "--workspace", "--locked"])?;
    Ok(())
}

/// Installs the Node peers (socket.io 2.0.4 server and client) from the committed lockfile.
fn npm_ci() -> Result {
    let dir = root().join("tests/peers");
    step("npm ci (tests/peers)");
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .status()
        .map_err(|e| format!("npm: {e} (Node.js and npm are needed for the peer tests)"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`npm ci` in tests/peers failed ({status})").into())
    }
}

fn step(what: &str) {
    eprintln!("\n==> {what}");
}

/// Runs `cargo <args>` in the workspace root; a non-zero exit is an error naming the command.
fn cargo(args: &[&str]) -> Result {
    let shown = format!("cargo {}", args.join(" "));
    step(&shown);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(root())
        .status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})").into())
    }
}
