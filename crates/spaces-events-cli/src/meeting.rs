//! `spaces-events meeting`: each space's live meeting state, as a terminal view or as JSONL
//! changes; resynced from the REST API after every gap.

use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use clap::{Args, ValueEnum};
use futures_util::future::Either;
use futures_util::stream::select_all;
use futures_util::{Stream, StreamExt};
use spaces_events::client::Client;
use spaces_events::meeting::MeetingError;
use spaces_events::rest::Rest;
use spaces_events::types::{MeetingChange, MeetingSnapshot, MeetingStatus, RecordingPhase};
use spaces_events_nats::telemetry;
use tokio::sync::mpsc;

use crate::spaces::{Listing, Streams, follow_changes};
use crate::telemetry::HEALTH;
use crate::view::View;
use crate::watch::{Followed, block_on, fail, listed, report_states, shutdown};

#[derive(Args)]
pub(crate) struct Meeting {
    #[command(flatten)]
    followed: Followed,
    /// `view`: a live view redrawn in place (the default on a terminal); `jsonl`: one line per
    /// change, `{"space","change","source","subject","state"}` (the default otherwise).
    #[arg(long, value_enum)]
    format: Option<Shape>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Shape {
    View,
    Jsonl,
}

pub(crate) fn run(args: Meeting) -> ExitCode {
    block_on(follow(args))
}

async fn follow(args: Meeting) -> ExitCode {
    let (client, rest) = match args.followed.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let view = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        Shape::View
    } else {
        Shape::Jsonl
    }) == Shape::View;
    if !view {
        // On a terminal the view shows the connection; elsewhere stderr does.
        tokio::spawn(report_states(client.state_changes()));
    }
    let changes = match changes(&client, rest, &args.followed.spaces, &args.followed.listing).await
    {
        Ok(changes) => changes,
        Err(code) => return code,
    };
    let sink = if view {
        View::spawn(&args.followed.spaces).map(Sink::View)
    } else {
        Lines::spawn().map(Sink::Lines)
    };
    let mut sink = match sink {
        Ok(sink) => sink,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut changes = changes;
    let mut stop = std::pin::pin!(shutdown());
    let code = loop {
        let item = tokio::select! {
            item = changes.next() => item,
            () = &mut stop => break ExitCode::SUCCESS,
            () = sink.quit() => break ExitCode::SUCCESS,
        };
        match item {
            None => break ExitCode::SUCCESS,
            Some(Ok(change)) => {
                telemetry::changed(&change);
                let open = tokio::select! {
                    open = sink.send(change) => open,
                    () = &mut stop => break ExitCode::SUCCESS,
                };
                if !open {
                    break ExitCode::SUCCESS; // stdout closed
                }
            }
            Some(Err(MeetingError::Socket(e))) if e.is_fatal() => {
                sink.finish().await;
                return fail(&e);
            }
            Some(Err(e)) => {
                telemetry::failed(&e);
                sink.warn(&e.to_string());
            }
        }
    };
    sink.finish().await;
    client.close().await;
    code
}

/// The meeting changes of `spaces` (or, with `--all-spaces`, of the listed spaces as they
/// change); a refused named space is fatal (the exit code returned).
pub(crate) async fn changes(
    client: &Client,
    rest: Rest,
    spaces: &[String],
    listing: &Listing,
) -> Result<impl Stream<Item = Result<MeetingChange, MeetingError>> + Unpin + use<>, ExitCode> {
    if listing.all_spaces {
        let (wanted, pace) = listed(listing, client, rest.clone()).await?;
        let client = client.clone();
        let (follower, changes) = Streams::new(move |space: String| {
            let (client, rest) = (client.clone(), rest.clone());
            async move {
                client
                    .meeting(&space, &rest)
                    .await
                    .map_err(|e| e.to_string())
            }
        });
        tokio::spawn(follow_changes(wanted, pace, follower, HashSet::new()));
        return Ok(Either::Right(changes));
    }
    let mut meetings = Vec::new();
    for space in spaces {
        meetings.push(client.meeting(space, &rest).await.map_err(|e| fail(&e))?);
    }
    HEALTH
        .subscriptions
        .store(meetings.len(), Ordering::Relaxed);
    Ok(Either::Left(select_all(meetings)))
}

/// Where changes go.
enum Sink {
    View(View),
    Lines(Lines),
}

impl Sink {
    async fn send(&mut self, change: MeetingChange) -> bool {
        match self {
            Sink::View(view) => {
                view.show(change.state);
                true
            }
            Sink::Lines(lines) => lines.send(&change).await,
        }
    }

    fn warn(&self, message: &str) {
        match self {
            Sink::View(view) => view.warn(message),
            Sink::Lines(_) => eprintln!("warning: {message}"),
        }
    }

    async fn quit(&self) {
        match self {
            Sink::View(view) => view.quit().await,
            Sink::Lines(_) => std::future::pending().await,
        }
    }

    async fn finish(self) {
        match self {
            Sink::View(view) => view.finish().await,
            Sink::Lines(lines) => lines.finish().await,
        }
    }
}

/// JSONL on stdout from a thread of its own (a blocked pipe never blocks the heartbeat), each
/// line flushed as written.
struct Lines {
    lines: mpsc::Sender<String>,
    thread: std::thread::JoinHandle<()>,
}

impl Lines {
    fn spawn() -> std::io::Result<Lines> {
        let (lines, mut rx) = mpsc::channel::<String>(1024);
        let thread = std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || {
                let mut out = std::io::stdout().lock();
                while let Some(line) = rx.blocking_recv() {
                    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Lines { lines, thread })
    }

    async fn send(&self, change: &MeetingChange) -> bool {
        let line = serde_json::to_string(change).expect("a generated type serializes");
        self.lines.send(line).await.is_ok()
    }

    /// Waits until every line is written.
    async fn finish(self) {
        drop(self.lines);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Whoever was in the meeting at some point, in the order first seen.
#[derive(Default)]
pub(crate) struct Attended(Vec<(String, String)>);

impl Attended {
    /// Adds the attendees of `state` not seen yet.
    pub(crate) fn note(&mut self, state: &MeetingSnapshot) {
        for a in &state.attendees {
            if !self.0.iter().any(|(id, _)| *id == a.id) {
                let name = a.displayname.clone().unwrap_or_else(|| a.id.clone());
                self.0.push((a.id.clone(), name));
            }
        }
    }
}

/// The meeting in a few lines: who attended, how long, the recordings.
pub(crate) fn summary(state: &MeetingSnapshot, attended: &Attended) -> String {
    let millis =
        |t: &Option<spaces_events::types::Timestamp>| t.as_ref().and_then(|t| t.unix_millis());
    let length = match (millis(&state.start_time), millis(&state.end_time)) {
        (Some(start), Some(end)) => format!(", {} long", crate::view::clock(end - start)),
        _ => String::new(),
    };
    let status = match state.status {
        MeetingStatus::Active => "is still going on",
        MeetingStatus::Inactive => "ended",
        MeetingStatus::None => "was not seen",
    };
    let names: Vec<&str> = attended.0.iter().map(|(_, n)| n.as_str()).collect();
    let mut out = format!(
        "meeting {}: {status}{length}; {} attended: {}",
        state.meeting_id.as_deref().unwrap_or("?"),
        names.len(),
        names.join(", ")
    );
    for r in &state.recordings {
        let by = r
            .started_by
            .as_ref()
            .and_then(|s| s.displayname.as_deref())
            .map(|n| format!(", started by {n}"))
            .unwrap_or_default();
        let phase = match r.state {
            RecordingPhase::Started => "still recording",
            RecordingPhase::Ended => "ended, not ready yet",
            RecordingPhase::Ready => "ready",
        };
        out.push_str(&format!("\nrecording {}{by}: {phase}", r.id));
    }
    out
}
