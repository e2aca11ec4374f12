//! The simulator's REST API, at `http://127.0.0.1:PORT/api` (its own port: the socket's front
//! door is a websocket proxy). The active meeting of each space is kept from every
//! MEDIA_SESSION_RESPONSE the simulator emits, subscribers or not, so a client that was away
//! finds there what it missed.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tracing::info;

use crate::Shared;

/// What the REST API does instead of answering (see [`Sim::rest_fault`](crate::Sim::rest_fault)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestFault {
    /// Answers normally.
    #[default]
    None,
    /// Answers every call with this HTTP status.
    Status(u16),
    /// Never answers (the connection stays open).
    Hang,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/anonymous/auth", post(anonymous_auth))
        .route("/api/spaces/{space}/join", get(join))
        .route("/api/spaces/{space}/activemeeting", get(active_meeting))
        .route("/api/service-configurations", get(service_configurations))
        .with_state(shared)
}

/// The fault to apply, if any: `Some(response)` to send instead.
async fn fault(shared: &Shared) -> Option<Response> {
    let fault = *shared.rest_fault.lock().expect("fault lock");
    match fault {
        RestFault::None => None,
        RestFault::Status(code) => Some(
            (
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "simulated failure",
            )
                .into_response(),
        ),
        RestFault::Hang => std::future::pending().await,
    }
}

/// `Authorization: jwt <token>` or `bearer <token>` with a token the socket accepts.
fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = value
        .strip_prefix("jwt ")
        .or_else(|| value.strip_prefix("bearer "));
    token.is_some_and(|t| shared.tokens.lock().expect("token lock").contains(t))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "message": "Unauthorized" })),
    )
        .into_response()
}

async fn anonymous_auth(State(shared): State<Arc<Shared>>, body: String) -> Response {
    if let Some(response) = fault(&shared).await {
        return response;
    }
    let Ok(Value::Object(who)) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "expected a JSON object").into_response();
    };
    let n = shared.guests.fetch_add(1, Ordering::SeqCst) + 1;
    let exp = (SystemTime::now() + Duration::from_secs(24 * 3600))
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = json!({ "anonymous_id": format!("guest-{n}"), "product_type": "onesna",
        "displayname": who.get("displayname"), "iss": "spaces-sim", "exp": exp });
    let token = format!(
        "{}.{}.{}",
        base64url(br#"{"alg":"HS256","typ":"JWT"}"#),
        base64url(claims.to_string().as_bytes()),
        base64url(format!("sim-signature-{n}").as_bytes())
    );
    shared
        .tokens
        .lock()
        .expect("token lock")
        .insert(token.clone());
    info!(guest = n, "guest token issued");
    axum::Json(json!({ "token": token })).into_response()
}

/// What a call that needs a token answers instead, if anything: the fault, or 401.
async fn refused(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    if let Some(response) = fault(shared).await {
        return Some(response);
    }
    (!authorized(shared, headers)).then(unauthorized)
}

async fn join(
    State(shared): State<Arc<Shared>>,
    Path(space): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = refused(&shared, &headers).await {
        return response;
    }
    if shared
        .refused
        .lock()
        .expect("refused lock")
        .contains(&space)
    {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({ "message": "Forbidden" })),
        )
            .into_response();
    }
    axum::Json(
        json!({ "topic": { "_id": space, "title": "Simulated space", "type": "group" },
        "settings": { "confPin": null } }),
    )
    .into_response()
}

async fn active_meeting(
    State(shared): State<Arc<Shared>>,
    Path(space): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(response) = refused(&shared, &headers).await {
        return response;
    }
    let meeting = shared
        .meetings
        .lock()
        .expect("meetings lock")
        .get(&space)
        .cloned();
    match meeting {
        Some(meeting) => axum::Json(meeting).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "message": "No active meeting" })),
        )
            .into_response(),
    }
}

async fn service_configurations(State(shared): State<Arc<Shared>>) -> Response {
    if let Some(response) = fault(&shared).await {
        return response;
    }
    let (api, socket) = shared.urls.get().cloned().unwrap_or_default();
    axum::Json(json!({ "spaces": { "server_url": api.trim_end_matches("/api"), "socketio_server_url": socket } }))
        .into_response()
}

/// Keeps `meetings` (space → active-meeting document) up to date with an emitted
/// MEDIA_SESSION_RESPONSE, as Spaces' own store would be.
pub(crate) fn record(meetings: &mut HashMap<String, Value>, payload: &Value) {
    let Some(space) = payload["topicId"].as_str() else {
        return;
    };
    let content = &payload["content"];
    let category = payload["category"].as_str().unwrap_or_default();
    let id = content["meetingId"]
        .as_str()
        .or(payload["messageId"].as_str())
        .unwrap_or_default();
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
            meetings.insert(space.to_owned(), meeting);
        }
        "app.event.meeting.ended" => {
            meetings.remove(space);
        }
        "app.event.attendee.added" | "app.event.attendee.left" => {
            let meeting = meetings.entry(space.to_owned()).or_insert_with(fresh);
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
            let Some(meeting) = meetings.get_mut(space) else {
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

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_without_padding() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
    }

    #[test]
    fn the_document_follows_the_events() {
        let mut meetings = HashMap::new();
        let event = |category: &str, content: Value| json!({ "topicId": "s", "messageId": "m", "category": category, "content": content });
        record(
            &mut meetings,
            &event(
                "app.event.meeting.started",
                json!({ "attendees": [{ "_id": "a" }] }),
            ),
        );
        record(
            &mut meetings,
            &event(
                "app.event.attendee.added",
                json!({ "attendee": { "_id": "b" } }),
            ),
        );
        record(
            &mut meetings,
            &event(
                "app.event.recording.started",
                json!({ "recordings": [{ "_id": "r" }] }),
            ),
        );
        record(
            &mut meetings,
            &event(
                "app.event.recording.stopped",
                json!({ "recordings": [{ "_id": "r", "endTime": "t" }] }),
            ),
        );
        record(
            &mut meetings,
            &event(
                "app.event.attendee.left",
                json!({ "attendee": { "_id": "a" } }),
            ),
        );
        let doc = &meetings["s"];
        assert_eq!(doc["_id"], "m");
        assert_eq!(doc["content"]["attendees"], json!([{ "_id": "b" }]));
        assert_eq!(
            doc["content"]["recordings"],
            json!([{ "_id": "r", "endTime": "t" }])
        );
        record(&mut meetings, &event("app.event.meeting.ended", json!({})));
        assert!(meetings.is_empty());
    }
}
