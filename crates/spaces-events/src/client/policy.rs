//! When to try again: the reconnect and authentication policy, apart from any I/O.
//!
//! After each connection ends, [`Policy::next`] decides between another attempt (after a delay)
//! and stopping, from how it ended, whether the namespace had accepted it, and the history:
//! attempts since the last success, tokens rejected in a row, the last rejected token, and
//! whether any connection ever succeeded — the first one must, within the connect timeout.

use std::time::{Duration, Instant};

use super::Error;
use super::config::{Reconnect, Token};

/// Consecutive rejected tokens after which the client gives up, even if the provider keeps
/// returning new ones.
const MAX_AUTH_FAILURES: u32 = 3;

/// How a connection ended.
#[derive(Debug)]
pub(crate) enum End {
    /// `close()` or every handle dropped.
    Shutdown,
    /// The link broke or could not be made; retry.
    Lost(Error),
    /// The server rejected the token, for this reason.
    Rejected(String),
    /// Retrying cannot help (an untrusted certificate).
    Fatal(Error),
}

/// What to do after a connection ended.
#[derive(Debug)]
pub(crate) enum Next {
    /// Try again after `delay`; `reason` is why the last one ended.
    Retry {
        attempt: u32,
        delay: Duration,
        reason: Error,
    },
    /// Stop, with the fatal error if there is one.
    Stop(Option<Error>),
}

#[derive(Debug)]
pub(crate) struct Policy {
    reconnect: Reconnect,
    /// Where the client connects (without the query), for [`Error::Connect`].
    url: String,
    /// Until when the first connection must succeed; `None` once one did.
    first_by: Option<Instant>,
    /// A fixed token is rejected again if retried: no point.
    fixed_token: bool,
    /// Attempts since the namespace last accepted a connection.
    attempt: u32,
    /// Tokens rejected in a row.
    auth_failures: u32,
    /// The last rejected token and the server's reason.
    rejected: Option<(Token, String)>,
    /// Where the tokens come from, for the message that ends the client.
    source: String,
}

impl Policy {
    /// A policy for a client of `url` whose first connection must succeed by `first_by`.
    pub(crate) fn new(
        reconnect: Reconnect,
        fixed_token: bool,
        url: String,
        first_by: Instant,
    ) -> Self {
        Policy {
            reconnect,
            url,
            first_by: Some(first_by),
            fixed_token,
            attempt: 0,
            auth_failures: 0,
            rejected: None,
            source: "the token provider".into(),
        }
    }

    /// Names where the tokens come from (e.g. "the token file /run/token").
    pub(crate) fn source(mut self, source: String) -> Self {
        self.source = source;
        self
    }

    /// The token the server refused last, while the next one has not been checked.
    pub(crate) fn refused(&self) -> Option<&Token> {
        self.rejected.as_ref().map(|(token, _)| token)
    }

    /// Checks the token for the next attempt: the one just rejected, returned again by the
    /// source, ends the client with the server's reason and the source to fix.
    pub(crate) fn check(&mut self, token: &Token) -> Result<(), Error> {
        match self.rejected.take() {
            Some((rejected, reason)) if rejected == *token => Err(Error::Auth(format!(
                "{reason} ({} gave the refused token again: fix it)",
                self.source
            ))),
            other => {
                self.rejected = other;
                Ok(())
            }
        }
    }

    /// Until when the first connection must succeed, while none has.
    pub(crate) fn first_by(&self) -> Option<Instant> {
        self.first_by
    }

    /// Decides, at `now`, after a connection made with `token` (`None`: none was had) ended as
    /// `end`; `accepted` says whether the namespace had accepted it.
    pub(crate) fn next(
        &mut self,
        end: End,
        token: Option<&Token>,
        accepted: bool,
        now: Instant,
    ) -> Next {
        if accepted {
            self.first_by = None;
        }
        // Only a lost connection counts against the first connection's deadline: a rejected
        // token is an authentication error whenever it happens.
        let lost = matches!(end, End::Lost(_));
        let reason = match end {
            End::Shutdown => return Next::Stop(None),
            End::Fatal(error) => return Next::Stop(Some(error)),
            End::Rejected(reason) => {
                self.auth_failures += 1;
                if let Some(token) = token {
                    self.rejected = Some((token.clone(), reason.clone()));
                }
                if self.fixed_token || !self.reconnect.enabled {
                    return Next::Stop(Some(Error::Auth(reason)));
                }
                if self.auth_failures >= MAX_AUTH_FAILURES {
                    return Next::Stop(Some(Error::Auth(format!(
                        "{reason} ({MAX_AUTH_FAILURES} tokens in a row refused: fix {})",
                        self.source
                    ))));
                }
                // A new token is tried at once: asking the source again is the remedy, and
                // the same token again ends the client (see `check`).
                self.attempt += 1;
                return Next::Retry {
                    attempt: self.attempt,
                    delay: Duration::ZERO,
                    reason: Error::Auth(reason),
                };
            }
            End::Lost(error) => {
                if accepted {
                    (self.attempt, self.auth_failures, self.rejected) = (0, 0, None);
                }
                error
            }
        };
        self.attempt += 1;
        if !self.reconnect.enabled {
            return Next::Stop(Some(reason));
        }
        if self
            .reconnect
            .max_attempts
            .is_some_and(|max| self.attempt >= max)
        {
            return Next::Stop(Some(Error::GaveUp {
                attempts: self.attempt,
                last: Box::new(reason),
            }));
        }
        let delay = self.reconnect.delay(self.attempt);
        if lost && self.first_by.is_some_and(|by| now + delay >= by) {
            return Next::Stop(Some(Error::Connect {
                url: self.url.clone(),
                attempts: self.attempt,
                last: Box::new(reason),
            }));
        }
        Next::Retry {
            attempt: self.attempt,
            delay,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost() -> End {
        End::Lost(Error::transport("reset"))
    }

    /// A policy whose first connection has an hour.
    fn policy(reconnect: Reconnect, fixed_token: bool) -> Policy {
        let now = Instant::now();
        Policy::new(
            reconnect,
            fixed_token,
            "ws://h/socket.io/".into(),
            now + Duration::from_secs(3600),
        )
    }

    fn attempt(next: Next) -> u32 {
        match next {
            Next::Retry { attempt, .. } => attempt,
            Next::Stop(error) => panic!("stopped: {error:?}"),
        }
    }

    #[test]
    fn attempts_count_until_a_connection_is_accepted() {
        let mut p = policy(Reconnect::default(), true);
        assert_eq!(attempt(p.next(lost(), None, false, Instant::now())), 1);
        assert_eq!(attempt(p.next(lost(), None, false, Instant::now())), 2);
        assert_eq!(attempt(p.next(lost(), None, true, Instant::now())), 1);
    }

    #[test]
    fn attempt_limit_gives_up() {
        let reconnect = Reconnect {
            max_attempts: Some(2),
            ..Reconnect::default()
        };
        let mut p = policy(reconnect, true);
        assert_eq!(attempt(p.next(lost(), None, false, Instant::now())), 1);
        assert!(matches!(
            p.next(lost(), None, false, Instant::now()),
            Next::Stop(Some(Error::GaveUp { attempts: 2, .. }))
        ));
    }

    #[test]
    fn a_fixed_token_is_not_retried_after_rejection() {
        let mut p = policy(Reconnect::default(), true);
        let t = Token::new("t");
        assert!(matches!(
            p.next(End::Rejected("no".into()), Some(&t), true, Instant::now()),
            Next::Stop(Some(Error::Auth(reason))) if reason == "no"
        ));
    }

    #[test]
    fn a_provider_gets_three_rejections_and_never_the_same_token_twice() {
        let mut p = policy(Reconnect::default(), false);
        let (a, b) = (Token::new("a"), Token::new("b"));
        match p.next(End::Rejected("no".into()), Some(&a), false, Instant::now()) {
            Next::Retry {
                attempt: 1, delay, ..
            } => assert_eq!(delay, Duration::ZERO, "at once"),
            other => panic!("{other:?}"),
        }
        assert_eq!(p.refused(), Some(&a));
        assert!(matches!(p.check(&a), Err(Error::Auth(reason))
            if reason == "no (the token provider gave the refused token again: fix it)"));
        assert!(p.check(&b).is_ok());
        assert_eq!(
            attempt(p.next(End::Rejected("no".into()), Some(&b), false, Instant::now())),
            2
        );
        assert!(p.check(&a).is_ok());
        assert!(matches!(
            p.next(End::Rejected("no".into()), Some(&a), false, Instant::now()),
            Next::Stop(Some(Error::Auth(_)))
        ));
    }

    #[test]
    fn shutdown_and_fatal_stop() {
        let mut p = policy(Reconnect::default(), true);
        assert!(matches!(
            p.next(End::Shutdown, None, true, Instant::now()),
            Next::Stop(None)
        ));
        let tls = Error::Tls {
            message: "UnknownIssuer".into(),
            source: None,
        };
        assert!(matches!(
            p.next(End::Fatal(tls), None, false, Instant::now()),
            Next::Stop(Some(Error::Tls { .. }))
        ));
    }

    #[test]
    fn the_first_connection_must_succeed_within_the_connect_timeout() {
        let now = Instant::now();
        let mut p = Policy::new(
            Reconnect::default(),
            true,
            "ws://h/socket.io/".into(),
            now + Duration::from_secs(3),
        );
        // Backoff (0.5–1.5 s) still fits in the 3 s.
        assert_eq!(attempt(p.next(lost(), None, false, now)), 1);
        let later = now + Duration::from_millis(2900);
        match p.next(lost(), None, false, later) {
            Next::Stop(Some(Error::Connect {
                url,
                attempts: 2,
                last,
            })) => {
                assert_eq!(url, "ws://h/socket.io/");
                assert!(last.to_string().contains("reset"), "{last}");
            }
            other => panic!("{other:?}"),
        }
        // Once a connection succeeded, no deadline applies.
        let mut p = Policy::new(Reconnect::default(), true, "ws://h/".into(), now);
        assert_eq!(
            attempt(p.next(lost(), None, true, now + Duration::from_secs(60))),
            1
        );
        assert_eq!(p.first_by(), None);
    }
}
