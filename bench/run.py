"""The benchmark suite: `make bench` (or `python -m bench.run [--sizes 100000,1000000]`).

Writes bench/results/perf.json, plots, and bench/RESULTS.md's performance section. Timing lives
here, never in tests. Corpora above CMRC 2018 dev size are synthetic (bench/synthetic.py).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from qa import store
from qa.answer import Message, answer_messages, compose
from qa.config import ROOT, Settings
from qa.embed import SentenceTransformerEmbedder
from qa.evaluate import load_squad
from qa.indexer import build
from qa.search import Searcher
from qa.split import split_article
from qa.tokens import simplified

OUT = ROOT / "bench" / "results"
CMRC = ROOT.parent / "shared" / "data" / "cmrc2018_dev.json"


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for pkg in (
        "torch",
        "sentence-transformers",
        "transformers",
        "faiss-cpu",
        "bm25s",
        "jieba",
        "fastapi",
        "uvicorn",
        "numpy",
    ):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def pct(xs: list[float]) -> dict[str, float]:
    a = np.array(xs) * 1000
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "p99": float(np.percentile(a, 99)),
        "mean": float(a.mean()),
    }


class TimedEmbedder:
    """Counts the seconds spent inside the passage encoder."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.model_id, self.dim = inner.model_id, inner.dim
        self.query_prefix, self.passage_prefix = inner.query_prefix, inner.passage_prefix
        self.seconds = 0.0

    def encode_queries(self, texts):  # noqa: ANN001, ANN201
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, progress=None):  # noqa: ANN001, ANN201
        t = time.perf_counter()
        out = self.inner.encode_passages(texts, progress)
        self.seconds += time.perf_counter() - t
        return out


def bench_indexing(emb: SentenceTransformerEmbedder, work: Path) -> dict[str, Any]:
    articles, _ = load_squad(CMRC)
    passages = [(a, p) for a in articles for p in split_article(a)]
    texts = [simplified(f"{a.title}\n{p.text}") for a, p in passages]
    sample = texts[:512]
    t = time.perf_counter()
    emb.encode_passages(sample)
    raw = len(sample) / (time.perf_counter() - t)
    timed = TimedEmbedder(emb)
    t = time.perf_counter()
    report = build(articles, work / "cmrc", timed, progress=False)
    total = time.perf_counter() - t
    t = time.perf_counter()
    again = build(articles, work / "cmrc", timed, progress=False)
    unchanged = time.perf_counter() - t
    return {
        "corpus": "CMRC 2018 dev",
        "passages": report.passages,
        "mean_chars": float(np.mean([len(x) for x in texts])),
        "raw_encoder_sample_passages_per_s": raw,
        "encoder_passages_per_s": report.passages / timed.seconds,
        "pipeline_passages_per_s": report.passages / total,
        # the same passages through the encoder alone vs through `qa index` as a whole
        "pipeline_vs_raw": timed.seconds / total,
        "share_outside_encoder": 1 - timed.seconds / total,
        "reindex_unchanged_s": unchanged,
        "reindex_encoded": again.encoded,
    }


def latency(searcher: Searcher, questions: list[str], answer: bool = True) -> dict[str, Any]:
    idx = searcher.index
    stages: dict[str, list[float]] = {
        k: [] for k in ("encode", "faiss", "bm25", "fusion", "search_total", "answer", "chat_total")
    }
    for q in questions:
        t0 = time.perf_counter()
        qv = searcher.encode_query(q)
        t1 = time.perf_counter()
        idx.dense.search(qv[None, :], 50)
        t2 = time.perf_counter()
        idx.lexical.search(q, 50)
        t3 = time.perf_counter()
        s0 = time.perf_counter()
        hits = searcher.search(q, top_k=5, query_vector=qv)
        s1 = time.perf_counter()
        stages["encode"].append(t1 - t0)
        stages["faiss"].append(t2 - t1)
        stages["bm25"].append(t3 - t2)
        stages["fusion"].append(max(0.0, (s1 - s0) - (t2 - t1) - (t3 - t2)))
        stages["search_total"].append((t1 - t0) + (s1 - s0))
        if answer:
            a0 = time.perf_counter()
            compose(q, hits[:3], searcher, qv)
            a1 = time.perf_counter()
            answer_messages(searcher, [Message("user", q)], 3)
            a2 = time.perf_counter()
            stages["answer"].append(a1 - a0)
            stages["chat_total"].append(a2 - a1)
    return {k: pct(v) for k, v in stages.items() if v}


def approx_recall(
    searcher: Searcher, exact_vectors: np.ndarray, questions: list[str], k: int = 10
) -> float:
    import faiss

    flat = faiss.IndexFlatIP(exact_vectors.shape[1])
    flat.add(exact_vectors)
    qv = np.stack([searcher.encode_query(q) for q in questions])
    _, want = flat.search(qv, k)
    _, got = searcher.index.dense.search(qv, k)
    return float(np.mean([len(set(w) & set(g)) / k for w, g in zip(want, got, strict=True)]))


def cold_start(index_dir: Path) -> dict[str, float]:
    """A fresh process: import, load the model and the index, answer one question."""
    code = (
        "import time,sys;t=time.perf_counter();from pathlib import Path;"
        "from qa.embed import SentenceTransformerEmbedder;from qa.search import Searcher;from qa.answer import Message,answer_messages;"
        "from qa.config import Settings;e=SentenceTransformerEmbedder.from_settings(Settings.from_env());t1=time.perf_counter();"
        f"s=Searcher.open(Path({str(index_dir)!r}),e);t2=time.perf_counter();"
        "answer_messages(s,[Message('user','《战国无双3》是由哪两个公司合作开发的？')],3);t3=time.perf_counter();"
        "import resource;print(t1-t,t2-t1,t3-t2,resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    t = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.split()
    wall = time.perf_counter() - t
    model_s, index_s, first_s, rss_kb = map(float, out[-4:])
    return {
        "process_to_first_answer_s": wall,
        "model_load_s": model_s,
        "index_load_s": index_s,
        "first_answer_s": first_s,
        "peak_rss_mb": rss_kb / 1024,
    }


def dir_size(p: Path) -> float:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 2**20


async def _load(url: str, body: dict[str, Any], concurrency: int, seconds: float) -> dict[str, Any]:
    import httpx

    lat: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    r = await client.post(url, json=body)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat.append(time.perf_counter() - t)
                errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return {
        "concurrency": concurrency,
        "requests": len(lat),
        "rps": len(lat) / elapsed,
        "errors": errors,
        **pct(lat),
    }


def bench_http(index_dir: Path, seconds: float, levels: list[int]) -> dict[str, Any]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import httpx

        for _ in range(600):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        base = f"http://127.0.0.1:{port}"
        out: dict[str, Any] = {"search": [], "chat": []}
        for c in levels:
            out["search"].append(
                asyncio.run(
                    _load(
                        f"{base}/api/search",
                        {"query": "《战国无双3》是由哪两个公司合作开发的？", "top_k": 5},
                        c,
                        seconds,
                    )
                )
            )
        for c in levels:
            out["chat"].append(
                asyncio.run(
                    _load(
                        f"{base}/api/chat",
                        {
                            "messages": [
                                {
                                    "role": "user",
                                    "content": "《战国无双3》是由哪两个公司合作开发的？",
                                }
                            ]
                        },
                        c,
                        seconds,
                    )
                )
            )
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000", help="synthetic corpus sizes")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--http-seconds", type=float, default=10)
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument(
        "--backend",
        default=None,
        choices=["torch", "onnx"],
        help="encoder backend (default: QA_BACKEND)",
    )
    args = ap.parse_args()
    if not CMRC.exists():
        sys.exit(f"{CMRC} is missing: the benchmark needs CMRC 2018 dev from ../shared/data")
    OUT.mkdir(parents=True, exist_ok=True)
    emb = SentenceTransformerEmbedder.from_settings(Settings.from_env(), backend=args.backend)
    print(f"encoder backend: {emb.backend}", flush=True)
    os.environ["QA_BACKEND"] = emb.backend  # the cold-start and HTTP processes use the same one
    results: dict[str, Any] = {"machine": machine(), "backend": emb.backend}
    with tempfile.TemporaryDirectory(dir=os.environ.get("QA_BENCH_TMP")) as tmp:
        work = Path(tmp)
        print("indexing…", flush=True)
        results["indexing"] = bench_indexing(emb, work)
        print(json.dumps(results["indexing"], indent=1), flush=True)
        base = store.load(work / "cmrc", __import__("qa.tokens", fromlist=["tokenize"]).tokenize)
        _, questions = load_squad(CMRC)
        qs = [q.question for q in questions[: args.queries]]
        sizes: list[dict[str, Any]] = []
        searcher = Searcher.open(work / "cmrc", emb)
        sizes.append(
            {
                "passages": len(base.passages),
                "synthetic": False,
                "index_type": base.manifest["index_type"],
                "latency": latency(searcher, qs),
                "disk_mb": dir_size(work / "cmrc"),
                "cold": cold_start(work / "cmrc"),
            }
        )
        print(json.dumps(sizes[-1], indent=1), flush=True)
        if not args.skip_http:
            results["http_small"] = bench_http(work / "cmrc", args.http_seconds, [1, 8, 16, 32])
        from bench.synthetic import make_index

        for n in [int(x) for x in args.sizes.split(",") if x]:
            print(f"synthetic {n}…", flush=True)
            d = work / f"syn-{n}"
            kind = "hnsw"
            timings = make_index(
                list(base.articles.values()),
                base.passages,
                np.asarray(base.vectors, dtype=np.float32),
                n,
                d,
                "m3e-small",
                kind,
            )
            gc.collect()
            s = Searcher.open(d, emb)
            vecs = np.asarray(s.index.vectors, dtype=np.float32)
            entry = {
                "passages": n,
                "synthetic": True,
                "index_type": kind,
                "build": timings,
                "latency": latency(s, qs, answer=True),
                "recall@10_vs_exact": approx_recall(s, vecs, qs[:100]),
                "disk_mb": dir_size(d),
                "cold": cold_start(d),
            }
            del vecs
            if n == 100_000 and not args.skip_http:
                results["http_100k"] = bench_http(d, args.http_seconds, [1, 8, 16, 32])
            sizes.append(entry)
            print(json.dumps({k: v for k, v in entry.items()}, indent=1), flush=True)
            del s
            gc.collect()
        results["sizes"] = sizes
    results["bench_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (OUT / "perf.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    plots(results)
    print("written bench/results/perf.json", flush=True)


def plots(results: dict[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = results.get("sizes", [])
    if sizes:
        fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
        xs = [s["passages"] for s in sizes]
        for stage in ("encode", "faiss", "bm25", "search_total", "chat_total"):
            ys = [s["latency"].get(stage, {}).get("p50", np.nan) for s in sizes]
            ax.plot(xs, ys, marker="o", label=f"{stage} p50")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages (above 2k: synthetic)")
        ax.set_ylabel("ms")
        ax.set_title("Latency vs corpus size (2 cores)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(OUT / "latency_vs_size.png")
        plt.close(fig)
    for key in ("http_100k", "http_small"):
        if key in results:
            fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
            for route, rows in results[key].items():
                ax.plot(
                    [r["concurrency"] for r in rows],
                    [r["rps"] for r in rows],
                    marker="o",
                    label=f"/api/{route}",
                )
            ax.set_xlabel("concurrent clients")
            ax.set_ylabel("requests/s")
            ax.set_title(f"Throughput vs concurrency ({key.replace('http_', '')})")
            ax.grid(alpha=0.3)
            ax.legend()
            fig.tight_layout()
            fig.savefig(OUT / f"throughput_{key.replace('http_', '')}.png")
            plt.close(fig)


if __name__ == "__main__":
    main()
