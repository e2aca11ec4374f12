//! `cargo xtask wheels`: the Python package as users install it, into `target/wheels/` — one
//! abi3 wheel per architecture for manylinux2014 (glibc 2.17: RHEL 7+, Ubuntu 16.04+, Amazon
//! Linux 2), linked by zig through maturin so no manylinux container is needed, stripped, its
//! tag checked by auditwheel — and an sdist, checked to build on its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::test::{exec, step};
use crate::{Result, root};

/// The architectures `cargo xtask wheels` builds (the first is this machine's).
const ARCHS: &[&str] = &["x86_64", "aarch64"];

/// `cargo xtask wheels`.
pub(crate) fn run() -> Result {
    let tools = tools()?;
    let mut built = Vec::new();
    for arch in ARCHS {
        if *arch != std::env::consts::ARCH {
            step(&format!("rustup target add {arch}-unknown-linux-gnu"));
            exec(Command::new("rustup").args([
                "target",
                "add",
                &format!("{arch}-unknown-linux-gnu"),
            ]))?;
        }
        built.push(build(&tools, arch)?);
    }
    step("maturin sdist");
    exec(
        tools
            .command("maturin")
            .args(["sdist", "--out", "target/wheels"]),
    )?;
    let sdist = std::fs::read_dir(root().join("target/wheels"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.to_string_lossy().ends_with(".tar.gz"))
        .max_by_key(|path| path.metadata().and_then(|m| m.modified()).ok())
        .ok_or("maturin wrote no sdist")?;
    // What a user without a wheel for their platform runs: a build from the sdist alone.
    step("pip wheel <sdist> (the sdist builds on its own)");
    let check = root().join("target/sdist-check");
    exec(
        tools
            .python()
            .args([
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
            ])
            .arg(&sdist)
            .arg("--wheel-dir")
            .arg(&check)
            .env("CARGO_TARGET_DIR", root().join("target/sdist-build")),
    )?;
    built.push(sdist);
    for path in built {
        println!("{:>9} bytes  {}", path.metadata()?.len(), path.display());
    }
    Ok(())
}

/// Builds (with the tools of `target/py-tools`) and checks the wheel for this machine; its path.
pub(crate) fn host() -> Result<PathBuf> {
    build(&tools()?, std::env::consts::ARCH)
}

/// `target/py-tools`: maturin, zig and auditwheel, pinned in `xtask/build-requirements.txt`.
fn tools() -> Result<Venv> {
    let tools = Venv::create("target/py-tools", false)?;
    tools.pip_requirements("xtask/build-requirements.txt")?;
    Ok(tools)
}

/// `maturin build` for `arch`, then the tag check; the wheel's path.
fn build(tools: &Venv, arch: &str) -> Result<PathBuf> {
    let dir = root().join("target/wheels");
    let tag = format!("manylinux2014_{arch}");
    let ours = |path: &Path| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        name.starts_with("spaces_events-") && name.contains(&tag) && name.ends_with(".whl")
    };
    if dir.exists() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if ours(&path) {
                std::fs::remove_file(path)?;
            }
        }
    }
    step(&format!("maturin build --zig ({tag}, abi3, stripped)"));
    exec(tools.command("maturin").args([
        "build",
        "--release",
        "--locked",
        "--zig",
        "--strip",
        "--compatibility",
        "manylinux2014",
        "--target",
        &format!("{arch}-unknown-linux-gnu"),
        "--out",
        "target/wheels",
    ]))?;
    let wheel = std::fs::read_dir(&dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| ours(path))
        .ok_or_else(|| format!("maturin wrote no {tag} wheel into {}", dir.display()))?;
    step(&format!("auditwheel show {}", wheel.display()));
    let shown = tools
        .command("auditwheel")
        .arg("show")
        .arg(&wheel)
        .output()?;
    let report = String::from_utf8_lossy(&shown.stdout);
    // auditwheel names the oldest policy the wheel's symbols allow; 2.17 is manylinux2014.
    let policy = format!("\"manylinux_2_17_{arch}\"");
    if !shown.status.success() || !report.contains(&policy) {
        return Err(format!(
            "{} is not manylinux2014 (auditwheel: {report}{})",
            wheel.display(),
            String::from_utf8_lossy(&shown.stderr)
        )
        .into());
    }
    println!(
        "{}: {policy} per auditwheel, {} bytes",
        wheel.display(),
        wheel.metadata()?.len()
    );
    Ok(wheel)
}

/// A Python virtual environment under `target/`.
pub(crate) struct Venv {
    bin: PathBuf,
    path: std::ffi::OsString,
}

impl Venv {
    /// Creates the venv at `dir` (relative to the workspace) if absent — or afresh, with
    /// `fresh`, so nothing installed before can stand in for what is tested.
    pub(crate) fn create(dir: &str, fresh: bool) -> Result<Venv> {
        let venv = root().join(dir);
        if fresh && venv.exists() {
            std::fs::remove_dir_all(&venv)?;
        }
        let bin = venv.join("bin");
        if !bin.join("python").exists() {
            step(&format!("python3 -m venv {dir}"));
            exec(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        }
        // Tools run by tools (maturin runs `python -m ziglang`) are found on PATH.
        let path = std::env::join_paths(std::iter::once(bin.clone()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))?;
        Ok(Venv { bin, path })
    }

    /// A program of the venv, run in the workspace root with the venv first on PATH.
    pub(crate) fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.env("PATH", &self.path).current_dir(root());
        command
    }

    /// `python` of the venv.
    pub(crate) fn python(&self) -> Command {
        self.command("python")
    }

    /// `pip install` of `args`, quietly.
    pub(crate) fn pip(&self, args: &[&std::ffi::OsStr]) -> Result {
        step(&format!(
            "pip install {}",
            args.iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ));
        exec(
            self.python()
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(args),
        )
    }

    /// `pip install -r requirements` (a path in the workspace).
    pub(crate) fn pip_requirements(&self, requirements: &str) -> Result {
        self.pip(&["-r".as_ref(), requirements.as_ref()])
    }
}
