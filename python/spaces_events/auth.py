"""Token sources that last as long as the service.

Pass one as ``token_provider`` to ``AsyncClient``, ``Client`` or ``rest.Rest``/``AsyncRest``:
the Rust client asks it before every connection attempt and every REST call, and again with
the refused token when the server refuses one — a different token is tried at once; the same
one again ends the client with ``AuthError``, naming the source to fix. The tokens never
appear in a log, an error or a ``repr``.

- ``TokenFile(path)``: the file is read again every time (a Kubernetes secret or a Vault agent
  that replaces it is followed without a restart).
- ``TokenCommand(command)``: a credential helper run by ``sh -c``; its trimmed output is the
  token, or ``{"token": "…", "expires_at": "RFC 3339"}`` (kept until shortly before it expires).
  A failing helper is named with its exit status, never its output.
- ``OAuth2(path)``: the credentials file ``spaces-events login`` writes; the access token is
  refreshed before it expires and when refused, rotated refresh tokens are written back
  atomically (processes sharing the file take turns). A refused refresh token raises
  ``AuthError``: run ``spaces-events login`` again. Sent as ``tokenType=oauth``.

::

    from spaces_events import AsyncClient
    from spaces_events.auth import TokenFile

    client = AsyncClient(url, token_provider=TokenFile("/run/secrets/spaces-token"))
"""

from __future__ import annotations

import os
from typing import Literal, Optional, Union

from ._native import Credentials

__all__ = ["OAuth2", "TokenCommand", "TokenFile", "TokenSource"]

_Path = Union[str, "os.PathLike[str]"]


class TokenSource:
    """A source of tokens run by the Rust client (``TokenFile``, ``TokenCommand``, ``OAuth2``).

    Calling it (or ``token()``) gives its current token, blocking; the clients use the source
    itself, not this call."""

    _native: Credentials

    def token(self) -> str:
        """The source's token now (renewed first if it is due). ``AuthError`` when the
        credentials must be fixed; ``TransportError`` when the source failed for now."""
        token: str = self._native.token().wait()
        return token

    def __call__(self) -> str:
        return self.token()

    @property
    def token_type(self) -> str:
        """How its tokens are sent: ``"jwt"``, or ``"oauth"`` for ``OAuth2``."""
        return self._native.token_type()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._native.describe()!r})"


class TokenFile(TokenSource):
    """A file holding the token, read again every time one is needed."""

    def __init__(self, path: _Path) -> None:
        self._native = Credentials.token_file(os.fspath(path))


class TokenCommand(TokenSource):
    """A credential helper, run by ``sh -c`` whenever a token is needed."""

    def __init__(self, command: str) -> None:
        self._native = Credentials.token_command(command)


class OAuth2(TokenSource):
    """OAuth2 credentials from the file ``spaces-events login`` writes.

    - ``ca_file``: a PEM file of an extra certificate authority the identity provider's
      certificate may chain to (Mozilla's roots and the system's are trusted anyway).
    - ``proxy``: an HTTP proxy URL; ``None`` (default) reads the proxy variables; ``False``
      connects directly.
    """

    def __init__(self, path: _Path, *, ca_file: Optional[_Path] = None,
                 proxy: Union[str, Literal[False], None] = None) -> None:
        pem = None if ca_file is None else _read(ca_file)
        self._native = Credentials.oauth2(os.fspath(path), pem, proxy or None, proxy is False)


def _read(path: _Path) -> bytes:
    with open(path, "rb") as file:
        return file.read()
