//! The output side of `watch`, `record` and `demo`: a thread of its own writes stdout and the
//! recording, so a blocked pipe (`watch … | slow-consumer`) never blocks the runtime thread that
//! answers the server's pings.
//!
//! The hand-off is bounded. When the writer falls behind, [`Writer::send`] waits, the caller stops
//! taking events, the client's buffer fills and the client stops reading the socket: heartbeats go
//! on, nothing is dropped — the library's slow-consumer guarantee, carried through to stdout.
//! Lines are buffered and flushed when no more events are waiting (once per burst, so a person
//! still sees each event at once, and a fast stream costs one write per burst, not per event).

use std::io::{BufWriter, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use spaces_events::{Category, MediaSessionEvent};
use tokio::sync::mpsc;

use crate::watch::Format;

/// Events waiting for the writer; past this, [`Writer::send`] waits.
const HAND_OFF: usize = 1024;

/// An event and when it was received (one clock read; the wall time is derived where needed).
struct Received {
    event: MediaSessionEvent,
    at: Instant,
}

/// Why the writer stopped early.
enum Stop {
    /// stdout was closed (`| head`): not an error.
    Stdout,
    /// The recording could not be written.
    Record(std::io::Error),
}

/// The writer thread and the sending end of its hand-off.
pub(crate) struct Writer {
    events: mpsc::Sender<Received>,
    thread: std::thread::JoinHandle<Result<(), Stop>>,
}

impl Writer {
    /// Starts the writer: each event as `format` on stdout, and into `recorder` if given.
    pub(crate) fn spawn(
        format: Format,
        colour: bool,
        recorder: Option<Recorder>,
    ) -> std::io::Result<Writer> {
        let (events, received) = mpsc::channel(HAND_OFF);
        let thread = std::thread::Builder::new()
            .name("stdout".into())
            .spawn(move || write(received, format, colour, recorder))?;
        Ok(Writer { events, thread })
    }

    /// Hands `event` over, waiting while the writer is behind; `false` once the writer has
    /// stopped (stdout closed, or a recording error that [`Writer::finish`] returns).
    pub(crate) async fn send(&self, event: MediaSessionEvent) -> bool {
        let received = Received {
            event,
            at: Instant::now(),
        };
        self.events.send(received).await.is_ok()
    }

    /// Waits until everything handed over is written; the recording's error if it failed. A
    /// second Ctrl-C stops waiting (stdout may be blocked for good).
    pub(crate) async fn finish(self) -> Result<(), String> {
        drop(self.events);
        let thread = self.thread;
        let joined = tokio::select! {
            joined = tokio::task::spawn_blocking(move || thread.join()) => joined,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        match joined {
            Ok(Ok(Ok(()) | Err(Stop::Stdout))) => Ok(()),
            Ok(Ok(Err(Stop::Record(e)))) => Err(format!("recording: {e}")),
            _ => Err("the output thread failed".into()),
        }
    }
}

/// The writer thread's loop.
fn write(
    mut events: mpsc::Receiver<Received>,
    format: Format,
    colour: bool,
    mut recorder: Option<Recorder>,
) -> Result<(), Stop> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    while let Some(first) = events.blocking_recv() {
        let mut next = Some(first);
        while let Some(Received { event, at }) = next {
            if let Some(recorder) = recorder.as_mut() {
                recorder.write(&event, at).map_err(Stop::Record)?;
            }
            match format {
                Format::Jsonl => out
                    .write_all(event.json().as_bytes())
                    .and_then(|()| out.write_all(b"\n")),
                Format::Pretty => {
                    let wall = SystemTime::now()
                        .checked_sub(at.elapsed())
                        .unwrap_or(UNIX_EPOCH);
                    writeln!(out, "{}", pretty(&event, wall, colour))
                }
            }
            .map_err(|_| Stop::Stdout)?;
            next = events.try_recv().ok();
        }
        out.flush().map_err(|_| Stop::Stdout)?;
        if let Some(recorder) = recorder.as_mut() {
            recorder.file.flush().map_err(Stop::Record)?;
        }
    }
    Ok(())
}

/// Writes `{"at_ms":…,"payload":…}` lines: the scenario format of `spaces-events sim`.
pub(crate) struct Recorder {
    file: BufWriter<std::fs::File>,
    start: Instant,
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
            file: BufWriter::new(file),
            start: Instant::now(),
            after,
        })
    }

    fn write(&mut self, event: &MediaSessionEvent, at: Instant) -> std::io::Result<()> {
        let at = self.after + at.saturating_duration_since(self.start).as_millis();
        writeln!(self.file, "{{\"at_ms\":{at},\"payload\":{}}}", event.json())
    }
}

/// One readable line: the time received, category, space, and what the category is about.
fn pretty(event: &MediaSessionEvent, received: SystemTime, colour: bool) -> String {
    let now = received
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
