"""The index on disk: incremental updates, atomic swap, and clear errors on damage."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import FakeEmbedder, make_article

from qa import store
from qa.errors import IndexError_
from qa.indexer import build
from qa.search import Searcher
from qa.tokens import tokenize


def _live(index_dir: Path) -> Path:
    version = store.current_version(index_dir)
    assert version is not None
    return version


def _segment(index_dir: Path) -> Path:
    """The live version's first segment folder."""
    version = _live(index_dir)
    manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    return version / manifest["segments"][0]


class TestIncremental:
    def test_index_in_the_older_layout_is_rewritten_without_encoding(
        self, tmp_path: Path, articles
    ) -> None:
        """A schema-1 version (one folder; the hash of each passage inside passages.jsonl) gives
        its embeddings to the next `qa index`, which writes the current layout."""
        from qa.indexer import content_hash, embed_text
        from qa.split import split_article

        emb = FakeEmbedder()
        d = tmp_path / "index"
        old = d / "v-20250101T000000-aaaaaa"
        old.mkdir(parents=True)
        passages = [(a, p) for a in articles for p in split_article(a)]
        texts = [embed_text(a, p) for a, p in passages]
        with (old / "passages.jsonl").open("w", encoding="utf-8") as f:
            for (_, p), t in zip(passages, texts, strict=True):
                f.write(
                    json.dumps({**p.to_dict(), "hash": content_hash(emb.model_id, "", t)}) + "\n"
                )
        np.save(old / "vectors.npy", emb.encode_passages(texts).astype(np.float16))
        (old / "manifest.json").write_text(
            json.dumps({"schema_version": 1, "model": emb.model_id}), encoding="utf-8"
        )
        (d / "CURRENT").write_text(old.name + "\n", encoding="utf-8")
        fresh = FakeEmbedder()
        report = build(articles, d, fresh, progress=False)
        assert report.written and fresh.encoded == 0 and report.reused == len(passages)
        loaded = store.load(d, tokenize)
        assert loaded.manifest["schema_version"] == store.SCHEMA_VERSION
        assert loaded.live == len(passages)

    def test_unchanged_corpus_encodes_nothing(self, index_dir: Path, articles) -> None:
        emb = FakeEmbedder()
        before = _live(index_dir)
        report = build(articles, index_dir, emb, progress=False)
        assert emb.encoded == 0
        assert report.encoded == 0 and report.unchanged == len(articles) and not report.written
        assert _live(index_dir) == before

    def test_new_article_encodes_only_its_passages(self, index_dir: Path, articles) -> None:
        emb = FakeEmbedder()
        extra = make_article("新文章", "乌鲁木齐市总工会建起479个工会户外劳动者服务站点。")
        report = build([*articles, extra], index_dir, emb, progress=False)
        assert report.added == 1 and report.encoded == 1 == emb.encoded
        assert report.reused == report.passages - 1
        assert (
            Searcher.open(index_dir, emb).search("乌鲁木齐服务站点", top_k=1)[0].article.id
            == extra.id
        )

    def test_changed_article_is_updated_not_duplicated(self, index_dir: Path, articles) -> None:
        emb = FakeEmbedder()
        changed = dataclasses.replace(articles[1], text=articles[1].text + "新增一句话。")
        report = build([articles[0], changed, articles[2]], index_dir, emb, progress=False)
        assert report.updated == 1 and report.added == 0 and emb.encoded >= 1
        loaded = store.load(index_dir, tokenize)
        assert len(loaded.articles) == len(articles)
        assert loaded.articles[changed.id].text.endswith("新增一句话。")

    def test_prune_removes_missing_articles(self, index_dir: Path, articles) -> None:
        report = build(articles[:2], index_dir, FakeEmbedder(), prune=True, progress=False)
        assert report.removed == 1
        assert set(store.load(index_dir, tokenize).articles) == {a.id for a in articles[:2]}

    def test_remove_by_id(self, index_dir: Path, articles) -> None:
        build([], index_dir, FakeEmbedder(), remove=[articles[0].id], progress=False)
        loaded = store.load(index_dir, tokenize)
        assert articles[0].id not in loaded.articles
        assert all(p.article_id != articles[0].id for p in loaded.passages)

    def test_manifest_records_model_and_counts(self, index_dir: Path, articles) -> None:
        _, manifest = store.read_manifest(index_dir)
        assert (
            manifest["model"] == "fake-bigram" and manifest["dim"] == 64 and manifest["normalized"]
        )
        assert manifest["articles"] == len(articles) and manifest["passages"] >= len(articles)
        assert len(manifest["corpus_checksum"]) == 64


class TestAtomicSwap:
    def test_crash_before_swap_leaves_old_index(
        self, index_dir: Path, articles, monkeypatch
    ) -> None:
        before = _live(index_dir)

        def boom(src, dst):  # the process dies between writing and swapping
            raise OSError("simulated crash")

        monkeypatch.setattr(os, "replace", boom)
        with pytest.raises(IndexError_, match="simulated crash.*untouched"):
            build(
                [*articles, make_article("崩溃", "写到一半。")],
                index_dir,
                FakeEmbedder(),
                progress=False,
            )
        monkeypatch.undo()
        assert _live(index_dir) == before
        loaded = store.load(index_dir, tokenize)
        assert len(loaded.articles) == len(articles)

    def test_leftover_temp_folders_are_cleaned(self, index_dir: Path, articles) -> None:
        (index_dir / ".tmp-v-dead").mkdir()
        build(
            [*articles, make_article("再来", "一篇新文章。")],
            index_dir,
            FakeEmbedder(),
            progress=False,
        )
        assert not list(index_dir.glob(".tmp-*"))
        assert len(list(index_dir.glob("v-*"))) <= 2

    def test_searcher_reload_picks_up_new_version(
        self, index_dir: Path, articles, embedder
    ) -> None:
        searcher = Searcher.open(index_dir, embedder)
        old = searcher.index
        assert not searcher.reload()
        build(
            [*articles, make_article("新闻", "武强县建立劳动监督委员会321家。")],
            index_dir,
            embedder,
            progress=False,
        )
        assert searcher.reload()
        assert searcher.index is not old and len(searcher.index.articles) == len(articles) + 1


class TestDamage:
    def test_missing_index_says_how_to_build(self, tmp_path: Path) -> None:
        with pytest.raises(IndexError_, match="qa index"):
            store.load(tmp_path / "none", tokenize)

    def test_model_mismatch(self, index_dir: Path) -> None:
        with pytest.raises(
            IndexError_, match=r"model 'fake-bigram'.*'m3e-small'.*qa index --rebuild"
        ):
            store.load(index_dir, tokenize, model="m3e-small")

    def test_dimension_mismatch(self, index_dir: Path) -> None:
        with pytest.raises(IndexError_, match="dimension 64.*512"):
            store.load(index_dir, tokenize, model="fake-bigram", dim=512)

    @pytest.mark.parametrize("name", ["vectors.npy", "dense.faiss", "passages.jsonl", "rows.npz"])
    def test_truncated_file_named(self, index_dir: Path, name: str) -> None:
        path = _segment(index_dir) / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        with pytest.raises(IndexError_, match=rf"{name}.*truncated.*rebuild"):
            store.load(index_dir, tokenize)

    def test_corrupted_file_fails_checksum(self, index_dir: Path) -> None:
        path = _segment(index_dir) / "articles.jsonl"
        data = bytearray(path.read_bytes())
        data[10] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(IndexError_, match="articles.jsonl fails its checksum"):
            store.load(index_dir, tokenize)

    def test_missing_file_named(self, index_dir: Path) -> None:
        (_segment(index_dir) / "dense.faiss").unlink()
        with pytest.raises(IndexError_, match="dense.faiss is missing"):
            store.load(index_dir, tokenize)

    def test_garbled_manifest(self, index_dir: Path) -> None:
        (_live(index_dir) / "manifest.json").write_text("{not json", encoding="utf-8")
        with pytest.raises(IndexError_, match="manifest.json is not valid JSON"):
            store.load(index_dir, tokenize)

    def test_old_schema(self, index_dir: Path) -> None:
        path = _live(index_dir) / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["schema_version"] = 0
        path.write_text(json.dumps(manifest), encoding="utf-8")
        with pytest.raises(IndexError_, match="schema 0"):
            store.load(index_dir, tokenize)


class TestLazyTables:
    """Articles and passages are read row by row from the memory-mapped files."""

    def test_loaded_tables_equal_what_was_built(self, index_dir: Path, articles) -> None:
        from qa.split import split_article

        loaded = store.load(index_dir, tokenize)
        want = [p for a in articles for p in split_article(a)]
        assert len(loaded.passages) == len(want) == len(loaded.hashes)
        assert list(loaded.passages) == want
        assert loaded.passages[-1] == want[-1] and loaded.passages[1:3] == want[1:3]
        assert dict(loaded.articles) == {a.id: a for a in articles}
        assert "no-such-article" not in loaded.articles
        with pytest.raises(KeyError):
            loaded.articles["no-such-article"]
        with pytest.raises(IndexError):
            loaded.passages[len(want)]

    def test_filters_use_the_stored_columns(self, index_dir: Path, articles) -> None:
        loaded = store.load(index_dir, tokenize)
        assert loaded.columns is not None
        rows = loaded.rows_of(article_ids=[articles[1].id])
        assert [loaded.passages[int(r)].article_id for r in rows] == [articles[1].id] * len(rows)
        assert len(rows) > 0
        assert len(loaded.rows_of(sources=[articles[0].source])) == sum(
            1 for p in loaded.passages if loaded.articles[p.article_id].source == articles[0].source
        )
        assert len(loaded.rows_of(sources=["nowhere.txt"], article_ids=["nothing"])) == 0


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf", "hnsw-sq8"])
def test_every_index_type_agrees_with_exact_search(tmp_path: Path, kind: str) -> None:
    emb = FakeEmbedder()
    docs = [
        make_article(
            f"文章{i}", f"第{i}篇：" + "工会服务职工站点建设" * (i % 7 + 1) + f"编号{i * 37}。"
        )
        for i in range(60)
    ]
    build(docs, tmp_path / "flat", emb, index_type="flat", progress=False)
    build(docs, tmp_path / kind, emb, index_type=kind, progress=False)
    exact = Searcher.open(tmp_path / "flat", emb)
    approx = Searcher.open(tmp_path / kind, emb)
    assert approx.index.manifest["index_type"] == kind
    for q in ["编号370", "工会服务站点", "第12篇"]:
        want = [h.passage.id for h in exact.search(q, top_k=3, mode="dense")]
        got = [h.passage.id for h in approx.search(q, top_k=3, mode="dense")]
        assert got[0] == want[0], (kind, q)
