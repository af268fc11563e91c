"""The embedded store: FAISS + bm25s + JSONL tables in versioned folders (``qa.store``).

Keys are row numbers of the served version. A write builds a complete new version beside the
live one and switches the CURRENT pointer atomically (``qa.store.save``); readers keep the
version they started with.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path

import numpy as np

from qa import store, tokens
from qa.dense import DenseIndex
from qa.errors import IndexError_, NotFound
from qa.lexical import LexicalIndex, Tokenizer
from qa.models import Article, Passage
from qa.stores.base import Change, Filters, Mode, Retrieved

# Below this many allowed passages a filtered dense search is an exact dot product.
EXACT_FILTER_LIMIT = 20_000
# An edit updates the HNSW graph in place until retired nodes pass this share of live ones; then
# the next write builds it afresh (compaction).
COMPACT_ABOVE = 0.1


class FilesView:
    """Retrieval on one loaded version."""

    def __init__(self, index: store.Index) -> None:
        self.index = index

    def _allowed(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None:
            return None
        return self.index.rows_of(filters.sources, filters.article_ids)

    def _cosine(self, row: int, qv: np.ndarray) -> float:
        return float(np.asarray(self.index.vectors[row], dtype=np.float32) @ qv)

    def retrieve(
        self,
        query: str,
        qv: np.ndarray | None,
        n: int,
        filters: Filters | None,
        mode: Mode,
        mv: np.ndarray | None = None,
    ) -> Retrieved:
        index = self.index
        allowed = self._allowed(filters)
        out = Retrieved()
        if allowed is not None and len(allowed) == 0:
            out.empty = True
            return out
        if mode != "lexical":
            assert qv is not None
            if allowed is not None and len(allowed) <= EXACT_FILTER_LIMIT:
                sims = np.asarray(index.vectors[allowed], dtype=np.float32) @ qv
                order = np.argsort(-sims)[:n]
                out.dense = [int(allowed[i]) for i in order]
                out.dense_scores = {int(allowed[i]): float(sims[i]) for i in order}
            else:
                scores, ids = index.dense.search(qv[None, :], n, allowed)
                for s, i in zip(scores[0], ids[0], strict=True):
                    if i >= 0:
                        out.dense.append(int(i))
                        out.dense_scores[int(i)] = float(s)
        all_bm25 = None
        if mode != "dense":
            all_bm25 = index.lexical.scores(query)
            if allowed is not None:
                masked = np.zeros_like(all_bm25)
                masked[allowed] = all_bm25[allowed]
                all_bm25 = masked
            m = min(n, int(np.count_nonzero(all_bm25 > 0)))
            if m > 0:
                top = np.argpartition(-all_bm25, m - 1)[:m]
                out.lexical = [int(i) for i in top[np.argsort(-all_bm25[top], kind="stable")]]
        ml = index.ml_vectors
        if mv is not None and ml is not None and mode == "fused":
            # exact: the field is built for corpora of tens of thousands of passages at most
            rows_ml = allowed if allowed is not None else slice(None)
            sims = np.asarray(ml[rows_ml], dtype=np.float32) @ mv
            top = np.argsort(-sims)[:n]
            ids = allowed[top] if allowed is not None else top
            out.multilingual = [int(i) for i in ids]
            out.multilingual_scores = {
                int(i): float(sims[t]) for i, t in zip(ids, top, strict=True)
            }
        # every candidate of any list gets every score (what score fusion needs)
        keys = [*out.dense, *out.lexical, *out.multilingual]
        rows: list[int] = list(dict.fromkeys(int(k) for k in keys))  # type: ignore[call-overload]
        for row in rows:
            if qv is not None and row not in out.dense_scores:
                out.dense_scores[row] = self._cosine(row, qv)
            if all_bm25 is not None:
                out.lexical_scores[row] = float(all_bm25[row])
            if out.multilingual and row not in out.multilingual_scores:
                assert ml is not None and mv is not None
                out.multilingual_scores[row] = float(np.asarray(ml[row], dtype=np.float32) @ mv)
        return out

    def fetch(self, keys: Sequence[Hashable]) -> list[tuple[Passage, Article]]:
        out = []
        for row in keys:
            passage = self.index.passages[row]  # type: ignore[call-overload]
            out.append((passage, self.index.articles[passage.article_id]))
        return out


class FilesStore:
    """The folder store. ``refresh`` loads a version another process (``qa index``) wrote."""

    name = "files"

    def __init__(
        self,
        index_dir: Path | None,
        tokenizer: Tokenizer,
        model: str | None = None,
        dim: int | None = None,
        index: store.Index | None = None,
    ) -> None:
        self.index_dir = None if index_dir is None else Path(index_dir)
        self.tokenizer = tokenizer
        self.model = model
        self.dim = dim
        self._lock = threading.Lock()
        self._index = index

    @classmethod
    def open(
        cls, index_dir: Path, tokenizer: Tokenizer, model: str | None, dim: int | None
    ) -> FilesStore:
        """The live version, checked against the model and dimension (``IndexError_``)."""
        index = store.load(Path(index_dir), tokenizer, model=model, dim=dim)
        return cls(index_dir, tokenizer, model, dim, index)

    @property
    def index(self) -> store.Index:
        if self._index is None:
            raise IndexError_(f"no index in {self.index_dir}: run `qa index` first")
        return self._index

    def swap(self, index: store.Index) -> None:
        """Serve another loaded version; requests already running finish on the old one."""
        with self._lock:
            self._index = index

    def snapshot(self) -> FilesView:
        return FilesView(self.index)

    def refresh(self) -> bool:
        if self.index_dir is None:
            return False
        version = store.current_version(self.index_dir)
        if version is None or (self._index is not None and version == self._index.path):
            return False
        self.swap(store.load(self.index_dir, self.tokenizer, model=self.model, dim=self.dim))
        return True

    def version(self) -> str:
        path = self._index.path if self._index is not None else None
        return path.name if path else ""

    def layout(self) -> str:
        return str(self.index.manifest.get("index_type", "")) if self._index is not None else ""

    def stats(self) -> dict[str, int | str]:
        idx = self.index
        return {"articles": len(idx.articles), "passages": len(idx.passages), "model": idx.model}

    def multilingual_model(self) -> str:
        return self._index.ml_model if self._index is not None else ""

    def article(self, article_id: str) -> Article:
        try:
            return self.index.articles[article_id]
        except KeyError:
            raise NotFound(f"no article with id {article_id!r}") from None

    def articles(self) -> Mapping[str, Article]:
        return self.index.articles

    def passages_of(self, article_id: str) -> list[Passage]:
        index = self.index
        rows = index.rows_of(article_ids=[article_id])
        return sorted((index.passages[int(r)] for r in rows), key=lambda p: p.ordinal)

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        if self._index is None:
            return {}
        wanted = set(hashes)
        out = {
            h: np.asarray(self._index.vectors[i], dtype=np.float32)
            for i, h in enumerate(self._index.hashes)
            if h in wanted
        }
        # the multilingual field's hashes name another model, so they never collide with these
        if self._index.ml_vectors is not None and self._index.ml_hashes is not None:
            ml = self._index.ml_vectors
            out |= {
                h: np.asarray(ml[i], dtype=np.float32)
                for i, h in enumerate(self._index.ml_hashes)
                if h in wanted
            }
        return out

    def write(self, change: Change) -> None:
        if self.index_dir is None:
            raise IndexError_("this store was opened from memory and has no folder to write to")
        kind = str(change.manifest["index_type"])
        # tokens of unchanged passages come from the live version (jieba is most of an edit's cost)
        fp = tokens.fingerprint() if self.tokenizer is tokens.tokenize else ""
        cache = (
            store.cached_tokens(self._index, fp)
            if self._index is not None and fp and not change.rebuild
            else {}
        )
        token_lists = []
        for p, h in zip(change.passages, change.hashes, strict=True):
            toks = cache.get(h)
            if toks is None:
                toks = self.tokenizer(f"{change.articles[p.article_id].title}\n{p.text}")
            token_lists.append(toks)
        dense = self._updated_graph(change, kind)
        if dense is None:
            dense = DenseIndex.build(np.asarray(change.vectors, dtype=np.float32), kind=kind)
        index = store.Index(
            articles=dict(change.articles),
            passages=list(change.passages),
            hashes=list(change.hashes),
            vectors=np.asarray(change.vectors, dtype=np.float16),
            dense=dense,
            lexical=LexicalIndex.build(token_lists, self.tokenizer),
            tokens=token_lists if fp else None,
            ml_vectors=None
            if change.ml_vectors is None
            else np.asarray(change.ml_vectors, dtype=np.float16),
            ml_hashes=change.ml_hashes,
        )
        manifest = {**change.manifest, "tokenizer": fp, "dense_retired": dense.retired}
        store.save(index, self.index_dir, manifest)

    def _updated_graph(self, change: Change, kind: str) -> DenseIndex | None:
        """The live HNSW graph with the change applied in place (unchanged passages keep their
        nodes under their new row numbers, edited and removed ones are retired, new ones are
        inserted), or None when a full build is due: another layout, a rebuild, or retired
        nodes past ``COMPACT_ABOVE`` of the live ones."""
        old = self._index
        if (
            old is None
            or old.path is None
            or change.rebuild
            or not kind.startswith("hnsw")
            or old.manifest.get("index_type") != kind
        ):
            return None
        row_of = {
            (p.id, h): i
            for i, (p, h) in enumerate(zip(change.passages, change.hashes, strict=True))
        }
        dense = DenseIndex.read(old.path / "dense.faiss", kind)  # in memory: it will change
        entries = dense.entry_ids()
        mapped = np.full(len(entries), -1, dtype=np.int64)
        for i, old_row in enumerate(entries):
            if old_row >= 0:
                key = (old.passages[int(old_row)].id, old.hashes[int(old_row)])
                mapped[i] = row_of.get(key, -1)
        retired = int(np.count_nonzero(mapped < 0))
        if retired > COMPACT_ABOVE * max(1, len(change.passages)):
            return None
        fresh = np.setdiff1d(np.arange(len(change.passages)), mapped[mapped >= 0])
        vectors = np.asarray(change.vectors, dtype=np.float32)[fresh]
        dense.remap(mapped, vectors, fresh)
        return dense
