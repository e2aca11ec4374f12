//! `--metrics-addr`: Prometheus metrics (`/metrics`) and the probes Kubernetes expects
//! (`/healthz`: the process runs; `/readyz`: connected to Spaces — and NATS for the bridge —
//! with subscriptions held) on one HTTP port, up from the start, before Spaces is reached.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use futures_util::StreamExt;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use clap::Args;
use metrics::gauge;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use spaces_events::client::{Client, ConnectionState};
use spaces_events_nats::Stats;
use spaces_events_nats::telemetry::{
    self, CONNECTED, EVENT_AGE, IN_FLIGHT, LEASES, NATS_CONNECTED, PUBLISH_LATENCY, RETRIES,
    SUBSCRIPTIONS,
};

/// `--metrics-addr` (`watch`, `meeting`, `bridge`).
#[derive(Args)]
pub(crate) struct Telemetry {
    /// Serve Prometheus metrics at /metrics and health probes at /healthz (the process runs)
    /// and /readyz (connected, subscriptions held) on this address, e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
}

/// What the probes and the scrape read: the process's one command fills it in as it gets
/// going.
pub(crate) static HEALTH: Health = Health {
    client: OnceLock::new(),
    nats: OnceLock::new(),
    stats: OnceLock::new(),
    subscriptions: AtomicUsize::new(0),
    leases: AtomicUsize::new(0),
};

/// See [`HEALTH`].
pub(crate) struct Health {
    /// The Spaces client, once connected.
    pub(crate) client: OnceLock<Client>,
    /// The NATS client (the bridge).
    pub(crate) nats: OnceLock<async_nats::Client>,
    /// The bridge's counters.
    pub(crate) stats: OnceLock<Arc<Stats>>,
    /// Spaces subscribed now.
    pub(crate) subscriptions: AtomicUsize,
    /// Spaces this bridge holds a lease on now.
    pub(crate) leases: AtomicUsize,
}

impl Health {
    /// What is not ready (nothing: ready).
    fn unready(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if !self
            .client
            .get()
            .is_some_and(|c| matches!(c.state(), ConnectionState::Connected))
        {
            missing.push("not connected to Spaces");
        }
        if let Some(nats) = self.nats.get()
            && nats.connection_state() != async_nats::connection::State::Connected
        {
            missing.push("not connected to NATS");
        }
        if self.subscriptions.load(Ordering::Relaxed) == 0 {
            missing.push("no subscription held");
        }
        missing
    }

    /// Sets the gauges from what they read.
    fn refresh(&self) {
        let connected = self
            .unready()
            .iter()
            .all(|m| *m != "not connected to Spaces");
        gauge!(CONNECTED).set(f64::from(u8::from(connected)));
        gauge!(SUBSCRIPTIONS).set(self.subscriptions.load(Ordering::Relaxed) as f64);
        if let Some(nats) = self.nats.get() {
            let up = nats.connection_state() == async_nats::connection::State::Connected;
            gauge!(NATS_CONNECTED).set(f64::from(u8::from(up)));
            gauge!(LEASES).set(self.leases.load(Ordering::Relaxed) as f64);
        }
        if let Some(stats) = self.stats.get() {
            gauge!(IN_FLIGHT).set(stats.in_flight.load(Ordering::Relaxed) as f64);
            metrics::counter!(RETRIES).absolute(stats.retries.load(Ordering::Relaxed));
        }
    }
}

impl Telemetry {
    /// Installs the recorder and serves the endpoints, when `--metrics-addr` is given.
    ///
    /// # Errors
    /// The address cannot be bound, or a recorder was installed already.
    pub(crate) async fn start(&self) -> Result<(), String> {
        let Some(addr) = self.metrics_addr else {
            return Ok(());
        };
        // Latencies of a local pipeline: milliseconds to seconds.
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(EVENT_AGE.into()), &buckets)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(PUBLISH_LATENCY.into()), &buckets))
            .and_then(PrometheusBuilder::install_recorder)
            .map_err(|e| format!("--metrics-addr: {e}"))?;
        telemetry::enable();
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("--metrics-addr {addr}: {e}"))?;
        eprintln!("metrics at http://{addr}/metrics, probes at /healthz and /readyz");
        let router = Router::new()
            .route("/metrics", get(scrape))
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/readyz", get(ready))
            .with_state(handle);
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("warning: the metrics server stopped: {e}");
            }
        });
        Ok(())
    }
}

/// Counts the reconnections of `client` (and the gaps they make) while it runs.
pub(crate) fn count_reconnections(client: &Client) {
    if !telemetry::enabled() {
        return;
    }
    let mut states = client.state_changes();
    tokio::spawn(async move {
        while let Some(state) = states.next().await {
            if let ConnectionState::Reconnecting {
                attempt, reason, ..
            } = state
            {
                let held = HEALTH.subscriptions.load(Ordering::Relaxed);
                telemetry::reconnecting(&reason, attempt, held);
            }
        }
    });
}

async fn scrape(State(handle): State<PrometheusHandle>) -> String {
    HEALTH.refresh();
    handle.render()
}

async fn ready() -> (StatusCode, String) {
    let missing = HEALTH.unready();
    if missing.is_empty() {
        (StatusCode::OK, "ready\n".into())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", missing.join(", ")),
        )
    }
}
