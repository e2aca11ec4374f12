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
    python()?;
    Ok(())
}

/// Builds the Python package into a venv under `target/` (as `pip install .` does for users)
/// and runs the pytest suite on the installed package.
fn python() -> Result {
    let root = root();
    let venv = root.join("target/py-venv");
    let bin = venv.join("bin");
    if !bin.join("python").exists() {
        step("python3 -m venv target/py-venv");
        exec(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    // maturin, run by pip's build hook, is found on PATH.
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))?;
    let pip = |args: &[&str]| {
        let mut command = Command::new(bin.join("python"));
        command
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(args)
            .env("PATH", &path);
        command
    };
    step("pip install -r tests/python/requirements.txt");
    exec(pip(&["-r", "tests/python/requirements.txt"]).current_dir(&root))?;
    step("pip install . (the spaces_events package, built by maturin)");
    exec(
        pip(&[
            "--no-build-isolation",
            "--force-reinstall",
            "--no-deps",
            ".",
        ])
        .current_dir(&root),
    )?;
    step("pytest");
    exec(
        Command::new(bin.join("python"))
            .args(["-m", "pytest", "-q"])
            .env("PATH", &path)
            .current_dir(&root),
    )
}

/// Runs a command; a non-zero exit is an error.
fn exec(command: &mut Command) -> Result {
    let status = command.status().map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})").into())
    }
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
pub(crate) fn cargo(args: &[&str]) -> Result {
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
