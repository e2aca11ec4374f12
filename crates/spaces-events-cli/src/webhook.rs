//! `spaces-events webhook`: each event (or, with `--changes`, each meeting change) POSTed as
//! JSON to a URL, signed as Standard Webhooks sign (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`), one at a time in
//! arrival order (so in order per space). A 5xx, a 429, a timeout or a failed connection is
//! retried with backoff until it goes through — meanwhile nothing else is read, the client's
//! buffer fills and it stops reading the socket (heartbeats go on): nothing is dropped, memory is
//! bounded. Another 4xx is reported and, after `--max-refusals` tries, skipped.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;
use futures_util::StreamExt;
use spaces_events::client::Reconnect;
use spaces_events_nats::msg_id;
use standardwebhooks::Webhook as Signer;

use crate::meeting::changes;
use crate::spaces::Listing;
use crate::watch::{Connection, Spaces, block_on, events, listed, shutdown};

/// Exit code for a bad option (documented in `--help`).
const USAGE: u8 = 2;

#[derive(Args)]
pub(crate) struct Webhook {
    #[command(flatten)]
    connection: Connection,
    /// Space (topic) id to follow; repeat for several.
    #[arg(
        long = "space",
        required_unless_present = "all_spaces",
        value_name = "ID"
    )]
    spaces: Vec<String>,
    #[command(flatten)]
    listing: Listing,
    /// Where to POST (http or https).
    #[arg(long, value_name = "URL")]
    to: String,
    /// The signing secret, `whsec_` and base64, from this file (else from the
    /// SPACES_WEBHOOK_SECRET environment variable).
    #[arg(long, value_name = "PATH")]
    secret_file: Option<PathBuf>,
    /// POST each meeting change (`{"space","change","source","subject","state"}`) instead of
    /// each event.
    #[arg(long)]
    changes: bool,
    /// Tries of a request refused with a 4xx other than 429 before it is skipped.
    #[arg(long, default_value_t = 3, value_name = "N")]
    max_refusals: u32,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    timeout: f64,
    /// Exit 0 once this many items were delivered or skipped.
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
}

pub(crate) fn run(args: Webhook) -> ExitCode {
    block_on(deliver_all(args))
}

/// One POST to make: its stable id (the same on every try) and its body.
struct Item {
    id: String,
    body: String,
}

async fn deliver_all(args: Webhook) -> ExitCode {
    let usage = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(USAGE)
    };
    let secret = match &args.secret_file {
        Some(path) => std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("{}: {e}", path.display())),
        None => std::env::var("SPACES_WEBHOOK_SECRET")
            .map_err(|_| "no secret: set SPACES_WEBHOOK_SECRET or use --secret-file".into()),
    };
    let signer = match secret.and_then(|s| {
        Signer::new(&s).map_err(|e| format!("the secret is not whsec_ and base64: {e}"))
    }) {
        Ok(signer) => signer,
        Err(e) => return usage(e),
    };
    let http = match http(&args) {
        Ok(http) => http,
        Err(e) => return usage(e),
    };
    let (client, rest) = match args.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let mut items: futures_util::stream::BoxStream<'static, Result<Item, String>> = if args.changes
    {
        match changes(&client, rest, &args.spaces, &args.listing).await {
            Ok(changes) => {
                let mut n = 0u64;
                changes
                    .map(move |change| {
                        n += 1;
                        let change = change.map_err(|e| e.to_string())?;
                        Ok(Item {
                            id: format!("{}:change:{n}", change.space),
                            body: serde_json::to_string(&change).map_err(|e| e.to_string())?,
                        })
                    })
                    .boxed()
            }
            Err(code) => return code,
        }
    } else {
        let spaces = if args.listing.all_spaces {
            match listed(&args.listing, &client, rest).await {
                Ok((wanted, pace)) => Spaces::Listed(wanted, pace),
                Err(code) => return code,
            }
        } else {
            Spaces::Named(&args.spaces)
        };
        match events(&client, spaces).await {
            Ok(events) => events
                .map(|event| match event {
                    Ok(event) => Ok(Item {
                        id: msg_id(&event),
                        body: event.json().to_owned(),
                    }),
                    Err(e) if e.is_fatal() => Err(format!("fatal: {e}")),
                    Err(e) => Err(e.to_string()),
                })
                .boxed(),
            Err(code) => return code,
        }
    };
    let mut done = 0u64;
    let code = loop {
        if args.max_events.is_some_and(|max| done >= max) {
            break ExitCode::SUCCESS;
        }
        let item = tokio::select! {
            item = items.next() => item,
            () = shutdown() => break ExitCode::SUCCESS,
        };
        match item {
            None => break ExitCode::SUCCESS,
            Some(Ok(item)) => {
                tokio::select! {
                    () = deliver(&http, &args, &signer, &item) => done += 1,
                    () = shutdown() => break ExitCode::SUCCESS,
                }
            }
            Some(Err(e)) if e.starts_with("fatal: ") => {
                eprintln!("error: {}", &e["fatal: ".len()..]);
                break ExitCode::FAILURE;
            }
            Some(Err(e)) => eprintln!("warning: {e}"),
        }
    };
    client.close().await;
    code
}

/// A reqwest client on rustls with Mozilla's roots (ring, as the rest of the binary).
fn http(args: &Webhook) -> Result<reqwest::Client, String> {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .map_err(|e| format!("--timeout {}: {e}", args.timeout))?;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(timeout)
        .user_agent(concat!("spaces-events/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// POSTs `item` until it is accepted, or refused `--max-refusals` times (then reported and
/// skipped); signed anew at each try (the timestamp is part of the signature).
async fn deliver(http: &reqwest::Client, args: &Webhook, signer: &Signer, item: &Item) {
    let backoff = Reconnect {
        initial_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(30),
        ..Reconnect::default()
    };
    let (mut tries, mut refusals) = (0u32, 0u32);
    loop {
        tries += 1;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let signature = signer
            .sign(&item.id, now, item.body.as_bytes())
            .unwrap_or_default();
        let sent = http
            .post(&args.to)
            .header("content-type", "application/json")
            .header("webhook-id", &item.id)
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", signature)
            .body(item.body.clone())
            .send()
            .await;
        let why = match sent {
            Ok(answer) if answer.status().is_success() => return,
            Ok(answer) if answer.status().is_client_error() && answer.status().as_u16() != 429 => {
                refusals += 1;
                if refusals >= args.max_refusals {
                    eprintln!(
                        "warning: {}: refused with HTTP {} {refusals} time(s); skipped",
                        item.id,
                        answer.status()
                    );
                    return;
                }
                format!("HTTP {}", answer.status())
            }
            Ok(answer) => format!("HTTP {}", answer.status()),
            Err(e) if e.is_timeout() => "timed out".to_owned(),
            // Without the URL: a receiver's URL may hold a secret of its own.
            Err(e) => format!("failed: {}", e.without_url()),
        };
        let delay = backoff.delay(tries);
        eprintln!(
            "warning: {}: {why}; trying again in {:.1} s",
            item.id,
            delay.as_secs_f64()
        );
        tokio::time::sleep(delay).await;
    }
}
