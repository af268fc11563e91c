"""When the answerer stops reading candidate sentences: `python -m bench.reader_stop`.

The answerer reads the candidate sentences of the top passages one at a time, best first by a
cheap prior, and stops once the best reading so far ranks at least ``STOP_MARGIN`` + 0.5 x the
next sentence's prior, or its sentence's prior leads the next one's by ``PRIOR_LEAD``
(``qa.reader.answerer``). This bench tries margins (without the lead) and leads (at the default
margin) against reading all six candidates, on the validation split of CMRC 2018 and DRCD (the
reader's model-selection split) and on the seed questions, calibration and test halves apart (the
lead is chosen on validation and the calibration half): sentences read per question, answer
EM / F1, the answer text holding the gold string, found, near misses refused.

Writes bench/results/reader_stop.json and reader_stop.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.reader import (
    DATA,
    OUT,
    SEED_SETS,
    best_probability,
    half,
    rows,
    sentences_read,
    topical,
)
from qa.cli import squad_set
from qa.config import ROOT, Settings
from qa.evaluate import Question, evaluate_answers, load_questions
from qa.reader.answerer import READ_CANDIDATES, STOP_MARGIN, ReaderAnswerer
from qa.reader.model import DEFAULT_BUNDLE, Reader, Reading
from qa.search import Searcher
from qa.service import embedder as make_embedder

MARGINS = [0.5, 0.7, 0.8, 0.9, 1.0]
# Prior leads tried at the default margin (1.0: never, the margin alone decides)
LEADS = [0.02, 0.05, 0.1, 0.2]
NO_LEAD = 1.0
# Fewer candidate sentences at most, at the default margin: a cap instead of a later stop.
LIMITS = [5, 4, 3]
ALL = 99.0  # a margin never met: all six are read


class CachedReader:
    """The reader, each sentence's reading kept: every margin reads the same sentences again."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.threshold = reader.threshold
        self.cache: dict[tuple[str, str, str], Reading] = {}

    def __getattr__(self, name: str) -> Any:  # span_weight, span_center, ...: the reader's
        return getattr(self.reader, name)

    def read(self, question: str, sentences: list[str], contexts: list[str] | None = None) -> Any:
        extra = contexts if contexts is not None else [""] * len(sentences)
        out = []
        for s, c in zip(sentences, extra, strict=True):
            if (question, s, c) not in self.cache:
                self.cache[question, s, c] = self.reader.read(question, [s], [c])[0]
            out.append(self.cache[question, s, c])
        return out


def measure(
    reader: CachedReader,
    searcher: Searcher,
    questions: list[Question],
    margin: float,
    near: list[str] | None = None,
    limit: int = READ_CANDIDATES,
    lead: float = NO_LEAD,
) -> dict[str, Any]:
    answerer = topical(
        ReaderAnswerer(reader, stop_margin=margin, limit=limit, prior_lead=lead),  # type: ignore[arg-type]
        searcher,
    )
    row: dict[str, Any] = {
        "margin": None if margin == ALL else margin,
        "limit": limit,
        "lead": None if lead >= NO_LEAD else lead,
        "sentences_read": round(
            sentences_read(answerer, searcher, [q.question for q in questions]), 2
        ),
    }
    report = evaluate_answers(searcher, answerer, questions)
    for key in ("em", "f1", "short_answer_holds_gold", "answer_text_holds_gold", "found"):
        row[key] = report[key]
    if near is not None:
        probs = np.array([best_probability(answerer, searcher, q) for q in near])
        row["near_miss_refused"] = round(float(np.mean(probs < answerer.threshold)), 4)
    return row


def plot(results: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """One panel per question set: F1 against sentences read, a line per way of stopping."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sets = [name for name in results if "," not in name or name.endswith(" half")]
    cols = 2 if len(sets) > 2 else len(sets)
    grid = (len(sets) + cols - 1) // cols
    fig, axes = plt.subplots(grid, cols, figsize=(5 * cols, 4 * grid), dpi=110, squeeze=False)
    kinds = {
        "": ("stop margin", {"marker": "o"}),
        ", capped": ("at most n, margin 0.5", {"ls": ":", "marker": "x"}),
        ", lead": ("prior lead, margin 0.5", {"ls": "--", "marker": "s"}),
        ", lead at 0.7": ("prior lead, margin 0.7", {"ls": "-.", "marker": "^"}),
    }
    for ax, name in zip(axes.flat, sets, strict=False):
        for suffix, (label, style) in kinds.items():
            rows_ = sorted(results.get(name + suffix, []), key=lambda r: r["sentences_read"])
            if not rows_:
                continue
            xs = [r["sentences_read"] for r in rows_]
            ax.plot(xs, [r["f1"] for r in rows_], ms=4, label=label, **style)  # type: ignore[arg-type]
            for r in rows_:
                if suffix == "":
                    text = "all six" if r["margin"] is None else str(r["margin"])
                elif suffix == ", capped":
                    text = str(r["limit"])
                else:
                    text = str(r["lead"])
                ax.annotate(
                    text,
                    (r["sentences_read"], r["f1"]),
                    fontsize=6,
                    xytext=(2, 2),
                    textcoords="offset points",
                )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("sentences read per question", fontsize=8)
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("answer F1 (CMRC 2018 metric)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("When to stop reading (labels: margin, cap, or prior lead)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def sweep(
    results: dict[str, list[dict[str, Any]]],
    name: str,
    reader: CachedReader,
    searcher: Searcher,
    questions: list[Question],
    near: list[str] | None = None,
) -> None:
    """Margins without the prior lead, caps and leads at the default margin and at 0.7, for one
    set (the suffixes of its names in ``results`` are ``plot``'s)."""
    parts = {
        "": [measure(reader, searcher, questions, m, near) for m in [ALL, *MARGINS]],
        ", capped": [measure(reader, searcher, questions, STOP_MARGIN, near, n) for n in LIMITS],
        ", lead": [measure(reader, searcher, questions, STOP_MARGIN, near, lead=d) for d in LEADS],
        ", lead at 0.7": [measure(reader, searcher, questions, 0.7, near, lead=d) for d in LEADS],
    }
    for suffix, rows_ in parts.items():
        results[name + suffix] = rows_
        for row in rows_:
            print(name + suffix, json.dumps(row), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=str(DEFAULT_BUNDLE))
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    settings = Settings.from_env()
    embedder = make_embedder(settings)
    reader = CachedReader(Reader(Path(args.bundle)))
    results: dict[str, list[dict[str, Any]]] = {}
    for name in ("cmrc2018_dev", "drcd_dev"):
        path = Path(args.data_dir) / f"{name}.json"
        if not path.is_file():
            print(f"skipped {name}: {path} not found")
            continue
        searcher, questions = squad_set(settings, embedder, path, "val")
        sweep(results, f"{name} val", reader, searcher, questions)
    searcher = Searcher.open(settings.index_dir, embedder)
    seeds = [q for name in SEED_SETS["answerable"] for q in load_questions(DATA / name)]
    near = [r["question"] for name in SEED_SETS["near_miss"] for r in rows(DATA / name)]
    for part in ("calibration", "test"):
        sweep(
            results,
            f"seed questions, {part} half",
            reader,
            searcher,
            [q for q in seeds if half(q.question) == part],
            [q for q in near if half(q) == part],
        )
    OUT.mkdir(parents=True, exist_ok=True)
    out = {"bundle": args.bundle, "threshold": reader.threshold, "results": results}
    (OUT / "reader_stop.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    plot(results, OUT / "reader_stop.png")
    print("wrote bench/results/reader_stop.json and reader_stop.png")


if __name__ == "__main__":
    main()
