"""Reading evaluation: span EM/F1 given the gold paragraph, and how well "no answer" separates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from qa.reader.data import MAX_UNIT_CHARS, Example, QAItem
from qa.reader.metrics import exact, f1
from qa.reader.model import Reading, left_context
from qa.text import reading_spans

ReadFn = Callable[[str, Sequence[str], Sequence[str]], list[Reading]]
PairFn = Callable[[Sequence[str], Sequence[str], Sequence[str]], list[Reading]]


def read_paragraph(
    read: ReadFn, question: str, context: str, title: str = ""
) -> tuple[str, float, int, int]:
    """(answer, probability, start, end in the context): the span of the sentence most likely to
    answer, as the service reads its passages."""
    units = reading_spans(context, MAX_UNIT_CHARS)
    if not units:
        return "", 0.0, -1, -1
    readings = read(
        question,
        [context[s:e] for s, e in units],
        [left_context(title, context, s) for s, _ in units],
    )
    best = max(range(len(units)), key=lambda i: (readings[i].probability, readings[i].span_score))
    r = readings[best]
    if r.start < 0:
        return "", r.probability, -1, -1
    s = units[best][0]
    return context[s + r.start : s + r.end], r.probability, s + r.start, s + r.end


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    pos = np.asarray(positives)[:, None]
    neg = np.asarray(negatives)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def span_scores(read: ReadFn, items: Sequence[QAItem]) -> dict[str, Any]:
    """EM and F1 (percent, CMRC 2018 metric) reading each question's own paragraph."""
    ems, f1s, probs = [], [], []
    by_dataset: dict[str, list[tuple[float, float]]] = {}
    predictions = []
    for item in items:
        golds = [t for t, _ in item.answers]
        answer, prob, _, _ = read_paragraph(read, item.question, item.context, item.title)
        em, f = exact(answer, golds), f1(answer, golds)
        ems.append(em)
        f1s.append(f)
        probs.append(prob)
        by_dataset.setdefault(item.dataset, []).append((em, f))
        predictions.append({"id": item.qid, "prediction": answer, "gold": golds, "p": prob})
    report: dict[str, Any] = {
        "questions": len(items),
        "em": round(100 * float(np.mean(ems)), 2) if ems else 0.0,
        "f1": round(100 * float(np.mean(f1s)), 2) if f1s else 0.0,
        "by_dataset": {
            k: {
                "questions": len(v),
                "em": round(100 * float(np.mean([x[0] for x in v])), 2),
                "f1": round(100 * float(np.mean([x[1] for x in v])), 2),
            }
            for k, v in sorted(by_dataset.items())
        },
    }
    report["predictions"] = predictions
    return report


def readings_by_kind(read_pairs: PairFn, examples: Sequence[Example]) -> dict[str, list[Reading]]:
    """Each pair read, grouped by its kind (positive, same, retrieved, swapped, cloze)."""
    out: dict[str, list[Reading]] = {}
    for s in range(0, len(examples), 64):
        chunk = examples[s : s + 64]
        readings = read_pairs(
            [ex.question for ex in chunk],
            [ex.sentence for ex in chunk],
            [ex.context for ex in chunk],
        )
        for ex, r in zip(chunk, readings, strict=True):
            out.setdefault(ex.kind, []).append(r)
    return out


def separation(read_pairs: PairFn, examples: Sequence[Example]) -> dict[str, float]:
    """AUC of the answer probability: positives against each kind of negative."""
    by_kind = {
        kind: [r.probability for r in rs]
        for kind, rs in readings_by_kind(read_pairs, examples).items()
    }
    pos = by_kind.get("positive", [])
    out = {f"auc_{k}": round(auc(pos, v), 4) for k, v in sorted(by_kind.items()) if k != "positive"}
    negatives = [p for k, v in by_kind.items() if k != "positive" for p in v]
    out["auc_all"] = round(auc(pos, negatives), 4)
    return out
