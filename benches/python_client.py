"""Python clients against the loopback pusher (benches/loopback.rs), run by ``cargo xtask bench``.

    python python_client.py ours|python-socketio|python-socketio-jsonl URL COUNT

Prints {"count", "seconds" (first to last event), "latency_us": [...]}; latencies come from
events whose ``_id`` is the pusher's send time (CLOCK_MONOTONIC µs, as ``time.monotonic_ns``).
``python-socketio-jsonl`` prints each payload as a JSON line instead (as ``watch --format jsonl``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, Optional

URL_QUERY = "token=bench-token&tokenType=jwt"


class Tally:
    def __init__(self, count: int) -> None:
        self.count, self.seen = count, 0
        self.first = self.last = 0
        self.latency_us: list[int] = []
        self.done = asyncio.Event()

    def event(self, category: Any, event_id: Optional[str]) -> None:
        now = time.monotonic_ns()
        if not self.seen:
            self.first = now
        self.last, self.seen = now, self.seen + 1
        if category and event_id and event_id.isdigit():
            self.latency_us.append(now // 1000 - int(event_id))
        if self.seen == self.count:
            self.done.set()

    def report(self) -> dict[str, Any]:
        return {"count": self.seen, "seconds": (self.last - self.first) / 1e9, "latency_us": self.latency_us}


async def ours(url: str, tally: Tally) -> None:
    from spaces_events import AsyncClient

    async with AsyncClient(url, "bench-token") as client:
        async for event in await client.subscribe("space-0"):
            tally.event(event.category, event.id)
            if tally.done.is_set():
                break


async def python_socketio(url: str, tally: Tally, jsonl: bool = False) -> None:
    import socketio

    sio = socketio.AsyncClient()

    @sio.on("connect", namespace="/chat")
    async def connected() -> None:
        await sio.emit("SUBSCRIBE_CHANNEL", {"channel": {"_id": "space-0", "type": "topic"}}, namespace="/chat")

    @sio.on("MEDIA_SESSION_RESPONSE", namespace="/chat")
    async def media(payload: dict[str, Any]) -> None:
        if jsonl:
            sys.stdout.write(json.dumps(payload, separators=(",", ":")) + "\n")
        tally.event(payload.get("category"), payload.get("_id"))

    await sio.connect(f"{url.removesuffix('/chat')}?{URL_QUERY}", namespaces=["/chat"], transports=["websocket"])
    await tally.done.wait()
    await sio.disconnect()


async def main() -> None:
    client, url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tally = Tally(count)
    if client == "python-socketio-jsonl":
        await python_socketio(url, tally, jsonl=True)
        sys.stdout.flush()
        return
    await {"ours": ours, "python-socketio": python_socketio}[client](url, tally)
    print(json.dumps(tally.report()))


if __name__ == "__main__":
    asyncio.run(main())
