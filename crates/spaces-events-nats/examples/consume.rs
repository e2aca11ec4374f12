//! Reads the bridge's stream with a durable consumer and decodes each message: what a recorder,
//! a dashboard or an analytics job past the bridges does. Acknowledged messages are not
//! delivered to the consumer again, so a restart goes on where it stopped.
//!
//! `cargo run -p spaces-events-nats --example consume -- [NATS_URL] [FILTER] [COUNT]`
//! (default `nats://127.0.0.1:4222`, `spaces.>`, no end; e.g. the filter
//! `spaces.*.app.event.attendee.>` for attendee events only).

use async_nats::jetstream::{self, consumer::pull};
use futures_util::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "nats://127.0.0.1:4222".to_owned());
    let filter = args.next().unwrap_or_else(|| "spaces.>".to_owned());
    let count: Option<usize> = args.next().map(|n| n.parse()).transpose()?;
    let js = jetstream::new(async_nats::connect(&url).await?);
    let consumer = js
        .get_stream("SPACES")
        .await?
        .get_or_create_consumer(
            "dashboard",
            pull::Config {
                durable_name: Some("dashboard".to_owned()),
                filter_subject: filter,
                ..pull::Config::default()
            },
        )
        .await?;
    let mut messages = consumer.messages().await?.take(count.unwrap_or(usize::MAX));
    while let Some(message) = messages.next().await {
        let message = message?;
        match spaces_events::decode(&message.payload) {
            Ok(event) => println!(
                "{} {} {}",
                event.topic_id().unwrap_or("?"),
                event.category_name(),
                event
                    .attendee()
                    .and_then(|a| a.displayname.as_deref())
                    .unwrap_or("")
            ),
            // Not an event of ours: say so, and do not get it again.
            Err(error) => eprintln!("skipped {}: {error}", message.subject),
        }
        message.ack().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}
