"""Synthetic large corpora for benchmarks, labelled as such.

Passages are real CMRC 2018 passages repeated with variations (a variant tag in the title and a
sentence rotation); their vectors are the real model's vectors of the base passage plus Gaussian
noise, re-normalized; their BM25 tokens are the base passage's jieba tokens plus the variant's
tag token. Nothing here is used outside bench/.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from qa import store
from qa.dense import DenseIndex
from qa.indexer import content_hash, embed_text
from qa.lexical import LexicalIndex
from qa.models import Article, Passage, stable_id
from qa.tokens import tokenize

# Noise norm relative to the unit base vector: at 1.0 a variant keeps cosine ~0.7 to its base, so
# variants of one passage do not crowd the top ten with near-ties (which would make any
# approximate index look worse than it is on real data).
NOISE = 1.0


def _variant_text(text: str, v: int) -> str:
    if v == 0:
        return text
    parts = [p for p in text.split("。") if p]
    k = v % max(1, len(parts))
    rotated = parts[k:] + parts[:k]
    return "。".join(rotated) + "。"


def make_index(
    base_articles: list[Article],
    base_passages: list[Passage],
    base_vectors: np.ndarray,
    size: int,
    index_dir: Path,
    model: str,
    index_type: str,
    seed: int = 0,
) -> dict[str, float]:
    """Write an index of ``size`` passages to index_dir; returns timings of the build stages."""
    rng = np.random.default_rng(seed)
    owners = {a.id: a for a in base_articles}
    base_tokens = [tokenize(f"{owners[p.article_id].title}\n{p.text}") for p in base_passages]
    n_base = len(base_passages)
    dim = base_vectors.shape[1]
    articles: dict[str, Article] = {}
    passages: list[Passage] = []
    hashes: list[str] = []
    tokens: list[list[str]] = []
    vectors = np.empty((size, dim), dtype=np.float32)
    t0 = time.perf_counter()
    for i in range(size):
        b = i % n_base
        v = i // n_base
        bp = base_passages[b]
        ba = owners[bp.article_id]
        aid = f"{ba.id}-v{v}" if v else ba.id
        if aid not in articles:
            articles[aid] = Article(
                id=aid,
                title=f"{ba.title}（{v}）" if v else ba.title,
                text="",
                source=f"synthetic-{v}.jsonl",
            )
        text = _variant_text(bp.text, v)
        passages.append(
            Passage(
                f"{aid}-{bp.ordinal:03d}", aid, bp.ordinal, text, bp.start, bp.start + len(text)
            )
        )
        hashes.append(stable_id(model, str(i), length=40))
        tokens.append(base_tokens[b] + ([f"v{v}"] if v else []))
        vec = base_vectors[b] + rng.normal(0.0, NOISE / np.sqrt(dim), dim).astype(np.float32) * (
            v > 0
        )
        vectors[i] = vec / np.linalg.norm(vec)
    t1 = time.perf_counter()
    dense = DenseIndex.build(vectors, kind=index_type)
    t2 = time.perf_counter()
    lexical = LexicalIndex.build(tokens, tokenize)
    t3 = time.perf_counter()
    index = store.Index(articles, passages, hashes, vectors.astype(np.float16), dense, lexical)
    manifest = {
        "model": model,
        "dim": dim,
        "normalized": True,
        "metric": "inner_product",
        "index_type": dense.kind,
        "articles": len(articles),
        "passages": size,
        "synthetic": True,
        "corpus_checksum": "synthetic",
    }
    store.save(index, index_dir, manifest)
    t4 = time.perf_counter()
    return {
        "generate_s": t1 - t0,
        "faiss_build_s": t2 - t1,
        "bm25_build_s": t3 - t2,
        "save_s": t4 - t3,
    }


__all__ = ["make_index", "content_hash", "embed_text"]
