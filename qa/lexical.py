"""BM25 over jieba tokens (bm25s). The tokenizer is passed in; nothing here knows about jieba."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import bm25s
import numpy as np

Tokenizer = Callable[[str], list[str]]

logging.getLogger("bm25s").setLevel(logging.WARNING)


class LexicalIndex:
    """Okapi BM25 (Lucene variant, k1=1.2, b=0.75). Row i scores passage row i."""

    def __init__(self, bm25: bm25s.BM25, size: int, tokenizer: Tokenizer) -> None:
        self.bm25 = bm25
        self.size = size
        self.tokenizer = tokenizer
        self.vocab: dict[str, int] = dict(bm25.vocab_dict or {})

    @classmethod
    def build(cls, token_lists: Sequence[list[str]], tokenizer: Tokenizer) -> LexicalIndex:
        bm25 = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        # bm25s needs at least one token per document; an empty one gets a placeholder.
        docs = [toks if toks else ["\u0000"] for toks in token_lists]
        if docs:
            bm25.index(docs, show_progress=False)
        return cls(bm25, len(docs), tokenizer)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for the query (zeros when no query term is known)."""
        if self.size == 0:
            return np.zeros(0, dtype=np.float32)
        terms = [t for t in dict.fromkeys(self.tokenizer(query)) if t in self.vocab]
        if not terms:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)

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
        self.bm25.save(str(directory), show_progress=False)

    @classmethod
    def load(
        cls, directory: Path, size: int, tokenizer: Tokenizer, mmap: bool = False
    ) -> LexicalIndex:
        bm25 = bm25s.BM25.load(str(directory), mmap=mmap, show_progress=False)
        return cls(bm25, size, tokenizer)
