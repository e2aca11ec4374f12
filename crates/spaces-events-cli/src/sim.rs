//! `spaces-events sim` and `demo`: the local simulator of the Spaces socket server.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use spaces_events::MediaSessionEvent;
use spaces_events::client::Client;
use spaces_events::meeting::MeetingState;
use spaces_sim::{DEMO_SPACE, Scenario, Simulator};

use crate::meeting::{Attended, summary};
use crate::watch::{Format, Output, Spaces, consume};

#[derive(Args)]
pub(crate) struct Sim {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// `meeting` (the built-in meeting) or a JSONL file, as `record` writes it.
    #[arg(long, default_value = "meeting", value_name = "meeting|FILE")]
    scenario: String,
    /// The token clients must present.
    #[arg(long, default_value = spaces_sim::DEFAULT_TOKEN)]
    token: String,
    /// Reject every token (to try how a client handles `44/chat,"Not authorized"`).
    #[arg(long)]
    reject_token: bool,
    /// Refuse subscriptions to this space (SUBSCRIBE_CHANNEL_FAILED `not.a.member`); repeatable.
    #[arg(long = "refuse-space", value_name = "ID")]
    refuse_spaces: Vec<String>,
    /// When the scenario starts: when the first client subscribes, or as soon as the simulator
    /// runs.
    #[arg(long, value_enum, default_value_t = Start::Subscribe)]
    start: Start,
    /// Play the scenario again and again.
    #[arg(long = "loop")]
    looping: bool,
    /// The heartbeat announced to clients, in milliseconds: ping interval.
    #[arg(long, default_value_t = 25_000, value_name = "MS")]
    ping_interval: u64,
    /// The heartbeat announced to clients, in milliseconds: ping timeout.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    ping_timeout: u64,
    /// How meetings are named, which Spaces does not document: `messageId` per event or per
    /// meeting, `content.meetingId` sent or not, and what the active-meeting document's `_id`
    /// is, e.g. `message-per-event/no-meeting-id/doc-own` (an unknown value lists them all).
    /// Without it, payloads go as the scenario has them.
    #[arg(long, value_name = "READING")]
    identity: Option<spaces_sim::Identity>,
    /// Tokens live this long: --token, guest tokens (their JWT's `exp`) and OAuth2 access
    /// tokens (`expires_in`); forever without it.
    #[arg(long, value_name = "SECONDS")]
    token_lifetime: Option<f64>,
    /// When a connection's token expires: `keep` it until the client reconnects, or `close`
    /// it at once. Spaces does not document which it does.
    #[arg(long, value_enum, default_value_t = Expiry::Keep)]
    expiry: Expiry,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Expiry {
    Keep,
    Close,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Start {
    Subscribe,
    Now,
}

#[derive(Args)]
pub(crate) struct Demo {
    /// Output: `pretty` or `jsonl` (each payload as sent, like `watch --format jsonl`).
    #[arg(long, value_enum, default_value_t = Format::Pretty)]
    format: Format,
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs the simulator until Ctrl-C.
pub(crate) fn sim(args: Sim) -> ExitCode {
    let mut simulator = Simulator::new()
        .addr(args.addr)
        .token(&args.token)
        .looping(args.looping)
        .start_on_subscribe(args.start == Start::Subscribe)
        .heartbeat(
            Duration::from_millis(args.ping_interval),
            Duration::from_millis(args.ping_timeout),
        );
    if let Some(identity) = args.identity {
        simulator = simulator.identity(identity);
    }
    if let Some(seconds) = args.token_lifetime {
        match Duration::try_from_secs_f64(seconds) {
            Ok(lifetime) => simulator = simulator.token_lifetime(lifetime),
            Err(e) => {
                eprintln!("error: --token-lifetime {seconds}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    simulator = simulator.expiry(match args.expiry {
        Expiry::Keep => spaces_sim::Expiry::Keep,
        Expiry::Close => spaces_sim::Expiry::Close,
    });
    if args.scenario != "meeting" {
        let path = PathBuf::from(&args.scenario);
        let scenario = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| Scenario::from_jsonl(&text).map_err(|e| e.to_string()));
        match scenario {
            Ok(scenario) => simulator = simulator.scenario(scenario),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    if std::env::var_os("RUST_LOG").is_none() {
        // What the simulator sees (connections, subscriptions, the scenario), on stderr.
        tracing_subscriber::fmt()
            .with_env_filter("spaces_sim=info")
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .init();
    }
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            let sim = simulator.start().await?;
            if args.reject_token {
                sim.set_tokens(&[]);
            }
            for space in &args.refuse_spaces {
                sim.refuse_space(space);
            }
            let spaces = sim.scenario().spaces();
            println!("url: {}", sim.url());
            println!("api: {}", sim.api_url());
            println!("identity: {}", sim.identity_url());
            println!("token: {}", sim.token());
            println!("spaces: {}", spaces.join(" "));
            eprintln!(
                "try: SPACES_TOKEN={} spaces-events watch --url {} --space {}\n\
                 or:  spaces-events meeting --url {} --api-url {} --guest You --space {2}\n\
                 The scenario starts {}. Ctrl-C stops.",
                sim.token(),
                sim.url(),
                spaces.first().map_or(DEMO_SPACE, String::as_str),
                sim.url(),
                sim.api_url(),
                match args.start {
                    Start::Subscribe => "at the first subscription",
                    Start::Now => "now",
                }
            );
            tokio::signal::ctrl_c().await
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The main job on any machine: the simulator in-process, the real client over a real
/// websocket, the whole built-in meeting as it happens.
pub(crate) fn demo(args: Demo) -> ExitCode {
    let result = runtime().and_then(|rt| {
        rt.block_on(async {
            let sim = Simulator::new().start().await?;
            eprintln!(
                "simulator (a local stand-in for the Spaces socket server) on {}",
                sim.url()
            );
            let client = match Client::builder(sim.url(), sim.token()).connect().await {
                Ok(client) => client,
                Err(e) => return Ok(crate::watch::fail(&e)),
            };
            let output = Output {
                format: args.format,
                max_events: Some(sim.scenario().steps.len() as u64),
                categories: Vec::new(),
            };
            let (mut state, mut attended) = (MeetingState::new(DEMO_SPACE), Attended::default());
            let mut fold = |event: &MediaSessionEvent| {
                state.apply(event);
                attended.note(state.snapshot());
            };
            let code = consume(
                &client,
                Spaces::Named(&[DEMO_SPACE.to_owned()]),
                &output,
                None,
                Some(&mut fold),
            )
            .await;
            client.close().await;
            eprintln!(
                "the meeting is over: {} events\n{}",
                sim.scenario().steps.len(),
                summary(state.snapshot(), &attended)
            );
            Ok(code)
        })
    });
    result.unwrap_or_else(|e: std::io::Error| {
        eprintln!("error: {e}");
        ExitCode::FAILURE
    })
}
