//! The terminal view of `spaces-events meeting` (ratatui): each space's meeting — status,
//! duration, attendees with their media, recordings — redrawn in place by a thread of its own,
//! so a terminal that stops reading never holds up the client.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ratatui::Frame;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use spaces_events::meeting::MeetingState;
use spaces_events::types::{MeetingSnapshot, MeetingStatus, RecordingPhase, Timestamp};
use tokio::sync::{Notify, watch};

/// What is on screen.
#[derive(Clone, Default)]
struct Screen {
    meetings: Vec<MeetingSnapshot>,
    note: Option<String>,
}

/// The view's thread and what it shows.
pub(crate) struct View {
    screen: watch::Sender<Screen>,
    quit: Arc<Notify>,
    thread: std::thread::JoinHandle<()>,
}

impl View {
    /// Takes over the terminal (alternate screen, raw mode) and shows `spaces`, none known yet.
    pub(crate) fn spawn(spaces: &[String]) -> std::io::Result<View> {
        let meetings = spaces
            .iter()
            .map(|space| MeetingState::new(space).snapshot().clone())
            .collect();
        let (screen, shown) = watch::channel(Screen {
            meetings,
            note: None,
        });
        let quit = Arc::new(Notify::new());
        let asked = quit.clone();
        let thread = std::thread::Builder::new()
            .name("view".into())
            .spawn(move || draw(shown, &asked))?;
        Ok(View {
            screen,
            quit,
            thread,
        })
    }

    /// Shows a space's new state (a space not shown yet, e.g. one listed by `--all-spaces`,
    /// is added below the others).
    pub(crate) fn show(&self, state: MeetingSnapshot) {
        self.screen.send_modify(|screen| {
            match screen.meetings.iter_mut().find(|m| m.space == state.space) {
                Some(shown) => *shown = state,
                None => screen.meetings.push(state),
            }
        });
    }

    /// Shows a warning under the meetings (the last one).
    pub(crate) fn warn(&self, message: &str) {
        self.screen
            .send_modify(|screen| screen.note = Some(message.to_owned()));
    }

    /// Resolves when the user pressed `q`, Esc or Ctrl-C (raw mode turns Ctrl-C into a key).
    pub(crate) async fn quit(&self) {
        self.quit.notified().await;
    }

    /// Gives the terminal back.
    pub(crate) async fn finish(self) {
        drop(self.screen);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// The view thread: redraws on every change and every 250 ms (the durations tick), reads keys.
fn draw(mut shown: watch::Receiver<Screen>, quit: &Notify) {
    let mut terminal = ratatui::init();
    while shown.has_changed().is_ok() {
        let screen = shown.borrow_and_update().clone();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        if terminal
            .draw(|frame| render(frame, &screen.meetings, screen.note.as_deref(), now))
            .is_err()
        {
            break;
        }
        if event::poll(Duration::from_millis(250)).unwrap_or(false)
            && let Ok(Event::Key(key)) = event::read()
        {
            let ctrl_c =
                key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
            if ctrl_c || matches!(key.code, KeyCode::Char('q') | KeyCode::Esc) {
                quit.notify_one();
            }
        }
    }
    ratatui::restore();
}

/// `m:ss`, or `h:mm:ss` past an hour.
pub(crate) fn clock(millis: i64) -> String {
    let s = millis.max(0) / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// One frame: a box per space, and a line for the last warning and the keys.
pub(crate) fn render(
    frame: &mut Frame<'_>,
    meetings: &[MeetingSnapshot],
    note: Option<&str>,
    now: i64,
) {
    let mut rows: Vec<Constraint> = meetings.iter().map(|_| Constraint::Fill(1)).collect();
    rows.push(Constraint::Length(1));
    let areas = Layout::vertical(rows).split(frame.area());
    for (meeting, area) in meetings.iter().zip(areas.iter()) {
        frame.render_widget(space(meeting, now), *area);
    }
    let footer = match note {
        Some(note) => Line::from(vec![
            Span::raw("q quits · "),
            Span::raw(note.to_owned()).yellow(),
        ]),
        None => Line::from("q quits"),
    };
    frame.render_widget(Paragraph::new(footer).dim(), areas[meetings.len()]);
}

fn millis(t: Option<&Timestamp>) -> Option<i64> {
    t.and_then(Timestamp::unix_millis)
}

/// A space's box.
fn space(m: &MeetingSnapshot, now: i64) -> Paragraph<'static> {
    let (status, style) = match m.status {
        MeetingStatus::Active => ("active", Style::new().green().bold()),
        MeetingStatus::Inactive => ("ended", Style::new().bold()),
        MeetingStatus::None => ("no meeting", Style::new().dim()),
    };
    let start = millis(m.start_time.as_ref());
    let end = millis(m.end_time.as_ref()).or((m.status == MeetingStatus::Active).then_some(now));
    let duration = match (start, end) {
        (Some(start), Some(end)) => format!(" {}", clock(end - start)),
        _ => String::new(),
    };
    let title = Line::from(vec![
        Span::raw(format!(" {} · ", m.space)),
        Span::styled(format!("{status}{duration}"), style),
        Span::raw(" "),
    ]);
    let head = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    if let Some(id) = &m.meeting_id {
        lines.push(Line::from(format!("meeting {id}")).dim());
    }
    if m.status == MeetingStatus::Active || !m.attendees.is_empty() {
        lines.push(Line::styled(
            format!(
                "{:<28}{:<11}{:<6}{:<6}{}",
                format!("ATTENDEES ({})", m.attendees.len()),
                "TYPE",
                "MIC",
                "CAM",
                "SCREEN"
            ),
            head,
        ));
    }
    let name = |id: &str| {
        m.attendees
            .iter()
            .find(|a| a.id == id)
            .and_then(|a| a.displayname.clone())
            .unwrap_or_else(|| id.to_owned())
    };
    for a in &m.attendees {
        let flag = |on: Option<bool>| match on {
            Some(true) => Span::raw(format!("{:<6}", "on")).green(),
            Some(false) => Span::raw(format!("{:<6}", "off")).red(),
            None => Span::raw(format!("{:<6}", "-")).dim(),
        };
        let shown: String = a
            .displayname
            .as_deref()
            .unwrap_or(&a.id)
            .chars()
            .take(26)
            .collect();
        lines.push(Line::from(vec![
            Span::raw(format!("{shown:<28}")),
            Span::raw(format!("{:<11}", a.type_.as_deref().unwrap_or("?"))).dim(),
            flag(a.media.audio),
            flag(a.media.video),
            flag(a.media.screenshare),
        ]));
    }
    for r in &m.recordings {
        let (phase, style) = match r.state {
            RecordingPhase::Started => ("recording", Style::new().red().bold()),
            RecordingPhase::Ended => ("ended", Style::new()),
            RecordingPhase::Ready => ("ready", Style::new().green()),
        };
        let by = r
            .started_by
            .as_ref()
            .and_then(|s| s.displayname.clone())
            .map(|n| format!(" (by {n})"))
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled("RECORDING ", head),
            Span::raw(format!("{} ", r.id)),
            Span::styled(phase, style),
            Span::raw(by),
        ]));
    }
    if !m.raised_hands.is_empty() {
        let hands: Vec<String> = m.raised_hands.iter().map(|h| name(h)).collect();
        lines.push(Line::from(vec![
            Span::styled("HANDS ", head),
            Span::raw(hands.join(", ")),
        ]));
    }
    if let Some(mute) = &m.mute_all {
        let but: Vec<String> = mute.exclude.iter().map(|h| name(h)).collect();
        let text = if but.is_empty() {
            "everyone muted".to_owned()
        } else {
            format!("everyone muted but {}", but.join(", "))
        };
        lines.push(Line::from(vec![
            Span::styled("MUTE-ALL ", head),
            Span::raw(text),
        ]));
    }
    Paragraph::new(lines).block(Block::bordered().title(title))
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;

    /// One frame of the view, as text: the snapshot the meeting guide shows.
    #[test]
    fn a_frame_of_the_view() {
        let state: MeetingSnapshot = serde_json::from_value(serde_json::json!({
            "space": "5f1051f0f3ed772f915e19ed", "status": "active", "meetingId": "6743f19ec2b7d90012ab0001",
            "startTime": "2026-11-30T10:00:00.000Z", "endTime": null, "muteAll": null,
            "attendees": [
                { "_id": "ann", "displayname": "Ann Lee", "username": "ann@example.com", "type": "user", "joinTime": null,
                  "media": { "audio": true, "video": true, "screenshare": true, "connected": true, "selfMuted": false } },
                { "_id": "bob", "displayname": "Bob (guest)", "username": null, "type": "anonymous", "joinTime": null,
                  "media": { "audio": true, "video": false, "screenshare": null, "connected": true, "selfMuted": false } },
                { "_id": "phone-4471", "displayname": "+44 20 7946 0958", "username": null, "type": "phone", "joinTime": null,
                  "media": { "audio": null, "video": null, "screenshare": null, "connected": null, "selfMuted": null } }
            ],
            "recordings": [{ "_id": "rec-6743f2", "state": "started", "startTime": null, "endTime": null,
                "startedBy": { "_id": "ann", "displayname": "Ann Lee" } }],
            "raisedHands": ["bob"]
        }))
        .unwrap();
        let now = 1_796_032_995_000; // 2026-11-30T10:03:15Z
        let mut terminal = Terminal::new(TestBackend::new(72, 11)).unwrap();
        terminal.draw(|f| render(f, &[state], None, now)).unwrap();
        let buffer = terminal.backend().buffer();
        let text: Vec<String> = (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_owned()
            })
            .collect();
        let expected = include_str!("../tests/meeting-view.txt");
        assert_eq!(
            text.join("\n") + "\n",
            expected,
            "the frame:\n{}",
            text.join("\n")
        );
    }
}
