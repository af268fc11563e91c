"""SQuAD-style data -> reader examples: (question, sentence) pairs with an answer span or none.

The reader reads one sentence at a time (``qa.text.reading_spans``), so a question becomes one
positive pair (the sentence holding the answer, with its span) and negatives that teach "this
sentence does not answer":

- ``same``: other sentences of the same paragraph, the ones sharing most characters with the
  question first (on the topic, not the answer);
- ``retrieved``: the sentence of another document that shares most rare character pairs with the
  question (what retrieval puts in front of the reader for a question the corpus cannot answer);
- ``swapped``: the question with one of its names, places or numbers that the sentence mentions
  replaced by another one the paragraph never mentions, asked of the positive sentence (the fact
  asked for is absent: the near miss);
- ``erased`` (``--erased``): the positive sentence without the clause that holds the answer, when
  it has others (比赛进行的两个多月里，16支队伍参赛，筹集逾410万元善款。 asked how much was raised
  becomes 比赛进行的两个多月里，16支队伍参赛。): the same subject, other facts of the same kind,
  not the one asked for, which is how a news article misses a question on its topic.

``synthetic_examples`` adds cloze questions (``cloze``) made from the numbers and dates of
sentences no question asks about, each with a ``same`` negative and a ``swapped`` near miss
(``qa train-reader --synthetic N``; measured, not in the shipped recipe). ``qa.reader.reword``
adds copies of the questions in other words (``--reword SHARE``; measured, not in it either).

Traditional text (DRCD) is folded to simplified character by character, so offsets are unchanged.
Documents, not questions, are split into train / validation / test, so no paragraph is seen in
training and scored in evaluation.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qa.reader.model import left_context
from qa.text import reading_spans
from qa.tokens import simplified_aligned, tagged

Split = Literal["train", "val", "test"]
MAX_UNIT_CHARS = 120
# Documents (by a hash of their title) per split, in percent.
TEST_PERCENT = 10
VAL_PERCENT = 6


@dataclass(frozen=True)
class QAItem:
    """One question about one paragraph, with its gold answers (offsets into ``context``)."""

    qid: str
    question: str
    context: str
    title: str
    answers: tuple[tuple[str, int], ...]
    dataset: str

    @property
    def split(self) -> Split:
        return doc_split(self.dataset, self.title)


# What a training pair is: the answer's sentence; another sentence of the same paragraph; a
# sentence of another document retrieval would rank high; the question with a name or number
# swapped for one the paragraph never mentions (the near miss); a cloze question (``--synthetic``);
# the answer's sentence without the clause that holds it (``--erased``).
PAIR_KINDS = ("positive", "same", "retrieved", "swapped", "cloze", "erased")


@dataclass(frozen=True)
class Example:
    """A (question, sentence) pair; ``start``/``end`` are the answer's offsets in the sentence,
    or -1 when the sentence does not answer the question."""

    question: str
    sentence: str
    start: int
    end: int
    kind: str  # one of PAIR_KINDS
    qid: str
    context: str = ""  # what the sentence is read with (``qa.reader.model.left_context``)

    @property
    def answerable(self) -> bool:
        return self.start >= 0


def doc_split(dataset: str, title: str) -> Split:
    bucket = int(hashlib.sha1(f"{dataset}\x1f{title}".encode()).hexdigest()[:8], 16) % 100
    if bucket < TEST_PERCENT:
        return "test"
    if bucket < TEST_PERCENT + VAL_PERCENT:
        return "val"
    return "train"


def dataset_name(path: Path) -> str:
    """``cmrc`` or ``drcd`` for the shared files (the split hashes it), else the file's stem."""
    stem = path.stem.lower()
    return next((k for k in ("cmrc", "drcd") if stem.startswith(k)), stem)


def heldout_split(path: Path, title: str) -> Split:
    """The split of a document of a SQuAD-style file, as training assigned it."""
    return doc_split(dataset_name(path), simplified_aligned(title))


def load_squad(path: Path, dataset: str | None = None) -> list[QAItem]:
    """Questions of a SQuAD-style file, folded to simplified; malformed items are skipped."""
    name = dataset or dataset_name(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    items = []
    for doc in raw.get("data", []):
        title = simplified_aligned(str(doc.get("title", "")))
        for para in doc.get("paragraphs", []):
            original = str(para.get("context", ""))
            context = simplified_aligned(original)
            for qa in para.get("qas", []):
                question = simplified_aligned(str(qa.get("question", ""))).strip()
                answers = []
                for a in qa.get("answers", []):
                    text, start = str(a.get("text", "")), a.get("answer_start")
                    if not text.strip() or not isinstance(start, int):
                        continue
                    folded = simplified_aligned(text)
                    if context[start : start + len(folded)] != folded:
                        found = context.find(folded)
                        if found < 0:
                            continue
                        start = found
                    answers.append((folded, start))
                if question and answers:
                    items.append(
                        QAItem(
                            str(qa.get("id", "")), question, context, title, tuple(answers), name
                        )
                    )
    return items


def _overlap(question: str, sentence: str) -> float:
    q = set(question)
    return len(q & set(sentence)) / max(1, len(q))


def _units(context: str) -> list[tuple[int, int]]:
    # cut as the shipped reader's training units were (every comma, 、 included), so that
    # `qa train-reader` reproduces it; reading keeps lists whole (``qa.text.reading_spans``)
    return reading_spans(context, MAX_UNIT_CHARS, keep_lists=False)


def calibration_pairs(items: Sequence[QAItem], limit: int = 120) -> list[tuple[str, str]]:
    """(question, sentence) pairs whose activations set the int8 reader's channel scales
    (``qa.reader.quantize``): the first two reading units of every ``len(items) // limit``-th
    item, the same pairs on every run."""
    step = max(1, len(items) // max(limit, 1))
    return [
        (item.question, item.context[s:e])
        for item in list(items)[::step][:limit]
        for s, e in _units(item.context)[:2]
    ]


def _positive(item: QAItem) -> tuple[int, int, int, int] | None:
    """(unit start, unit end, answer start, answer end) in the context, for the first gold answer
    that lies inside one sentence (or two adjacent ones)."""
    units = _units(item.context)
    for text, start in item.answers:
        end = start + len(text)
        for i, (s, e) in enumerate(units):
            if s <= start < e:
                if end <= e:
                    return s, e, start, end
                if i + 1 < len(units) and end <= units[i + 1][1] and units[i + 1][1] - s <= 160:
                    return s, units[i + 1][1], start, end
                break
    return None


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SWAP_FLAGS = ("nr", "ns", "nt", "nz", "m", "t")


class _Swapper:
    """Question rewrites that ask for a fact the paragraph does not hold."""

    def __init__(self, items: Iterable[QAItem]) -> None:
        self.pool: dict[str, list[str]] = defaultdict(list)
        for item in items:
            for word, flag in tagged(item.question):
                if flag[:2] in _SWAP_FLAGS and len(word) >= 2 and not _NUMBER.fullmatch(word):
                    self.pool[flag[:2]].append(word)

    def swap(self, item: QAItem, sentence: str, rng: random.Random) -> str | None:
        words = [
            (w, f[:2])
            for w, f in tagged(item.question)
            if f[:2] in _SWAP_FLAGS and len(w) >= 2 and w in sentence
        ]
        numbers = [m.group() for m in _NUMBER.finditer(item.question) if m.group() in sentence]
        rng.shuffle(words)
        for word, flag in words:
            if _NUMBER.fullmatch(word):
                continue
            pool = self.pool.get(flag, [])
            for _ in range(8):
                other = rng.choice(pool) if pool else ""
                if other and other != word and other not in item.context:
                    return item.question.replace(word, other, 1)
        for number in numbers:
            value = int(float(number))
            other = str(value + rng.choice([-3, -2, -1, 1, 2, 5, 10]) * max(1, value // 10))
            if other != number and other not in item.context and int(other) >= 0:
                return item.question.replace(number, other, 1)
        return None


class _RareBigrams:
    """Sentences of many documents found by the rare character pairs they share with a question."""

    def __init__(self, items: Sequence[QAItem]) -> None:
        self.sentences: list[tuple[str, str, str]] = []  # (title, text, context)
        seen = set()
        for item in items:
            if (item.title, item.context) in seen:
                continue
            seen.add((item.title, item.context))
            for s, e in _units(item.context):
                self.sentences.append(
                    (item.title, item.context[s:e], left_context(item.title, item.context, s))
                )
        self.postings: dict[str, list[int]] = defaultdict(list)
        for i, (_, text, _) in enumerate(self.sentences):
            for bg in {text[j : j + 2] for j in range(len(text) - 1)}:
                self.postings[bg].append(i)
        n = len(self.sentences)
        self.idf = {bg: math.log(n / len(p)) for bg, p in self.postings.items()}

    def best(self, question: str, not_title: str) -> tuple[str, str] | None:
        """(sentence, its context) of another document that shares most rare pairs."""
        scores: Counter[int] = Counter()
        for bg in {question[j : j + 2] for j in range(len(question) - 1)}:
            posting = self.postings.get(bg)
            if posting and len(posting) <= 400:
                for i in posting:
                    scores[i] += self.idf[bg]  # type: ignore[assignment]
        for i, _ in scores.most_common(10):
            title, text, context = self.sentences[i]
            if title != not_title:
                return text, context
        return None


_CLAUSE_END = re.compile(r"[^，；,;]+[，；,;]?")


def erase_answer(sentence: str, start: int, end: int) -> str | None:
    """The sentence without the clause (between commas or semicolons) that holds the answer at
    ``start:end``, ended as a sentence; None when the answer spans clauses or nothing is left."""
    clauses = [(m.start(), m.end()) for m in _CLAUSE_END.finditer(sentence)]
    if len(clauses) < 2:
        return None
    inside = [(s, e) for s, e in clauses if s <= start and end <= e]
    if not inside:
        return None
    s, e = inside[0]
    out = (sentence[:s] + sentence[e:]).rstrip("，；,; ")
    if len(out) < 8:
        return None
    return out if out.endswith(("。", "！", "？", "”")) else out + "。"


def build_examples(
    items: Sequence[QAItem],
    seed: int = 13,
    same_negatives: int = 3,
    retrieved_negatives: bool = True,
    swapped_negatives: bool = True,
    swap_pool: Sequence[QAItem] | None = None,
    erased_negatives: bool = False,
) -> list[Example]:
    """Positive and negative pairs for every question (see the module docstring)."""
    rng = random.Random(seed)
    swapper = _Swapper(swap_pool or items) if swapped_negatives else None
    bigrams = _RareBigrams(items) if retrieved_negatives else None
    out: list[Example] = []
    for item in items:
        pos = _positive(item)
        if pos is None:
            continue
        us, ue, a_s, a_e = pos
        sentence = item.context[us:ue]
        ctx = left_context(item.title, item.context, us)
        out.append(Example(item.question, sentence, a_s - us, a_e - us, "positive", item.qid, ctx))
        gold = {t for t, _ in item.answers}
        others = [
            (item.context[s:e], left_context(item.title, item.context, s))
            for s, e in _units(item.context)
            if (e <= us or s >= ue) and not any(g in item.context[s:e] for g in gold)
        ]
        others.sort(key=lambda t: -_overlap(item.question, t[0]))
        picked = others[: max(0, same_negatives - 1)]
        rest = others[len(picked) :]
        if rest and same_negatives > 0:
            picked.append(rng.choice(rest))
        out.extend(Example(item.question, t, -1, -1, "same", item.qid, c) for t, c in picked)
        if bigrams is not None:
            found = bigrams.best(item.question, item.title)
            if found and not any(g in found[0] for g in gold):
                text, c = found
                out.append(Example(item.question, text, -1, -1, "retrieved", item.qid, c))
        if swapper is not None:
            question = swapper.swap(item, sentence, rng)
            if question:
                out.append(Example(question, sentence, -1, -1, "swapped", item.qid, ctx))
        if erased_negatives:
            rest_of = erase_answer(sentence, a_s - us, a_e - us)
            if rest_of and not any(g in rest_of for g in gold):
                out.append(Example(item.question, rest_of, -1, -1, "erased", item.qid, ctx))
    return out


# Cloze questions made from sentences no question asks about (``synthetic_examples``): a number
# with its unit or a date becomes the question word. Names and places are left out: jieba tags
# too many parts of words as names (谁字典 from 华英字典).
_UNIT = (
    r"(?:%|万元|亿元|平方米|公里|小时|分钟|万|亿|个|件|名|人|家|元|岁|次|项|场|座|所|条|户|吨|米|亩"
    r"|天|年|倍|位|台|辆|本|部|届|期|批|种|只|头|篇|首|分)"
)
_QUANTITY = re.compile(rf"(?<![\d.])\d+(?:\.\d+)?(余|多)?({_UNIT})")
_DATE = re.compile(r"(?<!\d)\d{4}年(?:\d{1,2}月(?:\d{1,2}日)?)?")
_CUT_UNIT = set("级代千百万亿0123456789.")
_CLAUSE = re.compile(r"[^，；：,;。！？]+")


def _cloze_spans(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, question word) of what a cloze question may ask about in the sentence."""
    out: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    for m in _DATE.finditer(sentence):
        out.append((m.start(), m.end(), "什么时候" if "月" in m.group() else "哪一年"))
        taken.update(range(m.start(), m.end()))
    for m in _QUANTITY.finditer(sentence):
        if m.start() in taken or sentence[m.end() : m.end() + 1] in _CUT_UNIT:
            continue  # 8年级, 2亿5千万: the unit goes on
        unit = m.group(2)
        out.append((m.start(), m.end(), "多少" if unit == "%" else f"多少{unit}"))
    return out


def cloze_question(sentence: str, start: int, end: int, word: str) -> str | None:
    """The clause holding ``sentence[start:end]`` with it replaced by ``word``, as a question;
    None when the clause is too short to ask anything or says the answer twice."""
    for m in _CLAUSE.finditer(sentence):
        if m.start() <= start and end <= m.end():
            clause = m.group()
            a, b = start - m.start(), end - m.start()
            answer = clause[a:b]
            question = (clause[:a] + word + clause[b:]).strip()
            if len(question) < 8 or answer in question:
                return None
            return question + "？"
    return None


def synthetic_examples(items: Sequence[QAItem], per_paragraph: int, seed: int) -> list[Example]:
    """Cloze questions (``cloze_question``) over the sentences of the items' paragraphs that no
    real question's answer lies in: more span-reading practice than 5,666 real questions give.
    Each is a positive pair with its sentence, a ``same`` negative (the paragraph's sentence
    that shares most characters with it but not the answer) and, where the clause names
    something to swap, a ``swapped`` near miss asked of the same sentence."""
    if per_paragraph <= 0:
        return []
    rng = random.Random(seed)
    swapper = _Swapper(items)
    by_paragraph: dict[tuple[str, str], list[QAItem]] = defaultdict(list)
    for item in items:
        by_paragraph[(item.title, item.context)].append(item)
    out: list[Example] = []
    for (title, context), asked in by_paragraph.items():
        golds = {t for item in asked for t, _ in item.answers}
        units = _units(context)
        options = []
        for s, e in units:
            sent = context[s:e]
            if any(g in sent for g in golds):
                continue
            for a, b, word in _cloze_spans(sent):
                question = cloze_question(sent, a, b, word)
                if question:
                    options.append((s, e, a, b, question))
        rng.shuffle(options)
        used: set[int] = set()
        for s, e, a, b, question in options:
            if len(used) >= per_paragraph or s in used:
                continue
            used.add(s)
            sent, answer = context[s:e], context[s + a : s + b]
            qid = f"cloze-{hashlib.sha1(f'{title}{s}{a}'.encode()).hexdigest()[:10]}"
            ctx = left_context(title, context, s)
            out.append(Example(question, sent, a, b, "cloze", qid, ctx))
            cloze = QAItem(qid, question, context, title, ((answer, s + a),), "cloze")
            near = swapper.swap(cloze, sent, rng)
            if near:
                out.append(Example(near, sent, -1, -1, "swapped", qid, ctx))
            others = [(s2, e2) for s2, e2 in units if s2 != s and answer not in context[s2:e2]]
            if others:
                s2, e2 = max(others, key=lambda u: _overlap(question, context[u[0] : u[1]]))
                ctx2 = left_context(title, context, s2)
                out.append(Example(question, context[s2:e2], -1, -1, "same", qid, ctx2))
    return out


def load_all(data_dir: Path) -> list[QAItem]:
    """CMRC 2018 and DRCD dev sets from ``data_dir`` (either may be absent)."""
    items: list[QAItem] = []
    for name in ("cmrc2018_dev.json", "drcd_dev.json"):
        if (data_dir / name).is_file():
            items.extend(load_squad(data_dir / name))
    return items


def split_items(items: Sequence[QAItem]) -> dict[Split, list[QAItem]]:
    out: dict[Split, list[QAItem]] = {"train": [], "val": [], "test": []}
    for item in items:
        out[item.split].append(item)
    return out
