"""Fit the span head's weight in the reader's answer confidence (``qa.reader.model.answer_confidence``).

"Found" used to be the answer head's probability alone. A sentence on the question's topic that
answers something else (the near miss) often gets a fair probability, but the span head is not
sure of any span in it. The confidence adds ``k`` x (span score - centre) to the answer logit.

``k`` is chosen on two sets that are never reported as held out: the validation split of
CMRC 2018 / DRCD (pairs: the answer's sentence against the other kinds of negatives) and the
calibration half of the seed questions (answerable against near misses, reading all six
candidate sentences so the stop rule, which depends on the threshold, is out of the fit). The
score is the mean of the two AUCs. The centre is the median span score of the validation pairs.
The held-out test split and the seed test half are printed beside them, for the record only.

    python -m bench.reader_confidence [--bundle B] [--write]

``--write`` stores ``span_weight`` and ``span_center`` in the bundle's ``meta.json``; refit the
threshold afterwards (``python -m bench.reader --write-threshold``): it is in the new units.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from bench.reader import OUT, decided, half, read_question, seed_set, topical
from qa.config import ROOT, Settings
from qa.embed import SentenceTransformerEmbedder
from qa.reader.answerer import ReaderAnswerer
from qa.reader.data import build_examples, load_all, split_items
from qa.reader.evaluate import auc, readings_by_kind
from qa.reader.model import DEFAULT_BUNDLE, Reader, Reading, answer_confidence
from qa.search import Searcher

GRID = tuple(round(0.05 * i, 2) for i in range(7))  # 0 .. 0.3


def pair_readings(reader: Reader, items: list[Any], pool: list[Any]) -> dict[str, list[Reading]]:
    """Readings of each kind of pair (positive, same, retrieved, swapped) built from the items."""
    return readings_by_kind(reader.read_pairs, build_examples(items, seed=7, swap_pool=pool))


def pairs_auc(readings: dict[str, list[Reading]], k: float, center: float) -> float:
    pos = [answer_confidence(r, k, center) for r in readings["positive"]]
    neg = [
        answer_confidence(r, k, center)
        for kind, v in readings.items()
        if kind != "positive"
        for r in v
    ]
    return auc(pos, neg)


def seed_readings(answerer: ReaderAnswerer, searcher: Searcher) -> list[dict[str, Any]]:
    """Each seed answerable / near-miss question with what the answerer reads for it (all six
    candidates read: ``bench.reader.read_question``)."""
    return [
        {"question": q, "kind": kind, "half": half(q), "read": read_question(answerer, searcher, q)}
        for kind in ("answerable", "near_miss")
        for q in seed_set(kind)
    ]


def seed_auc(
    answerer: ReaderAnswerer, questions: list[dict[str, Any]], part: str, k: float, center: float
) -> float:
    """AUC of what the answerer decides "found" on (``ReaderAnswerer.decision``) at weight k."""
    reader = answerer.reader
    saved = reader.span_weight, reader.span_center
    reader.span_weight, reader.span_center = k, center
    try:
        scores = {
            kind: [
                decided(answerer, r["question"], r["read"])
                for r in questions
                if r["half"] == part and r["kind"] == kind
            ]
            for kind in ("answerable", "near_miss")
        }
    finally:
        reader.span_weight, reader.span_center = saved
    return auc(scores["answerable"], scores["near_miss"])


def plot(table: list[dict[str, Any]], chosen: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4))
    ks = [r["k"] for r in table]
    for key, label, style in (
        ("val_pairs", "CMRC/DRCD validation pairs (fit)", "-"),
        ("seed_calibration", "seed calibration half (fit)", "-"),
        ("test_pairs", "CMRC/DRCD held-out pairs", "--"),
        ("seed_test", "seed test half", "--"),
    ):
        ax.plot(ks, [r[key] for r in table], style, marker="o", ms=3, label=label)
    ax.axvline(chosen, color="grey", lw=0.8)
    ax.set_xlabel("span-head weight k in the answer confidence")
    ax.set_ylabel("AUC: answers vs does not")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", default=str(DEFAULT_BUNDLE))
    ap.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--write", action="store_true", help="store the fit in the bundle's meta.json")
    args = ap.parse_args()
    bundle = Path(args.bundle)
    reader = Reader(bundle)
    # the readings themselves, not the bundle's current confidence
    reader.span_weight, reader.span_center = 0.0, 0.0
    splits = split_items(load_all(Path(args.data_dir)))
    val = pair_readings(reader, splits["val"], splits["train"])
    test = pair_readings(reader, splits["test"], splits["train"])
    center = float(np.median([r.span_score for v in val.values() for r in v if r.start >= 0]))
    settings = Settings.from_env()
    searcher = Searcher.open(
        settings.index_dir, SentenceTransformerEmbedder.from_settings(settings)
    )
    answerer = topical(ReaderAnswerer(reader, stop_margin=1.0), searcher)
    seeds = seed_readings(answerer, searcher)
    table = []
    for k in GRID:
        row = {
            "k": k,
            "val_pairs": pairs_auc(val, k, center),
            "seed_calibration": seed_auc(answerer, seeds, "calibration", k, center),
            "test_pairs": pairs_auc(test, k, center),
            "seed_test": seed_auc(answerer, seeds, "test", k, center),
        }
        row["fit"] = (row["val_pairs"] + row["seed_calibration"]) / 2
        table.append({key: round(v, 4) for key, v in row.items()})
        print(json.dumps(table[-1]), flush=True)
    # the AUCs move in the fourth decimal from run to run (threaded int8 products): a tie at
    # three decimals goes to the smaller weight
    best = max(table, key=lambda r: (round(r["fit"], 3), -r["k"]))
    result = {"bundle": str(bundle), "span_center": round(center, 3), "chosen": best, "grid": table}
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "reader_confidence.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    plot(table, best["k"], OUT / "reader_confidence.png")
    print(f"chosen k = {best['k']}, centre {center:.2f}; wrote bench/results/reader_confidence.*")
    if args.write:
        meta_file = bundle / "meta.json"
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta["span_weight"] = best["k"]
        meta["span_center"] = round(center, 3)
        meta["span_weight_rule"] = (
            "best mean AUC of CMRC/DRCD validation pairs and the seed calibration half "
            "(bench/reader_confidence.py)"
        )
        meta_file.write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
        print(
            f"written to {meta_file}; refit the threshold: python -m bench.reader --write-threshold"
        )


if __name__ == "__main__":
    main()
