"""``client.on`` handlers and ``run()``: dispatch by category and space, sync and async handlers,
a failing handler, and ``run()`` ending when the client closes."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from spaces_events import AsyncClient, Category, Client, ConfigError, ConnectionState, MediaSessionEvent
from spaces_events.testing import Simulator


def event(space: str, category: str, n: int) -> dict[str, object]:
    return {"_id": f"{space}-{n}", "category": category, "topicId": space}


def ids(events: list[MediaSessionEvent]) -> list[str | None]:
    return [e.id for e in events]


async def subscribed(sim: Simulator, *spaces: str) -> None:
    for space in spaces:
        await sim.subscribed(space)


def test_dispatch_by_category_and_space_to_sync_and_async_handlers(spaces_sim: Simulator) -> None:
    added: list[MediaSessionEvent] = []
    tracks: list[MediaSessionEvent] = []
    meeting: list[MediaSessionEvent] = []

    async def main() -> None:
        async with AsyncClient(spaces_sim.url, spaces_sim.token) as client:
            client.on(Category.ATTENDEE_ADDED)(added.append)

            @client.on("tracksstatus", space="s2")
            async def on_tracks(e: MediaSessionEvent) -> None:
                await asyncio.sleep(0)
                tracks.append(e)

            @client.on([Category.MEETING_STARTED, "app.event.meeting.ended"], space="s1")
            def on_meeting(e: MediaSessionEvent) -> None:
                meeting.append(e)

            @client.on("x.stop", space="s1")
            async def stop(_: MediaSessionEvent) -> None:
                await client.close()

            run = asyncio.ensure_future(client.run("s1"))  # s2: named by a handler
            await subscribed(spaces_sim, "s1", "s2")
            for n, (space, category) in enumerate([
                ("s1", "app.event.meeting.started"), ("s2", "app.event.meeting.started"),
                ("s1", "app.event.attendee.added"), ("s2", "app.event.attendee.added"),
                ("s1", "tracksstatus"), ("s2", "tracksstatus"), ("s2", "app.event.meeting.ended"),
                ("s1", "app.event.meeting.ended"),
            ]):
                spaces_sim.emit(event(space, category, n))
            while len(meeting) < 2:
                await asyncio.sleep(0.01)
            spaces_sim.emit(event("s1", "x.stop", 99))
            await run
            assert client.state is ConnectionState.CLOSED

    asyncio.run(main())
    assert sorted(ids(added)) == ["s1-2", "s2-3"]
    assert ids(tracks) == ["s2-5"]
    assert ids(meeting) == ["s1-0", "s1-7"]


def test_a_failing_handler_is_logged_and_the_next_event_comes(spaces_sim: Simulator,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str | None] = []

    async def main() -> None:
        async with AsyncClient(spaces_sim.url, spaces_sim.token) as client:
            @client.on("x.event")
            def fragile(e: MediaSessionEvent) -> None:
                seen.append(e.id)
                if e.id == "s-1":
                    raise KeyError("no such attendee")
                if e.id == "s-2":
                    asyncio.ensure_future(client.close())

            run = asyncio.ensure_future(client.run("s"))
            await spaces_sim.subscribed("s")
            spaces_sim.emit(event("s", "x.event", 1))
            spaces_sim.emit(event("s", "x.event", 2))
            await run

    with caplog.at_level(logging.ERROR, logger="spaces_events"):
        asyncio.run(main())
    assert seen == ["s-1", "s-2"]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "fragile failed on x.event event s-1 in s" in record.getMessage()
    assert record.exc_info is not None and "no such attendee" in str(record.exc_info[1])


def test_stop_on_error_closes_the_client_and_raises(spaces_sim: Simulator) -> None:
    async def main() -> AsyncClient:
        client = AsyncClient(spaces_sim.url, spaces_sim.token)

        @client.on("x.event")
        async def fragile(_: MediaSessionEvent) -> None:
            raise KeyError("no such attendee")

        run = asyncio.ensure_future(client.run("s", stop_on_error=True))
        await spaces_sim.subscribed("s")
        spaces_sim.emit(event("s", "x.event", 1))
        with pytest.raises(KeyError, match="no such attendee"):
            await run
        return client

    assert asyncio.run(main()).state is ConnectionState.CLOSED


def test_the_blocking_run_ends_when_the_client_is_closed_elsewhere(spaces_sim: Simulator) -> None:
    seen: list[MediaSessionEvent] = []
    with Client(spaces_sim.url, spaces_sim.token) as client:
        client.on(Category.ATTENDEE_ADDED)(seen.append)

        @client.on(Category.ATTENDEE_LEFT)
        async def left(e: MediaSessionEvent) -> None:  # an async handler in the blocking client
            seen.append(e)

        thread = threading.Thread(target=client.run, args=("s",))
        thread.start()
        spaces_sim.subscribed("s").wait()
        spaces_sim.emit(event("s", "app.event.attendee.added", 1))
        spaces_sim.emit(event("s", "app.event.attendee.left", 2))
        while len(seen) < 2:
            thread.join(0.01)
        client.close()
        thread.join(10)
        assert not thread.is_alive()
    assert ids(seen) == ["s-1", "s-2"]


def test_run_needs_a_space_and_a_handler(spaces_sim: Simulator) -> None:
    with Client(spaces_sim.url, spaces_sim.token) as client:
        with pytest.raises(ConfigError, match="no handler"):
            client.run("s")
        client.on(Category.ATTENDEE_ADDED)(print)
        with pytest.raises(ConfigError, match="no space"):
            client.run()
