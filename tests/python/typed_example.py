"""A small typed program over the public API; checked with ``mypy --strict`` by test_typing.py."""

from __future__ import annotations

import asyncio
from typing import Optional

import spaces_events
from spaces_events import AsyncClient, Category, ChangeKind, Client, MediaSessionEvent, MeetingSnapshot
from spaces_events.rest import AsyncRest, Rest
from spaces_events._types import ActiveMeeting


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


async def roster(url: str, api_url: str, space: str) -> list[str]:
    guest = await AsyncRest(api_url).anonymous_auth("Typed", "typed-1")
    async with AsyncClient(url, guest.token, api_url=api_url) as client:
        async for change in client.meeting(space):
            state: MeetingSnapshot = change["state"]
            if change["change"] == "meeting.ended" and change["source"] == "resync":
                break
            names = [a["displayname"] or a["_id"] for a in state["attendees"]]
            if state["status"] == "active":
                return names
    return []


def fold(events: list[spaces_events.MediaSessionEvent], meeting: Optional[ActiveMeeting]) -> int:
    state = spaces_events.MeetingState("s")
    kinds: list[ChangeKind] = [c["change"] for e in events for c in state.apply(e)]
    kinds += [c["change"] for c in state.resync(meeting)]
    recordings = [r["state"] for r in state.snapshot()["recordings"]]
    return len(kinds) + len(recordings) + (0 if Rest().active_meeting("s") is None else 1)


if __name__ == "__main__":
    print(describe(spaces_events.decode(b'{"category":"video.end"}')))
    asyncio.run(watch(spaces_events.PRODUCTION_URL, "t", "s"))
