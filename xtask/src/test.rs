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
    cargo(&["test", "--workspace", "--locked"])?;
    Ok(())
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
