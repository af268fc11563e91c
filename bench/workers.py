"""`/api/search` requests/s at concurrency 16 with `qa serve --workers 1` and `--workers 2`, on
the seed index, in one run (bench/results/workers.json).

    python -m bench.workers [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.run import bench_http, machine
from qa.config import ROOT, Settings
from qa.evaluate import load_questions


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    settings = Settings.from_env()
    questions = [
        q.question for q in load_questions(ROOT / "tests" / "data" / "seed_questions.jsonl")
    ]
    out = {"machine": machine(), "index": str(settings.index_dir), "runs": []}
    for workers in (1, 2):
        print(f"--workers {workers}", flush=True)
        r = bench_http(settings.index_dir, args.seconds, [16], questions, workers, ("search",))
        out["runs"].append({"workers": workers, **r["search"][0]})
    path = ROOT / "bench" / "results" / "workers.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
