//! `spaces-events bridge`: every event of the spaces into NATS JetStream (see the
//! `spaces-events-nats` crate), alone or sharing the spaces with other bridges (`--lease`).

use std::collections::{BTreeSet, HashSet};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use spaces_events::client::{Client, ConnectionState};
use spaces_events::rest::Rest;
use spaces_events_nats::lease::{LeaseConfig, Leases};
use spaces_events_nats::{Bridge as Publisher, BridgeError, Config, Sources, Stats};

use crate::credentials::Trust;
use crate::spaces::{self, Follow, Listing, Wanted};
use crate::telemetry::HEALTH;
use crate::watch::{Connection, block_on, fail, shutdown};

/// Exit code when NATS cannot be reached or refuses us (documented in `--help`).
const NATS_FAILED: u8 = 6;
const USAGE: u8 = 2;

#[derive(Args)]
pub(crate) struct Bridge {
    #[command(flatten)]
    connection: Connection,
    /// Space (topic) id to bridge; repeat for several. With --lease, the spaces to share.
    #[arg(long = "space", value_name = "ID")]
    spaces: Vec<String>,
    /// More spaces, one id per line.
    #[arg(long, value_name = "PATH")]
    spaces_file: Option<PathBuf>,
    /// More spaces: the keys of this NATS key-value bucket, watched — a key put while the
    /// bridge runs is followed, a key deleted is dropped.
    #[arg(long, value_name = "BUCKET", conflicts_with = "all_spaces")]
    spaces_bucket: Option<String>,
    #[command(flatten)]
    listing: Listing,
    /// The NATS server, e.g. nats://127.0.0.1:4222 (user and password may be in the URL);
    /// repeat for the servers of a cluster (the first that answers is used, the others on
    /// failover). `tls://` requires TLS.
    #[arg(long, value_name = "URL", required = true)]
    nats: Vec<String>,
    #[command(flatten)]
    nats_auth: NatsAuth,
    /// The JetStream stream (created if absent, subjects `spaces.>`).
    #[arg(long, default_value = "SPACES", value_name = "NAME")]
    stream: String,
    /// Share the spaces with the other bridges of the same NATS: each space is held by
    /// --replicas bridges, through claims in the key-value bucket `spaces_leases`.
    #[arg(long)]
    lease: bool,
    /// With --lease: bridges per space.
    #[arg(long, default_value_t = 1, value_name = "N")]
    replicas: usize,
    /// With --lease: seconds a claim lives without renewal (renewed every third of it).
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    lease_ttl: f64,
    /// The key-value bucket of each space's meeting state (`none` keeps none).
    #[arg(long, default_value = "spaces_meetings", value_name = "BUCKET")]
    meetings_bucket: String,
    /// Publishes awaiting their acknowledgement at most.
    #[arg(long, default_value_t = 256, value_name = "N")]
    in_flight: usize,
    /// Exit 0 once this many events are acknowledged, saying so on stdout (for benchmarks and
    /// scripts).
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
}

pub(crate) fn run(args: Bridge) -> ExitCode {
    block_on(bridge(args))
}

/// How the bridge proves itself to NATS, and trusts it.
#[derive(Args)]
pub(crate) struct NatsAuth {
    /// A credentials file (a user JWT and its nkey seed, as `nsc` writes them).
    #[arg(long, value_name = "FILE")]
    nats_creds: Option<PathBuf>,
    /// An authorization token (better from the NATS_TOKEN environment variable: command lines
    /// are visible to other users).
    #[arg(long, env = "NATS_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    nats_token: Option<String>,
    /// The certificate authority (PEM) that signed the server's certificate; requires TLS.
    #[arg(long, value_name = "FILE")]
    nats_tls_ca: Option<PathBuf>,
    /// A client certificate (PEM) for mutual TLS, with --nats-tls-key; requires TLS.
    #[arg(long, value_name = "FILE", requires = "nats_tls_key")]
    nats_tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "nats_tls_cert")]
    nats_tls_key: Option<PathBuf>,
}

impl NatsAuth {
    /// `options` with these credentials and TLS settings, trusting `trust`'s CA as well.
    pub(crate) async fn apply(
        &self,
        mut options: async_nats::ConnectOptions,
        trust: &Trust,
    ) -> Result<async_nats::ConnectOptions, String> {
        if let Some(ca) = &trust.ca_file {
            // Trusted if NATS speaks TLS; not a demand that it does (that is --nats-tls-ca).
            options = options.add_root_certificates(ca.clone());
        }
        if let Some(path) = &self.nats_creds {
            options = options
                .credentials_file(path)
                .await
                .map_err(|e| format!("--nats-creds {}: {e}", path.display()))?;
        }
        if let Some(token) = &self.nats_token {
            options = options.token(token.clone());
        }
        if let Some(ca) = &self.nats_tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&self.nats_tls_cert, &self.nats_tls_key) {
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        Ok(options)
    }
}

/// The URL without its user and password.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

async fn bridge(args: Bridge) -> ExitCode {
    let listed = match named(&args) {
        Ok(listed) => listed,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let ttl = match Duration::try_from_secs_f64(args.lease_ttl) {
        Ok(ttl) if ttl >= Duration::from_secs(1) => ttl,
        _ => {
            eprintln!("error: --lease-ttl must be at least 1 second");
            return ExitCode::from(USAGE);
        }
    };
    let servers: Vec<String> = args.nats.iter().map(|url| redact(url)).collect();
    let nats_failed = |e: &dyn std::fmt::Display| {
        eprintln!("error: NATS at {}: {e}", servers.join(", "));
        ExitCode::from(NATS_FAILED)
    };
    let reconnects = Arc::new(AtomicU64::new(0));
    let counted = reconnects.clone();
    // One attempt to begin with: a wrong URL or password is said at once, not retried.
    let options = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .max_reconnects(None)
        .event_callback(move |event| {
            let counted = counted.clone();
            async move {
                if matches!(event, async_nats::Event::Connected) {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    let options = match args.nats_auth.apply(options, &args.connection.trust).await {
        Ok(options) => options,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let nats = match options.connect(args.nats.as_slice()).await {
        Ok(nats) => nats,
        Err(e) => return nats_failed(&e),
    };
    let _ = HEALTH.nats.set(nats.clone());
    let config = Config {
        stream: args.stream.clone(),
        in_flight: args.in_flight,
        meetings: (args.meetings_bucket != "none").then(|| args.meetings_bucket.clone()),
        ..Config::default()
    };
    let publisher = match Publisher::new(nats, config).await {
        Ok(publisher) => publisher,
        Err(e) => return nats_failed(&e),
    };
    let _ = HEALTH.stats.set(publisher.stats());
    let pace = match args.listing.pace() {
        Ok(pace) => pace,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let bucket = match &args.spaces_bucket {
        Some(bucket) => {
            let watched = match publisher.jetstream().get_key_value(bucket).await {
                Ok(kv) => spaces::with_bucket(listed.clone(), kv).await,
                Err(e) => Err(e.to_string()),
            };
            match watched {
                Ok(wanted) => Some(wanted),
                Err(e) => return nats_failed(&format!("bucket {bucket}: {e}")),
            }
        }
        None if listed.is_empty() && !args.listing.all_spaces => {
            eprintln!(
                "error: no space: give --space ID, --spaces-file PATH, --spaces-bucket BUCKET or --all-spaces"
            );
            return ExitCode::from(USAGE);
        }
        None => None,
    };
    let (client, rest) = match args.connection.connect().await {
        Ok(connected) => connected,
        Err(code) => return code,
    };
    let wanted = match bucket {
        Some(wanted) => wanted,
        None if args.listing.all_spaces => match args.listing.listed(&client, rest.clone()).await {
            Ok(wanted) => wanted,
            Err(e) => {
                eprintln!("error: listing the spaces: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => reloadable(listed),
    };
    tokio::spawn(count_reconnects(client.clone(), reconnects.clone()));
    let sources = publisher.sources();
    let leases = if args.lease {
        let id = format!("{}-{}", std::process::id(), fastrand::u32(..));
        let config = LeaseConfig {
            ttl,
            replicas: args.replicas.max(1),
            ..LeaseConfig::new(&id)
        };
        match Leases::open(publisher.jetstream(), config).await {
            Ok(leases) => {
                eprintln!(
                    "bridge {id}: sharing {} space(s) with the other bridges",
                    wanted.borrow().len()
                );
                let (stop, stopped) = tokio::sync::oneshot::channel();
                let (held, holding) = tokio::sync::watch::channel(BTreeSet::new());
                let follower = Sourced {
                    client: client.clone(),
                    rest,
                    sources: sources.clone(),
                };
                tokio::spawn(spaces::follow_changes(
                    holding,
                    pace,
                    follower,
                    HashSet::new(),
                ));
                let task = tokio::spawn(share(leases, wanted, held, stopped));
                Some((stop, task))
            }
            Err(e) => return nats_failed(&e),
        }
    } else {
        let follower = Sourced {
            client: client.clone(),
            rest,
            sources: sources.clone(),
        };
        let mut pace = pace;
        let mut initial = HashSet::new();
        if !args.listing.all_spaces {
            // Spaces named on the command line must all be followed: a refusal is fatal.
            // Cloned first: a borrow held across the awaits below would block the reload's
            // send (a deadlock on this single thread).
            let named = wanted.borrow().clone();
            for space in named {
                pace.wait().await;
                if let Err(e) = sources.follow(&client, &follower.rest, &space).await {
                    return fail(&e);
                }
                initial.insert(space);
            }
        }
        eprintln!(
            "bridging {} space(s) into stream {}",
            wanted.borrow().len(),
            args.stream
        );
        tokio::spawn(spaces::follow_changes(wanted, pace, follower, initial));
        None
    };
    tokio::spawn(report(publisher.stats(), reconnects, sources.clone()));
    let stats = publisher.stats();
    let stop = async {
        tokio::select! {
            () = shutdown() => {}
            () = acknowledged(&stats, args.max_events) => println!("{} events acknowledged", stats.acknowledged.load(Ordering::Relaxed)),
        }
    };
    let result = publisher.run(stop).await;
    if let Some((stop, task)) = leases {
        let _ = stop.send(());
        if let Ok(mut leases) = task.await {
            // The others take these spaces at their next round, not after the TTL.
            leases.release_all().await;
        }
    }
    client.close().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(BridgeError::Spaces(e)) => fail(&e),
        Err(e) => nats_failed(&e),
    }
}

/// The spaces of `--space` and `--spaces-file`.
fn named(args: &Bridge) -> Result<BTreeSet<String>, String> {
    let mut spaces: BTreeSet<String> = args.spaces.iter().cloned().collect();
    if let Some(path) = &args.spaces_file {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        spaces.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    Ok(spaces)
}

/// `listed`, and on each SIGHUP the spaces named again (the command line, `--config` and
/// `--spaces-file` read anew): new ones are followed, removed ones dropped, the others kept.
fn reloadable(listed: BTreeSet<String>) -> Wanted {
    let (wanted, receiver) = tokio::sync::watch::channel(listed);
    // Registered now, before any space is followed: a SIGHUP before the task first runs would
    // otherwise end the process (its default action).
    let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
    tokio::spawn(async move {
        let Ok(mut hangups) = hangups else {
            return;
        };
        while hangups.recv().await.is_some() {
            let reloaded = crate::arguments().and_then(|cli| match cli.command {
                crate::Command::Bridge(args) => named(&args),
                _ => Err("not a bridge".into()),
            });
            match reloaded {
                Ok(spaces) => {
                    eprintln!("reloaded: {} space(s)", spaces.len());
                    wanted.send_replace(spaces);
                }
                Err(e) => eprintln!("warning: reloading the spaces: {e} (the list stays)"),
            }
        }
    });
    receiver
}

/// Resolves once `max` events are acknowledged (never without `max`).
async fn acknowledged(stats: &Stats, max: Option<u64>) {
    let Some(max) = max else {
        return std::future::pending().await;
    };
    while stats.acknowledged.load(Ordering::Relaxed) < max {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Lease rounds until `stop`: `held` says which spaces this bridge holds (a paced follower
/// follows them), so that subscribing thousands of spaces never holds up the renewals.
async fn share(
    mut leases: Leases,
    wanted: Wanted,
    held: tokio::sync::watch::Sender<BTreeSet<String>>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) -> Leases {
    let mut tick = tokio::time::interval(leases.period());
    loop {
        tokio::select! {
            _ = &mut stop => return leases,
            _ = tick.tick() => {}
        }
        let spaces: Vec<String> = wanted.borrow().iter().cloned().collect();
        match leases.round(&spaces).await {
            Ok(now) => {
                HEALTH.leases.store(now.len(), Ordering::Relaxed);
                held.send_if_modified(|spaces| {
                    let modified = *spaces != now;
                    *spaces = now;
                    modified
                });
            }
            Err(e) => eprintln!("warning: leases: {e}"),
        }
    }
}

/// The bridge's sources as a [`Follow`]er.
struct Sourced {
    client: Client,
    rest: Rest,
    sources: Sources,
}

impl Follow for Sourced {
    async fn follow(&mut self, space: &str) -> Result<(), String> {
        self.sources
            .follow(&self.client, &self.rest, space)
            .await
            .map_err(|e| e.to_string())
    }

    fn stop(&mut self, space: &str) {
        self.sources.stop(space);
    }
}

async fn count_reconnects(client: Client, reconnects: Arc<AtomicU64>) {
    let mut states = client.state_changes().skip(1);
    while let Some(state) = states.next().await {
        if matches!(state, ConnectionState::Reconnecting { .. }) {
            reconnects.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The status line on a terminal (redrawn each second); a plain line every 10 s otherwise.
async fn report(stats: Arc<Stats>, reconnects: Arc<AtomicU64>, sources: Sources) {
    let terminal = std::io::stderr().is_terminal();
    let every = Duration::from_secs(if terminal { 1 } else { 10 });
    let mut tick = tokio::time::interval(every);
    let mut last = 0;
    loop {
        tick.tick().await;
        let acked = stats.acknowledged.load(Ordering::Relaxed);
        let per_second = (acked - last) as f64 / every.as_secs_f64();
        last = acked;
        let reconnects = reconnects.load(Ordering::Relaxed).saturating_sub(1);
        let line = status(&stats, per_second, reconnects, sources.spaces().len());
        let mut err = std::io::stderr().lock();
        let _ = if terminal {
            err.write_all(&frame(&line)).and_then(|()| err.flush())
        } else {
            writeln!(err, "{line}")
        };
    }
}

/// What the status line says.
fn status(stats: &Stats, per_second: f64, reconnects: u64, spaces: usize) -> String {
    format!(
        "{per_second:.0} events/s · {} in flight · lag {} ms · {} duplicates · {reconnects} reconnects · {spaces} spaces",
        stats.in_flight.load(Ordering::Relaxed),
        stats.lag_ms.load(Ordering::Relaxed),
        stats.duplicates.load(Ordering::Relaxed),
    )
}

/// One frame of the status line on a terminal: back to the line's start, the line cleared,
/// the line (no newline: the next frame overwrites it).
fn frame(line: &str) -> Vec<u8> {
    use ratatui::crossterm::{cursor, queue, style, terminal};
    let mut out = Vec::new();
    queue!(
        out,
        cursor::MoveToColumn(0),
        terminal::Clear(terminal::ClearType::CurrentLine),
        style::Print(line)
    )
    .expect("writing to a Vec does not fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_frame_of_the_status_line() {
        let stats = Stats::default();
        stats.in_flight.store(12, Ordering::Relaxed);
        stats.lag_ms.store(3, Ordering::Relaxed);
        stats.duplicates.store(40, Ordering::Relaxed);
        let line = status(&stats, 1520.4, 1, 30);
        assert_eq!(
            line,
            "1520 events/s · 12 in flight · lag 3 ms · 40 duplicates · 1 reconnects · 30 spaces"
        );
        assert_eq!(
            String::from_utf8(frame(&line)).unwrap(),
            format!("\x1b[1G\x1b[2K{line}")
        );
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(redact("nats://u:secret@h:4222"), "nats://***@h:4222");
        assert_eq!(redact("nats://h:4222"), "nats://h:4222");
    }
}
