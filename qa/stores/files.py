"""The embedded store: FAISS + BM25 postings + JSONL tables in versioned folders of segments
(``qa.store``).

Keys are row numbers of the served version. A write builds a new version beside the live one and
switches the CURRENT pointer atomically; readers keep the version they started with. An edit of a
few articles costs time in proportion to the change: a new small segment, deleted marks, and hard
links to every unchanged segment (``_write_partial``); a full write (a first build, a rebuild, a
new field) carries the token statistics of unchanged passages over.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa import store, tokens
from qa.dense import APPROXIMATE_ABOVE, DenseIndex
from qa.errors import IndexError_, NotFound
from qa.lexical import LexicalIndex, Postings, Tokenizer
from qa.models import Article, Passage
from qa.store import HASH_DTYPE, SegmentData, VersionColumns
from qa.stores.base import Change, Filters, Mode, Retrieved

# Below this many allowed passages a filtered dense search is an exact dot product.
EXACT_FILTER_LIMIT = 20_000
# An edit adds a segment (and marks the old rows deleted) until deleted rows and rows of added
# segments pass this share of all rows, or a version would hold more than MAX_SEGMENTS; then the
# write compacts everything into one segment with a fresh dense index.
COMPACT_ABOVE = 0.1
MAX_SEGMENTS = 8


def _dot(
    vectors: Any, rows: list[int], known: Mapping[Hashable, float], qv: np.ndarray
) -> dict[Hashable, float]:
    """Scores of the rows not yet in ``known``, read in one gather (not a row at a time)."""
    missing = [r for r in rows if r not in known]
    if not missing:
        return {}
    sims = np.asarray(vectors[missing], dtype=np.float32) @ qv
    return dict(zip(missing, sims.tolist(), strict=True))


class FilesView:
    """Retrieval on one loaded version."""

    def __init__(self, index: store.Index) -> None:
        self.index = index

    def _allowed(self, filters: Filters | None) -> np.ndarray | None:
        if filters is None:
            return None
        return self.index.rows_of(filters.sources, filters.article_ids)

    def document_frequency(self, term: str) -> int | None:
        return self.index.lexical.document_frequency(term)

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
        if qv is not None:
            out.dense_scores.update(_dot(index.vectors, rows, out.dense_scores, qv))
        if all_bm25 is not None and rows:
            out.lexical_scores = dict(zip(rows, all_bm25[rows].tolist(), strict=True))
        if out.multilingual:
            assert ml is not None and mv is not None
            out.multilingual_scores.update(_dot(ml, rows, out.multilingual_scores, mv))
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
        # embeddings of an index in the older layout, by hash (``qa.store.legacy_vectors``)
        self.legacy: dict[str, np.ndarray] = {}

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
        return {"articles": len(idx.articles), "passages": idx.live, "model": idx.model}

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

    def passage_size(self) -> list[int] | None:
        """The passage split the stored passages were made with (None: not recorded)."""
        size = self._index.manifest.get("passage_size") if self._index is not None else None
        return list(size) if size else None

    def count_passages(self, article_ids: Iterable[str]) -> int:
        if self._index is None:
            return 0
        return len(self._index.rows_of(article_ids=list(article_ids)))

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        idx = self._index
        if idx is None:
            return {h: self.legacy[h] for h in hashes if h in self.legacy}
        if not hashes:
            return {}
        wanted = np.unique(np.array(list(hashes), dtype=HASH_DTYPE))
        out = _by_hash(idx.hash_array(), idx.vectors, wanted)
        # the multilingual field's hashes name another model, so they never collide with these
        if idx.ml_vectors is not None and idx.ml_hashes is not None:
            out |= _by_hash(store.hash_array(idx.ml_hashes), idx.ml_vectors, wanted)
        return out

    def write(self, change: Change) -> None:
        if self.index_dir is None:
            raise IndexError_("this store was opened from memory and has no folder to write to")
        fp = tokens.fingerprint() if self.tokenizer is tokens.tokenize else ""
        manifest = {**change.manifest, "tokenizer": fp}
        old = self._index
        if change.partial:
            if old is None or old.path is None or not old.segments:
                raise IndexError_("an incremental change needs a live index to apply to")
            self._write_partial(old, change, manifest)
        else:
            self._write_full(change, manifest, old)

    def _tokens(
        self, articles: Mapping[str, Article], passages: Sequence[Passage]
    ) -> list[list[str]]:
        return [self.tokenizer(f"{articles[p.article_id].title}\n{p.text}") for p in passages]

    def _write_full(
        self, change: Change, manifest: dict[str, object], old: store.Index | None
    ) -> None:
        """One new segment holding every passage. Token statistics of passages the live version
        already holds (same content hash, same tokenizer) are carried over, not re-tokenized."""
        n = len(change.passages)
        hashes = np.array(list(change.hashes), dtype=HASH_DTYPE)
        parts: list[tuple[Postings, np.ndarray]] = []
        todo = np.arange(n)
        if (
            old is not None
            and old.segments
            and not change.rebuild
            and manifest["tokenizer"]
            and old.manifest.get("tokenizer") == manifest["tokenizer"]
        ):
            old_hashes = old.hash_array()
            lookup: dict[bytes, int] = {}
            for row in np.flatnonzero(old._columns()[0] >= 0).tolist():
                lookup.setdefault(bytes(old_hashes[row]), row)
            # a passage whose text repeats keeps one old row; the others are tokenized again
            old_row = np.full(n, -1, dtype=np.int64)
            for j, h in enumerate(hashes):
                old_row[j] = lookup.pop(bytes(h), -1)
            parts = _carried(old, old_row)
            todo = np.flatnonzero(old_row < 0)
        fresh = Postings.build(
            self._tokens(change.articles, [change.passages[int(i)] for i in todo])
        )
        parts.append((fresh, todo.astype(np.int64)))
        postings = Postings.merge(parts, n)
        kind = str(change.manifest["index_type"])
        index = store.Index(
            articles=dict(change.articles),
            passages=list(change.passages),
            hashes=list(change.hashes),
            vectors=np.asarray(change.vectors, dtype=np.float16),
            dense=DenseIndex.build(np.asarray(change.vectors, dtype=np.float32), kind=kind),
            lexical=LexicalIndex([(0, postings)], n, self.tokenizer),
            ml_vectors=None
            if change.ml_vectors is None
            else np.asarray(change.ml_vectors, dtype=np.float16),
            ml_hashes=change.ml_hashes,
        )
        store.save(index, self.index_dir, manifest)  # type: ignore[arg-type]

    def _write_partial(self, old: store.Index, change: Change, manifest: dict[str, object]) -> None:
        """Apply the change to the live version: its passages (those of added and edited articles)
        go into a new segment, the old rows of edited and removed articles are marked deleted,
        and every other segment is shared as it is; or compact when that is due."""
        kind = str(change.manifest["index_type"])
        pa, ids, src = old._columns()
        ids_arr = np.array(ids, dtype=np.str_)
        doomed = np.array(sorted(change.changed | change.removed), dtype=np.str_)
        kept = ~np.isin(ids_arr, doomed) if len(doomed) else np.ones(len(ids), bool)
        new_pos = np.cumsum(kept) - 1
        pa_old = np.full(len(pa), -1, dtype=np.int32)
        alive = pa >= 0
        pa_old[alive] = np.where(kept[pa[alive]], new_pos[pa[alive]], -1)
        new_ids = [a for a in change.articles if a in change.changed]
        n_kept = int(kept.sum())
        position = {a: n_kept + i for i, a in enumerate(new_ids)}
        pa_new = np.array([position[p.article_id] for p in change.passages], dtype=np.int32)
        n_new = len(change.passages)
        rows = len(pa) + n_new
        deleted = int(np.count_nonzero(pa_old < 0))
        appended = sum(s.size for s in old.segments[1:]) + n_new
        new_postings = Postings.build(self._tokens(change.articles, change.passages))
        hashes = np.array(list(change.hashes), dtype=HASH_DTYPE)
        vectors = np.asarray(change.vectors, dtype=np.float32).reshape(n_new, old.vectors.shape[1])
        ml_vectors = None if change.ml_vectors is None else np.asarray(change.ml_vectors)
        ml_hashes = (
            None if change.ml_hashes is None else np.array(list(change.ml_hashes), HASH_DTYPE)
        )
        if (ml_vectors is None) != (old.ml_vectors is None):
            raise IndexError_("an incremental change must keep the index's fields")
        manifest = {**manifest, "passages": rows - deleted}
        sources = np.concatenate(
            [src[kept], np.array([change.articles[a].source for a in new_ids], dtype=np.str_)]
        )
        new_lines = [store._json_line(change.articles[a].to_dict()) for a in new_ids]
        passage_lines = [store._json_line(p.to_dict()) for p in change.passages]
        compact = (
            old.manifest.get("index_type") != kind
            or old.manifest.get("tokenizer") != manifest["tokenizer"]
            or len(old.segments) + 1 > MAX_SEGMENTS
            or deleted + appended > COMPACT_ABOVE * rows
        )
        if not compact:
            seg_kind = "flat" if n_new <= APPROXIMATE_ABOVE else kind
            start = len(pa)
            ids_new = np.arange(start, start + n_new, dtype=np.int64)
            seg = None
            if n_new:  # a change that only removes articles adds no segment
                seg = SegmentData(
                    new_ids,
                    new_lines,
                    passage_lines,
                    hashes,
                    vectors,
                    DenseIndex.build(vectors, ids_new, kind=seg_kind),
                    new_postings,
                    ml_vectors,
                    ml_hashes,
                )
            at_seg, at_row = old.article_at if old.article_at is not None else (None, None)
            assert at_seg is not None and at_row is not None
            columns = VersionColumns(
                [*ids_arr[kept].tolist(), *new_ids],
                sources,
                np.concatenate([at_seg[kept], np.full(len(new_ids), len(old.segments))]),
                np.concatenate([at_row[kept], np.arange(len(new_ids))]),
                np.concatenate([pa_old, pa_new]),
            )
            kinds = old.manifest.get("segment_kinds", {})
            linked = [
                (old.path / s.name, store.segment_files(old, s.name), str(kinds[s.name]))
                for s in old.segments
                if old.path is not None
            ]
            store.write_version(self.index_dir, manifest, linked, seg, columns)  # type: ignore[arg-type]
            return
        # compaction: the live rows and the new ones in one segment, rows numbered afresh
        live = np.flatnonzero(pa_old >= 0)
        n_live = len(live)
        old_lines: list[bytes] = []
        for s in old.segments:
            mine = live[(live >= s.start) & (live < s.start + s.size)] - s.start
            old_lines.extend(s.passage_lines.raw(int(r)) for r in mine)
        if old.manifest.get("tokenizer") == manifest["tokenizer"]:
            parts = _carried(old, live)
        else:  # another tokenizer (a new user dictionary): every passage is tokenized again
            kept_passages = [old.passages[int(r)] for r in live]
            retok = Postings.build(self._tokens(old.articles, kept_passages))
            parts = [(retok, np.arange(n_live, dtype=np.int64))]
        parts.append((new_postings, np.arange(n_live, n_live + n_new, dtype=np.int64)))
        postings = Postings.merge(parts, n_live + n_new)
        all_vectors = np.concatenate([np.asarray(old.vectors[live], dtype=np.float32), vectors])
        all_ml = all_ml_hashes = None
        if ml_vectors is not None and old.ml_vectors is not None and old.ml_hashes is not None:
            all_ml = np.concatenate([np.asarray(old.ml_vectors[live]), ml_vectors])
            old_ml_hashes = store.hash_array(old.ml_hashes)
            all_ml_hashes = np.concatenate([old_ml_hashes[live], ml_hashes])  # type: ignore[list-item]
        kept_ids = ids_arr[kept].tolist()
        articles = old.articles
        assert isinstance(articles, store.LazyArticles)
        seg = SegmentData(
            [*kept_ids, *new_ids],
            [articles.line(a) for a in kept_ids] + new_lines,
            old_lines + passage_lines,
            np.concatenate([old.hash_array()[live], hashes]),
            all_vectors,
            DenseIndex.build(all_vectors, kind=kind),
            postings,
            all_ml,
            all_ml_hashes,
        )
        n_articles = len(kept_ids) + len(new_ids)
        columns = VersionColumns(
            [*kept_ids, *new_ids],
            sources,
            np.zeros(n_articles, np.int32),
            np.arange(n_articles, dtype=np.int32),
            np.concatenate([pa_old[live], pa_new]),
        )
        store.write_version(self.index_dir, manifest, [], seg, columns)  # type: ignore[arg-type]


def _carried(old: store.Index, old_row: np.ndarray) -> list[tuple[Postings, np.ndarray]]:
    """The live version's postings for ``Postings.merge``: new row i takes the statistics of
    old row ``old_row[i]`` (-1: none; rows of nothing carried over are dropped)."""
    parts = []
    for seg in old.segments:
        new_row = np.full(seg.size, -1, dtype=np.int64)
        mine = np.flatnonzero((old_row >= seg.start) & (old_row < seg.start + seg.size))
        new_row[old_row[mine] - seg.start] = mine
        parts.append((seg.postings, new_row))
    return parts


def _by_hash(array: np.ndarray, vectors: object, wanted: np.ndarray) -> dict[str, np.ndarray]:
    """Rows of ``vectors`` whose hash in ``array`` is wanted, as float32, by hash."""
    rows = np.flatnonzero(np.isin(array, wanted))
    if not len(rows):
        return {}
    got = np.asarray(vectors[rows], dtype=np.float32)  # type: ignore[index]
    out: dict[str, np.ndarray] = {}
    for r, v in zip(rows, got, strict=True):
        out.setdefault(bytes(array[r]).decode(), v)
    return out
