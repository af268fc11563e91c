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
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, ids) per query row; ids are -1 where fewer than k results exist."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(1, min(k, max(self.size, 1)))
        if self.size == 0:
            return np.zeros((len(queries), k), np.float32), np.full((len(queries), k), -1, np.int64)
        params = None
        if allowed is not None:
            sel = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
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

    def entry_ids(self) -> np.ndarray:
        """The id of every stored entry in insertion order (-1: retired by ``remap``)."""
        return faiss.vector_to_array(self.index.id_map).astype(np.int64)

    @property
    def retired(self) -> int:
        return int(np.count_nonzero(self.entry_ids() < 0))

    def remap(self, ids: np.ndarray, vectors: np.ndarray, new_ids: np.ndarray) -> None:
        """Change in place what the stored entries are called, then add new ones: entry i gets
        ``ids[i]`` (-1 retires it: it is never returned again) and ``vectors`` join with
        ``new_ids``. An edit of a few articles then costs a few graph insertions, not a rebuild
        (HNSW cannot delete; retired entries are dropped by the next full build)."""
        faiss.copy_array_to_vector(np.asarray(ids, dtype=np.int64), self.index.id_map)
        self.index.construct_rev_map()
        if len(vectors):
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            try:
                self.index.add_with_ids(
                    np.ascontiguousarray(vectors, dtype=np.float32),
                    np.asarray(new_ids, dtype=np.int64),
                )
            finally:
                faiss.omp_set_num_threads(threads)

    def save(self, path: Path) -> None:
        try:
            faiss.write_index(self.index, str(path))
        except RuntimeError as e:  # faiss reports a failed write as RuntimeError
            full = "space" in str(e).lower()
            raise OSError(errno.ENOSPC if full else errno.EIO, f"writing {path}: {e}") from None

    @classmethod
    def read(cls, path: Path, kind: str) -> DenseIndex:
        """Read an index into memory (writable, unlike a mapped one)."""
        return cls(faiss.read_index(str(path)), kind)

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
