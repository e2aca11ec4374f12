//! Typed, lossless events from the Avaya Spaces socket API.
//!
//! Spaces emits `MEDIA_SESSION_RESPONSE` on its Socket.IO 2 namespace `/chat` when a space's
//! meeting starts or ends, attendees join or leave, recordings start, end or become ready, and
//! participants' media changes. This crate decodes those payloads into typed values generated
//! from the project's JSON Schema (`schema/`), without losing anything the server sent.
//!
//! ```
//! use spaces_events::{Category, decode};
//!
//! let event = decode(br#"{"category":"app.event.meeting.started","topicId":"5f10",
//!     "content":{"startTime":"2026-11-24T10:15:00.000Z","meetingStatus":"active",
//!     "attendees":[{"_id":"u1","displayname":"Ann"}]}}"#)?;
//! match event.category() {
//!     Category::MeetingStarted => println!("meeting in {:?} with {} attendees",
//!         event.topic_id(), event.attendees().len()),
//!     Category::Unknown => println!("new kind of event: {}", event.category_name()),
//!     _ => {}
//! }
//! assert_eq!(event.start_time().and_then(|t| t.unix_millis()), Some(1_795_515_300_000));
//! # Ok::<(), spaces_events::DecodeError>(())
//! ```
//!
//! # Subscribing
//!
//! The `client` module connects to the Spaces socket server (Socket.IO 2 over a websocket),
//! subscribes to spaces and hands you their events as a `futures_util::Stream`; it
//! reconnects and re-subscribes by itself. A complete program needs `tokio` with the features
//! `macros` and `rt-multi-thread`, and `futures-util`:
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # mod run {
//! use futures_util::StreamExt;
//! use spaces_events::client::{Client, PRODUCTION_URL};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let client = Client::builder(PRODUCTION_URL, std::env::var("SPACES_TOKEN")?).connect().await?;
//!     let mut events = client.subscribe("5f1051f0f3ed772f915e19ed").await?;
//!     while let Some(event) = events.next().await {
//!         match event {
//!             Ok(event) => println!("{} in {:?}", event.category_name(), event.topic_id()),
//!             Err(error) if error.is_fatal() => return Err(error.into()),
//!             Err(error) => eprintln!("skipped: {error}"),
//!         }
//!     }
//!     Ok(())
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! # Features
//!
//! - `client` (default): the subscription client (tokio, tokio-tungstenite, rustls). For
//!   decoding alone — payloads that reach you another way, such as a message broker — turn it
//!   off: `spaces-events = { version = "0.1", default-features = false }` leaves [`decode`],
//!   the types and the [`protocol`] codec.

#[cfg(feature = "client")]
pub mod auth;
#[cfg(feature = "client")]
pub mod client;
mod decode;
mod event;
pub mod meeting;
pub mod protocol;
pub mod raw;
#[cfg(feature = "rest")]
pub mod rest;
mod text;
mod timestamp;
#[cfg(feature = "webhook")]
pub mod webhook;

/// The payload types, generated from `schema/` by `cargo xtask codegen` (never edited by hand).
///
/// Every field the schema knows is here; optional ones are `Option` or an empty `Vec` when
/// absent. Unknown fields are not in these structs: [`MediaSessionEvent`] keeps them.
#[rustfmt::skip]
#[allow(missing_docs, clippy::all)]
pub mod types;

pub use decode::{DecodeError, DecodeErrorKind, decode};
pub use event::MediaSessionEvent;
pub use types::Category;

/// The JSON Schema (draft-07) of the MEDIA_SESSION_RESPONSE payload.
pub const MEDIA_SESSION_RESPONSE_SCHEMA: &str =
    include_str!("../schema/media-session-response.schema.json");

/// The JSON Schema (draft-07) of the subscription payloads (SUBSCRIBE_CHANNEL, CHANNEL_SUBSCRIBED,
/// SUBSCRIBE_CHANNEL_FAILED, UNSUBSCRIBE_CHANNEL, CHANNEL_UNSUBSCRIBED, SEND_MEDIA_SESSION_EVENTS).
pub const SUBSCRIPTION_SCHEMA: &str = include_str!("../schema/subscription.schema.json");

/// The JSON Schema (draft-07) of the REST answers the SDK reads (active meeting, guest token,
/// service configurations).
pub const REST_SCHEMA: &str = include_str!("../schema/rest.schema.json");

/// The JSON Schema (draft-07) of the meeting state: [`meeting::MeetingState`]'s snapshot and
/// the changes `spaces-events meeting --format jsonl` prints.
pub const MEETING_STATE_SCHEMA: &str = include_str!("../schema/meeting-state.schema.json");
