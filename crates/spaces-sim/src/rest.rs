//! The simulator's REST API, at `http://127.0.0.1:PORT/api` (its own port: the socket's front
//! door is a websocket proxy). The active meeting of each space is kept from every
//! MEDIA_SESSION_RESPONSE the simulator emits, subscribers or not, so a client that was away
//! finds there what it missed.

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
        .route("/api/users/me", get(me))
        .merge(crate::directory::routes())
        .merge(crate::auth::routes())
        .with_state(shared)
}

/// The fault to apply, if any: `Some(response)` to send instead.
pub(crate) async fn fault(shared: &Shared) -> Option<Response> {
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
pub(crate) fn authorized(shared: &Shared, headers: &HeaderMap) -> bool {
    let value = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = value
        .strip_prefix("jwt ")
        .or_else(|| value.strip_prefix("bearer "));
    token.is_some_and(|t| shared.tokens.lock().expect("token lock").accepts(t))
}

pub(crate) fn unauthorized() -> Response {
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
    let mut tokens = shared.tokens.lock().expect("token lock");
    // The JWT says when it ends: 24 h, as Spaces' guest tokens, or the simulator's lifetime.
    let exp = (SystemTime::now() + tokens.lifetime.unwrap_or(Duration::from_secs(24 * 3600)))
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
    tokens.add(token.clone());
    info!(guest = n, "guest token issued");
    axum::Json(json!({ "token": token })).into_response()
}

/// `GET /users/me`: who the token is (here, only whether it is accepted).
async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(response) = refused(&shared, &headers).await {
        return response;
    }
    axum::Json(json!({ "_id": "sim-user", "displayname": "Simulated user" })).into_response()
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
        .store
        .lock()
        .expect("store lock")
        .document(&space)
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

pub(crate) fn base64url(bytes: &[u8]) -> String {
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
}
