//! Follows a space's meeting — who is there, their media, the recordings — and stays right
//! across reconnects: the state is resynced from the REST API after every gap, and each change
//! says whether an event or a resync found it. Ends when the recording is ready.
//!
//! `SPACES_TOKEN=… cargo run -p spaces-events --features rest --example roster -- SPACE_ID [URL API_URL]`
//! In a project of your own: `spaces-events` with the feature `rest`, `futures-util`, and `tokio`
//! with the features `macros` and `rt-multi-thread`.

use futures_util::StreamExt;
use spaces_events::client::{Client, PRODUCTION_URL};
use spaces_events::rest::{PRODUCTION_API_URL, Rest};
use spaces_events::types::ChangeKind;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let space = args.next().ok_or("usage: roster SPACE_ID [URL API_URL]")?;
    let url = args.next().unwrap_or_else(|| PRODUCTION_URL.to_owned());
    let api = args.next().unwrap_or_else(|| PRODUCTION_API_URL.to_owned());
    let token = std::env::var("SPACES_TOKEN").map_err(|_| "set SPACES_TOKEN")?;
    let rest = Rest::builder(&api).token(token.as_str()).build()?;
    let client = Client::connect(&url, token).await?;
    let mut meeting = client.meeting(&space, &rest).await?;
    while let Some(change) = meeting.next().await {
        match change {
            Ok(change) => {
                let names: Vec<&str> = change
                    .state
                    .attendees
                    .iter()
                    .map(|a| a.displayname.as_deref().unwrap_or(&a.id))
                    .collect();
                println!(
                    "{} ({}): [{}]",
                    change.change,
                    change.source,
                    names.join(", ")
                );
                if change.change == ChangeKind::RecordingReady {
                    break;
                }
            }
            Err(error) if error.is_fatal() => return Err(error.into()), // e.g. token rejected
            Err(error) => eprintln!("{error}"), // e.g. a failed resync, retried by itself
        }
    }
    client.close().await;
    Ok(())
}
