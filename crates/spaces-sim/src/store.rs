//! What Spaces keeps of the events it sends: each space's active-meeting document, and how it
//! names meetings — which Spaces does not document, so the simulator plays any [`Identity`].

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

/// What `messageId` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageIds {
    /// Every event has its own ("the unique identifier of the message").
    PerEvent,
    /// Every event of a meeting has the meeting's.
    PerMeeting,
}

/// What the active-meeting document's `_id` is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentId {
    /// An id of its own, which no event carries.
    Own,
    /// The `messageId` of the meeting's events (with [`MessageIds::PerEvent`]: of the event
    /// that started it).
    MessageId,
    /// The events' `content.meetingId`.
    MeetingId,
}

/// One reading of how Spaces names a meeting in its events and in the active-meeting
/// document. With one set ([`Simulator::identity`](crate::Simulator::identity)), the simulator
/// names every MEDIA_SESSION_RESPONSE it sends that way, whatever ids the payload had; written
/// `message-per-event/no-meeting-id/doc-own` and so on ([`Identity::ALL`] lists them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// What `messageId` is.
    pub message_id: MessageIds,
    /// Whether events carry `content.meetingId`.
    pub meeting_id: bool,
    /// What the document's `_id` is.
    pub document_id: DocumentId,
}

impl Identity {
    /// Every reading that can be (`DocumentId::MeetingId` needs `meeting_id`).
    pub const ALL: [Identity; 10] = {
        use DocumentId::*;
        use MessageIds::*;
        const fn r(message_id: MessageIds, meeting_id: bool, document_id: DocumentId) -> Identity {
            Identity {
                message_id,
                meeting_id,
                document_id,
            }
        }
        [
            r(PerEvent, false, Own),
            r(PerEvent, false, MessageId),
            r(PerEvent, true, Own),
            r(PerEvent, true, MessageId),
            r(PerEvent, true, MeetingId),
            r(PerMeeting, false, Own),
            r(PerMeeting, false, MessageId),
            r(PerMeeting, true, Own),
            r(PerMeeting, true, MessageId),
            r(PerMeeting, true, MeetingId),
        ]
    };
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = match self.message_id {
            MessageIds::PerEvent => "message-per-event",
            MessageIds::PerMeeting => "message-per-meeting",
        };
        let meeting = if self.meeting_id {
            "meeting-id"
        } else {
            "no-meeting-id"
        };
        let document = match self.document_id {
            DocumentId::Own => "doc-own",
            DocumentId::MessageId => "doc-message-id",
            DocumentId::MeetingId => "doc-meeting-id",
        };
        write!(f, "{message}/{meeting}/{document}")
    }
}

impl FromStr for Identity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Identity::ALL
            .into_iter()
            .find(|i| i.to_string() == s)
            .ok_or_else(|| {
                let all: Vec<String> = Identity::ALL.iter().map(Identity::to_string).collect();
                format!("no identity reading {s:?}; one of: {}", all.join(", "))
            })
    }
}

/// How the space's meeting is named under the reading.
#[derive(Clone, Debug)]
struct Naming {
    message: String,
    meeting: String,
    document: String,
}

/// What Spaces keeps, as the simulator models it: each space's active-meeting document, kept
/// from the events sent, and the naming of meetings. The simulator serves its REST API from
/// one; a test can drive one without a server (a model of the server for property tests).
///
/// ```
/// use serde_json::json;
/// use spaces_sim::{Identity, Store};
///
/// let mut store = Store::new(Some(Identity::ALL[0]));
/// let mut started = json!({ "_id": "e1", "topicId": "s", "category": "app.event.meeting.started",
///     "content": { "attendees": [{ "_id": "ann" }] } });
/// store.keep(&mut started); // now named as the reading says
/// assert!(started["messageId"].is_string());
/// assert_eq!(store.document("s").unwrap()["content"]["attendees"][0]["_id"], "ann");
/// ```
#[derive(Debug, Default)]
pub struct Store {
    identity: Option<Identity>,
    documents: HashMap<String, Value>,
    naming: HashMap<String, Naming>,
    /// Ids made so far.
    made: u64,
}

impl Store {
    /// An empty store; meetings named as `identity` says (as given without one: see
    /// [`Simulator::identity`](crate::Simulator::identity)).
    pub fn new(identity: Option<Identity>) -> Self {
        Store {
            identity,
            ..Store::default()
        }
    }

    /// The reading meetings are named by, if any.
    pub fn identity(&self) -> Option<Identity> {
        self.identity
    }

    /// The active-meeting document of `space` (`None`: no meeting, a 404).
    pub fn document(&self, space: &str) -> Option<&Value> {
        self.documents.get(space)
    }

    /// A fresh id, 24 hex digits as Spaces' are, `kind` keeping the kinds apart.
    fn id(&mut self, kind: u8) -> String {
        self.made += 1;
        format!("{kind:02x}{:022x}", 0x6743_f1a0_0000_u64 + self.made)
    }

    /// Names a MEDIA_SESSION_RESPONSE as the reading says (as given without one) and keeps
    /// the space's document up to date with it, as Spaces' own store would be.
    pub fn keep(&mut self, payload: &mut Value) {
        let Some(space) = payload["topicId"].as_str().map(str::to_owned) else {
            return;
        };
        let category = payload["category"].as_str().unwrap_or_default().to_owned();
        let document = match self.identity {
            Some(identity) => self.name(identity, &space, &category, payload),
            None => payload["content"]["meetingId"]
                .as_str()
                .or(payload["messageId"].as_str())
                .unwrap_or_default()
                .to_owned(),
        };
        record(&mut self.documents, &space, &category, &document, payload);
    }

    /// Puts the reading's ids into `payload`; returns the document's `_id`.
    fn name(
        &mut self,
        identity: Identity,
        space: &str,
        category: &str,
        payload: &mut Value,
    ) -> String {
        let event_message = self.id(0x5b);
        if category == "app.event.meeting.started" || !self.naming.contains_key(space) {
            let (message, meeting) = (self.id(0x5c), self.id(0x5d));
            let document = match identity.document_id {
                DocumentId::Own => self.id(0x5e),
                DocumentId::MessageId => match identity.message_id {
                    MessageIds::PerEvent => event_message.clone(),
                    MessageIds::PerMeeting => message.clone(),
                },
                DocumentId::MeetingId => meeting.clone(),
            };
            let naming = Naming {
                message,
                meeting,
                document,
            };
            self.naming.insert(space.to_owned(), naming);
        }
        let naming = &self.naming[space];
        payload["messageId"] = json!(match identity.message_id {
            MessageIds::PerEvent => event_message,
            MessageIds::PerMeeting => naming.message.clone(),
        });
        if let Value::Object(content) = &mut payload["content"] {
            if identity.meeting_id {
                content.insert("meetingId".into(), json!(naming.meeting));
            } else {
                content.remove("meetingId");
            }
        } else if identity.meeting_id {
            payload["content"] = json!({ "meetingId": naming.meeting });
        }
        naming.document.clone()
    }
}

/// Updates `documents` (space → active-meeting document, `_id` = `id` for a new one) with an
/// event.
fn record(
    documents: &mut HashMap<String, Value>,
    space: &str,
    category: &str,
    id: &str,
    payload: &Value,
) {
    let content = &payload["content"];
    let fresh = || {
        json!({ "_id": id, "topicId": space,
        "content": { "meetingStatus": "active", "attendees": [], "recordings": [] } })
    };
    match category {
        "app.event.meeting.started" => {
            let mut meeting = fresh();
            if let Value::Object(fields) = content {
                for (k, v) in fields {
                    meeting["content"][k] = v.clone();
                }
            }
            meeting["content"]["meetingStatus"] = json!("active");
            documents.insert(space.to_owned(), meeting);
        }
        "app.event.meeting.ended" => {
            documents.remove(space);
        }
        "app.event.attendee.added" | "app.event.attendee.left" => {
            let meeting = documents.entry(space.to_owned()).or_insert_with(fresh);
            let roster = &mut meeting["content"]["attendees"];
            if content["attendees"].is_array() {
                *roster = content["attendees"].clone();
            } else if let Some(who) = content["attendee"]["_id"].as_str() {
                let list = roster.as_array_mut().expect("attendees is an array");
                list.retain(|a| a["_id"].as_str() != Some(who));
                if category == "app.event.attendee.added" {
                    list.push(content["attendee"].clone());
                }
            }
        }
        "app.event.recording.started"
        | "app.event.recording.ended"
        | "app.event.recording.stopped"
        | "app.event.recording.ready" => {
            let Some(meeting) = documents.get_mut(space) else {
                return; // a recording ready after the meeting ended
            };
            let list = meeting["content"]["recordings"]
                .as_array_mut()
                .expect("recordings is an array");
            for r in content["recordings"].as_array().into_iter().flatten() {
                let mut r = r.clone();
                if category == "app.event.recording.ready" {
                    r["status"] = json!("ready");
                }
                match list.iter_mut().find(|k| k["_id"] == r["_id"]) {
                    Some(known) => {
                        if let (Value::Object(k), Value::Object(new)) = (known, r) {
                            k.extend(new);
                        }
                    }
                    None => list.push(r),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(category: &str, content: Value) -> Value {
        json!({ "topicId": "s", "messageId": "m", "category": category, "content": content })
    }

    #[test]
    fn the_document_follows_the_events() {
        let mut store = Store::new(None);
        for (category, content) in [
            (
                "app.event.meeting.started",
                json!({ "attendees": [{ "_id": "a" }] }),
            ),
            (
                "app.event.attendee.added",
                json!({ "attendee": { "_id": "b" } }),
            ),
            (
                "app.event.recording.started",
                json!({ "recordings": [{ "_id": "r" }] }),
            ),
            (
                "app.event.recording.stopped",
                json!({ "recordings": [{ "_id": "r", "endTime": "t" }] }),
            ),
            (
                "app.event.attendee.left",
                json!({ "attendee": { "_id": "a" } }),
            ),
        ] {
            store.keep(&mut event(category, content));
        }
        let doc = store.document("s").unwrap();
        assert_eq!(doc["_id"], "m");
        assert_eq!(doc["content"]["attendees"], json!([{ "_id": "b" }]));
        assert_eq!(
            doc["content"]["recordings"],
            json!([{ "_id": "r", "endTime": "t" }])
        );
        store.keep(&mut event("app.event.meeting.ended", json!({})));
        assert!(store.document("s").is_none());
    }

    #[test]
    fn every_reading_names_as_it_says() {
        for identity in Identity::ALL {
            assert_eq!(identity.to_string().parse::<Identity>(), Ok(identity));
            let mut store = Store::new(Some(identity));
            let mut sent: Vec<Value> = Vec::new();
            for category in [
                "app.event.meeting.started",
                "app.event.attendee.added",
                "app.event.meeting.ended",
                "app.event.meeting.started",
            ] {
                let mut payload = event(category, json!({ "meetingId": "given" }));
                store.keep(&mut payload);
                if sent.len() == 1 {
                    let doc = store.document("s").unwrap();
                    let expected = match identity.document_id {
                        DocumentId::Own => None,
                        DocumentId::MessageId => Some(&sent[0]["messageId"]),
                        DocumentId::MeetingId => Some(&sent[0]["content"]["meetingId"]),
                    };
                    if let Some(expected) = expected {
                        assert_eq!(&doc["_id"], expected, "{identity}");
                    } else {
                        assert!(
                            sent.iter().all(|p: &Value| p["messageId"] != doc["_id"]),
                            "{identity}"
                        );
                    }
                }
                sent.push(payload);
            }
            let message = |n: usize| sent[n]["messageId"].clone();
            let meeting = |n: usize| sent[n]["content"]["meetingId"].clone();
            assert_eq!(
                message(0) == message(1),
                identity.message_id == MessageIds::PerMeeting,
                "{identity}"
            );
            assert_ne!(message(0), message(3), "{identity}: another meeting");
            if identity.meeting_id {
                assert_eq!(meeting(0), meeting(2));
                assert_ne!(meeting(0), meeting(3));
                assert_ne!(meeting(0), json!("given"));
            } else {
                assert!(
                    sent.iter().all(|p| p["content"].get("meetingId").is_none()),
                    "{identity}"
                );
            }
        }
        assert!(
            "per-nothing"
                .parse::<Identity>()
                .unwrap_err()
                .contains("message-per-event/no-meeting-id/doc-own")
        );
    }
}
