"""The stubs match the native module (stubtest) and type a real program (mypy --strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_stubs_match_the_native_module():
    done = subprocess.run([sys.executable, "-m", "mypy.stubtest", "spaces_events._native"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_passes_mypy_strict():
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "-p", "spaces_events"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_typed_program_passes_mypy_strict():
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", str(HERE / "typed_example.py")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
