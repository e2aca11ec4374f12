//! `--config FILE` and `SPACES_*`: every option of a command from a TOML file (keys are the
//! long option names, `nats = ["nats://…"]`, `lease-ttl = 10`, `all-spaces = true`) or from the
//! environment (`SPACES_LEASE_TTL=10`; lists comma-separated). The command line overrides the
//! environment, which overrides the file: what comes from them is put before the command
//! line's own arguments, only for the options the command line does not give.

use std::ffi::OsString;
use std::path::Path;

use clap::{ArgAction, CommandFactory};

/// The arguments `argv` stands for once the file named by its `--config` (if any) and the
/// `SPACES_*` variables are read, or what is wrong (naming the file, line and key).
pub(crate) fn resolve<C: CommandFactory>(argv: Vec<OsString>) -> Result<Vec<OsString>, String> {
    let text: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // The subcommand: the first argument that is neither an option nor a global option's
    // value.
    let mut at = None;
    let mut i = 1;
    while i < text.len() {
        match text[i].as_str() {
            "--config" | "--log-format" => i += 2,
            a if a.starts_with('-') => i += 1,
            _ => {
                at = Some(i);
                break;
            }
        }
    }
    let Some(at) = at else {
        return Ok(argv);
    };
    let command = C::command();
    let Some(sub) = command.find_subcommand(&text[at]) else {
        return Ok(argv);
    };
    let given = |long: &str| {
        text.iter()
            .any(|a| a == &format!("--{long}") || a.starts_with(&format!("--{long}=")))
    };
    let config = config_path(&text);
    let table = match &config {
        Some(path) => read(path, sub)?,
        None => Vec::new(),
    };
    let mut injected = Vec::new();
    for arg in sub.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        // The token has its own variable (SPACES_TOKEN), read without the command line.
        if matches!(long, "config" | "token" | "help" | "version") || given(long) {
            continue;
        }
        let flag = matches!(arg.get_action(), ArgAction::SetTrue);
        let list = matches!(arg.get_action(), ArgAction::Append);
        let variable = format!("SPACES_{}", long.to_uppercase().replace('-', "_"));
        let values: Vec<String> = if let Ok(value) = std::env::var(&variable) {
            if flag {
                match value.as_str() {
                    "1" | "true" | "yes" => vec![String::new()],
                    "" | "0" | "false" | "no" => Vec::new(),
                    other => return Err(format!("{variable}={other:?}: expected true or false")),
                }
            } else if list {
                value.split(',').map(|v| v.trim().to_owned()).collect()
            } else {
                vec![value]
            }
        } else if let Some((_, value)) = table.iter().find(|(key, _)| key == long) {
            value.clone()
        } else {
            continue;
        };
        for value in values {
            injected.push(OsString::from(if flag {
                format!("--{long}")
            } else {
                format!("--{long}={value}")
            }));
        }
    }
    let mut out = argv;
    out.splice(at + 1..at + 1, injected);
    Ok(out)
}

/// The value of `--config FILE` or `--config=FILE`.
fn config_path(text: &[String]) -> Option<String> {
    text.iter().enumerate().find_map(|(i, a)| {
        if a == "--config" {
            text.get(i + 1).cloned()
        } else {
            a.strip_prefix("--config=").map(str::to_owned)
        }
    })
}

/// The file's keys, each checked against `command`'s options, with their values as
/// command-line values (a flag's `true` is one empty value, `false` none).
fn read(path: &str, command: &clap::Command) -> Result<Vec<(String, Vec<String>)>, String> {
    let text =
        std::fs::read_to_string(Path::new(path)).map_err(|e| format!("--config {path}: {e}"))?;
    let table: toml::Table = toml::from_str(&text).map_err(|e| format!("--config {path}: {e}"))?;
    let line = |key: &str| {
        text.lines()
            .position(|l| {
                let l = l.trim_start();
                l.strip_prefix(key)
                    .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map_or(0, |n| n + 1)
    };
    let mut out = Vec::new();
    for (key, value) in table {
        let bad = |why: &str| format!("--config {path}, line {}: `{key}`: {why}", line(&key));
        let Some(arg) = command
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()) && key != "config")
        else {
            return Err(bad(&format!(
                "not an option of `{}` (keys are the long option names, e.g. `lease-ttl`)",
                command.get_name()
            )));
        };
        let flag = matches!(arg.get_action(), ArgAction::SetTrue);
        let scalar = |v: &toml::Value| match v {
            toml::Value::String(s) => Ok(s.clone()),
            toml::Value::Integer(i) => Ok(i.to_string()),
            toml::Value::Float(f) => Ok(f.to_string()),
            _ => Err(bad("expected a string or a number")),
        };
        let values = match (&value, flag) {
            (toml::Value::Boolean(on), true) => {
                if *on {
                    vec![String::new()]
                } else {
                    Vec::new()
                }
            }
            (_, true) => return Err(bad("expected true or false")),
            (toml::Value::Array(items), false) if matches!(arg.get_action(), ArgAction::Append) => {
                items.iter().map(scalar).collect::<Result<_, _>>()?
            }
            (value, false) => vec![scalar(value)?],
        };
        out.push((key, values));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_read_wherever_config_stands_and_the_command_line_wins() {
        let path = std::env::temp_dir().join(format!("resolve-{}.toml", std::process::id()));
        std::fs::write(
            &path,
            "lease = true\nreplicas = 2\nspace = [\"a\", \"b\"]\n",
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let argv = |args: &[&str]| args.iter().map(OsString::from).collect::<Vec<_>>();
        let resolved = resolve::<crate::Cli>(argv(&[
            "spaces-events",
            "--config",
            path,
            "bridge",
            "--replicas",
            "3",
        ]))
        .unwrap();
        let resolved: Vec<String> = resolved
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            resolved[4..],
            ["--space=a", "--space=b", "--lease", "--replicas", "3"]
        );
        let _ = std::fs::remove_file(path);
    }
}
