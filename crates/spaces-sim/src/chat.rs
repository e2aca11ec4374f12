//! The `/chat` namespace: who may connect (the token in the websocket URL's query), the events
//! a client sends (SUBSCRIBE_CHANNEL, UNSUBSCRIBE_CHANNEL, SEND_MEDIA_SESSION_EVENTS), and what
//! the server emits to a space's subscribers (single events, scenarios played).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{Data, SocketRef, State};
use tokio::sync::watch;
use tracing::info;

use super::{MEDIA_SESSION_RESPONSE, Scenario, Shared, Source};

#[derive(Debug)]
pub(crate) struct Rejected;

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Not authorized")
    }
}

/// The `/chat` middleware: `token` and `tokenType` from the websocket URL's query.
pub(crate) async fn authenticate(
    socket: SocketRef,
    State(shared): State<Arc<Shared>>,
) -> Result<(), Rejected> {
    let query = socket.req_parts().uri.query().unwrap_or_default();
    let param = |name: &str| {
        query.split('&').find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| percent_decode(v))
        })
    };
    let token = param("token").filter(|t| shared.tokens.lock().expect("token lock").accepts(t));
    let type_ok = matches!(param("tokenType").as_deref(), Some("jwt" | "oauth"));
    if let Some(token) = token.filter(|_| type_ok) {
        // For `Expiry::Close`: the token this connection lives by.
        socket.extensions.insert(crate::auth::Presented(token));
        shared.connections.fetch_add(1, Ordering::SeqCst);
        info!(sid = %socket.id, "client connected");
        // Here, not in the connect handler: socketioxide acknowledges the namespace and then
        // spawns that handler, so an event the client sends at once could find no handler.
        // (socket.io 2.0.4 runs its `connection` handlers before reading further packets.)
        register(&socket);
        Ok(())
    } else {
        shared.rejections.fetch_add(1, Ordering::SeqCst);
        info!(sid = %socket.id, "client rejected: wrong token or tokenType");
        Err(Rejected)
    }
}

/// The `/chat` events a client may send.
fn register(socket: &SocketRef) {
    socket.on("SUBSCRIBE_CHANNEL", on_subscribe);
    socket.on(
        "UNSUBSCRIBE_CHANNEL",
        async |socket: SocketRef, State(shared): State<Arc<Shared>>, Data::<Value>(payload)| {
            if let Some(space) = payload["channel"]["_id"].as_str() {
                socket.leave(space.to_owned());
                info!(sid = %socket.id, space, "unsubscribed");
                shared
                    .unsubscribed
                    .send_modify(|counts| *counts.entry(space.to_owned()).or_default() += 1);
            }
            let _ = socket.emit(
                "CHANNEL_UNSUBSCRIBED",
                &json!({ "channel": payload["channel"] }),
            );
        },
    );
    socket.on(
        "SEND_MEDIA_SESSION_EVENTS",
        async |socket: SocketRef,
               io: SocketIo,
               State(shared): State<Arc<Shared>>,
               Data::<Value>(mut payload)| {
            if payload.get("sender").is_none() {
                payload["sender"] = json!({ "_id": format!("user-{}", socket.id), "type": "user" });
            }
            emit(&io, &shared, MEDIA_SESSION_RESPONSE, &payload).await;
        },
    );
}

async fn on_subscribe(
    socket: SocketRef,
    Data(payload): Data<Value>,
    State(shared): State<Arc<Shared>>,
) {
    let channel = &payload["channel"];
    let Some(space) = channel["_id"].as_str().filter(|s| !s.is_empty()) else {
        info!(sid = %socket.id, "subscription refused: no space id");
        let _ = socket.emit("SUBSCRIBE_CHANNEL_FAILED", &json!({ "channel": channel,
            "error": { "code": "invalid.parameters", "message": "channel data was not provided" } }));
        return;
    };
    if shared.refused.lock().expect("refused lock").contains(space) {
        info!(sid = %socket.id, space, "subscription refused (not.a.member)");
        let _ = socket.emit(
            "SUBSCRIBE_CHANNEL_FAILED",
            &json!({ "channel": channel,
            "error": { "code": "not.a.member", "message": "user is not a member of the space" } }),
        );
        return;
    }
    socket.join(space.to_owned());
    let _ = socket.emit(
        "CHANNEL_SUBSCRIBED",
        &json!({ "channel": channel, "dtsid": "1234", "sessionId": socket.id.to_string() }),
    );
    info!(sid = %socket.id, space, "subscribed");
    shared
        .subscribed
        .send_modify(|counts| *counts.entry(space.to_owned()).or_default() += 1);
}

/// Sends to the room of the payload's `topicId`; a MEDIA_SESSION_RESPONSE also updates the
/// space's active meeting.
pub(crate) async fn emit(io: &SocketIo, shared: &Shared, event: &str, payload: &Value) -> usize {
    let mut named;
    let payload = if event == MEDIA_SESSION_RESPONSE {
        named = payload.clone();
        shared.store.lock().expect("store lock").keep(&mut named);
        &named
    } else {
        payload
    };
    let space = payload["topicId"].as_str().unwrap_or_default().to_owned();
    let (Some(counted), Some(chat)) = (io.of("/chat"), io.of("/chat")) else {
        return 0;
    };
    let receivers = counted.to(space.clone()).sockets().len();
    let _ = chat.to(space).emit(event, payload).await;
    receivers
}

/// Plays the scenario (from the first subscription on, or at once), once or in a loop; counts
/// plays.
pub(crate) async fn play(
    io: SocketIo,
    shared: Arc<Shared>,
    source: Source,
    looping: bool,
    on_subscribe: bool,
    played: watch::Sender<usize>,
) {
    if on_subscribe {
        let _ = shared
            .subscribed
            .subscribe()
            .wait_for(|counts| !counts.is_empty())
            .await;
    }
    loop {
        let scenario = source.scenario();
        info!(events = scenario.steps.len(), "scenario started");
        play_once(&io, &shared, &scenario, 1.0).await;
        played.send_modify(|n| *n += 1);
        if !looping {
            info!("scenario finished; it plays once (--loop plays it again and again)");
            return;
        }
        info!("scenario finished; again in 2 s");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Emits each step at its time divided by `speed`, from now.
pub(crate) async fn play_once(io: &SocketIo, shared: &Shared, scenario: &Scenario, speed: f64) {
    let start = tokio::time::Instant::now();
    for step in &scenario.steps {
        let at = Duration::try_from_secs_f64(step.at.as_secs_f64() / speed).unwrap_or_default();
        tokio::time::sleep_until(start + at).await;
        emit(io, shared, &step.event, &step.payload).await;
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
