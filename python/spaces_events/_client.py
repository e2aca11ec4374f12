"""The clients: ``AsyncClient`` (asyncio) and ``Client`` (blocking), over one Rust core."""

from __future__ import annotations

import atexit
import collections
import enum
import json
import os
import threading
import weakref
from collections.abc import Awaitable
from typing import (TYPE_CHECKING, Any, Callable, Generator, Generic, Iterable, Iterator, Literal, Mapping,
                    NamedTuple, Optional, TypeVar, Union)

if TYPE_CHECKING:
    # Imported where used instead: asyncio costs more than the rest of `import spaces_events`
    # (about 40 ms) and a blocking client never needs it; logging (about 14 ms) is needed only
    # once something is logged.
    import asyncio
    import logging

from ._category import Category
from ._errors import ConfigError
from .auth import TokenSource
from ._native import PRODUCTION_API_URL, Connection, Events, MediaSessionEvent, Pending
from ._native import PRODUCTION_URL as PRODUCTION_URL
from ._native import STAGING_URL as STAGING_URL
from ._types import MeetingChange


class ConnectionState(str, enum.Enum):
    """Where a client's connection is (``client.state``)."""

    NEW = "new"
    """Not connected yet: ``connect()`` (or ``with``/``async with``) was not called."""
    CONNECTING = "connecting"
    """The first connection attempt is under way."""
    CONNECTED = "connected"
    """The namespace accepted the connection; subscriptions are (re)sent."""
    RECONNECTING = "reconnecting"
    """The connection was lost or an attempt failed; the next attempt follows a delay."""
    CLOSED = "closed"
    """The client stopped: closed by the application, or a fatal error."""


class RawEvent(NamedTuple):
    """A server event as it arrived, for events this package does not type
    (PRESENCE_EVENT_RESPONSE, MESSAGE_SENT, …); see ``raw_events()``."""

    name: str
    """The event name."""
    args: list[Any]
    """The arguments after the name, parsed from JSON."""
    attachments: list[bytes]
    """Binary attachments (referenced by ``{"_placeholder": true, "num": N}`` in ``args``)."""

TokenProvider = Callable[[], Union[str, Awaitable[str]]]
"""Called before every connection attempt; returns the token (an async one may be awaitable)."""

Proxy = Union[str, Literal[False], None]
"""An HTTP proxy URL; ``None``: the one the environment names; ``False``: none."""

_BATCH = 256
_live: weakref.WeakSet[Connection] = weakref.WeakSet()
_threads: list[threading.Thread] = []


def _log() -> logging.Logger:
    """The ``spaces_events`` logger."""
    import logging

    return logging.getLogger("spaces_events")


@atexit.register
def _close_live_clients() -> None:
    # Close what is still open before the interpreter finalizes, and let the token threads end.
    for connection in list(_live):
        try:
            connection.close().wait()
        except BaseException:  # exiting anyway
            pass
    for thread in _threads:
        thread.join(timeout=1.0)


def _ready(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _wait(pending: Pending) -> Any:
    """Awaits a native operation: its file descriptor becomes readable when it is done."""
    if not pending.done():
        import asyncio

        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = pending.fileno()
        loop.add_reader(fd, _ready, ready)
        try:
            await ready
        finally:
            loop.remove_reader(fd)
    return pending.result()


async def _serve_tokens(connection: Connection, provider: TokenProvider) -> None:
    while await _wait(connection.next_token_request()):
        try:
            token = provider()
            if isinstance(token, Awaitable):
                token = await token
            connection.answer_token(str(token))
        except Exception as error:  # reported to the client as a token failure
            connection.answer_token(error=repr(error))


def _log_change(change: tuple[str, str]) -> None:
    level, message = change
    import logging

    _log().log(logging.getLevelName(level.upper()), "%s", message)


async def _report_states(connection: Connection) -> None:
    """Logs every state change after the first connection (a reconnect is a WARNING), so
    failures are visible without configuration."""
    while (change := await _wait(connection.next_state_change())) is not None:
        _log_change(change)


def _report_states_blocking(connection: Connection) -> None:
    while (change := connection.next_state_change().wait()) is not None:
        _log_change(change)


def _start_thread(target: Callable[..., None], *args: Any) -> None:
    thread = threading.Thread(target=target, args=args, name=f"spaces-events-{target.__name__}", daemon=True)
    _threads.append(thread)
    thread.start()


def _serve_tokens_blocking(connection: Connection, provider: TokenProvider) -> None:
    while connection.next_token_request().wait():
        try:
            token = provider()
            if isinstance(token, Awaitable):
                raise TypeError("the blocking Client needs a token_provider that returns a str")
            connection.answer_token(str(token))
        except Exception as error:
            connection.answer_token(error=repr(error))


_T = TypeVar("_T")


def _raw(batch: list[tuple[str, list[str], list[bytes]]]) -> list[RawEvent]:
    return [RawEvent(name, [json.loads(arg) for arg in args], attachments) for name, args, attachments in batch]


def _changes(batch: list[str]) -> list[MeetingChange]:
    return [json.loads(change) for change in batch]


class _Batches(Generic[_T]):
    """Events taken from the native side a batch at a time. A wait that is interrupted
    (cancelled, Ctrl-C) keeps its batch for the next call: no event is lost. ``None`` in a batch
    marks a gap: the subscription was renewed after a drop, and what the server sent meanwhile
    was missed."""

    def __init__(self, events: Events, connection: Connection,
                 convert: Optional[Callable[[Any], list[_T]]] = None) -> None:
        self._events = events
        self._connection = connection
        self._convert = convert
        self._buffer: collections.deque[Optional[_T]] = collections.deque()
        self._pending: Optional[Pending] = None
        self._gaps = 0

    def _next_pending(self) -> Pending:
        self._pending = self._pending or self._events.next_batch(_BATCH)
        return self._pending

    def _take(self, batch: Any) -> bool:
        """Stores a batch that arrived; ``False`` when it is the empty one that ends the stream."""
        self._pending = None
        items = self._convert(batch) if self._convert else batch
        self._buffer.extend(items)
        return bool(items)

    def _pop(self) -> Optional[_T]:
        """The next item waiting, counting the gaps on the way; ``None`` if none waits."""
        while self._buffer:
            item = self._buffer.popleft()
            if item is not None:
                return item
            self._gaps += 1
            _log().warning("space %s re-subscribed after the connection dropped: events sent meanwhile "
                           "were missed (gap %d)", self._events.space, self._gaps)
        return None


_H = TypeVar("_H", bound=Callable[[MediaSessionEvent], Any])
"""A handler: a function (sync or async) of one event."""


class _Handler(NamedTuple):
    function: Callable[[MediaSessionEvent], Any]
    categories: frozenset[Category]
    names: frozenset[str]
    space: Optional[str]

    def matches(self, space: str, event: MediaSessionEvent) -> bool:
        return (self.space in (None, space)
                and (event.category in self.categories or event.category_name in self.names))


async def _dispatch(subscription: AsyncSubscription, handlers: list[_Handler], stop_on_error: bool) -> None:
    """Calls the matching handlers for each event in turn, in order: an async handler is awaited
    before the next event (and a slow one holds the subscription back, as a slow loop would)."""
    async for event in subscription:
        for handler in handlers:
            if not handler.matches(subscription.space, event):
                continue
            try:
                result = handler.function(event)
                if isinstance(result, Awaitable):
                    await result
            except Exception:
                if stop_on_error:
                    raise
                _log().exception("handler %s failed on %s event %s in %s", handler.function.__qualname__,
                               event.category_name, event.id, subscription.space)


async def _run(connection: Connection, handlers: list[_Handler], spaces: tuple[str, ...],
               stop_on_error: bool) -> None:
    wanted = list(dict.fromkeys([*spaces, *(h.space for h in handlers if h.space is not None)]))
    if not wanted:
        raise ConfigError("run() has no space to subscribe to: name one (run(space_id)) or give a handler one "
                          "(@client.on(category, space=space_id))")
    if not handlers:
        raise ConfigError("run() has no handler: register one with @client.on(category)")
    import asyncio

    subscriptions = [AsyncSubscription(await _wait(connection.subscribe(space)), connection) for space in wanted]
    tasks = [asyncio.ensure_future(_dispatch(s, handlers, stop_on_error)) for s in subscriptions]
    try:
        await asyncio.gather(*tasks)
    except BaseException as error:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if isinstance(error, Exception):
            # A failed handler (with stop_on_error) or a fatal client error: the client ends.
            await _wait(connection.close())
        raise


class _ClientBase:
    """What ``AsyncClient`` and ``Client`` share: options, the native connection, the state,
    the handlers."""

    def __init__(
        self,
        url: str,
        token: str = "",
        token_type: str = "jwt",
        *,
        token_provider: Union[TokenProvider, TokenSource, None] = None,
        reconnect: bool = True,
        reconnect_delay: float = 1.0,
        reconnect_delay_max: float = 5.0,
        reconnect_attempts: Optional[int] = None,
        heartbeat_deadline: Optional[float] = None,
        connect_timeout: float = 20.0,
        subscribe_timeout: float = 20.0,
        headers: Optional[Mapping[str, str]] = None,
        buffer: int = 1024,
        token_in_connect: bool = True,
        ca_certificate: Optional[bytes] = None,
        ca_file: Optional[Union[str, "os.PathLike[str]"]] = None,
        api_url: str = PRODUCTION_API_URL,
        proxy: Proxy = None,
    ) -> None:
        """Configures a client; nothing connects until ``connect()`` (or ``with``/``async with``).

        - ``url``: ``wss://``, ``ws://``, ``https://`` or ``http://``; its path is the namespace
          (``/chat`` if none). ``PRODUCTION_URL`` and ``STAGING_URL`` are provided.
        - ``token``: a Spaces JWT, or an OAuth2 access token with ``token_type="oauth"``. Never logged.
        - ``token_type``: ``"jwt"`` (default) or ``"oauth"``; anything else raises ``ConfigError``.
        - ``token_provider``: a source of ``spaces_events.auth`` (``TokenFile``, ``TokenCommand``,
          ``OAuth2``: run by the Rust client, asked again with the refused token on a refusal), or
          a callable called before every connection attempt (for ``AsyncClient`` it may be async;
          for ``Client`` it must return a ``str``); replaces ``token``.
        - ``reconnect``: reconnect after a lost connection (default ``True``).
        - ``reconnect_delay``, ``reconnect_delay_max``: backoff in seconds, doubling from the first to
          the second, with jitter (1.0 and 5.0, as socket.io-client).
        - ``reconnect_attempts``: give up after this many failed attempts in a row (``None``: never).
        - ``heartbeat_deadline``: seconds without any frame after a ping before the link counts as
          dead (default and upper bound: the server's ``pingTimeout``).
        - ``connect_timeout``: seconds the first connection may take, retries included, before
          ``connect()`` raises ``TransportError`` naming the URL and the cause (20.0).
        - ``subscribe_timeout``: seconds the server may take to answer a subscription (20.0).
        - ``headers``: extra handshake headers, e.g. ``{"Origin": "https://spaces.avayacloud.com"}``;
          an invalid one raises ``ConfigError`` from ``connect()``.
        - ``buffer``: events held per subscription (1024). When one is full the client stops reading
          the socket until there is room: nothing is dropped, heartbeats go on.
        - ``token_in_connect``: also send the token in the namespace CONNECT packet, as
          socket.io-client 2.x does (default ``True``); servers that keep the query in the namespace
          name (socketioxide) need ``False``.
        - ``ca_certificate``: PEM bytes of an extra certificate authority to trust for ``wss://``
          (and the REST API's ``https://``; e.g. a test CA); an invalid one raises ``ConfigError``.
        - ``ca_file``: the same from a PEM file (a private CA, a TLS-inspecting proxy's).
        - ``api_url``: the REST API ``meeting()`` resyncs from (production by default), called
          with the same token or ``token_provider``.
        - ``proxy``: an HTTP proxy for the socket (a ``CONNECT`` tunnel, Basic auth from the URL)
          and the REST API, ``http://[user:password@]host:port``; ``None`` (default) reads
          ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``; ``False`` connects directly. ``NO_PROXY``
          applies to both. A proxy that refuses raises ``ProxyError``.
        """
        self._url = url
        source = token_provider if isinstance(token_provider, TokenSource) else None
        self._provider = None if source is not None else token_provider
        self._handlers: list[_Handler] = []
        if ca_file is not None:
            with open(ca_file, "rb") as pem:
                ca_certificate = (ca_certificate or b"") + b"\n" + pem.read()
        self._connection = Connection(url, token, {
            "token_type": token_type,
            "token_provider": self._provider is not None,
            "credentials": None if source is None else source._native,
            "reconnect": reconnect,
            "reconnect_delay": reconnect_delay,
            "reconnect_delay_max": reconnect_delay_max,
            "reconnect_attempts": reconnect_attempts,
            "heartbeat_deadline": heartbeat_deadline,
            "connect_timeout": connect_timeout,
            "subscribe_timeout": subscribe_timeout,
            "headers": list((headers or {}).items()),
            "buffer": buffer,
            "token_in_connect": token_in_connect,
            "ca_certificate": ca_certificate,
            "api_url": api_url,
            "proxy": proxy or None,
            "no_proxy": proxy is False,
        })

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r}, state={self.state!r})"

    @property
    def state(self) -> ConnectionState:
        """Where the connection is."""
        return ConnectionState(self._connection.state)

    def on(self, category: Union[Category, str, Iterable[Union[Category, str]]],
           space: Optional[str] = None) -> Callable[[_H], _H]:
        """Registers the decorated function (sync or async, taking the event) as a handler of
        ``category`` — a ``Category``, a category string such as ``"tracksstatus"``, or several —
        in ``space``, or in every space ``run()`` subscribes to when ``None``::

            @client.on(Category.ATTENDEE_ADDED, space=SPACE_ID)
            async def joined(event: MediaSessionEvent) -> None: ...

        ``run()`` calls it; an exception it raises is logged with its traceback (logger
        ``spaces_events``) unless ``run(stop_on_error=True)``.
        """
        given = [category] if isinstance(category, (str, Category)) else list(category)
        categories = frozenset(c for c in given if isinstance(c, Category))
        names = frozenset(c for c in given if not isinstance(c, Category))

        def register(function: _H) -> _H:
            self._handlers.append(_Handler(function, categories, names, space))
            return function

        return register

    def _starting(self) -> bool:
        """Whether ``connect`` has work to do; registers the connection for closing at exit."""
        if self._connection.state != ConnectionState.NEW:
            return False
        _live.add(self._connection)
        return True


class _AsyncBatches(_Batches[_T]):
    """``async for`` over batches."""

    def __aiter__(self) -> _AsyncBatches[_T]:
        return self

    async def __anext__(self) -> _T:
        # One await per batch of events, not per event.
        while (item := self._pop()) is None:
            import asyncio

            try:
                batch = await _wait(self._next_pending())
            except asyncio.CancelledError:
                raise
            except BaseException:
                self._pending = None
                raise
            if not self._take(batch):
                raise StopAsyncIteration
        return item


class AsyncSubscription(_AsyncBatches[MediaSessionEvent]):
    """A space's events: ``async for event in subscription``. Ends when unsubscribed or closed;
    raises ``AuthError``/``TransportError`` when the client stops on a fatal error. Payloads
    that do not decode are logged (logger ``spaces_events``) and skipped. A re-subscription
    after a drop is a gap (``gaps``, and a warning on the logger)."""

    @property
    def space(self) -> str:
        """The space id."""
        return self._events.space

    @property
    def gaps(self) -> int:
        """Re-subscriptions after a dropped connection so far, counted where they happened in the
        stream: events the server sent in each gap were missed (Socket.IO 2 has no replay). State
        kept from events needs a resync then, as ``client.meeting()`` does."""
        return self._gaps

    def __aiter__(self) -> AsyncSubscription:
        return self

    async def aclose(self) -> None:
        """Unsubscribes the space (UNSUBSCRIBE_CHANNEL); the iteration then ends."""
        await _wait(self._connection.unsubscribe(self.space))


class AsyncMeeting:
    """A space's meeting, live: ``async for change in client.meeting(space)``. Each change (a
    ``MeetingChange`` dict: ``change``, ``source``, ``subject``, ``state``) comes with the state
    after it. A failed resync is logged (logger ``spaces_events``) and retried. It subscribes at
    the first iteration; ``await client.meeting(space)`` subscribes at once instead (so a
    ``SubscribeError`` comes there)."""

    def __init__(self, connection: Connection, space: str) -> None:
        self._connection = connection
        self._space = space
        self._changes: Optional[_AsyncBatches[MeetingChange]] = None

    @property
    def space(self) -> str:
        """The space id."""
        return self._space

    async def _started(self) -> _AsyncBatches[MeetingChange]:
        if self._changes is None:
            events = await _wait(self._connection.meeting(self._space))
            self._changes = _AsyncBatches(events, self._connection, _changes)
        return self._changes

    def __await__(self) -> Generator[Any, None, AsyncMeeting]:
        async def started() -> AsyncMeeting:
            await self._started()
            return self

        return started().__await__()

    def __aiter__(self) -> AsyncMeeting:
        return self

    async def __anext__(self) -> MeetingChange:
        changes = await self._started()
        return await changes.__anext__()


class AsyncRawEvents(_AsyncBatches[RawEvent]):
    """Every server event, untyped: ``async for event in await client.raw_events()``. Ends
    when the client closes."""

    def __aiter__(self) -> AsyncRawEvents:
        return self


class AsyncClient(_ClientBase):
    """Subscribes to Spaces media-session events, with asyncio.

    ``url`` is a ``wss://``, ``ws://``, ``https://`` or ``http://`` URL whose path is the
    namespace (``/chat`` if none). Reconnects and re-subscribes by itself (backoff from
    ``reconnect_delay`` doubling to ``reconnect_delay_max`` seconds, with jitter); a
    ``token_provider`` (sync or async) is called before every attempt to refresh the token.
    """

    _tokens: Optional[asyncio.Task[None]] = None
    _states: Optional[asyncio.Task[None]] = None

    async def connect(self) -> AsyncClient:
        """Connects; done by ``async with``. Raises ``AuthError`` if the token is rejected."""
        if self._starting():
            import asyncio

            if self._provider is not None:
                self._tokens = asyncio.get_running_loop().create_task(
                    _serve_tokens(self._connection, self._provider))
            await _wait(self._connection.connect())
            self._states = asyncio.get_running_loop().create_task(_report_states(self._connection))
        return self

    async def subscribe(self, space_id: str) -> AsyncSubscription:
        """Subscribes to a space; raises ``SubscribeError`` (``.code``, ``.message``) if refused."""
        return AsyncSubscription(await _wait(self._connection.subscribe(space_id)), self._connection)

    async def unsubscribe(self, space_id: str) -> None:
        """Stops a space's events; its subscription ends."""
        await _wait(self._connection.unsubscribe(space_id))

    def meeting(self, space_id: str) -> AsyncMeeting:
        """Follows a space's meeting: ``async for change in client.meeting(space_id)``. Its
        events are folded into a ``MeetingState``, resynced from the REST API (``api_url``) once
        subscribed and after every re-subscription, so the state is right after drops; changes
        found by a resync have ``source == "resync"``. ``SubscribeError`` if the subscription is
        refused (at the first iteration, or at ``await client.meeting(space_id)``)."""
        return AsyncMeeting(self._connection, space_id)

    async def raw_events(self) -> AsyncRawEvents:
        """Every server event on the namespace from now on, untyped (MEDIA_SESSION_RESPONSE
        included). Buffered like a subscription: a full buffer pauses reading."""
        return AsyncRawEvents(await _wait(self._connection.raw_events()), self._connection, _raw)

    async def send_media_session_event(self, payload: Mapping[str, Any]) -> None:
        """Sends SEND_MEDIA_SESSION_EVENTS (e.g. a ``tracksstatus``); waits for the connection
        if needed and returns once written. Raises ``ConfigError`` for a payload that is not
        one (``schema/subscription.schema.json``)."""
        await _wait(self._connection.send_media_session_event(json.dumps(payload)))

    async def run(self, *spaces: str, stop_on_error: bool = False) -> None:
        """Connects if needed, subscribes to ``spaces`` and to every space a handler names, and
        calls the handlers (``on``) for each event, in order, until the client is closed (by a
        handler, another task or a signal). A handler's exception is logged and the next event
        comes; with ``stop_on_error`` it closes the client and ``run`` raises it. A fatal client
        error (``AuthError``…) is raised. ``ConfigError`` when there is no space or no handler."""
        await self.connect()
        await _run(self._connection, self._handlers, spaces, stop_on_error)

    async def close(self) -> None:
        """Leaves the namespace and closes the connection; subscriptions end."""
        await _wait(self._connection.close())
        for task in (self._tokens, self._states):
            if task is not None:
                await task

    async def __aenter__(self) -> AsyncClient:
        return await self.connect()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _BlockingBatches(_Batches[_T]):
    """``for`` over batches, waiting without the GIL."""

    def __iter__(self) -> Iterator[_T]:
        return self

    def __next__(self) -> _T:
        while (item := self._pop()) is None:
            try:
                batch = self._next_pending().wait()
            except KeyboardInterrupt:
                raise
            except BaseException:
                self._pending = None
                raise
            if not self._take(batch):
                raise StopIteration
        return item


class Subscription(_BlockingBatches[MediaSessionEvent]):
    """A space's events: ``for event in subscription`` blocks without holding the GIL; Ctrl-C
    interrupts it. Otherwise like ``AsyncSubscription``."""

    @property
    def space(self) -> str:
        """The space id."""
        return self._events.space

    @property
    def gaps(self) -> int:
        """Re-subscriptions after a dropped connection so far; see ``AsyncSubscription.gaps``."""
        return self._gaps

    def close(self) -> None:
        """Unsubscribes the space (UNSUBSCRIBE_CHANNEL); the iteration then ends."""
        self._connection.unsubscribe(self.space).wait()


class Meeting(_BlockingBatches[MeetingChange]):
    """A space's meeting, live: ``for change in client.meeting(space)``; see ``AsyncMeeting``."""

    @property
    def space(self) -> str:
        """The space id."""
        return self._events.space


class RawEvents(_BlockingBatches[RawEvent]):
    """Every server event, untyped: ``for event in client.raw_events()``."""


class Client(_ClientBase):
    """The blocking twin of ``AsyncClient``: ``with Client(url, token) as client:`` and
    ``for event in client.subscribe(space_id):``. Same options; a ``token_provider`` must return a ``str``."""

    def connect(self) -> Client:
        """Connects; done by ``with``. Raises ``AuthError`` if the token is rejected."""
        if self._starting():
            if self._provider is not None:
                _start_thread(_serve_tokens_blocking, self._connection, self._provider)
            self._connection.connect().wait()
            _start_thread(_report_states_blocking, self._connection)
        return self

    def subscribe(self, space_id: str) -> Subscription:
        """Subscribes to a space; raises ``SubscribeError`` (``.code``, ``.message``) if refused."""
        return Subscription(self._connection.subscribe(space_id).wait(), self._connection)

    def unsubscribe(self, space_id: str) -> None:
        """Stops a space's events; its subscription ends."""
        self._connection.unsubscribe(space_id).wait()

    def meeting(self, space_id: str) -> Meeting:
        """Follows a space's meeting; see ``AsyncClient.meeting``."""
        return Meeting(self._connection.meeting(space_id).wait(), self._connection, _changes)

    def raw_events(self) -> RawEvents:
        """Every server event on the namespace from now on, untyped; see ``AsyncClient``."""
        return RawEvents(self._connection.raw_events().wait(), self._connection, _raw)

    def send_media_session_event(self, payload: Mapping[str, Any]) -> None:
        """Sends SEND_MEDIA_SESSION_EVENTS; see ``AsyncClient``."""
        self._connection.send_media_session_event(json.dumps(payload)).wait()

    def run(self, *spaces: str, stop_on_error: bool = False) -> None:
        """Blocks, calling the handlers for each event until the client is closed; see
        ``AsyncClient.run``. Handlers run on this thread, in an event loop of this call (so an
        async handler works too); Ctrl-C interrupts."""
        import asyncio

        self.connect()
        asyncio.run(_run(self._connection, self._handlers, spaces, stop_on_error))

    def close(self) -> None:
        """Leaves the namespace and closes the connection; subscriptions end."""
        self._connection.close().wait()

    def __enter__(self) -> Client:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()
