//! The client's error type.

use crate::DecodeError;
use crate::protocol::ProtocolError;

/// What went wrong in the client, or in one item of a [`Subscription`](super::Subscription).
///
/// Messages never contain the token: text that comes from the network stack is scrubbed of it.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not a `ws`, `wss`, `http` or `https` URL with a host.
    #[error("invalid URL: {0}")]
    Url(String),
    /// The server rejected the token (a namespace ERROR such as `44/chat,"Not authorized"`, or an
    /// HTTP 401/403 at the websocket handshake). Not retried with the same token.
    #[error("authentication rejected: {0}")]
    Auth(String),
    /// The server refused a subscription (SUBSCRIBE_CHANNEL_FAILED).
    #[error("subscription to space {space} refused: {code}: {message}")]
    SubscribeRefused {
        /// The space id.
        space: String,
        /// The server's error code, e.g. `invalid.parameters` (empty if it sent none).
        code: String,
        /// The server's error message (empty if it sent none).
        message: String,
    },
    /// The space is already subscribed on this client.
    #[error("space {0} is already subscribed")]
    AlreadySubscribed(String),
    /// The token provider failed.
    #[error("token provider failed: {0}")]
    Token(String),
    /// The server's TLS certificate is not trusted (or TLS failed otherwise). Not retried: add the
    /// right root ([`Builder::add_root_certificate`](super::Builder::add_root_certificate)).
    #[error("TLS: {0}")]
    Tls(String),
    /// The connection failed or broke (I/O, websocket, HTTP status at the handshake).
    #[error("transport: {0}")]
    Transport(String),
    /// Something did not happen in time: connecting, the namespace acknowledgement, a
    /// subscription's answer.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The reconnect policy's attempt limit was reached.
    #[error("gave up after {attempts} connection attempts; last error: {last}")]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// Why the last one failed.
        last: Box<Error>,
    },
    /// A frame that breaks the Socket.IO protocol; it was skipped and the connection goes on.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// A MEDIA_SESSION_RESPONSE payload that does not decode; it was skipped and the
    /// subscription goes on.
    #[error("undecodable MEDIA_SESSION_RESPONSE: {0}")]
    Decode(#[from] DecodeError),
    /// The client was closed (by `close()`, by dropping it, or after a fatal error).
    #[error("client closed")]
    Closed,
}

impl Error {
    /// Whether the error ends the client (after it, no more events arrive).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Auth(_) | Error::GaveUp { .. } | Error::Closed | Error::Url(_) | Error::Tls(_)
        )
    }
}
