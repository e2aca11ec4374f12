//! `spaces-events`: decode, inspect and watch Avaya Spaces media-session events.

mod bridge;
mod config;
mod credentials;
mod decode;
mod meeting;
mod output;
mod serve;
mod sim;
mod spaces;
mod telemetry;
mod view;
mod watch;
mod webhook;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "spaces-events",
    version,
    about = "Avaya Spaces media-session events: decode, inspect, watch"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Options from this TOML file: keys are the long option names (`nats = ["nats://…"]`,
    /// `lease-ttl = 10`, `all-spaces = true`); `SPACES_<OPTION>` variables override it, and
    /// the command line overrides both. An unknown key is an error naming it and its line.
    /// `bridge` reads its spaces again on SIGHUP.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Logs on stderr: `text`, or `json` (one object a line, with the fields of the spans
    /// around it: the connection's URL and attempt, the space). Levels from RUST_LOG (info
    /// by default with json). Tokens and passwords are never logged.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Decode MEDIA_SESSION_RESPONSE payloads, one JSON object per line.
    ///
    /// Each valid line is printed to stdout as compact JSON equal to the input (decoded, then
    /// re-serialized). Each invalid line gets one message on stderr, `line N: <reason>`, and
    /// processing goes on. Exit code 1 when any line was invalid.
    Decode {
        /// File to read, or `-` for standard input.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Subscribe to spaces and print their media-session events as they happen.
    ///
    /// The token comes from --token-file, --token-command, --credentials (OAuth2, see `login`),
    /// --guest or the SPACES_TOKEN environment variable; the source is asked again before every
    /// connection and after a refusal. Events go to stdout; status and errors to stderr.
    /// Reconnects (and re-subscribes) by itself.
    #[command(
        after_help = "Exit codes: 0 --max-events reached or Ctrl-C; 2 usage; 3 authentication rejected (the token \
                            source gave a refused token again, or a refused OAuth2 refresh token); \
                            4 a subscription refused; 5 could not connect (first connection not made within\n\
                            --connect-timeout, --max-retries reached, or the proxy refused: 401, 403, 407); 1 other errors.\n\
                            Logs: set RUST_LOG (e.g. RUST_LOG=spaces_events=debug); they go to stderr."
    )]
    Watch(watch::Watch),
    /// Like `watch`, also writing each payload with its arrival time to a JSONL file that
    /// `spaces-events sim --scenario FILE` replays.
    Record {
        #[command(flatten)]
        watch: watch::Watch,
        /// The file to write; an existing one is replaced, unless --append.
        #[arg(long, value_name = "FILE.jsonl")]
        out: std::path::PathBuf,
        /// Add to the file instead, the times going on after its last line.
        #[arg(long)]
        append: bool,
    },
    /// Follow spaces' meetings live: who is there, their media, the recordings; resynced from the
    /// REST API after every reconnect.
    ///
    /// On a terminal a view redrawn in place (q quits); otherwise (or with --format jsonl) one
    /// JSON line per change. The token as for `watch` (or --guest NAME). Ctrl-C or SIGTERM ends
    /// it with exit 0 once the last line is written.
    #[command(
        after_help = "Exit codes: 0 Ctrl-C, SIGTERM or q; 2 usage; 3 authentication rejected; \
                      4 a subscription refused; 5 could not connect; 1 other errors."
    )]
    Meeting(meeting::Meeting),
    /// Publish every event of the spaces to NATS JetStream, once, acknowledged; keep each
    /// space's meeting state in a key-value bucket; share the spaces among bridges (--lease).
    ///
    /// Subjects `spaces.<space>.<category>`, payload the event's JSON as sent, `Nats-Msg-Id`
    /// `<space>:<_id>` (the stream drops duplicates: run two bridges for redundancy). The token as
    /// for `watch`. Ctrl-C or SIGTERM stop reading, wait for the acknowledgements in flight (at
    /// most 5 s) and exit 0.
    #[command(
        after_help = "Exit codes: 0 Ctrl-C or SIGTERM; 2 usage; 3 authentication rejected; 4 a subscription \
                      refused; 5 could not connect to Spaces; 6 NATS unreachable, refused or not usable \
                      (wrong URL or password, JetStream off, an incompatible stream); 1 other errors."
    )]
    Bridge(bridge::Bridge),
    /// A live web dashboard of every followed meeting (and its JSON API and change stream),
    /// from the socket or from a bridge cluster's NATS bucket.
    ///
    /// Open http://127.0.0.1:8080/ (--bind). Status and duration, attendees with their media,
    /// recordings, raised hands, updated live (Server-Sent Events), with a filter and the
    /// link's state. API: GET /api/spaces, /api/spaces/{id}/meeting, /api/changes (SSE,
    /// Last-Event-ID resumes). Another address than loopback needs --auth-token.
    #[command(
        after_help = "Exit codes: 0 Ctrl-C or SIGTERM; 2 usage (a public --bind without --auth-token); \
                      3 authentication rejected; 4 a subscription refused; 5 could not connect; \
                      6 NATS unreachable or no bucket; 1 other errors."
    )]
    Serve(serve::Serve),
    /// POST each event (or meeting change) of the spaces to a URL, signed as Standard Webhooks
    /// sign, in order, retried until the receiver takes it.
    ///
    /// Headers `webhook-id` (`<space>:<_id>`, the same on every try: the receiver's idempotency
    /// key), `webhook-timestamp` (Unix seconds) and `webhook-signature`
    /// (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">` with the secret's key); the body
    /// is the event's JSON as Spaces sent it, or with --changes the change as `meeting` prints
    /// it. 5xx, 429, timeouts: retried with backoff (0.5 s doubling to 30 s) while the socket is
    /// held back, nothing dropped; another 4xx: skipped after --max-refusals tries, reported.
    #[command(
        after_help = "Exit codes: 0 Ctrl-C, SIGTERM or --max-events; 2 usage (no secret, a bad one); \
                      3 authentication rejected; 4 a subscription refused; 5 could not connect; 1 other errors."
    )]
    Webhook(webhook::Webhook),
    /// Sign in to Avaya Cloud Identity (OAuth2 authorization code with PKCE, through a
    /// loopback redirect) and write a credentials file for `--credentials`.
    #[command(
        after_help = "Exit codes: 0 signed in; 2 usage; 3 the provider refused (a wrong client id or secret, \
                      a refused or expired code); 5 the provider could not be reached."
    )]
    Login(credentials::LoginArgs),
    /// Revoke the credentials of `login` at the provider and remove their file.
    #[command(
        after_help = "Exit codes: 0 revoked and removed; 2 usage; 3 not a credentials file; \
                      5 the provider could not be reached or refused (the file is kept)."
    )]
    Logout(credentials::LogoutArgs),
    /// Run a local simulator of the Spaces socket server and REST API (prints their URLs and the
    /// token).
    Sim(sim::Sim),
    /// Show the whole built-in meeting, live: a simulator in-process, the real client over a real
    /// websocket; exits when the meeting is over.
    Demo(sim::Demo),
    /// Print this command-line reference as Markdown (the docs site's CLI page).
    #[command(hide = true)]
    MarkdownHelp,
    /// Print a JSON Schema (draft-07) of the socket payloads.
    Schema {
        /// Which schema.
        #[arg(value_enum, default_value_t = SchemaName::MediaSessionResponse)]
        name: SchemaName,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SchemaName {
    /// The MEDIA_SESSION_RESPONSE payload.
    MediaSessionResponse,
    /// The subscription payloads (SUBSCRIBE_CHANNEL, CHANNEL_SUBSCRIBED, ...).
    Subscription,
    /// The REST answers (active meeting, guest token, service configurations).
    Rest,
    /// The meeting state `meeting --format jsonl` prints.
    MeetingState,
}

/// The command line, with what `--config` and the `SPACES_*` variables add.
pub(crate) fn arguments() -> Result<Cli, String> {
    let argv = config::resolve::<Cli>(std::env::args_os().collect())?;
    Cli::try_parse_from(argv).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = match config::resolve::<Cli>(std::env::args_os().collect()) {
        Ok(argv) => Cli::parse_from(argv),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    if cli.log_format == LogFormat::Json {
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init();
    } else if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr)
            .init();
    }
    match cli.command {
        Command::Decode { file } => decode::run(&file),
        Command::Watch(args) => watch::run(args, None),
        Command::Record { watch, out, append } => watch::run(watch, Some((out, append))),
        Command::Meeting(args) => meeting::run(args),
        Command::Bridge(args) => bridge::run(args),
        Command::Webhook(args) => webhook::run(args),
        Command::Serve(args) => serve::run(args),
        Command::MarkdownHelp => {
            print!("{}", clap_markdown::help_markdown::<Cli>());
            ExitCode::SUCCESS
        }
        Command::Login(args) => credentials::login(args),
        Command::Logout(args) => credentials::logout(args),
        Command::Sim(args) => sim::sim(args),
        Command::Demo(args) => sim::demo(args),
        Command::Schema { name } => {
            print!(
                "{}",
                match name {
                    SchemaName::MediaSessionResponse =>
                        spaces_events::MEDIA_SESSION_RESPONSE_SCHEMA,
                    SchemaName::Subscription => spaces_events::SUBSCRIPTION_SCHEMA,
                    SchemaName::Rest => spaces_events::REST_SCHEMA,
                    SchemaName::MeetingState => spaces_events::MEETING_STATE_SCHEMA,
                }
            );
            ExitCode::SUCCESS
        }
    }
}
