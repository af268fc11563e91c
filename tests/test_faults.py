"""Disk faults while `qa index` writes: the live index stays whole and served, the error names the
disk and what to free, and no half-written version is left behind."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ARTICLES, FakeEmbedder

from qa import store
from qa.dense import DenseIndex
from qa.errors import IndexError_
from qa.indexer import build
from qa.lexical import Postings
from qa.search import Searcher
from qa.tokens import tokenize

EDITED = replace(ARTICLES[0], text=ARTICLES[0].text + "公寓还配有共享厨房。")


def failing(code: int) -> Any:
    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(code, os.strerror(code))

    return fail


# every write step of a new version, in the order store.save takes them
STEPS = [
    (store.os, "link"),  # an edit shares the unchanged segments by hard links
    (store, "_write_lines"),
    (np, "savez"),
    (np, "save"),
    (DenseIndex, "save"),
    (Postings, "save"),
    (Path, "write_text"),
    (store, "_fsync_tree"),
    (store.os, "rename"),
    (store.os, "fsync"),
    (store.os, "replace"),
]


@pytest.fixture
def live(tmp_path: Path) -> Path:
    d = tmp_path / "index"
    build(ARTICLES, d, FakeEmbedder(), progress=False)
    return d


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("target, name", STEPS, ids=[f"{t.__name__}.{n}" for t, n in STEPS])
@pytest.mark.parametrize("write", ["segment", "compaction"])
def test_fault_at_every_write_step(live: Path, monkeypatch, target, name, code, write) -> None:
    from qa.stores import files

    if write == "compaction" and name == "link":
        pytest.skip("a compaction links nothing")
    # the seed-sized corpus compacts on every edit; a share of 1 makes the edit a segment
    monkeypatch.setattr(files, "COMPACT_ABOVE", 1.0 if write == "segment" else 0.0)
    before = store.current_version(live)
    searcher = Searcher.open(live, FakeEmbedder())
    monkeypatch.setattr(target, name, failing(code))
    with pytest.raises(IndexError_) as err:
        build([EDITED], live, FakeEmbedder(), progress=False)
    monkeypatch.undo()
    message = str(err.value)
    assert str(live) in message and "untouched" in message
    if code == errno.ENOSPC:
        assert "no space left" in message and "free space" in message and "MB free" in message
    else:
        assert "I/O error" in message
    # the live index is whole and still served, by the running searcher and by a fresh load
    assert store.current_version(live) == before
    assert searcher.search("骑手公寓月租金", top_k=1)[0].article.id == ARTICLES[0].id
    assert len(store.load(live, tokenize).articles) == len(ARTICLES)
    assert not list(live.glob(".tmp-*")) and not list(live.glob(".CURRENT.*"))
    # and the next run, with the disk back, writes the edit
    report = build([EDITED], live, FakeEmbedder(), progress=False)
    assert report.written and store.current_version(live) != before


def test_half_written_version_is_removed_by_the_next_run(live: Path) -> None:
    leftover = live / ".tmp-v-20200101T000000-abcdef"
    leftover.mkdir()
    (leftover / "passages.jsonl").write_text("partial", encoding="utf-8")
    build([EDITED], live, FakeEmbedder(), progress=False)
    assert not leftover.exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 1 MB tmpfs (needs root and mount; skipped with the reason otherwise)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root and mount(8)")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        # lazily: the searcher of the test may still map files from it
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_real_full_disk(small_disk: Path) -> None:
    d = small_disk / "index"
    emb = FakeEmbedder()
    build(ARTICLES, d, emb, progress=False)
    before = store.current_version(d)
    filler = small_disk / "filler"
    free = shutil.disk_usage(small_disk).free
    filler.write_bytes(b"\0" * max(0, free - 4096))  # leave almost nothing
    with pytest.raises(IndexError_, match="no space left on the disk holding"):
        build([EDITED], d, emb, progress=False)
    assert store.current_version(d) == before
    assert Searcher.open(d, emb).search("骑手公寓月租金", top_k=1)[0].article.id == ARTICLES[0].id
    assert not list(d.glob(".tmp-*"))
    filler.unlink()
    assert build([EDITED], d, emb, progress=False).written
