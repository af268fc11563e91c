"""Read timeouts uvicorn lacks: a client must finish its request headers within ``header`` seconds
of starting them (or of connecting), and its body within ``body`` seconds of the headers;
otherwise the connection is closed. Idle keep-alive connections are uvicorn's own
``timeout_keep_alive``. Fifty clients trickling headers a byte at a time then hold nothing for
long, and normal requests keep their latency.
"""

from __future__ import annotations

import asyncio
import functools

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from qa.config import Settings


@functools.cache
def _timeouts() -> tuple[float, float]:
    """From QA_HEADER_TIMEOUT / QA_BODY_TIMEOUT, read once per process (each worker reads its own)."""
    s = Settings.from_env()
    return s.header_timeout, s.body_timeout


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body read timeouts (pass as ``http=``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._timer: asyncio.TimerHandle | None = None
        self._timing: str | None = None
        self._watch("header")  # a client that connects and sends nothing

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._watch(None)
        super().connection_lost(exc)

    def _track(self) -> None:
        state = self.conn.their_state
        if state is h11.IDLE:
            pending, _ = self.conn.trailing_data
            self._watch("header" if pending else None)
        elif state is h11.SEND_BODY:
            self._watch("body")
        else:  # the request is in: the application's time is not limited here
            self._watch(None)

    def _watch(self, kind: str | None) -> None:
        if kind == self._timing:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timing = kind
        if kind is not None:
            header, body = _timeouts()
            seconds = header if kind == "header" else body
            self._timer = self.loop.call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()
