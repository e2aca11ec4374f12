"""``spaces-events webhook`` (the binary ``cargo test`` built) against a real HTTP server started
here (``http.server``), every request checked with the Standard Webhooks reference verifier
(PyPI ``standardwebhooks``): in order, each event once, a 503 retried under the same id, a 400
skipped after the bounded tries, a stalled receiver costing nothing; and meeting changes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from spaces_events.testing import Simulator

BIN = Path(__file__).resolve().parents[2] / "target/debug/spaces-events"
SPACE = "5f1051f0f3ed772f915e19ed"
SECRET = "whsec_" + base64.b64encode(b"a key only the two ends know").decode()


class Receiver:
    """Records what it is sent (verified), answering as ``script`` says per webhook id: a list
    of statuses for its first tries (then 200); ``stall`` seconds before the first answer."""

    def __init__(self, script: dict[str, list[int]], stall: float = 0.0) -> None:
        self.tries: list[str] = []
        self.accepted: list[tuple[str, Any]] = []
        self.unverified = 0
        self.script = script
        self.stall = stall
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server name)
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(SECRET).verify(body, headers)
                except Exception:
                    receiver.unverified += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                id_ = headers["webhook-id"]
                if receiver.stall:
                    time.sleep(receiver.stall)
                    receiver.stall = 0.0
                earlier = receiver.tries.count(id_)
                receiver.tries.append(id_)
                statuses = receiver.script.get(id_, [])
                status = statuses[earlier] if earlier < len(statuses) else 200
                if status == 200:
                    receiver.accepted.append((id_, json.loads(body)))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(ping_interval=0.3, ping_timeout=0.6) as simulator:
        yield simulator


def webhook(sim: Simulator, receiver: Receiver, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    env |= {"SPACES_TOKEN": sim.token, "SPACES_WEBHOOK_SECRET": SECRET}
    return subprocess.Popen([str(BIN), "webhook", "--url", sim.url, "--api-url", sim.api_url, "--space", SPACE,
                             "--to", receiver.url, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def test_every_event_in_order_retried_or_skipped_as_the_receiver_says(sim: Simulator) -> None:
    ids = [f"ev-{n}" for n in range(12)]
    receiver = Receiver({f"{SPACE}:ev-3": [503, 503], f"{SPACE}:ev-7": [400, 400, 400]}, stall=2.0)
    process = webhook(sim, receiver, "--max-events", str(len(ids)))
    try:
        sim.subscribed(SPACE).wait()
        for id_ in ids:
            sim.emit({"_id": id_, "topicId": SPACE, "category": "app.event.attendee.added", "content": {}})
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        receiver.close()
    assert process.returncode == 0, stderr
    assert receiver.unverified == 0
    assert [body["_id"] for _, body in receiver.accepted] == [i for i in ids if i != "ev-7"]
    assert receiver.tries.count(f"{SPACE}:ev-3") == 3, "retried under the same id"
    assert receiver.tries.count(f"{SPACE}:ev-7") == 3, "skipped after --max-refusals tries"
    text = stderr.decode()
    assert f"{SPACE}:ev-7: refused with HTTP 400 3 time(s); skipped" in text
    assert "HTTP 503 Service Unavailable; trying again in" in text


def test_meeting_changes(sim: Simulator) -> None:
    receiver = Receiver({})
    process = webhook(sim, receiver, "--changes", "--max-events", "4")
    try:
        sim.subscribed(SPACE).wait()
        sim.play_meeting(SPACE, speed=20.0).wait()
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        receiver.close()
    assert process.returncode == 0, stderr
    changes = [body["change"] for _, body in receiver.accepted]
    assert "resynced" in changes and "meeting.started" in changes, changes
    assert all(body["space"] == SPACE and "state" in body for _, body in receiver.accepted)
