//! Where tokens come from, for as long as the service runs: a token file re-read before every
//! connection ([`TokenFile`]), a credential helper ([`TokenCommand`]), an OAuth2 credentials
//! file refreshed before expiry (`OAuth2`, feature `oauth`), or a fixed token.
//!
//! A source implements [`Credentials`]. The socket client asks it before every connection
//! attempt ([`Builder::credentials`](crate::client::Builder::credentials)), the REST client
//! before every call and again after a 401
//! (`RestBuilder::credentials`, feature `rest`). When the server
//! refuses a token, the source is asked again with the refused token: a *different* token is
//! tried at once; the *same* token again ends the client with
//! [`Error::Auth`](crate::client::Error::Auth), naming the source to fix.
//!
//! ```no_run
//! # async fn run() -> Result<(), spaces_events::client::Error> {
//! use spaces_events::auth::TokenFile;
//! use spaces_events::client::{Client, PRODUCTION_URL};
//! // A Kubernetes secret or a Vault agent rewrites the file; every reconnect reads it again.
//! let client = Client::builder(PRODUCTION_URL, "")
//!     .credentials(TokenFile::new("/var/run/secrets/spaces/token"))
//!     .connect()
//!     .await?;
//! # Ok(()) }
//! ```

mod command;
mod file;
#[cfg(feature = "oauth")]
mod login;
#[cfg(feature = "oauth")]
mod oauth;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

pub use crate::client::{Token, TokenType};
pub use command::TokenCommand;
pub use file::TokenFile;
#[cfg(feature = "oauth")]
pub use login::{Authorization, Login};
#[cfg(feature = "oauth")]
pub use oauth::{CredentialsFile, DEFAULT_IDENTITY_URL, OAuth2};

/// The future a [`Credentials`] source returns.
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<Token, AuthError>> + Send + 'a>>;

/// A source of tokens, asked before every connection attempt and every REST call.
///
/// Implement it for a source of your own; [`TokenFile`], [`TokenCommand`] and `OAuth2` are
/// the ones the command line offers.
///
/// ```
/// use spaces_events::auth::{AuthError, Credentials, Token, TokenFuture};
/// #[derive(Debug)]
/// struct Vault;
/// impl Credentials for Vault {
///     fn token<'a>(&'a self, _refused: Option<&'a Token>) -> TokenFuture<'a> {
///         Box::pin(async { Ok(Token::new("from-vault")) })
///     }
///     fn describe(&self) -> String {
///         "the Vault secret spaces/bot".into()
///     }
/// }
/// ```
pub trait Credentials: fmt::Debug + Send + Sync + 'static {
    /// A token for the next connection or call. `refused` is the token the server refused
    /// just before, if any: a source that can make a new one (a refresh) does so now, and
    /// returns the same one only if it has no other.
    fn token<'a>(&'a self, refused: Option<&'a Token>) -> TokenFuture<'a>;

    /// What to fix when its tokens are refused, e.g. "the token file /run/token".
    fn describe(&self) -> String;

    /// How its tokens are sent (`tokenType`); OAuth2 access tokens are `oauth`.
    fn token_type(&self) -> TokenType {
        TokenType::Jwt
    }
}

/// Why a source gave no token. Never contains the token, nor a helper's output.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token file could not be read, or holds no token. Retried before the next attempt
    /// (a secret mount may be between two versions).
    #[error("token file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The credential helper failed: it exited with a failure status, was killed, timed out or
    /// printed no token. Retried before the next attempt.
    #[error("token command `{command}` {reason}")]
    Command {
        /// The command line, as given.
        command: String,
        /// Its exit status, or what was wrong with what it printed (never the output itself).
        reason: String,
    },
    /// The OAuth2 identity provider could not be reached or failed (5xx, a timeout, an answer
    /// that is not a token), or refused a revocation. A refresh is retried.
    #[error("OAuth2 provider {url}: {reason}")]
    Provider {
        /// The endpoint called.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The OAuth2 credentials file is missing, unreadable or not a `spaces_oauth` file. Fatal.
    #[error("OAuth2 credentials {path}: {reason}")]
    Credentials {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The identity provider refused the refresh token (revoked, spent, expired). Fatal: run
    /// `spaces-events login` again.
    #[error("the refresh token in {path} was refused ({reason}): run `spaces-events login` again")]
    Revoked {
        /// The credentials file.
        path: String,
        /// The provider's error code, e.g. `invalid_grant`.
        reason: String,
    },
}

impl AuthError {
    /// Whether retrying cannot help: the credentials themselves must be fixed.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            AuthError::Credentials { .. } | AuthError::Revoked { .. }
        )
    }
}

/// When a token got at `got` that expires at `expires_at` should be replaced: early by a fifth
/// of the life it had when got, at most `most` (a minute: a 24 h JWT 1 min early, a 5 s test
/// token 1 s). Reckoned from when it was got, not from now: from now, a fifth of what is left
/// shrinks with it, and the token would only be replaced once expired.
pub(crate) fn renew_at(expires_at: SystemTime, got: SystemTime, most: Duration) -> SystemTime {
    let life = expires_at.duration_since(got).unwrap_or_default();
    expires_at - (life / 5).min(most)
}

/// At most this early, for the sources that do not say otherwise.
pub(crate) const EARLY: Duration = Duration::from_secs(60);

/// When to replace a token that does not say when it expires: never (only when refused).
pub(crate) fn never() -> SystemTime {
    SystemTime::now() + Duration::from_secs(100 * 365 * 86_400)
}

/// Whether `token` may be handed out: not the refused one.
pub(crate) fn not_refused(token: &Token, refused: Option<&Token>) -> bool {
    refused != Some(token)
}

/// An RFC 3339 time (`2026-12-07T10:00:00Z`), as credential helpers print it.
pub(crate) fn parse_time(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z').trim_end_matches("+00:00")).ok()
}

/// `time` as RFC 3339 in UTC, to the millisecond (a 5 s token's expiry in whole seconds would
/// be a fifth wrong).
#[cfg(feature = "oauth")]
pub(crate) fn format_time(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_early_by_a_fifth_at_most_a_minute() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let day = now + Duration::from_secs(86_400);
        assert_eq!(renew_at(day, now, EARLY), day - Duration::from_secs(60));
        let soon = now + Duration::from_secs(5);
        assert_eq!(renew_at(soon, now, EARLY), soon - Duration::from_secs(1));
        assert_eq!(renew_at(now, soon, EARLY), now, "already expired");
        // The same answer whenever it is asked: from when the token was got.
        assert_eq!(
            renew_at(soon, now, EARLY),
            soon - Duration::from_secs(1),
            "4 s later too"
        );
    }

    #[test]
    #[cfg(feature = "oauth")]
    fn times_round_trip() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        let text = format_time(t);
        assert_eq!(text, "2026-11-30T00:53:20.000Z");
        assert_eq!(parse_time(&text), Some(t));
        assert_eq!(parse_time("2026-11-30T00:53:20+00:00"), Some(t));
        assert_eq!(parse_time("2026-11-30 00:53:20"), Some(t));
        assert_eq!(parse_time("tomorrow"), None);
    }
}
