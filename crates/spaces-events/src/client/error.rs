//! The client's error type.

use std::fmt;
use std::sync::Arc;

use crate::DecodeError;
use crate::protocol::ProtocolError;

/// What went wrong in the client, or in one item of a [`Subscription`](super::Subscription).
///
/// The first three variants are configuration errors: [`Builder::connect`](super::Builder::connect)
/// returns them before any connection attempt ([`is_config`](Self::is_config)). The others happen
/// at run time. Messages never contain the token: text that comes from the network stack is
/// scrubbed of it.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not a `ws`, `wss`, `http` or `https` URL with a host. Fix the URL.
    #[error("invalid URL: {0}")]
    Url(String),
    /// A header given to [`Builder::header`](super::Builder::header) has an invalid name or
    /// value (e.g. a line break). Fix the header.
    #[error("invalid header {name:?}: {reason}")]
    Header {
        /// The header name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate given to
    /// [`Builder::add_root_certificate`](super::Builder::add_root_certificate) is not a PEM
    /// certificate rustls accepts. Pass the CA's PEM file.
    #[error("invalid root certificate: {0}")]
    Certificate(String),
    /// The server rejected the token (a namespace ERROR such as `44/chat,"Not authorized"`, or an
    /// HTTP 401/403 at the websocket handshake). Fatal: get a valid token (a token provider is
    /// asked again, up to three times).
    #[error("authentication rejected: {0}")]
    Auth(String),
    /// The server refused a subscription (SUBSCRIBE_CHANNEL_FAILED): usually a wrong space id, no
    /// access to it, or a missing PIN. Returned by `subscribe`, or the last item of a stream whose
    /// re-subscription after a reconnect was refused.
    #[error("subscription to space {space} refused: {code}: {message}")]
    SubscribeRefused {
        /// The space id.
        space: String,
        /// The server's error code, e.g. `invalid.parameters` (empty if it sent none).
        code: String,
        /// The server's error message (empty if it sent none).
        message: String,
    },
    /// `subscribe` for a space this client already delivers; use the existing subscription.
    #[error("space {0} is already subscribed")]
    AlreadySubscribed(String),
    /// The token provider returned an error; the attempt counts as failed and is retried
    /// under the reconnect policy. The provider's error is the [`source`](std::error::Error::source).
    #[error("token provider failed: {0}")]
    TokenProvider(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The TLS handshake failed, e.g. the server's certificate is not trusted. Fatal: retrying
    /// cannot help; add the right root
    /// ([`Builder::add_root_certificate`](super::Builder::add_root_certificate)).
    #[error("TLS: {message}")]
    Tls {
        /// What rustls reported.
        message: String,
        /// rustls's error, when it was one.
        #[source]
        source: Option<rustls::Error>,
    },
    /// The connection could not be made or broke: refused, reset, closed by the server, an HTTP
    /// status other than 101 at the handshake, a failed write. Retried under the reconnect policy.
    #[error("transport: {message}")]
    Transport {
        /// What happened.
        message: String,
        /// The I/O error underneath, when there was one.
        #[source]
        source: Option<Arc<std::io::Error>>,
    },
    /// The HTTP proxy failed: unreachable, or it refused the `CONNECT` tunnel (`status`: 407
    /// wrong or missing credentials (tinyproxy answers 401), 403 not allowed by its policy, 502
    /// it could not reach Spaces). Names the proxy, never its credentials. Fatal for 401, 403
    /// and 407 (retrying cannot help: fix the proxy URL or its credentials); otherwise retried
    /// like a lost connection.
    #[error("proxy {proxy}: {message}")]
    Proxy {
        /// The proxy, `http://host:port`.
        proxy: String,
        /// The proxy's HTTP status, if it answered.
        status: Option<u16>,
        /// What happened.
        message: String,
    },
    /// More sends wait for the connection than it holds (`send_media_session_event` while
    /// disconnected); retry once connected.
    #[error("not connected, and {0} sends already wait")]
    SendQueueFull(usize),
    /// Something did not happen in time; see [`Timeout`]. Connection steps are retried under the
    /// reconnect policy; a subscription's answer is returned to `subscribe`.
    #[error("timed out waiting for {0}")]
    Timeout(Timeout),
    /// The first connection did not succeed within the connect timeout
    /// ([`Builder::connect_timeout`](super::Builder::connect_timeout)); failed attempts were
    /// retried with backoff inside it. Returned by `connect()`. Check the URL, the network and
    /// the server; `last` says why the last attempt failed. (After a first success the client
    /// reconnects without limit, under the reconnect policy.)
    #[error(
        "could not connect to {url} within the connect timeout ({attempts} attempt(s)): {last}"
    )]
    Connect {
        /// The websocket URL, without its query (which holds the token).
        url: String,
        /// How many attempts were made.
        attempts: u32,
        /// Why the last one failed.
        #[source]
        last: Box<Error>,
    },
    /// The reconnect policy's attempt limit was reached. Fatal.
    #[error("gave up after {attempts} connection attempts; last error: {last}")]
    GaveUp {
        /// How many attempts were made.
        attempts: u32,
        /// Why the last one failed.
        #[source]
        last: Box<Error>,
    },
    /// A frame that breaks the Socket.IO protocol; it was skipped and the connection goes on.
    #[error("protocol error: {0}")]
    Protocol(#[from] ProtocolError),
    /// A server event the client acts on (CHANNEL_SUBSCRIBED, SUBSCRIBE_CHANNEL_FAILED) whose
    /// payload has not the documented shape; it was skipped and the connection goes on.
    #[error("malformed {event}: {reason}")]
    Malformed {
        /// The event name.
        event: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A MEDIA_SESSION_RESPONSE payload that does not decode; it was skipped and the
    /// subscription goes on.
    #[error("undecodable MEDIA_SESSION_RESPONSE: {0}")]
    Decode(#[from] DecodeError),
    /// Not a failure but a notice, in the stream where it happened: the connection dropped and
    /// the space was subscribed again; events the server sent in between were not received
    /// (Socket.IO 2 has no replay). State folded from events needs a resync now, as
    /// [`Client::meeting`](super::Client::meeting) does. Like tokio's `RecvError::Lagged`.
    #[error(
        "space {0} re-subscribed after the connection dropped: events sent meanwhile were missed"
    )]
    Gap(String),
    /// The client was closed (by `close()`, by dropping it, or after a fatal error).
    #[error("client closed")]
    Closed,
}

/// What did not happen in time: the `Timeout` of [`Error::Timeout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// The token provider did not answer within the connect timeout.
    TokenProvider,
    /// The TCP, TLS and websocket handshakes did not finish within the connect timeout.
    Connect,
    /// The server did not accept the namespace within the connect timeout.
    Namespace,
    /// Nothing arrived within the heartbeat deadline after a ping: the link is dead.
    Heartbeat,
    /// The server did not answer SUBSCRIBE_CHANNEL within the subscribe timeout.
    Subscribe,
    /// A websocket write did not finish within the write timeout.
    Write,
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Timeout::TokenProvider => "the token provider",
            Timeout::Connect => "the websocket connection",
            Timeout::Namespace => "the namespace to accept the connection",
            Timeout::Heartbeat => "a pong (no frame within the heartbeat deadline)",
            Timeout::Subscribe => "CHANNEL_SUBSCRIBED",
            Timeout::Write => "a websocket write",
        })
    }
}

impl Error {
    /// Whether the error ends the client (after it, no more events arrive).
    pub fn is_fatal(&self) -> bool {
        self.is_config()
            || matches!(
                self,
                Error::Auth(_)
                    | Error::Connect { .. }
                    | Error::GaveUp { .. }
                    | Error::Closed
                    | Error::Tls { .. }
                    | Error::Proxy {
                        status: Some(401 | 403 | 407),
                        ..
                    }
            )
    }

    /// Whether the error is a configuration error ([`Url`](Self::Url), [`Header`](Self::Header),
    /// [`Certificate`](Self::Certificate)): the builder's input is wrong, nothing was attempted.
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Error::Url(_) | Error::Header { .. } | Error::Certificate(_)
        )
    }

    /// A transport error with a message and no I/O cause.
    pub(crate) fn transport(message: impl Into<String>) -> Self {
        Error::Transport {
            message: message.into(),
            source: None,
        }
    }
}
