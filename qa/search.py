"""Searcher: dense (FAISS) and lexical (BM25) rankings fused into Hits."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from qa import glossary, store
from qa.embed import Embedder
from qa.errors import BadRequest
from qa.models import Article, Hit, Passage
from qa.multilingual import language, name_score, pinyin_grams, romanized_names
from qa.stores.base import Filters, Mode, Store, View
from qa.stores.files import FilesStore
from qa.tokens import simplified, tokenize

K = TypeVar("K")
V = TypeVar("V")
MODES: tuple[str, ...] = ("fused", "dense", "lexical")
FUSIONS: tuple[str, ...] = ("score", "rrf")
MAX_TOP_K = 50
# Reciprocal-rank fusion constant (Cormack, Clarke & Büttcher, SIGIR 2009): 1/(k + rank).
# k = 60 is the value from the paper; it flattens the head so one list cannot dominate the
# other on rank 1 alone, while a passage near the top of both lists still wins clearly.
RRF_K = 60
# Weights of the multilingual signal (``qa.multilingual``). For a Chinese question it joins m3e
# and BM25 with ``ML_WEIGHT_ZH``; for any other language m3e and BM25 (Chinese-only signals)
# step back to ``FOREIGN_WEIGHTS`` (m3e dense, BM25) and the multilingual one leads with weight 1.
# Fitted on CMRC 2018 dev, DRCD dev and the calibration half of tests/data/cross_lingual.jsonl
# (bench/crosslingual.py; bench/RESULTS.md).
# The fit on CMRC 2018 dev and DRCD dev put the Chinese weight at 0.5 (R@1 0.984 -> 0.986 and
# 0.938 -> 0.940), which costs every Chinese search a second query encoding, 3 to 6 times the
# first; the default is 0 (QA_MULTILINGUAL_WEIGHT_ZH sets it).
ML_WEIGHT_ZH = 0.0
FOREIGN_WEIGHTS = (0.1, 0.2)
# For a foreign question, the weight of its romanized names found in a passage's pinyin.
NAMES_WEIGHT = 0.5


def reciprocal_rank_fusion(
    rankings: Iterable[tuple[Iterable[Hashable], float]], k: int = RRF_K
) -> dict[Hashable, float]:
    """Fuse ranked lists of ids: each list contributes weight / (k + rank), ranks from 1.

    >>> reciprocal_rank_fusion([([7, 3], 1.0), ([3, 9], 1.0)], k=60)[3] > 1 / 61
    True
    """
    fused: dict[Hashable, float] = defaultdict(float)
    for ids, weight in rankings:
        for rank, i in enumerate(ids, 1):
            fused[i] += weight / (k + rank)
    return dict(fused)


def _min_max(x: np.ndarray) -> np.ndarray:
    span = x.max() - x.min() if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def score_fusion(
    dense: np.ndarray,
    lexical: np.ndarray,
    dense_weight: float = 1.0,
    lexical_weight: float = 1.0,
    multilingual: np.ndarray | None = None,
    multilingual_weight: float = 0.0,
    names: np.ndarray | None = None,
    names_weight: float = 0.0,
) -> np.ndarray:
    """Convex combination of normalized scores over one candidate set (the default fusion).

    Cosine similarities are min-max scaled within the candidates (m3e's cosines crowd into a narrow
    band, so their raw values say little); BM25 is divided by the best candidate's score, so a
    query whose words match nothing well keeps low lexical scores. Unlike RRF this keeps how
    *much* better the first candidate is, which on CMRC 2018 dev lifts recall@1 from 0.958 (RRF,
    k=60) to 0.984 with equal weights (bench/RESULTS.md). A third signal, the multilingual
    model's cosines, is min-max scaled like the first; a fourth, the share of a foreign
    question's romanized names a passage spells in Chinese (``qa.multilingual.name_score``), is
    already between 0 and 1.
    """
    dn = _min_max(np.asarray(dense, dtype=np.float64))
    lx = np.asarray(lexical, dtype=np.float64)
    top = lx.max() if len(lx) else 0.0
    ln = lx / top if top > 0 else np.zeros_like(lx)
    fused = dense_weight * dn + lexical_weight * ln
    total = dense_weight + lexical_weight
    if multilingual is not None and multilingual_weight > 0:
        fused = fused + multilingual_weight * _min_max(np.asarray(multilingual, dtype=np.float64))
        total += multilingual_weight
    if names is not None and names_weight > 0:
        fused = fused + names_weight * np.asarray(names, dtype=np.float64)
        total += names_weight
    return fused / total


def _remember(cache: dict[K, V], key: K, value: V, bound: int, lock: threading.Lock) -> None:
    """Keep ``value`` under ``key``, dropping the oldest entry once ``bound`` are kept."""
    with lock:
        if len(cache) >= bound:
            cache.pop(next(iter(cache)), None)
        cache[key] = value


def validate_query(query: str, top_k: int, max_chars: int = 2000) -> str:
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("query must be a non-empty string")
    if len(query) > max_chars:
        raise BadRequest(f"query must be at most {max_chars} characters, got {len(query)}")
    if not 1 <= top_k <= MAX_TOP_K:
        raise BadRequest(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    return query.strip()


class Searcher:
    """Fuses a store's dense and lexical rankings into Hits; knows no engine's internals."""

    def __init__(
        self,
        store_: Store | store.Index,
        embedder: Embedder,
        dense_weight: float = 1.0,
        lexical_weight: float = 1.0,
        index_dir: Path | None = None,
        fusion: str = "score",
        multilingual: Embedder | None = None,
        multilingual_weight_zh: float = ML_WEIGHT_ZH,
    ) -> None:
        if fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
        if dense_weight < 0 or lexical_weight < 0 or dense_weight + lexical_weight <= 0:
            raise ValueError(
                f"fusion weights must be >= 0 and not both 0, got {dense_weight} and {lexical_weight}"
            )
        if isinstance(store_, store.Index):  # a loaded folder index (tests, benchmarks)
            store_ = FilesStore(index_dir, tokenize, embedder.model_id, embedder.dim, index=store_)
        self.store: Store = store_
        # called with (stage, seconds) for encode, retrieve and fusion (the service's metrics)
        self.on_stage: Callable[[str, float], None] | None = None
        self.fusion = fusion
        self.embedder = embedder
        self.dense_weight = dense_weight
        self.lexical_weight = lexical_weight
        # the multilingual embedder; used while the store holds vectors of the same model
        self.multilingual = multilingual
        self.ml_weight_zh = multilingual_weight_zh
        self.foreign_weights = FOREIGN_WEIGHTS
        self._q_cache: dict[str, np.ndarray] = {}
        self._ml_cache: dict[str, np.ndarray] = {}
        self._ml_lock = threading.Lock()  # guards both caches
        self.names_weight = NAMES_WEIGHT
        # questions not in Chinese are matched lexically through a dictionary (qa.glossary)
        self.use_glossary = True
        self._grams: dict[str, frozenset[str]] = {}  # pinyin grams by passage id (bounded)

    @classmethod
    def open(cls, index_dir: Path, embedder: Embedder, **kwargs: Any) -> Searcher:
        """A Searcher on the folder store at ``index_dir``."""
        files = FilesStore.open(index_dir, tokenize, embedder.model_id, embedder.dim)
        return cls(files, embedder, **kwargs)

    @property
    def index(self) -> store.Index:
        """The loaded folder index (files store only: benchmarks and tests look inside it)."""
        if not isinstance(self.store, FilesStore):
            raise TypeError(f"the {self.store.name} store has no folder index")
        return self.store.index

    def swap(self, index: store.Index) -> None:
        """Serve a new folder index; searches already running finish on the old one."""
        if not isinstance(self.store, FilesStore):
            raise TypeError(f"the {self.store.name} store cannot swap in a folder index")
        self.store.swap(index)

    def reload(self) -> bool:
        """Serve the store's newest version if it changed."""
        return self.store.refresh()

    # -- lookups -------------------------------------------------------------------------

    def article(self, article_id: str) -> Article:
        return self.store.article(article_id)

    def passages_of(self, article_id: str) -> list[Passage]:
        """The passages of an article, in order (empty for an unknown id)."""
        return self.store.passages_of(article_id)

    def stats(self) -> dict[str, int | str]:
        return self.store.stats()

    def encode_query(self, query: str) -> np.ndarray:
        """The query vector, folded to simplified as passages are (every caller goes here). The
        last few are kept: a chat answer's off-topic check asks for the question's vector again."""
        v = self._q_cache.get(query)
        if v is None:
            v = self.embedder.encode_queries([simplified(query)])[0]
            _remember(self._q_cache, query, v, 32, self._ml_lock)
        return v

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        return self.embedder.encode_queries([simplified(q) for q in queries])

    @property
    def multilingual_ready(self) -> bool:
        """Whether the multilingual signal is on: an embedder, and the store holds its vectors."""
        return (
            self.multilingual is not None
            and self.store.multilingual_model() == self.multilingual.model_id
        )

    def warm(self) -> None:
        """Load now what the first question would otherwise wait for: jieba's dictionary (half
        a second) and, for questions in other languages, CC-CEDICT (0.7 s)."""
        tokenize("新闻")
        if self.use_glossary:
            glossary.load()

    def translated(self, query: str, view: View | None = None) -> list[glossary.Term]:
        """For a question not in Chinese, its words that CC-CEDICT says in Chinese words this
        corpus uses (``qa.glossary``); nothing for a Chinese question or without the dictionary."""
        if not self.use_glossary or language(query) == "zh":
            return []
        found = glossary.load()
        if found is None:
            return []
        return found.terms(query, (view or self.store.snapshot()).document_frequency)

    def lexical_query(self, query: str, view: View | None = None) -> str:
        """What BM25 reads: the question, and for a question not in Chinese the Chinese words
        of its translated terms as well (BM25 has nothing else to match an English question)."""
        terms = self.translated(query, view)
        return " ".join([query, *(c for t in terms for c in t.chinese)])

    def encode_multilingual(self, query: str) -> np.ndarray:
        """The multilingual query vector (the last few are kept: the answerer asks again)."""
        assert self.multilingual is not None
        v = self._ml_cache.get(query)
        if v is None:
            v = self.multilingual.encode_queries([simplified(query)])[0]
            _remember(self._ml_cache, query, v, 64, self._ml_lock)
        return v

    def _name_scores(
        self, names: list[str], pairs: Sequence[tuple[Passage, Article]]
    ) -> np.ndarray:
        out = np.zeros(len(pairs))
        for i, (p, a) in enumerate(pairs):
            grams = self._grams.get(p.id)
            if grams is None:
                grams = pinyin_grams(f"{a.title}\n{p.text}")
                _remember(self._grams, p.id, grams, 8192, self._ml_lock)
            out[i] = name_score(names, grams)
        return out

    def weights(self, query: str) -> tuple[float, float, float]:
        """(m3e dense, BM25, multilingual) fusion weights for this question's language."""
        if not self.multilingual_ready:
            return self.dense_weight, self.lexical_weight, 0.0
        if language(query) == "zh":
            return self.dense_weight, self.lexical_weight, self.ml_weight_zh
        return (*self.foreign_weights, 1.0)

    # -- search --------------------------------------------------------------------------

    def search(
        self,
        query: str,
        top_k: int = 5,
        *,
        sources: Iterable[str] | None = None,
        article_ids: Iterable[str] | None = None,
        mode: Mode = "fused",
        candidates: int = 50,
        query_vector: np.ndarray | None = None,
        multilingual_scores: bool = False,
    ) -> list[Hit]:
        """Best passages for the query, each with its dense, BM25 and fused scores (and the
        multilingual one where it is fused, or where ``multilingual_scores`` asks for it: the
        answerer's off-topic check reads it)."""
        query = validate_query(query, top_k)
        if mode not in MODES:
            raise BadRequest(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        view = self.store.snapshot()  # one version for the whole request
        t0 = time.perf_counter()
        qv = None
        if mode != "lexical":
            qv = self.encode_query(query) if query_vector is None else query_vector
        w_dense, w_lexical, w_ml = self.weights(query) if mode == "fused" else (1.0, 1.0, 0.0)
        name_of: dict[Hashable, float] = {}
        wanted = w_ml > 0 or (multilingual_scores and mode == "fused" and self.multilingual_ready)
        mv = self.encode_multilingual(query) if wanted else None
        t1 = time.perf_counter()
        lexical = self.lexical_query(query, view) if mode != "dense" else query
        r = view.retrieve(
            lexical, qv, max(candidates, top_k), Filters.of(sources, article_ids), mode, mv
        )
        t2 = time.perf_counter()
        if r.empty:
            return []

        if mode == "dense":
            ranked = [(k, r.dense_scores[k]) for k in r.dense]
        elif mode == "lexical":
            ranked = [(k, r.lexical_scores[k]) for k in r.lexical]
        elif self.fusion == "rrf":
            fused = reciprocal_rank_fusion(
                [(r.dense, w_dense), (r.lexical, w_lexical), (r.multilingual, w_ml)]
            )
            ranked = sorted(fused.items(), key=lambda kv: -kv[1])
        else:
            # the multilingual ranking adds candidates only where it is fused
            ml_list = r.multilingual if w_ml > 0 else []
            cand = list(dict.fromkeys([*r.dense, *r.lexical, *ml_list]))
            names = romanized_names(query) if ml_list and language(query) != "zh" else []
            name_scores = self._name_scores(names, view.fetch(cand)) if names else None
            if name_scores is not None:
                name_of = dict(zip(cand, name_scores.tolist(), strict=True))
            combined = score_fusion(
                np.array([r.dense_scores[k] for k in cand]),
                np.array([r.lexical_scores.get(k, 0.0) for k in cand]),
                w_dense,
                w_lexical,
                np.array([r.multilingual_scores.get(k, 0.0) for k in cand]) if ml_list else None,
                w_ml,
                name_scores,
                self.names_weight,
            )
            order = np.argsort(-combined, kind="stable")
            ranked = [(cand[i], float(combined[i])) for i in order]

        ranked = ranked[:top_k]
        dense_rank = {k: n for n, k in enumerate(r.dense, 1)}
        lexical_rank = {k: n for n, k in enumerate(r.lexical, 1)}
        ml_rank = {k: n for n, k in enumerate(r.multilingual, 1)}
        hits = []
        for (key, score), (passage, article) in zip(
            ranked, view.fetch([k for k, _ in ranked]), strict=True
        ):
            hits.append(
                Hit(
                    passage=passage,
                    article=article,
                    score=float(score),
                    dense_score=r.dense_scores.get(key),
                    lexical_score=r.lexical_scores.get(key) if mode != "dense" else None,
                    dense_rank=dense_rank.get(key),
                    lexical_rank=lexical_rank.get(key),
                    multilingual_score=r.multilingual_scores.get(key),
                    multilingual_rank=ml_rank.get(key),
                    name_score=name_of.get(key),
                )
            )
        if self.on_stage is not None:
            if (query_vector is None and qv is not None) or mv is not None:
                self.on_stage("encode", t1 - t0)
            self.on_stage("retrieve", t2 - t1)
            self.on_stage("fusion", time.perf_counter() - t2)
        return hits
