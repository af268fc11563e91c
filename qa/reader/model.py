"""The trained reader at run time: (question, sentences) -> answer spans with probabilities.

The reader is a cross-encoder over ``[CLS] question [SEP] sentence [SEP]`` with two heads: the
[CLS] logit says whether the sentence answers the question (a probability after the temperature
fitted on held-out data), and per-token start/end logits give the answer span inside the
sentence. It runs on ONNX Runtime from a bundle (``reader.onnx``, ``tokenizer.json`` or its
compressed ``tokenizer.json.gz``, ``meta.json``); a bundle whose graph starts at the token
embeddings reads them from the package its ``meta.json`` names (``qa.reader.e5``). PyTorch is
needed only to train it (``qa.reader.train``).
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import QAError
from qa.reader import spans

log = logging.getLogger(__name__)

READER_VERSION = 1
MAX_LENGTH = 128
MAX_QUESTION_CHARS = 48
MAX_ANSWER_TOKENS = 40
# Spans kept beside the best one for ``qa.reader.spans.choose``
ALTERNATIVES = 20
# What a sentence is read with, after it: the article's title and the text just before it (the
# subject of "他" or "此次比赛" is often there). Bundles trained without it have no
# ``context_chars`` in meta.json and read the sentence alone.
CONTEXT_CHARS = 40
TITLE_CHARS = 24
DEFAULT_BUNDLE = Path(__file__).resolve().parent.parent.parent / "embeddings" / "reader"


class ReaderError(QAError):
    """The reader bundle is missing, truncated or from another version."""


def tokenizer_file(bundle: Path) -> Path:
    """A bundle's ``tokenizer.json``, or its compressed ``tokenizer.json.gz``."""
    plain = bundle / "tokenizer.json"
    packed = bundle / "tokenizer.json.gz"
    return packed if packed.is_file() and not plain.is_file() else plain


@dataclass(frozen=True)
class Reading:
    """What the reader found in one sentence: the answer's offsets in it, and how sure it is."""

    probability: float  # the sentence answers the question
    start: int  # answer span in the sentence (characters); -1 when there is no span
    end: int
    span_score: float = 0.0
    # the reader's next best spans, (start, end, score), best first (``qa.reader.spans.choose``)
    alternatives: tuple[tuple[int, int, float], ...] = ()

    def text(self, sentence: str) -> str:
        return sentence[self.start : self.end] if self.start >= 0 else ""


@dataclass
class Batch:
    """Tokenized pairs: arrays for the model, plus what maps tokens back to characters."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    offsets: list[list[tuple[int, int]]]
    in_sentence: np.ndarray  # token belongs to the sentence (not question, not special)

    def feed(self) -> dict[str, np.ndarray]:
        return {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }


def _lower(text: str) -> str:
    low = text.lower()
    return low if len(low) == len(text) else text


def left_context(title: str, text: str, start: int, chars: int = CONTEXT_CHARS) -> str:
    """The title and the ``chars`` characters of ``text`` before ``start``: what a sentence at
    ``start`` is read with."""
    title = " ".join(title.split())[:TITLE_CHARS]
    before = text[max(0, start - chars) : start].strip()
    return f"{title}。{before}" if title and before else title or before


class PairEncoder:
    """The fast tokenizer for (question, sentence [SEP] context) pairs.

    Truncation cuts the second text from its end, so the context goes before the sentence does;
    only the sentence's own tokens can hold the answer span (``Batch.in_sentence``).
    """

    def __init__(self, tokenizer_file: Path, max_length: int = MAX_LENGTH) -> None:
        from tokenizers import Tokenizer

        if tokenizer_file.suffix == ".gz":  # a 250k-piece vocabulary is kept compressed
            self.tokenizer = Tokenizer.from_str(
                gzip.decompress(tokenizer_file.read_bytes()).decode()
            )
        else:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length, strategy="only_second")
        self.max_length = max_length

    def __call__(
        self,
        questions: Sequence[str],
        sentences: Sequence[str],
        contexts: Sequence[str] | None = None,
    ) -> Batch:
        extra = contexts if contexts is not None else [""] * len(sentences)
        pairs = [
            (_lower(q[:MAX_QUESTION_CHARS]), f"{_lower(s)}[SEP]{_lower(c)}" if c else _lower(s))
            for q, s, c in zip(questions, sentences, extra, strict=True)
        ]
        lengths = [len(s) for s in sentences]
        encodings = self.tokenizer.encode_batch(pairs)
        width = max((len(e.ids) for e in encodings), default=1)
        n = len(encodings)
        ids = np.zeros((n, width), np.int64)
        mask = np.zeros((n, width), np.int64)
        types = np.zeros((n, width), np.int64)
        inside = np.zeros((n, width), bool)
        offsets = []
        for i, e in enumerate(encodings):
            k = len(e.ids)
            ids[i, :k] = e.ids
            mask[i, :k] = 1
            types[i, :k] = e.type_ids
            seq = e.sequence_ids
            inside[i, :k] = [
                sid == 1 and o[0] < o[1] <= lengths[i]
                for sid, o in zip(seq, e.offsets, strict=True)
            ]
            offsets.append(list(e.offsets))
        return Batch(ids, mask, types, offsets, inside)


def best_spans(
    start_logits: np.ndarray, end_logits: np.ndarray, batch: Batch, n: int = 1
) -> list[list[tuple[int, int, float]]]:
    """The ``n`` highest start + end logit pairs inside each sentence, best first, as (char start,
    char end, score); [(-1, -1, -1e4)] for a pair with no sentence tokens."""
    out = []
    neg = -1e4
    k = start_logits.shape[1]
    ones = np.ones((k, k), bool)
    # start <= end < start + MAX_ANSWER_TOKENS, the same for every row of the batch
    band = np.triu(ones) & ~np.triu(ones, MAX_ANSWER_TOKENS)
    for i in range(start_logits.shape[0]):
        inside = batch.in_sentence[i]
        if not inside.any():
            out.append([(-1, -1, neg)])
            continue
        s = np.where(inside, start_logits[i], neg)
        e = np.where(inside, end_logits[i], neg)
        scores = np.where(band, s[:, None] + e[None, :], 2 * neg).ravel()
        m = min(n, scores.size)
        top = np.argpartition(-scores, m - 1)[:m]
        top = top[np.argsort(-scores[top], kind="stable")]
        offs = batch.offsets[i]
        row = []
        for flat in top:
            a, b = divmod(int(flat), k)
            if scores[flat] > neg / 2:  # both ends inside the sentence, and in the band
                row.append((offs[a][0], offs[b][1], float(scores[flat])))
        out.append(row or [(-1, -1, neg)])
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def answer_confidence(
    reading: Reading, span_weight: float = 0.0, span_center: float = 0.0
) -> float:
    """How sure the reading is that the sentence answers: the answer head's log-odds, moved by
    ``span_weight`` per unit of the span head's score (start + end logits) above ``span_center``.
    A sentence that answers something else has a likely-answer probability but no span the span
    head is sure of; both heads together tell near misses better than either alone (the weight and
    centre are the bundle's, in ``meta.json``; ``bench/reader_confidence.py`` fits them). With a
    weight of 0 it is the probability."""
    if span_weight == 0.0 or reading.start < 0:
        return reading.probability
    p = min(max(reading.probability, 1e-9), 1 - 1e-9)
    logit = math.log(p / (1 - p)) + span_weight * (reading.span_score - span_center)
    return float(sigmoid(np.clip(logit, -60.0, 60.0)))


class Reader:
    """An exported reader bundle on ONNX Runtime; ``read`` is safe to call from many threads.

    One thread per call: under load the other core reads another request (or serves search).
    ``graph`` names another ONNX file of the same bundle (the full-precision one, to compare).
    """

    def __init__(
        self,
        bundle: Path = DEFAULT_BUNDLE,
        threads: int = 1,
        int8: bool = True,
        graph: Path | None = None,
    ) -> None:
        self.bundle = Path(bundle)
        meta_file = self.bundle / "meta.json"
        if not meta_file.is_file():
            raise ReaderError(
                f"reader not found: {meta_file} is missing. Train one with `qa train-reader` "
                "or restore embeddings/reader/ from git"
            )
        try:
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ReaderError(f"reader metadata {meta_file} is unreadable ({e})") from None
        if meta.get("reader_version") != READER_VERSION:
            raise ReaderError(
                f"reader {self.bundle} is version {meta.get('reader_version')!r}, this code reads "
                f"version {READER_VERSION}; retrain with `qa train-reader`"
            )
        self.meta: dict[str, Any] = meta
        self.temperature = float(meta.get("temperature", 1.0))
        self.threshold = float(meta.get("threshold", 0.5))
        # the answer confidence's span-head term (``answer_confidence``); 0: the probability alone
        self.span_weight = float(meta.get("span_weight", 0.0))
        self.span_center = float(meta.get("span_center", 0.0))
        self.context_chars = int(meta.get("context_chars", 0))
        names = ["reader.int8.onnx", "reader.onnx"] if int8 else ["reader.onnx"]
        if graph is None:
            graph = next((self.bundle / n for n in names if (self.bundle / n).is_file()), None)
        if graph is None or not graph.is_file():
            raise ReaderError(f"reader graph missing in {self.bundle} (looked for {names})")
        tok_file = tokenizer_file(self.bundle)
        # a reader trained on a frozen embedding table it does not ship (multilingual-e5-small's,
        # 96M weights) reads it from the installed package (``qa.reader.e5``)
        self.table: Any = None
        if meta.get("word_table"):
            from qa.reader.e5 import E5Error, WordTable

            try:
                self.table = WordTable.load(meta["word_table"])
            except (E5Error, KeyError, TypeError, ValueError) as e:
                raise ReaderError(f"reader {self.bundle}: {e}") from None
        try:
            import onnxruntime as ort

            self.encoder = PairEncoder(tok_file, int(meta.get("max_length", MAX_LENGTH)))

            def session(n: int) -> Any:
                options = ort.SessionOptions()
                options.intra_op_num_threads = n
                options.inter_op_num_threads = 1
                return ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])

            self.session = session(threads)
            # A reading that finds no other one in flight uses every core (lower latency for one
            # client); concurrent readings take one core each (more answers per second).
            cores = os.cpu_count() or 1
            self.wide = session(min(cores, 4)) if cores > threads else self.session
        except Exception as e:  # truncated or foreign files: name them, never a traceback
            raise ReaderError(
                f"reader {graph} cannot be loaded ({type(e).__name__}: {e}); "
                "restore embeddings/reader/ from git or retrain with `qa train-reader`"
            ) from None
        self.graph = graph
        self._in_flight = 0
        self._count = threading.Lock()
        # At most one reading per core runs at a time; the others wait their turn. Sixteen
        # concurrent readings on two cores ran 15% fewer answers a second than two at a time
        # (time slicing, and each run pulling the weights through the caches again).
        self._slots = threading.BoundedSemaphore(cores)

    def logits(self, batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # InferenceSession.run is thread-safe: concurrent requests run side by side, one a core
        with self._count:
            alone = self._in_flight == 0
            self._in_flight += 1
        try:
            session = self.wide if alone else self.session
            feed = batch.feed()
            if self.table is not None:
                feed["inputs_embeds"] = self.table(feed.pop("input_ids"))
            with self._slots:
                has, start, end = session.run(None, feed)
        finally:
            with self._count:
                self._in_flight -= 1
        return has, start, end

    def read(
        self, question: str, sentences: Sequence[str], contexts: Sequence[str] | None = None
    ) -> list[Reading]:
        """One Reading per sentence, in order; ``contexts`` (``left_context``) are used when the
        bundle was trained with them."""
        return self.read_pairs([question] * len(sentences), sentences, contexts)

    def read_pairs(
        self,
        questions: Sequence[str],
        sentences: Sequence[str],
        contexts: Sequence[str] | None = None,
    ) -> list[Reading]:
        if not sentences:
            return []
        extra = contexts if contexts is not None and self.context_chars else [""] * len(sentences)
        out = []
        # One ONNX run a pair: the int8 graph sets its activation scales per run, so a pair read
        # in a batch reads differently with other company (its padding and neighbours set the
        # scales). Alone, a pair has one reading, and no padding to pay for (bench/RESULTS.md).
        for q, sent, c in zip(questions, sentences, extra, strict=True):
            batch = self.encoder([q], [sent], [c] if c else None)
            has, start, end = self.logits(batch)
            (reading,) = readings(has, start, end, batch, self.temperature)
            out.append(spans.choose(q, sent, reading))
        return out


def readings(
    has: np.ndarray, start: np.ndarray, end: np.ndarray, batch: Batch, temperature: float = 1.0
) -> list[Reading]:
    """Model outputs -> one Reading per pair (its best span, and the next ``ALTERNATIVES``)."""
    probs = sigmoid(np.asarray(has, np.float64).reshape(-1) / temperature)
    spans = best_spans(start, end, batch, ALTERNATIVES)
    return [
        Reading(float(p), s, e, score, tuple(rest))
        for p, ((s, e, score), *rest) in zip(probs, spans, strict=True)
    ]
