"""A small typed program over the public API; checked with ``mypy --strict`` by test_typing.py."""

from __future__ import annotations

import asyncio
from typing import Optional

import spaces_events
from spaces_events import AsyncClient, Category, Client, MediaSessionEvent


def describe(event: MediaSessionEvent) -> str:
    who: Optional[str] = None
    if event.content is not None and event.content.attendee is not None:
        who = event.content.attendee.displayname
    start = event.content.start_time if event.content else None
    when = start if isinstance(start, str) else str(start)
    match event.category:
        case Category.ATTENDEE_ADDED:
            return f"{who} joined at {when}"
        case Category.UNKNOWN:
            return f"unknown: {event.category_name}"
        case _:
            return event.category_name


async def watch(url: str, token: str, space: str) -> int:
    seen = 0
    async with AsyncClient(url, token, token_type="oauth", headers={"Origin": "https://spaces.avayacloud.com"}) as client:
        async for event in await client.subscribe(space):
            print(describe(event), event.to_dict()["category"])
            seen += 1
    return seen


def watch_blocking(url: str, token: str, space: str) -> list[str]:
    with Client(url, token, token_provider=lambda: token) as client:
        return [describe(e) for e in client.subscribe(space)]


if __name__ == "__main__":
    print(describe(spaces_events.decode(b'{"category":"video.end"}')))
    asyncio.run(watch(spaces_events.PRODUCTION_URL, "t", "s"))
