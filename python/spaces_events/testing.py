"""An offline Spaces for testing bots: the simulator the ``spaces-events sim`` command runs,
started in-process on 127.0.0.1, and (through the pytest plugin) the ``spaces_sim`` fixture.

```pycon
>>> from spaces_events.testing import Simulator
>>> with Simulator() as sim:
...     sim.url.startswith("http://127.0.0.1:")
True

```

The simulator speaks the Spaces socket API (namespace ``/chat``, SUBSCRIBE_CHANNEL,
MEDIA_SESSION_RESPONSE) and its REST API (``sim.api_url``: guest tokens, join, the active
meeting, service configurations), accepts one token (``sim.token``) and plays nothing until
told: ``emit()`` a payload, ``play_meeting()`` the built-in meeting, ``replay()`` a recording
made with ``spaces-events record``. The active meeting follows every event emitted, whoever
was connected. Faults: ``drop_connections()``, ``away()``, ``silence()``, ``set_tokens()``,
``refuse_space()``, ``inject_frame()``, ``rest_fault()``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Generator, Iterable, Mapping, Optional, Union

from . import _native
from ._client import _wait
from ._native import MediaSessionEvent, Pending
from ._types import ActiveMeeting

__all__ = ["DEFAULT_TOKEN", "DEMO_SPACE", "IDENTITIES", "Operation", "Simulator"]

DEMO_SPACE: str = _native.DEMO_SPACE
"""The space the built-in meeting happens in (unless ``play_meeting`` is given another)."""
DEFAULT_TOKEN = "sim-token"
"""The token a ``Simulator`` accepts unless given another."""
IDENTITIES: tuple[str, ...] = tuple(_native.identities())
"""Every reading of how Spaces names meetings (undocumented) that a ``Simulator`` can play:
``messageId`` per event or per meeting, ``content.meetingId`` sent or not, and what the
active-meeting document's ``_id`` is — e.g. ``"message-per-event/no-meeting-id/doc-own"``.
Run a bot's meeting tests under each: ``@pytest.mark.parametrize("identity", IDENTITIES)``."""


class Operation:
    """A simulator operation under way (a play, a wait for a subscriber): ``await op`` in
    asyncio code, ``op.wait()`` in blocking code."""

    def __init__(self, pending: Pending) -> None:
        self._pending = pending

    def done(self) -> bool:
        """Whether it has finished."""
        return self._pending.done()

    def wait(self) -> None:
        """Blocks until it has finished (Ctrl-C interrupts); raises its error."""
        self._pending.wait()

    def __await__(self) -> Generator[Any, None, None]:
        return _wait(self._pending).__await__()


class Simulator:
    """A Spaces socket server on 127.0.0.1, started at once; ``close()`` (or leaving a ``with``
    or ``async with`` block) stops it.

    - ``token``: the token it accepts (``DEFAULT_TOKEN``).
    - ``ping_interval``, ``ping_timeout``: the heartbeat it announces, in seconds (socket.io
      2.0.4's 25 and 60); short ones make a silent link show up quickly.
    - ``identity``: how meetings are named, one of ``IDENTITIES``: every MEDIA_SESSION_RESPONSE
      it sends gets its ``messageId`` and ``content.meetingId`` that way, and the active
      meeting its ``_id``. ``None`` (the default): payloads go as given. An unknown name raises
      ``ConfigError`` listing them.
    - ``token_lifetime``: seconds every token lives — ``token``, guest tokens and OAuth2 access
      tokens (forever by default).
    - ``close_expired``: what Spaces does when a token expires on an open socket is
      undocumented; ``False`` (default) plays "nothing until the client reconnects", ``True``
      "the server closes the connection". Test under both.

    It is also an OAuth2 identity provider at ``identity_url`` (authorization code with PKCE,
    approved at once; refresh with rotation; revocation), for ``spaces-events login`` and
    ``spaces_events.auth.OAuth2``.
    """

    def __init__(self, *, token: str = DEFAULT_TOKEN, ping_interval: float = 25.0,
                 ping_timeout: float = 60.0, identity: Optional[str] = None,
                 token_lifetime: Optional[float] = None, close_expired: bool = False) -> None:
        self._sim = _native.Simulator(token, ping_interval, ping_timeout, identity, token_lifetime,
                                      close_expired)

    def __repr__(self) -> str:
        return f"Simulator(url={self.url!r})"

    @property
    def url(self) -> str:
        """The socket URL to give a client: ``http://127.0.0.1:PORT/chat``."""
        return self._sim.url

    @property
    def token(self) -> str:
        """The token it accepts (until ``set_tokens``)."""
        return self._sim.token

    @property
    def identity(self) -> Optional[str]:
        """How it names meetings (one of ``IDENTITIES``), or ``None``: payloads as given."""
        return self._sim.identity

    def emit(self, payload: Union[Mapping[str, Any], str, bytes, MediaSessionEvent],
             event: str = "MEDIA_SESSION_RESPONSE") -> None:
        """Sends ``payload`` (a dict, JSON text, or an event) as ``event`` to the subscribers of
        the space in its ``topicId``, at once. Nobody subscribed: nobody gets it."""
        if isinstance(payload, MediaSessionEvent):
            text = payload.to_json()
        elif isinstance(payload, (str, bytes)):
            text = payload.decode() if isinstance(payload, bytes) else payload
        else:
            text = json.dumps(payload)
        self._sim.emit(text, event)

    def play_meeting(self, space: str = DEMO_SPACE, *, speed: float = 1.0) -> Operation:
        """Plays the built-in meeting in ``space`` from now: it starts, three people join (one by
        phone), media changes, a recording starts and ends, people leave, the meeting ends and
        the recording becomes ready — 11 events over 2.8 s, ``speed`` times as fast."""
        return Operation(self._sim.play(None, space, speed))

    def replay(self, path: Union[str, os.PathLike[str]], *, space: Optional[str] = None,
               speed: float = 1.0) -> Operation:
        """Plays a recording (the JSONL ``spaces-events record`` writes: ``{"at_ms": …,
        "payload": {…}}`` lines) from now, ``speed`` times as fast, to the spaces it was recorded
        in, or all to ``space``. A bad line raises ``ConfigError`` naming it."""
        with open(path, encoding="utf-8") as file:
            text = file.read()
        return Operation(self._sim.play(text, space, speed))

    def subscribed(self, space: str, count: int = 1, *, timeout: float = 10.0) -> Operation:
        """Finishes once ``count`` subscriptions to ``space`` have been accepted, counting
        re-subscriptions after reconnects: emit after it and the subscriber gets the event.
        Raises ``TimeoutError`` after ``timeout`` seconds."""
        return Operation(self._sim.subscribed(space, count, timeout))

    @property
    def api_url(self) -> str:
        """``http://127.0.0.1:PORT/api``: its REST API (``AsyncClient(api_url=…)``,
        ``spaces_events.rest.Rest(sim.api_url, …)``)."""
        return self._sim.api_url

    def active_meeting(self, space: str) -> Optional[ActiveMeeting]:
        """What ``GET /api/spaces/{space}/activemeeting`` answers now: the meeting document, or
        ``None`` (404)."""
        text = self._sim.active_meeting(space)
        meeting: Optional[ActiveMeeting] = None if text is None else json.loads(text)
        return meeting

    def away(self, seconds: float) -> None:
        """Drops every client's connection and refuses new ones for ``seconds`` while the
        meeting goes on: what is emitted meanwhile is missed by the clients (and is in the
        active meeting when they are back)."""
        self._sim.away(seconds)

    def rest_fault(self, status: Optional[int] = None, *, hang: bool = False) -> None:
        """Makes every REST call answer HTTP ``status`` (e.g. 503), or never answer
        (``hang=True``); ``rest_fault()`` makes them work again."""
        self._sim.rest_fault(status or 0, hang)

    def drop_connections(self) -> None:
        """Closes every client's connection; clients see a transport close and reconnect."""
        self._sim.drop_connections()

    def silence(self, seconds: float) -> None:
        """Swallows all traffic both ways for ``seconds``: a link gone quiet, which a client
        notices by its heartbeat."""
        self._sim.silence(seconds)

    def inject_frame(self, text: str) -> None:
        """Sends ``text`` to every client as a websocket text frame, as is (e.g. a truncated
        packet, to test what a bot does with bad input)."""
        self._sim.inject_frame(text)

    def set_tokens(self, tokens: Iterable[str]) -> None:
        """Replaces the accepted tokens; none rejects every connection (as an expired token)."""
        self._sim.set_tokens(list(tokens))

    def rotate_tokens(self) -> str:
        """A new token, the only one accepted from now on (for ``token_lifetime``): every token
        accepted before is refused, and with ``close_expired`` the connections made with one
        are closed. As a secret rotated by its owner; OAuth2 refresh tokens still work."""
        return self._sim.rotate_tokens()

    def revoke(self) -> None:
        """Revokes every token and OAuth2 refresh token: the next refresh is refused
        (``invalid_grant``), as after a user removed the application's access."""
        self._sim.revoke()

    @property
    def identity_url(self) -> str:
        """The OAuth2 identity provider, ``http://127.0.0.1:PORT`` (``/oauth2/authorize``,
        ``/oauth2/access_token``, ``/oauth2/revoke_token``)."""
        return self._sim.identity_url()

    @property
    def issued_tokens(self) -> list[str]:
        """Every token issued so far (guest, rotated, OAuth2 access and refresh tokens): for a
        test that none is ever shown."""
        return self._sim.issued_tokens()

    @property
    def expired_connections(self) -> int:
        """Connections closed because their token expired (with ``close_expired``)."""
        return self._sim.expired_connections()

    def set_spaces(self, spaces: Iterable[str]) -> None:
        """The spaces ``GET /users/me/spaces`` lists from now on (``Rest.my_spaces()``), in
        order, paged by ``size`` and ``skip``."""
        self._sim.set_spaces(list(spaces))

    def refuse_space(self, space: str) -> None:
        """Refuses subscriptions to ``space`` (SUBSCRIBE_CHANNEL_FAILED ``not.a.member``)."""
        self._sim.refuse_space(space)

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        return self._sim.connections

    @property
    def subscriptions(self) -> int:
        """Subscriptions accepted so far (re-subscriptions included)."""
        return self._sim.subscriptions

    @property
    def rejections(self) -> int:
        """Connections rejected (bad token) so far."""
        return self._sim.rejections

    def close(self) -> None:
        """Stops it; clients see their connection close. Calling it again does nothing."""
        self._sim.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Simulator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
