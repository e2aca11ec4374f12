//! `cargo xtask test`: every check and test suite of the project, in the order CI needs them.

use std::process::Command;

use crate::wheels::{self, Venv};
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
    debian(&[
        ("tinyproxy", "/usr/bin/tinyproxy"),
        ("chromium", "/usr/bin/chromium"),
    ]);
    cargo(&["test", "--workspace", "--locked"])?;
    // The chaos test in its short form (`cargo xtask chaos` is the long one).
    crate::chaos("45", "1")?;
    python()?;
    crate::docs::run(true)?;
    Ok(())
}

/// The pytest suite against the package as users install it: this machine's manylinux2014
/// wheel, in a fresh venv.
fn python() -> Result {
    let venv = python_env(&[])?;
    step("pytest");
    exec(venv.python().args(["-m", "pytest", "-q"]))
}

/// A fresh `target/py-venv` with the wheel built by [`wheels::host`], the test requirements and
/// `extra` ones; checks the package is imported from there (not from the source tree) and
/// shows how long `import spaces_events` takes.
pub(crate) fn python_env(extra: &[&str]) -> Result<Venv> {
    let wheel = wheels::host()?;
    let venv = Venv::create("target/py-venv", true)?;
    for requirements in
        std::iter::once("tests/python/requirements.txt").chain(extra.iter().copied())
    {
        venv.pip_requirements(requirements)?;
    }
    venv.pip(&[wheel.as_os_str()])?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let out = venv
            .python()
            .args([
                "-c",
                "import time; t = time.perf_counter(); import spaces_events; \
                 print(time.perf_counter() - t, spaces_events.__file__)",
            ])
            .output()?;
        let out = String::from_utf8_lossy(&out.stdout).into_owned();
        let (seconds, file) = out
            .trim()
            .split_once(' ')
            .ok_or("`import spaces_events` failed")?;
        if !file.contains("target/py-venv/") {
            return Err(format!("spaces_events was imported from {file}, not the wheel").into());
        }
        times.push(seconds.parse::<f64>()? * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "import spaces_events: {:.1} ms (best of 5; median {:.1} ms)",
        times[0], times[2]
    );
    Ok(venv)
}

/// Runs a command; a non-zero exit is an error.
pub(crate) fn exec(command: &mut Command) -> Result {
    let status = command.status().map_err(|e| format!("{command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed ({status})").into())
    }
}

/// Installs the Node peers (socket.io 2.0.4 server and client) from the committed lockfile.
pub(crate) fn npm_ci() -> Result {
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

/// Installs the Debian packages of real peers (`(package, a file it installs)`) that are not
/// there yet. Failing is not an error here: the tests that need one skip, naming the package.
fn debian(packages: &[(&str, &str)]) {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, file)| !std::path::Path::new(file).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return;
    }
    step(&format!("apt-get install {}", missing.join(" ")));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let installed = apt(&["update", "-qq"])
        && apt(&["install", "-y", "-qq", "--no-install-recommends"]
            .iter()
            .copied()
            .chain(missing.iter().copied())
            .collect::<Vec<_>>());
    if !installed {
        eprintln!(
            "warning: could not install {} with apt-get: the tests that need it will be skipped",
            missing.join(" ")
        );
    }
}

pub(crate) fn step(what: &str) {
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
