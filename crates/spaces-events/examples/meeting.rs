//! Prints a space's meeting as it happens, until it ends.
//!
//! `SPACES_TOKEN=… cargo run -p spaces-events --example meeting -- SPACE_ID [URL]`
//! In a project of your own: `spaces-events`, `futures-util`, and `tokio` with the features
//! `macros` and `rt-multi-thread`.

use futures_util::StreamExt;
use spaces_events::Category;
use spaces_events::client::{Client, PRODUCTION_URL};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let space = args.next().ok_or("usage: meeting SPACE_ID [URL]")?;
    let url = args.next().unwrap_or_else(|| PRODUCTION_URL.to_owned());
    let token = std::env::var("SPACES_TOKEN").map_err(|_| "set SPACES_TOKEN")?;
    let client = Client::builder(&url, token).connect().await?;
    let mut meeting = client.subscribe(&space).await?;
    while let Some(event) = meeting.next().await {
        match event {
            Ok(event) if event.category() == Category::AttendeeAdded => {
                let who = event.attendee().and_then(|a| a.displayname.as_deref());
                println!("joined: {}", who.unwrap_or("someone"));
            }
            Ok(event) if event.category() == Category::MeetingEnded => {
                println!("meeting over");
                break;
            }
            Ok(event) => println!("{}", event.category_name()),
            Err(error) if error.is_fatal() => return Err(error.into()), // e.g. token rejected
            Err(error) => eprintln!("skipped: {error}"), // e.g. an undecodable payload
        }
    }
    client.close().await;
    Ok(())
}
