"""SIGTERM with answers still streaming: every stream ends properly, the server exits 0."""

from __future__ import annotations

import json
import os
import signal
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
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from conftest import ARTICLES, FakeEmbedder, FakeReader
from qa.api import create_app
from qa.config import Settings
from qa.indexer import build
from qa.reader.answerer import ReaderAnswerer
from qa.search import Searcher

class SlowReader(FakeReader):
    def read(self, question, sentences, contexts=None):
        time.sleep(1.5)  # a long answer: the stream stays open while SIGTERM arrives
        return super().read(question, sentences, contexts)

emb = FakeEmbedder()
build(ARTICLES, Path({index!r}), emb, progress=False)
app = create_app(Settings(reload_seconds=0), searcher=Searcher.open(Path({index!r}), emb),
                 answerer=ReaderAnswerer(SlowReader()))
from qa.serving import run_server
run_server(app, host="127.0.0.1", port={port}, log_level="warning", timeout_graceful_shutdown=20)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_lets_twenty_streams_finish(tmp_path: Path) -> None:
    port = free_port()
    code = SERVER.format(tests=str(HERE), index=str(tmp_path / "i"), port=port)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        if not wait_healthy(base):
            pytest.fail(f"server did not start: {proc.stderr.read() if proc.stderr else ''}")
        results: list[list[str]] = [[] for _ in range(20)]
        started = threading.Barrier(21, timeout=30)
        body = {
            "messages": [{"role": "user", "content": "嘉禾县群众满意率是多少？"}],
            "stream": True,
        }

        def stream(i: int) -> None:
            with httpx.stream("POST", f"{base}/v1/chat/completions", json=body, timeout=60) as r:
                lines = r.iter_lines()
                for line in lines:
                    if line.startswith("data: "):
                        results[i].append(line[6:])
                        break
                started.wait()
                for line in lines:
                    if line.startswith("data: "):
                        results[i].append(line[6:])

        threads = [threading.Thread(target=stream, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        started.wait()  # every stream has its first chunk and is waiting for the answer
        proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads), "a stream hung"
        assert proc.wait(timeout=30) == 0
        assert time.monotonic() - t0 < 30
        for lines in results:
            assert lines[-1] == "[DONE]"
            final = json.loads(lines[-2])
            assert final["choices"][0]["finish_reason"] == "stop"
        with pytest.raises(httpx.HTTPError):  # and it no longer accepts connections
            httpx.get(f"{base}/healthz", timeout=2)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
