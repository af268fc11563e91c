"""When the answerer stops reading candidate sentences: `python -m bench.reader_stop`.

The answerer reads the candidate sentences of the top passages one at a time, best first by a
cheap prior, and stops once the best reading so far ranks at least ``STOP_MARGIN`` + 0.5 x the
next sentence's prior (``qa.reader.answerer``). This bench tries margins against reading all six
candidates, on the validation split of CMRC 2018 and DRCD (the reader's model-selection split, the
one the margin is chosen on) and on the seed questions: sentences read per question, answer
EM / F1, the answer text holding the gold string, found, near misses refused.

Writes bench/results/reader_stop.json and reader_stop.png.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.reader import DATA, OUT, best_probability, rows, sentences_read, topical
from qa.cli import squad_set
from qa.config import ROOT, Settings
from qa.evaluate import Question, evaluate_answers, load_questions
from qa.reader.answerer import READ_CANDIDATES, STOP_MARGIN, ReaderAnswerer
from qa.reader.model import DEFAULT_BUNDLE, Reader, Reading
from qa.search import Searcher
from qa.service import embedder as make_embedder

MARGINS = [0.5, 0.7, 0.8, 0.9, 1.0]
# Fewer candidate sentences at most, at the default margin: a cap instead of a later stop.
LIMITS = [5, 4, 3]
ALL = 99.0  # a margin never met: all six are read


class CachedReader:
    """The reader, each sentence's reading kept: every margin reads the same sentences again."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.threshold = reader.threshold
        self.cache: dict[tuple[str, str, str], Reading] = {}

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
) -> dict[str, Any]:
    answerer = topical(
        ReaderAnswerer(reader, stop_margin=margin, limit=limit),  # type: ignore[arg-type]
        searcher,
    )
    row: dict[str, Any] = {
        "margin": None if margin == ALL else margin,
        "limit": limit,
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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, unordered in results.items():
        rows_ = sorted(unordered, key=lambda r: r["sentences_read"])
        xs = [r["sentences_read"] for r in rows_]
        capped = name.endswith("capped")
        style = {"ls": ":", "marker": "x"} if capped else {"marker": "o"}
        ax.plot(xs, [r["f1"] for r in rows_], ms=4, label=name, **style)  # type: ignore[arg-type]
        for r in rows_:
            label = "all six" if r["margin"] is None else str(r["margin"])
            if capped:
                label = f"at most {r['limit']}"
            ax.annotate(
                label,
                (r["sentences_read"], r["f1"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xlabel("sentences read per question (a point per stop margin, or cap at margin 0.5)")
    ax.set_ylabel("answer F1 (CMRC 2018 metric)")
    ax.set_title("When to stop reading: validation splits and seed questions")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=str(DEFAULT_BUNDLE))
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    args = ap.parse_args()
    settings = Settings.from_env()
    embedder = make_embedder(settings)
    reader = CachedReader(Reader(Path(args.bundle)))
    margins = [ALL, *MARGINS]
    results: dict[str, list[dict[str, Any]]] = {}
    for name in ("cmrc2018_dev", "drcd_dev"):
        path = Path(args.data_dir) / f"{name}.json"
        if not path.is_file():
            print(f"skipped {name}: {path} not found")
            continue
        searcher, questions = squad_set(settings, embedder, path, "val")
        results[f"{name} val"] = [measure(reader, searcher, questions, m) for m in margins]
        results[f"{name} val, capped"] = [
            measure(reader, searcher, questions, STOP_MARGIN, limit=n) for n in LIMITS
        ]
        for row in results[f"{name} val"] + results[f"{name} val, capped"]:
            print(name, json.dumps(row), flush=True)
    searcher = Searcher.open(settings.index_dir, embedder)
    seeds = load_questions(DATA / "seed_questions.jsonl")
    near = [r["question"] for r in rows(DATA / "near_miss.jsonl")]
    results["seed questions"] = [measure(reader, searcher, seeds, m, near) for m in margins]
    results["seed questions, capped"] = [
        measure(reader, searcher, seeds, STOP_MARGIN, near, n) for n in LIMITS
    ]
    for row in results["seed questions"] + results["seed questions, capped"]:
        print("seeds", json.dumps(row), flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    out = {"bundle": args.bundle, "threshold": reader.threshold, "results": results}
    (OUT / "reader_stop.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    plot(results, OUT / "reader_stop.png")
    print("wrote bench/results/reader_stop.json and reader_stop.png")


if __name__ == "__main__":
    main()
