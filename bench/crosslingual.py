"""Questions in other languages, measured: `python -m bench.crosslingual [--chinese] [--http S]`.

1. Retrieval on tests/data/cross_lingual.jsonl (English, Japanese, English with Chinese names):
   the right article first, for the fusion weights of foreign questions fitted on the
   calibration half (a hash of the question) and reported on the other half.
2. Answers: the evidence sentence holds the fact; "not found" for near misses (on the topic,
   not in the paper) and off-topic questions, with the gate and found thresholds fitted on the
   calibration half; the trade-off curve is plotted.
3. With ``--chinese``: CMRC 2018 dev and DRCD dev (article R@1, MRR@10) with the multilingual
   signal at several weights beside the signal off, and the 171 Chinese seed questions, so the
   Chinese weight is fitted on CMRC and DRCD and checked on the seed questions.
4. Speed: search p50 in process with the signal on against the bare multilingual query encode,
   and indexing throughput of each model; with ``--http`` /api/search over HTTP as well.

Writes bench/results/crosslingual.json and bench/results/crosslingual_tradeoff.png.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench.reader import half, rows
from qa import service
from qa.answer import is_relevant
from qa.config import ROOT, Settings
from qa.crosslingual import (
    CrossLingualAnswerer,
    byline_hit,
    lacks_asked_kind,
    quoted,
    sentence_score,
)
from qa.evaluate import compact, fold
from qa.indexer import build
from qa.ingest import ingest
from qa.multilingual import name_score, pinyin_grams, romanized_names
from qa.search import Searcher, score_fusion

DATA = ROOT / "tests" / "data"
OUT = ROOT / "bench" / "results"
WORK = ROOT / "embeddings" / "eval"
MIN_FOUND = 0.90


def seed_searcher(settings: Settings) -> Searcher:
    index_dir = WORK / "seeds-multilingual"
    emb = service.embedder(settings)
    report = build(
        ingest([str(ROOT / "seeds")]).articles,
        index_dir,
        emb,
        prune=True,
        multilingual=service.multilingual(settings),
    )
    print(report.summary(), flush=True)
    return service.searcher(settings, emb, index_dir)


# -- 1. retrieval -------------------------------------------------------------------------


def retrieval_features(searcher: Searcher, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every candidate's four scores for each question, so weights can be tried offline."""
    out = []
    view = searcher.store.snapshot()
    for r in questions:
        q = r["question"]
        qv, mv = searcher.encode_query(q), searcher.encode_multilingual(q)
        got = view.retrieve(searcher.lexical_query(q, view), qv, 50, None, "fused", mv)
        cand = list(dict.fromkeys([*got.dense, *got.lexical, *got.multilingual]))
        pairs = view.fetch(cand)
        names = romanized_names(q)
        out.append(
            {
                "row": r,
                "titles": [a.title for _, a in pairs],
                "dense": np.array([got.dense_scores[k] for k in cand]),
                "lexical": np.array([got.lexical_scores.get(k, 0.0) for k in cand]),
                "ml": np.array([got.multilingual_scores.get(k, 0.0) for k in cand]),
                "names": np.array(
                    [name_score(names, pinyin_grams(f"{a.title}\n{p.text}")) for p, a in pairs]
                ),
            }
        )
    return out


def _ranks(feats: list[dict[str, Any]], w: tuple[float, float, float]) -> list[int]:
    """The gold article's rank among the distinct articles of the fused ranking (0: absent)."""
    out = []
    for f in feats:
        fused = score_fusion(f["dense"], f["lexical"], w[0], w[1], f["ml"], 1.0, f["names"], w[2])
        titles = list(dict.fromkeys(f["titles"][i] for i in np.argsort(-fused, kind="stable")))
        gold = f["row"]["article_title"]
        out.append(titles.index(gold) + 1 if gold in titles else 0)
    return out


def r_at_1(feats: list[dict[str, Any]], w: tuple[float, float, float]) -> float:
    ranks = _ranks(feats, w)
    return float(np.mean([r == 1 for r in ranks])) if ranks else 0.0


def mrr(feats: list[dict[str, Any]], w: tuple[float, float, float]) -> float:
    ranks = _ranks(feats, w)
    return float(np.mean([1 / r if r else 0.0 for r in ranks])) if ranks else 0.0


def fit_weights(feats: list[dict[str, Any]]) -> dict[str, Any]:
    cal = [f for f in feats if half(f["row"]["question"]) == "calibration"]
    test = [f for f in feats if half(f["row"]["question"]) == "test"]
    grid = list(
        itertools.product([0.0, 0.1, 0.2, 0.3], [0.0, 0.2, 0.5, 1.0], [0.0, 0.5, 1.0, 1.5, 2.0])
    )
    # ties on R@1 (common on a small half) go to the better MRR, then to smaller weights
    scored = [(r_at_1(cal, w), round(mrr(cal, w), 4), -sum(w), w) for w in grid]
    best = max(scored)[3]
    by_lang: dict[str, Any] = {}
    for lang in sorted({f["row"]["lang"] for f in feats}):
        sub = [f for f in feats if f["row"]["lang"] == lang]
        by_lang[lang] = {"n": len(sub), "r@1": round(r_at_1(sub, best), 3)}
    return {
        "weights": {"dense": best[0], "lexical": best[1], "names": best[2], "multilingual": 1.0},
        "calibration": {
            "n": len(cal),
            "r@1": round(r_at_1(cal, best), 3),
            "mrr": round(mrr(cal, best), 3),
        },
        "test": {
            "n": len(test),
            "r@1": round(r_at_1(test, best), 3),
            "mrr": round(mrr(test, best), 3),
        },
        "all": {
            "n": len(feats),
            "r@1": round(r_at_1(feats, best), 3),
            "mrr": round(mrr(feats, best), 3),
        },
        "by_language": by_lang,
        "baselines_all": {
            "multilingual dense alone": round(r_at_1(feats, (0.0, 0.0, 0.0)), 3),
            "m3e dense alone (as before)": round(
                float(
                    np.mean(
                        [
                            f["titles"][int(np.argmax(f["dense"]))] == f["row"]["article_title"]
                            for f in feats
                        ]
                    )
                ),
                3,
            ),
            "signals without names": round(r_at_1(feats, (best[0], best[1], 0.0)), 3),
        },
    }


# -- 2. answers ---------------------------------------------------------------------------


def holds(answer: str, text: str) -> bool:
    return bool(answer) and compact(fold(answer)) in compact(fold(text))


def answer_features(searcher: Searcher, questions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per question: the hits' gate inputs and every candidate sentence's features."""
    # only its sentence ranking is used here: no inner (Chinese) answerer is needed
    answerer = CrossLingualAnswerer(SimpleNamespace(method="none"), searcher)  # type: ignore[arg-type]
    out = []
    for r in questions:
        hits = searcher.search(r["question"], top_k=3, multilingual_scores=True)
        sents = answerer.rank(r["question"], hits)
        names = bool(romanized_names(r["question"]))
        out.append(
            {
                "row": r,
                "passage": max((h.multilingual_score or 0.0 for h in hits), default=0.0),
                "anchor": answerer.anchor_cosine(r["question"]),
                "name_found": max((h.name_score or 0.0 for h in hits), default=0.0)
                if names
                else 0.5,
                "sentences": [(c, holds(r.get("answer", ""), c.text)) for c in sents],
                # answered from the article's byline, not from a sentence
                "byline": (b.article.byline if (b := byline_hit(r["question"], hits)) else None),
            }
        )
    return out


def pick(f: dict[str, Any], bonus: dict[str, float], gate_w: float) -> dict[str, Any]:
    """The decision inputs under these weights: relevance, best sentence score, quoted texts."""
    b = bonus
    holds_of = {id(c): ok for c, ok in f["sentences"]}
    for c, _ in f["sentences"]:
        c.score = sentence_score(c, b)
    ranked = sorted((c for c, _ in f["sentences"]), key=lambda c: -c.score)
    out = {
        "kind": f["row"]["kind"],
        "relevance": f["passage"] - f["anchor"] + gate_w * f["name_found"],
    }
    if f.get("byline") is not None:  # answered from the byline: found, and holds it or not
        ok = holds(f["row"].get("answer", ""), f["byline"])
        return {**out, "sentence": float("inf"), "best_holds": ok, "quote_holds": ok}
    quotes = quoted(ranked)
    return {
        **out,
        "sentence": ranked[0].score if ranked else 0.0,
        "best_holds": bool(ranked) and holds_of[id(ranked[0])],
        "quote_holds": any(holds_of[id(c)] for c in quotes),
        # asked for money, people or a year, and the quotes hold none: not found
        "lacks": lacks_asked_kind(f["row"]["question"], [c.text for c in quotes]),
    }


def decide(p: dict[str, Any], gate: float, found: float) -> str:
    """What the answerer does: "found", "near_miss" or "off_topic"."""
    if p["relevance"] < gate:
        return "off_topic"
    return "found" if p["sentence"] >= found and not p.get("lacks") else "near_miss"


def rates(picks: list[dict[str, Any]], gate: float, found: float) -> dict[str, Any]:
    def share(kind: str, pred: Any) -> float:
        sub = [p for p in picks if p["kind"] == kind]
        return round(float(np.mean([pred(p) for p in sub])), 3) if sub else float("nan")

    return {
        "answerable_found": share("answerable", lambda p: decide(p, gate, found) == "found"),
        "answerable_past_gate": share(
            "answerable", lambda p: decide(p, gate, found) != "off_topic"
        ),
        "answer_quotes_fact": share(
            "answerable", lambda p: decide(p, gate, found) == "found" and p["quote_holds"]
        ),
        "best_sentence_holds_fact": share("answerable", lambda p: p["best_holds"]),
        "near_miss_refused": share("near_miss", lambda p: decide(p, gate, found) != "found"),
        "off_topic_refused": share("off_topic", lambda p: decide(p, gate, found) != "found"),
        "off_topic_refused_as_unrelated": share(
            "off_topic", lambda p: decide(p, gate, found) == "off_topic"
        ),
    }


def fit_thresholds(feats: list[dict[str, Any]]) -> dict[str, Any]:
    """Sentence bonuses for quoting the fact, then the gate's name weight and both thresholds,
    all on the calibration half; figures on the test half."""
    cal = [f for f in feats if half(f["row"]["question"]) == "calibration"]
    test = [f for f in feats if half(f["row"]["question"]) == "test"]
    answerable = [f for f in cal if f["row"]["kind"] == "answerable"]
    best_bonus: tuple[float, float, dict[str, float]] | None = None
    for name, typ, hit, gloss in itertools.product(
        [0.0, 0.01, 0.02, 0.04],
        [0.0, 0.01, 0.02, 0.04, 0.06],
        [0.0, 0.005, 0.01, 0.02, 0.03],
        [0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12],
    ):
        bonus = {"name": name, "type": typ, "hit": hit, "gloss": gloss}
        picks = [pick(f, bonus, 0.0) for f in answerable]
        key = (
            float(np.mean([p["quote_holds"] for p in picks])),
            float(np.mean([p["best_holds"] for p in picks])),
        )
        if best_bonus is None or key > best_bonus[:2]:
            best_bonus = (*key, bonus)
    assert best_bonus is not None
    bonus = best_bonus[2]
    grid = np.round(np.arange(0.70, 0.90, 0.0025), 4)
    gates = np.round(np.arange(-0.20, 0.05, 0.0025), 4)
    # 1. the off-topic gate: the most off-topic refused while at most 2% of answerable questions
    #    are, put in the middle of the run of gates that do it (a margin both ways)
    best_gate: tuple[float, float, list[float]] | None = None
    for gate_w in (0.0, 0.02, 0.03, 0.05):
        picks = [pick(f, bonus, gate_w) for f in cal]
        ok = [g for g in gates if rates(picks, g, 0.0)["answerable_past_gate"] >= 0.98]
        if not ok:
            continue
        top = max(rates(picks, g, 0.0)["off_topic_refused"] for g in ok)
        tied = [float(g) for g in ok if rates(picks, g, 0.0)["off_topic_refused"] == top]
        if best_gate is None or top > best_gate[0]:
            best_gate = (top, gate_w, tied)
    assert best_gate is not None
    _, gate_w, tied = best_gate
    gate = round(float(np.median(tied)), 4)
    # 2. the evidence threshold: the most near misses refused with >= MIN_FOUND answered
    picks = [pick(f, bonus, gate_w) for f in cal]
    found = max(
        (float(t) for t in grid if rates(picks, gate, float(t))["answerable_found"] >= MIN_FOUND),
        key=lambda t: (rates(picks, gate, t)["near_miss_refused"], -t),
    )
    all_picks = [pick(f, bonus, gate_w) for f in feats]
    curve = [{"found_threshold": float(t), **rates(all_picks, gate, float(t))} for t in grid]
    return {
        "bonus": bonus,
        "name_gate": gate_w,
        "gate": gate,
        "found": found,
        "rule": f"bonuses: most answers quoting the fact; gate: most off-topic refused with <= 2% of answerable, middle of the range; evidence threshold: most near misses refused with >= {MIN_FOUND:.0%} of answerable found; all on the calibration half",
        "calibration": {"n": len(cal), **rates([pick(f, bonus, gate_w) for f in cal], gate, found)},
        "test": {"n": len(test), **rates([pick(f, bonus, gate_w) for f in test], gate, found)},
        "all": {"n": len(feats), **rates(all_picks, gate, found)},
        # the targets are on English questions: each language's own rates
        "by_language": {
            lang: {
                part: {"n": len(sub), **rates([pick(f, bonus, gate_w) for f in sub], gate, found)}
                for part, sub in (
                    ("test", [f for f in test if f["row"]["lang"] == lang]),
                    ("all", [f for f in feats if f["row"]["lang"] == lang]),
                )
            }
            for lang in sorted({f["row"]["lang"] for f in feats})
        },
        "curve": curve,
    }


def chinese_gate(searcher: Searcher) -> dict[str, Any]:
    """The off-topic gate for Chinese questions: the contrast in m3e-small (best passage minus
    best Chinese anchor, ``contrast_zh``) of the seed sets; the gate refuses the most off-topic questions while keeping at least 99%
    of answerable ones, on the calibration halves."""
    answerer = CrossLingualAnswerer(SimpleNamespace(method="none"), searcher)  # type: ignore[arg-type]
    feats = []
    relevant: list[bool] = []  # the retrieval gate's word and cosine check passes it
    for kind, name in (
        ("answerable", "seed_questions"),
        ("near_miss", "near_miss"),
        ("off_topic", "off_topic"),
    ):
        for r in rows(DATA / f"{name}.jsonl"):
            hits = searcher.search(r["question"], top_k=3)
            feats.append((kind, half(r["question"]), answerer.contrast_zh(r["question"], hits)))
            relevant.append(is_relevant(r["question"], hits))

    def rate(kind: str, part: str | None, gate: float) -> float:
        v = [c < gate for k, p, c in feats if k == kind and (part is None or p == part)]
        return round(float(np.mean(v)), 3) if v else float("nan")

    gates = np.round(np.arange(-0.20, 0.10, 0.0025), 4)
    ok = [g for g in gates if rate("answerable", "calibration", g) <= 0.01]
    assert ok
    best_refused = max(rate("off_topic", "calibration", g) for g in ok)
    tied = [g for g in ok if rate("off_topic", "calibration", g) == best_refused]
    gate = round(float(np.median(tied)), 4)
    report = {
        part or "all": {
            kind + "_refused_by_gate": rate(kind, part, gate)
            for kind in ("answerable", "near_miss", "off_topic")
        }
        for part in ("calibration", "test", None)
    }
    # 2. the contrast past which a question the retrieval gate refuses is read all the same
    #    (``qa.reader.answerer.SURE_ON_TOPIC``): halfway between the calibration half's highest
    #    off-topic question and its lowest answerable one that the retrieval gate refuses
    cal = [(k, c, ok) for (k, p, c), ok in zip(feats, relevant, strict=True) if p == "calibration"]
    top_off = max(c for k, c, _ in cal if k == "off_topic")
    refused = [c for k, c, ok in cal if k == "answerable" and not ok and c > top_off]
    sure = round((top_off + min(refused)) / 2, 4) if refused else None

    def past(kind: str, part: str | None) -> str:
        v = [
            ok or (sure is not None and c >= sure)
            for (k, p, c), ok in zip(feats, relevant, strict=True)
            if k == kind and (part is None or p == part) and c >= gate
        ]
        n = sum(1 for (k, p, _c) in feats if k == kind and (part is None or p == part))
        return f"{sum(v)} of {n}"

    return {
        "gate": gate,
        "rule": "most off-topic refused, at most 1% of answerable, calibration half",
        **report,
        "sure_on_topic": sure,
        "sure_rule": "halfway between the highest off-topic contrast and the lowest contrast of "
        "an answerable question the retrieval gate refuses, calibration half",
        "read_after_both_gates": {
            part or "all": {
                kind: past(kind, part) for kind in ("answerable", "near_miss", "off_topic")
            }
            for part in ("calibration", "test", None)
        },
    }


def chinese_answers(settings: Settings, searcher: Searcher) -> dict[str, Any]:
    """The Chinese seed sets through the service's answerer (the check, then the reader): found
    rates by set and half, and the off-topic questions still answered."""
    from qa.answer import Message, answer_messages
    from qa.reader.answerer import load_answerer

    answerer = load_answerer(settings, searcher)
    out: dict[str, Any] = {}
    answered_off_topic = []
    for kind, name in (
        ("answerable", "seed_questions"),
        ("near_miss", "near_miss"),
        ("off_topic", "off_topic"),
    ):
        found: dict[str, list[bool]] = {"calibration": [], "test": []}
        for r in rows(DATA / f"{name}.jsonl"):
            ans = answer_messages(searcher, [Message("user", r["question"])], 3, answerer)
            found[half(r["question"])].append(ans.found)
            if kind == "off_topic" and ans.found:
                answered_off_topic.append(r["question"])
        out[kind] = {part: round(float(np.mean(v)), 3) for part, v in found.items()}
        out[kind]["all"] = round(float(np.mean(found["calibration"] + found["test"])), 3)
    out["off_topic_answered"] = answered_off_topic
    return out


def plot(th: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [c["found_threshold"] for c in th["curve"]]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(xs, [c["answerable_found"] for c in th["curve"]], label="answerable found")
    ax.plot(xs, [c["answer_quotes_fact"] for c in th["curve"]], label="answer quotes the fact")
    ax.plot(xs, [c["near_miss_refused"] for c in th["curve"]], label="near misses refused")
    ax.plot(xs, [c["off_topic_refused"] for c in th["curve"]], label="off-topic refused")
    ax.axvline(th["found"], color="gray", ls="--", lw=1)
    ax.set_xlabel(f"evidence-sentence threshold (off-topic gate {th['gate']:+.3f})")
    ax.set_ylabel("share of questions")
    ax.set_title("Questions in other languages: 'not found' trade-off (all questions)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


# -- 3. Chinese quality -------------------------------------------------------------------


def chinese(settings: Settings, weights: list[float]) -> dict[str, Any]:
    from qa import evaluate

    out: dict[str, Any] = {}
    emb = service.embedder(settings)
    ml = service.multilingual(settings)
    sets = [
        ("cmrc2018_dev", ROOT.parent / "shared" / "data" / "cmrc2018_dev.json"),
        ("drcd_dev", ROOT.parent / "shared" / "data" / "drcd_dev.json"),
    ]
    for name, path in sets:
        articles, questions = evaluate.load_squad(path)
        index_dir = WORK / f"{name}-multilingual"
        t0 = time.perf_counter()
        report = build(articles, index_dir, emb, prune=True, multilingual=ml)
        print(report.summary(), f"({time.perf_counter() - t0:.0f} s)", flush=True)
        searcher = service.searcher(settings, emb, index_dir)
        out[name] = {}
        for w in weights:
            searcher.ml_weight_zh = w
            res = evaluate.evaluate(searcher, questions, modes=["fused"])["modes"]["fused"]
            out[name][str(w)] = {
                "r@1": round(res["recall@1"], 4),
                "mrr@10": round(res["mrr@10"], 4),
            }
            print(name, w, out[name][str(w)], flush=True)
    searcher = seed_searcher(settings)
    seeds = evaluate.load_questions(DATA / "seed_questions.jsonl")
    out["seed_questions"] = {}
    for w in weights:
        searcher.ml_weight_zh = w
        res = evaluate.evaluate(searcher, seeds, modes=["fused"])["modes"]["fused"]
        out["seed_questions"][str(w)] = {
            "r@1": round(res["recall@1"], 4),
            "mrr@10": round(res["mrr@10"], 4),
            "answer_in_top3": round(res["answer_in_top3"], 4),
        }
    return out


# -- 4. speed -----------------------------------------------------------------------------


def speed(searcher: Searcher, questions: list[str]) -> dict[str, Any]:
    ml = searcher.multilingual
    assert ml is not None
    for q in questions[:5]:  # warm up
        searcher.search(q, 5)
    enc, search = [], []
    for q in questions:
        t0 = time.perf_counter()
        ml.encode_queries([q + " "])  # not the searcher's cache
        enc.append(time.perf_counter() - t0)
        searcher._ml_cache.clear()
        t0 = time.perf_counter()
        searcher.search(q, 5)
        search.append(time.perf_counter() - t0)
    p50 = lambda xs: round(1000 * float(np.median(xs)), 2)  # noqa: E731
    return {
        "questions": len(questions),
        "multilingual_encode_p50_ms": p50(enc),
        "search_p50_ms": p50(search),
        "ratio": round(float(np.median(search) / np.median(enc)), 2),
    }


def indexing_rate(settings: Settings, n: int = 200) -> dict[str, Any]:
    """Passages a second for each model on CMRC 2018 passages (the same texts)."""
    from qa import evaluate
    from qa.indexer import embed_text
    from qa.split import split_article

    articles, _ = evaluate.load_squad(ROOT.parent / "shared" / "data" / "cmrc2018_dev.json")
    texts = [embed_text(a, p) for a in articles for p in split_article(a)][:n]
    out = {}
    for name, emb in (
        ("m3e-small", service.embedder(settings)),
        ("multilingual", service.multilingual(settings)),
    ):
        assert emb is not None
        emb.encode_passages(texts[:8])
        t0 = time.perf_counter()
        emb.encode_passages(texts)
        rate = len(texts) / (time.perf_counter() - t0)
        out[name] = {
            "passages_per_s": round(rate, 2),
            "minutes_per_10k": round(10_000 / rate / 60, 1),
        }
    return out


def http(seconds: float, index_dir: Path, questions: list[str]) -> dict[str, Any]:
    from bench.run import bench_http

    return bench_http(index_dir, seconds, [1], questions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--chinese", action="store_true", help="CMRC/DRCD/seed figures (slow: encodes both sets)"
    )
    ap.add_argument("--http", type=float, default=0.0, help="seconds of /api/search load")
    ap.add_argument("--out", default=str(OUT / "crosslingual.json"))
    args = ap.parse_args()
    settings = service.configure(Settings.from_env())
    searcher = seed_searcher(settings)
    questions = rows(DATA / "cross_lingual.jsonl")
    answerable = [r for r in questions if r["kind"] == "answerable"]
    results: dict[str, Any] = {
        "machine": {"cpu": platform.processor() or platform.machine()},
        "model": searcher.multilingual.model_id if searcher.multilingual else None,
        "set": {
            k: sum(r["kind"] == k for r in questions)
            for k in ("answerable", "near_miss", "off_topic")
        },
    }
    results["retrieval"] = fit_weights(retrieval_features(searcher, answerable))
    w = results["retrieval"]["weights"]
    # the same weights without the dictionary (BM25 then reads the English question as it is)
    searcher.use_glossary = False
    plain = retrieval_features(searcher, answerable)
    searcher.use_glossary = True
    results["retrieval"]["without_dictionary"] = {
        part: round(
            r_at_1(
                [f for f in plain if part == "all" or half(f["row"]["question"]) == part],
                (w["dense"], w["lexical"], w["names"]),
            ),
            3,
        )
        for part in ("calibration", "test", "all")
    }
    print(json.dumps(results["retrieval"], ensure_ascii=False), flush=True)
    searcher.foreign_weights = (w["dense"], w["lexical"])
    searcher.names_weight = w["names"]
    th = fit_thresholds(answer_features(searcher, questions))
    plot(th, OUT / "crosslingual_tradeoff.png")
    th_short = {k: v for k, v in th.items() if k != "curve"}
    results["answers"] = th
    print(json.dumps(th_short, ensure_ascii=False), flush=True)
    results["chinese_gate"] = chinese_gate(searcher)
    print(json.dumps(results["chinese_gate"]), flush=True)
    results["chinese_answers_found"] = chinese_answers(settings, searcher)
    print(json.dumps(results["chinese_answers_found"], ensure_ascii=False), flush=True)
    results["speed"] = speed(searcher, [r["question"] for r in answerable])
    print(json.dumps(results["speed"]), flush=True)
    results["indexing"] = indexing_rate(settings)
    print(json.dumps(results["indexing"]), flush=True)
    if args.http:
        results["http"] = http(
            args.http, WORK / "seeds-multilingual", [r["question"] for r in answerable]
        )
    if args.chinese:
        results["chinese"] = chinese(settings, [0.0, 0.25, 0.5, 1.0])
    Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=2), "utf-8")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
