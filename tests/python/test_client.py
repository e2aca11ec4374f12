"""AsyncClient and Client against the real Node socket.io 2.0.4 peer."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from peer import NodePeer, Tinyproxy, media_event

from spaces_events import (
    AsyncClient,
    AuthError,
    Category,
    Client,
    ConfigError,
    ConnectionState,
    ProxyError,
    RawEvent,
    SpacesError,
    SubscribeError,
    TransportError,
)

FAST = {"reconnect_delay": 0.1, "reconnect_delay_max": 0.5}


def test_async_events_arrive_once_in_order_across_a_drop(peer: NodePeer):
    async def main() -> list[str]:
        ids: list[str] = []
        async with AsyncClient(peer.url, "good", **FAST) as client:
            sub = await client.subscribe("space-1")
            for n in range(1, 6):
                peer.emit("space-1", media_event("space-1", n))
                peer.emit("space-1", {"category": "app.event.presence.party.online", "topicId": "space-1"},
                          event="PRESENCE_EVENT_RESPONSE")
            async for event in sub:
                ids.append(event.id or "")
                if len(ids) == 5:
                    break
            peer.command(cmd="drop")
            peer.wait_for(lambda e: e["ev"] == "subscribe", 2)
            for n in range(6, 11):
                peer.emit("space-1", media_event("space-1", n))
            async for event in sub:
                ids.append(event.id or "")
                if len(ids) == 10:
                    break
            assert client.state == "connected"
        return ids

    assert asyncio.run(main()) == [f"event-{n}" for n in range(1, 11)]


def test_async_rejected_token_and_refused_space(peer: NodePeer):
    async def main() -> None:
        with pytest.raises(AuthError) as caught:
            await AsyncClient(peer.url, "s3cret-bad-token").connect()
        assert "Not authorized" in str(caught.value) and "s3cret" not in str(caught.value) + repr(caught.value)
        async with AsyncClient(peer.url, "good") as client:
            with pytest.raises(SubscribeError) as refused:
                await client.subscribe("refused-space")
            assert (refused.value.code, refused.value.message, refused.value.space) == (
                "not.a.member", "user is not a member of the space", "refused-space")

    asyncio.run(main())


def test_async_token_provider_is_awaited_before_every_attempt(peer: NodePeer):
    calls = 0

    async def provide() -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return "good"

    async def main() -> None:
        async with AsyncClient(peer.url, "unused", token_provider=provide, **FAST) as client:
            sub = await client.subscribe("space-1")  # noqa: F841 - dropping it would unsubscribe
            peer.command(cmd="drop")
            # The provider runs on this event loop: wait without blocking it.
            await asyncio.to_thread(peer.wait_for, lambda e: e["ev"] == "subscribe", 2)

    asyncio.run(main())
    assert calls == 2


@pytest.mark.parametrize("attempt", range(20))
def test_cancelling_async_for_cancels_cleanly(peer: NodePeer, attempt: int):
    async def main() -> None:
        async with AsyncClient(peer.url, "good") as client:
            sub = await client.subscribe("space-1")

            async def consume() -> None:
                async for _ in sub:
                    pass

            task = asyncio.create_task(consume())
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The subscription still works after a cancelled read.
            peer.emit("space-1", media_event("space-1", attempt))
            event = await asyncio.wait_for(sub.__anext__(), 10)
            assert event.id == f"event-{attempt}"

    asyncio.run(main())


def test_blocking_client_across_a_drop(peer: NodePeer):
    with Client(peer.url, "good", **FAST) as client:
        sub = client.subscribe("space-1")
        peer.emit("space-1", media_event("space-1", 1))
        assert next(sub).id == "event-1"
        peer.command(cmd="drop")
        peer.wait_for(lambda e: e["ev"] == "subscribe", 2)
        peer.emit("space-1", media_event("space-1", 2))
        event = next(sub)
        assert (event.id, event.category) == ("event-2", Category.ATTENDEE_ADDED)
        client.unsubscribe("space-1")
        assert list(sub) == []
    with pytest.raises(AuthError):
        Client(peer.url, "bad").connect()
    with Client(peer.url, "good") as client, pytest.raises(SubscribeError):
        client.subscribe("refused-x")


def test_blocking_iteration_releases_the_gil(peer: NodePeer):
    with Client(peer.url, "good") as client:
        sub = client.subscribe("space-1")
        ticks = 0
        stop = threading.Event()

        def count() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                time.sleep(0.001)

        thread = threading.Thread(target=count)
        thread.start()
        emit = threading.Timer(0.5, lambda: peer.emit("space-1", media_event("space-1", 9)))
        emit.start()
        assert next(sub).id == "event-9"
        stop.set()
        thread.join()
        # The emit waits for the peer's "ok", which may come after the event: before the peer
        # stops (it failed once in a later test's setup, 20 s on, when it did not).
        emit.join()
        assert ticks > 50, "another thread ran while the client waited"


def _child(url: str, body: str) -> subprocess.Popen[str]:
    """A Python process with a live blocking client subscribed to space-1, running ``body``."""
    script = "\n".join([
        "import sys",
        "from spaces_events import Client",
        "client = Client(sys.argv[1], 'good').connect()",
        "sub = client.subscribe('space-1')",
        body,
    ])
    return subprocess.Popen([sys.executable, "-c", script, url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("attempt", range(20))
def test_ctrl_c_interrupts_the_blocking_client(peer: NodePeer, attempt: int):
    # "ready" is printed inside the try, so a signal that comes early is caught too.
    child = _child(peer.url, "try:\n    print('ready', flush=True)\n    next(sub)\n"
                             "except KeyboardInterrupt:\n    print('interrupted', flush=True)")
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)
    assert "interrupted" in out, err
    assert child.returncode == 0, err


@pytest.mark.parametrize("attempt", range(20))
def test_interpreter_exit_with_a_live_client_is_clean(peer: NodePeer, attempt: int):
    child = _child(peer.url, "pass")
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert "Fatal" not in err and "panicked" not in err, err


@pytest.mark.parametrize("attempt", range(20))
def test_async_exit_with_a_live_client_is_clean(peer: NodePeer, attempt: int):
    script = textwrap.dedent(f"""
        import asyncio
        from spaces_events import AsyncClient
        async def main():
            client = await AsyncClient({peer.url!r}, "good").connect()
            await client.subscribe("space-1")
        asyncio.run(main())
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    assert done.returncode == 0, done.stderr


def test_state_is_an_enum_and_subscriptions_close(peer: NodePeer):
    async def main() -> None:
        client = AsyncClient(peer.url, "good")
        assert client.state is ConnectionState.NEW
        async with client:
            assert client.state is ConnectionState.CONNECTED
            sub = await client.subscribe("space-1")
            await sub.aclose()
            peer.wait_for(lambda e: e["ev"] == "unsubscribe")
            assert [event async for event in sub] == []
        assert client.state is ConnectionState.CLOSED

    asyncio.run(main())
    with Client(peer.url, "good") as client:
        sub = client.subscribe("space-2")
        sub.close()
        assert list(sub) == []


def test_raw_events_and_sending(peer: NodePeer):
    async def main() -> None:
        async with AsyncClient(peer.url, "good") as client:
            raw = await client.raw_events()
            sub = await client.subscribe("space-1")  # kept: dropping it unsubscribes
            await client.send_media_session_event(
                {"category": "tracksstatus", "topicId": "space-1", "content": {"mediaSession": {"audio": True}}})
            sent = peer.wait_for(lambda e: e["ev"] == "send_media")
            assert sent["payload"]["category"] == "tracksstatus"
            peer.emit("space-1", {"online": True}, event="PRESENCE_EVENT_RESPONSE")
            async for event in raw:
                if event.name == "PRESENCE_EVENT_RESPONSE":
                    assert event == RawEvent("PRESENCE_EVENT_RESPONSE", [{"online": True}], [])
                    break
            with pytest.raises(ConfigError):
                await client.send_media_session_event({"category": 1})
            await sub.aclose()

    asyncio.run(main())
    with Client(peer.url, "good") as client:
        raw = client.raw_events()
        sub = client.subscribe("space-1")
        assert next(raw).name == "CHANNEL_SUBSCRIBED"
        sub.close()


def test_configuration_errors_are_config_errors():
    async def main() -> None:
        with pytest.raises(ConfigError, match="header"):
            await AsyncClient("ws://127.0.0.1:1/chat", "t", headers={"Origin": "a\nb"}).connect()
        with pytest.raises(ConfigError, match="URL"):
            await AsyncClient("ftp://127.0.0.1/chat", "t").connect()
        with pytest.raises(ConfigError, match="certificate"):
            await AsyncClient("ws://127.0.0.1:1/chat", "t", ca_certificate=b"junk").connect()

    asyncio.run(main())
    with pytest.raises(ConfigError, match="token_type"):
        Client("ws://127.0.0.1:1/chat", "t", token_type="basic")
    assert issubclass(ConfigError, SpacesError) and issubclass(ConfigError, ValueError)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_a_first_connection_that_fails_raises_within_connect_timeout():
    """A wrong URL fails ``connect()`` within ``connect_timeout``, naming the URL and the cause,
    never the token (it used to wait silently forever)."""
    mute = socket.socket()  # accepts TCP (the kernel's backlog) and never answers
    mute.bind(("127.0.0.1", 0))
    mute.listen(8)
    try:
        cases = [(_closed_port(), "refused"), (mute.getsockname()[1], "timed out")]
        for port, cause in cases:
            url = f"http://127.0.0.1:{port}/chat"

            async def main() -> None:
                await AsyncClient(url, "tok-SECRET-py", connect_timeout=1.0).connect()

            for attempt in (lambda: asyncio.run(main()),
                            lambda: Client(url, "tok-SECRET-py", connect_timeout=1.0).connect()):
                started = time.monotonic()
                with pytest.raises(TransportError) as caught:
                    attempt()
                text = str(caught.value)
                assert f"could not connect to ws://127.0.0.1:{port}/socket.io/" in text
                assert cause in text.lower() and "SECRET" not in text + repr(caught.value)
                assert time.monotonic() - started < 10  # bounded by connect_timeout; margin for slow machines
    finally:
        mute.close()


def test_reconnects_are_warnings_on_the_spaces_events_logger(peer: NodePeer, caplog: pytest.LogCaptureFixture):
    async def main() -> None:
        async with AsyncClient(peer.url, "good", **FAST) as client:
            sub = await client.subscribe("space-1")
            peer.command(cmd="drop")
            peer.wait_for(lambda e: e["ev"] == "subscribe", 2)
            peer.emit("space-1", media_event("space-1", 1))
            async for _ in sub:
                break

    with caplog.at_level(logging.INFO, logger="spaces_events"):
        asyncio.run(main())
    lost = [r for r in caplog.records if r.name == "spaces_events" and "connection lost" in r.getMessage()]
    assert lost and lost[0].levelno == logging.WARNING, caplog.text
    assert "retrying in" in lost[0].getMessage() and "attempt 1" in lost[0].getMessage()


def test_through_a_proxy_with_basic_auth_and_a_wrong_password(peer: NodePeer, tinyproxy: Tinyproxy):
    with Client(peer.url, "good", proxy=tinyproxy.url(("bot", "s3cret")), **FAST) as client:
        sub = client.subscribe("space-1")
        peer.emit("space-1", media_event("space-1", 1))
        assert next(iter(sub)).id == "event-1"
    assert f"CONNECT 127.0.0.1:{peer.port} HTTP/1.1" in tinyproxy.requests()

    with pytest.raises(ProxyError) as refused:
        Client(peer.url, "good", proxy=tinyproxy.url(("bot", "wrong-pass")), **FAST).connect()
    assert refused.value.proxy == tinyproxy.url()
    assert refused.value.status in (401, 407)
    assert "wrong-pass" not in str(refused.value)
    assert isinstance(refused.value, TransportError)

    # proxy=False ignores the environment's proxy (a dead one here).
    os.environ["HTTP_PROXY"] = "http://127.0.0.1:9"
    try:
        with Client(peer.url, "good", proxy=False, **FAST) as client:
            client.subscribe("space-1")
    finally:
        del os.environ["HTTP_PROXY"]
