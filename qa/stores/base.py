"""The storage seam: what the Searcher and the indexer ask of an engine, and nothing more.

A store answers retrieval on one consistent snapshot (``View``): the dense and the lexical top-k
under filters given as values (sources, article ids), with every candidate's dense and lexical
score so the Searcher can fuse them; and it fetches passages by the keys it returned. Keys are
opaque to the Searcher (row numbers in the files store, passage ids in Milvus). Writes come from
the indexer as one ``Change``: the whole new article set, the passages (all of them, or with
``partial`` those of the added and edited articles only) with their content hashes and vectors,
and which articles were added, edited or removed; embeddings are reused by hash.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from qa.models import Article, Passage

Mode = Literal["fused", "dense", "lexical"]


@dataclass(frozen=True)
class Filters:
    """Limit retrieval to passages of these sources or these articles (either matches)."""

    sources: tuple[str, ...] | None = None
    article_ids: tuple[str, ...] | None = None

    @classmethod
    def of(cls, sources: Iterable[str] | None, article_ids: Iterable[str] | None) -> Filters | None:
        if sources is None and article_ids is None:
            return None
        return cls(
            None if sources is None else tuple(sources),
            None if article_ids is None else tuple(article_ids),
        )


@dataclass
class Retrieved:
    """Both rankings (keys, best first) and the scores of every candidate of either."""

    dense: list[Hashable] = field(default_factory=list)
    lexical: list[Hashable] = field(default_factory=list)
    dense_scores: dict[Hashable, float] = field(default_factory=dict)  # cosine
    lexical_scores: dict[Hashable, float] = field(default_factory=dict)  # BM25, 0 for no match
    # the multilingual ranking and cosines, when the store has that field and a vector was given
    multilingual: list[Hashable] = field(default_factory=list)
    multilingual_scores: dict[Hashable, float] = field(default_factory=dict)
    empty: bool = False  # the filters allow nothing


@dataclass
class Change:
    """A new state of the corpus for a store to take on, as a whole or incrementally."""

    articles: Mapping[str, Article]  # every article after the change
    # every passage, in order; with ``partial`` only those of the ``changed`` articles
    passages: Sequence[Passage]
    hashes: Sequence[str]  # content hash of each passage (the embedding cache key)
    vectors: np.ndarray  # unit vectors, one per passage
    changed: set[str]  # article ids added or edited
    removed: set[str]  # article ids removed
    manifest: dict[str, object]
    rebuild: bool = False  # start from nothing: the store drops what it held
    # the multilingual field (``qa.multilingual``): vectors and their cache hashes, or None
    ml_vectors: np.ndarray | None = None
    ml_hashes: Sequence[str] | None = None
    # the passages (and vectors) cover only the changed articles; the others stay as stored
    partial: bool = False


class View(Protocol):
    """One consistent state of a store: every call of a request sees the same version."""

    def retrieve(
        self,
        query: str,
        qv: np.ndarray | None,
        n: int,
        filters: Filters | None,
        mode: Mode,
        mv: np.ndarray | None = None,
    ) -> Retrieved:
        """Both rankings; with ``mv`` (a multilingual query vector) the third, where the store
        has that field."""
        ...

    def fetch(self, keys: Sequence[Hashable]) -> list[tuple[Passage, Article]]: ...

    def document_frequency(self, term: str) -> int | None:
        """How many passages the lexical index files under the term (a jieba token); None when
        the store cannot say (the dictionary then keeps its translations unfiltered)."""
        ...


class Store(Protocol):
    name: str

    def snapshot(self) -> View: ...

    def refresh(self) -> bool:
        """Serve the newest written version; True when it changed."""
        ...

    def version(self) -> str: ...

    def layout(self) -> str:
        """How the dense index is organised (``flat``, ``hnsw``, …; "" when the engine decides)."""
        ...

    def stats(self) -> dict[str, int | str]: ...

    def multilingual_model(self) -> str:
        """The model of the multilingual field ("" when the store has none)."""
        ...

    def article(self, article_id: str) -> Article:
        """The article, or ``NotFound``."""
        ...

    def articles(self) -> Mapping[str, Article]: ...

    def passages_of(self, article_id: str) -> list[Passage]: ...

    def passage_size(self) -> list[int] | None:
        """The (min, max) passage length the stored passages were split with, if recorded."""
        ...

    def count_passages(self, article_ids: Iterable[str]) -> int:
        """How many passages the store holds for these articles."""
        ...

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored unit vectors by content hash, for the hashes the store has."""
        ...

    def write(self, change: Change) -> None:
        """Take on the change; readers see the old state until it is complete."""
        ...
