//! `spaces-events serve`: a live web dashboard of every followed space's meeting, served from
//! the binary (the page is compiled in: no CDN, nothing fetched at run time), with JSON
//! endpoints and a Server-Sent Events stream of the changes. Its source is the socket
//! (`--space`, `--all-spaces`) or the `spaces_meetings` bucket of a bridge cluster (`--nats`),
//! so one dashboard serves an organisation with no socket of its own.
//!
//! - `GET /`: the page; `GET /api/spaces`: every `MeetingSnapshot`; `GET /api/spaces/{id}/meeting`:
//!   one (404 if the space is not followed);
//! - `GET /api/changes`: SSE, first every meeting as it is (`event: state`, a `MeetingSnapshot`),
//!   then `event: change` (a `MeetingChange`, socket source), `event: state` (bucket source),
//!   `event: link` (`{"state": "connected" | "reconnecting" | "resynced"}`), each with an `id`;
//!   `Last-Event-ID` resumes from the last `--history` events (`event: reset` when it is older:
//!   connect again without it).
//! - Bound to 127.0.0.1 by default; another address needs `--auth-token` (a bearer token, or
//!   `?token=` for the page and `EventSource`). The Spaces token never leaves the process.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use clap::Args;
use futures_util::{Stream, StreamExt};
use spaces_events::client::{Client, ConnectionState, Error};
use spaces_events::meeting::MeetingError;
use spaces_events::types::{ChangeKind, ChangeSource, MeetingSnapshot};
use spaces_events_nats::telemetry;
use tokio::sync::broadcast;

use crate::bridge::NatsAuth;
use crate::meeting::changes;
use crate::spaces::Listing;
use crate::watch::{Connection, block_on, fail, shutdown};

const USAGE: u8 = 2;
/// Exit code when NATS cannot be reached or has no bucket (as `bridge`).
const NATS_FAILED: u8 = 6;

#[derive(Args)]
pub(crate) struct Serve {
    #[command(flatten)]
    connection: Connection,
    /// Space (topic) id to follow; repeat for several.
    #[arg(long = "space", value_name = "ID")]
    spaces: Vec<String>,
    #[command(flatten)]
    listing: Listing,
    /// Show the meeting states a bridge cluster keeps in NATS (no socket of its own); repeat
    /// for the servers of a cluster.
    #[arg(long, value_name = "URL")]
    nats: Vec<String>,
    #[command(flatten)]
    nats_auth: NatsAuth,
    /// With --nats: the bridges' key-value bucket of meeting states.
    #[arg(long, default_value = "spaces_meetings", value_name = "BUCKET")]
    meetings_bucket: String,
    /// Where to listen. An address other than loopback needs --auth-token.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    bind: SocketAddr,
    /// A token every request must carry (`Authorization: Bearer …`, or `?token=…` in the
    /// page's address); better from SPACES_SERVE_TOKEN.
    #[arg(
        long,
        env = "SPACES_SERVE_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    auth_token: Option<String>,
    /// Changes kept for clients that reconnect (`Last-Event-ID`).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    history: usize,
}

pub(crate) fn run(args: Serve) -> ExitCode {
    block_on(serve(args))
}

/// One SSE event: its id, name and data.
type Said = (u64, &'static str, String);

/// What the dashboard shows, and the recent changes for resuming clients.
struct Board {
    meetings: RwLock<BTreeMap<String, MeetingSnapshot>>,
    history: Mutex<VecDeque<Said>>,
    next: AtomicU64,
    live: broadcast::Sender<Said>,
    keep: usize,
    token: Option<String>,
}

impl Board {
    fn say(&self, event: &'static str, data: String) {
        let said = (self.next.fetch_add(1, Ordering::Relaxed) + 1, event, data);
        let mut history = self.history.lock().expect("history lock");
        history.push_back(said.clone());
        if history.len() > self.keep {
            history.pop_front();
        }
        // Sent with the history locked: a client reading the history after subscribing sees
        // every event once.
        let _ = self.live.send(said);
    }

    fn show(&self, state: MeetingSnapshot) {
        self.meetings
            .write()
            .expect("meetings lock")
            .insert(state.space.clone(), state);
    }
}

async fn serve(args: Serve) -> ExitCode {
    let usage = |message: &str| {
        eprintln!("error: {message}");
        ExitCode::from(USAGE)
    };
    if !args.bind.ip().is_loopback() && args.auth_token.is_none() {
        return usage(&format!(
            "--bind {} is not a loopback address: give --auth-token (or SPACES_SERVE_TOKEN) so \
             that only those who have it see the meetings",
            args.bind
        ));
    }
    let from_socket = !args.spaces.is_empty() || args.listing.all_spaces;
    if from_socket != args.nats.is_empty() {
        return usage(
            "give the spaces (--space ID, --all-spaces) or a bridge cluster (--nats URL), not both",
        );
    }
    let (live, _) = broadcast::channel(args.history.max(16));
    let board = Arc::new(Board {
        meetings: RwLock::default(),
        history: Mutex::default(),
        next: AtomicU64::new(0),
        live,
        keep: args.history,
        token: args.auth_token.clone(),
    });
    let listener = match tokio::net::TcpListener::bind(args.bind).await {
        Ok(listener) => listener,
        Err(e) => return usage(&format!("--bind {}: {e}", args.bind)),
    };
    let source = if from_socket {
        let (client, rest) = match args.connection.connect().await {
            Ok(connected) => connected,
            Err(code) => return code,
        };
        let changes = match changes(&client, rest, &args.spaces, &args.listing).await {
            Ok(changes) => changes,
            Err(code) => return code,
        };
        tokio::spawn(links(client.clone(), board.clone()));
        tokio::spawn(from_changes(changes, board.clone()))
    } else {
        match bucket(&args).await {
            Ok(watch) => {
                let shown = board.clone();
                tokio::spawn(async move {
                    from_bucket(watch, shown).await;
                    // As before: the last states stay served, now with a word why they stopped.
                    eprintln!("warning: the bucket's watch ended: the states shown are the last");
                    std::future::pending::<Option<Error>>().await
                })
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(NATS_FAILED);
            }
        }
    };
    eprintln!("dashboard at http://{}/", args.bind);
    let router = Router::new()
        .route("/", get(page))
        .route("/api/spaces", get(spaces))
        .route("/api/spaces/{id}/meeting", get(meeting))
        .route("/api/changes", get(stream))
        .layer(middleware::from_fn_with_state(board.clone(), authorized))
        .with_state(board);
    // Until Ctrl-C or SIGTERM, or until the source ends: a client stopped for good (its
    // fatal error decides the exit code), not a dashboard of frozen meetings.
    let fatal: Arc<Mutex<Option<Error>>> = Arc::default();
    let stop = {
        let (fatal, mut source) = (fatal.clone(), source);
        async move {
            tokio::select! {
                () = shutdown() => {}
                ended = &mut source => *fatal.lock().expect("fatal lock") = ended.ok().flatten(),
            }
            source.abort();
        }
    };
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await;
    let fatal = fatal.lock().expect("fatal lock").take();
    match (served, fatal) {
        (Err(e), _) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        (Ok(()), Some(e)) => fail(&e),
        (Ok(()), None) => ExitCode::SUCCESS,
    }
}

/// Every request carries the token, when there is one.
async fn authorized(State(board): State<Arc<Board>>, request: Request, next: Next) -> Response {
    let Some(token) = &board.token else {
        return next.run(request).await;
    };
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let query = form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .find_map(|(key, value)| (key == "token").then_some(value));
    if bearer == Some(token.as_str()) || query.as_deref() == Some(token.as_str()) {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "a token is needed: ?token=… or Authorization: Bearer …\n",
        )
            .into_response()
    }
}

async fn page() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
}

async fn spaces(State(board): State<Arc<Board>>) -> Response {
    let meetings: Vec<MeetingSnapshot> = board
        .meetings
        .read()
        .expect("meetings lock")
        .values()
        .cloned()
        .collect();
    axum::Json(meetings).into_response()
}

async fn meeting(State(board): State<Arc<Board>>, Path(id): Path<String>) -> Response {
    match board.meetings.read().expect("meetings lock").get(&id) {
        Some(state) => axum::Json(state.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("space {id} is not followed\n"),
        )
            .into_response(),
    }
}

async fn stream(
    State(board): State<Arc<Board>>,
    headers: axum::http::HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let after: Option<u64> = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let (backlog, live) = {
        let history = board.history.lock().expect("history lock");
        let live = board.live.subscribe();
        let backlog: Vec<Said> = match after {
            // Older than what is kept: the client starts again from the snapshots.
            Some(id) if history.front().is_some_and(|(first, _, _)| *first > id + 1) => {
                vec![(id, "reset", "{}".to_owned())]
            }
            Some(id) => history
                .iter()
                .filter(|(n, _, _)| *n > id)
                .cloned()
                .collect(),
            // A new client: every meeting as it is now, then the changes.
            None => {
                let now = board.next.load(Ordering::Relaxed);
                board
                    .meetings
                    .read()
                    .expect("meetings lock")
                    .values()
                    .map(|m| {
                        let json = serde_json::to_string(m).expect("a generated type serializes");
                        (now, "state", json)
                    })
                    .collect()
            }
        };
        (backlog, live)
    };
    let event =
        |(id, name, data): Said| Ok(Event::default().id(id.to_string()).event(name).data(data));
    let live = futures_util::stream::unfold(live, |mut live| async move {
        match live.recv().await {
            Ok(said) => Some((said, live)),
            // This client fell behind the history: it starts again from the meetings.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Some(((0, "reset", "{}".to_owned()), live))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    let events = futures_util::stream::iter(backlog).chain(live).map(event);
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The client's link, as the page shows it.
async fn links(client: Client, board: Arc<Board>) {
    let mut states = client.state_changes();
    while let Some(state) = states.next().await {
        let word = match state {
            ConnectionState::Connected => "connected",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            _ => continue,
        };
        board.say("link", format!(r#"{{"state":"{word}"}}"#));
    }
}

async fn from_changes(
    mut changes: impl Stream<Item = Result<spaces_events::types::MeetingChange, MeetingError>> + Unpin,
    board: Arc<Board>,
) -> Option<Error> {
    let mut resyncs: BTreeMap<String, u32> = BTreeMap::new();
    while let Some(change) = changes.next().await {
        match change {
            Ok(change) => {
                telemetry::changed(&change);
                board.show(change.state.clone());
                let json = serde_json::to_string(&change).expect("a generated type serializes");
                board.say("change", json);
                // The first resync of a space is its start; the others follow a gap.
                if change.change == ChangeKind::Resynced && change.source == ChangeSource::Resync {
                    let n = resyncs.entry(change.space.clone()).or_default();
                    *n += 1;
                    if *n > 1 {
                        board.say("link", r#"{"state":"resynced"}"#.to_owned());
                    }
                }
            }
            Err(MeetingError::Socket(e)) if e.is_fatal() => return Some(e),
            Err(e) => {
                telemetry::failed(&e);
                eprintln!("warning: {e}");
            }
        }
    }
    None
}

/// The bridges' bucket of meeting states, watched from its current values on.
async fn bucket(args: &Serve) -> Result<async_nats::jetstream::kv::Watch, String> {
    let options = args
        .nats_auth
        .apply(async_nats::ConnectOptions::new(), &args.connection.trust)
        .await?;
    let nats = options
        .connect(args.nats.as_slice())
        .await
        .map_err(|e| format!("NATS: {e}"))?;
    let kv = async_nats::jetstream::new(nats)
        .get_key_value(&args.meetings_bucket)
        .await
        .map_err(|e| {
            format!(
                "bucket {}: {e} (is a bridge writing it?)",
                args.meetings_bucket
            )
        })?;
    kv.watch_with_history(">")
        .await
        .map_err(|e| format!("bucket {}: {e}", args.meetings_bucket))
}

async fn from_bucket(mut watch: async_nats::jetstream::kv::Watch, board: Arc<Board>) {
    while let Some(entry) = watch.next().await {
        let Ok(entry) = entry else { continue };
        match entry.operation {
            async_nats::jetstream::kv::Operation::Put => {
                match serde_json::from_slice::<MeetingSnapshot>(&entry.value) {
                    Ok(state) => {
                        board.show(state);
                        board.say("state", String::from_utf8_lossy(&entry.value).into_owned());
                    }
                    Err(e) => eprintln!("warning: {}: not a meeting state: {e}", entry.key),
                }
            }
            _ => {
                board
                    .meetings
                    .write()
                    .expect("meetings lock")
                    .remove(&entry.key);
                board.say("reset", "{}".to_owned());
            }
        }
    }
}
