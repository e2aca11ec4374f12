//! Production: `bridge`, `meeting`, `serve` and `webhook` run for 2.5 minutes against the
//! simulator with tokens living 5 s, under both readings of what Spaces does when a token
//! expires on an open socket, each with `--credentials` (four processes sharing one OAuth2
//! file) and with `--token-file` (rotated every 2 s). None may exit; each must renew its token
//! at least 20 times (`spaces_token_renewals_total`); the bridge's stream holds every event it
//! received once; the meeting state is resynced after every gap; no token ever appears in any
//! output, at trace level. The figures are printed as a table. `SPACES_RENEWALS_SECONDS`
//! shortens the run (for trying it out; CI runs the full length).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use spaces_events::auth::OAuth2;
use spaces_events::rest::Rest;
use spaces_events_tests::nats::NatsServer;
use spaces_events_tests::peer::media_event;
use spaces_events_tests::{browse, http_get, replace_file, sigterm};
use spaces_sim::{Expiry, MEDIA_SESSION_RESPONSE, Scenario, Sim, Simulator};
use tokio::process::{Child, Command};

const SPACE: &str = "space-renewals";
const LIFETIME: Duration = Duration::from_secs(5);
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn run_for() -> Duration {
    let seconds = std::env::var("SPACES_RENEWALS_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    Duration::from_secs(seconds)
}

fn free() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Attendees come and go: event `n` adds one of 20 (the meeting state stays small, and
/// `meeting --format jsonl`, which prints it at every change, with it).
fn event(n: u32) -> serde_json::Value {
    let mut event = media_event(SPACE, n);
    event["content"]["attendee"]["_id"] = format!("user-{}", n % 20).into();
    event
}

/// One command under test: its process, where its metrics are, and its output files.
struct Run {
    name: String,
    child: Child,
    metrics: String,
    out: PathBuf,
    /// `serve`'s dashboard address.
    bind: Option<String>,
    /// The bridge's own NATS server.
    nats: Option<NatsServer>,
}

/// The distinct `webhook-id`s each webhook (`/hook/{who}`) was sent.
type Delivered = Arc<Mutex<HashMap<String, HashSet<String>>>>;

/// A webhook receiver at `http://127.0.0.1:PORT/hook/{who}`.
async fn receiver() -> (String, Delivered) {
    let ids = Delivered::default();
    let seen = ids.clone();
    let app = axum::Router::new().route(
        "/hook/{who}",
        axum::routing::post(
            move |who: axum::extract::Path<String>, headers: HeaderMap| {
                let seen = seen.clone();
                async move {
                    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
                        let mut seen = seen.lock().unwrap();
                        seen.entry(who.0).or_default().insert(id.to_owned());
                    }
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), ids)
}

/// OAuth2 credentials for `sim`'s provider, through the library's login (the "browser" is
/// the test).
async fn credentials(sim: &Sim, path: &Path) {
    let authorization = OAuth2::new(path)
        .login("bot-renewals")
        .identity_url(sim.identity_url())
        .start()
        .await
        .expect("login starts");
    let url = authorization.url().to_owned();
    let (finished, status) =
        tokio::join!(authorization.finish(std::future::pending()), browse(&url));
    finished.expect("signed in");
    assert_eq!(status, 200);
}

async fn start(command: &str, sim: &Sim, source: &[&str], dir: &Path, hook: &str) -> Run {
    let name = format!("{command} {}", source[0]);
    let out = dir.join(format!(
        "{command}-{}.log",
        source[0].trim_start_matches("--")
    ));
    let metrics = free();
    let mut args: Vec<String> = vec![command.into()];
    let (mut bind, mut nats) = (None, None);
    match command {
        "bridge" => {
            let server = NatsServer::start().await;
            args.extend([
                "--nats".into(),
                server.url(),
                "--meetings-bucket".into(),
                "none".into(),
            ]);
            nats = Some(server);
        }
        "meeting" => args.extend(["--format".into(), "jsonl".into()]),
        "serve" => {
            let addr = free();
            args.extend(["--bind".into(), addr.clone()]);
            bind = Some(addr);
        }
        "webhook" => args.extend([
            "--to".into(),
            format!("{hook}/{}", source[0].trim_start_matches("--")),
        ]),
        _ => unreachable!(),
    }
    args.extend(
        [
            "--url",
            sim.url(),
            "--api-url",
            sim.api_url(),
            "--space",
            SPACE,
        ]
        .map(String::from),
    );
    args.extend(["--metrics-addr".into(), metrics.clone()]);
    args.extend(source.iter().map(|s| (*s).to_owned()));
    let log = std::fs::File::create(&out).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_spaces-events"))
        .args(&args)
        .env_remove("SPACES_TOKEN")
        .env("RUST_LOG", "trace")
        .env("SPACES_WEBHOOK_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("the binary runs");
    Run {
        name,
        child,
        metrics,
        out,
        bind,
        nats,
    }
}

/// The sum of a metric's series in a Prometheus scrape.
fn total(scrape: &str, metric: &str) -> u64 {
    scrape
        .lines()
        .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// What one run measured, and what it got wrong.
struct Figures {
    name: String,
    renewals: u64,
    /// Events received (bridge) or delivered (webhook); `None` for `meeting` and `serve`, which
    /// show states, not events (their state is compared with the server's instead).
    received: Option<u64>,
    note: String,
    problems: Vec<String>,
}

/// One reading: the simulator, its rotating token file, its shared credentials, eight
/// commands; the figures once they ran for [`run_for`].
async fn reading(expiry: Expiry) -> (Vec<Figures>, u64, Vec<String>, Vec<PathBuf>) {
    let sim = Arc::new(
        Simulator::new()
            .scenario(Scenario::default())
            .token_lifetime(LIFETIME)
            .expiry(expiry)
            .start()
            .await
            .expect("the simulator starts"),
    );
    let dir = std::env::temp_dir().join(format!("se-renewals-{expiry:?}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (token_file, oauth_file) = (dir.join("token"), dir.join("credentials.json"));
    let guests = Rest::builder(sim.api_url()).build().unwrap();
    let rotate = |n: u32| {
        let guests = guests.clone();
        let token_file = token_file.clone();
        async move {
            let guest = guests
                .anonymous_auth("Rotator", &format!("rot-{n}"))
                .await
                .unwrap();
            replace_file(&token_file, guest.token().expose());
        }
    };
    rotate(0).await;
    credentials(&sim, &oauth_file).await;
    let (hook, delivered) = receiver().await;

    let mut runs = Vec::new();
    for source in [
        ["--token-file", token_file.to_str().unwrap()],
        ["--credentials", oauth_file.to_str().unwrap()],
    ] {
        for command in ["bridge", "meeting", "serve", "webhook"] {
            runs.push(start(command, &sim, &source, &dir, &hook).await);
        }
    }
    sim.subscribed(SPACE, runs.len()).await;

    // The world goes on: an event every 200 ms, the token file rotated every 2 s, and under
    // reading (a) the links dropped every 5.2 s (nothing else makes a client need a new token;
    // less often than the tokens' life, so that each reconnect needs a new one).
    let deadline = tokio::time::Instant::now() + run_for();
    let mut emitted = 0u32;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    while tokio::time::Instant::now() < deadline {
        tick.tick().await;
        emitted += 1;
        sim.emit(MEDIA_SESSION_RESPONSE, &event(emitted)).await;
        if emitted.is_multiple_of(10) {
            rotate(emitted).await;
        }
        if expiry == Expiry::Keep && emitted.is_multiple_of(26) {
            sim.drop_connections();
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut figures = Vec::new();
    let mut outputs = Vec::new();
    for mut run in runs {
        let mut problems = Vec::new();
        if let Ok(Some(status)) = run.child.try_wait() {
            let out = std::fs::read_to_string(&run.out).unwrap_or_default();
            let tail: Vec<&str> = out.lines().rev().take(10).collect();
            problems.push(format!("exited ({status}): {}", tail.join(" / ")));
        }
        let (_, scrape) = http_get(&run.metrics, "/metrics").await;
        let renewals = total(&scrape, "spaces_token_renewals_total");
        let resyncs = total(&scrape, "spaces_resyncs_total");
        if renewals < 20 {
            problems.push(format!("{renewals} renewals"));
        }
        let attendees =
            |state: &serde_json::Value| state["attendees"].as_array().map_or(0, |a| a.len() as u64);
        let (received, note) = if let Some(nats) = &run.nats {
            let received = total(&scrape, "spaces_events_received_total");
            let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
            let stored = js
                .get_stream("SPACES")
                .await
                .unwrap()
                .info()
                .await
                .unwrap()
                .state
                .messages;
            if stored != received {
                problems.push(format!(
                    "the stream holds {stored} messages for {received} events"
                ));
            }
            (
                Some(received),
                format!("stream: {stored} messages, no duplicate"),
            )
        } else if run.name.starts_with("webhook") {
            let who = run.name.rsplit("--").next().unwrap_or_default().to_owned();
            let ids = delivered.lock().unwrap().get(&who).map_or(0, HashSet::len) as u64;
            (Some(ids), "distinct webhook-ids delivered".to_owned())
        } else {
            let state = match &run.bind {
                Some(bind) => {
                    let (status, body) =
                        http_get(bind, &format!("/api/spaces/{SPACE}/meeting")).await;
                    if status != 200 {
                        problems.push(format!("the dashboard answers {status}"));
                    }
                    serde_json::from_str(&body).unwrap_or_default()
                }
                None => {
                    let out = std::fs::read_to_string(&run.out).unwrap_or_default();
                    let last = out.lines().rev().find(|l| l.starts_with("{\"change\""));
                    last.and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                        .map(|change| change["state"].clone())
                        .unwrap_or_default()
                }
            };
            if resyncs < 10 {
                problems.push(format!("{resyncs} resyncs"));
            }
            let truth = sim.active_meeting(SPACE).unwrap_or_default()["content"].clone();
            if attendees(&state) != attendees(&truth) {
                let (ours, theirs) = (attendees(&state), attendees(&truth));
                problems.push(format!("{ours} attendees, the server {theirs}"));
            }
            let note = format!(
                "{resyncs} resyncs; the final state is the server's ({} attendees)",
                attendees(&state)
            );
            (None, note)
        };
        sigterm(&run.child);
        let status = tokio::time::timeout(Duration::from_secs(30), run.child.wait()).await;
        if !status.is_ok_and(|s| s.is_ok_and(|s| s.success())) {
            problems.push("SIGTERM did not end it with 0".into());
        }
        figures.push(Figures {
            name: run.name,
            renewals,
            received,
            note,
            problems,
        });
        outputs.push(run.out);
    }
    (figures, u64::from(emitted), sim.issued_tokens(), outputs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_commands_renew_5_second_tokens_for_two_minutes_under_both_readings() {
    let ((keep, keep_sent, keep_tokens, keep_out), (close, close_sent, close_tokens, close_out)) =
        tokio::join!(reading(Expiry::Keep), reading(Expiry::Close));
    println!(
        "| command, source | reading | renewals | events received / sent | lost | | problems |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (label, figures, sent) in [
        ("(a) keep", &keep, keep_sent),
        ("(b) close", &close, close_sent),
    ] {
        for f in figures {
            let (received, lost) = match f.received {
                Some(n) => (format!("{n} / {sent}"), sent.saturating_sub(n).to_string()),
                None => (format!("— / {sent}"), "—".to_owned()),
            };
            println!(
                "| {} | {label} | {} | {received} | {lost} | {} | {} |",
                f.name,
                f.renewals,
                f.note,
                f.problems.join("; ")
            );
        }
    }
    let failed: Vec<&String> = keep
        .iter()
        .chain(&close)
        .flat_map(|f| &f.problems)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    // The token never shows, at trace level, in anything any command wrote.
    let tokens: Vec<String> = keep_tokens.into_iter().chain(close_tokens).collect();
    assert!(tokens.len() > 100, "{} tokens issued", tokens.len());
    for out in keep_out.iter().chain(&close_out) {
        let text = std::fs::read_to_string(out).unwrap();
        assert!(
            text.len() > 10_000,
            "{} logged at trace level",
            out.display()
        );
        for token in &tokens {
            assert!(
                !text.contains(token.as_str()),
                "{} shows a token",
                out.display()
            );
        }
    }
}
