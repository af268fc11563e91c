"""Coalescing concurrent single-query encodings into batches, without waiting for company.

A caller that finds the encoder idle encodes at once, alone; callers that arrive while it is busy
queue up, and the next of them to run takes everyone queued in one batch. One client sees no added
latency; many clients share encoder calls (a batch of eight short queries costs about what two
single ones do on two cores).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False)
class _Request:
    text: str
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    event: threading.Event = field(default_factory=threading.Event)


class Coalescer:
    """Calls ``fn(texts) -> rows`` for many threads, batching the texts that queue while it runs."""

    def __init__(self, fn: Callable[[Sequence[str]], Any], max_batch: int = 32) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._fn = fn
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._busy = False
        self.batches: list[int] = []  # sizes of the last batches run, for tests and benchmarks

    def __call__(self, text: str) -> Any:
        request = _Request(text)
        with self._lock:
            self._queue.append(request)
        while True:
            with self._lock:
                if request.done:
                    break
                if self._busy:
                    batch = None
                else:
                    self._busy = True
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
            if batch is None:
                # another thread is encoding; it wakes us when our request is done or it is idle
                request.event.wait()
                request.event.clear()
                continue
            self._run(batch)
        if request.error is not None:
            raise request.error
        return request.result

    def _run(self, batch: list[_Request]) -> None:
        try:
            rows = self._fn([r.text for r in batch])
            for r, row in zip(batch, rows, strict=True):
                r.result = row
        except BaseException as e:  # every caller of the batch gets the error, not just the runner
            for r in batch:
                r.error = e
        finally:
            with self._lock:
                for r in batch:
                    r.done = True
                self._busy = False
                self.batches = [*self.batches[-99:], len(batch)]
                waiting = list(self._queue)
            for r in batch:
                r.event.set()
            for r in waiting:  # one of them takes the next batch
                r.event.set()
