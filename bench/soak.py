"""Soak and limits, against a real `qa serve` on the seed index (bench/results/soak.json).

1. Soak: concurrency 16 for ``--seconds`` mixing search, chat, streamed chat and clients that
   disconnect mid-stream, with Chinese and English questions, on a server without limits (so
   every error is a real one); statuses, p99 by kind, RSS after a warm-up (``--warmup``
   seconds of the same load: caches fill) and at the end.
2. Limits: a second server with a chat limit of 5/s per key; key k1 sends at ten times its
   limit (50/s), then as fast as the server answers, while key k2 asks at a normal pace; k1
   gets 429s, k2's p50 is compared with its unloaded p50.

    python -m bench.soak [--seconds 600]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.run import pct
from qa.config import ROOT, Settings
from qa.evaluate import load_questions

OUT = ROOT / "bench" / "results" / "soak.json"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).json().get("status") == "ok":
                return proc, base
        except (httpx.HTTPError, ValueError):
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("qa serve did not start")


async def soak(base: str, questions: list[str], seconds: float) -> dict[str, Any]:
    lat: dict[str, list[float]] = {"search": [], "chat": [], "stream": [], "disconnect": []}
    statuses: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": "Bearer soak"}
    async with httpx.AsyncClient(timeout=60, headers=headers) as client:

        async def one(k: int) -> None:
            rng = random.Random(k)
            while time.perf_counter() < deadline:
                q = rng.choice(questions)
                kind = rng.choice(["search", "search", "chat", "stream", "disconnect"])
                t = time.perf_counter()
                try:
                    if kind == "search":
                        r = await client.post(f"{base}/api/search", json={"query": q})
                        code = r.status_code
                    elif kind == "chat":
                        r = await client.post(
                            f"{base}/api/chat", json={"messages": [{"role": "user", "content": q}]}
                        )
                        code = r.status_code
                    else:
                        body = {"messages": [{"role": "user", "content": q}], "stream": True}
                        async with client.stream(
                            "POST", f"{base}/v1/chat/completions", json=body
                        ) as r:
                            code = r.status_code
                            async for line in r.aiter_lines():
                                if kind == "disconnect" and line.startswith("data: "):
                                    break  # leave mid-stream
                except httpx.HTTPError:
                    code = 0
                lat[kind].append(time.perf_counter() - t)
                statuses[str(code)] = statuses.get(str(code), 0) + 1

        await asyncio.gather(*(one(k) for k in range(16)))
    return {"statuses": statuses, "latency": {k: pct(v) for k, v in lat.items() if v}}


async def limits(
    base: str, questions: list[str], seconds: float, flood_rate: float | None
) -> dict[str, Any]:
    """k2 asks twice a second, alone and then while k1 sends chat requests over its limit with
    four connections: at ``flood_rate`` requests a second in all, or as fast as the server
    answers (None; on two cores the flooding client and the 429s it draws then take the CPU)."""
    body = {"messages": [{"role": "user", "content": questions[0]}]}

    async def paced(client: httpx.AsyncClient, until: float) -> list[float]:
        out = []
        while time.perf_counter() < until:
            t = time.perf_counter()
            r = await client.post(f"{base}/api/chat", json=body)
            if r.status_code == 200:
                out.append(time.perf_counter() - t)
            await asyncio.sleep(0.5)
        return out

    async with (
        httpx.AsyncClient(timeout=60, headers={"Authorization": "Bearer k2"}) as k2,
        httpx.AsyncClient(timeout=60, headers={"Authorization": "Bearer k1"}) as k1,
    ):
        alone = await paced(k2, time.perf_counter() + seconds / 2)
        codes: dict[str, int] = {}
        until = time.perf_counter() + seconds / 2

        async def flood() -> None:
            while time.perf_counter() < until:
                t = time.perf_counter()
                r = await k1.post(f"{base}/api/chat", json=body)
                codes[str(r.status_code)] = codes.get(str(r.status_code), 0) + 1
                if flood_rate:
                    await asyncio.sleep(max(0.0, 4 / flood_rate - (time.perf_counter() - t)))

        loaded, *_ = await asyncio.gather(paced(k2, until), *(flood() for _ in range(4)))
    a, b = pct(alone)["p50"], pct(loaded)["p50"]
    return {
        "k1_rate": flood_rate or "unbounded",
        "k1_statuses": codes,
        "k2_p50_alone_ms": round(a, 1),  # pct() gives milliseconds
        "k2_p50_while_k1_floods_ms": round(b, 1),
        "k2_p50_ratio": round(b / a, 2),
    }


async def slow_clients(
    base: str, query: str, clients: int = 50, bound: float = 40
) -> dict[str, Any]:
    """``clients`` connections trickle their headers a byte every half second (slowloris) while a
    normal client searches; when is each dropped, and what does the normal client see."""
    host, port = base.removeprefix("http://").split(":")
    headers = b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"

    async def trickle() -> float:
        t = time.perf_counter()
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in range(int(bound * 2)):
                writer.write(headers[i % len(headers) : i % len(headers) + 1])
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(1), 0.5) == b"":
                        return time.perf_counter() - t  # the server closed it
                except TimeoutError:
                    continue
        except (ConnectionError, OSError):
            return time.perf_counter() - t
        finally:
            writer.close()
        return float("inf")

    async def normal(client: httpx.AsyncClient, n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            r = await client.post(f"{base}/api/search", json={"query": query})
            if r.status_code == 200:
                out.append(time.perf_counter() - t)
            await asyncio.sleep(0.25)
        return out

    async with httpx.AsyncClient(timeout=30) as client:
        alone = await normal(client, 20)
        dropped, during = await asyncio.gather(
            asyncio.gather(*(trickle() for _ in range(clients))), normal(client, 40)
        )
    finite = [d for d in dropped if d != float("inf")]
    return {
        "clients": clients,
        "dropped": len(finite),
        "dropped_after_s_max": round(max(finite), 1) if finite else None,
        "dropped_after_s_p50": round(float(sorted(finite)[len(finite) // 2]), 1)
        if finite
        else None,
        "normal_p50_ms_alone": round(pct(alone)["p50"], 1),
        "normal_p50_ms_during": round(pct(during)["p50"], 1),
    }


def run_soak(mixed: list[str], seconds: float, warmup: float) -> dict[str, Any]:
    proc, base = start({"QA_API_KEYS": "soak"})
    try:
        warm = asyncio.run(soak(base, mixed, warmup))
        start_rss = rss_mb(proc.pid)
        series: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:  # RSS every 15 s: a leak grows steadily, a cache levels off
            t0 = time.perf_counter()
            while not stop.wait(15):
                series.append((round(time.perf_counter() - t0), round(rss_mb(proc.pid), 1)))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        out = asyncio.run(soak(base, mixed, seconds))
        stop.set()
        end_rss = rss_mb(proc.pid)
        mid = next((r for t, r in series if t >= seconds / 2), start_rss)
        return out | {
            "seconds": seconds,
            "warmup_seconds": warmup,
            "warmup_statuses": warm["statuses"],
            "rss_mb_after_warmup": round(start_rss, 1),
            "rss_mb_end": round(end_rss, 1),
            "rss_growth": round(end_rss / start_rss - 1, 3),
            "rss_growth_second_half": round(end_rss / mid - 1, 3),
            "rss_series": series,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_limits(questions: list[str], seconds: float) -> list[dict[str, Any]]:
    proc, base = start({"QA_API_KEYS": "k1,k2", "QA_RATE_LIMIT_CHAT": "5/s"})
    try:
        return [
            asyncio.run(limits(base, questions, seconds, rate))
            for rate in (50.0, None)  # ten times the limit, then as fast as it goes
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_slow_clients(question: str) -> dict[str, Any]:
    proc, base = start({})  # default timeouts (QA_HEADER_TIMEOUT 10 s)
    try:
        return asyncio.run(slow_clients(base, question))
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--warmup", type=float, default=30)
    ap.add_argument("--limit-seconds", type=float, default=40)
    ap.add_argument(
        "--parts",
        default="soak,limits,slow_clients",
        help="which parts to run; the others keep their figures in soak.json",
    )
    args = ap.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    settings = Settings.from_env()
    data = ROOT / "tests" / "data"
    questions = [q.question for q in load_questions(data / "seed_questions.jsonl")]
    english = [
        json.loads(line)["question"]
        for line in (data / "cross_lingual.jsonl").read_text("utf-8").splitlines()
        if line.strip()
    ]
    mixed = questions + english  # about one question in three is not Chinese
    out: dict[str, Any] = json.loads(OUT.read_text("utf-8")) if OUT.exists() else {}
    out["index"] = str(settings.index_dir)
    if "soak" in parts:
        out["soak"] = run_soak(mixed, args.seconds, args.warmup)
        print(json.dumps(out["soak"]), flush=True)
    if "limits" in parts:
        out["limits"] = run_limits(questions, args.limit_seconds)
        print(json.dumps(out["limits"]), flush=True)
    if "slow_clients" in parts:
        out["slow_clients"] = run_slow_clients(questions[0])
        print(json.dumps(out["slow_clients"]), flush=True)
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=2), "utf-8")
    print(f"written {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
