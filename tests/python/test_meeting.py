"""The live meeting state, the gap signal and the REST client, against the simulator (its socket
and its REST API). The tests that follow a meeting take ``named_sim``: they run under every
reading of how Spaces names meetings."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

import spaces_events
from spaces_events import AsyncClient, AuthError, Client, MeetingChange, MeetingState, TransportError
from spaces_events.rest import AsyncRest, GuestToken, Rest
from spaces_events.testing import IDENTITIES, Simulator

SPACE = "5f1051f0f3ed772f915e19ed"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "valid"


def event(n: int, category: str, content: dict[str, Any]) -> dict[str, Any]:
    return {"_id": f"ev-{n}", "messageId": "meeting-1", "topicId": SPACE, "category": category, "content": content}


def person(name: str) -> dict[str, Any]:
    return {"_id": name, "displayname": name.upper(), "type": "user"}


def in_loop(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Runs an async test in an event loop of its own."""
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))  # type: ignore[arg-type]

    return run


def test_every_fixture_folds_and_twice_changes_nothing() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        e = spaces_events.decode(path.read_bytes())
        state = MeetingState(e.topic_id or "")
        state.apply(e)
        once = state.snapshot()
        again = state.apply(e)
        if e.id is not None:
            assert again == [] and state.snapshot() == once, path.name


def test_resync_reports_what_was_missed() -> None:
    state = MeetingState(SPACE)
    state.apply(spaces_events.decode(json.dumps(event(1, "app.event.meeting.started",
                                                      {"attendees": [person("ann"), person("bob")]}))))
    truth = {"_id": "meeting-1", "content": {"attendees": [person("bob"), person("cy")]}}
    changes = state.resync(truth)
    assert [(c["change"], c["source"], c["subject"]) for c in changes] == [
        ("attendee.left", "resync", "ann"), ("attendee.joined", "resync", "cy"), ("resynced", "resync", None)]
    assert [a["_id"] for a in state.snapshot()["attendees"]] == ["bob", "cy"]
    with pytest.raises(spaces_events.ConfigError):
        state.resync("[1, 2]")


async def next_change(meeting: spaces_events.AsyncMeeting, kind: str) -> list[MeetingChange]:
    seen: list[MeetingChange] = []
    async for change in meeting:
        seen.append(change)
        if change["change"] == kind:
            return seen
    raise AssertionError(f"the meeting ended before {kind}: {seen}")


@in_loop
async def test_client_meeting_resyncs_after_a_drop(named_sim: Simulator) -> None:
    sim = named_sim
    async with AsyncClient(sim.url, sim.token, api_url=sim.api_url, reconnect_delay=0.1) as client:
        meeting = await client.meeting(SPACE)
        first = await asyncio.wait_for(next_change(meeting, "resynced"), 10)
        assert first[-1]["state"]["status"] == "none"
        sim.emit(event(1, "app.event.meeting.started", {"attendees": [person("ann")]}))
        sim.emit(event(2, "app.event.attendee.added", {"attendee": person("bob")}))
        await asyncio.wait_for(next_change(meeting, "attendee.joined"), 10)
        sim.away(0.8)
        await asyncio.sleep(0.1)  # the drop is done before the events
        sim.emit(event(3, "app.event.attendee.left", {"attendee": person("ann")}))
        sim.emit(event(4, "app.event.recording.started", {"recordings": [{"_id": "rec-1"}]}))
        resync = await asyncio.wait_for(next_change(meeting, "resynced"), 20)
        assert [(c["change"], c["source"]) for c in resync] == [
            ("attendee.left", "resync"), ("recording.started", "resync"), ("resynced", "resync")], sim.identity
        truth = sim.active_meeting(SPACE)
        assert truth is not None
        state = resync[-1]["state"]
        assert [a["_id"] for a in state["attendees"]] == [a["_id"] for a in truth["content"]["attendees"]]
        assert state["meetingId"] == truth["_id"]


@in_loop
async def test_a_roster_change_while_away_is_not_a_new_meeting(named_sim: Simulator) -> None:
    """Issue 21's drop: Ann, Bob and Cy in a recorded meeting; while away Bob leaves, Dee joins."""
    sim = named_sim
    async with AsyncClient(sim.url, sim.token, api_url=sim.api_url, reconnect_delay=0.1) as client:
        meeting = await client.meeting(SPACE)
        await asyncio.wait_for(next_change(meeting, "resynced"), 10)
        sim.emit(event(1, "app.event.meeting.started", {"startTime": "2026-12-05T10:00:00.000Z",
                                                        "attendees": [person("ann"), person("bob"), person("cy")]}))
        sim.emit(event(2, "app.event.recording.started", {"recordings": [{"_id": "rec-9f1"}]}))
        await asyncio.wait_for(next_change(meeting, "recording.started"), 10)
        sim.away(0.8)
        await asyncio.sleep(0.1)
        sim.emit(event(3, "app.event.attendee.left", {"attendee": person("bob")}))
        sim.emit(event(4, "app.event.attendee.added", {"attendee": person("dee")}))
        resync = await asyncio.wait_for(next_change(meeting, "resynced"), 20)
        assert [(c["change"], c["source"], c["subject"]) for c in resync] == [
            ("attendee.left", "resync", "bob"), ("attendee.joined", "resync", "dee"),
            ("resynced", "resync", None)], sim.identity
        assert [a["_id"] for a in resync[-1]["state"]["attendees"]] == ["ann", "cy", "dee"]


def test_blocking_meeting_follows_the_built_in_meeting(named_sim: Simulator) -> None:
    with Client(named_sim.url, named_sim.token, api_url=named_sim.api_url) as client:
        meeting = client.meeting(SPACE)
        assert next(meeting)["change"] == "resynced"
        named_sim.play_meeting(speed=50)
        kinds = []
        for change in meeting:
            kinds.append(change["change"])
            if change["change"] == "recording.ready":
                break
        assert kinds[0] == "meeting.started" and kinds.count("attendee.joined") == 2, kinds
        assert kinds.count("meeting.ended") == 1, kinds
        assert change["state"]["status"] == "inactive"
        assert change["state"]["recordings"][0]["state"] == "ready"


def test_every_reading_is_named_and_an_unknown_one_is_refused() -> None:
    assert len(IDENTITIES) == 10 and "message-per-event/no-meeting-id/doc-own" in IDENTITIES
    with pytest.raises(spaces_events.ConfigError, match="message-per-meeting/meeting-id/doc-meeting-id"):
        Simulator(identity="per-nothing")


@in_loop
async def test_a_subscription_counts_its_gaps(spaces_sim: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    async with AsyncClient(spaces_sim.url, spaces_sim.token, reconnect_delay=0.1) as client:
        subscription = await client.subscribe(SPACE)
        spaces_sim.emit(event(1, "app.event.meeting.started", {}))
        assert (await subscription.__anext__()).id == "ev-1"
        assert subscription.gaps == 0
        spaces_sim.drop_connections()
        await spaces_sim.subscribed(SPACE, 2)
        spaces_sim.emit(event(2, "app.event.meeting.ended", {}))
        with caplog.at_level(logging.WARNING, logger="spaces_events"):
            assert (await asyncio.wait_for(subscription.__anext__(), 10)).id == "ev-2"
        assert subscription.gaps == 1
        assert any("re-subscribed after the connection dropped" in r.getMessage() for r in caplog.records)


@in_loop
async def test_rest_answers_and_errors(spaces_sim: Simulator) -> None:
    rest = AsyncRest(spaces_sim.api_url, spaces_sim.token, attempts=2)
    assert await rest.active_meeting(SPACE) is None
    services = await rest.service_configurations()
    assert services["spaces"]["socketio_server_url"] + "/chat" == spaces_sim.url
    assert (await rest.join_space(SPACE))["topic"]["_id"] == SPACE
    with pytest.raises(AuthError, match="HTTP 401"):
        await AsyncRest(spaces_sim.api_url, "not-the-token").active_meeting(SPACE)
    spaces_sim.rest_fault(503)
    with pytest.raises(TransportError, match="unavailable after 2 attempt"):
        await rest.active_meeting(SPACE)
    spaces_sim.rest_fault(hang=True)
    with pytest.raises(TransportError, match="timed out"):
        Rest(spaces_sim.api_url, spaces_sim.token, timeout=0.3, attempts=1).active_meeting(SPACE)
    spaces_sim.rest_fault()
    assert Rest(spaces_sim.api_url, spaces_sim.token).active_meeting(SPACE) is None
    with pytest.raises(spaces_events.ConfigError):
        Rest("ftp://nowhere")


@in_loop
async def test_meeting_is_iterable_without_await_and_refusal_comes_at_the_first_change(spaces_sim: Simulator) -> None:
    spaces_sim.refuse_space("closed")
    async with AsyncClient(spaces_sim.url, spaces_sim.token, api_url=spaces_sim.api_url) as client:
        async for change in client.meeting(SPACE):
            assert change["change"] == "resynced"
            break
        with pytest.raises(spaces_events.SubscribeError):
            await client.meeting("closed")
        with pytest.raises(spaces_events.SubscribeError):
            async for _ in client.meeting("closed"):
                pass


@in_loop
async def test_a_guest_token_end_to_end(spaces_sim: Simulator) -> None:
    guest = await AsyncRest(spaces_sim.api_url).anonymous_auth("Py Guest", "py-guest-1")
    assert isinstance(guest, GuestToken) and guest.expires_at is not None
    assert guest.token not in repr(guest) and "redacted" in repr(guest)
    async with AsyncClient(spaces_sim.url, guest.token, api_url=spaces_sim.api_url) as client:
        meeting = await client.meeting(SPACE)
        assert (await asyncio.wait_for(meeting.__anext__(), 10))["change"] == "resynced"


@in_loop
async def test_discover_and_every_space_of_the_token(spaces_sim: Simulator) -> None:
    rest = AsyncRest(spaces_sim.api_url, spaces_sim.token)
    found = await rest.discover()
    assert (found.socket_url, found.api_url, found.flavor) == (
        spaces_sim.url.replace("http://", "ws://"), spaces_sim.api_url, None)
    spaces = [f"space-{n:03}" for n in range(230)]
    spaces_sim.set_spaces(spaces)
    listed = await rest.my_spaces()
    assert [s["_id"] for s in listed] == spaces
    assert listed[0]["title"] == "Space space-000"
    assert [s["_id"] for s in Rest(spaces_sim.api_url, spaces_sim.token).my_spaces()] == spaces
    async with AsyncClient(found.socket_url, spaces_sim.token, api_url=found.api_url) as client:
        await client.subscribe(listed[0]["_id"])
