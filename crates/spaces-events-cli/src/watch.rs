//! `spaces-events watch` and `record`: subscribe to spaces and print (and record) their
//! media-session events.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use futures_util::stream::select_all;
use spaces_events::Category;
use spaces_events::client::{Client, ConnectionState, Error, Reconnect, StateChanges, TokenType};

use crate::output::{Recorder, Writer};

/// Exit codes, as documented in `--help`.
const AUTH_REJECTED: u8 = 3;
const SUBSCRIPTION_REFUSED: u8 = 4;
const GAVE_UP: u8 = 5;
const USAGE: u8 = 2;
const OTHER: u8 = 1;

#[derive(Args)]
pub(crate) struct Watch {
    /// Socket server URL; its path is the namespace.
    #[arg(long, default_value = spaces_events::client::PRODUCTION_URL)]
    url: String,
    /// Space (topic) id to watch; repeat for several.
    #[arg(long = "space", required = true, value_name = "ID")]
    spaces: Vec<String>,
    /// How the token is sent (`tokenType`).
    #[arg(long, value_enum, default_value_t = Kind::Jwt)]
    token_type: Kind,
    /// Read the token from this file (else from the SPACES_TOKEN environment variable).
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// The token itself. Discouraged (a warning is printed): command lines are visible to other
    /// users in process lists; prefer SPACES_TOKEN or --token-file.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    #[command(flatten)]
    output: Output,
    /// Give up (exit 5) after this many failed connection attempts in a row; default: never.
    #[arg(long, value_name = "N")]
    max_retries: Option<u32>,
    /// Seconds the first connection may take (retried with backoff within them); then exit 5.
    #[arg(long, value_name = "SECONDS", default_value_t = 20.0)]
    connect_timeout: f64,
    /// Extra handshake header, `Name: value` (e.g. `Origin: https://spaces.avayacloud.com`).
    #[arg(long = "header", value_name = "HEADER")]
    headers: Vec<String>,
}

/// What to print, and when to stop.
#[derive(Args)]
pub(crate) struct Output {
    /// Output: `pretty` (a readable line per event) or `jsonl` (each payload as the server sent it).
    #[arg(long, value_enum, default_value_t = Format::Pretty)]
    pub(crate) format: Format,
    /// Exit after this many events.
    #[arg(long, value_name = "N")]
    pub(crate) max_events: Option<u64>,
    /// Only events of these categories (wire names, e.g. `app.event.attendee.added`).
    #[arg(long = "category", value_name = "CAT")]
    pub(crate) categories: Vec<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    Jwt,
    Oauth,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Pretty,
    Jsonl,
}

/// Runs `watch`; with `record`, also writes each payload with its arrival time to that file.
pub(crate) fn run(args: Watch, record: Option<(PathBuf, bool)>) -> ExitCode {
    let token = match token(&args) {
        Ok(token) => token,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(USAGE);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(OTHER);
        }
    };
    runtime.block_on(watch(args, token, record))
}

/// The token: `--token-file`, else `SPACES_TOKEN`, else (with a warning) `--token`.
fn token(args: &Watch) -> Result<String, String> {
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return Ok(text.trim().to_owned());
    }
    if let Ok(token) = std::env::var("SPACES_TOKEN")
        && !token.is_empty()
    {
        return Ok(token);
    }
    if let Some(token) = &args.token {
        eprintln!(
            "warning: --token puts the token on the command line, where other users can see it in process lists; use SPACES_TOKEN or --token-file instead"
        );
        return Ok(token.clone());
    }
    Err("no token: set SPACES_TOKEN or use --token-file PATH".into())
}

async fn watch(args: Watch, token: String, record: Option<(PathBuf, bool)>) -> ExitCode {
    let recorder = record.map(|(path, append)| Recorder::create(&path, append));
    let recorder = match recorder.transpose() {
        Ok(recorder) => recorder,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let mut builder = Client::builder(&args.url, token)
        .token_type(match args.token_type {
            Kind::Jwt => TokenType::Jwt,
            Kind::Oauth => TokenType::Oauth,
        })
        .reconnect(Reconnect {
            max_attempts: args.max_retries,
            ..Reconnect::default()
        });
    match Duration::try_from_secs_f64(args.connect_timeout) {
        Ok(timeout) => builder = builder.connect_timeout(timeout),
        Err(e) => {
            eprintln!("error: --connect-timeout {}: {e}", args.connect_timeout);
            return ExitCode::from(USAGE);
        }
    }
    for header in &args.headers {
        let Some((name, value)) = header.split_once(':') else {
            eprintln!("error: --header {header:?} is not `Name: value`");
            return ExitCode::from(USAGE);
        };
        builder = builder.header(name.trim(), value.trim());
    }
    let client = match builder.connect().await {
        Ok(client) => client,
        Err(e) => return fail(&e),
    };
    eprintln!("connected to {}", redact_query(&args.url));
    let code = consume(&client, &args.spaces, &args.output, recorder).await;
    client.close().await;
    code
}

/// Subscribes to `spaces` and prints their events until `--max-events`, Ctrl-C, a closed stdout
/// or a fatal error; the output goes through a [`Writer`], so stdout never holds the client up.
pub(crate) async fn consume(
    client: &Client,
    spaces: &[String],
    output: &Output,
    recorder: Option<Recorder>,
) -> ExitCode {
    for name in &output.categories {
        // Categories are an open set, so an unknown name is allowed: it may be new.
        if Category::from_wire(name) == Category::Unknown {
            eprintln!(
                "warning: --category {name:?} is not a known category (events match by exact name, \
                 e.g. app.event.attendee.added); `spaces-events schema` lists them"
            );
        }
    }
    tokio::spawn(report_states(client.state_changes()));
    let mut subscriptions = Vec::new();
    for space in spaces {
        match client.subscribe(space).await {
            Ok(sub) => {
                eprintln!("subscribed to {space}");
                subscriptions.push(sub);
            }
            Err(e) => return fail(&e),
        }
    }
    let colour = output.format == Format::Pretty && std::io::stdout().is_terminal();
    let writer = match Writer::spawn(output.format, colour, recorder) {
        Ok(writer) => writer,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(OTHER);
        }
    };
    let code = pump(select_all(subscriptions), output, &writer).await;
    match writer.finish().await {
        Ok(()) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(OTHER)
        }
    }
}

/// Hands the events that pass `--category` to the writer until `--max-events`, Ctrl-C, a
/// stopped writer or a fatal error.
async fn pump(
    mut events: futures_util::stream::SelectAll<spaces_events::client::Subscription>,
    output: &Output,
    writer: &Writer,
) -> ExitCode {
    let mut printed = 0u64;
    while output.max_events.is_none_or(|max| printed < max) {
        let item = tokio::select! {
            item = events.next() => item,
            _ = tokio::signal::ctrl_c() => break,
        };
        let event = match item {
            None => break,
            Some(Ok(event)) => event,
            Some(Err(e)) if e.is_fatal() => return fail(&e),
            Some(Err(e)) => {
                eprintln!("warning: skipped: {e}");
                continue;
            }
        };
        if !output.categories.is_empty()
            && !output.categories.iter().any(|c| c == event.category_name())
        {
            continue;
        }
        let handed = tokio::select! {
            handed = writer.send(event) => handed,
            _ = tokio::signal::ctrl_c() => break,
        };
        if !handed {
            break; // stdout closed, or the recording failed (`finish` says which)
        }
        printed += 1;
    }
    ExitCode::SUCCESS
}

/// Prints a fatal error and returns its exit code.
pub(crate) fn fail(error: &Error) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(match error {
        Error::Auth(_) => AUTH_REJECTED,
        Error::SubscribeRefused { .. } => SUBSCRIPTION_REFUSED,
        Error::Connect { .. } | Error::GaveUp { .. } => GAVE_UP,
        // `--url` and `--header` are the only configuration the command line gives.
        e if e.is_config() => USAGE,
        _ => OTHER,
    })
}

async fn report_states(states: StateChanges) {
    // The first is the current state: "connected" was already said.
    let mut states = states.skip(1);
    while let Some(state) = states.next().await {
        match state {
            ConnectionState::Connected => eprintln!("connected"),
            ConnectionState::Reconnecting {
                attempt,
                reason,
                delay,
            } => eprintln!(
                "connection lost: {reason}; retrying in {:.1} s, attempt {attempt}",
                delay.as_secs_f64()
            ),
            _ => {}
        }
    }
}

/// A URL without its query (which could hold a token).
fn redact_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}
