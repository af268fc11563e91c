"""Synthetic large corpora for benchmarks, labelled as such.

Articles are real CMRC 2018 articles repeated with variations (a variant number in the title and
the sentences rotated), split into passages by the real splitter; a passage's vector is the real
model's vector of the base article's passage at the same ordinal plus Gaussian noise,
re-normalized; its BM25 tokens are that base passage's jieba tokens plus the variant's tag token.
With ``real_hashes`` the passages carry the content hashes `qa index` computes, so re-indexing the
synthetic corpus through the real indexer reuses every vector. Nothing here is used outside bench/.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from qa import store
from qa.dense import DenseIndex
from qa.indexer import content_hash, embed_text
from qa.lexical import LexicalIndex
from qa.models import Article, Passage, stable_id
from qa.split import split_article
from qa.tokens import fingerprint, tokenize

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


def variants(base_articles: list[Article], size: int) -> list[Article]:
    """Variants of the base articles, in order, until they hold at least ``size`` passages."""
    out: list[Article] = []
    total = 0
    v = 0
    while total < size:
        for a in base_articles:
            if total >= size:
                break
            art = (
                a
                if v == 0
                else replace(
                    a,
                    id=f"{a.id}-v{v}",
                    title=f"{a.title}（{v}）",
                    text=_variant_text(a.text, v),
                    source=f"synthetic-{v}.jsonl",
                )
            )
            out.append(art)
            total += len(split_article(art))
        v += 1
    return out


def make_index(
    base_articles: list[Article],
    base_passages: list[Passage],
    base_vectors: np.ndarray,
    size: int,
    index_dir: Path,
    model: str,
    index_type: str,
    seed: int = 0,
    real_hashes: bool = False,
    passage_prefix: str = "",
) -> dict[str, float]:
    """Write an index of about ``size`` passages to index_dir; returns timings of the build stages."""
    rng = np.random.default_rng(seed)
    owners = {a.id: a for a in base_articles}
    base_row = {(p.article_id, p.ordinal): i for i, p in enumerate(base_passages)}
    last_row = {p.article_id: i for i, p in enumerate(base_passages)}
    base_tokens = [tokenize(f"{owners[p.article_id].title}\n{p.text}") for p in base_passages]
    dim = base_vectors.shape[1]
    t0 = time.perf_counter()
    articles: dict[str, Article] = {}
    passages: list[Passage] = []
    rows: list[int] = []
    tags: list[int] = []
    for art in variants(base_articles, size):
        base_id, _, tag = art.id.partition("-v")
        articles[art.id] = art
        for p in split_article(art):
            passages.append(p)
            rows.append(base_row.get((base_id, p.ordinal), last_row[base_id]))
            tags.append(int(tag) if tag else 0)
    n = len(passages)
    vectors = base_vectors[rows].astype(np.float32)
    noise = rng.normal(0.0, NOISE / np.sqrt(dim), (n, dim)).astype(np.float32)
    vectors += noise * (np.array(tags) > 0)[:, None]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    tokens = [base_tokens[r] + ([f"v{t}"] if t else []) for r, t in zip(rows, tags, strict=True)]
    if real_hashes:
        hashes = [
            content_hash(model, passage_prefix, embed_text(articles[p.article_id], p))
            for p in passages
        ]
    else:
        hashes = [stable_id(model, str(i), length=40) for i in range(n)]
    t1 = time.perf_counter()
    dense = DenseIndex.build(vectors, kind=index_type)
    t2 = time.perf_counter()
    lexical = LexicalIndex.build(tokens, tokenize)
    t3 = time.perf_counter()
    index = store.Index(
        articles,
        passages,
        hashes,
        vectors.astype(np.float16),
        dense,
        lexical,
    )
    manifest = {
        "model": model,
        "dim": dim,
        "normalized": True,
        "metric": "inner_product",
        "passage_prefix": passage_prefix,
        "index_type": dense.kind,
        "articles": len(articles),
        "passages": n,
        "passage_size": [150, 350],
        "synthetic": True,
        "corpus_checksum": store.corpus_checksum(articles),
        # with real hashes the tokens are kept as `qa index` keeps them, so an edit reuses them
        "tokenizer": fingerprint() if real_hashes else "",
    }
    store.save(index, index_dir, manifest)
    t4 = time.perf_counter()
    return {
        "passages": n,
        "generate_s": t1 - t0,
        "faiss_build_s": t2 - t1,
        "bm25_build_s": t3 - t2,
        "save_s": t4 - t3,
    }


def cmrc_base() -> store.Index:
    """The CMRC 2018 dev index that `qa eval --squad` (or `bench.crosslingual --chinese`) built:
    the real articles, passages and vectors the synthetic corpora are made from."""
    from qa.config import ROOT

    evals = ROOT / "embeddings" / "eval"
    for name in ("cmrc2018_dev-m3e_small", "cmrc2018_dev-multilingual"):
        if (evals / name).is_dir():
            return store.load(evals / name, tokenize)
    raise SystemExit(f"no CMRC 2018 dev index in {evals}: run `qa eval --squad` on it first")


def make_from_cmrc(
    size: int, index_dir: Path, embedder: Any, real_hashes: bool = True
) -> tuple[dict[str, float], list[Article]]:
    """A synthetic HNSW index of about ``size`` passages from the CMRC base (timings, and the
    base articles ``variants`` repeats)."""
    base = cmrc_base()
    articles = list(base.articles.values())
    made = make_index(
        articles,
        list(base.passages),
        np.asarray(base.vectors, dtype=np.float32),
        size,
        index_dir,
        embedder.model_id,
        "hnsw",
        real_hashes=real_hashes,
        passage_prefix=getattr(embedder, "passage_prefix", ""),
    )
    return made, articles


__all__ = ["cmrc_base", "make_from_cmrc", "make_index", "variants"]
