"""Hits -> a short extractive answer with numbered citations; follow-up questions; not-found.

Two answerers share this interface (``Answerer.answer(question, hits, context) -> Answer``): the
trained reader (``qa.reader.answerer.ReaderAnswerer``, the default) and the heuristic sentence
scorer below (``HeuristicAnswerer``), kept as the fallback when no reader bundle is installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from qa.conversation import Message, retrieval_query
from qa.models import Answer, Hit
from qa.search import Searcher
from qa.text import sentence_spans
from qa.tokens import tokenize

NOT_FOUND = "资料中没有找到与该问题相关的内容。"
MAX_SENTENCES = 3
MAX_ANSWER_CHARS = 220
# A further sentence joins the answer when it scores within this margin of the best one.
KEEP_MARGIN = 0.06
# Sentences scored with the embedding model per answer (the rest are ruled out by cheap scores).
ENCODE_CANDIDATES = 5
# Relevance gate, calibrated on tests/data (answerable seed questions vs. unanswerable ones):
# see bench/RESULTS.md. A question is answered when its best passage is close in meaning
# (dense cosine) or shares enough of its content words (term coverage).
MIN_DENSE = 0.80
MIN_COVERAGE = 0.60
MIN_DENSE_WITH_COVERAGE = 0.60
MIN_COVERAGE_WITH_DENSE = 0.30


@lru_cache(maxsize=8192)
def _words(text: str) -> frozenset[str]:
    # passages and their sentences come back question after question: tokenized once
    return frozenset(tokenize(text))


def term_coverage(query: str | frozenset[str], text: str) -> float:
    """Share of the query's content words (or of a precomputed set of them) found in the text."""
    terms = query if isinstance(query, frozenset) else frozenset(tokenize(query))
    if not terms:
        return 0.0
    return len(terms & _words(text)) / len(terms)


def is_relevant(question: str, hits: Sequence[Hit]) -> bool:
    if not hits:
        return False
    best_dense = max((h.dense_score or 0.0) for h in hits)
    best_cov = max(term_coverage(question, h.passage.text + h.article.title) for h in hits[:3])
    return (
        best_dense >= MIN_DENSE
        or best_cov >= MIN_COVERAGE
        or (best_dense >= MIN_DENSE_WITH_COVERAGE and best_cov >= MIN_COVERAGE_WITH_DENSE)
    )


@dataclass
class _Sentence:
    hit: int
    start: int  # offsets in the passage text
    end: int
    text: str
    score: float = 0.0


def _candidates(hits: Sequence[Hit]) -> list[_Sentence]:
    out = []
    for i, h in enumerate(hits):
        text = h.passage.text
        for s, e in sentence_spans(text):
            sent = text[s:e].strip()
            if len(sent) >= 4:
                s2 = s + (len(text[s:e]) - len(text[s:e].lstrip()))
                out.append(_Sentence(i, s2, s2 + len(sent), sent))
    return out


_WANTS_NUMBER = re.compile(
    r"多少|几|多大|多长|多高|多远|多久|比例|百分之|率|数量|人数|金额|价格|价钱|租金|房租|费用|第几"
)
_WANTS_TIME = re.compile(r"什么时候|何时|哪天|哪一天|哪年|日期|时间")
# A number: digits, or a Chinese numeral with its measure word (四级网格, 十条规定, 两支队伍), but
# not a measure word said twice (一盏盏, 一个个: "one after another", no count).
_HAS_NUMBER = re.compile(
    r"\d|[一二三四五六七八九十百千万两]+"
    r"([个名人家项次件户场年月日元级条支位种类座所批届期台辆套张篇首间块盏吨亩岁倍])(?!\1)"
)
_HAS_DATE = re.compile(r"\d+月\d+日|\d{4}年|今年|去年|近日|日前")


def answer_type_bonus(question: str, sentence: str) -> float:
    """A little credit for a sentence holding what the question asks for (a number, a date)."""
    if _WANTS_TIME.search(question):
        return 0.2 if _HAS_DATE.search(sentence) else 0.0
    if _WANTS_NUMBER.search(question):
        return 0.2 if _HAS_NUMBER.search(sentence) else 0.0
    return 0.0


# 作者 but not 工作者 (社会化工会工作者 asks about workers, not the article's author)
_ASKS_BYLINE = re.compile(
    r"谁拍|摄影|拍摄者|(?<!工)作者|记者是谁|(?:哪位|哪个|哪名)(?:记者|通讯员)|谁写|署名|通讯员是谁"
)


def byline_answer(question: str, hits: list[Hit]) -> Answer | None:
    """Who took the photo / who wrote it: quote the top article's byline, which is not passage text."""
    if not hits or not _ASKS_BYLINE.search(question) or not hits[0].article.byline:
        return None
    top = hits[0]
    top.highlights = []
    byline = top.article.byline
    return Answer(f"《{top.article.title}》署名：{byline}[1]", True, [top], question, byline)


def compose(
    question: str,
    hits: list[Hit],
    searcher: Searcher,
    query_vector: np.ndarray | None = None,
    context: str | None = None,
) -> Answer:
    """Pick the sentences that best answer the question and quote them with [n] markers.

    ``context`` is the query the hits were retrieved with when it differs from the question (a
    follow-up plus the question before it); relevance is judged on it, sentences on the question.
    """
    if not is_relevant(context or question, hits):
        return Answer(NOT_FOUND, False, [], question)
    byline = byline_answer(question, hits)
    if byline is not None:
        return byline
    cands = _candidates(hits)
    if not cands:
        return Answer(NOT_FOUND, False, [], question)
    qv = searcher.encode_query(question) if query_vector is None else query_vector
    # Cheap scores first (shared words, answer type, passage rank); only the best few sentences
    # go through the encoder, which dominates the cost of composing an answer.
    terms = frozenset(tokenize(question))
    for c in cands:
        c.score = (
            0.6 * term_coverage(terms, c.text) + answer_type_bonus(question, c.text) - 0.08 * c.hit
        )
    cands = sorted(cands, key=lambda c: -c.score)[:ENCODE_CANDIDATES]
    sims = searcher.embedder.encode_queries([c.text for c in cands]) @ qv
    for c, sim in zip(cands, sims, strict=True):
        c.score += float(sim)
    ranked = sorted(cands, key=lambda c: -c.score)
    best = ranked[0]
    chosen = [best]
    for c in ranked[1:]:
        if len(chosen) >= MAX_SENTENCES:
            break
        total = sum(len(x.text) for x in chosen) + len(c.text)
        if c.score >= best.score - KEEP_MARGIN and total <= MAX_ANSWER_CHARS:
            chosen.append(c)
    chosen.sort(key=lambda c: (c.hit, c.start))

    # Citations: the passages the answer quotes, numbered in order of first use.
    used = list(dict.fromkeys(c.hit for c in chosen))
    number = {h: n for n, h in enumerate(used, 1)}
    citations = []
    for h in used:
        hit = hits[h]
        hit.highlights = [(c.start, c.end) for c in chosen if c.hit == h]
        citations.append(hit)
    parts = [f"{c.text}[{number[c.hit]}]" for c in chosen]
    return Answer("".join(parts), True, citations, question)


class Answerer(Protocol):
    method: str

    def answer(self, question: str, hits: list[Hit], context: str | None = None) -> Answer: ...


class HeuristicAnswerer:
    """The hand-tuned sentence scorer: quotes sentences, gives no short answer."""

    method = "heuristic"

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher

    def answer(self, question: str, hits: list[Hit], context: str | None = None) -> Answer:
        return compose(question, hits, self.searcher, context=context)


def answer_messages(
    searcher: Searcher,
    messages: Sequence[Message],
    top_k: int = 3,
    answerer: Answerer | None = None,
) -> Answer:
    """Answer the last user message, retrieving with the conversation in mind."""
    question, query = retrieval_query(messages)
    qv = searcher.encode_query(query)
    hits = searcher.search(query, top_k=top_k, query_vector=qv)
    if answerer is None:  # the heuristic composer reuses the query vector
        if query == question:
            return compose(question, hits, searcher, qv)
        return compose(question, hits, searcher, context=query)
    return answerer.answer(question, hits, None if query == question else query)


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)


# The framing of the source lists, in Chinese and (for questions in any other language) English.
LABELS = {
    "zh": {"sources": "来源", "related": "相关段落"},
    "en": {"sources": "Sources", "related": "Related passages"},
}


def _source_line(
    n: int, hit: Hit, link: Callable[[Hit], str] | None = None, lang: str = "zh"
) -> str:
    a = hit.article
    title = f"《{_md_escape(a.title)}》"
    if link is not None:  # Markdown-only front-ends still get a link to the passage
        title = f"[{title}]({link(hit)})"
    if lang != "zh":
        byline = f", {a.byline}" if a.byline else ""
        where = f"({a.source}, characters {hit.passage.start}–{hit.passage.end})"
        return f"{n}. {title}{byline} {where}"
    byline = f"，{a.byline}" if a.byline else ""
    return f"{n}. {title}{byline}（{a.source}，第 {hit.passage.start}–{hit.passage.end} 字）"


def markdown(answer: Answer, link: Callable[[Hit], str] | None = None) -> str:
    """The answer followed by a 来源 list (or 相关段落 when not found), for chat front-ends;
    with ``link`` each source's title links to its permalink. Labels follow the question's
    language."""
    lang = "zh" if answer.language == "zh" else "en"
    labels = LABELS[lang]
    if not answer.found:
        if not answer.related:
            return answer.text
        lines = [answer.text, "", f"**{labels['related']}**"]
        lines += [_source_line(n, h, link, lang) for n, h in enumerate(answer.related, 1)]
        return "\n".join(lines)
    text = answer.text
    if answer.short_answer and text.startswith(answer.short_answer + "\n"):
        text = f"**{answer.short_answer}**" + text[len(answer.short_answer) :]
    lines = [text, "", f"**{labels['sources']}**"]
    lines += [_source_line(n, h, link, lang) for n, h in enumerate(answer.citations, 1)]
    return "\n".join(lines)
