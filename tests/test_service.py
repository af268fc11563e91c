"""The HTTP service: REST, OpenAI-compatible endpoint (with the official client), the page."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ARTICLES, ROOT, FakeEmbedder, FakeReader, make_article, serve
from fastapi.testclient import TestClient
from openai import OpenAI

from qa.answer import NOT_FOUND
from qa.api import create_app
from qa.config import Settings
from qa.indexer import build
from qa.reader.answerer import NEAR_MISS, ReaderAnswerer
from qa.search import Searcher

EVIL = make_article(
    "带脚本的文章",
    "正文里有<script>alert(1)</script>和<img src=x onerror=alert(2)>标签。工会驿站暖人心。",
)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    emb = FakeEmbedder()
    build([*ARTICLES, EVIL], tmp_path / "i", emb, progress=False)
    return TestClient(
        create_app(
            Settings(reload_seconds=0),
            searcher=Searcher.open(tmp_path / "i", emb),
            answerer=ReaderAnswerer(FakeReader()),  # type: ignore[arg-type]
        )
    )


def chat(client: TestClient, *contents: str, **extra) -> httpx.Response:
    roles = ["user", "assistant"]
    msgs = [{"role": roles[i % 2], "content": c} for i, c in enumerate(contents)]
    return client.post("/api/chat", json={"messages": msgs, **extra})


def sse(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


class TestRest:
    def test_healthz(self, client: TestClient) -> None:
        r = client.get("/healthz")
        assert r.status_code == 200
        assert r.json() == {
            "status": "ok",
            "articles": 4,
            "passages": 4,
            "model": "fake-bigram",
            "pid": os.getpid(),
        }

    def test_search_fields(self, client: TestClient) -> None:
        r = client.post("/api/search", json={"query": "嘉禾县群众满意率", "top_k": 2})
        assert r.status_code == 200
        body = r.json()
        assert body["query"] == "嘉禾县群众满意率" and len(body["results"]) == 2
        hit = body["results"][0]
        for key in (
            "passage_id",
            "article_id",
            "title",
            "source",
            "text",
            "start",
            "end",
            "score",
            "dense_score",
            "lexical_score",
            "highlights",
        ):
            assert key in hit
        assert hit["title"] == "嘉禾县信访工作提质增效"

    @pytest.mark.parametrize("top_k", [0, 51])
    def test_top_k_range(self, client: TestClient, top_k: int) -> None:
        r = client.post("/api/search", json={"query": "善款", "top_k": top_k})
        assert r.status_code == 422
        assert "top_k" in r.json()["detail"]

    @pytest.mark.parametrize(
        ("body", "needle"),
        [
            ({"query": "   "}, "blank"),
            ({"query": "x" * 2001}, "2000"),
            ({"messages": []}, "messages"),
            ({"messages": [{"role": "bot", "content": "hi"}]}, "role"),
            ({"query": "？？？"}, "a word or a number"),
            ({"messages": [{"role": "user", "content": "。。。!!"}]}, "a word or a number"),
        ],
    )
    def test_bad_bodies(self, client: TestClient, body: dict, needle: str) -> None:
        url = "/api/search" if "query" in body else "/api/chat"
        r = client.post(url, json=body)
        assert r.status_code == 422
        assert needle in r.json()["detail"]

    def test_only_punctuation_is_refused_on_the_openai_route_too(self, client: TestClient) -> None:
        r = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": "？？？"}]}
        )
        assert r.status_code == 400 and "a word or a number" in r.json()["detail"]

    def test_malformed_json_and_content_type(self, client: TestClient) -> None:
        r = client.post(
            "/api/search", content=b"{oops", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]
        r = client.post(
            "/api/search", content=b"\xff\xfe", headers={"Content-Type": "application/json"}
        )
        assert 400 <= r.status_code < 500
        r = client.post("/api/search", content=b"query=x", headers={"Content-Type": "text/plain"})
        assert 400 <= r.status_code < 500

    def test_chat_answer_quotes_its_citations(self, client: TestClient) -> None:
        r = chat(client, "嘉禾县信访事项化解率和群众满意率分别是多少？")
        assert r.status_code == 200
        body = r.json()
        assert body["found"] is True and body["citations"]
        assert body["question"] == "嘉禾县信访事项化解率和群众满意率分别是多少？"  # as asked
        assert "[1]" in body["answer"]
        for c in body["citations"]:
            assert c["n"] >= 1 and c["highlights"]
            for s, e in c["highlights"]:
                assert 0 <= s < e <= len(c["text"])
                assert c["text"][s:e] in body["answer"]  # every quoted sentence is in the answer

    def test_not_found(self, client: TestClient) -> None:
        r = chat(client, "Python 的快速排序怎么写？")
        assert r.status_code == 200
        assert r.json() == {
            "answer": NOT_FOUND,
            "question": "Python 的快速排序怎么写？",
            "found": False,
            "short_answer": None,
            "confidence": None,
            "citations": [],
            "related": [],
            "language": "zh",
        }

    def test_short_answer_and_spans(self, client: TestClient) -> None:
        r = chat(client, "恩平篮球赛有多少家企业捐资？")
        assert r.status_code == 200
        body = r.json()
        assert body["found"] is True and body["short_answer"] == "102"
        assert body["answer"].startswith("102\n\n") and 0 < body["confidence"] <= 1
        first = body["citations"][0]
        s, e = first["answer_span"]
        assert first["text"][s:e] == "102"
        es, ee = first["evidence_span"]
        assert s >= es and e <= ee and first["text"][es:ee] + "[1]" in body["answer"]

    def test_near_miss_shows_related_reading(self, client: TestClient) -> None:
        # on the topic (past the retrieval gate), but no sentence clears a strict reader
        client.app.state.answerer = ReaderAnswerer(FakeReader(), threshold=0.99)  # type: ignore[attr-defined,arg-type]
        r = chat(client, "恩平市总工会篮球赛的冠军是哪支队伍？")
        assert r.status_code == 200
        body = r.json()
        assert body["found"] is False and body["short_answer"] is None
        assert body["answer"] == NEAR_MISS and body["citations"] == []
        assert body["related"] and body["related"][0]["title"] == "“工BA”撬动百万善款"

    def test_follow_up_uses_the_conversation(self, client: TestClient) -> None:
        r = chat(client, "上海普陀区骑手新家有多少套房源？", "有98套房源。", "那租金呢？")
        assert r.status_code == 200
        body = r.json()
        assert body["found"] and body["citations"][0]["title"] == "上海外卖小哥入住星级公寓"
        assert body["short_answer"] == "550元"
        assert (
            body["question"] == "租金是多少？"
        )  # what it was read as (qa.conversation.standalone)

    def test_chat_stream(self, client: TestClient) -> None:
        r = chat(client, "恩平篮球赛有多少家企业捐资？", stream=True)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(e) for e in sse(r.text)]
        deltas = [e["text"] for e in events if e["type"] == "delta"]
        done = events[-1]
        assert done["type"] == "done" and deltas
        assert "".join(deltas) == done["answer"] and done["citations"]

    def test_article(self, client: TestClient) -> None:
        aid = ARTICLES[0].id
        r = client.get(f"/api/articles/{aid}")
        assert r.status_code == 200
        assert r.json()["title"] == ARTICLES[0].title and r.json()["text"] == ARTICLES[0].text
        r = client.get("/api/articles/nope")
        assert r.status_code == 404 and "nope" in r.json()["detail"]

    def test_html_in_corpus_stays_text(self, client: TestClient) -> None:
        r = client.get(f"/api/articles/{EVIL.id}")
        assert r.status_code == 200 and "<script>alert(1)</script>" in r.json()["text"]
        assert r.headers["content-type"].startswith("application/json")
        app_js = (ROOT / "web" / "app.js").read_text(encoding="utf-8")
        for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML", "document.write"):
            assert sink not in app_js, sink  # corpus text reaches the DOM only as text

    def test_page_served(self, client: TestClient) -> None:
        r = client.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/docs").status_code == 200


class TestOpenAICompatible:
    def test_models(self, client: TestClient) -> None:
        r = client.get("/v1/models")
        assert r.status_code == 200 and r.json()["data"][0]["id"] == "qa"

    def test_completion_object(self, client: TestClient) -> None:
        r = client.post(
            "/v1/chat/completions",
            json={
                "model": "qa",
                "messages": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": "嘉禾县群众满意率是多少？"},
                ],
                "temperature": 0.2,
            },
        )
        assert r.status_code == 200
        body = r.json()
        assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl-")
        choice = body["choices"][0]
        assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
        assert "来源" in choice["message"]["content"] and body["citations"]
        assert body["short_answer"] == "98.93%"  # the fake reader's first number
        assert choice["message"]["content"].startswith("**98.93%**")

    def test_stream_chunks(self, client: TestClient) -> None:
        r = client.post(
            "/v1/chat/completions",
            json={
                "messages": [{"role": "user", "content": "嘉禾县群众满意率是多少？"}],
                "stream": True,
            },
        )
        assert r.status_code == 200
        data = sse(r.text)
        assert data[-1] == "[DONE]"
        chunks = [json.loads(d) for d in data[:-1]]
        assert all(c["object"] == "chat.completion.chunk" for c in chunks)
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
        assert chunks[-1]["short_answer"] == "98.93%"


# -- the official openai client against a live server -----------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    d = tmp_path_factory.mktemp("live") / "index"
    emb = FakeEmbedder()
    build(ARTICLES, d, emb, progress=False)
    with serve(create_app(Settings(reload_seconds=0), searcher=Searcher.open(d, emb))) as base:
        yield base


def test_openai_client_both_modes(server: str) -> None:
    client = OpenAI(base_url=f"{server}/v1", api_key="unused", max_retries=0, timeout=30)
    messages = [{"role": "user", "content": "恩平篮球赛有多少家企业捐资？"}]
    resp = client.chat.completions.create(model="qa", messages=messages)  # type: ignore[arg-type]
    content = resp.choices[0].message.content or ""
    assert "102家企业" in content and "来源" in content
    citations = (resp.model_extra or {})["citations"]
    assert citations and citations[0]["title"] == "“工BA”撬动百万善款"

    stream = client.chat.completions.create(model="qa", messages=messages, stream=True)  # type: ignore[arg-type]
    pieces, last = [], None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        last = chunk
    assert "".join(pieces) == content
    assert last is not None and last.choices[0].finish_reason == "stop"
    assert (last.model_extra or {})["citations"][0]["title"] == "“工BA”撬动百万善款"
