from __future__ import annotations

import sys
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
