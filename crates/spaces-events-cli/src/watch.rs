//! `spaces-events watch` and `record`: subscribe to spaces and print (and record) their
//! media-session events.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use futures_util::StreamExt;
use futures_util::stream::select_all;
use spaces_events::client::{Client, ConnectionState, Error, Reconnect, StateChanges, TokenType};
use spaces_events::{Category, MediaSessionEvent};

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
    let mut recorder = match recorder.transpose() {
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
    let code = consume(&client, &args.spaces, &args.output, recorder.as_mut()).await;
    client.close().await;
    code
}

/// Subscribes to `spaces` and prints their events until `--max-events`, Ctrl-C or a fatal error.
pub(crate) async fn consume(
    client: &Client,
    spaces: &[String],
    output: &Output,
    mut recorder: Option<&mut Recorder>,
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
    let mut events = select_all(subscriptions);
    let mut printed = 0u64;
    let mut stdout = std::io::stdout().lock();
    loop {
        if output.max_events.is_some_and(|max| printed >= max) {
            return ExitCode::SUCCESS;
        }
        let item = tokio::select! {
            item = events.next() => item,
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        };
        let event = match item {
            None => return ExitCode::SUCCESS,
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
        if let Some(recorder) = recorder.as_deref_mut()
            && let Err(e) = recorder.write(&event)
        {
            eprintln!("error: recording: {e}");
            return ExitCode::from(OTHER);
        }
        let line = match output.format {
            Format::Jsonl => event.json().to_owned(),
            Format::Pretty => pretty(&event, colour),
        };
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return ExitCode::SUCCESS; // stdout closed
        }
        printed += 1;
    }
}

/// Writes `{"at_ms":…,"payload":…}` lines: the scenario format of `spaces-events sim`.
pub(crate) struct Recorder {
    file: std::io::BufWriter<std::fs::File>,
    start: std::time::Instant,
    /// Milliseconds already in the file (`--append`).
    after: u128,
}

impl Recorder {
    /// Writes `path` anew, or with `append` adds to it, the times going on after its last line
    /// (so that a replay plays the sessions one after the other).
    pub(crate) fn create(path: &std::path::Path, append: bool) -> Result<Self, String> {
        let error = |e: std::io::Error| format!("{}: {e}", path.display());
        let after = if append {
            match std::fs::read_to_string(path) {
                Ok(text) => spaces_sim::Scenario::from_jsonl(&text)
                    .map_err(|e| format!("{}: cannot append: {e}", path.display()))?
                    .steps
                    .last()
                    .map_or(0, |step| step.at.as_millis()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(error(e)),
            }
        } else {
            0
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(error)?;
        Ok(Recorder {
            file: std::io::BufWriter::new(file),
            start: std::time::Instant::now(),
            after,
        })
    }

    fn write(&mut self, event: &MediaSessionEvent) -> std::io::Result<()> {
        let at = self.after + self.start.elapsed().as_millis();
        writeln!(self.file, "{{\"at_ms\":{at},\"payload\":{}}}", event.json())?;
        self.file.flush()
    }
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

/// One readable line: time, category, space, and what the category is about.
fn pretty(event: &MediaSessionEvent, colour: bool) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let time = format!(
        "{:02}:{:02}:{:02}Z",
        now / 3600 % 24,
        now / 60 % 60,
        now % 60
    );
    let name = |p: Option<&spaces_events::types::Attendee>| {
        p.and_then(|a| {
            a.displayname
                .clone()
                .or_else(|| a.username.clone())
                .or_else(|| a.id.clone())
        })
        .unwrap_or_else(|| "?".into())
    };
    let detail = match event.category() {
        Category::AttendeeAdded | Category::AttendeeLeft => name(event.attendee()),
        Category::MeetingStarted | Category::MeetingEnded => {
            let status = event
                .meeting_status()
                .map(|s| format!(", status {s}"))
                .unwrap_or_default();
            format!("{} attendee(s){status}", event.attendees().len())
        }
        Category::RecordingStarted
        | Category::RecordingEnded
        | Category::RecordingReady
        | Category::RecordingStopped => {
            format!(
                "recording {}",
                event
                    .recordings()
                    .first()
                    .and_then(|r| r.id.as_deref())
                    .unwrap_or("?")
            )
        }
        Category::TracksStatus | Category::TrackStatus => {
            let who = event
                .sender()
                .and_then(|s| s.displayname.clone().or_else(|| s.id.clone()))
                .unwrap_or_default();
            match event.content().and_then(|c| c.media_session.as_ref()) {
                Some(m) => {
                    let flag = |name: &str, on: Option<bool>| match on {
                        Some(true) => format!(" {name}:on"),
                        Some(false) => format!(" {name}:off"),
                        None => String::new(),
                    };
                    format!(
                        "{who}{}{}{}",
                        flag("audio", m.audio),
                        flag("video", m.video),
                        flag("screenshare", m.screenshare)
                    )
                }
                None => who,
            }
        }
        _ => String::new(),
    };
    let space = event.topic_id().unwrap_or("?");
    let category = event.category_name();
    if colour {
        format!("\x1b[2m{time}\x1b[0m \x1b[1;36m{category}\x1b[0m \x1b[2m{space}\x1b[0m {detail}")
    } else {
        format!("{time} {category} {space} {detail}")
    }
}
