"""Article -> Passages with character offsets into the article text."""

from __future__ import annotations

from qa.models import Article, Passage
from qa.text import clause_spans, sentence_spans


def _units(text: str, max_chars: int) -> list[tuple[int, int]]:
    """Sentences, with any sentence longer than max_chars cut after commas (then hard-cut)."""
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        if e - s <= max_chars:
            units.append((s, e))
            continue
        for cs, ce in clause_spans(text, s, e):
            while ce - cs > max_chars:
                units.append((cs, cs + max_chars))
                cs += max_chars
            units.append((cs, ce))
    return units


def split_article(article: Article, min_chars: int = 150, max_chars: int = 350) -> list[Passage]:
    """Pack whole sentences into passages of about min_chars..max_chars characters.

    Offsets satisfy ``article.text[p.start:p.end] == p.text``; leading and trailing whitespace
    is left outside the passage. Ids are ``{article_id}-{ordinal}``, stable across re-ingestion.
    """
    if not 0 < min_chars <= max_chars:
        raise ValueError(f"need 0 < min_chars <= max_chars, got {min_chars} and {max_chars}")
    text = article.text
    groups: list[tuple[int, int]] = []
    start = end = None
    for s, e in _units(text, max_chars):
        if start is None:
            start, end = s, e
        elif e - start <= max_chars or (
            end is not None and end - start < min_chars and e - start <= max_chars * 1.3
        ):
            end = e
        else:
            groups.append((start, end))  # type: ignore[arg-type]
            start, end = s, e
    if start is not None and end is not None:
        # A short tail joins the passage before it when the two still fit.
        if groups and end - start < min_chars // 2 and end - groups[-1][0] <= max_chars * 1.3:
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((start, end))
    passages: list[Passage] = []
    for s, e in groups:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            n = len(passages)
            passages.append(Passage(f"{article.id}-{n:03d}", article.id, n, text[s:e], s, e))
    return passages
