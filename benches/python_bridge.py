"""A Spaces → NATS JetStream bridge written the obvious way, run by ``cargo xtask bench`` beside
``spaces-events bridge``: python-socketio 4.6.1 subscribes, and each MEDIA_SESSION_RESPONSE is
published with nats-py, its acknowledgement awaited (the same subject and ``Nats-Msg-Id``).

    python python_bridge.py SOCKET_URL NATS_URL COUNT

Prints one line once COUNT events are acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

URL_QUERY = "token=bench-token&tokenType=jwt"


async def main() -> None:
    import nats
    import socketio

    url, nats_url, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name="SPACES", subjects=["spaces.>"])
    done, seen = asyncio.Event(), 0
    sio = socketio.AsyncClient()

    @sio.on("connect", namespace="/chat")
    async def connected() -> None:
        await sio.emit("SUBSCRIBE_CHANNEL", {"channel": {"_id": "space-0", "type": "topic"}}, namespace="/chat")

    @sio.on("MEDIA_SESSION_RESPONSE", namespace="/chat")
    async def media(payload: dict[str, Any]) -> None:
        nonlocal seen
        topic = payload.get("topicId", "")
        await js.publish(f"spaces.{topic}.{payload.get('category', '')}",
                         json.dumps(payload, separators=(",", ":")).encode(),
                         headers={"Nats-Msg-Id": f"{topic}:{payload.get('_id')}"})
        seen += 1
        if seen == count:
            done.set()

    await sio.connect(f"{url.removesuffix('/chat')}?{URL_QUERY}", namespaces=["/chat"], transports=["websocket"])
    await done.wait()
    print(f"{seen} events acknowledged", flush=True)
    await sio.disconnect()
    await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
