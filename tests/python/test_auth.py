"""``spaces_events.auth`` as a service uses it: a rotated token file, a credential helper, OAuth2
credentials refreshed and revoked, a private CA from ``ca_file`` — against the simulator, under
both readings of what Spaces does when a token expires on an open socket."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import secrets
import socket
import ssl
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from spaces_events import AsyncClient, AuthError, Client, TransportError
from spaces_events.auth import OAuth2, TokenCommand, TokenFile
from spaces_events.rest import Rest
from spaces_events.testing import Simulator

SPACE = "space-auth"
FAST = {"reconnect_delay": 0.1, "reconnect_delay_max": 0.5}


def event(n: int) -> dict[str, Any]:
    return {"_id": f"event-{n}", "category": "app.event.attendee.added", "topicId": SPACE,
            "content": {"attendee": {"_id": f"user-{n}", "displayname": f"Attendee {n}"}}}


def replace(path: Path, text: str) -> None:
    """As a secret mount replaces a file: a new one renamed over it."""
    new = path.with_suffix(".new")
    new.write_text(text)
    os.replace(new, path)


@pytest.fixture(params=[False, True], ids=["keep", "close"])
def sim(request: pytest.FixtureRequest) -> Any:
    """A simulator playing one reading: an expired token's connection kept until it reconnects,
    or closed by the server."""
    with Simulator(close_expired=request.param) as simulator:
        yield simulator


def test_token_file_followed_across_rotations_then_the_same_refused_token_is_fatal(sim: Simulator,
                                                                                    tmp_path: Path):
    path = tmp_path / "token"
    tokens = [sim.rotate_tokens()]
    replace(path, tokens[0])
    source = TokenFile(path)
    assert source.token() == tokens[0] and tokens[0] not in repr(source)

    async def main() -> None:
        async with AsyncClient(sim.url, token_provider=source, **FAST) as client:
            sub = await client.subscribe(SPACE)
            for n in range(1, 4):
                sim.emit(event(n))
                got = await asyncio.wait_for(sub.__anext__(), 10)
                assert got.id == f"event-{n}"
                tokens.append(sim.rotate_tokens())
                replace(path, tokens[-1])
                sim.drop_connections()  # under "close" the server has closed it already
                await sim.subscribed(SPACE, n + 1)
            sim.rotate_tokens()  # the file is not: its token is refused, and given again
            sim.drop_connections()
            with pytest.raises(AuthError) as caught:
                async for _ in sub:
                    pass
            assert f"the token file {path} gave the refused token again" in str(caught.value)
            assert not any(t in str(caught.value) for t in tokens)

    asyncio.run(main())


def test_token_command_with_the_blocking_client_and_its_failure(sim: Simulator, tmp_path: Path):
    path = tmp_path / "token.json"
    path.write_text(json.dumps({"token": sim.rotate_tokens(), "expires_at": "2099-01-01T00:00:00Z"}))
    with Client(sim.url, token_provider=TokenCommand(f"cat {path}")) as client:
        sub = client.subscribe(SPACE)
        sim.emit(event(1))
        assert next(iter(sub)).id == "event-1"
    failing = TokenCommand("printf 'hunter%s' 2; exit 7")
    with pytest.raises(TransportError) as caught:
        failing.token()
    assert "failed (exit status: 7)" in str(caught.value) and "hunter2" not in str(caught.value)


def test_rest_asks_the_source_again_after_a_401(tmp_path: Path):
    with Simulator() as sim:
        path = tmp_path / "token"
        replace(path, sim.rotate_tokens())
        rest = Rest(sim.api_url, token_provider=TokenFile(path))
        assert rest.active_meeting(SPACE) is None
        replace(path, sim.rotate_tokens())
        assert rest.active_meeting(SPACE) is None, "the 401 made it read the file again"


def login(sim: Simulator, path: Path) -> None:
    """Makes OAuth2 credentials as ``spaces-events login`` does, by hand: authorization code
    with PKCE (S256) at the simulator's provider."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://127.0.0.1:9/callback"
    query = urllib.parse.urlencode({"response_type": "code", "client_id": "py-bot", "redirect_uri": redirect,
                                    "state": "s", "code_challenge": challenge, "code_challenge_method": "S256"})

    class Stop(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(Stop)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(f"{sim.identity_url}/oauth2/authorize?{query}")
    location = answer.value.headers["Location"]
    answer.value.close()
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
                                   "client_id": "py-bot", "code_verifier": verifier}).encode()
    with urllib.request.urlopen(f"{sim.identity_url}/oauth2/access_token", body) as reply:
        tokens = json.load(reply)
    path.write_text(json.dumps({"type": "spaces_oauth", "token_url": f"{sim.identity_url}/oauth2/access_token",
                                "client_id": "py-bot", "refresh_token": tokens["refresh_token"]}))


@pytest.mark.parametrize("close_expired", [False, True], ids=["keep", "close"])
def test_oauth2_refreshes_rotates_and_a_revoked_refresh_token_is_fatal(tmp_path: Path, close_expired: bool):
    path = tmp_path / "credentials.json"
    with Simulator(token_lifetime=2.0, close_expired=close_expired) as sim:
        login(sim, path)
        source = OAuth2(path)
        assert source.token_type == "oauth"

        async def main() -> None:
            async with AsyncClient(sim.url, token_provider=source, **FAST) as client:
                sub = await client.subscribe(SPACE)
                refreshes = []
                for n in range(1, 4):
                    sim.emit(event(n))
                    assert (await asyncio.wait_for(sub.__anext__(), 10)).id == f"event-{n}"
                    refreshes.append(json.loads(path.read_text())["refresh_token"])
                    # The token expires: the server closes the connection, or (kept) a drop
                    # later needs a new token; a refreshed one follows.
                    if not close_expired:
                        await asyncio.sleep(2.1)
                        sim.drop_connections()
                    await sim.subscribed(SPACE, n + 1, timeout=10)
                assert len(set(refreshes)) == 3, "each refresh rotated the refresh token, written back"
                assert sim.expired_connections >= (3 if close_expired else 0)
                sim.revoke()
                if not close_expired:
                    sim.drop_connections()
                with pytest.raises(AuthError) as caught:
                    async for _ in sub:
                        pass
                assert "run `spaces-events login` again" in str(caught.value)
                assert not any(t in str(caught.value) for t in sim.issued_tokens)

        asyncio.run(main())


def tls_front(upstream: int, directory: Path) -> tuple[int, Path]:
    """A TLS terminator for ``localhost`` in front of ``upstream``, its certificate signed by a CA
    made here with openssl; its port and the CA's PEM file."""
    ca, key, cert = directory / "ca.pem", directory / "server.key", directory / "server.pem"
    run = lambda *args: subprocess.run(["openssl", *args], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(directory / "ca.key"), "-out", str(ca),
        "-days", "1", "-subj", "/CN=test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(directory / "server.csr"),
        "-subj", "/CN=localhost")
    (directory / "ext").write_text("subjectAltName=DNS:localhost\n")
    run("x509", "-req", "-in", str(directory / "server.csr"), "-CA", str(ca), "-CAkey", str(directory / "ca.key"),
        "-CAcreateserial", "-out", str(cert), "-days", "1", "-extfile", str(directory / "ext"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve() -> None:
        while True:
            client, _ = listener.accept()
            try:
                tls = context.wrap_socket(client, server_side=True)
            except OSError:
                continue
            server = socket.create_connection(("127.0.0.1", upstream))
            threading.Thread(target=pipe, args=(tls, server), daemon=True).start()
            threading.Thread(target=pipe, args=(server, tls), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], ca


def test_ca_file_trusts_a_private_ca(tmp_path: Path):
    with Simulator() as sim:
        port, ca = tls_front(int(sim.url.split(":")[2].split("/")[0]), tmp_path)
        url = f"wss://localhost:{port}/chat"

        async def main() -> None:
            with pytest.raises(TransportError, match="certificate|TLS"):
                await AsyncClient(url, sim.token, connect_timeout=3).connect()
            async with AsyncClient(url, sim.token, ca_file=ca) as client:
                sub = await client.subscribe(SPACE)
                sim.emit(event(1))
                assert (await asyncio.wait_for(sub.__anext__(), 10)).id == "event-1"

        asyncio.run(main())
