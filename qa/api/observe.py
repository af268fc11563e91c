"""What an operator watches: Prometheus metrics, a request id, one log line per request.

Metrics live in a registry of the app's own (``prometheus_client``), exposed at ``GET /metrics``
(behind the API key when keys are set): requests by route and status, latency by route and by
stage (encode, retrieve, fusion, reader), answers found or not, rate-limited requests, the index
version and size, reloads. Every response carries ``X-Request-ID`` (the client's, when it sent a
sane one); the log line names it, the route, the status and the time, never the key or the
question (``QA_LOG_FORMAT=json`` for JSON lines).
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger("qa.access")
_SANE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    """The app's metrics, in their own registry (several apps can live in one process)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "qa_requests", "HTTP requests", ["route", "method", "status"], registry=r
        )
        self.latency = Histogram(
            "qa_request_seconds",
            "time to the response's start",
            ["route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.stages = Histogram(
            "qa_stage_seconds", "time spent per stage", ["stage"], buckets=BUCKETS, registry=r
        )
        self.answers = Counter("qa_answers", "answers given", ["found"], registry=r)
        self.limited = Counter(
            "qa_rate_limited", "requests refused by a limit", ["limit"], registry=r
        )
        self.reloads = Counter("qa_index_reloads", "new index versions picked up", registry=r)
        self.passages = Gauge("qa_index_passages", "passages served", registry=r)
        self.articles = Gauge("qa_index_articles", "articles served", registry=r)
        self.version = Gauge(
            "qa_index_info", "the served index", ["store", "version", "model"], registry=r
        )

    def stage(self, name: str, seconds: float) -> None:
        self.stages.labels(name).observe(seconds)

    def index(self, searcher: Any) -> None:
        """Refresh the index gauges from the Searcher (at start-up and after each reload)."""
        stats = searcher.stats()
        self.passages.set(float(stats.get("passages", 0)))
        self.articles.set(float(stats.get("articles", 0)))
        self.version.clear()
        store = searcher.store
        self.version.labels(store.name, store.version(), str(stats.get("model", ""))).set(1)


def request_id(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            rid = value.decode("latin-1")
            if _SANE_ID.match(rid):
                return rid
    # unique, not secret: a getrandbits draw costs no system call (token_hex read /dev/urandom,
    # and the event loop waited for the GIL after each read)
    return f"{random.getrandbits(64):016x}"


class Observe:
    """ASGI middleware: request id in and out, metrics and one access-log line per request."""

    def __init__(self, app: Any, metrics: Metrics, json_lines: bool = False) -> None:
        self.app = app
        self.metrics = metrics
        self.json_lines = json_lines

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id(scope)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                headers = list(message.get("headers") or [])
                headers.append((b"x-request-id", rid.encode()))
                message = {**message, "headers": headers}
                self.metrics.latency.labels(_route(scope)).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = _route(scope)
            self.metrics.requests.labels(route, scope.get("method", ""), str(status["code"])).inc()
            self._log(rid, scope, route, status["code"], time.perf_counter() - started)

    def _log(self, rid: str, scope: Any, route: str, status: int, seconds: float) -> None:
        if route in ("/healthz", "/metrics"):
            return
        fields = {
            "request_id": rid,
            "method": scope.get("method", ""),
            "route": route,
            "status": status,
            "ms": round(seconds * 1000, 1),
        }
        if self.json_lines:
            log.info(json.dumps(fields))
        else:
            log.info("%s %s %s %s %.1f ms", rid, fields["method"], route, status, fields["ms"])


def _route(scope: Any) -> str:
    """The route template (``/articles/{article_id}``), so ids do not explode the label set."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return str(path)
    raw = str(scope.get("path", ""))
    return raw if raw in ("/", "/healthz", "/metrics") or raw.startswith("/static") else "unmatched"
