"""Hits -> Answer with the trained reader: the short answer, its evidence sentence, "not found".

1. The retrieval gate (``qa.answer.is_relevant``) refuses questions nothing in the corpus is
   close to (weather, programming): the reader never sees them. A question put in other words
   than the article's passes all the same when the service's topic contrast is sure of it
   (``SURE_ON_TOPIC``).
2. The sentences of the top passages (not those that cannot tell what is asked: a question,
   or, asked what title or prize, one that gives none) are ranked by cheap scores (shared words,
   answer type, passage rank) and the best ``READ_CANDIDATES`` are read one at a time in that
   order, until no unread sentence could outrank the best reading so far (``STOP_MARGIN``) or
   the best reading's sentence leads every unread one by the prior (``PRIOR_LEAD``). Most
   answerable questions stop after one or two sentences; near misses read all six. A reading
   that counts in another unit than the asked one (红、蓝两队 for 几支队伍) ends nothing
   (``qa.reader.spans.in_asked_unit``).
3. Readings whose short answer is not of the asked kind (a number for "how many", a date for
   "when") are set aside, and so are sentences of an article that leaves out a name the question
   asks about while another retrieved article is about it (``qa.reader.names``). When the best
   remaining sentence's probability clears the threshold calibrated on held-out seed questions
   (``meta.json``), the answer is its span (a count with the noun it counts, when the sentence
   names it in the question's words: ``qa.reader.spans.counted_noun``), then the sentence
   quoted with ``[1]``, then at most one more sentence the reader also believes. Asked about
   今年, a sentence that tells of 去年 gives way to one that also clears the threshold and does
   not; asked "until when", a date that ends a period (至2024年1月) comes before other dates
   (``_preferred``). Otherwise the articles are on the topic but do not say: the answer says so
   and lists the closest passages as related reading.

Traditional text is read folded to simplified character by character, so the span's offsets
point into the source text and the answer keeps the source's characters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from qa.answer import (
    NOT_FOUND,
    Answerer,
    HeuristicAnswerer,
    answer_type_bonus,
    byline_answer,
    is_relevant,
    term_coverage,
)
from qa.config import Settings
from qa.models import Answer, Hit
from qa.reader.data import MAX_UNIT_CHARS
from qa.reader.model import DEFAULT_BUNDLE, Reader, Reading, answer_confidence, left_context
from qa.reader.names import foreign_articles
from qa.reader.spans import (
    counted_noun,
    ends_period,
    fits_in,
    in_asked_unit,
    other_year,
    says_asked,
    tells_honour,
)
from qa.search import Searcher
from qa.text import reading_spans
from qa.tokens import simplified_aligned, tagged, tokenize, unknown_people

log = logging.getLogger(__name__)

# Sentences read per question at most, one at a time, best first by the cheap prior: the reader's
# cost grows with them (bench/RESULTS.md).
READ_CANDIDATES = 6
# Weight of the cheap prior next to the reader's probability when ranking sentences.
# 0.5 was chosen on the calibration half of the seed questions (0, 0.3, 0.5, 1.0 tried).
PRIOR_WEIGHT = 0.5
# Reading stops once the best sentence so far, with an answer of the asked kind, ranks at least
# STOP_MARGIN + PRIOR_WEIGHT x the next sentence's prior: what that sentence would rank if the
# reader gave it STOP_MARGIN. At 1.0 reading never stops on a sentence a later one could outrank:
# the answers are those of reading all six. On the validation split of CMRC 2018 / DRCD
# (`python -m bench.reader_stop`), 0.9 still answered exactly as reading all six, reading 2.9 /
# 2.5 sentences a question, but 3.8 on the seed questions, whose news sentences get lower
# probabilities. 0.5 reads 1.9 / 1.7 there and 2.3 on the seed questions, and costs 2.0 / 0.4 EM
# on validation and nothing on the seed questions: the default, for the latency target
# (QA_READER_STOP_MARGIN=0.9 or 1.0 for answers as good as reading all six).
STOP_MARGIN = 0.5
# Reading also stops on such a reading when its sentence's prior leads every unread sentence's by
# PRIOR_LEAD or more: news sentences get low probabilities (0.1-0.4 for many right answers), and
# the margin alone read all six for a quarter of the answerable seed questions whose first
# sentence already held the answer. Chosen with `python -m bench.reader_stop` on the validation
# splits and the seed calibration half (0.02, 0.05, 0.1, 0.2 tried): 0.1 reads 1.82 / 1.44 /
# 1.85 sentences a question there instead of 2.13 / 1.73 / 2.59, at F1 76.1 / 79.1 / 79.6 against
# 75.9 / 78.3 / 79.6; 0.05 and below cost CMRC 1.1 F1. 1.0 turns it off:
# QA_READER_STOP_MARGIN=1.0 QA_READER_PRIOR_LEAD=1.0 answer as reading all six.
PRIOR_LEAD = 0.1
# A second sentence joins the answer when the reader believes it this much as well.
SUPPORT_PROBABILITY = 0.8
MAX_ANSWER_CHARS = 220
# The closest passages shown as related reading when the articles do not answer.
RELATED = 2
# A question the retrieval gate refuses (few shared words, no close passage: 长岗镇把多大面积的冬天
# 闲置土地… against 冬闲地) is read all the same when its m3e contrast with everyday off-topic
# questions (``qa.crosslingual.CrossLingualAnswerer.contrast_zh``) is at least this: halfway
# between the highest off-topic question and the lowest such answerable one of the calibration
# halves of the seed sets (-0.021 and 0.057; bench/crosslingual.py).
SURE_ON_TOPIC = 0.018
# Keep only readings whose short answer is of the asked kind (``qa.reader.spans.span_fits``).
TYPE_CHECK = True
# Set aside sentences of articles that leave out a name the question asks about while another
# retrieved article is about it (``qa.reader.names``: 武强县, 云岭工匠论坛).
NAME_CHECK = True
NEAR_MISS = "资料中没有找到这个问题的答案。下面是与问题最相关的段落，可供参考。"


@dataclass
class Candidate:
    hit: int
    start: int  # offsets in the passage text
    end: int
    text: str
    context: str = ""  # the title and the text before the sentence, read with it
    prior: float = 0.0
    reading: Reading | None = None
    # its article leaves out a name the question asks about (``qa.reader.names``)
    foreign: bool = False

    @property
    def probability(self) -> float:
        return self.reading.probability if self.reading else 0.0


def is_question(sentence: str) -> bool:
    """A sentence that asks rather than tells (a headline such as 恩平“工BA”如何撬动百万善款？, a
    quoted 在吗？): no answer lies in one (3 of the 6,737 gold answers of CMRC 2018 / DRCD do)."""
    return sentence.rstrip().rstrip("”’」』\"'").endswith(("？", "?"))


def candidates(question: str, hits: Sequence[Hit], limit: int = READ_CANDIDATES) -> list[Candidate]:
    """The sentences of the hits most worth reading, best first by cheap scores."""
    terms = frozenset(tokenize(question))
    out = []
    for i, h in enumerate(hits):
        text = h.passage.text
        for s, e in reading_spans(text, MAX_UNIT_CHARS, min_chars=4):
            sent = text[s:e]
            if is_question(sent) or not tells_honour(question, sent):
                continue
            prior = 0.6 * term_coverage(terms, sent) + answer_type_bonus(question, sent) - 0.08 * i
            # the text before the sentence may lie in the previous passage: read the article's
            context = left_context(h.article.title, h.article.text, h.passage.start + s)
            out.append(Candidate(i, s, e, sent, context, prior))
    out.sort(key=lambda c: -c.prior)
    return out[:limit]


def article_text(hit: Hit) -> str:
    """The hit's article as the name checks read it: its title, a newline, its text."""
    return f"{hit.article.title}\n{hit.article.text}"


def mark_foreign(question: str, hits: Sequence[Hit], cands: Sequence[Candidate]) -> None:
    """Mark the candidates whose article leaves out a name of the question that another retrieved
    article is about (``qa.reader.names``)."""
    articles = {h.article.id: article_text(h) for h in hits}
    foreign = dict(zip(articles, foreign_articles(question, list(articles.values())), strict=True))
    for c in cands:
        c.foreign = foreign[hits[c.hit].article.id]


class ReaderAnswerer:
    """Answers with a trained reader (``qa.reader.model.Reader``)."""

    method = "reader"

    def __init__(
        self,
        reader: Reader,
        threshold: float | None = None,
        stop_margin: float = STOP_MARGIN,
        limit: int = READ_CANDIDATES,
        prior_lead: float = PRIOR_LEAD,
    ) -> None:
        self.reader = reader
        self.threshold = reader.threshold if threshold is None else threshold
        self.stop_margin = stop_margin
        self.prior_lead = prior_lead
        self.limit = limit
        self.on_stage: Callable[[str, float], None] | None = None  # the service's metrics
        # How far on the corpus's topic a question is, past the retrieval gate's words and
        # cosines (``CrossLingualAnswerer.contrast_zh`` sets it): a question put in other words
        # than the article's is read when it is this sure to be about the corpus.
        self.topic: Callable[[str, Sequence[Hit]], float] | None = None
        self.sure_on_topic = SURE_ON_TOPIC

    def warm(self) -> None:
        """Load jieba's part-of-speech tables now (0.4 s), not on the first "who" question
        (``qa.reader.spans``: a person's name is what jieba tags ``nr``)."""
        tagged("新闻")

    def read(self, question: str, hits: Sequence[Hit]) -> list[Candidate]:
        """The candidate sentences read, with their readings, best first: one at a time in the
        cheap prior's order, until no unread sentence could outrank the best (``STOP_MARGIN``)."""
        cands = candidates(question, hits, self.limit)
        if not cands:
            return []
        if NAME_CHECK:
            mark_foreign(question, hits, cands)
            if all(c.foreign for c in cands):
                # the question names a well-known place none of the articles mentions: no
                # sentence can count, so none is read (a near miss costs no reading)
                return cands
        folded = simplified_aligned(question)
        started = time.perf_counter()
        done = 0
        for c in cands:
            (c.reading,) = self.reader.read(
                folded, [simplified_aligned(c.text)], [simplified_aligned(c.context)]
            )
            done += 1
            best = max(cands[:done], key=self._order)
            if (
                done < len(cands)
                and self.confidence(best) >= self.threshold
                and self._fits(question, best)
                and self._preferred(question, best)  # else a preferred one may follow
                and self._counted_as_asked(question, best)
                and self._settled(best, cands[done])
            ):
                break
        if self.on_stage is not None:
            self.on_stage("reader", time.perf_counter() - started)
        return sorted(cands[:done], key=self._order, reverse=True)

    def _settled(self, best: Candidate, unread: Candidate) -> bool:
        """No unread sentence need be read past ``best`` (confident, of the asked kind): it ranks
        ``stop_margin`` above what the best unread one (``unread``, first by the prior) would rank
        with that probability, or its prior leads by ``prior_lead``."""
        return self._rank(best) >= self.stop_margin + PRIOR_WEIGHT * unread.prior or (
            self.prior_lead < 1.0 and best.prior >= unread.prior + self.prior_lead
        )

    def confidence(self, c: Candidate) -> float:
        """What "found" is decided on for one sentence: the reader's answer probability with its
        span head's certainty (``qa.reader.model.answer_confidence``, the bundle's weights)."""
        if c.reading is None:
            return 0.0
        return answer_confidence(c.reading, self.reader.span_weight, self.reader.span_center)

    @staticmethod
    def _rank(c: Candidate) -> float:
        # The reader's probability decides; the cheap prior (shared words, answer type, passage
        # rank) breaks near-ties, which are common at the low probabilities news sentences get.
        return c.probability + PRIOR_WEIGHT * c.prior

    @classmethod
    def _order(cls, c: Candidate) -> tuple[bool, float]:
        # sentences of articles that do not mention the question's names come last
        return not c.foreign, cls._rank(c)

    def on_topic(self, question: str, hits: Sequence[Hit]) -> bool:
        """The retrieval gate (``is_relevant``: the question's words or a close passage), a
        person the question names that a retrieved article names too (``梅桂敏在哪家公司上班？``:
        a name jieba's dictionary has never seen, ``qa.tokens.unknown_people``), or a contrast with everyday
        off-topic questions of at least ``SURE_ON_TOPIC``."""
        if is_relevant(question, hits):
            return True
        people = unknown_people(question)
        if people:
            texts = [simplified_aligned(article_text(h)) for h in hits]
            if any(p in t for t in texts for p in people):
                return True
        return (
            bool(hits)
            and self.topic is not None
            and self.topic(question, hits) >= self.sure_on_topic
        )

    def answer(self, question: str, hits: list[Hit], context: str | None = None) -> Answer:
        if not self.on_topic(context or question, hits):
            return Answer(NOT_FOUND, False, [], question, method=self.method)
        byline = byline_answer(question, hits)
        if byline is not None:
            return replace(byline, method=self.method)
        ranked = self.read(question, hits)
        confidence = self.decision(question, ranked)
        if confidence < self.threshold:
            related = [replace(h, highlights=[]) for h in hits[:RELATED]]
            return Answer(
                NEAR_MISS,
                False,
                [],
                question,
                confidence=confidence,
                related=related,
                method=self.method,
            )
        best = self._best(question, ranked)
        chosen = [best]
        for c in [c for c in ranked if c is not best][:1]:
            if (
                not c.foreign
                and not other_year(question, c.text)
                and c.probability >= SUPPORT_PROBABILITY
                and self.confidence(c) >= self.threshold
                and len(best.text) + len(c.text) <= MAX_ANSWER_CHARS
            ):
                chosen.append(c)
        return self._compose(question, hits, best, chosen)

    def _best(self, question: str, ranked: Sequence[Candidate]) -> Candidate:
        """The sentence the answer is read from: the first ranked, unless it is not
        ``_preferred`` and a later one that also clears the threshold with an answer of the
        asked kind is. Whether the answer is found does not change."""
        if self._preferred(question, ranked[0]):
            return ranked[0]
        for c in ranked[1:]:
            if (
                self._fits(question, c)
                and self.confidence(c) >= self.threshold
                and self._preferred(question, c)
            ):
                return c
        return ranked[0]

    @staticmethod
    def _preferred(question: str, c: Candidate) -> bool:
        """Not a sentence of another year than the one asked about (``other_year``), and asked
        "until when", a reading that ends a period (``ends_period``)."""
        if other_year(question, c.text):
            return False
        if c.reading is None:
            return True
        return ends_period(question, c.text, c.reading.start, c.reading.end)

    @staticmethod
    def _counted_as_asked(question: str, c: Candidate) -> bool:
        """Reading goes on past an answer that counts in another unit than the one asked
        (``红、蓝两队`` for 几支队伍), in case a later sentence counts in it (``16支队伍``); the
        ranking then decides between them."""
        return c.reading is None or in_asked_unit(question, c.reading.text(c.text))

    def decision(self, question: str, ranked: Sequence[Candidate]) -> float:
        """What "found" is decided on: the highest confidence (``confidence``) of the readings of
        the asked kind (a number for "how many", a date for "when"): a sentence read with a
        reading of another kind vouches for nothing; 0 when the best-ranked reading is not of the
        asked kind."""
        if not ranked or not self._fits(question, ranked[0]):
            return 0.0
        return max(self.confidence(c) for c in ranked if self._fits(question, c))

    @staticmethod
    def _fits(question: str, c: Candidate) -> bool:
        if c.foreign:
            return False
        if not TYPE_CHECK or c.reading is None:
            return True
        return says_asked(question, c.text) and fits_in(
            question, c.text, c.reading.start, c.reading.end
        )

    def _compose(
        self, question: str, hits: list[Hit], best: Candidate, chosen: list[Candidate]
    ) -> Answer:
        reading = best.reading
        assert reading is not None
        raw = reading.text(best.text)
        short = raw.strip() or None
        if short is not None:
            # 12家 -> 12家企业 asked 几家企业: the count with what it counts, as the text says it
            end = reading.start + len(raw.rstrip())
            short += counted_noun(question, short, best.text[end:])
        used = list(dict.fromkeys(c.hit for c in chosen))
        number = {h: n for n, h in enumerate(used, 1)}
        citations = []
        for h in used:
            hit = replace(hits[h], highlights=[(c.start, c.end) for c in chosen if c.hit == h])
            if h == best.hit:
                hit.evidence_span = (best.start, best.end)
                if short is not None:
                    s = best.start + reading.start + len(raw) - len(raw.lstrip())
                    hit.answer_span = (s, s + len(short))
            citations.append(hit)
        quoted = "".join(f"{c.text}[{number[c.hit]}]" for c in chosen)
        text = f"{short}\n\n{quoted}" if short else quoted
        return Answer(
            text,
            True,
            citations,
            question,
            short_answer=short,
            confidence=self.confidence(best),
            method=self.method,
        )


def load_answerer(settings: Settings, searcher: Searcher) -> Answerer:
    """The answerer the settings ask for.

    ``auto`` uses the installed reader bundle and falls back to the heuristic composer, with a
    warning, only when no bundle is there; a bundle that is there but truncated or from another
    version is an error that names it (``ReaderError``), as is a missing bundle named explicitly.
    """
    inner = _chinese_answerer(settings, searcher)
    if searcher.multilingual is None:
        return inner
    from qa.crosslingual import CrossLingualAnswerer

    # questions in other languages are answered from the multilingual signal
    return CrossLingualAnswerer(inner, searcher)


def _chinese_answerer(settings: Settings, searcher: Searcher) -> Answerer:
    choice = settings.reader.strip()
    if choice.lower() in ("off", "heuristic", "none"):
        return HeuristicAnswerer(searcher)
    bundle = DEFAULT_BUNDLE if choice.lower() == "auto" else Path(choice)
    if choice.lower() == "auto" and not (bundle / "meta.json").exists():
        log.warning(
            "no reader bundle in %s: answering with the heuristic sentence scorer "
            "(no short answers, weak 'not found'). Restore it from git or run `qa train-reader`",
            bundle,
        )
        return HeuristicAnswerer(searcher)
    margin = STOP_MARGIN if settings.reader_stop_margin is None else settings.reader_stop_margin
    lead = PRIOR_LEAD if settings.reader_prior_lead is None else settings.reader_prior_lead
    return ReaderAnswerer(Reader(bundle), settings.reader_threshold, margin, prior_lead=lead)
