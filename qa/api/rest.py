"""The service's own REST routes: health, search, chat (JSON or SSE), articles, admin, examples."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse

from qa import answer as answering
from qa.api.deps import LinksDep, SearcherDep, check_key, require_key, run_blocking
from qa.api.limits import limit_chat, limit_search
from qa.api.schemas import ChatRequest, SearchRequest, to_messages
from qa.errors import QAError
from qa.models import Answer
from qa.search import Searcher

EXAMPLES = [
    "武乡县解决了多少件信访问题？",
    "上海普陀区的骑手公寓月租金多少？",
    "恩平篮球赛有多少家企业捐资？",
    "嘉禾县的群众满意率是多少？",
    "龙口市涌现出多少名省级以上劳模？",
]

router = APIRouter()
guarded = [Depends(require_key)]


def sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def pieces(text: str, size: int = 12) -> list[str]:
    """Split an answer into streaming pieces without cutting a [n] marker."""
    out, cur = [], ""
    for tok in re.findall(r"\[\d+\]|.", text, flags=re.S):
        cur += tok
        if len(cur) >= size:
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


async def answer(
    request: Request, searcher: Searcher, msgs: list[answering.Message], top_k: int
) -> Answer:
    """The answer to the conversation's last question, read in a worker thread."""
    ans: Answer = await run_blocking(
        request, answering.answer_messages, searcher, msgs, top_k, request.app.state.answerer
    )
    request.app.state.metrics.answers.labels(str(ans.found).lower()).inc()
    return ans


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness and corpus size; ``pid`` says which worker process answered (``--workers``)."""
    s = request.app.state.searcher
    if s is None:
        model = request.app.state.settings.model
        return {
            "status": "loading",
            "articles": 0,
            "passages": 0,
            "model": model,
            "pid": os.getpid(),
        }
    return {"status": "ok", **s.stats(), "pid": os.getpid()}


@router.post("/api/search", dependencies=[*guarded, Depends(limit_search)])
async def search(
    req: SearchRequest, request: Request, searcher: SearcherDep, links: LinksDep
) -> JSONResponse:
    """The best passages for a query, with their dense, BM25 and fused scores and permalinks."""
    hits = await run_blocking(
        request,
        lambda: searcher.search(
            req.query, req.top_k, sources=req.sources, article_ids=req.article_ids
        ),
    )
    # Serialized here: FastAPI's generic encoder walks every field of every hit again, a
    # millisecond per request at the throughput this route is measured at.
    results = [h.to_dict(links.for_hit) for h in hits]
    return JSONResponse({"query": req.query, "results": results})


@router.post("/api/chat", dependencies=[*guarded, Depends(limit_chat)])
async def chat(req: ChatRequest, request: Request, searcher: SearcherDep, links: LinksDep) -> Any:
    """A cited extractive answer to the last user message; `stream: true` sends SSE events."""
    msgs = to_messages(req.messages)
    if not req.stream:
        return (await answer(request, searcher, msgs, req.top_k)).to_dict(links.for_hit)

    streams = request.app.state.streams
    streams.check()

    async def events() -> AsyncIterator[str]:
        with streams.held():
            try:
                ans = await answer(request, searcher, msgs, req.top_k)
            except QAError as e:
                yield sse({"type": "error", "message": str(e)})
                return
            for piece in pieces(ans.text):
                yield sse({"type": "delta", "text": piece})
            yield sse({"type": "done", **ans.to_dict(links.for_hit)})

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.get("/api/articles/{article_id}", dependencies=guarded)
async def article(article_id: str, searcher: SearcherDep, links: LinksDep) -> dict[str, Any]:
    """A whole article by id, with its permalink."""
    a = searcher.article(article_id)
    fields = ("id", "title", "subtitle", "byline", "source", "kind", "text", "url", "date")
    return {
        **{k: v for k, v in a.to_dict().items() if k in fields},
        "permalink": links.article(a.id),
    }


@router.post("/admin/reload")
async def reload(request: Request, searcher: SearcherDep) -> dict[str, Any]:
    """Serve the newest index now (always needs an API key; disabled when none is set)."""
    keys = request.app.state.settings.api_keys
    if not keys:
        raise HTTPException(403, "admin operations are disabled: set QA_API_KEYS")
    check_key(request, keys)
    changed = await anyio.to_thread.run_sync(searcher.reload)
    return {
        "reloaded": changed,
        **searcher.stats(),
        "version": searcher.store.version(),
    }


@router.get("/api/examples")
async def examples() -> dict[str, list[str]]:
    """Example questions over the seed corpus."""
    return {"questions": EXAMPLES}
