"""Concurrent single-query encodings coalesce into batches; each caller gets its own row."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qa.batching import Coalescer


def test_one_caller_runs_alone_at_once() -> None:
    c = Coalescer(lambda texts: [t.upper() for t in texts])
    assert c("abc") == "ABC"
    assert c.batches == [1]


def test_concurrent_callers_share_batches_and_get_their_own_results() -> None:
    calls: list[list[str]] = []

    def slow(texts):
        calls.append(list(texts))
        time.sleep(0.02)
        return [f"v:{t}" for t in texts]

    c = Coalescer(slow, max_batch=8)
    texts = [f"q{i}" for i in range(40)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(c, texts))
    assert results == [f"v:{t}" for t in texts]
    assert sorted(t for call in calls for t in call) == sorted(texts)  # each encoded once
    assert max(len(call) for call in calls) > 1  # some were batched
    assert all(len(call) <= 8 for call in calls)
    assert len(calls) < len(texts)


def test_an_error_reaches_every_caller_of_its_batch_and_no_other() -> None:
    gate = threading.Event()

    def fn(texts):
        if "first" in texts:
            gate.wait(1)
            return ["ok"]
        if "bad" in texts:
            raise ValueError("broken input")
        return ["fine" for _ in texts]

    c = Coalescer(fn)
    with ThreadPoolExecutor(max_workers=3) as pool:
        first = pool.submit(c, "first")
        time.sleep(0.05)  # "first" is running; the next two queue and run as one batch
        bad = pool.submit(c, "bad")
        other = pool.submit(c, "other")
        time.sleep(0.05)
        gate.set()
        assert first.result(timeout=5) == "ok"
        with pytest.raises(ValueError, match="broken input"):
            bad.result(timeout=5)
        with pytest.raises(ValueError, match="broken input"):
            other.result(timeout=5)
    assert c("later") == "fine"  # the coalescer is usable after a failed batch


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Coalescer(lambda t: t, max_batch=0)


def test_no_caller_is_left_waiting_when_the_queue_outgrows_a_batch() -> None:
    """With batches of two and 24 threads the queue is always longer than a batch: whoever
    finishes a batch must hand the rest on, or a caller is left hanging."""

    def fn(texts):
        time.sleep(0.001)
        return [t * 2 for t in texts]

    c = Coalescer(fn, max_batch=2)
    with ThreadPoolExecutor(max_workers=24) as pool:
        futures = [pool.submit(c, i) for i in range(600)]
        assert [f.result(timeout=30) for f in futures] == [i * 2 for i in range(600)]
    assert max(c.batches) == 2
