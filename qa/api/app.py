"""Assembly of the FastAPI app: state, start-up, middleware, error mapping, and the routers.

Routes live by surface (``rest``, ``openai``, ``pages``) and stay thin: they validate, hand the
work to the Searcher and the answerer in a worker thread, and domain errors become HTTP here and
nowhere else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import answer as answering
from qa.api import openai, pages, rest
from qa.api.deps import check_key
from qa.api.limits import Streams, TokenBuckets, parse_rate
from qa.api.observe import Metrics, Observe
from qa.config import ROOT, Settings
from qa.errors import IndexError_, NotFound, QAError
from qa.search import Searcher

log = logging.getLogger(__name__)
WEB = ROOT / "web"


class BodyLimit:
    """Refuse request bodies over max_bytes with 413, whether or not Content-Length is sent."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return
        # Read the (small) body first, so an oversized one is refused before any route sees it.
        chunks: list[bytes] = []
        seen = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)  # a disconnect: let the app see it
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"detail": f"request body over {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def error_body(
    request: Request, status: int, detail: str, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``{"detail": …}``; under ``/v1`` also OpenAI's ``{"error": {"message", "type", "code"}}``,
    which the ``openai`` client and chat front-ends show to the user."""
    body: dict[str, Any] = {"detail": detail, **(extra or {})}
    if request.url.path.startswith("/v1/"):
        kind = "invalid_request_error" if status < 500 else "server_error"
        if status in (401, 403):
            kind = "authentication_error"
        body["error"] = {"message": detail, "type": kind, "param": None, "code": str(status)}
    return body


def create_app(
    settings: Settings | None = None,
    searcher: Searcher | None = None,
    loader: Callable[[], Searcher] | None = None,
    answerer: answering.Answerer | None = None,
) -> FastAPI:
    """Assemble the app. Give a ready Searcher (tests) or a loader called at start-up; the
    answerer (trained reader or heuristic fallback) follows the settings unless given."""
    from qa.reader.answerer import load_answerer

    settings = settings or Settings.from_env()
    app = FastAPI(
        title="新闻问答 QA",
        version="0.1.0",
        description="Chinese question answering over news articles with cited extractive answers.",
    )
    app.state.searcher = searcher
    app.state.settings = settings
    if answerer is None and searcher is not None:
        answerer = load_answerer(settings, searcher)
    app.state.answerer = answerer
    # Requests run in up to eight worker threads; their query encodings are batched together
    # (qa.batching), so the encoder, not the thread count, bounds the CPU in use.
    app.state.limiter = anyio.CapacityLimiter(8)
    app.state.metrics = metrics = Metrics()
    rates = {"search": settings.rate_limit_search, "chat": settings.rate_limit_chat}
    app.state.limits = {}
    for name, raw in rates.items():
        try:
            rate = parse_rate(raw)
        except ValueError as e:
            raise QAError(f"QA_RATE_LIMIT_{name.upper()}: {e}") from None
        app.state.limits[name] = TokenBuckets(rate) if rate else None
    app.state.streams = Streams(settings.max_streams)

    def watch(searcher: Searcher | None) -> None:
        if searcher is not None:
            searcher.on_stage = metrics.stage
            if app.state.answerer is not None and hasattr(app.state.answerer, "on_stage"):
                app.state.answerer.on_stage = metrics.stage
            metrics.index(searcher)

    watch(searcher)

    @app.on_event("startup")
    async def _load() -> None:
        if app.state.searcher is None and loader is not None:
            app.state.searcher = await anyio.to_thread.run_sync(loader)
        if app.state.answerer is None and app.state.searcher is not None:
            app.state.answerer = load_answerer(settings, app.state.searcher)
        watch(app.state.searcher)
        # dictionaries and anchor questions load now, not while the first user waits
        if app.state.searcher is not None:
            await anyio.to_thread.run_sync(app.state.searcher.warm)
        warm = getattr(app.state.answerer, "warm", None)
        if callable(warm):  # anchor questions, jieba's tagger
            await anyio.to_thread.run_sync(warm)
        if settings.reload_seconds > 0:
            app.state.watcher = asyncio.get_running_loop().create_task(_watch())

    async def _watch() -> None:
        """Pick up a newly written index (its CURRENT pointer changed) without a restart:
        requests already running finish on the old index, new ones get the new one."""
        while True:
            await asyncio.sleep(settings.reload_seconds)
            searcher = app.state.searcher
            if searcher is None:
                continue
            try:
                if await anyio.to_thread.run_sync(searcher.reload):
                    metrics.reloads.inc()
                    metrics.index(searcher)
            except QAError as e:  # a broken new index: keep serving the old one
                log.warning("not reloading the index: %s", e)

    @app.on_event("shutdown")
    async def _stop() -> None:
        task = getattr(app.state, "watcher", None)
        if task is not None:
            task.cancel()

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )

    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Observe, metrics=metrics, json_lines=settings.log_format == "json")

    @app.exception_handler(QAError)
    async def domain_error(request: Request, exc: QAError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFound) else 503 if isinstance(exc, IndexError_) else 400
        return JSONResponse(error_body(request, status, str(exc)), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(request, exc.status_code, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        parts = []
        for e in errors[:5]:
            if e.get("type") == "json_invalid":
                parts.append("the body is not valid JSON")
                continue
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        detail = "; ".join(parts) or "invalid request"
        extra = {"errors": json.loads(json.dumps(errors, default=str))}
        return JSONResponse(error_body(request, 422, detail, extra), status_code=422)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus(request: Request) -> Any:
        """Prometheus text format; behind the API key when keys are set."""
        from fastapi.responses import Response
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        if settings.api_keys:
            check_key(request, settings.api_keys)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(rest.router)
    app.include_router(openai.router)
    app.include_router(pages.router)

    if (WEB / "index.html").exists():
        app.mount("/static", StaticFiles(directory=WEB), name="static")

    @app.get("/", include_in_schema=False)
    async def index_page() -> FileResponse:
        page = WEB / "index.html"
        if not page.exists():
            raise HTTPException(404, "web/index.html is missing")
        return FileResponse(page, headers={"Cache-Control": "no-cache"})

    return app


def app_from_env() -> FastAPI:
    """`uvicorn qa.api:app_from_env --factory`: settings from QA_*, the index loaded at start-up,
    assembled as `qa serve` assembles it (``qa.service``)."""
    from qa import service

    settings = service.configure(Settings.from_env())
    return create_app(settings, loader=lambda: service.searcher(settings))
