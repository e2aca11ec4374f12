"""``--metrics-addr`` of the ``spaces-events`` binary (as ``cargo test`` built it), scraped and
parsed with prometheus_client's own text parser: the counters equal what the simulator sent,
for ``watch`` and for ``bridge`` into a real nats-server; ``/healthz`` and ``/readyz``."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from spaces_events.testing import Simulator

BIN = Path(__file__).resolve().parents[2] / "target/debug/spaces-events"
SPACE = "5f1051f0f3ed772f915e19ed"
CATEGORIES = ["app.event.attendee.added"] * 4 + ["app.event.attendee.left"] * 2 + ["tracksstatus"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def samples(port: int) -> list[Sample]:
    status, text = get(port, "/metrics")
    assert status == 200
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in found if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "never came"
        time.sleep(0.05)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


def run(sim: Simulator, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"} | {"SPACES_TOKEN": sim.token}
    process = subprocess.Popen([str(BIN), *args, "--url", sim.url, "--api-url", sim.api_url, "--space", SPACE,
                                "--metrics-addr", f"127.0.0.1:{port}"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    until(lambda: _listening(port))
    return process, port


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def send(sim: Simulator) -> None:
    sim.subscribed(SPACE).wait()
    for n, category in enumerate(CATEGORIES):
        sim.emit({"_id": f"ev-{n}", "topicId": SPACE, "category": category,
                  "modified": "2026-12-06T10:00:00.000Z", "content": {}})


def test_watch_counts_what_was_sent_and_says_when_it_is_ready(sim: Simulator) -> None:
    process, port = run(sim, "watch", "--format", "jsonl")
    try:
        assert get(port, "/healthz")[0] == 200
        send(sim)
        until(lambda: value(samples(port), "spaces_events_received_total") == len(CATEGORIES))
        found = samples(port)
        for category, count in Counter(CATEGORIES).items():
            assert value(found, "spaces_events_received_total", space=SPACE, category=category) == count
        assert value(found, "spaces_subscriptions") == 1
        assert value(found, "spaces_connected") == 1
        assert value(found, "spaces_event_age_seconds_count") == len(CATEGORIES)
        assert get(port, "/readyz") == (200, "ready\n")
        # Spaces away: not ready (but alive), then ready again; the reconnection and the gap
        # are counted.
        sim.away(2.0)
        until(lambda: get(port, "/readyz")[0] == 503)
        assert "not connected to Spaces" in get(port, "/readyz")[1]
        assert get(port, "/healthz")[0] == 200
        until(lambda: get(port, "/readyz")[0] == 200)
        found = samples(port)
        assert value(found, "spaces_reconnects_total") >= 1
        assert value(found, "spaces_gaps_total") == 1
    finally:
        process.terminate()
        process.wait()


def test_bridge_counts_what_the_stream_acknowledged(sim: Simulator, nats_url: str) -> None:
    process, port = run(sim, "bridge", "--nats", nats_url)
    try:
        send(sim)
        until(lambda: value(samples(port), "spaces_bridge_events_acknowledged_total") == len(CATEGORIES))
        found = samples(port)
        assert value(found, "spaces_events_received_total", space=SPACE) == len(CATEGORIES)
        assert value(found, "spaces_bridge_events_published_total") == len(CATEGORIES)
        assert value(found, "spaces_bridge_duplicates_total") == 0
        assert value(found, "spaces_bridge_publish_latency_seconds_count") == len(CATEGORIES)
        assert value(found, "spaces_bridge_publish_in_flight") == 0
        assert value(found, "spaces_nats_connected") == 1
        assert value(found, "spaces_resyncs_total") >= 1
        assert get(port, "/readyz") == (200, "ready\n")
    finally:
        process.terminate()
        process.wait()
