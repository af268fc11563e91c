"""`qa serve --workers 2`: one port, connections spread over both processes, a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and SO_REUSEPORT"),
]


def wait_ok(base: str, proc: subprocess.Popen[str], seconds: float = 240) -> None:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"qa serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).json().get("status") == "ok":
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    pytest.fail("qa serve --workers 2 did not become healthy")


def serve(index: Path, port: int, workers: int) -> subprocess.Popen[str]:
    env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_RELOAD_SECONDS": "0"}
    cmd = [sys.executable, "-m", "qa.cli", "serve", "--port", str(port), "--workers", str(workers)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)


def test_connections_reach_both_workers_and_sigterm_stops_all(seed_index: Path) -> None:
    port = free_port()
    proc = serve(seed_index, port, 2)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ok(base, proc)
        pids: set[int] = set()
        # every worker is up once connections (each a new client, so a new source port that the
        # kernel hashes) have reached two processes; 200 tries leave chance out of it
        for _ in range(200):
            with httpx.Client(base_url=base, timeout=30) as client:
                body = client.get("/healthz").json()
                if body["status"] == "ok":
                    pids.add(body["pid"])
            if len(pids) == 2:
                break
        assert len(pids) == 2, f"one process took every connection: {pids}"
        assert proc.pid not in pids  # the parent only supervises
        with httpx.Client(base_url=base, timeout=30) as client:
            r = client.post("/api/search", json={"query": "骑手公寓月租金多少", "top_k": 3})
        assert r.status_code == 200 and r.json()["results"]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
        for pid in pids:  # the workers are gone with it
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_taken_port_is_a_clear_error(seed_index: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = serve(seed_index, port, 2)
        try:
            _, err = proc.communicate(timeout=240)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert str(port) in err and "in use" in err
