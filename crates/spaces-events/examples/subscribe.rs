//! Watch spaces' media-session events.
//!
//! `SPACES_TOKEN=… cargo run -p spaces-events --example subscribe -- [URL] SPACE_ID...`
//! (URL defaults to production; e.g. `http://127.0.0.1:PORT/chat` for a local server.)

use futures_util::StreamExt;
use futures_util::stream::select_all;
use spaces_events::Category;
use spaces_events::client::{Client, PRODUCTION_URL};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let url = if args.first().is_some_and(|a| a.contains("://")) {
        args.remove(0)
    } else {
        PRODUCTION_URL.to_owned()
    };
    let token = std::env::var("SPACES_TOKEN").map_err(|_| "set SPACES_TOKEN")?;
    let client = Client::connect(&url, token).await?;
    let mut subscriptions = Vec::new();
    for space in &args {
        subscriptions.push(client.subscribe(space).await?);
    }
    let mut events = select_all(subscriptions);
    while let Some(item) = events.next().await {
        let event = match item {
            Ok(event) => event,
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                eprintln!("skipped: {e}");
                continue;
            }
        };
        let space = event.topic_id().unwrap_or("?");
        match event.category() {
            Category::MeetingStarted => println!(
                "{space}: meeting started with {} attendees",
                event.attendees().len()
            ),
            Category::MeetingEnded => println!("{space}: meeting ended"),
            Category::AttendeeAdded | Category::AttendeeLeft => {
                let who = event
                    .attendee()
                    .and_then(|a| a.displayname.as_deref())
                    .unwrap_or("someone");
                println!(
                    "{space}: {who} {}",
                    if event.category() == Category::AttendeeAdded {
                        "joined"
                    } else {
                        "left"
                    }
                );
            }
            Category::RecordingReady => println!(
                "{space}: recording {:?} is ready",
                event.recordings().first().and_then(|r| r.id.as_deref())
            ),
            _ => println!("{space}: {}", event.category_name()),
        }
    }
    Ok(())
}
