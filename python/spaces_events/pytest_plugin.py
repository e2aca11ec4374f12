"""The pytest plugin of ``spaces_events`` (registered through the ``pytest11`` entry point, so
installing the package is enough): the ``spaces_sim`` fixture."""

from __future__ import annotations

from typing import Iterator

import pytest

from .testing import Simulator


@pytest.fixture
def spaces_sim() -> Iterator[Simulator]:
    """A fresh ``spaces_events.testing.Simulator`` for the test, closed after it: give a client
    ``spaces_sim.url`` and ``spaces_sim.token``, then ``emit``, ``play_meeting`` or ``replay``."""
    with Simulator() as sim:
        yield sim
