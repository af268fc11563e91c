"""`qa index` at 10k passages with the multilingual signal off and on: `python -m bench.indexing`.

The corpus is CMRC 2018 dev articles and their variants (``bench.synthetic.variants``: sentences
rotated, so every passage is a new text that both models really encode), written as one JSONL file
until it holds ``--passages`` passages. The real command runs twice in a fresh index folder each
time (no vector cache to reuse): ``QA_MULTILINGUAL=off``, then ``on`` (both models encode every
passage). Wall time, passages a second and the peak memory of each run are recorded in
bench/results/indexing_10k.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.synthetic import variants
from qa import evaluate
from qa.config import ROOT
from qa.split import split_article

OUT = ROOT / "bench" / "results" / "indexing_10k.json"


def corpus(path: Path, passages: int) -> int:
    """Writes at least ``passages`` passages of CMRC dev articles and variants; their count."""
    base, _ = evaluate.load_squad(ROOT.parent / "shared" / "data" / "cmrc2018_dev.json")
    arts = variants(base, passages)
    with path.open("w", encoding="utf-8") as f:
        for a in arts:
            f.write(json.dumps({"title": a.title, "text": a.text}, ensure_ascii=False) + "\n")
    return sum(len(split_article(a)) for a in arts)


def run(corpus_file: Path, index_dir: Path, multilingual: str) -> dict[str, Any]:
    """One `qa index` process: its wall time, CPU time and peak memory (its own rusage)."""
    env = {**os.environ, "QA_MULTILINGUAL": multilingual, "QA_INDEX_DIR": str(index_dir)}
    cmd = [sys.executable, "-m", "qa.cli", "index", "-q", "--format", "jsonl", str(corpus_file)]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"qa index failed ({multilingual}):\n{err.read()[-2000:]}")
        lines = out.read().strip().splitlines()
    return {
        "multilingual": multilingual,
        "seconds": round(wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "last_lines": lines[-3:],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passages", type=int, default=10_000)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.jsonl"
        n = corpus(path, args.passages)
        print(f"corpus: {n} passages", flush=True)
        runs = []
        for mode in ("off", "on"):
            r = run(path, Path(tmp) / f"index-{mode}", mode)
            r["passages_per_s"] = round(n / r["seconds"], 2)
            r["minutes_per_10k"] = round(r["seconds"] / 60 * 10_000 / n, 1)
            runs.append(r)
            print(json.dumps(r, ensure_ascii=False), flush=True)
    off, on = runs
    result = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
        "passages": n,
        "runs": runs,
        "signal_cost_minutes_per_10k": round(on["minutes_per_10k"] - off["minutes_per_10k"], 1),
        "on_over_off": round(on["seconds"] / off["seconds"], 2),
    }
    Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}))


if __name__ == "__main__":
    main()
