"""One dataclass per stage; each carries its source so citations come for free."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
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
        return {f: getattr(self, f) for f in _ARTICLE_FIELDS}

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
        return {f: getattr(self, f) for f in _PASSAGE_FIELDS}


# the fields are all plain values, so a shallow dict is the whole record (``asdict`` deep-copies
# each one, which was a tenth of writing a large index)
_ARTICLE_FIELDS = tuple(f.name for f in fields(Article))
_PASSAGE_FIELDS = tuple(f.name for f in fields(Passage))


@dataclass
class Hit:
    passage: Passage
    article: Article
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None
    # the multilingual signal (``qa.multilingual``), when the index has it and it was used
    multilingual_score: float | None = None
    multilingual_rank: int | None = None
    # share of a foreign question's romanized names the passage spells in Chinese (pinyin)
    name_score: float | None = None
    highlights: list[tuple[int, int]] = field(default_factory=list)
    # Set by the reader on the passage that holds the answer: offsets in the passage text of the
    # short answer and of the sentence it was read from (``passage.text[s:e]`` reproduces them).
    answer_span: tuple[int, int] | None = None
    evidence_span: tuple[int, int] | None = None

    def to_dict(self, link: Callable[[Hit], str] | None = None) -> dict[str, Any]:
        """The hit as JSON; ``link`` adds its permalink as ``url`` (``qa.links.Links.for_hit``)."""
        out = {
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
            "multilingual_score": None
            if self.multilingual_score is None
            else round(self.multilingual_score, 6),
            "multilingual_rank": self.multilingual_rank,
            "name_score": None if self.name_score is None else round(self.name_score, 4),
            "highlights": [list(h) for h in self.highlights],
            "answer_span": list(self.answer_span) if self.answer_span else None,
            "evidence_span": list(self.evidence_span) if self.evidence_span else None,
        }
        if link is not None:
            out["url"] = link(self)
        return out


@dataclass
class Answer:
    """What the service says: the text shown, whether it was found, and its sources.

    ``short_answer`` is the exact answer the reader extracted (None when not found or when the
    answer comes from the heuristic composer); ``confidence`` what "found" was decided on (the
    reader's answer confidence, ``qa.reader.model.answer_confidence``; for a question in another
    language, the evidence sentence's score); ``related`` the
    closest passages when the articles are on the topic but do not answer (``found`` is False).
    """

    text: str
    found: bool
    citations: list[Hit]
    # the question answered: a follow-up that leaves out its subject is answered as the question
    # it stands for (``qa.conversation.standalone``: 那租金呢？ -> 租金是多少？)
    question: str = ""
    short_answer: str | None = None
    confidence: float | None = None
    related: list[Hit] = field(default_factory=list)
    method: str = "heuristic"  # "reader" or "heuristic" (the fallback without a reader)
    # the question's language (``qa.multilingual.language``): the framing text follows it
    language: str = "zh"

    def to_dict(self, link: Callable[[Hit], str] | None = None) -> dict[str, Any]:
        cites = []
        for n, hit in enumerate(self.citations, 1):
            d = hit.to_dict(link)
            d["n"] = n
            cites.append(d)
        return {
            "answer": self.text,
            "question": self.question,
            "found": self.found,
            "short_answer": self.short_answer,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "citations": cites,
            "related": [h.to_dict(link) for h in self.related],
            "language": self.language,
        }
