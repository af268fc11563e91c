"""FastAPI app: REST search and chat, an OpenAI-compatible endpoint, and the web page.

Routes stay thin: they validate, hand the work to the Searcher in a worker thread (encoding must
not block the event loop), and map domain errors to HTTP here and nowhere else.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

import anyio
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, field_validator

from qa import answer as answering
from qa.config import ROOT, Settings
from qa.errors import BadRequest, IndexError_, NotFound, QAError
from qa.models import Answer
from qa.search import MAX_TOP_K, Searcher

log = logging.getLogger(__name__)
WEB = ROOT / "web"
EXAMPLES = [
    "武乡县解决了多少件信访问题？",
    "上海普陀区的骑手公寓月租金多少？",
    "恩平篮球赛有多少家企业捐资？",
    "嘉禾县的群众满意率是多少？",
    "龙口市涌现出多少名省级以上劳模？",
]


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=2000, description="the question")
    top_k: int = Field(5, ge=1, le=MAX_TOP_K)
    sources: list[str] | None = Field(None, description="limit to these source files")
    article_ids: list[str] | None = Field(None, description="limit to these articles")

    @field_validator("query")
    @classmethod
    def not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("query must not be blank")
        return v


class ChatMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=2000)


class ChatRequest(BaseModel):
    messages: list[ChatMessage] = Field(min_length=1, max_length=100)
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)
    stream: bool = False

    @field_validator("messages")
    @classmethod
    def last_is_question(cls, v: list[ChatMessage]) -> list[ChatMessage]:
        users = [m for m in v if m.role == "user"]
        if not users or not users[-1].content.strip():
            raise ValueError("messages must end with a non-empty user question")
        return v


class OpenAIMessage(BaseModel):
    role: Literal["user", "assistant", "system", "developer", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class CompletionRequest(BaseModel):
    model: str = "qa"
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=100)
    stream: bool = False
    top_k: int = Field(3, ge=1, le=MAX_TOP_K)

    model_config = {"extra": "allow"}  # temperature, max_tokens, … are accepted and ignored


def _messages(msgs: list[Any]) -> list[answering.Message]:
    out = []
    for m in msgs:
        text = m.text() if isinstance(m, OpenAIMessage) else m.content
        if len(text) > 2000:
            raise BadRequest("each message must be at most 2000 characters")
        if m.role in ("user", "assistant"):
            out.append(answering.Message(m.role, text))
    if not out or out[-1].role != "user" or not out[-1].content.strip():
        raise BadRequest("messages must end with a non-empty user question")
    return out


def _sse(obj: Any) -> str:
    return f"data: {json.dumps(obj, ensure_ascii=False)}\n\n"


def _pieces(text: str, size: int = 12) -> list[str]:
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


def get_searcher(request: Request) -> Searcher:
    """The Searcher of the running app; tests swap it by building the app with their own."""
    s = request.app.state.searcher
    if s is None:
        raise HTTPException(503, "the index is still loading; try again in a moment")
    return s


SearcherDep = Annotated[Searcher, Depends(get_searcher)]


def require_key(request: Request) -> None:
    """When QA_API_KEYS is set, a request needs `Authorization: Bearer <key>`."""
    keys: tuple[str, ...] = request.app.state.settings.api_keys
    if not keys:
        return
    check_key(request, keys)


def check_key(request: Request, keys: tuple[str, ...]) -> None:
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    # compare_digest against every key: the time taken says nothing about the keys
    ok = False
    for k in keys:
        ok |= hmac.compare_digest(token.encode(), k.encode())
    if not ok:
        raise HTTPException(
            401, "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
        )


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
    limiter = anyio.CapacityLimiter(8)

    @app.on_event("startup")
    async def _load() -> None:
        if app.state.searcher is None and loader is not None:
            app.state.searcher = await anyio.to_thread.run_sync(loader)
        if app.state.answerer is None and app.state.searcher is not None:
            app.state.answerer = load_answerer(settings, app.state.searcher)
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
                await anyio.to_thread.run_sync(searcher.reload)
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

    guarded = [Depends(require_key)]

    @app.exception_handler(QAError)
    async def domain_error(_: Request, exc: QAError) -> JSONResponse:
        status = 404 if isinstance(exc, NotFound) else 503 if isinstance(exc, IndexError_) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        parts = []
        for e in errors[:5]:
            if e.get("type") == "json_invalid":
                parts.append("the body is not valid JSON")
                continue
            where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
            parts.append(f"{where}: {e.get('msg')}" if where else str(e.get("msg")))
        return JSONResponse(
            {
                "detail": "; ".join(parts) or "invalid request",
                "errors": json.loads(json.dumps(errors, default=str)),
            },
            status_code=422,
        )

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiter)

    @app.get("/healthz")
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness and corpus size."""
        s = request.app.state.searcher
        if s is None:
            return {"status": "loading", "articles": 0, "passages": 0, "model": settings.model}
        return {"status": "ok", **s.stats()}

    @app.post("/api/search", dependencies=guarded)
    async def search(req: SearchRequest, searcher: SearcherDep) -> JSONResponse:
        """The best passages for a query, with their dense, BM25 and fused scores."""
        hits = await run(
            lambda: searcher.search(
                req.query, req.top_k, sources=req.sources, article_ids=req.article_ids
            )
        )
        # Serialized here: FastAPI's generic encoder walks every field of every hit again, a
        # millisecond per request at the throughput this route is measured at.
        return JSONResponse({"query": req.query, "results": [h.to_dict() for h in hits]})

    async def _answer(searcher: Searcher, msgs: list[answering.Message], top_k: int) -> Answer:
        return await run(answering.answer_messages, searcher, msgs, top_k, app.state.answerer)

    @app.post("/api/chat", dependencies=guarded)
    async def chat(req: ChatRequest, searcher: SearcherDep) -> Any:
        """A cited extractive answer to the last user message; `stream: true` sends SSE events."""
        msgs = _messages(req.messages)
        if not req.stream:
            return (await _answer(searcher, msgs, req.top_k)).to_dict()

        async def events() -> AsyncIterator[str]:
            try:
                ans = await _answer(searcher, msgs, req.top_k)
            except QAError as e:
                yield _sse({"type": "error", "message": str(e)})
                return
            for piece in _pieces(ans.text):
                yield _sse({"type": "delta", "text": piece})
            yield _sse({"type": "done", **ans.to_dict()})

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/api/articles/{article_id}", dependencies=guarded)
    async def article(article_id: str, searcher: SearcherDep) -> dict[str, Any]:
        """A whole article by id."""
        a = searcher.article(article_id)
        return {
            k: v
            for k, v in a.to_dict().items()
            if k in ("id", "title", "subtitle", "byline", "source", "kind", "text", "url", "date")
        }

    @app.post("/admin/reload")
    async def reload(request: Request, searcher: SearcherDep) -> dict[str, Any]:
        """Serve the newest index now (always needs an API key; disabled when none is set)."""
        if not settings.api_keys:
            raise HTTPException(403, "admin operations are disabled: set QA_API_KEYS")
        check_key(request, settings.api_keys)
        changed = await anyio.to_thread.run_sync(searcher.reload)
        return {
            "reloaded": changed,
            **searcher.stats(),
            "version": str(searcher.index.path.name if searcher.index.path else ""),
        }

    @app.get("/api/examples")
    async def examples() -> dict[str, list[str]]:
        """Example questions over the seed corpus."""
        return {"questions": EXAMPLES}

    @app.get("/v1/models", dependencies=guarded)
    async def models() -> dict[str, Any]:
        """OpenAI-compatible model list."""
        return {
            "object": "list",
            "data": [{"id": "qa", "object": "model", "created": 0, "owned_by": "qa"}],
        }

    @app.post("/v1/chat/completions", dependencies=guarded)
    async def completions(req: CompletionRequest, searcher: SearcherDep) -> Any:
        """OpenAI Chat Completions: Markdown answer with a 来源 list; citations in an extra field."""
        msgs = _messages(req.messages)
        cid = f"chatcmpl-{secrets.token_hex(12)}"
        created = int(time.time())
        if not req.stream:
            ans = await _answer(searcher, msgs, req.top_k)
            content = answering.markdown(ans)
            return {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": req.model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": sum(len(m.content) for m in msgs),
                    "completion_tokens": len(content),
                    "total_tokens": sum(len(m.content) for m in msgs) + len(content),
                },
                "citations": ans.to_dict()["citations"],
                "found": ans.found,
                "short_answer": ans.short_answer,
            }

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            body = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": req.model,
                "choices": [
                    {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
                ],
                **extra,
            }
            return _sse(body)

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            try:
                ans = await _answer(searcher, msgs, req.top_k)
            except QAError as e:
                yield _sse({"error": {"message": str(e), "type": "invalid_request_error"}})
                yield "data: [DONE]\n\n"
                return
            for piece in _pieces(answering.markdown(ans)):
                yield chunk({"content": piece})
            body = ans.to_dict()
            yield chunk(
                {},
                "stop",
                citations=body["citations"],
                found=ans.found,
                short_answer=ans.short_answer,
            )
            yield "data: [DONE]\n\n"

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

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
    """`uvicorn qa.api:app_from_env --factory`: settings from QA_*, the index loaded at start-up."""
    settings = Settings.from_env()

    def load() -> Searcher:
        from qa.embed import SentenceTransformerEmbedder

        emb = SentenceTransformerEmbedder.from_settings(settings)
        return Searcher.open(
            settings.index_dir,
            emb,
            dense_weight=settings.dense_weight,
            lexical_weight=settings.lexical_weight,
            fusion=settings.fusion,
        )

    return create_app(settings, loader=load)
