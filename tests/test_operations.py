"""What an operator relies on: metrics, request ids, per-client limits, bounded waits."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from conftest import ARTICLES, FakeEmbedder, FakeReader
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.api.limits import TokenBuckets, parse_rate
from qa.config import Settings
from qa.errors import QAError
from qa.indexer import build
from qa.reader.answerer import ReaderAnswerer
from qa.search import Searcher

QUESTION = "嘉禾县群众满意率是多少？"


def client_for(tmp_path: Path, **settings) -> TestClient:
    emb = FakeEmbedder()
    if not (tmp_path / "i").exists():
        build(ARTICLES, tmp_path / "i", emb, progress=False)
    app = create_app(
        Settings(reload_seconds=0, **settings),
        searcher=Searcher.open(tmp_path / "i", emb),
        answerer=ReaderAnswerer(FakeReader()),  # type: ignore[arg-type]
    )
    return TestClient(app)


def chat(c: TestClient, key: str | None = None, path: str = "/api/chat"):  # noqa: ANN201
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return c.post(path, json={"messages": [{"role": "user", "content": QUESTION}]}, headers=headers)


class TestMetrics:
    def test_counts_latency_stages_answers_and_index(self, tmp_path: Path) -> None:
        c = client_for(tmp_path)
        assert chat(c).status_code == 200
        assert c.post("/api/search", json={"query": "月租金"}).status_code == 200
        assert c.post("/api/search", json={"query": ""}).status_code == 422
        assert c.get("/articles/nope").status_code == 404
        r = c.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        text = r.text
        assert 'qa_requests_total{method="POST",route="/api/chat",status="200"} 1.0' in text
        assert 'qa_requests_total{method="POST",route="/api/search",status="422"} 1.0' in text
        assert 'route="/articles/{article_id}",status="404"' in text  # templates, not ids
        for stage in ("encode", "retrieve", "fusion", "reader"):
            assert f'qa_stage_seconds_count{{stage="{stage}"}}' in text
        assert 'qa_answers_total{found="true"} 1.0' in text
        assert "qa_index_passages 3.0" in text and 'qa_index_info{model="fake-bigram"' in text
        assert 'qa_request_seconds_bucket{le="0.5",route="/api/chat"}' in text

    def test_metrics_behind_keys(self, tmp_path: Path) -> None:
        c = client_for(tmp_path, api_keys=("k",))
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer k"}).status_code == 200


class TestRequestIds:
    def test_returned_and_logged_without_key_or_question(self, tmp_path: Path, caplog) -> None:
        c = client_for(tmp_path, api_keys=("secret-key",), log_format="json")
        with caplog.at_level(logging.INFO, logger="qa.access"):
            r = chat(c, "secret-key")
            mine = c.get("/healthz", headers={"X-Request-ID": "abc-123"})
            odd = c.get("/healthz", headers={"X-Request-ID": "bad id\\n"})
        assert r.status_code == 200 and len(r.headers["x-request-id"]) == 16
        assert mine.headers["x-request-id"] == "abc-123"
        assert odd.headers["x-request-id"] != "bad id\\n"
        lines = [rec.getMessage() for rec in caplog.records if rec.name == "qa.access"]
        assert any(r.headers["x-request-id"] in line and '"status": 200' in line for line in lines)
        assert not any("secret-key" in line or "满意率" in line for line in lines)


class TestLimits:
    def test_parse_rate(self) -> None:
        assert parse_rate("20/s") == 20 and parse_rate("300/m") == 5 and parse_rate("") is None
        assert parse_rate("0") is None
        with pytest.raises(ValueError, match="20/s"):
            parse_rate("fast")

    def test_bucket_refills(self) -> None:
        now = [0.0]
        b = TokenBuckets(2.0, clock=lambda: now[0])
        assert b.take("a") == 0 and b.take("a") == 0
        assert b.take("a") == pytest.approx(0.5)
        assert b.take("b") == 0  # another client has its own bucket
        now[0] += 0.5
        assert b.take("a") == 0

    def test_one_key_limited_another_not(self, tmp_path: Path) -> None:
        c = client_for(tmp_path, api_keys=("k1", "k2"), rate_limit_chat="2/s")
        codes = [chat(c, "k1").status_code for _ in range(6)]
        assert codes[:2] == [200, 200] and 429 in codes
        refused = chat(c, "k1", "/v1/chat/completions")
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        body = refused.json()
        assert "rate limit" in body["error"]["message"] and body["error"]["type"]
        assert chat(c, "k2").status_code == 200  # the other key is untouched
        # search has its own limit (none here)
        for _ in range(5):
            r = c.post(
                "/api/search", json={"query": "月租金"}, headers={"Authorization": "Bearer k1"}
            )
            assert r.status_code == 200
        assert (
            'qa_rate_limited_total{limit="chat"}'
            in c.get("/metrics", headers={"Authorization": "Bearer k1"}).text
        )

    def test_bad_limit_setting_is_named(self, tmp_path: Path) -> None:
        with pytest.raises(QAError, match="QA_RATE_LIMIT_SEARCH"):
            client_for(tmp_path, rate_limit_search="lots")

    def test_saturated_service_answers_503_not_a_long_wait(self, tmp_path: Path) -> None:
        c = client_for(tmp_path, queue_timeout=0.05)
        import anyio

        c.app.state.limiter = anyio.CapacityLimiter(1)  # type: ignore[attr-defined]
        holder = object()
        with c:  # the app's event loop is running: take the only worker slot from it
            c.portal.call(lambda: c.app.state.limiter.acquire_on_behalf_of_nowait(holder))  # type: ignore[attr-defined,union-attr]
            r = c.post("/api/search", json={"query": "月租金"})
            assert r.status_code == 503 and r.headers["retry-after"] == "2"
            c.portal.call(lambda: c.app.state.limiter.release_on_behalf_of(holder))  # type: ignore[attr-defined,union-attr]
            assert c.post("/api/search", json={"query": "月租金"}).status_code == 200

    def test_stream_bound(self, tmp_path: Path) -> None:
        c = client_for(tmp_path, max_streams=1)
        c.app.state.streams.open_now = 1  # type: ignore[attr-defined]
        r = c.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": QUESTION}], "stream": True},
        )
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        c.app.state.streams.open_now = 0  # type: ignore[attr-defined]
        ok = c.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": QUESTION}], "stream": True},
        )
        assert ok.status_code == 200 and c.app.state.streams.open_now == 0  # type: ignore[attr-defined]
