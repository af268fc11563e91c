"""Slow clients are dropped after the header and body timeouts; normal requests keep going."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import free_port, wait_healthy

HERE = Path(__file__).parent
SERVER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import ARTICLES, FakeEmbedder, FakeReader
from qa.api import create_app
from qa.api.protocol import TimedH11Protocol
from qa.serving import run_server
from qa.config import Settings
from qa.indexer import build
from qa.reader.answerer import ReaderAnswerer
from qa.search import Searcher

emb = FakeEmbedder()
build(ARTICLES, Path({index!r}), emb, progress=False)
app = create_app(Settings(reload_seconds=0), searcher=Searcher.open(Path({index!r}), emb),
                 answerer=ReaderAnswerer(FakeReader()))
run_server(app, host="127.0.0.1", port={port}, log_level="warning", http=TimedH11Protocol)
"""


def closed_after(sock: socket.socket, limit: float) -> float | None:
    """Seconds until the server closes the connection (None if it is still open at ``limit``)."""
    sock.settimeout(0.2)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        try:
            if sock.recv(1024) == b"":
                return time.monotonic() - t0
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - t0
    return None


def test_slow_headers_and_bodies_are_dropped(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "QA_HEADER_TIMEOUT": "1", "QA_BODY_TIMEOUT": "1.5"}
    code = SERVER.format(tests=str(HERE), index=str(tmp_path / "i"), port=port)
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_healthy(base), "server did not start"
        idle = socket.create_connection(("127.0.0.1", port))  # connects, sends nothing
        trickle = socket.create_connection(("127.0.0.1", port))
        stop = threading.Event()

        def drip() -> None:  # a header a byte at a time, never finished
            for b in b"POST /api/search HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                if stop.is_set():
                    return
                try:
                    trickle.send(bytes([b]))
                except OSError:
                    return
                time.sleep(0.1)

        threading.Thread(target=drip, daemon=True).start()
        body = socket.create_connection(("127.0.0.1", port))
        body.sendall(
            b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"query":'
        )
        # meanwhile normal requests are answered as usual
        t0 = time.monotonic()
        for _ in range(5):
            assert httpx.post(f"{base}/api/search", json={"query": "月租金"}).status_code == 200
        assert time.monotonic() - t0 < 5
        assert (closed_after(idle, 5) or 99) < 3
        assert (closed_after(trickle, 5) or 99) < 3  # despite a byte every 0.1 s
        assert (closed_after(body, 5) or 99) < 3
        stop.set()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("name", ["QA_HEADER_TIMEOUT", "QA_BODY_TIMEOUT"])
def test_timeouts_must_be_positive(name: str, monkeypatch) -> None:
    from qa.config import Settings

    monkeypatch.setenv(name, "0")
    with pytest.raises(ValueError, match=name):
        Settings.from_env()
