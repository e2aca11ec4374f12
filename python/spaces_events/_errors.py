"""The exceptions of spaces_events."""

from __future__ import annotations


class SpacesError(Exception):
    """Base class of every spaces_events error."""


class DecodeError(SpacesError, ValueError):
    """A payload that does not decode: not a JSON object, no string ``category``, or a known
    field of the wrong JSON type. ``str()`` says what and where."""

    def __init__(self, text: str, message: str, path: str, line: int, column: int) -> None:
        super().__init__(text)
        self.message = message
        """What is wrong, without the position."""
        self.path = path
        """JSON path of the offending value (``content.attendees[2].displayname``); empty for the
        payload as a whole."""
        self.line = line
        """1-based line of the input."""
        self.column = column
        """1-based column of the input."""


class ConfigError(SpacesError, ValueError):
    """An option or argument given to the client is invalid: the URL, a header, a CA
    certificate, ``token_type``, a duration, or a payload to send. Nothing was attempted."""


class AuthError(SpacesError):
    """The server rejected the token. The message never contains the token."""


class SubscribeError(SpacesError):
    """The server refused a subscription (SUBSCRIBE_CHANNEL_FAILED)."""

    def __init__(self, text: str, space: str, code: str, message: str) -> None:
        super().__init__(text)
        self.space = space
        """The space id."""
        self.code = code
        """The server's error code, e.g. ``invalid.parameters``."""
        self.message = message
        """The server's error message."""


class TransportError(SpacesError):
    """The connection failed or broke, or gave up reconnecting."""


class ProxyError(TransportError):
    """The HTTP proxy was unreachable or refused the tunnel (401/407: wrong credentials, 403:
    not allowed, 502: it could not reach Spaces). Names the proxy, never its password."""

    def __init__(self, text: str, proxy: str, status: int | None) -> None:
        super().__init__(text)
        self.proxy = proxy
        """The proxy, ``http://host:port``."""
        self.status = status
        """Its HTTP status, if it answered."""


class NotFoundError(SpacesError, LookupError):
    """A REST call named something that does not exist (HTTP 404), e.g. a wrong space id for
    ``join_space``. (``active_meeting`` returns ``None`` instead: there 404 means no meeting.)"""
