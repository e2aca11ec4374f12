"""Reads the bridge's stream with a durable consumer (nats-py) and decodes each message with
spaces_events: what a Python recorder or dashboard past the bridges does.

    python consume.py [NATS_URL] [FILTER] [COUNT]

(default ``nats://127.0.0.1:4222``, ``spaces.>``, no end).
"""

from __future__ import annotations

import asyncio
import sys

import nats

import spaces_events


async def main(url: str, subject: str, count: int) -> None:
    connection = await nats.connect(url)
    messages = await connection.jetstream().pull_subscribe(subject, durable="py-dashboard", stream="SPACES")
    seen = 0
    while count < 0 or seen < count:
        try:
            batch = await messages.fetch(64, timeout=5)
        except nats.errors.TimeoutError:
            continue
        for message in batch:
            try:
                event = spaces_events.decode(message.data)
                who = event.content.attendee.displayname if event.content and event.content.attendee else ""
                print(event.topic_id, event.category_name, who or "")
            except spaces_events.DecodeError as error:  # not an event of ours: skipped, not redelivered
                print(f"skipped {message.subject}: {error}", file=sys.stderr)
            await message.ack()
            seen += 1
    await connection.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0] if args else "nats://127.0.0.1:4222", args[1] if len(args) > 1 else "spaces.>",
                     int(args[2]) if len(args) > 2 else -1))
