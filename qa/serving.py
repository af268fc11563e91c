"""Running the HTTP service: one process (``run_server``), or N processes on one port (``serve_workers``).

uvicorn's own ``--workers`` shares one listening socket between its processes, and the kernel
hands each connection to whichever process accepts first: a burst of keep-alive connections
lands on one of them. At 100k passages with 16 clients one worker took every connection (it
used 1,592 CPU ticks in 12 s, the other 4) and two workers served what one does (250 vs 243
requests/s). Here each worker listens on its own socket with ``SO_REUSEPORT``, so the kernel
spreads connections over the workers by address hash, and the parent only supervises: it starts
the workers, replaces one that dies, stops when one cannot start, and passes SIGTERM / SIGINT on
for a graceful stop. Each worker assembles the service from the environment (``qa.service``);
the index is memory-mapped, so its pages are shared between them.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import socket
import sys
import threading
import time
from typing import Any

from qa.errors import QAError

log = logging.getLogger(__name__)

APP_FACTORY = "qa.api:app_from_env"
STARTUP_FAILURE = 3  # the worker's exit status when its server did not start (uvicorn's own)
EARLY_DEATH_S = 10.0  # a worker that dies this soon after starting is not restarted
STOP_GRACE_S = 10.0  # added to the graceful shutdown time before a worker is killed


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Fewer glibc malloc arenas, before the server starts its threads: by default each thread
    that allocates may get an arena of its own, and freed memory stays in them (a 10-minute soak
    at 16 clients grew 12% with the default and kept growing; bench/results/soak.json has the
    run with this). A no-op where the C library is not glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        return


def access_log() -> None:
    """One access line per request (``qa.api.observe``), on stderr."""
    access = logging.getLogger("qa.access")
    if not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)
        access.propagate = False


def _exit_on_sigterm() -> None:
    """SIGTERM ends the process with status 0: uvicorn shuts down gracefully on it, then re-raises
    the signal to the handler it found (this one)."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def run_server(app: Any, **options: Any) -> None:
    """uvicorn, with SIGTERM ending in exit status 0 once in-flight requests and streams are done
    (uvicorn shuts down gracefully, then re-raises the signal to the handler it found: this one)."""
    import uvicorn

    _exit_on_sigterm()
    uvicorn.run(app, **options)


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to host:port that other processes of this user can bind as well."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on connections whose socket
    # says TCP. With proto 0 every response whose headers and body went out in two writes waited
    # for the client's delayed ACK: 48 ms a request on keep-alive connections, which capped
    # --workers 2 at 16 connections x 21 requests/s whatever the CPU.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted ones
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One worker process: its own listening socket on the shared port, the app from QA_*."""
    import uvicorn

    limit_malloc_arenas()
    access_log()
    sock = reuse_port_socket(host, port)
    config = uvicorn.Config(APP_FACTORY, factory=True, host=host, port=port, **options)
    server = uvicorn.Server(config)
    _exit_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C reaches every process of the group
        server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def serve_workers(workers: int, host: str, port: int, **options: Any) -> int:
    """Run ``workers`` server processes on host:port until SIGTERM or SIGINT; 0 on a clean stop,
    1 when a worker could not start (its own error is on stderr)."""
    if not hasattr(socket, "SO_REUSEPORT"):  # not on this platform: uvicorn's shared socket
        run_server(APP_FACTORY, factory=True, host=host, port=port, workers=workers, **options)
        return 0
    # Held, bound but never listening, while the workers run: the port is checked (a clear
    # error here when it is taken) and reserved; a socket that does not listen gets no
    # connections, so the kernel spreads them over the workers alone.
    try:
        guard = reuse_port_socket(host, port)
    except OSError as e:
        raise QAError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    port = guard.getsockname()[1]
    ctx = multiprocessing.get_context("spawn")
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}

    def start() -> tuple[Any, float]:
        p = ctx.Process(target=_worker, args=(host, port, options), name="qa-worker", daemon=True)
        p.start()
        return p, time.monotonic()

    procs = [start() for _ in range(workers)]
    status = 0
    try:
        while not stopping.wait(0.5):
            for i, (p, started) in enumerate(procs):
                if p.is_alive():
                    continue
                if p.exitcode == STARTUP_FAILURE or time.monotonic() - started < EARLY_DEATH_S:
                    log.error("worker %s could not start (exit status %s)", p.pid, p.exitcode)
                    status = 1
                    stopping.set()
                    break
                log.warning("worker %s died (exit status %s); starting another", p.pid, p.exitcode)
                procs[i] = start()
    finally:
        grace = float(options.get("timeout_graceful_shutdown") or 0) + STOP_GRACE_S
        for p, _ in procs:
            if p.is_alive():
                p.terminate()  # SIGTERM: each worker finishes what it is serving
        deadline = time.monotonic() + grace
        for p, _ in procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        guard.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    return status
