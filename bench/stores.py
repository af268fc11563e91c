"""The two stores side by side in one run: FAISS + BM25 postings (files) and Milvus (milvus-lite).

CMRC 2018 dev fused R@1 and MRR@10, seed questions compared at rank 1, search latency and
indexing time on each. Vectors come from the same embedder; the Milvus index reuses nothing
from the files one (it encodes its passages itself), so indexing times compare like for like.

    python -m bench.stores [--scale 100000] [--only-scale] [--questions N]
    # writes bench/results/stores.json
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import statistics
import sys
import time
from dataclasses import replace

from qa import evaluate, service
from qa.config import ROOT, Settings
from qa.indexer import build
from qa.ingest import ingest
from qa.search import Searcher

DATA = ROOT.parent / "shared" / "data" / "cmrc2018_dev.json"
WORK = ROOT / "embeddings" / "bench-stores"


def target(settings: Settings, kind: str, name: str, emb):  # noqa: ANN001, ANN201
    if kind == "milvus":
        s = replace(settings, store="milvus", milvus_uri=str(WORK / f"{name}.db"))
    else:
        s = replace(settings, store="files")
    return s, service.index_target(s, emb, index_dir=WORK / f"{name}-files")


def one(settings: Settings, kind: str, name: str, articles, emb) -> tuple[Searcher, float]:  # noqa: ANN001
    s, t = target(settings, kind, name, emb)
    started = time.perf_counter()
    build(articles, WORK / f"{name}-files", emb, target=t, progress=False)
    seconds = time.perf_counter() - started
    return service.searcher(s, emb, WORK / f"{name}-files"), seconds


def latency(searcher: Searcher, questions: list[str]) -> float:
    times = []
    for q in questions:
        t = time.perf_counter()
        searcher.search(q, top_k=5)
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


def _rss_mb() -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return 0


def _children_rss_mb() -> int:
    """Resident memory of this process's children: milvus-lite 2.5 runs Milvus (C++) as one."""
    me, total = os.getpid(), 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip() or 0) == me:
            total += int(fields.get("VmRSS", "0 kB").split()[0]) // 1024
    return total


def scale(settings: Settings, emb, size: int, queries: list[str]) -> dict:  # noqa: ANN001
    """The synthetic corpus of ``bench.run`` (CMRC articles repeated with variations) in both
    stores: the files index built as `bench.run` builds it, then the same passages and vectors
    written to milvus-lite; search p50 on both with the same questions."""
    import numpy as np

    from bench.synthetic import make_from_cmrc
    from qa import store as disk
    from qa.stores.base import Change
    from qa.stores.milvus import MilvusStore
    from qa.tokens import tokenize

    d = WORK / f"syn-{size}"
    t = time.perf_counter()
    timings, _ = make_from_cmrc(size, d, emb, real_hashes=False)
    files_s = time.perf_counter() - t
    syn = disk.load(d, tokenize, mmap=False)
    rss_before = _rss_mb()
    n = len(syn.passages)
    mv = MilvusStore(str(WORK / f"syn-{size}.db"), "qa_scale", emb.model_id, emb.dim)
    t = time.perf_counter()
    mv.write(
        Change(
            articles=dict(syn.articles),
            passages=list(syn.passages),
            hashes=list(syn.hashes),
            vectors=np.asarray(syn.vectors, dtype=np.float32),
            changed=set(syn.articles),
            removed=set(),
            manifest={},
        )
    )
    milvus_s = time.perf_counter() - t
    out = {"passages": n, "files_build_s": round(files_s, 1), "files_stages": timings}
    # milvus-lite 3 runs in this process (pure Python); 2.5 runs Milvus as a child process
    out["milvus_lite"] = importlib.metadata.version("milvus-lite")
    out["rss_mb_before_milvus"] = rss_before
    out["milvus_child_rss_mb"] = _children_rss_mb()
    out["rss_mb_after_milvus_write"] = _rss_mb()
    out["milvus_write_s"] = round(milvus_s, 1)
    out["milvus_passages_per_s"] = round(n / milvus_s, 1)
    files = Searcher(syn, emb)
    milvus = Searcher(mv, emb)
    out["files_search_p50_ms"] = latency(files, queries)
    out["milvus_search_p50_ms"] = latency(milvus, queries)
    out["rss_mb_after_searches"] = _rss_mb()
    print("scale", out, flush=True)
    return out


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", type=int, default=0, help="also a synthetic corpus of this size")
    ap.add_argument(
        "--only-scale",
        action="store_true",
        help="measure the synthetic corpus only (keeps the CMRC figures of stores.json)",
    )
    ap.add_argument("--questions", type=int, default=0, help="CMRC questions (0: all 3,219)")
    args = ap.parse_args()
    settings = service.configure(Settings.from_env())
    emb = service.embedder(settings)
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    articles, questions = evaluate.load_squad(DATA)
    if args.questions:
        questions = questions[: args.questions]
    path = ROOT / "bench" / "results" / "stores.json"
    if args.only_scale:
        out = json.loads(path.read_text("utf-8")) if path.exists() else {}
        out["scale"] = scale(settings, emb, args.scale, [q.question for q in questions[:200]])
        path.write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
        print(f"written {path}")
        return 0
    seeds = ingest([str(settings.corpus)]).articles
    seed_qs = evaluate.load_questions(ROOT / "tests" / "data" / "seed_questions.jsonl")
    out: dict = {"data": DATA.name, "questions": len(questions), "stores": {}}
    tops: dict[str, list[str]] = {}
    for kind in ("files", "milvus"):
        searcher, seconds = one(settings, kind, "cmrc", articles, emb)
        report = evaluate.evaluate(searcher, questions, modes=["fused"])
        fused = report["modes"]["fused"]
        seed_searcher, seed_seconds = one(settings, kind, "seeds", seeds, emb)
        tops[kind] = [seed_searcher.search(q.question, top_k=1)[0].passage.id for q in seed_qs]
        out["stores"][kind] = {
            "passages": report["passages"],
            "index_seconds": round(seconds, 1),
            "recall@1": round(fused["recall@1"], 4),
            "mrr@10": round(fused["mrr@10"], 4),
            "answer_in_top3": round(fused["answer_in_top3"], 4),
            "search_p50_ms": latency(searcher, [q.question for q in questions[:300]]),
        }
        print(kind, out["stores"][kind], flush=True)
    same = sum(a == b for a, b in zip(tops["files"], tops["milvus"], strict=True))
    out["seed_rank1_identical"] = f"{same}/{len(seed_qs)}"
    print("seed questions, same passage at rank 1:", out["seed_rank1_identical"])
    if args.scale:
        out["scale"] = scale(settings, emb, args.scale, [q.question for q in questions[:200]])
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
