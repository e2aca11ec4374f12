//! `spaces-events watch` and `record`: subscribe to spaces and print (and record) their
//! media-session events.

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::SystemTime;

use clap::{Args, ValueEnum};
use futures_util::future::Either;
use futures_util::stream::select_all;
use futures_util::{Stream, StreamExt};
use spaces_events::client::{Client, ConnectionState, Error, Reconnect, StateChanges};
use spaces_events::rest::{Rest, RestBuilder};
use spaces_events::{Category, MediaSessionEvent};
use spaces_events_nats::telemetry;

use crate::credentials::{TokenArgs, Trust};
use crate::output::{Recorder, Writer};
use crate::spaces::{Listing, Pace, Streams, Wanted, follow_changes};
use crate::telemetry::{HEALTH, Telemetry, count_reconnections};

/// Exit codes, as documented in `--help`.
const AUTH_REJECTED: u8 = 3;
const SUBSCRIPTION_REFUSED: u8 = 4;
const GAVE_UP: u8 = 5;
const USAGE: u8 = 2;
const OTHER: u8 = 1;

#[derive(Args)]
pub(crate) struct Watch {
    #[command(flatten)]
    followed: Followed,
    #[command(flatten)]
    output: Output,
}

/// Where Spaces is and which spaces to follow (`watch`, `record`, `meeting`, `webhook`).
#[derive(Args)]
pub(crate) struct Followed {
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Space (topic) id to follow; repeat for several.
    #[arg(
        long = "space",
        required_unless_present = "all_spaces",
        value_name = "ID"
    )]
    pub(crate) spaces: Vec<String>,
    #[command(flatten)]
    pub(crate) listing: Listing,
}

impl Followed {
    /// The named spaces, or (`--all-spaces`) the listed ones and their pace; on failure the
    /// message is printed and the exit code returned.
    pub(crate) async fn spaces(&self, client: &Client, rest: Rest) -> Result<Spaces<'_>, ExitCode> {
        if !self.listing.all_spaces {
            return Ok(Spaces::Named(&self.spaces));
        }
        let (wanted, pace) = listed(&self.listing, client, rest).await?;
        Ok(Spaces::Listed(wanted, pace))
    }
}

/// Which spaces `consume` follows.
pub(crate) enum Spaces<'a> {
    /// These, all subscribed before anything is printed; a refusal is fatal (exit 4).
    Named(&'a [String]),
    /// As they change (`--all-spaces`), at a pace; a refusal is reported.
    Listed(Wanted, Pace),
}

/// Where Spaces is and who we are (`watch`, `record`, `meeting`).
#[derive(Args)]
pub(crate) struct Connection {
    /// Socket server URL; its path is the namespace.
    #[arg(long, default_value = spaces_events::client::PRODUCTION_URL)]
    url: String,
    /// Ask the REST API at --api-url where the socket server is before connecting
    /// (`GET /service-configurations`); with an address, `--discover=ADDRESS`, the regional
    /// cluster that serves it (`GET /flavor/email/ADDRESS`, `GET /flavor`), whose REST API is
    /// then used too.
    #[arg(
        long,
        value_name = "ADDRESS",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "",
        conflicts_with = "url"
    )]
    discover: Option<String>,
    /// REST API URL: for --guest, and for `meeting`'s resyncs.
    #[arg(long, default_value = spaces_events::rest::PRODUCTION_API_URL, value_name = "API_URL")]
    pub(crate) api_url: String,
    #[command(flatten)]
    tokens: TokenArgs,
    #[command(flatten)]
    pub(crate) trust: Trust,
    /// Give up (exit 5) after this many failed connection attempts in a row; default: never.
    #[arg(long, value_name = "N")]
    max_retries: Option<u32>,
    /// Seconds the first connection may take (retried with backoff within them); then exit 5.
    #[arg(long, value_name = "SECONDS", default_value_t = 20.0)]
    connect_timeout: f64,
    /// Extra handshake header, `Name: value` (e.g. `Origin: https://spaces.avayacloud.com`).
    #[arg(long = "header", value_name = "HEADER")]
    headers: Vec<String>,
    #[command(flatten)]
    telemetry: Telemetry,
    /// HTTP proxy for the socket (a CONNECT tunnel) and the REST API,
    /// `http://[user:password@]host:port`; default: HTTPS_PROXY, HTTP_PROXY or ALL_PROXY.
    /// NO_PROXY applies either way.
    #[arg(long, value_name = "URL", conflicts_with = "no_proxy")]
    proxy: Option<String>,
    /// Connect directly, whatever HTTPS_PROXY, HTTP_PROXY and ALL_PROXY say.
    #[arg(long)]
    no_proxy: bool,
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

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    Pretty,
    Jsonl,
}

/// Runs `watch`; with `record`, also writes each payload with its arrival time to that file.
pub(crate) fn run(args: Watch, record: Option<(PathBuf, bool)>) -> ExitCode {
    block_on(watch(args, record))
}

/// Runs `job` on a single-threaded runtime (the output has threads of its own).
pub(crate) fn block_on(job: impl Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(job),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(OTHER)
        }
    }
}

async fn watch(args: Watch, record: Option<(PathBuf, bool)>) -> ExitCode {
    let recorder = record.map(|(path, append)| Recorder::create(&path, append));
    let recorder = match recorder.transpose() {
        Ok(recorder) => recorder,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let (client, rest) = match args.followed.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let spaces = match args.followed.spaces(&client, rest).await {
        Ok(spaces) => spaces,
        Err(code) => return code,
    };
    let code = consume(&client, spaces, &args.output, recorder, None).await;
    client.close().await;
    code
}

impl Connection {
    /// A REST client builder for `api_url`, through `--proxy` (or none with `--no-proxy`).
    fn rest_builder(&self, api_url: &str) -> RestBuilder {
        let builder = Rest::builder(api_url);
        match &self.proxy {
            Some(proxy) => builder.proxy(proxy),
            None if self.no_proxy => builder.no_proxy(),
            None => builder,
        }
    }

    /// Connects the socket client, and makes the REST client (same token, or the same guest;
    /// with `--discover`, at the URLs the REST API names). On failure the message is printed
    /// and the exit code returned.
    pub(crate) async fn connect(&self) -> Result<(Client, Rest), ExitCode> {
        let usage = |message: String| {
            eprintln!("error: {message}");
            ExitCode::from(USAGE)
        };
        self.telemetry.start().await.map_err(usage)?;
        let proxy = match (&self.proxy, self.no_proxy) {
            (Some(proxy), _) => Some(Some(proxy.as_str())),
            (None, true) => Some(None),
            (None, false) => None,
        };
        let guests = || {
            self.trust
                .apply(self.rest_builder(&self.api_url))?
                .build()
                .map_err(|e| e.to_string())
        };
        let source = self
            .tokens
            .source(&self.trust, proxy, guests)
            .map_err(usage)?;
        let rest = |api_url: &str| {
            self.trust
                .apply(self.rest_builder(api_url))
                .map_err(&usage)?
                .shared_credentials(source.clone())
                .build()
                .map_err(|e| usage(e.to_string()))
        };
        let mut api = rest(&self.api_url)?;
        let mut url = self.url.clone();
        if let Some(email) = &self.discover {
            let found = api
                .discover(Some(email.as_str()).filter(|e| !e.is_empty()))
                .await
                .map_err(|e| {
                    eprintln!("error: discovering where Spaces is: {e}");
                    ExitCode::from(GAVE_UP)
                })?;
            let flavor = found
                .flavor
                .as_ref()
                .map(|f| format!(", cluster {f}"))
                .unwrap_or_default();
            eprintln!(
                "discovered socket {} and API {}{flavor}",
                found.socket_url, found.api_url
            );
            if found.api_url != api.api_url() {
                api = rest(&found.api_url)?;
            }
            url = found.socket_url;
        }
        let builder = Client::builder(&url, "").shared_credentials(source.clone());
        let mut builder = self
            .trust
            .apply(builder)
            .map_err(usage)?
            .reconnect(Reconnect {
                max_attempts: self.max_retries,
                ..Reconnect::default()
            });
        let timeout = Duration::try_from_secs_f64(self.connect_timeout)
            .map_err(|e| usage(format!("--connect-timeout {}: {e}", self.connect_timeout)))?;
        builder = builder.connect_timeout(timeout);
        if let Some(proxy) = &self.proxy {
            builder = builder.proxy(proxy);
        } else if self.no_proxy {
            builder = builder.no_proxy();
        }
        for header in &self.headers {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| usage(format!("--header {header:?} is not `Name: value`")))?;
            builder = builder.header(name.trim(), value.trim());
        }
        let client = builder.connect().await.map_err(|e| fail(&e))?;
        eprintln!("connected to {}", redact_query(&url));
        let _ = HEALTH.client.set(client.clone());
        count_reconnections(&client);
        Ok((client, api))
    }
}

/// `--all-spaces`: the listed spaces and their pace; on failure the message is printed and
/// the exit code returned.
pub(crate) async fn listed(
    listing: &Listing,
    client: &Client,
    rest: Rest,
) -> Result<(Wanted, Pace), ExitCode> {
    let pace = listing.pace().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(USAGE)
    })?;
    let wanted = listing.listed(client, rest).await.map_err(|e| {
        eprintln!("error: listing the spaces: {e}");
        ExitCode::from(OTHER)
    })?;
    Ok((wanted, pace))
}

/// The events of `spaces`: named ones subscribed at once (a refusal is fatal: the exit code
/// returned), listed ones followed as they change.
pub(crate) async fn events(
    client: &Client,
    spaces: Spaces<'_>,
) -> Result<impl Stream<Item = Result<MediaSessionEvent, Error>> + Unpin + use<>, ExitCode> {
    match spaces {
        Spaces::Named(spaces) => {
            let mut subscriptions = Vec::new();
            for space in spaces {
                subscriptions.push(client.subscribe(space).await.map_err(|e| fail(&e))?);
                eprintln!("subscribed to {space}");
            }
            HEALTH
                .subscriptions
                .store(subscriptions.len(), Ordering::Relaxed);
            // One space needs no merging (`select_all` allocates for every event it yields).
            Ok(Either::Left(match subscriptions.pop() {
                Some(only) if subscriptions.is_empty() => Either::Left(only),
                last => Either::Right(select_all(subscriptions.into_iter().chain(last))),
            }))
        }
        Spaces::Listed(wanted, pace) => {
            let client = client.clone();
            let (follower, events) = Streams::new(move |space: String| {
                let client = client.clone();
                async move { client.subscribe(&space).await.map_err(|e| e.to_string()) }
            });
            tokio::spawn(follow_changes(wanted, pace, follower, HashSet::new()));
            Ok(Either::Right(events))
        }
    }
}

/// Subscribes to `spaces` and prints their events until `--max-events`, Ctrl-C, a closed stdout
/// or a fatal error; the output goes through a [`Writer`], so stdout never holds the client up.
/// `seen` is shown each event printed.
pub(crate) async fn consume(
    client: &Client,
    spaces: Spaces<'_>,
    output: &Output,
    recorder: Option<Recorder>,
    seen: Option<&mut dyn FnMut(&MediaSessionEvent)>,
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
    let events = match events(client, spaces).await {
        Ok(events) => events,
        Err(code) => return code,
    };
    let colour = output.format == Format::Pretty && std::io::stdout().is_terminal();
    let writer = match Writer::spawn(output.format, colour, recorder) {
        Ok(writer) => writer,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(OTHER);
        }
    };
    let code = pump(events, output, &writer, seen).await;
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
    mut events: impl Stream<Item = Result<MediaSessionEvent, Error>> + Unpin,
    output: &Output,
    writer: &Writer,
    mut seen: Option<&mut dyn FnMut(&MediaSessionEvent)>,
) -> ExitCode {
    let mut printed = 0u64;
    let mut stop = std::pin::pin!(shutdown());
    while output.max_events.is_none_or(|max| printed < max) {
        let item = tokio::select! {
            item = events.next() => item,
            () = &mut stop => break,
        };
        let event = match item {
            None => break,
            Some(Ok(event)) => event,
            Some(Err(e)) if e.is_fatal() => return fail(&e),
            Some(Err(e @ Error::Gap(_))) => {
                eprintln!("warning: {e}");
                continue;
            }
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
        if let Some(seen) = seen.as_deref_mut() {
            seen(&event);
        }
        telemetry::received(&event, SystemTime::now());
        let handed = tokio::select! {
            handed = writer.send(event) => handed,
            () = &mut stop => break,
        };
        if !handed {
            break; // stdout closed, or the recording failed (`finish` says which)
        }
        printed += 1;
    }
    ExitCode::SUCCESS
}

/// Resolves at Ctrl-C (SIGINT) or SIGTERM (how systemd and Kubernetes stop a service).
/// Made once per loop and polled by reference: each call registers new signal listeners,
/// which made `watch --format jsonl` 20 % slower when it was called for every event.
pub(crate) async fn shutdown() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match term.as_mut() {
            Some(term) => {
                term.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
    }
}

/// Prints a fatal error and returns its exit code.
pub(crate) fn fail(error: &Error) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(match error {
        Error::Auth(_) => AUTH_REJECTED,
        Error::SubscribeRefused { .. } => SUBSCRIPTION_REFUSED,
        Error::Connect { .. } | Error::GaveUp { .. } | Error::Proxy { .. } => GAVE_UP,
        // `--url` and `--header` are the only configuration the command line gives.
        e if e.is_config() => USAGE,
        _ => OTHER,
    })
}

pub(crate) async fn report_states(states: StateChanges) {
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
