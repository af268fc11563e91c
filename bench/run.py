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
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench.synthetic import make_index, variants
from qa import store
from qa.answer import Message, answer_messages, compose
from qa.config import ROOT, Settings
from qa.embed import SentenceTransformerEmbedder
from qa.evaluate import load_squad
from qa.indexer import build
from qa.ingest import ingest
from qa.search import Searcher
from qa.split import split_article
from qa.tokens import simplified, tokenize

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


def bench_indexing(
    emb: SentenceTransformerEmbedder, work: Path, name: str, articles: list[Any]
) -> dict[str, Any]:
    """Raw encoder throughput vs the whole `qa index` pipeline on the same passages."""
    passages = [(a, p) for a in articles for p in split_article(a)]
    texts = [simplified(f"{a.title}\n{p.text}") for a, p in passages]
    sample = texts[:512]
    t = time.perf_counter()
    emb.encode_passages(sample)
    raw = len(sample) / (time.perf_counter() - t)
    timed = TimedEmbedder(emb)
    t = time.perf_counter()
    report = build(articles, work / name, timed, progress=False)
    total = time.perf_counter() - t
    t = time.perf_counter()
    again = build(articles, work / name, timed, progress=False)
    unchanged = time.perf_counter() - t
    return {
        "corpus": name,
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


def measure_index(index_dir: Path, queries: int) -> dict[str, Any]:
    """Latency by stage, recall of the approximate index against exact search (with an efSearch
    sweep for HNSW), in this process: run it in a fresh one (``--measure``), as the service is."""
    emb = SentenceTransformerEmbedder.from_settings(Settings.from_env())
    _, questions = load_squad(CMRC)
    qs = [q.question for q in questions[:queries]]
    s = Searcher.open(index_dir, emb)
    for q in qs[:10]:  # warm up: the first searches map the index pages
        s.search(q, 5)
    out: dict[str, Any] = {"latency": latency(s, qs, answer=True)}
    if s.index.manifest["index_type"] != "flat":
        vecs = np.asarray(s.index.vectors, dtype=np.float32)
        dense = s.index.dense
        default = dense.ef_search
        out["recall@10_vs_exact"] = approx_recall(s, vecs, qs[:100])
        sweep = []
        if dense.kind.startswith("hnsw"):
            qv = np.stack([s.encode_query(q) for q in qs[:100]])
            for ef in (64, 128, 256, 384):
                dense.set_search_effort(ef_search=ef)
                t = time.perf_counter()
                for row in qv:
                    dense.search(row[None, :], 50)
                ms = (time.perf_counter() - t) / len(qv) * 1000
                sweep.append(
                    {"ef_search": ef, "recall@10": approx_recall(s, vecs, qs[:100]), "faiss_ms": ms}
                )
            dense.set_search_effort(ef_search=default)
        out["ef_search"] = default
        out["ef_sweep"] = sweep
    return out


def measure_in_fresh_process(index_dir: Path, queries: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.run", "--measure", str(index_dir), "--queries", str(queries)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def cold_start(index_dir: Path) -> dict[str, float]:
    """A fresh process: import, load the model and the index, answer one question."""
    code = (
        "import time,sys;t=time.perf_counter();from pathlib import Path;"
        "from qa.embed import SentenceTransformerEmbedder;from qa.search import Searcher;from qa.answer import Message,answer_messages;"
        "from qa.config import Settings;e=SentenceTransformerEmbedder.from_settings(Settings.from_env());t1=time.perf_counter();"
        f"s=Searcher.open(Path({str(index_dir)!r}),e);t2=time.perf_counter();"
        "answer_messages(s,[Message('user','《战国无双3》是由哪两个公司合作开发的？')],3);t3=time.perf_counter();"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec, so a child started by this
        # (large) benchmark process would report the benchmark's own peak
        "hwm=[l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print(t1-t,t2-t1,t3-t2,hwm)"
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


WRK_SCRIPT = """
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\\"requests\\": %%d, \\"duration_us\\": %%d, \\"errors\\": %%d, "
    .. "\\"p50\\": %%f, \\"p95\\": %%f, \\"p99\\": %%f, \\"mean\\": %%f}\\n",
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.mean / 1000))
end
"""


def _lua_string(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _wrk(
    url: str, bodies: list[dict[str, Any]], concurrency: int, seconds: float
) -> dict[str, Any]:
    """Load with wrk (C, one thread): the load generator leaves the server most of the CPU."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        items = ", ".join(_lua_string(json.dumps(b, ensure_ascii=False)) for b in bodies)
        f.write(WRK_SCRIPT % items)
        script = f.name
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{concurrency}",
                f"-d{seconds:g}s",
                "--timeout",
                "10s",
                "-s",
                script,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(script)
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    r = json.loads(line.removeprefix("WRKJSON "))
    return {
        "concurrency": concurrency,
        "requests": r["requests"],
        "rps": r["requests"] / (r["duration_us"] / 1e6),
        "errors": r["errors"],
        "p50": r["p50"],
        "p95": r["p95"],
        "p99": r["p99"],
        "mean": r["mean"],
        "generator": "wrk",
    }


async def _httpx_load(
    url: str, bodies: list[dict[str, Any]], concurrency: int, seconds: float
) -> dict[str, Any]:
    import httpx

    lat: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def worker(k: int) -> None:
            nonlocal errors
            i = k
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                try:
                    r = await client.post(url, json=bodies[i % len(bodies)])
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat.append(time.perf_counter() - t)
                errors += not ok
                i += concurrency

        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return {
        "concurrency": concurrency,
        "requests": len(lat),
        "rps": len(lat) / elapsed,
        "errors": errors,
        **pct(lat),
        "generator": "httpx",
    }


def http_load(
    url: str, bodies: list[dict[str, Any]], concurrency: int, seconds: float
) -> dict[str, Any]:
    import shutil

    if shutil.which("wrk"):
        return _wrk(url, bodies, concurrency, seconds)
    return asyncio.run(_httpx_load(url, bodies, concurrency, seconds))


def bench_http(
    index_dir: Path,
    seconds: float,
    levels: list[int],
    questions: list[str],
    workers: int = 1,
    routes: tuple[str, ...] = ("search", "chat"),
    warmup: float = 0.0,
    rounds: int = 1,
) -> dict[str, Any]:
    """Requests/s of a fresh `qa serve` per route and concurrency; ``warmup`` seconds of the
    highest concurrency run first on each route and are not counted (the first requests of each
    new question length are slow while ONNX Runtime grows its buffers). With ``rounds`` > 1 the
    routes take turns that many times (search, chat, search, chat...), so a slower minute of the
    machine falls on both; ``out[route]`` then holds ``rounds`` x ``levels`` runs in that order."""
    import socket

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "QA_INDEX_DIR": str(index_dir)}
    # The server writes an access line per request to stderr: into a file, not a pipe nobody
    # reads (a full pipe blocks the server, which then neither serves nor stops on SIGTERM).
    log_file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(1200):
            if proc.poll() is not None:
                log_file.seek(0)
                raise RuntimeError(f"qa serve exited: {log_file.read()[-2000:]}")
            try:
                r = httpx.get(f"{base}/healthz", timeout=1)
                if r.status_code == 200 and r.json().get("status") == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError("qa serve did not become healthy in 240 s")
        probe = httpx.post(f"{base}/api/search", json={"query": questions[0]}, timeout=30)
        probe.raise_for_status()  # a broken server must not be benchmarked as a fast one
        search = [{"query": q, "top_k": 5} for q in questions]
        chat = [{"messages": [{"role": "user", "content": q}]} for q in questions]
        out: dict[str, Any] = {"search": [], "chat": [], "workers": workers}
        bodies = {"search": search, "chat": chat}
        for turn in range(rounds):
            for route in routes:
                if warmup > 0 and turn == 0:
                    # from the other end of the list: the measured run still starts on unseen
                    # questions
                    http_load(f"{base}/api/{route}", bodies[route][::-1], max(levels), warmup)
                for c in levels:
                    out[route].append(http_load(f"{base}/api/{route}", bodies[route], c, seconds))
                    print(f"  /api/{route} c={c}: {out[route][-1]['rps']:.0f} rps", flush=True)
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log_file.close()


def reindex_at_scale(
    emb: SentenceTransformerEmbedder, articles: list[Any], d: Path, kind: str
) -> dict[str, Any]:
    """`qa index` over a synthetic corpus whose passages carry real content hashes."""
    t = time.perf_counter()
    unchanged = build(articles, d, emb, index_type=kind, progress=False)
    unchanged_s = time.perf_counter() - t
    edited = list(articles)
    edited[0] = replace(edited[0], text=edited[0].text + "这是为基准测试新增的一句话。")
    t = time.perf_counter()
    one = build(edited, d, emb, index_type=kind, progress=False)
    one_s = time.perf_counter() - t
    return {
        "unchanged_s": unchanged_s,
        "unchanged_encoded": unchanged.encoded,
        "one_article_changed_s": one_s,
        "one_article_changed_encoded": one.encoded,
        "one_article_changed_reused": one.reused,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000", help="synthetic corpus sizes")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--http-seconds", type=float, default=10)
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="keep the synthetic sizes of the previous perf.json that this run does not measure",
    )
    ap.add_argument(
        "--backend",
        default=None,
        choices=["torch", "onnx"],
        help="encoder backend (default: QA_BACKEND)",
    )
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # internal: one index
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure_index(args.measure, args.queries)))
        return
    if not CMRC.exists():
        sys.exit(f"{CMRC} is missing: the benchmark needs CMRC 2018 dev from ../shared/data")
    OUT.mkdir(parents=True, exist_ok=True)
    emb = SentenceTransformerEmbedder.from_settings(Settings.from_env(), backend=args.backend)
    print(f"encoder backend: {emb.backend}", flush=True)
    os.environ["QA_BACKEND"] = emb.backend  # the cold-start and HTTP processes use the same one
    results: dict[str, Any] = {"machine": machine(), "backend": emb.backend}
    levels = [1, 8, 16, 32]
    with tempfile.TemporaryDirectory(dir=os.environ.get("QA_BENCH_TMP")) as tmp:
        work = Path(tmp)
        print("indexing…", flush=True)
        cmrc_articles, questions = load_squad(CMRC)
        results["indexing"] = [
            bench_indexing(emb, work, "seeds", ingest([ROOT / "seeds"]).articles),
            bench_indexing(emb, work, "cmrc", cmrc_articles),
        ]
        print(json.dumps(results["indexing"], indent=1), flush=True)
        base = store.load(work / "cmrc", tokenize)
        qs = [q.question for q in questions[: args.queries]]
        sizes: list[dict[str, Any]] = []
        sizes.append(
            {
                "passages": len(base.passages),
                "synthetic": False,
                "commit": results["machine"]["commit"],
                "index_type": base.manifest["index_type"],
                **measure_in_fresh_process(work / "cmrc", args.queries),
                "disk_mb": dir_size(work / "cmrc"),
                "cold": cold_start(work / "cmrc"),
            }
        )
        print(json.dumps(sizes[-1], indent=1), flush=True)
        if not args.skip_http:
            print("HTTP load, CMRC dev…", flush=True)
            results["http_small"] = bench_http(work / "cmrc", args.http_seconds, levels, qs[:50])
        base_articles = list(base.articles.values())
        base_vectors = np.asarray(base.vectors, dtype=np.float32)
        for n in [int(x) for x in args.sizes.split(",") if x]:
            print(f"synthetic {n}…", flush=True)
            d = work / f"syn-{n}"
            kind = "hnsw"
            real_hashes = n <= 100_000
            timings = make_index(
                base_articles,
                base.passages,
                base_vectors,
                n,
                d,
                emb.model_id,
                kind,
                real_hashes=real_hashes,
                passage_prefix=emb.passage_prefix,
            )
            print(json.dumps(timings), flush=True)
            gc.collect()
            entry: dict[str, Any] = {
                "passages": timings["passages"],
                "synthetic": True,
                "commit": results["machine"]["commit"],
                "index_type": kind,
                "build": timings,
                **measure_in_fresh_process(d, args.queries),
                "disk_mb": dir_size(d),
            }
            entry["cold"] = cold_start(d)
            print(json.dumps(entry, indent=1), flush=True)
            if n == 100_000 and not args.skip_http:
                print("HTTP load, 100k…", flush=True)
                results["http_100k"] = bench_http(d, args.http_seconds, levels, qs[:50])
            if real_hashes:
                print("re-indexing…", flush=True)
                entry["reindex"] = reindex_at_scale(emb, variants(base_articles, n), d, kind)
                print(json.dumps(entry["reindex"]), flush=True)
            sizes.append(entry)
            shutil.rmtree(d, ignore_errors=True)
        if args.merge and (OUT / "perf.json").exists():
            previous = json.loads((OUT / "perf.json").read_text(encoding="utf-8"))
            measured = {round(s["passages"], -3) for s in sizes}
            kept = [
                s
                for s in previous.get("sizes", [])
                if s["synthetic"] and round(s["passages"], -3) not in measured
            ]
            for s in kept:
                s.setdefault("commit", previous["machine"]["commit"])
            sizes = sorted(sizes + kept, key=lambda s: s["passages"])
        results["sizes"] = sizes
    results["bench_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    (OUT / "perf.json").write_text(
        json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    plots(results)
    write_results(results)
    print("written bench/results/perf.json and bench/RESULTS.md", flush=True)


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


BEGIN, END = "<!-- perf:begin (written by python -m bench.run) -->", "<!-- perf:end -->"


def _stage(lat: dict[str, Any], name: str) -> str:
    s = lat.get(name)
    return "–" if not s else f"{s['p50']:.1f} / {s['p95']:.1f} / {s['p99']:.1f}"


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for each target of the performance issue that this run measured."""
    rows: list[tuple[str, str, bool | None]] = []
    by_n = {s["passages"] // 1000 * 1000: s for s in results.get("sizes", []) if s["synthetic"]}
    http = results.get("http_100k")
    if http:
        one = next(r for r in http["search"] if r["concurrency"] == 1)
        rows.append(
            (
                "`/api/search` at 100k, one client: p50 <= 15 ms, p99 <= 50 ms",
                f"p50 {one['p50']:.1f} ms, p99 {one['p99']:.1f} ms",
                one["p50"] <= 15 and one["p99"] <= 50,
            )
        )
        c16 = next((r for r in http["search"] if r["concurrency"] == 16), None)
        if c16:
            rows.append(
                (
                    "`/api/search` at 100k, 16 clients: >= 150 requests/s, zero errors",
                    f"{c16['rps']:.0f} requests/s, {c16['errors']} errors",
                    c16["rps"] >= 150 and c16["errors"] == 0,
                )
            )
    big = by_n.get(1_000_000)
    if big:
        p50 = big["latency"]["search_total"]["p50"]
        rec = big["recall@10_vs_exact"]
        rows.append(
            (
                "1M: search p50 <= 30 ms, recall@10 vs exact >= 0.95",
                f"p50 {p50:.1f} ms, recall@10 {rec:.3f}",
                p50 <= 30 and rec >= 0.95,
            )
        )
        cold = big["cold"]["process_to_first_answer_s"]
        rows.append(("1M: process start to first answer <= 5 s", f"{cold:.1f} s", cold <= 5))
        rss = big["cold"]["peak_rss_mb"] / 1024
        rows.append(("1M: memory < 6 GiB", f"peak RSS {rss:.2f} GiB", rss < 6))
    for ix in results.get("indexing", []):
        rows.append(
            (
                f"indexing pipeline >= 90% of the raw encoder ({ix['corpus']})",
                f"{ix['pipeline_vs_raw']:.1%}",
                ix["pipeline_vs_raw"] >= 0.9,
            )
        )
    hundred = by_n.get(100_000)
    if hundred and "reindex" in hundred:
        r = hundred["reindex"]
        rows.append(
            (
                "re-indexing an unchanged 100k corpus < 1 min",
                f"{r['unchanged_s']:.1f} s, {r['unchanged_encoded']} passages encoded",
                r["unchanged_s"] < 60 and r["unchanged_encoded"] == 0,
            )
        )
    return rows


def render(results: dict[str, Any]) -> str:
    m = results["machine"]
    v = m["versions"]
    lines = [
        BEGIN,
        "",
        f"Run {m['date']} at commit `{m['commit']}`: {m['cores']} cores ({m['cpu']}), "
        f"Python {m['python']}, torch {v.get('torch')}, faiss-cpu {v.get('faiss-cpu')}, "
        f"bm25s {v.get('bm25s')}; query and passage encoding on the **{results['backend']}** "
        "backend. Reproduce with `make bench` (`python -m bench.run`); raw figures in "
        "`bench/results/perf.json`.",
        "",
        "#### Targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
    ]
    for target, measured, met in targets(results):
        lines.append(f"| {target} | {measured} | {'yes' if met else '**no**'} |")
    lines += [
        "",
        "#### Indexing (`qa index`, real model)",
        "",
        "| corpus | passages | mean chars | raw encoder passages/s | pipeline passages/s "
        "| pipeline vs raw | time outside the encoder | unchanged re-index |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for ix in results.get("indexing", []):
        lines.append(
            f"| {ix['corpus']} | {ix['passages']:,} | {ix['mean_chars']:.0f} "
            f"| {ix['raw_encoder_sample_passages_per_s']:.1f} | {ix['pipeline_passages_per_s']:.1f} "
            f"| {ix['pipeline_vs_raw']:.1%} | {ix['share_outside_encoder']:.1%} "
            f"| {ix['reindex_unchanged_s']:.2f} s ({ix['reindex_encoded']} encoded) |"
        )
    lines += [
        "",
        "#### Query latency by stage, ms (p50 / p95 / p99), in process",
        "",
        "| passages | index | encode query | FAISS | BM25 | fusion | search total "
        "| answer composition | chat total | recall@10 vs exact |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in results.get("sizes", []):
        lat = s["latency"]
        label = f"{s['passages']:,}" + (" (synthetic)" if s["synthetic"] else " (CMRC dev)")
        if s.get("commit", m["commit"]) != m["commit"]:
            label += f", kept from the run at `{s['commit']}`"
        rec = s.get("recall@10_vs_exact")
        lines.append(
            f"| {label} | {s['index_type']} | {_stage(lat, 'encode')} | {_stage(lat, 'faiss')} "
            f"| {_stage(lat, 'bm25')} | {_stage(lat, 'fusion')} | {_stage(lat, 'search_total')} "
            f"| {_stage(lat, 'answer')} | {_stage(lat, 'chat_total')} "
            f"| {'exact' if rec is None else f'{rec:.3f}'} |"
        )
    lines += [
        "",
        "#### Cold start, memory and disk",
        "",
        "| passages | process start to first answer | model load | index load | first answer "
        "| peak RSS | index on disk | build (FAISS / BM25 / save) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in results.get("sizes", []):
        c, b = s["cold"], s.get("build")
        built = (
            "–"
            if not b
            else f"{b['faiss_build_s']:.0f} s / {b['bm25_build_s']:.0f} s / {b['save_s']:.0f} s"
        )
        lines.append(
            f"| {s['passages']:,} | {c['process_to_first_answer_s']:.1f} s | {c['model_load_s']:.1f} s "
            f"| {c['index_load_s']:.1f} s | {c['first_answer_s']:.2f} s "
            f"| {c['peak_rss_mb'] / 1024:.2f} GiB | {s['disk_mb']:,.0f} MB | {built} |"
        )
    sweeps = [s for s in results.get("sizes", []) if s.get("ef_sweep")]
    if sweeps:
        lines += [
            "",
            "HNSW search breadth (efSearch) against recall@10 of exact search and FAISS time per "
            "query (100 questions, one thread):",
            "",
            "| passages | "
            + " | ".join(f"ef {e['ef_search']}" for e in sweeps[0]["ef_sweep"])
            + " |",
            "| --- |" + " --- |" * len(sweeps[0]["ef_sweep"]),
        ]
        for s in sweeps:
            cells = [
                f"{e['recall@10']:.3f}, {e['faiss_ms']:.1f} ms"
                + (" (default)" if e["ef_search"] == s.get("ef_search") else "")
                for e in s["ef_sweep"]
            ]
            lines.append(f"| {s['passages']:,} | " + " | ".join(cells) + " |")
    for s in results.get("sizes", []):
        if "reindex" in s:
            r = s["reindex"]
            lines += [
                "",
                f"Re-indexing the {s['passages']:,}-passage synthetic corpus (real content hashes) "
                f"through `qa index`: unchanged {r['unchanged_s']:.1f} s "
                f"({r['unchanged_encoded']} encoded); one article edited "
                f"{r['one_article_changed_s']:.1f} s ({r['one_article_changed_encoded']} encoded, "
                f"{r['one_article_changed_reused']:,} reused).",
            ]
    for key, label in (("http_small", "CMRC dev"), ("http_100k", "100k synthetic")):
        http = results.get(key)
        if not http:
            continue
        gen = http["search"][0].get("generator", "httpx")
        lines += [
            "",
            f"#### HTTP on 127.0.0.1, {label} ({gen}, one `qa serve` process, "
            "50 different questions in rotation)",
            "",
            "| route | clients | requests/s | p50 ms | p99 ms | requests | errors |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for route, rows in http.items():
            for r in rows:
                lines.append(
                    f"| `/api/{route}` | {r['concurrency']} | {r['rps']:.0f} | {r['p50']:.1f} "
                    f"| {r['p99']:.1f} | {r['requests']:,} | {r['errors']} |"
                )
    lines += ["", "![latency vs size](results/latency_vs_size.png)"]
    for key in ("small", "100k"):
        if (OUT / f"throughput_{key}.png").exists():
            lines.append(f"![throughput {key}](results/throughput_{key}.png)")
    lines += ["", END]
    return "\n".join(lines)


def write_results(results: dict[str, Any]) -> None:
    """Replace the generated part of bench/RESULTS.md (between the markers) with this run."""
    path = ROOT / "bench" / "RESULTS.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Results\n"
    block = render(results)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Performance\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
