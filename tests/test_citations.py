"""Citations where people chat: permalinks, the article page, OpenAI annotations, Open WebUI
source events, and requests exactly as front-ends send them (recorded in tests/data/clients/)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import ARTICLES, FakeEmbedder, FakeReader, make_article
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import Settings
from qa.indexer import build
from qa.links import Links, hit_span, link_secret, parse_span
from qa.models import Hit, Passage
from qa.reader.answerer import ReaderAnswerer
from qa.search import Searcher

DATA = Path(__file__).parent / "data" / "clients"
QUESTION = "嘉禾县群众满意率是多少？"
EVIL = make_article(
    "带<script>alert('t')</script>的标题",
    "正文里有<script>alert(1)</script>和<img src=x onerror=alert(2)>标签。工会驿站暖人心。",
)


def app_for(tmp_path: Path, **settings) -> TestClient:
    emb = FakeEmbedder()
    build([*ARTICLES, EVIL], tmp_path / "i", emb, progress=False)
    app = create_app(
        Settings(reload_seconds=0, **settings),
        searcher=Searcher.open(tmp_path / "i", emb),
        answerer=ReaderAnswerer(FakeReader()),  # type: ignore[arg-type]
    )
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return app_for(tmp_path)


def sse(text: str) -> list[str]:
    return [line[6:] for line in text.splitlines() if line.startswith("data: ")]


def local(url: str) -> str:
    """The path and query of a permalink, for the TestClient."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def quoted_sentence(client: TestClient, citation: dict) -> str:
    s, e = citation["evidence_span"] or citation["highlights"][0]
    return citation["text"][s:e]


class TestLinks:
    def test_public_link_names_passage_and_sentence(self) -> None:
        links = Links("http://qa.example/base/")
        url = links.article("abc", 3, (120, 168))
        assert url == "http://qa.example/base/articles/abc?p=3&hl=120-168#hl"
        assert links.article("abc", 2) == "http://qa.example/base/articles/abc?p=2#p2"
        assert links.verify("abc", None, None) is None  # no keys: every link opens

    def test_signed_link_verifies_and_expires(self) -> None:
        now = [1_000_000.0]
        links = Links("http://x", b"secret", ttl_seconds=60, clock=lambda: now[0])
        q = parse_qs(urlsplit(links.article("abc", 1, (0, 5))).query)
        exp, sig = q["exp"][0], q["sig"][0]
        assert links.verify("abc", exp, sig) is None
        assert links.verify("other", exp, sig) == "this link's signature does not match"
        assert links.verify("abc", exp, sig[:-1] + "0") is not None
        assert links.verify("abc", None, None) == "this link is not signed"
        now[0] += 61
        assert "expired" in (links.verify("abc", exp, sig) or "")

    def test_secret_comes_from_setting_or_keys(self) -> None:
        assert link_secret("", ()) is None
        assert link_secret("s", ("k",)) == b"s"
        assert link_secret("", ("a", "b")) == link_secret("", ("b", "a")) != link_secret("", ("a",))

    @pytest.mark.parametrize(
        "raw, expected",
        [
            ("3-9", (3, 9)),
            ("3-999", (3, 20)),
            ("9-3", None),
            ("x-1", None),
            ("", None),
            (None, None),
            ("30-40", None),
            ("-1-4", None),
        ],
    )
    def test_parse_span(self, raw, expected) -> None:
        assert parse_span(raw, 20) == expected

    def test_hit_span_is_in_article_offsets(self) -> None:
        a = ARTICLES[0]
        p = Passage("x-1", a.id, 1, a.text[10:40], 10, 40)
        hit = Hit(p, a, 1.0, highlights=[(2, 8)])
        assert hit_span(hit) == (12, 18)
        hit.evidence_span = (5, 9)
        assert hit_span(hit) == (15, 19)
        assert hit_span(Hit(p, a, 1.0)) == (10, 40)


class TestPermalinkPage:
    def test_every_citation_url_opens_the_highlighted_sentence(self, client: TestClient) -> None:
        r = client.post("/api/chat", json={"messages": [{"role": "user", "content": QUESTION}]})
        assert r.status_code == 200
        citations = r.json()["citations"]
        assert citations
        for c in citations:
            page = client.get(local(c["url"]))
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            html = page.text
            assert f"<h1>{c['title']}</h1>" in html
            mark = re.search(r'<mark id="hl">(.*?)</mark>', html)
            assert mark and mark.group(1) == quoted_sentence(client, c)
            assert f'id="p{c["passage_id"].rsplit("-", 1)[1].lstrip("0") or "0"}"' in html

    def test_passage_anchor_and_meta(self, client: TestClient) -> None:
        a = ARTICLES[0]
        html = client.get(f"/articles/{a.id}?p=0").text
        assert 'class="passage cited" id="p0"' in html
        assert "本报讯 记者裴龙翔" in html and 'name="viewport"' in html
        assert "<mark" not in html

    def test_unknown_article_is_a_404_page(self, client: TestClient) -> None:
        r = client.get("/articles/nope")
        assert r.status_code == 404
        assert "text/html" in r.headers["content-type"] and "nope" in r.text

    @pytest.mark.parametrize("hl", ["99999-100000", "5-2", "abc", "1-", "-"])
    def test_fragment_outside_the_text_is_ignored(self, client: TestClient, hl: str) -> None:
        r = client.get(f"/articles/{ARTICLES[0].id}?hl={hl}&p=zz")
        assert r.status_code == 200 and "<mark" not in r.text

    def test_article_cannot_inject_script(self, client: TestClient) -> None:
        cut = client.get(f"/articles/{EVIL.id}?hl=3-12").text  # a highlight inside a tag
        assert "<script>alert" not in cut and "<img src=x" not in cut
        html = client.get(f"/articles/{EVIL.id}").text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in html
        assert html.count("<script>") == 1  # only the page's own fragment script

    def test_behind_keys_signed_links_open_and_others_do_not(self, tmp_path: Path) -> None:
        client = app_for(tmp_path, api_keys=("k1",))
        auth = {"Authorization": "Bearer k1"}
        r = client.post(
            "/api/chat", json={"messages": [{"role": "user", "content": QUESTION}]}, headers=auth
        )
        assert r.status_code == 200
        url = r.json()["citations"][0]["url"]
        assert "sig=" in url and "exp=" in url
        assert client.get(local(url)).status_code == 200  # no key needed: the link is signed
        bare = urlsplit(url).path
        refused = client.get(bare)
        assert refused.status_code == 403 and "not signed" in refused.text
        assert client.get(bare, headers=auth).status_code == 200  # or the key itself
        forged = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 32, local(url))
        assert client.get(forged).status_code == 403

    def test_public_url_setting_is_the_base(self, tmp_path: Path) -> None:
        client = app_for(tmp_path, public_url="https://news.example/qa")
        r = client.post("/api/search", json={"query": QUESTION, "top_k": 2})
        assert r.status_code == 200
        assert all(
            h["url"].startswith("https://news.example/qa/articles/") for h in r.json()["results"]
        )


class TestOpenAIWireFormat:
    def test_annotations_point_at_markers(self, client: TestClient) -> None:
        r = client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION}]}
        )
        assert r.status_code == 200
        body = r.json()
        message = body["choices"][0]["message"]
        content, notes = message["content"], message["annotations"]
        assert notes and len(notes) == len(re.findall(r"\[\d+\]", content.split("**来源**")[0]))
        urls = {c["url"] for c in body["citations"]}
        for a in notes:
            assert a["type"] == "url_citation"
            u = a["url_citation"]
            assert content[u["start_index"] : u["end_index"]] in {
                f"[{c['n']}]" for c in body["citations"]
            }
            assert u["url"] in urls and u["title"]
        # the Markdown source list links every citation too (Markdown-only front-ends)
        for c in body["citations"]:
            assert f"]({c['url']})" in content
            assert client.get(local(c["url"])).status_code == 200

    def test_stream_sources_text_annotations_usage(self, client: TestClient) -> None:
        r = client.post(
            "/v1/chat/completions",
            json={
                "messages": [{"role": "user", "content": QUESTION}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
        assert r.status_code == 200
        data = sse(r.text)
        assert data[-1] == "[DONE]"
        chunks = [json.loads(d) for d in data[:-1]]
        events = [i for i, c in enumerate(chunks) if "event" in c]
        texts = [
            i
            for i, c in enumerate(chunks)
            if c["choices"] and c["choices"][0]["delta"].get("content")
        ]
        assert events and texts and max(events) < min(texts)  # sources before the text
        closing = next(c for c in chunks if c["choices"] and c["choices"][0]["finish_reason"])
        citations = closing["citations"]
        assert len(events) == len(citations)
        for i, c in zip(events, citations, strict=True):
            ev = chunks[i]["event"]
            assert ev["type"] == "source"
            assert ev["data"]["source"]["url"] == c["url"] and ev["data"]["document"] == [c["text"]]
            assert ev["data"]["metadata"][0] == {
                **ev["data"]["metadata"][0],
                "source": c["url"],
                "name": c["title"],
            }
            assert chunks[i]["choices"] == [
                {"index": 0, "delta": {}, "finish_reason": None, "logprobs": None}
            ]
        content = "".join(
            c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]
        )
        notes = closing["choices"][0]["delta"]["annotations"]
        assert notes and all(
            content[a["url_citation"]["start_index"] : a["url_citation"]["end_index"]].startswith(
                "["
            )
            for a in notes
        )
        usage = chunks[-1]
        assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == len(content)

    def test_no_usage_chunk_unless_asked(self, client: TestClient) -> None:
        r = client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": QUESTION}], "stream": True},
        )
        chunks = [json.loads(d) for d in sse(r.text)[:-1]]
        assert all("usage" not in c for c in chunks)

    def test_refusal_has_no_sources(self, client: TestClient) -> None:
        r = client.post(
            "/v1/chat/completions",
            json={
                "messages": [{"role": "user", "content": "Python 的列表推导式怎么写？"}],
                "stream": True,
            },
        )
        chunks = [json.loads(d) for d in sse(r.text)[:-1]]
        assert not any("event" in c for c in chunks)
        closing = chunks[-1]
        assert closing["found"] is False and closing["choices"][0]["delta"]["annotations"] == []

    def test_models_fields(self, client: TestClient) -> None:
        (model,) = client.get("/v1/models").json()["data"]
        assert {"id", "object", "created", "owned_by"} <= model.keys() and model[
            "object"
        ] == "model"


class TestWhatFrontEndsSend:
    @pytest.mark.parametrize("name", ["openwebui.json", "openai_python.json"])
    def test_recorded_requests_replay(self, client: TestClient, name: str) -> None:
        for rec in json.loads((DATA / name).read_text("utf-8")):
            body = rec["body"]
            r = client.post(
                rec["path"], json=body, headers={"user-agent": rec["headers"].get("user-agent", "")}
            )
            assert r.status_code == 200, r.text
            if body.get("stream"):
                assert sse(r.text)[-1] == "[DONE]"
            else:
                assert r.json()["choices"][0]["message"]["annotations"]

    def test_openwebui_fixture_is_what_it_sends(self) -> None:
        (rec,) = json.loads((DATA / "openwebui.json").read_text("utf-8"))
        assert rec["body"]["stream"] is True and len(rec["body"]["tools"]) >= 20

    def test_content_parts_system_and_unknown_fields(self, client: TestClient) -> None:
        r = client.post(
            "/v1/chat/completions",
            json={
                "model": "qa",
                "messages": [
                    {
                        "role": "system",
                        "content": "你是助手。" * 1000,
                    },  # long system prompts are fine
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": QUESTION},
                            {"type": "image_url", "image_url": {"url": "data:,"}},
                        ],
                    },
                ],
                "temperature": 0.7,
                "max_tokens": 100,
                "seed": 1,
                "user": "u",
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
                "frequency_penalty": 0,
                "something_new": {"a": 1},
            },
        )
        assert r.status_code == 200 and r.json()["found"] is True

    def test_image_only_message_is_a_clear_400(self, client: TestClient) -> None:
        r = client.post(
            "/v1/chat/completions",
            json={
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image_url", "image_url": {"url": "data:,"}}],
                    }
                ]
            },
        )
        assert r.status_code == 400
        body = r.json()
        assert "no text part" in body["detail"] and body["error"]["message"] == body["detail"]

    def test_errors_under_v1_are_openai_shaped(self, client: TestClient) -> None:
        r = client.post("/v1/chat/completions", json={"messages": []})
        assert r.status_code == 422
        assert r.json()["error"]["type"] == "invalid_request_error"

    def test_openai_client_reads_annotations(self, tmp_path: Path) -> None:
        from conftest import serve
        from openai import OpenAI

        emb = FakeEmbedder()
        build(ARTICLES, tmp_path / "i", emb, progress=False)
        app = create_app(
            Settings(reload_seconds=0),
            searcher=Searcher.open(tmp_path / "i", emb),
            answerer=ReaderAnswerer(FakeReader()),  # type: ignore[arg-type]
        )
        with serve(app) as base:
            oc = OpenAI(base_url=f"{base}/v1", api_key="unused", max_retries=0, timeout=30)
            resp = oc.chat.completions.create(
                model="qa", messages=[{"role": "user", "content": QUESTION}]
            )
            notes = resp.choices[0].message.annotations or []
            assert notes and notes[0].type == "url_citation"
            assert notes[0].url_citation.url.startswith(f"{base}/articles/")
            stream = oc.chat.completions.create(
                model="qa",
                messages=[{"role": "user", "content": QUESTION}],
                stream=True,
                stream_options={"include_usage": True},
            )
            chunks = list(stream)
            assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
