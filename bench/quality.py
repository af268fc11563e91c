"""Retrieval quality across scripts and the not-found trade-off, written to bench/results/.

    .venv/bin/python -m bench.quality            # needs the seed index (make index)

1. Traditional vs simplified: the seed pages converted to traditional characters (OpenCC s2t) are
   indexed separately; the seed questions are asked in both scripts against both corpora.
2. Not found: the relevance gate of qa.answer on answerable seed questions and unanswerable ones
   (off-topic and near-miss), at the calibrated thresholds and across a sweep of the dense
   threshold, as a table and a plot.
3. Answers: the share of seed questions whose composed answer (one to three quoted sentences)
   contains the gold answer string, and the time composing takes.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from opencc import OpenCC

from qa import answer as answering
from qa.config import ROOT, Settings
from qa.embed import SentenceTransformerEmbedder
from qa.evaluate import Question, evaluate, load_questions
from qa.indexer import build
from qa.ingest import ingest
from qa.search import Searcher

OUT = ROOT / "bench" / "results"
DATA = ROOT / "tests" / "data"


def script_matrix(emb: SentenceTransformerEmbedder) -> dict[str, dict[str, float]]:
    s2t = OpenCC("s2t")
    articles = ingest([ROOT / "seeds"]).articles
    trad_articles = [
        replace(a, title=s2t.convert(a.title), text=s2t.convert(a.text)) for a in articles
    ]
    questions = load_questions(DATA / "seed_questions.jsonl")
    id_by_title = {a.title: a.id for a in articles}
    simp_q = [
        Question(q.question, q.answer, article_id=id_by_title[q.article_title or ""])
        for q in questions
    ]
    trad_q = [
        Question(s2t.convert(q.question), s2t.convert(q.answer), article_id=q.article_id)
        for q in simp_q
    ]
    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for corpus_name, corpus in (("simplified", articles), ("traditional", trad_articles)):
            d = Path(tmp) / corpus_name
            build(corpus, d, emb, progress=False)
            searcher = Searcher.open(d, emb)
            for q_name, qs in (("simplified", simp_q), ("traditional", trad_q)):
                m = evaluate(searcher, qs, modes=["fused"])["modes"]["fused"]
                out[f"{q_name} questions / {corpus_name} corpus"] = {
                    "recall@1": m["recall@1"],
                    "mrr@10": m["mrr@10"],
                    "answer_in_top3": m["answer_in_top3"],
                }
    return out


def gate_features(searcher: Searcher, questions: list[str]) -> np.ndarray:
    rows = []
    for q in questions:
        hits = searcher.search(q, top_k=3)
        dense = max((h.dense_score or 0.0) for h in hits) if hits else 0.0
        cov = max(
            (answering.term_coverage(q, h.passage.text + h.article.title) for h in hits),
            default=0.0,
        )
        rows.append((dense, cov))
    return np.array(rows)


def gate(feats: np.ndarray, min_dense: float) -> np.ndarray:
    d, c = feats[:, 0], feats[:, 1]
    return (
        (d >= min_dense)
        | (c >= answering.MIN_COVERAGE)
        | ((d >= answering.MIN_DENSE_WITH_COVERAGE) & (c >= answering.MIN_COVERAGE_WITH_DENSE))
    )


def not_found_tradeoff(searcher: Searcher) -> dict[str, object]:
    pos = [
        json.loads(line)["question"]
        for line in (DATA / "seed_questions.jsonl").open(encoding="utf-8")
    ]
    neg_rows = [
        json.loads(line)
        for name in ("off_topic.jsonl", "near_miss.jsonl")
        for line in (DATA / name).open(encoding="utf-8")
    ]
    neg = [r["question"] for r in neg_rows]
    fp, fn = gate_features(searcher, pos), gate_features(searcher, neg)
    sweep = []
    for t in np.arange(0.70, 0.96, 0.02):
        sweep.append(
            {
                "min_dense": round(float(t), 2),
                "answerable_answered": float(gate(fp, t).mean()),
                "unanswerable_refused": float((~gate(fn, t)).mean()),
            }
        )
    return {
        "answerable": len(pos),
        "unanswerable": len(neg),
        "at_default": {
            "answerable_answered": float(gate(fp, answering.MIN_DENSE).mean()),
            "unanswerable_refused": float((~gate(fn, answering.MIN_DENSE)).mean()),
        },
        "sweep": sweep,
        "refused_questions": [
            q for q, ok in zip(neg, gate(fn, answering.MIN_DENSE), strict=True) if not ok
        ],
    }


def plot_tradeoff(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["min_dense"] for r in result["sweep"]]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.plot(
        xs,
        [r["answerable_answered"] for r in result["sweep"]],
        marker="o",
        label="answerable questions answered",
    )
    ax.plot(
        xs,
        [r["unanswerable_refused"] for r in result["sweep"]],
        marker="s",
        label="unanswerable questions refused",
    )
    ax.axvline(
        answering.MIN_DENSE,
        color="grey",
        linestyle="--",
        label=f"default MIN_DENSE={answering.MIN_DENSE}",
    )
    ax.set_xlabel("dense-score threshold (other gate terms fixed)")
    ax.set_ylabel("share")
    ax.set_ylim(0, 1.05)
    ax.set_title("Not-found gate on the seed corpus")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def answer_quality(searcher: Searcher) -> dict[str, object]:
    """Composed answers that contain the gold answer, whitespace ignored, and composition time."""
    questions = load_questions(DATA / "seed_questions.jsonl")
    squash = re.compile(r"\s+")
    contained = 0
    answered = 0
    seconds: list[float] = []
    misses = []
    for q in questions:
        qv = searcher.encode_query(q.question)
        hits = searcher.search(q.question, top_k=3, query_vector=qv)
        t = time.perf_counter()
        a = answering.compose(q.question, hits, searcher, qv)
        seconds.append(time.perf_counter() - t)
        answered += a.found
        if squash.sub("", q.answer or "") in squash.sub("", a.text):
            contained += 1
        else:
            misses.append({"question": q.question, "gold": q.answer, "answer": a.text})
    ms = np.array(seconds) * 1000
    return {
        "questions": len(questions),
        "answered": answered,
        "answer_contains_gold": contained,
        "share": contained / len(questions),
        "compose_ms_p50": float(np.percentile(ms, 50)),
        "compose_ms_p95": float(np.percentile(ms, 95)),
        "misses": misses,
    }


def main() -> None:
    settings = Settings.from_env()
    emb = SentenceTransformerEmbedder.from_settings(settings)
    OUT.mkdir(parents=True, exist_ok=True)
    scripts = script_matrix(emb)
    searcher = Searcher.open(settings.index_dir, emb)
    tradeoff = not_found_tradeoff(searcher)
    answers = answer_quality(searcher)
    (OUT / "answers.json").write_text(
        json.dumps(answers, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (OUT / "scripts.json").write_text(
        json.dumps(scripts, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (OUT / "not_found.json").write_text(
        json.dumps(tradeoff, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    plot_tradeoff(tradeoff, OUT / "not_found.png")
    print("| questions / corpus | R@1 | MRR@10 | answer in top-3 |\n| --- | --- | --- | --- |")
    for name, m in scripts.items():
        print(f"| {name} | {m['recall@1']:.3f} | {m['mrr@10']:.3f} | {m['answer_in_top3']:.3f} |")
    print(
        f"\nanswers containing the gold answer: {answers['answer_contains_gold']}/{answers['questions']}"
        f" ({answers['share']:.1%}); composing p50 {answers['compose_ms_p50']:.0f} ms,"
        f" p95 {answers['compose_ms_p95']:.0f} ms"
    )
    d = tradeoff["at_default"]
    print(
        f"\nnot-found gate at defaults: answerable answered {d['answerable_answered']:.3f}, unanswerable refused {d['unanswerable_refused']:.3f}"
    )


if __name__ == "__main__":
    main()
