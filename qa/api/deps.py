"""What routes take through ``Depends``: the Searcher, the key check, permalinks, worker threads.

Every dependency here is ``async def``: none blocks, and FastAPI runs a plain ``def`` dependency
in a worker thread, one thread hand-off (and a GIL hand-over) per dependency per request. With
four of them, /api/search paid five hand-offs a request for one search.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import Depends, HTTPException, Request

from qa.config import Settings
from qa.links import Links, link_secret
from qa.search import Searcher


async def get_searcher(request: Request) -> Searcher:
    """The Searcher of the running app; tests swap it by building the app with their own."""
    s = request.app.state.searcher
    if s is None:
        raise HTTPException(503, "the index is still loading; try again in a moment")
    return s


SearcherDep = Annotated[Searcher, Depends(get_searcher)]


def key_of(request: Request) -> str:
    auth = request.headers.get("authorization", "")
    return auth[7:].strip() if auth.lower().startswith("bearer ") else ""


def valid_key(token: str, keys: tuple[str, ...]) -> bool:
    # compare_digest against every key: the time taken says nothing about the keys
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(token.encode(), k.encode())
    return ok


def check_key(request: Request, keys: tuple[str, ...]) -> None:
    if not valid_key(key_of(request), keys):
        raise HTTPException(
            401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
        )


async def require_key(request: Request) -> None:
    """When QA_API_KEYS is set, a request needs `Authorization: Bearer <key>`."""
    keys: tuple[str, ...] = request.app.state.settings.api_keys
    if keys:
        check_key(request, keys)


async def get_links(request: Request) -> Links:
    """Permalinks for this request: ``QA_PUBLIC_URL`` behind a proxy, else the request's base."""
    settings: Settings = request.app.state.settings
    base = settings.public_url or str(request.base_url)
    return Links(
        base,
        link_secret(settings.link_secret, settings.api_keys),
        int(settings.link_ttl_days * 86400),
    )


LinksDep = Annotated[Links, Depends(get_links)]


async def run_blocking(request: Request, fn: Callable[..., Any], *args: Any) -> Any:
    """Run search or reading in a worker thread (encoding must not block the event loop). A
    request that cannot get a worker within ``QA_QUEUE_TIMEOUT`` gets 503 with Retry-After."""
    limiter: anyio.CapacityLimiter = request.app.state.limiter
    with anyio.move_on_after(request.app.state.settings.queue_timeout) as waiting:
        await limiter.acquire()
    if waiting.cancelled_caught:
        request.app.state.metrics.limited.labels("queue").inc()
        raise HTTPException(
            503, "the service is saturated; retry in a moment", headers={"Retry-After": "2"}
        )
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    finally:
        limiter.release()
