//! `spaces-events webhook`: each event (or, with `--changes`, each meeting change) delivered
//! through the library's webhook sink (`spaces_events::webhook`: signed as Standard Webhooks
//! sign, retried with backoff) one at a time in arrival order, so in order per space; while one
//! is retried nothing else is read, the client's buffer fills and it stops reading the socket
//! (heartbeats go on): nothing is dropped, memory is bounded. An item refused `--max-refusals`
//! times is reported and skipped. (`--to`, not `--url`: every command's `--url` is the socket.)

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use spaces_events::client::Error;
use spaces_events::meeting::MeetingError;
use spaces_events::webhook::{Delivery, Webhook as Sink};
use spaces_events_nats::msg_id;
use spaces_events_nats::telemetry;

use crate::meeting::changes;
use crate::watch::{Followed, block_on, events, fail, shutdown};

/// Exit code for a bad option (documented in `--help`).
const USAGE: u8 = 2;

#[derive(Args)]
pub(crate) struct Webhook {
    #[command(flatten)]
    followed: Followed,
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

/// What the source said instead of an item.
enum Failure {
    /// The client stopped: the command ends with its exit code.
    Fatal(Error),
    /// Skipped, reported, and the rest goes on.
    Warning(String),
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
    let timeout = match Duration::try_from_secs_f64(args.timeout) {
        Ok(timeout) => timeout,
        Err(e) => return usage(format!("--timeout {}: {e}", args.timeout)),
    };
    let trust = &args.followed.connection.trust;
    let hook = secret.and_then(|secret| {
        trust
            .apply(Sink::builder(&args.to, &secret))?
            .timeout(timeout)
            .max_refusals(args.max_refusals)
            .on_retry(|id, why, wait| {
                eprintln!(
                    "warning: {id}: {why}; trying again in {:.1} s",
                    wait.as_secs_f64()
                );
            })
            .build()
            .map_err(|e| e.to_string())
    });
    let hook = match hook {
        Ok(hook) => hook,
        Err(e) => return usage(e),
    };
    let (client, rest) = match args.followed.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let mut items: futures_util::stream::BoxStream<'static, Result<Item, Failure>> = if args.changes
    {
        match changes(&client, rest, &args.followed.spaces, &args.followed.listing).await {
            Ok(changes) => {
                let mut n = 0u64;
                changes
                    .map(move |change| {
                        n += 1;
                        let change = change.map_err(|e| match e {
                            MeetingError::Socket(e) if e.is_fatal() => Failure::Fatal(e),
                            e => Failure::Warning(e.to_string()),
                        })?;
                        Ok(Item {
                            id: format!("{}:change:{n}", change.space),
                            body: serde_json::to_string(&change)
                                .expect("a generated type serializes"),
                        })
                    })
                    .boxed()
            }
            Err(code) => return code,
        }
    } else {
        let spaces = match args.followed.spaces(&client, rest).await {
            Ok(spaces) => spaces,
            Err(code) => return code,
        };
        match events(&client, spaces).await {
            Ok(events) => events
                .map(|event| match event {
                    Ok(event) => {
                        telemetry::received(&event, std::time::SystemTime::now());
                        Ok(Item {
                            id: msg_id(&event),
                            body: event.json().to_owned(),
                        })
                    }
                    Err(e) if e.is_fatal() => Err(Failure::Fatal(e)),
                    Err(e) => Err(Failure::Warning(e.to_string())),
                })
                .boxed(),
            Err(code) => return code,
        }
    };
    let mut done = 0u64;
    let mut stop = std::pin::pin!(shutdown());
    let code = loop {
        if args.max_events.is_some_and(|max| done >= max) {
            break ExitCode::SUCCESS;
        }
        let item = tokio::select! {
            item = items.next() => item,
            () = &mut stop => break ExitCode::SUCCESS,
        };
        match item {
            None => break ExitCode::SUCCESS,
            Some(Ok(item)) => {
                let delivery = tokio::select! {
                    delivery = hook.deliver(&item.id, &item.body) => delivery,
                    () = &mut stop => break ExitCode::SUCCESS,
                };
                if let Delivery::Refused { status, tries } = delivery {
                    eprintln!(
                        "warning: {}: refused with HTTP {status} {tries} time(s); skipped",
                        item.id
                    );
                }
                done += 1;
            }
            Some(Err(Failure::Fatal(e))) => break fail(&e),
            Some(Err(Failure::Warning(e))) => eprintln!("warning: {e}"),
        }
    };
    client.close().await;
    code
}
