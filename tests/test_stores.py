"""The store contract, one suite run against every store: the files store (FAISS + bm25s) and
Milvus (milvus-lite, embedded from a file; skipped with a reason when the extra is missing)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES, FakeEmbedder, make_article

from qa.errors import IndexError_, NotFound
from qa.indexer import build, folder_store
from qa.search import Searcher
from qa.stores.base import Filters, Store

HAS_MILVUS = importlib.util.find_spec("pymilvus") is not None and (
    importlib.util.find_spec("milvus_lite") is not None
)
STORES = [
    "files",
    pytest.param(
        "milvus",
        marks=pytest.mark.skipif(
            not HAS_MILVUS, reason="needs the milvus extra: pip install -e '.[milvus]'"
        ),
    ),
]
TRADITIONAL = make_article("嘉禾縣信訪工作", "嘉禾縣群眾滿意率達到99.67%。縣裡全面實施十條規定。")


def open_store(kind: str, tmp: Path, emb: FakeEmbedder, rebuild: bool = False) -> Store:
    if kind == "files":
        return folder_store(tmp / "index", emb, rebuild)
    from qa.stores.milvus import MilvusStore

    return MilvusStore(str(tmp / "milvus.db"), "qa_test", emb.model_id, emb.dim)


@pytest.fixture(params=STORES)
def kind(request) -> str:
    return request.param


@pytest.fixture
def filled(kind: str, tmp_path: Path) -> Iterator[tuple[Store, FakeEmbedder, Path]]:
    emb = FakeEmbedder()
    target = open_store(kind, tmp_path, emb)
    report = build([*ARTICLES, TRADITIONAL], tmp_path / "index", emb, target=target, progress=False)
    assert report.written and report.encoded == report.passages
    yield open_store(kind, tmp_path, emb), emb, tmp_path


def searcher(store: Store, emb: FakeEmbedder) -> Searcher:
    return Searcher(store, emb)


class TestContract:
    def test_stats_articles_and_passages(self, filled) -> None:
        store, _, _ = filled
        stats = store.stats()
        assert stats["articles"] == len(ARTICLES) + 1 and stats["passages"] >= len(ARTICLES) + 1
        a = ARTICLES[0]
        assert store.article(a.id) == a
        assert set(store.articles()) == {x.id for x in [*ARTICLES, TRADITIONAL]}
        ps = store.passages_of(a.id)
        assert ps and all(a.text[p.start : p.end] == p.text for p in ps)
        assert store.passages_of("nope") == []
        with pytest.raises(NotFound):
            store.article("nope")

    @pytest.mark.parametrize("mode", ["fused", "dense", "lexical"])
    def test_search_finds_the_article_with_every_score(self, filled, mode) -> None:
        store, emb, _ = filled
        hits = searcher(store, emb).search("上海骑手公寓月租金", top_k=3, mode=mode)
        assert hits and hits[0].article.title == "上海外卖小哥入住星级公寓"
        top = hits[0]
        if mode != "lexical":
            assert top.dense_score is not None and top.dense_rank is not None
        if mode != "dense":
            assert top.lexical_score is not None and top.lexical_score > 0
        assert top.passage.text in top.article.text

    def test_filters_are_values(self, filled) -> None:
        store, emb, _ = filled
        s = searcher(store, emb)
        only = ARTICLES[1].id
        hits = s.search("月租金", top_k=5, article_ids=[only])
        assert hits and {h.article.id for h in hits} == {only}
        by_source = s.search("满意率", top_k=5, sources=["fixture.txt"])
        assert by_source and all(h.article.source == "fixture.txt" for h in by_source)
        assert s.search("满意率", top_k=5, sources=["no-such-file.txt"]) == []

    def test_traditional_text_matches_simplified_question(self, filled) -> None:
        store, emb, _ = filled
        hits = searcher(store, emb).search("嘉禾县群众满意率", top_k=3, mode="lexical")
        assert TRADITIONAL.id in {h.article.id for h in hits}

    def test_edit_touches_only_its_passages_and_reuses_embeddings(self, filled, kind) -> None:
        store, emb, tmp = filled
        edited = replace(ARTICLES[0], text=ARTICLES[0].text + "公寓还配有共享厨房。")
        before = emb.encoded
        target = open_store(kind, tmp, emb)
        report = build([edited], tmp / "index", emb, target=target, progress=False)
        assert report.updated == 1 and report.written
        assert emb.encoded - before == len(store.passages_of(edited.id)) <= 2
        fresh = open_store(kind, tmp, emb)
        assert fresh.article(edited.id).text.endswith("共享厨房。")
        hits = searcher(fresh, emb).search("共享厨房", top_k=1, mode="lexical")
        assert hits[0].article.id == edited.id
        assert fresh.stats()["articles"] == len(ARTICLES) + 1  # nothing else lost

    def test_an_edit_that_shortens_an_article_leaves_no_stale_passage(self, filled, kind) -> None:
        _, emb, tmp = filled
        base = ARTICLES[0]
        sentences = "".join(
            f"第{i}号楼的公寓配有{i}台洗衣机和独立卫浴，月租金另行公布。" for i in range(40)
        )
        long = replace(base, text=sentences)
        build([long], tmp / "index", emb, target=open_store(kind, tmp, emb), progress=False)
        assert len(open_store(kind, tmp, emb).passages_of(base.id)) >= 3
        short = replace(base, text="全文已更新为一句话：公寓还配有共享厨房。")
        report = build(
            [short], tmp / "index", emb, target=open_store(kind, tmp, emb), progress=False
        )
        assert report.updated == 1
        fresh = open_store(kind, tmp, emb)
        assert [p.text for p in fresh.passages_of(base.id)] == [short.text]
        hits = searcher(fresh, emb).search("第17号楼洗衣机", top_k=10, mode="lexical")
        assert base.id not in {h.article.id for h in hits}
        assert fresh.stats()["articles"] == len(ARTICLES) + 1

    def test_remove_and_cache(self, filled, kind) -> None:
        store, emb, tmp = filled
        gone = ARTICLES[2].id
        target = open_store(kind, tmp, emb)
        report = build([], tmp / "index", emb, target=target, remove=[gone], progress=False)
        assert report.removed == 1
        fresh = open_store(kind, tmp, emb)
        assert gone not in fresh.articles() and fresh.passages_of(gone) == []
        with pytest.raises(NotFound):
            fresh.article(gone)
        hits = searcher(fresh, emb).search("篮球赛捐资", top_k=5)
        assert gone not in {h.article.id for h in hits}

    def test_unchanged_corpus_writes_nothing(self, filled, kind) -> None:
        _, emb, tmp = filled
        target = open_store(kind, tmp, emb)
        report = build([*ARTICLES, TRADITIONAL], tmp / "index", emb, target=target, progress=False)
        assert not report.written and report.encoded == 0


def test_same_ranking_on_both_stores(tmp_path: Path) -> None:
    if not HAS_MILVUS:
        pytest.skip("needs the milvus extra: pip install -e '.[milvus]'")
    emb = FakeEmbedder()
    results = {}
    for kind in ("files", "milvus"):
        target = open_store(kind, tmp_path / kind, emb)
        (tmp_path / kind).mkdir(exist_ok=True)
        build(
            [*ARTICLES, TRADITIONAL], tmp_path / kind / "index", emb, target=target, progress=False
        )
        s = searcher(open_store(kind, tmp_path / kind, emb), emb)
        results[kind] = [
            [
                (h.passage.id, round(h.lexical_score or 0.0, 4), round(h.score, 4))
                for h in s.search(q, top_k=3)
            ]
            for q in ("骑手公寓月租金", "群众满意率", "篮球赛企业捐资", "嘉禾縣十條規定")
        ]
    # one tokenizer, one BM25: the same passages with the same lexical and fused scores
    assert results["files"] == results["milvus"]


def test_multilingual_field_on_both_stores(kind: str, tmp_path: Path) -> None:
    """The second dense field: built beside the first, searched for English questions with every
    score on every hit, and reused by hash on an edit (only the edited article is encoded)."""
    from test_multilingual import FakeMultilingual

    emb, ml = FakeEmbedder(), FakeMultilingual()

    def index(articles: list, **kw):  # noqa: ANN003, ANN202
        target = open_store(kind, tmp_path, emb)
        return build(articles, tmp_path / "index", emb, target=target, progress=False, **kw)

    report = index(ARTICLES, multilingual=ml)
    assert report.ml_model == ml.model_id and report.ml_encoded == report.passages
    st = open_store(kind, tmp_path, emb)
    assert st.multilingual_model() == ml.model_id
    s = Searcher(st, emb, multilingual=ml)
    hits = s.search("What is the monthly rent of the Shanghai apartment?", 3)
    assert hits[0].article.title == "上海外卖小哥入住星级公寓"
    assert all(h.multilingual_score is not None and h.dense_score is not None for h in hits)
    edited = [*ARTICLES[:2], replace(ARTICLES[2], text="改过的正文。")]
    again = index(edited, multilingual=ml)
    assert again.encoded == again.ml_encoded == 1
    # turning the signal off drops the field (Milvus: a new collection, nothing encoded again)
    off = index(edited)
    assert off.written and off.encoded == 0
    assert open_store(kind, tmp_path, emb).multilingual_model() == ""


@pytest.mark.skipif(not HAS_MILVUS, reason="needs the milvus extra: pip install -e '.[milvus]'")
class TestMilvusFaults:
    def test_other_model_is_named(self, tmp_path: Path) -> None:
        from qa.stores.milvus import MilvusStore

        emb = FakeEmbedder()
        target = open_store("milvus", tmp_path, emb)
        build(ARTICLES, None, emb, target=target, progress=False)
        with pytest.raises(IndexError_, match="built with model 'fake-bigram'.*--rebuild"):
            MilvusStore(str(tmp_path / "milvus.db"), "qa_test", "m3e-small", 512)

    def test_dropped_collection_is_a_clear_error(self, tmp_path: Path) -> None:
        emb = FakeEmbedder()
        target = open_store("milvus", tmp_path, emb)
        build(ARTICLES, None, emb, target=target, progress=False)
        target.client.drop_collection("qa_test")  # type: ignore[attr-defined]
        with pytest.raises(IndexError_, match="does not exist.*qa index"):
            searcher(target, emb).search("月租金")

    def test_collection_of_the_old_analyzer_asks_for_a_rebuild(self, tmp_path: Path) -> None:
        from qa.stores.milvus import MilvusStore

        emb = FakeEmbedder()
        target = open_store("milvus", tmp_path, emb)
        build(ARTICLES, None, emb, target=target, progress=False)
        meta = {**target._meta(), "schema": 1}  # type: ignore[attr-defined]
        target.client.upsert(  # type: ignore[attr-defined]
            "qa_test_articles",
            [
                {
                    "key": "__qa_meta__:0",
                    "article_id": "__qa_meta__",
                    "part": 0,
                    "v": [0.0, 0.0],
                    "data": json.dumps(meta),
                }
            ],
        )
        with pytest.raises(IndexError_, match="schema 1.*--rebuild"):
            MilvusStore(str(tmp_path / "milvus.db"), "qa_test", emb.model_id, emb.dim)

    def test_uri_that_does_not_answer(self) -> None:
        from qa.stores.milvus import MilvusStore

        with pytest.raises(IndexError_, match="does not answer.*QA_MILVUS_URI"):
            MilvusStore("http://127.0.0.1:9", "qa_test", "m", 4)

    def test_filter_values_are_quoted(self) -> None:
        from qa.stores.milvus import expression

        expr = expression(Filters(sources=('a"b.txt',), article_ids=("x",)))
        assert expr == 'source in ["a\\"b.txt"] or article_id in ["x"]'


def test_files_edit_tokenizes_only_the_changed_passages(tmp_path: Path, monkeypatch) -> None:
    from qa import store, tokens

    emb = FakeEmbedder()
    corpus = [*ARTICLES, TRADITIONAL]
    build(corpus, tmp_path / "index", emb, progress=False)
    live = store.load(tmp_path / "index", tokens.tokenize)
    assert live.manifest["tokenizer"] == tokens.fingerprint()
    seen: list[str] = []
    real = tokens._cut

    def spy(run: str) -> tuple[str, ...]:
        seen.append(run)
        return real.__wrapped__(run)  # type: ignore[attr-defined]

    monkeypatch.setattr(tokens, "_cut", spy)
    edited = replace(ARTICLES[0], text=ARTICLES[0].text + "公寓还配有共享厨房。")
    build([edited], tmp_path / "index", emb, progress=False)
    during_edit = set(seen)
    seen.clear()
    for p in folder_store(tmp_path / "index", emb).passages_of(edited.id):
        tokens.tokenize(f"{edited.title}\n{p.text}")
    # only the edited article's passages (title + text) went through jieba
    assert during_edit and during_edit <= set(seen)
    monkeypatch.undo()
    # a changed user dictionary invalidates the cached tokens
    userdict = tmp_path / "dict.txt"
    userdict.write_text("共享厨房 10 n\n", encoding="utf-8")
    tokens.configure(userdict)
    try:
        assert tokens.fingerprint() != live.manifest["tokenizer"]
    finally:
        tokens.configure(None)


@pytest.mark.parametrize("kind", ["hnsw", "flat"])
def test_files_edit_adds_a_segment_and_shares_the_rest(tmp_path: Path, kind: str) -> None:
    from qa import store, tokens

    emb = FakeEmbedder()
    d = tmp_path / "index"
    many = [
        make_article(f"第{i}篇 工会新闻", f"第{i}篇文章的内容，职工{i}人参加活动。")
        for i in range(40)
    ]
    corpus = [*ARTICLES, *many]
    build(corpus, d, emb, index_type=kind, progress=False)
    first = store.load(d, tokens.tokenize)
    base = first.manifest["segments"][0]
    edited = replace(ARTICLES[0], text=ARTICLES[0].text + "公寓还配有共享厨房。")
    build([edited], d, emb, index_type=kind, progress=False)
    live = store.load(d, tokens.tokenize)
    assert live.path is not None and first.path is not None
    # the unchanged segment is the same files (hard links), the edit is a segment of its own
    assert live.manifest["segments"][0] == base and len(live.manifest["segments"]) == 2
    for name in ("vectors.npy", "dense.faiss", "passages.jsonl", "bm25/rows.npy"):
        assert (live.path / base / name).stat().st_ino == (first.path / base / name).stat().st_ino
    old_rows = len(first.rows_of(article_ids=[edited.id]))
    new_rows = len(live.rows_of(article_ids=[edited.id]))
    assert len(live.deleted) == old_rows and len(live.passages) == len(first.passages) + new_rows
    assert live.live == live.manifest["passages"] == len(first.passages) - old_rows + new_rows
    assert live.articles[edited.id] == edited and len(live.articles) == len(corpus)
    fresh = tmp_path / "fresh"
    build([edited, *ARTICLES[1:], *many], fresh, emb, index_type=kind, progress=False)
    s, exact = Searcher.open(d, emb), Searcher.open(fresh, emb)
    for q in ("公寓共享厨房", "骑手公寓月租金", "第7篇文章职工", "群众满意率"):
        for mode in ("dense", "fused"):
            got = [(h.passage.id, h.passage.text) for h in s.search(q, top_k=5, mode=mode)]
            want = [(h.passage.id, h.passage.text) for h in exact.search(q, top_k=5, mode=mode)]
            assert got == want, (q, mode)
    # removing an article adds no segment; its rows are never returned, by any signal or filter
    build([], d, emb, index_type=kind, remove=[ARTICLES[1].id], progress=False)
    after = store.load(d, tokens.tokenize)
    assert len(after.manifest["segments"]) == 2 and ARTICLES[1].id not in after.articles
    searcher = Searcher.open(d, emb)
    for mode in ("dense", "lexical", "fused"):
        hits = searcher.search("骑手公寓月租金", top_k=50, mode=mode)
        assert ARTICLES[1].id not in {h.article.id for h in hits}
    assert not searcher.search("骑手公寓", top_k=5, article_ids=[ARTICLES[1].id])
    # past the compaction share the write makes one segment again; below it, the deleted and the
    # appended rows never pass that share
    from qa.stores.files import COMPACT_ABOVE

    counts = []
    for i in range(6):
        build(
            [replace(a, text=a.text + f"补充{i}。") for a in many[:2]],
            d,
            emb,
            index_type=kind,
            progress=False,
        )
        now = store.load(d, tokens.tokenize)
        counts.append(len(now.manifest["segments"]))
        appended = sum(seg.size for seg in now.segments[1:])
        assert len(now.deleted) + appended <= COMPACT_ABOVE * len(now.passages)
        if counts[-1] == 1:
            assert not len(now.deleted) and now.live == len(now.passages)
    assert 1 in counts and 2 in counts


def test_files_lexical_scores_match_bm25s_on_one_segment() -> None:
    """The postings compute Lucene's BM25 exactly as bm25s does."""
    import bm25s

    from qa.lexical import LexicalIndex
    from qa.tokens import tokenize

    docs = [tokenize(f"{a.title}\n{a.text}") for a in [*ARTICLES, TRADITIONAL]]
    ours = LexicalIndex.build(docs, tokenize)
    ref = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    ref.index(docs, show_progress=False)
    for q in ("骑手公寓月租金", "工会 职工 活动", "群众满意率", "没有的词语"):
        terms = [t for t in dict.fromkeys(tokenize(q)) if t in ref.vocab_dict]
        want = ref.get_scores(terms) if terms else np.zeros(len(docs))
        np.testing.assert_allclose(ours.scores(q), want, rtol=1e-5, atol=1e-6)
