"""Limits: per-client token buckets for search and chat, a bound on concurrent streams, and a
bound on how long a request waits for a worker thread.

A client is its API key when keys are set, else its address. Over a limit the answer is 429
with ``Retry-After``; a saturated service answers 503 with ``Retry-After`` rather than making a
request wait a minute.
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi import HTTPException, Request

from qa.api.deps import key_of

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute|h|hour)\s*$")
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}


def parse_rate(raw: str) -> float | None:
    """``"20/s"``, ``"300/m"``, ``"1000/h"`` -> requests per second; ``""`` or ``"0"`` -> None."""
    if not raw.strip() or raw.strip() == "0":
        return None
    m = _RATE.match(raw.lower())
    if not m:
        raise ValueError(f"a rate limit looks like 20/s, 300/m or 1000/h, got {raw!r}")
    rate = float(m.group(1)) / _PER[m.group(2)]
    return rate if rate > 0 else None


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class TokenBuckets:
    """One bucket per client: ``rate`` tokens a second, up to ``burst``."""

    def __init__(self, rate: float, burst: float | None = None, clock=time.monotonic) -> None:  # noqa: ANN001
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        now = self.clock()
        with self._lock:
            b = self._buckets.get(client)
            if b is None:
                if len(self._buckets) > 100_000:  # forget idle clients rather than grow forever
                    self._buckets.clear()
                b = self._buckets[client] = _Bucket(self.burst, now)
            b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            if b.tokens >= 1.0:
                b.tokens -= 1.0
                return 0.0
            return (1.0 - b.tokens) / self.rate


def client_of(request: Request) -> str:
    """The API key (hashed, never kept in clear) when keys are set, else the client address."""
    if request.app.state.settings.api_keys:
        return "key:" + hashlib.sha256(key_of(request).encode()).hexdigest()[:16]
    return "addr:" + (request.client.host if request.client else "unknown")


def _limit(request: Request, name: str) -> None:
    buckets: TokenBuckets | None = request.app.state.limits.get(name)
    if buckets is None:
        return
    wait = buckets.take(client_of(request))
    if wait > 0:
        request.app.state.metrics.limited.labels(name).inc()
        raise HTTPException(
            429,
            f"rate limit for {name} exceeded ({buckets.rate:g} requests/s); retry in {wait:.1f} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


async def limit_search(request: Request) -> None:
    _limit(request, "search")


async def limit_chat(request: Request) -> None:
    _limit(request, "chat")


class Streams:
    """Counts open streams; ``check`` refuses a new one past the bound (503, Retry-After)."""

    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.open_now = 0
        self._lock = threading.Lock()

    def check(self) -> None:
        if self.bound > 0 and self.open_now >= self.bound:
            raise HTTPException(
                503,
                f"{self.open_now} answers are streaming, the most this service allows; "
                "retry in a moment",
                headers={"Retry-After": "1"},
            )

    @contextmanager
    def held(self) -> Iterator[None]:
        """Count a stream while its generator runs (a client gone before it starts costs none)."""
        with self._lock:
            self.open_now += 1
        try:
            yield
        finally:
            with self._lock:
                self.open_now -= 1
