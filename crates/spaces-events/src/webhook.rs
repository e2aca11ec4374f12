//! A webhook sink (feature `webhook`): JSON bodies POSTed to a URL, signed as
//! [Standard Webhooks](https://www.standardwebhooks.com/) sign — `webhook-id` (the same on every
//! try: the receiver's idempotency key), `webhook-timestamp` (Unix seconds) and
//! `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`, keyed
//! with the secret's base64-decoded bytes) — so receivers verify them with any of that spec's
//! libraries. [`Webhook::deliver`] retries a 5xx, a 429, a timeout or a failed connection with
//! backoff until it goes through: awaiting it one item at a time keeps the order and holds the
//! source back (a subscription's buffer fills and the client stops reading, heartbeats going
//! on), so nothing is dropped and memory stays bounded. Another 4xx is tried
//! [`max_refusals`](WebhookBuilder::max_refusals) times, then given up ([`Delivery::Refused`]).
//!
//! ```no_run
//! use spaces_events::webhook::{Delivery, Webhook};
//! # async fn run(event: spaces_events::MediaSessionEvent) -> Result<(), spaces_events::webhook::WebhookError> {
//! let hook = Webhook::builder("https://hooks.example.com/spaces", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").build()?;
//! let id = format!("{}:{}", event.topic_id().unwrap_or(""), event.id().unwrap_or(""));
//! if let Delivery::Refused { status, tries } = hook.deliver(&id, event.json()).await {
//!     eprintln!("{id}: refused with {status} {tries} times");
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::client::{ProxyChoice, Reconnect, Roots};
use crate::rest::http_client;

/// A webhook that cannot be set up.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The secret is not `whsec_` and base64.
    #[error("the webhook secret is not `whsec_` and base64")]
    Secret,
    /// The URL is not an `http(s)` URL, or the HTTP client cannot be made.
    #[error("webhook configuration: {0}")]
    Config(String),
}

/// What became of one item.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// The receiver took it (a 2xx), at the `tries`-th try.
    Delivered {
        /// Tries made.
        tries: u32,
    },
    /// The receiver refused it with a 4xx other than 429, `tries` times: given up.
    Refused {
        /// The last status.
        status: u16,
        /// Refusals.
        tries: u32,
    },
}

/// Configures a [`Webhook`]; made by [`Webhook::builder`].
/// Told of each retry: the item's id, why, and the wait before the next try.
type OnRetry = Arc<dyn Fn(&str, &str, Duration) + Send + Sync>;

/// Configures a [`Webhook`]; made by [`Webhook::builder`].
pub struct WebhookBuilder {
    url: String,
    secret: String,
    timeout: Duration,
    max_refusals: u32,
    backoff: Reconnect,
    on_retry: Option<OnRetry>,
    roots: Roots,
    extra_roots: Vec<Vec<u8>>,
}

impl std::fmt::Debug for WebhookBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookBuilder")
            .field("timeout", &self.timeout)
            .field("max_refusals", &self.max_refusals)
            .finish_non_exhaustive()
    }
}

impl WebhookBuilder {
    /// Seconds one request may take (10 s); a timeout is retried.
    ///
    /// ```
    /// # use spaces_events::webhook::Webhook;
    /// let hook = Webhook::builder("https://h.example", "whsec_AAAA").timeout(std::time::Duration::from_secs(3));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Tries of an item refused with a 4xx other than 429 before it is given up (3).
    ///
    /// ```
    /// # use spaces_events::webhook::Webhook;
    /// let hook = Webhook::builder("https://h.example", "whsec_AAAA").max_refusals(1);
    /// ```
    pub fn max_refusals(mut self, tries: u32) -> Self {
        self.max_refusals = tries.max(1);
        self
    }

    /// The waits between tries (0.5 s doubling to 30 s, ±50 %).
    ///
    /// ```
    /// # use spaces_events::webhook::Webhook;
    /// use spaces_events::client::Reconnect;
    /// let hook = Webhook::builder("https://h.example", "whsec_AAAA").backoff(Reconnect {
    ///     max_delay: std::time::Duration::from_secs(5),
    ///     ..Reconnect::default()
    /// });
    /// ```
    pub fn backoff(mut self, backoff: Reconnect) -> Self {
        self.backoff = backoff;
        self
    }

    /// Calls `tell` before each retry with the item's id, why it failed (`HTTP 503 Service
    /// Unavailable`, `timed out`, …) and the wait (retries are also logged at WARN).
    ///
    /// ```
    /// # use spaces_events::webhook::Webhook;
    /// let hook = Webhook::builder("https://h.example", "whsec_AAAA")
    ///     .on_retry(|id, why, wait| eprintln!("{id}: {why}; again in {wait:?}"));
    /// ```
    pub fn on_retry(mut self, tell: impl Fn(&str, &str, Duration) + Send + Sync + 'static) -> Self {
        self.on_retry = Some(Arc::new(tell));
        self
    }

    /// Which roots the receiver's certificate is checked against (Mozilla's by default).
    ///
    /// ```
    /// # use spaces_events::webhook::Webhook;
    /// use spaces_events::client::Roots;
    /// let hook = Webhook::builder("https://h.example", "whsec_AAAA").roots(Roots::WebPkiAndNative);
    /// ```
    pub fn roots(mut self, roots: Roots) -> Self {
        self.roots = roots;
        self
    }

    /// Also trusts the CA in `pem` (a receiver with a private CA's certificate).
    ///
    /// ```no_run
    /// # use spaces_events::webhook::Webhook;
    /// let pem = std::fs::read("corp-ca.pem")?;
    /// let hook = Webhook::builder("https://h.example", "whsec_AAAA").add_root_certificate(&pem);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn add_root_certificate(mut self, pem: &[u8]) -> Self {
        self.extra_roots.push(pem.to_vec());
        self
    }

    /// The webhook.
    ///
    /// # Errors
    /// [`WebhookError::Secret`], [`WebhookError::Config`].
    pub fn build(self) -> Result<Webhook, WebhookError> {
        let signer =
            standardwebhooks::Webhook::new(&self.secret).map_err(|_| WebhookError::Secret)?;
        let url = reqwest::Url::parse(&self.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| WebhookError::Config(format!("{:?} is not an http(s) URL", self.url)))?;
        let http = http_client(
            &self.roots,
            &self.extra_roots,
            &ProxyChoice::Env,
            self.timeout,
            true,
        )
        .map_err(WebhookError::Config)?;
        Ok(Webhook {
            inner: Arc::new(Inner {
                http,
                url,
                signer,
                max_refusals: self.max_refusals,
                backoff: self.backoff,
                on_retry: self.on_retry,
            }),
        })
    }
}

/// A webhook sink; cheap to clone. See the module docs.
#[derive(Clone)]
pub struct Webhook {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: reqwest::Url,
    signer: standardwebhooks::Webhook,
    max_refusals: u32,
    backoff: Reconnect,
    on_retry: Option<OnRetry>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the secret nor the URL's query (which may hold a secret of the receiver's).
        f.debug_struct("Webhook")
            .field(
                "url",
                &format!(
                    "{}{}",
                    self.inner.url.origin().ascii_serialization(),
                    self.inner.url.path()
                ),
            )
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Starts configuring a webhook to `url` signing with `secret` (`whsec_` and base64).
    pub fn builder(url: &str, secret: &str) -> WebhookBuilder {
        WebhookBuilder {
            url: url.to_owned(),
            secret: secret.to_owned(),
            timeout: Duration::from_secs(10),
            max_refusals: 3,
            backoff: Reconnect {
                initial_delay: Duration::from_millis(500),
                max_delay: Duration::from_secs(30),
                ..Reconnect::default()
            },
            on_retry: None,
            roots: Roots::WebPki,
            extra_roots: Vec::new(),
        }
    }

    /// POSTs `body` (JSON) as the item `id` until the receiver takes it or refuses it
    /// [`max_refusals`](WebhookBuilder::max_refusals) times; signed anew at each try (the
    /// timestamp is part of the signature). Each retry is logged at WARN with its reason.
    pub async fn deliver(&self, id: &str, body: &str) -> Delivery {
        let inner = &self.inner;
        let (mut tries, mut refusals) = (0u32, 0u32);
        loop {
            tries += 1;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs() as i64;
            let signature = inner
                .signer
                .sign(id, now, body.as_bytes())
                .unwrap_or_default();
            let sent = inner
                .http
                .post(inner.url.clone())
                .header("content-type", "application/json")
                .header("webhook-id", id)
                .header("webhook-timestamp", now.to_string())
                .header("webhook-signature", signature)
                .body(body.to_owned())
                .send()
                .await;
            let why = match sent {
                Ok(answer) if answer.status().is_success() => return Delivery::Delivered { tries },
                Ok(answer)
                    if answer.status().is_client_error() && answer.status().as_u16() != 429 =>
                {
                    refusals += 1;
                    if refusals >= inner.max_refusals {
                        return Delivery::Refused {
                            status: answer.status().as_u16(),
                            tries: refusals,
                        };
                    }
                    format!("HTTP {}", answer.status())
                }
                Ok(answer) => format!("HTTP {}", answer.status()),
                Err(e) if e.is_timeout() => "timed out".to_owned(),
                // Without the URL: the receiver's URL may hold a secret of its own.
                Err(e) => format!("failed: {}", e.without_url()),
            };
            let delay = inner.backoff.delay(tries);
            tracing::warn!(id, reason = %why, ?delay, "webhook not delivered; trying again");
            if let Some(tell) = &inner.on_retry {
                tell(id, &why, delay);
            }
            tokio::time::sleep(delay).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_the_secret_nor_the_receivers_query_is_shown() {
        let hook = Webhook::builder("https://h.example/in?key=their-secret", "whsec_c2VjcmV0")
            .build()
            .unwrap();
        let shown = format!("{hook:?}");
        assert_eq!(shown, r#"Webhook { url: "https://h.example/in", .. }"#);
        assert!(matches!(
            Webhook::builder("https://h.example", "not base64!").build(),
            Err(WebhookError::Secret)
        ));
        assert!(matches!(
            Webhook::builder("ftp://h.example", "whsec_c2VjcmV0").build(),
            Err(WebhookError::Config(_))
        ));
    }
}
