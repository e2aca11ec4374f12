"""Every Python block of README.md and of the documentation pages (docs/src/) passes
``mypy --strict``. Each program block runs: against the
Node socket.io 2.0.4 peer, through their own ``SPACES_URL``/``SPACES_TOKEN``, it prints the
meeting and ends with it. Blocks with a file name (```` ```python title="bot.py" ````) are also written to
that file, and the ``test_*.py`` ones run under pytest as a user's would (the plugin from the
installed package, nothing from this suite)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from peer import NodePeer

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs/src").rglob("*.md"))]
NAMED = [found for page in PAGES
         for found in re.findall(r'```python(?: title="([^"]+)")?\n(.*?)```\n', page.read_text(), flags=re.S)]
BLOCKS = [code for name, code in NAMED if not name.startswith("test_")]
FILES = {name: code for name, code in NAMED if name}
SPACE = "5f1051f0f3ed772f915e19ed"


def test_the_readme_has_python_examples():
    assert len(BLOCKS) >= 3 and "test_bot.py" in FILES


@pytest.mark.parametrize("block", range(len(BLOCKS)))
def test_a_readme_block_passes_mypy_strict(block: int, tmp_path: Path):
    program = tmp_path / f"readme_{block}.py"
    program.write_text(BLOCKS[block])
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(program)], capture_output=True, text=True)
    assert done.returncode == 0, BLOCKS[block] + done.stdout + done.stderr


@pytest.mark.parametrize("block", range(len(BLOCKS)))
def test_a_readme_block_runs(block: int, peer: NodePeer, tmp_path: Path):
    program = tmp_path / f"readme_{block}.py"
    program.write_text(BLOCKS[block])
    env = dict(os.environ, SPACES_URL=peer.url, SPACES_TOKEN="good")
    with subprocess.Popen([sys.executable, str(program)], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as run:
        try:
            peer.wait_for(lambda e: e["ev"] == "subscribe" and e.get("space") == SPACE)
            peer.emit(SPACE, {"category": "app.event.attendee.added", "topicId": SPACE,
                              "content": {"attendee": {"_id": "u1", "displayname": "Ann"}}})
            peer.emit(SPACE, {"category": "app.event.meeting.ended", "topicId": SPACE})
            stdout, stderr = run.communicate(timeout=30)
        finally:
            run.kill()
    assert run.returncode == 0, stdout + stderr
    lines = stdout.splitlines()
    assert len(lines) == 2 and "meeting" in lines[-1], stdout


def test_the_readme_bot_test_passes_offline(tmp_path: Path):
    for name, code in FILES.items():
        (tmp_path / name).write_text(code)
    tests = [name for name in FILES if name.startswith("test_")]
    checked = subprocess.run([sys.executable, "-m", "mypy", "--strict", *FILES], cwd=tmp_path,
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    print(done.stdout.splitlines()[-1])  # "1 passed in 0.1s": shown with -s
