"""Shared fixtures: a hash-based fake embedder, three short Chinese articles, a built index."""

from __future__ import annotations

import contextlib
import hashlib
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import uvicorn

from qa.indexer import build
from qa.models import Article, stable_id
from qa.reader.model import Reading
from qa.search import Searcher

ROOT = Path(__file__).resolve().parent.parent


class FakeEmbedder:
    """Deterministic vectors from hashed character bigrams: texts sharing words are close."""

    model_id = "fake-bigram"
    dim = 64
    query_prefix = ""
    passage_prefix = ""

    def __init__(self) -> None:
        self.encoded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        chars = [c for c in text if not c.isspace()]
        for a, b in zip(chars, chars[1:] + [""], strict=True):
            h = int.from_bytes(hashlib.md5((a + b).encode()).digest()[:4], "little")
            v[h % self.dim] += 1.0 if h & 1 << 31 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def encode_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        self.encoded += len(texts)
        if progress:
            progress(len(texts))
        return (
            np.stack([self._vec(t) for t in texts])
            if texts
            else np.zeros((0, self.dim), np.float32)
        )


class FakeReader:
    """Stands in for the trained reader: a sentence answers when it holds most of the question's
    characters; the span is its first number, with 元 or % after it (or its first four
    characters)."""

    threshold = 0.4
    span_weight = 0.0  # "found" on the probability alone (``qa.reader.model.answer_confidence``)
    span_center = 0.0

    def read(
        self, question: str, sentences: Sequence[str], contexts: Sequence[str] | None = None
    ) -> list[Reading]:
        out = []
        chars = {c for c in question if c.isalnum() and c not in "多少几什么哪谁是的"}
        for s in sentences:
            p = len(chars & set(s)) / max(1, len(chars))
            m = re.search(r"\d+(?:\.\d+)?[%元]?", s)
            start, end = (m.start(), m.end()) if m else (0, min(4, len(s)))
            out.append(Reading(p, start, end))
        return out


def make_article(title: str, text: str, source: str = "fixture.txt", **kw: str) -> Article:
    return Article(id=stable_id(source, title), title=title, text=text, source=source, **kw)


ARTICLES = [
    make_article(
        "上海外卖小哥入住星级公寓",
        "上海市普陀区联合饿了么举办“骑手新家”入住预选仪式。公寓有98套房源，可提供300余张床位。"
        "月租金在550元～950元不等，房间配置洗烘一体机。",
        byline="本报讯 记者裴龙翔",
    ),
    make_article(
        "嘉禾县信访工作提质增效",
        "湖南郴州市嘉禾县信访事项一次性化解率和群众满意率分别达到98.93%和99.67%。全面实施“十条规定”。",
        source="other.txt",
    ),
    make_article(
        "“工BA”撬动百万善款",
        "恩平市总工会创新“体育+公益”模式，以篮球赛为契机开展慈善筹款。102家企业捐资，筹集逾410万元善款。"
        "聊城经开区构建“1+1+4”阵地服务体系。",
    ),
]


@pytest.fixture
def embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def articles() -> list[Article]:
    return list(ARTICLES)


@pytest.fixture
def index_dir(tmp_path: Path, embedder: FakeEmbedder, articles: list[Article]) -> Path:
    d = tmp_path / "index"
    build(articles, d, embedder, progress=False)
    return d


@pytest.fixture
def searcher(index_dir: Path, embedder: FakeEmbedder) -> Searcher:
    return Searcher.open(index_dir, embedder)


@pytest.fixture(scope="session")
def real_embedder():
    """The real default model (m3e-small), loaded once per session."""
    from qa.config import Settings
    from qa.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder.from_settings(Settings.from_env())


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, real_embedder) -> Path:
    """The seed pages indexed with the real model, once per session."""
    from qa.ingest import ingest

    d = tmp_path_factory.mktemp("seed") / "index"
    build(ingest([ROOT / "seeds"]).articles, d, real_embedder, progress=False)
    return d


@pytest.fixture(scope="session")
def seed_searcher(seed_index: Path, real_embedder) -> Searcher:
    return Searcher.open(seed_index, real_embedder)


@pytest.fixture(scope="session")
def seed_answerer(seed_searcher: Searcher):
    """The committed trained reader (embeddings/reader), as the service loads it."""
    from qa.config import Settings
    from qa.reader.answerer import ReaderAnswerer, load_answerer

    answerer = load_answerer(Settings(), seed_searcher)
    assert isinstance(answerer, ReaderAnswerer), "the reader bundle embeddings/reader is missing"
    return answerer


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, attempts: int = 300) -> bool:
    """Poll ``/healthz`` of a server starting in another process until it answers 200."""
    import httpx

    for _ in range(attempts):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.1)
    return False


@contextlib.contextmanager
def serve(app) -> Iterator[str]:
    """Run an app with uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not server.started:
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
