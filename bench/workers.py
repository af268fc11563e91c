"""`/api/search` requests/s at concurrency 16 with `qa serve --workers 1` and `--workers 2`, in one
run, against the machine's ceiling: cores / the in-process time of one search (query encoding
included) over the same index and questions (bench/results/workers.json, or workers_<size>.json).

Questions that do not repeat: CMRC 2018 dev (3,219) in order, so no cache can help.

    python -m bench.workers [--seconds 10] [--size 100000]

With ``--size`` the index is the synthetic corpus of `bench.run` at that many passages (real
CMRC passages repeated with variations; HNSW); without it, the seed index at QA_INDEX_DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

from bench.run import CMRC, bench_http, machine
from bench.synthetic import make_from_cmrc
from qa import service, store
from qa.config import ROOT, Settings
from qa.embed import SentenceTransformerEmbedder
from qa.evaluate import load_questions, load_squad
from qa.tokens import tokenize


def in_process(
    index_dir: Path, questions: list[str], settings: Settings, warmup: float = 5.0
) -> dict[str, float]:
    """Mean and median time of one search (encode + retrieve + fuse) in this process, after
    ``warmup`` seconds of unmeasured searches (as the HTTP runs get: the memory-mapped index
    is read into the page cache, not timed)."""
    emb = SentenceTransformerEmbedder.from_settings(settings)
    searcher = service.searcher(settings, emb, index_dir)
    until = time.perf_counter() + warmup
    for q in questions:
        searcher.search(q, top_k=5)
        if time.perf_counter() > until:
            break
    times = []
    for q in questions:
        t = time.perf_counter()
        searcher.search(q, top_k=5)
        times.append(time.perf_counter() - t)
    return {"mean_ms": statistics.fmean(times) * 1000, "p50_ms": statistics.median(times) * 1000}


def synthetic(size: int, settings: Settings) -> Path:
    emb = SentenceTransformerEmbedder.from_settings(settings)
    d = ROOT / "embeddings" / f"bench-workers-{size}"
    shutil.rmtree(d, ignore_errors=True)
    made, _ = make_from_cmrc(size, d, emb)
    print(json.dumps(made), flush=True)
    return d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds of unmeasured load first")
    ap.add_argument("--size", type=int, default=0, help="synthetic corpus of this many passages")
    args = ap.parse_args()
    settings = Settings.from_env()
    if CMRC.exists():
        _, items = load_squad(CMRC)
        questions = [q.question for q in items]
    else:
        questions = [
            q.question for q in load_questions(ROOT / "tests" / "data" / "seed_questions.jsonl")
        ]
    index_dir = synthetic(args.size, settings) if args.size else settings.index_dir
    cores = os.cpu_count() or 1
    # the ceiling is measured before and after the HTTP runs and averaged (this machine drifts),
    # over the very questions the load sends: the first 300 alone are 16% cheaper on average
    solo = in_process(index_dir, questions, settings, args.warmup)
    ceiling = cores / (solo["mean_ms"] / 1000)
    out = {
        "machine": machine(),
        "index": "synthetic" if args.size else str(settings.index_dir),
        "passages": store.load(index_dir, tokenize).live,
        "in_process_search": solo,
        "ceiling_rps": ceiling,
        "runs": [],
    }
    print(json.dumps(out["in_process_search"]), f"ceiling {ceiling:.0f} rps", flush=True)
    for workers in (1, 2):
        print(f"--workers {workers}", flush=True)
        r = bench_http(
            index_dir, args.seconds, [16], questions, workers, ("search",), warmup=args.warmup
        )
        run = {"workers": workers, **r["search"][0]}
        run["share_of_ceiling"] = run["rps"] / ceiling
        out["runs"].append(run)
    after = in_process(index_dir, questions, settings, args.warmup)
    out["in_process_search_after"] = after
    ceiling = cores / ((solo["mean_ms"] + after["mean_ms"]) / 2 / 1000)
    out["ceiling_rps"] = ceiling
    print(json.dumps(after), f"ceiling (mean of both) {ceiling:.0f} rps", flush=True)
    for run in out["runs"]:
        run["share_of_ceiling"] = run["rps"] / ceiling
        print(f"--workers {run['workers']}: {run['share_of_ceiling']:.0%} of the ceiling")
    name = f"workers_{args.size}.json" if args.size else "workers.json"
    path = ROOT / "bench" / "results" / name
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
    print(f"written {path}")
    if args.size:
        shutil.rmtree(index_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
