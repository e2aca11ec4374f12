"""The Spaces REST calls an event consumer needs: a guest token, joining a space, the active
meeting (what ``MeetingState.resync`` takes) and where the socket server is.

``AsyncRest`` (asyncio) and ``Rest`` (blocking) have the same methods, run by the Rust client:
``Authorization: jwt <token>`` (``bearer`` with ``token_type="oauth"``), a timeout per attempt,
and retries with backoff while the service is unavailable (5xx, timeouts, connection failures),
then ``TransportError``. 401/403 raise ``AuthError``; a 404 ``NotFoundError`` (but
``active_meeting`` returns ``None``: there 404 means no meeting). The token is never in an error
or a ``repr``::

    from spaces_events.rest import Rest

    guest = Rest().anonymous_auth("Bot", "bot-1")          # no account needed
    meeting = Rest(token=guest.token).active_meeting(space_id)
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple, Optional, Union

from ._client import Proxy, _wait
from ._native import PRODUCTION_API_URL, STAGING_API_URL, RestClient
from ._types import ActiveMeeting, ServiceConfigurations, Topic
from .auth import TokenSource

__all__ = ["PRODUCTION_API_URL", "STAGING_API_URL", "AsyncRest", "Endpoints", "GuestToken", "Rest"]


class GuestToken(NamedTuple):
    """A guest token (``anonymous_auth``): use ``token`` with ``token_type="jwt"``."""

    token: str
    """The JWT, valid 24 hours."""
    expires_at: Optional[float]
    """When it expires (seconds since the epoch, from the JWT's ``exp``, not verified);
    ``None`` if the token does not say."""

    def __repr__(self) -> str:
        return f"GuestToken(token=<redacted>, expires_at={self.expires_at!r})"


class Endpoints(NamedTuple):
    """Where to connect, as ``discover()`` found it."""

    socket_url: str
    """The socket URL with its namespace (``wss://…/chat``): the client's ``url``."""
    api_url: str
    """The REST API URL of the same cluster: the client's ``api_url``."""
    flavor: Optional[str]
    """The regional cluster (``flavorId``), when the address is routed to one."""


def _endpoints(text: Optional[str]) -> Endpoints:
    found = _json(text)
    return Endpoints(found["socket_url"], found["api_url"], found["flavor"])


class _RestBase:
    def __init__(self, api_url: str = PRODUCTION_API_URL, token: Optional[str] = None, token_type: str = "jwt",
                 *, timeout: float = 10.0, attempts: int = 3, ca_certificate: Optional[bytes] = None,
                 ca_file: Optional[Union[str, "os.PathLike[str]"]] = None, proxy: Proxy = None,
                 token_provider: Optional[TokenSource] = None) -> None:
        """A client of the REST API at ``api_url`` (production by default; ``STAGING_API_URL``).

        - ``token``: for every call but ``anonymous_auth``; never logged.
        - ``token_provider``: a source of ``spaces_events.auth`` instead of ``token``, asked before
          every call and again after a 401 (its token type replaces ``token_type``).
        - ``token_type``: ``"jwt"`` (default) or ``"oauth"``.
        - ``timeout``: seconds one attempt may take (10.0).
        - ``attempts``: tries while the service is unavailable (3), with backoff between them.
        - ``ca_certificate``: PEM bytes of an extra certificate authority to trust.
        - ``ca_file``: the same from a PEM file.
        - ``proxy``: an HTTP proxy URL, ``http://[user:password@]host:port``; ``None`` (default)
          reads ``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``; ``False`` calls directly.
          ``NO_PROXY`` applies to both URLs and variables.

        A bad URL, ``token_type`` or certificate raises ``ConfigError``.
        """
        self._api_url = api_url
        if ca_file is not None:
            with open(ca_file, "rb") as pem:
                ca_certificate = (ca_certificate or b"") + b"\n" + pem.read()
        credentials = None if token_provider is None else token_provider._native
        self._native = RestClient(api_url, token, token_type, timeout, attempts, ca_certificate,
                                  proxy or None, proxy is False, credentials)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_url={self._api_url!r})"


def _json(text: Optional[str]) -> Any:
    return None if text is None else json.loads(text)


def _guest(answer: tuple[str, Optional[float]]) -> GuestToken:
    return GuestToken(*answer)


class AsyncRest(_RestBase):
    """The REST client for asyncio; see the module docs."""

    async def anonymous_auth(self, displayname: str, username: str) -> GuestToken:
        """``POST /anonymous/auth``: a guest token for ``displayname``; ``username`` is any
        unique name. Needs no token."""
        return _guest(await _wait(self._native.anonymous_auth(displayname, username)))

    async def join_space(self, space_id: str, password: Optional[str] = None) -> dict[str, Any]:
        """``GET /spaces/{id}/join`` (with the space's PIN if it has one): the space and its
        settings. ``AuthError`` (403) when the PIN is missing or wrong."""
        answer: dict[str, Any] = _json(await _wait(self._native.join_space(space_id, password)))
        return answer

    async def active_meeting(self, space_id: str) -> Optional[ActiveMeeting]:
        """``GET /spaces/{id}/activemeeting``: the meeting going on, or ``None``."""
        answer: Optional[ActiveMeeting] = _json(await _wait(self._native.active_meeting(space_id)))
        return answer

    async def service_configurations(self) -> ServiceConfigurations:
        """``GET /service-configurations``: ``["spaces"]["socketio_server_url"]`` is the socket
        server."""
        answer: ServiceConfigurations = _json(await _wait(self._native.service_configurations()))
        return answer

    async def my_spaces(self) -> list[Topic]:
        """Every space (``topictype=group``) the token sees, each once, every page of
        ``GET /users/me/spaces`` (``_id`` is the id ``subscribe`` takes; all fields kept)."""
        answer: list[Topic] = _json(await _wait(self._native.my_spaces()))
        return answer

    async def discover(self, email: Optional[str] = None) -> Endpoints:
        """Where to connect: with ``email`` (the organiser of the spaces, or the bot's own
        address) the regional cluster that serves it (``GET /flavor/email/{email}``,
        ``GET /flavor``); otherwise, or when it is global, ``GET /service-configurations``."""
        return _endpoints(await _wait(self._native.discover(email)))


class Rest(_RestBase):
    """The blocking REST client (waits without the GIL; Ctrl-C interrupts); see the module docs."""

    def anonymous_auth(self, displayname: str, username: str) -> GuestToken:
        """``POST /anonymous/auth``; see ``AsyncRest``."""
        return _guest(self._native.anonymous_auth(displayname, username).wait())

    def join_space(self, space_id: str, password: Optional[str] = None) -> dict[str, Any]:
        """``GET /spaces/{id}/join``; see ``AsyncRest``."""
        answer: dict[str, Any] = _json(self._native.join_space(space_id, password).wait())
        return answer

    def active_meeting(self, space_id: str) -> Optional[ActiveMeeting]:
        """``GET /spaces/{id}/activemeeting``: the meeting going on, or ``None``."""
        answer: Optional[ActiveMeeting] = _json(self._native.active_meeting(space_id).wait())
        return answer

    def service_configurations(self) -> ServiceConfigurations:
        """``GET /service-configurations``; see ``AsyncRest``."""
        answer: ServiceConfigurations = _json(self._native.service_configurations().wait())
        return answer

    def my_spaces(self) -> list[Topic]:
        """Every space the token sees; see ``AsyncRest``."""
        answer: list[Topic] = _json(self._native.my_spaces().wait())
        return answer

    def discover(self, email: Optional[str] = None) -> Endpoints:
        """Where to connect; see ``AsyncRest``."""
        return _endpoints(self._native.discover(email).wait())
