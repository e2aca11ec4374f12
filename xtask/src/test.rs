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
    let venv = PythonEnv::install(&[])?;
    step("pytest");
    exec(venv.python().args(["-m", "pytest", "-q"]))
}

/// `target/py-venv` with the test requirements (and `extra` ones) and the package installed.
pub(crate) struct PythonEnv {
    bin: std::path::PathBuf,
    path: std::ffi::OsString,
}

impl PythonEnv {
    pub(crate) fn install(extra: &[&str]) -> Result<Self> {
        let root = root();
        let venv = root.join("target/py-venv");
        let bin = venv.join("bin");
        if !bin.join("python").exists() {
            step("python3 -m venv target/py-venv");
            exec(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        }
        // maturin, run by pip's build hook, is found on PATH.
        let path = std::env::join_paths(std::iter::once(bin.clone()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))?;
        let env = PythonEnv { bin, path };
        for requirements in
            std::iter::once("tests/python/requirements.txt").chain(extra.iter().copied())
        {
            step(&format!("pip install -r {requirements}"));
            exec(env.pip().args(["-r", requirements]))?;
        }
        step("pip install . (the spaces_events package, built by maturin)");
        exec(env.pip().args([
            "--no-build-isolation",
            "--force-reinstall",
            "--no-deps",
            ".",
        ]))?;
        Ok(env)
    }

    /// `python`, in the workspace root, with the venv first on PATH.
    pub(crate) fn python(&self) -> Command {
        let mut command = Command::new(self.bin.join("python"));
        command.env("PATH", &self.path).current_dir(root());
        command
    }

    fn pip(&self) -> Command {
        let mut command = self.python();
        command.args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ]);
        command
    }
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
