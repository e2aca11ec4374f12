//! The files of `deploy/`, checked as far as this machine can: the systemd unit by
//! `systemd-analyze verify` (where systemd is installed) and for its restart and hardening
//! settings, the configuration files by the bridge's own parser (every key an option), the
//! Kubernetes probes and metrics port against what the bridge serves, the Dockerfile's stages
//! and user. (No image is built here: there is no Docker engine.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(name: &str) -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, text)
}

/// `spaces-events <args> --help` after `--config` is resolved: 0 when every key of the file is
/// an option with a value of the right shape.
fn accepted(config: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args(["bridge", "--config"])
        .arg(config)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_systemd_unit_verifies_and_restarts_hardened() {
    let (_, unit) = deploy("spaces-events-bridge.service");
    for setting in [
        "Restart=always",
        "RestartPreventExitStatus=2 3",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        // Writable for OAuth2 credentials, whose rotated refresh token is written back.
        "StateDirectory=spaces-events",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
    ] {
        assert!(unit.contains(setting), "{setting}");
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: systemd-analyze not found (Debian package systemd)");
        return;
    }
    // The unit as installed, with the binary where this build put it.
    let dir = std::env::temp_dir().join(format!("unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("spaces-events-bridge.service");
    std::fs::write(
        &copy,
        unit.replace(
            "/usr/local/bin/spaces-events",
            env!("CARGO_BIN_EXE_spaces-events"),
        ),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !said.contains("spaces-events-bridge.service:"),
        "{said}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_configuration_files_are_the_bridges_options() {
    let (path, _) = deploy("bridge.toml");
    accepted(&path);
    // The Kubernetes ConfigMap's file too.
    let (_, manifest) = deploy("kubernetes.yaml");
    let embedded: String = manifest
        .split_once("bridge.toml: |\n")
        .and_then(|(_, rest)| rest.split_once("---"))
        .expect("the ConfigMap's bridge.toml")
        .0
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    let file = std::env::temp_dir().join(format!("configmap-{}.toml", std::process::id()));
    std::fs::write(&file, &embedded).unwrap();
    accepted(&file);
    assert!(embedded.contains("metrics-addr = \"0.0.0.0:9464\""));
    // The token is a file of the secret volume, which the kubelet updates on rotation (an
    // environment variable would keep the first value).
    assert!(embedded.contains("token-file = \"/etc/spaces-events/secret/token\""));
    assert!(!manifest.contains("SPACES_TOKEN"));
    let _ = std::fs::remove_file(file);
}

#[test]
fn kubernetes_probes_and_metrics_match_what_the_bridge_serves() {
    let (_, manifest) = deploy("kubernetes.yaml");
    for wired in [
        "path: /healthz",
        "path: /readyz",
        "containerPort: 9464",
        "prometheus.io/port: \"9464\"",
        "prometheus.io/path: /metrics",
        "runAsNonRoot: true",
        "readOnlyRootFilesystem: true",
    ] {
        assert!(manifest.contains(wired), "{wired}");
    }
    assert_eq!(
        manifest.matches("port: metrics").count(),
        3,
        "each probe on the metrics port"
    );
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let (_, dockerfile) = deploy("Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert_eq!(stages, 2, "multi-stage");
    assert!(dockerfile.contains("cargo build --release --locked -p spaces-events-cli"));
    let user = dockerfile
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "{user}"
    );
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/spaces-events\"]"));
}
