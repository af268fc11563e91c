"""FAISS index over unit vectors: build by corpus size, search with an optional id filter, save, load."""

from __future__ import annotations

import errno
import math
import os
import threading
from pathlib import Path
from typing import Any, Literal

import faiss as _faiss
import numpy as np

# faiss's SWIG stubs miss the keyword arguments of its parameter classes; treat it as untyped.
faiss: Any = _faiss

IndexType = Literal["auto", "flat", "hnsw", "ivf", "hnsw-sq8"]
INDEX_TYPES: tuple[str, ...] = ("auto", "flat", "hnsw", "ivf", "hnsw-sq8")
# Below this many passages exact search is fast enough (a few ms on two cores) and has perfect recall.
APPROXIMATE_ABOVE = 50_000
# HNSW search breadth: 128 keeps recall@10 above 0.99 at 100k passages; at a million it gave 0.947,
# so larger indexes search wider (bench/RESULTS.md has the sweep).
EF_SEARCH = 128
EF_SEARCH_LARGE = 256
LARGE_ABOVE = 500_000


_local = threading.local()


def search_threads() -> None:
    """One OpenMP thread for this thread's searches. A single query gains nothing from more, and
    OpenMP threads spinning after each search take the cores the query encoder needs: at 100k
    passages search p50 went from 16 to 10 ms, p99 from 30 to 13 ms (bench/RESULTS.md). The
    setting belongs to the calling thread, so each thread makes it once, before its first search."""
    if not getattr(_local, "single", False):
        faiss.omp_set_num_threads(1)
        _local.single = True


def choose_type(n: int, requested: str = "auto") -> str:
    if requested not in INDEX_TYPES:
        raise ValueError(f"index type must be one of {', '.join(INDEX_TYPES)}, got {requested!r}")
    if requested != "auto":
        return requested
    return "flat" if n <= APPROXIMATE_ABOVE else "hnsw"


class DenseIndex:
    """Inner product search; inner product equals cosine on normalized vectors.

    Vectors are added with explicit int64 ids (the passage's row number), so a hit maps back to
    its passage whatever the index type.
    """

    def __init__(self, index: faiss.Index, kind: str) -> None:
        self.index = index
        self.kind = kind
        self.set_search_effort()

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @classmethod
    def build(
        cls, vectors: np.ndarray, ids: np.ndarray | None = None, kind: str = "auto"
    ) -> DenseIndex:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        kind = choose_type(n, kind)
        ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if kind == "flat":
            base: faiss.Index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            base = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = 80
        elif kind == "hnsw-sq8":
            base = faiss.IndexHNSWSQ(
                dim, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT
            )
            base.hnsw.efConstruction = 80
        else:  # ivf
            nlist = max(1, min(int(4 * math.sqrt(max(n, 1))), max(1, n // 39)))
            quantizer = faiss.IndexFlatIP(dim)
            base = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # building does use every core
        try:
            if not base.is_trained:
                base.train(vectors)
            index = faiss.IndexIDMap2(base)
            if n:
                index.add_with_ids(vectors, ids)
        finally:
            faiss.omp_set_num_threads(threads)
        return cls(index, kind)

    def set_search_effort(self, ef_search: int | None = None, nprobe: int = 32) -> None:
        """Recall/speed knobs of the approximate indexes (ignored by flat); by default the HNSW
        breadth follows the index size."""
        if ef_search is None:
            ef_search = EF_SEARCH_LARGE if self.size > LARGE_ABOVE else EF_SEARCH
        self.ef_search, self.nprobe = ef_search, nprobe
        base = (
            faiss.downcast_index(self.index.index)
            if isinstance(self.index, faiss.IndexIDMap2)
            else self.index
        )
        if hasattr(base, "hnsw"):
            base.hnsw.efSearch = ef_search
        if hasattr(base, "nprobe"):
            base.nprobe = nprobe

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        excluded: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row, only ``allowed`` ids if given, never ``excluded``
        ones; ids are -1 where fewer than k results exist."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, max(self.size, 1)))
        if self.size == 0:
            return np.zeros((len(queries), k), np.float32), np.full((len(queries), k), -1, np.int64)
        params = None
        inner = None
        if allowed is not None or excluded is not None:
            if allowed is not None:
                sel = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            else:
                inner = faiss.IDSelectorBatch(np.asarray(excluded, dtype=np.int64))
                sel = faiss.IDSelectorNot(inner)  # ``inner`` must outlive the search
            # Each index family takes its own parameter type; the selector rides along.
            if self.kind.startswith("hnsw"):
                params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(self.ef_search, 4 * k))
            elif self.kind == "ivf":
                params = faiss.SearchParametersIVF(sel=sel, nprobe=self.nprobe)
            else:
                params = faiss.SearchParameters(sel=sel)
        if len(queries) == 1:
            search_threads()
        scores, ids = self.index.search(queries, k, params=params)
        return scores, ids

    def save(self, path: Path) -> None:
        try:
            faiss.write_index(self.index, str(path))
        except RuntimeError as e:  # faiss reports a failed write as RuntimeError
            full = "space" in str(e).lower()
            raise OSError(errno.ENOSPC if full else errno.EIO, f"writing {path}: {e}") from None

    @classmethod
    def load(cls, path: Path, kind: str, mmap: bool = False) -> DenseIndex:
        """Read an index; with ``mmap`` its vectors (and graph) are mapped from the file, not
        copied, so a million-passage HNSW loads in a fraction of a second."""
        flags = 0
        if mmap:
            # flat, HNSW and HNSW-SQ keep their codes in IndexFlatCodes storage, which faiss maps
            # in place; IVF maps its inverted lists.
            flags = faiss.IO_FLAG_MMAP if kind == "ivf" else faiss.IO_FLAG_MMAP_IFC
            flags |= faiss.IO_FLAG_READ_ONLY
        return cls(faiss.read_index(str(path), flags), kind)


class SegmentedDense:
    """The dense indexes of a version's segments searched as one, deleted rows left out. Each
    segment's index holds its rows' global ids, so hits merge by score alone."""

    def __init__(self, parts: list[tuple[int, DenseIndex]], deleted: np.ndarray) -> None:
        self.parts = parts  # (first row, index), in row order
        self.deleted = np.asarray(deleted, dtype=np.int64)
        self.kind = parts[0][1].kind
        self.ef_search = parts[0][1].ef_search

    @property
    def size(self) -> int:
        return sum(d.size for _, d in self.parts) - len(self.deleted)

    @property
    def dim(self) -> int:
        return self.parts[0][1].dim

    def set_search_effort(self, ef_search: int | None = None, nprobe: int = 32) -> None:
        for _, d in self.parts:
            d.set_search_effort(ef_search, nprobe)
        self.ef_search = self.parts[0][1].ef_search

    def search(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        scores, ids = [], []
        for start, d in self.parts:
            end = start + d.size
            if allowed is not None:
                a = np.asarray(allowed, dtype=np.int64)
                mine = a[(a >= start) & (a < end)]
                if not len(mine):
                    continue
                s, i = d.search(queries, k, allowed=mine)
            else:
                gone = self.deleted[(self.deleted >= start) & (self.deleted < end)]
                s, i = d.search(queries, k, excluded=gone if len(gone) else None)
            scores.append(np.where(i >= 0, s, -np.inf))
            ids.append(i)
        if not scores:
            return np.zeros((len(queries), 1), np.float32), np.full((len(queries), 1), -1, np.int64)
        s_all, i_all = np.concatenate(scores, axis=1), np.concatenate(ids, axis=1)
        k = min(k, s_all.shape[1])
        order = np.argsort(-s_all, axis=1, kind="stable")[:, :k]
        top_s = np.take_along_axis(s_all, order, axis=1)
        top_i = np.take_along_axis(i_all, order, axis=1)
        top_i[~np.isfinite(top_s)] = -1
        return np.where(np.isfinite(top_s), top_s, 0.0).astype(np.float32), top_i
