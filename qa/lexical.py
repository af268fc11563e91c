"""BM25 over jieba tokens. The tokenizer is passed in; nothing here knows about jieba.

The index keeps what BM25 is computed from, not the scores: per segment of the store, each term's
postings (passage row, term frequency) and each passage's length. Scores are computed at query
time from statistics over all segments, so an edit adds a small segment of postings and marks the
old passages deleted instead of rebuilding the whole index (``qa.store``). On one segment the
scores are Lucene's BM25 exactly (k1=1.2, b=0.75; the figures match ``bm25s`` with
``method="lucene"``, which the tests check). As in Lucene, deleted passages still count in the
document frequencies and the average length until the segments are compacted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Tokenizer = Callable[[str], list[str]]

K1 = 1.2
B = 0.75


@dataclass
class Postings:
    """One segment's term statistics: rows are local to the segment (0..size-1)."""

    terms: dict[str, int]
    indptr: np.ndarray  # int64, len(terms) + 1: term t's postings are [indptr[t], indptr[t+1])
    rows: np.ndarray  # int32, the passage row of each posting, ascending within a term
    tf: np.ndarray  # float32, the term's count in that passage
    lengths: np.ndarray  # float32, tokens per passage

    @property
    def size(self) -> int:
        return len(self.lengths)

    @classmethod
    def build(cls, token_lists: Sequence[list[str]]) -> Postings:
        terms: dict[str, int] = {}
        term_ids: list[int] = []
        doc_of: list[int] = []
        for row, toks in enumerate(token_lists):
            for t in toks:
                term_ids.append(terms.setdefault(t, len(terms)))
            doc_of.extend([row] * len(toks))
        lengths = np.array([len(t) for t in token_lists], dtype=np.float32)
        tid = np.array(term_ids, dtype=np.int64)
        rid = np.array(doc_of, dtype=np.int64)
        return cls._from_pairs(terms, tid, rid, np.ones(len(tid), dtype=np.float32), lengths)

    @classmethod
    def _from_pairs(
        cls,
        terms: dict[str, int],
        tid: np.ndarray,
        rid: np.ndarray,
        count: np.ndarray,
        lengths: np.ndarray,
    ) -> Postings:
        """Postings from (term, row, count) triples, which may repeat a (term, row) pair."""
        n_terms = len(terms)
        n_rows = max(len(lengths), 1)
        key = tid * n_rows + rid
        uniq, inverse = np.unique(key, return_inverse=True)
        tf = np.bincount(inverse, weights=count, minlength=len(uniq)).astype(np.float32)
        t_of = uniq // n_rows
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(np.bincount(t_of, minlength=n_terms), out=indptr[1:])
        return cls(terms, indptr, (uniq % n_rows).astype(np.int32), tf, lengths)

    @classmethod
    def merge(cls, parts: Sequence[tuple[Postings, np.ndarray]], size: int) -> Postings:
        """One segment from several: each part with the new row of each of its rows (-1: drop)."""
        terms: dict[str, int] = {}
        tids, rids, tfs = [], [], []
        lengths = np.zeros(size, dtype=np.float32)
        for post, new_row in parts:
            local = np.array([terms.setdefault(t, len(terms)) for t in post.terms], np.int64)
            t_of = np.repeat(np.arange(len(post.terms)), np.diff(post.indptr))
            rows = np.asarray(new_row, dtype=np.int64)[post.rows]
            keep = rows >= 0
            tids.append(local[t_of[keep]] if len(local) else np.zeros(0, np.int64))
            rids.append(rows[keep])
            tfs.append(np.asarray(post.tf)[keep])
            alive = new_row >= 0
            lengths[new_row[alive]] = np.asarray(post.lengths)[alive]
        cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)  # noqa: E731
        return cls._from_pairs(
            terms, cat(tids, np.int64), cat(rids, np.int64), cat(tfs, np.float32), lengths
        )

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        ordered = sorted(self.terms, key=self.terms.__getitem__)
        (directory / "terms.json").write_text(
            json.dumps(ordered, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
        for name in ("indptr", "rows", "tf", "lengths"):
            np.save(directory / f"{name}.npy", getattr(self, name))

    @classmethod
    def load(cls, directory: Path, mmap: bool = False) -> Postings:
        ordered = json.loads((directory / "terms.json").read_text(encoding="utf-8"))
        mode: Literal["r"] | None = "r" if mmap else None
        arrays = {
            n: np.load(directory / f"{n}.npy", mmap_mode=mode)
            for n in ("indptr", "rows", "tf", "lengths")
        }
        if len(arrays["indptr"]) != len(ordered) + 1 or len(arrays["rows"]) != len(arrays["tf"]):
            raise ValueError(f"{directory}: BM25 postings do not match their terms")
        return cls({t: i for i, t in enumerate(ordered)}, **arrays)

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        t = self.terms.get(term)
        if t is None:
            return None
        a, b = int(self.indptr[t]), int(self.indptr[t + 1])
        return self.rows[a:b], self.tf[a:b]


class LexicalIndex:
    """Okapi BM25 (Lucene variant) over the segments of one version. Row i scores passage row i
    (segments are laid end to end); rows in ``deleted`` score 0."""

    def __init__(
        self,
        segments: Sequence[tuple[int, Postings]],
        size: int,
        tokenizer: Tokenizer,
        deleted: np.ndarray | None = None,
    ) -> None:
        self.segments = list(segments)  # (first row, postings)
        self.size = size
        self.tokenizer = tokenizer
        self.deleted = deleted if deleted is not None and len(deleted) else None
        total = sum(float(np.sum(p.lengths, dtype=np.float64)) for _, p in self.segments)
        self.rows_total = sum(p.size for _, p in self.segments)
        self.avg_length = total / self.rows_total if self.rows_total else 1.0
        # the length part of BM25's denominator, per row, for this version's average length
        self._norm = [
            (
                K1 * ((1 - B) + B * np.asarray(p.lengths, np.float32) / np.float32(self.avg_length))
            ).astype(np.float32)
            for _, p in self.segments
        ]

    @classmethod
    def build(cls, token_lists: Sequence[list[str]], tokenizer: Tokenizer) -> LexicalIndex:
        return cls([(0, Postings.build(token_lists))], len(token_lists), tokenizer)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when no query term is known)."""
        out = np.zeros(self.size, dtype=np.float32)
        if self.size == 0:
            return out
        n = self.rows_total
        for term in dict.fromkeys(self.tokenizer(query)):
            found = [
                (start, norm, p.postings(term))
                for (start, p), norm in zip(self.segments, self._norm, strict=True)
            ]
            hits = [(start, norm, x) for start, norm, x in found if x is not None and len(x[0])]
            if not hits:
                continue
            df = sum(len(x[0]) for _, _, x in hits)
            idf = np.float32(math.log(1 + (n - df + 0.5) / (df + 0.5)))
            for start, norm, (rows, tf) in hits:
                rows = np.asarray(rows, dtype=np.int64)
                tf = np.asarray(tf, dtype=np.float32)
                out[rows + start] += idf * (tf / (norm[rows] + tf))
        if self.deleted is not None:
            out[self.deleted] = 0.0
        return out

    def document_frequency(self, term: str) -> int:
        """How many passages hold the term (deleted rows included until compaction)."""
        total = 0
        for _, p in self.segments:
            found = p.postings(term)
            if found is not None:
                total += len(found[0])
        return total

    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, rows) with a positive score, best first, optionally within allowed rows."""
        scores = self.scores(query)
        if allowed is not None:
            mask = np.zeros(self.size, dtype=bool)
            mask[np.asarray(allowed, dtype=np.int64)] = True
            scores = np.where(mask, scores, 0.0)
        positive = int(np.count_nonzero(scores > 0))
        k = min(k, positive)
        if k <= 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return scores[top], top.astype(np.int64)

    def save(self, directory: Path) -> None:
        """Write the postings of a one-segment index (what a full build makes)."""
        if len(self.segments) != 1:
            raise ValueError("only a one-segment lexical index is saved whole")
        self.segments[0][1].save(directory)
