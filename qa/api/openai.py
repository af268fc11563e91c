"""OpenAI-compatible routes: ``/v1/models`` and ``/v1/chat/completions``, with citations in the
shapes chat front-ends read.

- ``message.annotations`` (and, streaming, the closing delta's): one ``url_citation`` per ``[n]``
  marker in the content, its indices on the marker, as OpenAI's own API returns them.
- top-level ``citations`` (LobeChat reads them), each with its permalink ``url``.
- streaming only: before the text, one chunk per citation with a top-level ``event`` of type
  ``source``, which Open WebUI hands to its event emitter and shows as a source chip holding the
  passage (``open_webui/utils/middleware.py``; fixture in ``tests/data/openwebui/``).
- the Markdown content lists the sources with links, for front-ends that render only Markdown.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from qa import answer as answering
from qa.api.deps import LinksDep, SearcherDep, require_key
from qa.api.limits import limit_chat
from qa.api.rest import answer, pieces, sse
from qa.api.schemas import CompletionRequest, to_messages
from qa.errors import QAError
from qa.models import Answer

MODEL_ID = "qa"
router = APIRouter(prefix="/v1", dependencies=[Depends(require_key)])
_MARKER = re.compile(r"\[(\d+)\]")


def url_annotations(content: str, citations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ``url_citation`` for every ``[n]`` marker in ``content`` that names a citation."""
    by_n = {c["n"]: c for c in citations}
    out = []
    for m in _MARKER.finditer(content):
        c = by_n.get(int(m.group(1)))
        if c is None:
            continue
        out.append(
            {
                "type": "url_citation",
                "url_citation": {
                    "url": c["url"],
                    "title": c["title"],
                    "start_index": m.start(),
                    "end_index": m.end(),
                },
            }
        )
    return out


def source_event(citation: dict[str, Any]) -> dict[str, Any]:
    """Open WebUI's source event for one citation: a chip named by the article's title that holds
    the passage and links to the permalink. Open WebUI groups sources by ``metadata.source`` (the
    URL here, so the chip its annotation handler adds for the same URL merges into this one) and
    names a chip by its URL unless ``external`` is set (``Citations.svelte``, 0.12.4)."""
    url, title = citation["url"], citation["title"]
    return {
        "type": "source",
        "data": {
            "source": {"name": title, "url": url, "id": url},
            "document": [citation["text"]],
            "metadata": [
                {
                    "source": url,
                    "name": title,
                    "external": True,
                    "byline": citation.get("byline"),
                    "file": citation["source"],
                }
            ],
        },
    }


def usage(msgs: list[answering.Message], content: str) -> dict[str, int]:
    """Usage in characters (the service has no generative tokenizer); clients only add it up."""
    prompt = sum(len(m.content) for m in msgs)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": len(content),
        "total_tokens": prompt + len(content),
    }


def _extras(ans: Answer, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "citations": body["citations"],
        "found": ans.found,
        "short_answer": ans.short_answer,
    }


@router.get("/models")
async def models() -> dict[str, Any]:
    """The one model, in the list shape OpenAI clients expect."""
    return {
        "object": "list",
        "data": [
            {
                "id": MODEL_ID,
                "object": "model",
                "created": 0,
                "owned_by": "qa",
                "name": "新闻问答",
            }
        ],
    }


@router.post("/chat/completions", dependencies=[Depends(limit_chat)])
async def completions(
    req: CompletionRequest, request: Request, searcher: SearcherDep, links: LinksDep
) -> Any:
    """OpenAI Chat Completions: a Markdown answer with a linked 来源 list and annotations."""
    msgs = to_messages(req.messages)
    cid = f"chatcmpl-{secrets.token_hex(12)}"
    created = int(time.time())
    if not req.stream:
        ans = await answer(request, searcher, msgs, req.top_k)
        body = ans.to_dict(links.for_hit)
        content = answering.markdown(ans, links.for_hit)
        return {
            "id": cid,
            "object": "chat.completion",
            "created": created,
            "model": req.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": None,
                        "annotations": url_annotations(content, body["citations"]),
                    },
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": usage(msgs, content),
            **_extras(ans, body),
        }

    def chunk(
        delta: dict[str, Any] | None, finish: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        choices = (
            []
            if delta is None
            else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        )
        return {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": req.model,
            "choices": choices,
            **extra,
        }

    include_usage = bool(req.stream_options and req.stream_options.include_usage)
    streams = request.app.state.streams
    streams.check()

    async def events() -> AsyncIterator[str]:
        with streams.held():
            async for line in stream():
                yield line

    async def stream() -> AsyncIterator[str]:
        yield sse(chunk({"role": "assistant", "content": ""}))
        try:
            ans = await answer(request, searcher, msgs, req.top_k)
        except QAError as e:
            yield sse({"error": {"message": str(e), "type": "invalid_request_error"}})
            yield "data: [DONE]\n\n"
            return
        body = ans.to_dict(links.for_hit)
        for c in body["citations"]:
            # an empty delta for clients that only read choices; the event for Open WebUI
            yield sse(chunk({}, event=source_event(c)))
        content = answering.markdown(ans, links.for_hit)
        for piece in pieces(content):
            yield sse(chunk({"content": piece}))
        closing = {"annotations": url_annotations(content, body["citations"])}
        yield sse(chunk(closing, "stop", **_extras(ans, body)))
        if include_usage:
            yield sse(chunk(None, usage=usage(msgs, content)))
        yield "data: [DONE]\n\n"

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
