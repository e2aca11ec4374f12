"""The offline test kit as a user sees it: this file uses only the ``spaces_sim`` fixture (from the
pytest plugin the installed package registers) and the public API. The bot under test counts
who is in a space's meeting."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest

from spaces_events import AsyncClient, AuthError, Category, Client, MediaSessionEvent
from spaces_events.testing import DEMO_SPACE, Simulator


class Counter:
    """The bot: who is in the meeting now, and how many ever joined."""

    def __init__(self, client: AsyncClient | Client, space: str) -> None:
        self.present: set[str] = set()
        self.joined = 0
        client.on(Category.ATTENDEE_ADDED, space)(self.added)
        client.on(Category.ATTENDEE_LEFT, space)(self.left)

    def added(self, event: MediaSessionEvent) -> None:
        attendee = event.content.attendee if event.content else None
        if attendee is not None and attendee.id is not None:
            self.present.add(attendee.id)
            self.joined += 1

    def left(self, event: MediaSessionEvent) -> None:
        attendee = event.content.attendee if event.content else None
        if attendee is not None:
            self.present.discard(attendee.id or "")


def attendee(category: str, who: str, n: int) -> dict[str, object]:
    return {"_id": f"event-{n}", "category": category, "topicId": DEMO_SPACE,
            "content": {"attendee": {"_id": who, "displayname": who.title()}}}


def client_for(sim: Simulator) -> AsyncClient:
    return AsyncClient(sim.url, sim.token, reconnect_delay=0.05, reconnect_delay_max=0.2)


async def until_meeting_ended(client: AsyncClient, bot: Counter) -> Counter:
    client.on(Category.MEETING_ENDED)(lambda _: asyncio.ensure_future(client.close()))
    await client.run(DEMO_SPACE)
    return bot


def test_the_built_in_meeting(spaces_sim: Simulator) -> None:
    async def main() -> Counter:
        async with client_for(spaces_sim) as client:
            run = asyncio.ensure_future(until_meeting_ended(client, Counter(client, DEMO_SPACE)))
            await spaces_sim.subscribed(DEMO_SPACE)
            await spaces_sim.play_meeting(speed=50)
            return await run

    bot = asyncio.run(main())
    # Bob and the phone joined Ann's meeting and both left; Ann was there from the start.
    assert (bot.joined, bot.present) == (2, set())


def test_a_drop_mid_meeting(spaces_sim: Simulator) -> None:
    async def main() -> Counter:
        async with client_for(spaces_sim) as client:
            bot = Counter(client, DEMO_SPACE)
            run = asyncio.ensure_future(until_meeting_ended(client, bot))
            await spaces_sim.subscribed(DEMO_SPACE)
            spaces_sim.emit(attendee("app.event.attendee.added", "ann", 1))
            while not bot.present:  # what is in flight when a link drops is lost, as on a real network
                await asyncio.sleep(0.01)
            spaces_sim.drop_connections()
            await spaces_sim.subscribed(DEMO_SPACE, 2)
            spaces_sim.emit(attendee("app.event.attendee.added", "bob", 2))
            spaces_sim.emit({"category": "app.event.meeting.ended", "topicId": DEMO_SPACE})
            return await run

    bot = asyncio.run(main())
    assert bot.present == {"ann", "bob"}
    assert spaces_sim.connections == 2


def test_a_replayed_recording(spaces_sim: Simulator, tmp_path: Path) -> None:
    recording = tmp_path / "meeting.jsonl"  # as `spaces-events record` writes it
    lines = [attendee("app.event.attendee.added", "ann", 1), attendee("app.event.attendee.added", "bob", 2),
             attendee("app.event.attendee.left", "ann", 3),
             {"category": "app.event.meeting.ended", "topicId": DEMO_SPACE}]
    recording.write_text("".join(json.dumps({"at_ms": 10 * i, "payload": p}) + "\n" for i, p in enumerate(lines)))

    def run_bot(client: Client, bot: Counter) -> None:
        client.on(Category.MEETING_ENDED)(lambda _: client.close())
        client.run(DEMO_SPACE)

    with Client(spaces_sim.url, spaces_sim.token) as client:
        bot = Counter(client, DEMO_SPACE)
        thread = threading.Thread(target=run_bot, args=(client, bot))
        thread.start()
        spaces_sim.subscribed(DEMO_SPACE).wait()
        spaces_sim.replay(recording, speed=10).wait()
        thread.join()
    assert (bot.joined, bot.present) == (2, {"bob"})


def test_a_rejected_token(spaces_sim: Simulator) -> None:
    spaces_sim.set_tokens([])

    async def main() -> None:
        client = client_for(spaces_sim)
        Counter(client, DEMO_SPACE)
        await client.run(DEMO_SPACE)

    with pytest.raises(AuthError):
        asyncio.run(main())
    assert spaces_sim.rejections == 1
