//! What the simulator plays: the built-in meeting, or a JSONL file of timed payloads.
//!
//! File format (what `spaces-events record` writes): one JSON object per line,
//! `{"at_ms": 1200, "payload": {…}}`, with an optional `"event"` (default
//! `MEDIA_SESSION_RESPONSE`). `at_ms` is the time since the first subscription; the payload goes
//! to the subscribers of its `topicId`. Blank lines are skipped.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

/// The event a payload is sent as when the line names none.
pub const MEDIA_SESSION_RESPONSE: &str = "MEDIA_SESSION_RESPONSE";

/// The space the built-in meeting happens in.
pub const DEMO_SPACE: &str = "5f1051f0f3ed772f915e19ed";

/// One payload to send, and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Time since the scenario started.
    pub at: Duration,
    /// Socket event name.
    pub event: String,
    /// The payload; sent to the room of its `topicId`.
    pub payload: Value,
}

impl Step {
    /// The space (room) the payload goes to.
    pub fn space(&self) -> &str {
        self.payload["topicId"].as_str().unwrap_or_default()
    }
}

/// A sequence of timed payloads (the default: none).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scenario {
    /// The steps, by time.
    pub steps: Vec<Step>,
}

/// A scenario file line that is not a step.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScenarioError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    at_ms: u64,
    #[serde(default)]
    event: Option<String>,
    payload: Value,
}

impl Scenario {
    /// Parses a JSONL scenario (see the module docs).
    ///
    /// # Errors
    /// [`ScenarioError`] naming the first bad line.
    pub fn from_jsonl(text: &str) -> Result<Scenario, ScenarioError> {
        let mut steps = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |message: String| ScenarioError {
                line: i + 1,
                message,
            };
            let Line {
                at_ms,
                event,
                payload,
            } = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
            if !payload.is_object() {
                return Err(bad("`payload` is not a JSON object".into()));
            }
            steps.push(Step {
                at: Duration::from_millis(at_ms),
                event: event.unwrap_or_else(|| MEDIA_SESSION_RESPONSE.into()),
                payload,
            });
        }
        steps.sort_by_key(|s| s.at);
        Ok(Scenario { steps })
    }

    /// The same steps sent to `space`: every `topicId` becomes `space`, and so does a sender
    /// `_id` that was the step's space (the space server).
    pub fn in_space(mut self, space: &str) -> Scenario {
        for step in &mut self.steps {
            let old = step.payload["topicId"].take();
            if step.payload["sender"]["_id"] == old {
                step.payload["sender"]["_id"] = json!(space);
            }
            step.payload["topicId"] = json!(space);
        }
        self
    }

    /// The spaces the scenario sends to.
    pub fn spaces(&self) -> Vec<String> {
        let mut spaces: Vec<String> = self.steps.iter().map(|s| s.space().to_owned()).collect();
        spaces.sort();
        spaces.dedup();
        spaces
    }

    /// The built-in meeting in [`DEMO_SPACE`], starting at `start`: the meeting starts, three
    /// people join (one by phone), media changes, a recording starts and ends, people leave, the
    /// meeting ends and the recording becomes ready — every documented category — in about 3 s.
    pub fn meeting(start: SystemTime) -> Scenario {
        let space = DEMO_SPACE;
        let at = |ms: u64| iso(start + Duration::from_millis(ms));
        let server = json!({ "_id": space, "type": "spaceserver" });
        let ann = json!({ "_id": "593807c13b3132a1e27c806d", "type": "user", "username": "ann.lee@example.com",
            "displayname": "Ann Lee", "picture_url": "https://spaces.example/pic/ann.jpg", "joinTime": at(0) });
        let bob = json!({ "_id": "5a1b2c3d4e5f60718293a4b5", "type": "anonymous", "username": "",
            "displayname": "Bob (guest)", "joinTime": at(300) });
        let phone = json!({ "_id": "phone-4471", "type": "phone", "displayname": "+44 20 7946 0958", "joinTime": at(700) });
        let recording = |end: Option<u64>| {
            json!({
            "_id": "rec-6743f2", "startedBy": { "_id": ann["_id"], "type": "user", "username": ann["username"],
            "displayname": ann["displayname"] }, "startTime": at(1000), "endTime": end.map(at) })
        };
        let meeting = |status: &str, attendees: Value, end: Option<u64>| {
            json!({
            "startTime": at(0), "endTime": end.map(at), "virtualEndTime": end.map(at), "meetingStatus": status,
            "mediaMode": "video", "bodyText": "", "attendees": attendees, "recordings": [], "data": [] })
        };
        let mut n = 0;
        let mut event = |ms: u64, category: &str, sender: &Value, content: Value| {
            n += 1;
            Step {
                at: Duration::from_millis(ms),
                event: MEDIA_SESSION_RESPONSE.into(),
                payload: json!({ "_id": format!("6743f1a0c2b7d90012ab{n:04x}"), "messageId": "6743f19ec2b7d90012ab0001",
                    "topicId": space, "category": category, "sender": sender, "content": content, "modified": null }),
            }
        };
        let tracks = |who: &Value, audio: bool, video: bool, screenshare: bool| {
            json!({
            "mediaSession": { "audio": audio, "video": video, "connected": true, "screenshare": screenshare, "selfMuted": !audio },
            "streamId": format!("stream-{}", who["_id"].as_str().unwrap_or_default()) })
        };
        let steps = vec![
            event(
                0,
                "app.event.meeting.started",
                &server,
                meeting("active", json!([ann]), None),
            ),
            event(
                300,
                "app.event.attendee.added",
                &server,
                json!({ "attendees": [ann, bob], "attendee": bob }),
            ),
            event(500, "tracksstatus", &bob, tracks(&bob, true, true, false)),
            event(
                700,
                "app.event.attendee.added",
                &server,
                json!({ "attendees": [ann, bob, phone], "attendee": phone }),
            ),
            event(
                1000,
                "app.event.recording.started",
                &server,
                json!({ "recordings": [recording(None)] }),
            ),
            event(1300, "tracksstatus", &ann, tracks(&ann, true, true, true)),
            event(
                1600,
                "app.event.attendee.left",
                &server,
                json!({ "attendees": [ann, bob], "attendee": phone }),
            ),
            event(
                1900,
                "app.event.recording.ended",
                &server,
                json!({ "startTime": at(1000), "endTime": at(1900), "recordings": [recording(Some(1900))] }),
            ),
            event(
                2100,
                "app.event.attendee.left",
                &server,
                json!({ "attendees": [ann], "attendee": bob }),
            ),
            event(
                2300,
                "app.event.meeting.ended",
                &server,
                meeting("inactive", json!([]), Some(2300)),
            ),
            event(
                2800,
                "app.event.recording.ready",
                &server,
                json!({ "recordings": [recording(Some(1900))] }),
            ),
        ];
        Scenario { steps }
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn iso(t: SystemTime) -> String {
    let ms = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // H. Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        assert_eq!(iso(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso(UNIX_EPOCH + Duration::from_millis(1_795_515_300_123)),
            "2026-11-24T10:15:00.123Z"
        );
        assert_eq!(
            iso(UNIX_EPOCH + Duration::from_millis(1_709_208_000_000)),
            "2024-02-29T12:00:00.000Z"
        );
    }

    #[test]
    fn jsonl_round_trip_and_errors() {
        let text = "{\"at_ms\":5,\"payload\":{\"topicId\":\"a\",\"category\":\"x\"}}\n\n{\"at_ms\":1,\"event\":\"E\",\"payload\":{\"topicId\":\"b\"}}\n";
        let s = Scenario::from_jsonl(text).unwrap();
        assert_eq!(
            s.steps
                .iter()
                .map(|s| (s.at.as_millis(), s.event.as_str()))
                .collect::<Vec<_>>(),
            [(1, "E"), (5, MEDIA_SESSION_RESPONSE)]
        );
        assert_eq!(s.spaces(), ["a", "b"]);
        let e = Scenario::from_jsonl("{\"at_ms\":1,\"payload\":{}}\n{\"at_ms\":-1,\"payload\":{}}")
            .unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(
            Scenario::from_jsonl("{\"at_ms\":1,\"payload\":[]}")
                .unwrap_err()
                .to_string(),
            "line 1: `payload` is not a JSON object"
        );
    }

    #[test]
    fn the_meeting_has_every_documented_category() {
        let s = Scenario::meeting(SystemTime::now());
        for category in [
            "app.event.meeting.started",
            "app.event.meeting.ended",
            "app.event.attendee.added",
            "app.event.attendee.left",
            "app.event.recording.started",
            "app.event.recording.ended",
            "app.event.recording.ready",
        ] {
            assert!(
                s.steps.iter().any(|st| st.payload["category"] == category),
                "{category}"
            );
        }
        assert_eq!(s.spaces(), [DEMO_SPACE]);
        let moved = s.clone().in_space("s2");
        assert_eq!(moved.spaces(), ["s2"]);
        assert_eq!(moved.steps[0].payload["sender"]["_id"], "s2");
        assert_eq!(
            moved.steps[2].payload["sender"],
            s.steps[2].payload["sender"]
        );
    }
}
