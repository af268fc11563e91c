"""Reader recipes side by side: `python -m bench.reader_sweep run [--device cuda]`, then `plot`.

``run`` starts one ``qa train-reader`` per recipe in ``RECIPES`` at once (meant for a GPU, where
eight 3-epoch runs take 5 minutes together; on two CPU cores one takes 83), each into its own
folder under ``--runs``, and then summarizes them. ``summarize`` reads every run's meta.json (its
validation history) into bench/results/reader_sweep.json; ``plot`` draws validation F1 against
epochs for each recipe, beside the shipped bundle's selected validation reading. ``soup NAMES``
averages the named runs' selected weights and reads validation with the average.

Validation is 300 questions, so one run's F1 has a standard error of about 2.3 points: recipes
that differ by less than that are not told apart by one run each (the seeds show the spread).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
SHIPPED = Path("embeddings/reader/meta.json")

# name -> the flags that make the recipe (the shipped one is "s13")
RECIPES: dict[str, list[str]] = {
    "s13": ["--seed", "13"],
    "s7": ["--seed", "7"],
    "s21": ["--seed", "21"],
    "d2": ["--seed", "13", "--dropout", "0.2"],
    "fe": ["--seed", "13", "--freeze-embeddings"],
    "d2fe": ["--seed", "13", "--dropout", "0.2", "--freeze-embeddings"],
    "lr1e4e4": ["--seed", "13", "--lr", "1e-4", "--epochs", "4"],
    "d2lr1e4e5": ["--seed", "13", "--dropout", "0.2", "--lr", "1e-4", "--epochs", "5"],
}


def run(runs: Path, device: str, budget: float, extra: list[str]) -> None:
    runs.mkdir(parents=True, exist_ok=True)
    procs = {}
    for name, flags in RECIPES.items():
        cmd = [
            sys.executable,
            "-m",
            "qa.cli",
            "train-reader",
            "--device",
            device,
            "--out",
            str(runs / name / "out"),
            "--work",
            str(runs / name / "work"),
            "--budget-minutes",
            str(budget),
            *flags,
            *extra,
        ]
        log = (runs / f"{name}.log").open("w")
        procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    began = time.monotonic()
    while any(p.poll() is None for p in procs.values()):
        time.sleep(15)
        alive = [n for n, p in procs.items() if p.poll() is None]
        print(f"{time.monotonic() - began:.0f} s: running {', '.join(alive)}", flush=True)
    for name, p in procs.items():
        if p.returncode:
            print(f"{name} failed (exit {p.returncode}): see {runs / name}.log", flush=True)


def summarize(runs: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, flags in RECIPES.items():
        meta_file = runs / name / "out" / "meta.json"
        if not meta_file.is_file():
            continue
        meta = json.loads(meta_file.read_text("utf-8"))
        out[name] = {
            "flags": " ".join(flags),
            "validation": meta["validation"],
            "history": meta["history"],
            "minutes": meta["trained"]["minutes"],
            "epochs": meta["trained"]["epochs"],
            "machine": meta["trained"]["machine"],
            "temperature": meta["temperature"],
        }
    return out


def soup(runs: Path, names: list[str]) -> dict[str, Any]:
    """Average the runs' selected weights (a uniform "model soup": all of them, and the three
    best by their own validation) and read validation with each average."""
    import torch
    from transformers import AutoModel

    from qa.embed import resolve_model
    from qa.reader.model import PairEncoder
    from qa.reader.net import ReaderNet
    from qa.reader.train import (
        TorchReader,
        TrainConfig,
        pick_device,
        prepare,
        validation_reading,
    )

    prep = prepare(TrainConfig(seed=13))
    device = pick_device("auto")
    base = resolve_model("m3e-small")
    net = ReaderNet(AutoModel.from_pretrained(base)).float().to(device)
    reader = TorchReader(net, PairEncoder(Path(base) / "tokenizer.json", 128), False)
    states = {n: torch.load(runs / n / "work" / "best.pt", map_location=device) for n in names}
    own = {
        n: json.loads((runs / n / "out" / "meta.json").read_text("utf-8"))["validation"]["score"]
        for n in names
    }
    ranked = sorted(names, key=lambda n: -own[n])
    results: dict[str, Any] = {}
    for label, members in (
        ("uniform_all", names),
        ("uniform_top3", ranked[:3]),
        ("top1", ranked[:1]),
    ):
        net.load_state_dict(
            {k: sum(states[m][k].float() for m in members) / len(members) for k in states[names[0]]}
        )
        results[label] = {
            "members": members,
            **validation_reading(reader, prep.val_items, prep.val_ex),
        }
        print(label, json.dumps(results[label]), flush=True)
    return results


def plot(sweep: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, side) = plt.subplots(
        1, 2, figsize=(10, 4.4), dpi=120, gridspec_kw={"width_ratios": [2.3, 1]}
    )
    for name, r in sweep["runs"].items():
        xs = [h["epoch"] for h in r["history"]]
        ys = [h["val_f1"] for h in r["history"]]
        style = "-" if name.startswith("s") and name[1:].isdigit() else "--"
        ax.plot(xs, ys, style, marker="o", ms=3, lw=1.2, label=f"{name}: {r['flags']}")
    shipped = sweep.get("shipped")
    if shipped:
        ax.axhline(shipped["val_f1"], color="black", ls=":", lw=1.2)
        ax.annotate(
            f"shipped bundle (CPU run), selected: {shipped['val_f1']}",
            (0.5, shipped["val_f1"] + 0.4),
            fontsize=8,
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation span F1 (300 questions)")
    ax.set_ylim(35, 78)
    ax.set_title("Reader recipes on one GPU (solid: the shipped recipe, three seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    # each seed's selected validation reading, the shipped bundle's, and the weight averages
    points = [("recipes", r["validation"]["val_f1"]) for r in sweep["runs"].values()]
    points += [
        ("seeds", r["validation"]["val_f1"])
        for r in sweep.get("seeds", {}).get("runs", {}).values()
    ]
    points += [
        ("soups", r["val_f1"])
        for k, r in sweep.get("soups", {}).get("results", {}).items()
        if k != "top1"
    ]
    columns = ["recipes", "seeds", "soups"]
    for i, col in enumerate(columns):
        ys = [y for c, y in points if c == col]
        side.scatter([i] * len(ys), ys, s=18, alpha=0.8)
    if shipped:
        side.axhline(shipped["val_f1"], color="black", ls=":", lw=1.2)
    side.set_xticks(range(len(columns)), ["8 recipes", "6 more seeds", "averaged"], fontsize=8)
    side.set_ylim(60, 78)
    side.set_xlim(-0.6, len(columns) - 0.4)
    side.set_title("selected validation F1", fontsize=10)
    side.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="train every recipe at once, then summarize")
    r.add_argument("--runs", type=Path, default=Path("embeddings/reader-sweep"))
    r.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    r.add_argument("--budget-minutes", type=float, default=20.0)
    s = sub.add_parser("summarize", help="the runs' validation histories into the results")
    s.add_argument("--runs", type=Path, default=Path("embeddings/reader-sweep"))
    sp = sub.add_parser("soup", help="average the runs' weights and read validation with them")
    sp.add_argument("--runs", type=Path, default=Path("embeddings/reader-sweep"))
    sp.add_argument("names", nargs="+", help="run folders under --runs")
    sub.add_parser("plot", help="bench/results/reader_sweep.png from reader_sweep.json")
    args, extra = ap.parse_known_args(argv)
    result = RESULTS / "reader_sweep.json"
    if args.cmd == "run":
        run(args.runs, args.device, args.budget_minutes, extra)
    if args.cmd in ("run", "summarize"):
        sweep: dict[str, Any] = {"runs": summarize(args.runs)}
        if SHIPPED.is_file():
            sweep["shipped"] = json.loads(SHIPPED.read_text("utf-8"))["validation"]
        result.write_text(json.dumps(sweep, ensure_ascii=False, indent=1) + "\n", "utf-8")
        for name, row in sweep["runs"].items():
            v = row["validation"]
            print(f"{name:10} F1 {v['val_f1']:6.2f} EM {v['val_em']:6.2f} AUC {v['auc_all']:.4f}")
    if args.cmd == "soup":
        sweep = json.loads(result.read_text("utf-8"))
        sweep["soups"] = {"results": soup(args.runs, args.names)}
        result.write_text(json.dumps(sweep, ensure_ascii=False, indent=1) + "\n", "utf-8")
    sweep = json.loads(result.read_text("utf-8"))
    plot(sweep, RESULTS / "reader_sweep.png")
    print(f"wrote {result} and {RESULTS / 'reader_sweep.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
