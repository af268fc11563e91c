"""One dataclass per stage; each carries its source so citations come for free."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Kind = Literal["article", "photo"]


def stable_id(*parts: str, length: int = 12) -> str:
    """A short hex id that depends only on its parts, so re-ingesting gives the same id."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    text: str
    source: str
    subtitle: str | None = None
    byline: str | None = None
    kind: Kind = "article"
    url: str | None = None
    date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def checksum(self) -> str:
        """Content hash: changes when anything shown or indexed changes."""
        return stable_id(self.title, self.subtitle or "", self.byline or "", self.kind, self.text)


@dataclass(frozen=True)
class Passage:
    id: str
    article_id: str
    ordinal: int
    text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Hit:
    passage: Passage
    article: Article
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None
    highlights: list[tuple[int, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passage_id": self.passage.id,
            "article_id": self.article.id,
            "title": self.article.title,
            "subtitle": self.article.subtitle,
            "byline": self.article.byline,
            "source": self.article.source,
            "kind": self.article.kind,
            "text": self.passage.text,
            "start": self.passage.start,
            "end": self.passage.end,
            "score": round(self.score, 6),
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "lexical_score": None if self.lexical_score is None else round(self.lexical_score, 6),
            "dense_rank": self.dense_rank,
            "lexical_rank": self.lexical_rank,
            "highlights": [list(h) for h in self.highlights],
        }


@dataclass
class Answer:
    text: str
    found: bool
    citations: list[Hit]
    query: str = ""

    def to_dict(self) -> dict[str, Any]:
        cites = []
        for n, hit in enumerate(self.citations, 1):
            d = hit.to_dict()
            d["n"] = n
            cites.append(d)
        return {"answer": self.text, "found": self.found, "citations": cites}
