"""The Node socket.io 2.0.4 peer (tests/peers/spaces-server.js), for the Python tests."""

from __future__ import annotations

import json
import pathlib
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

PEERS = pathlib.Path(__file__).resolve().parent.parent / "peers"


def ensure_installed() -> None:
    if not (PEERS / "node_modules" / "socket.io" / "package.json").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEERS, check=True)


class NodePeer:
    """A running Spaces-like socket.io 2.0.4 server on 127.0.0.1, driven through stdin/stdout."""

    def __init__(self, **options: Any) -> None:
        ensure_installed()
        self._process = subprocess.Popen(
            ["node", str(PEERS / "spaces-server.js"), json.dumps(options)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self._log: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = int(self.wait_for(lambda e: e["ev"] == "listening")["port"])

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            with self._changed:
                self._log.append(json.loads(line))
                self._changed.notify_all()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/chat"

    def count(self, match: Callable[[dict[str, Any]], bool]) -> int:
        with self._changed:
            return sum(1 for e in self._log if match(e))

    def wait_for(self, match: Callable[[dict[str, Any]], bool], n: int = 1, timeout: float = 20.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [e for e in self._log if match(e)]
                if len(found) >= n:
                    return found[n - 1]
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"the peer did not report it in {timeout} s; its log: {self._log}")
                self._changed.wait(left)

    def command(self, **command: Any) -> None:
        done = self.count(lambda e: e["ev"] == "ok" and e["cmd"] == command["cmd"])
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        self.wait_for(lambda e: e["ev"] == "ok" and e["cmd"] == command["cmd"], done + 1)

    def emit(self, space: str, payload: dict[str, Any], event: str = "MEDIA_SESSION_RESPONSE") -> None:
        self.command(cmd="emit", space=space, event=event, payload=payload)

    def close(self) -> None:
        self._process.kill()
        self._process.wait()
        # The reader ends at EOF, which the dead process gives it; closing stdout under it
        # while it still iterates raises in its thread.
        self._reader.join()
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()


def media_event(space: str, n: int) -> dict[str, Any]:
    """A MEDIA_SESSION_RESPONSE payload for ``space`` with ``_id`` ``event-<n>``."""
    return {
        "_id": f"event-{n}",
        "topicId": space,
        "category": "app.event.attendee.added",
        "sender": {"_id": space, "type": "spaceserver"},
        "content": {"attendee": {"_id": f"user-{n}", "displayname": f"Attendee {n}"}},
    }


class Tinyproxy:
    """A real HTTP proxy, tinyproxy (Debian package ``tinyproxy``; ``cargo xtask test`` installs
    it), on a free 127.0.0.1 port with a configuration and a log of its own."""

    BINARY = "/usr/bin/tinyproxy"

    def __init__(self, directory: Path, auth: Optional[tuple[str, str]] = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.log = directory / "tinyproxy.log"
        config = (f"Port {self.port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 600\n"
                  f"LogLevel Connect\nLogFile \"{self.log}\"\n")
        if auth:
            config += f"BasicAuth {auth[0]} {auth[1]}\n"
        conf = directory / "tinyproxy.conf"
        conf.write_text(config)
        self._proc = subprocess.Popen([self.BINARY, "-d", "-c", str(conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "tinyproxy listens"
                time.sleep(0.02)

    def url(self, auth: Optional[tuple[str, str]] = None) -> str:
        userinfo = f"{auth[0]}:{auth[1]}@" if auth else ""
        return f"http://{userinfo}127.0.0.1:{self.port}"

    def requests(self) -> list[str]:
        """The requests it logged, e.g. ``CONNECT 127.0.0.1:4000 HTTP/1.1``."""
        text = self.log.read_text() if self.log.exists() else ""
        return [line.split("): ", 1)[1].strip() for line in text.splitlines()
                if "Request (file descriptor " in line and "): " in line]

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()
