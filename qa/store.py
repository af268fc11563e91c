"""The index on disk: versioned folders, a manifest, atomic swap, and checked loading.

Layout::

    index_dir/CURRENT          name of the live version, replaced atomically by rename
    index_dir/v-<time>-<rand>/ manifest.json, articles.jsonl, passages.jsonl,
                               vectors.npy (float16 embedding cache), dense.faiss, bm25/

A new version is written in a hidden temporary folder, fsynced, renamed into place, and only then
named in CURRENT, so a crash at any point leaves the previous version whole and live.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.dense import DenseIndex
from qa.errors import IndexError_
from qa.lexical import LexicalIndex, Tokenizer
from qa.models import Article, Passage

SCHEMA_VERSION = 1
CURRENT = "CURRENT"
# Files up to this size are checksummed at load; larger ones are checked by size only, so a
# million-passage index still loads in seconds.
VERIFY_BYTES = 64 * 1024 * 1024


@dataclass
class Index:
    """Everything a search needs, in memory (or memory-mapped)."""

    articles: dict[str, Article]
    passages: list[Passage]
    hashes: list[str]
    vectors: np.ndarray  # float16 rows, same order as passages
    dense: DenseIndex
    lexical: LexicalIndex
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def model(self) -> str:
        return str(self.manifest.get("model", ""))


def corpus_checksum(articles: dict[str, Article]) -> str:
    h = hashlib.sha256()
    for aid in sorted(articles):
        h.update(f"{aid}:{articles[aid].checksum}\n".encode())
    return h.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_tree(root: Path) -> None:
    for p in sorted(root.rglob("*"), key=lambda x: len(x.parts), reverse=True):
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def current_version(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def save(index: Index, index_dir: Path, manifest: dict[str, Any], keep: int = 2) -> Path:
    """Write a new version beside the live one and swap it in; returns the version folder."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    _write_jsonl(tmp / "articles.jsonl", [a.to_dict() for a in index.articles.values()])
    _write_jsonl(
        tmp / "passages.jsonl",
        [{**p.to_dict(), "hash": h} for p, h in zip(index.passages, index.hashes, strict=True)],
    )
    np.save(tmp / "vectors.npy", np.asarray(index.vectors, dtype=np.float16))
    index.dense.save(tmp / "dense.faiss")
    (tmp / "bm25").mkdir()
    index.lexical.save(tmp / "bm25")
    files = {}
    for p in sorted(tmp.rglob("*")):
        if p.is_file():
            size = p.stat().st_size
            entry: dict[str, Any] = {"bytes": size}
            if size <= VERIFY_BYTES:
                entry["sha256"] = _sha256(p)
            files[str(p.relative_to(tmp))] = entry
    manifest = {**manifest, "schema_version": SCHEMA_VERSION, "files": files}
    (tmp / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    _fsync_tree(tmp)
    final = index_dir / name
    os.rename(tmp, final)
    pointer_tmp = index_dir / f".{CURRENT}.{name}"
    pointer_tmp.write_text(name + "\n", encoding="utf-8")
    with pointer_tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(pointer_tmp, index_dir / CURRENT)
    fd = os.open(index_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    _collect_garbage(index_dir, keep)
    return final


def _collect_garbage(index_dir: Path, keep: int) -> None:
    """Remove unfinished temporary folders and all but the newest ``keep`` versions."""
    live = current_version(index_dir)
    for p in index_dir.glob(".tmp-v-*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in index_dir.glob(f".{CURRENT}.v-*"):
        p.unlink(missing_ok=True)
    versions = sorted(p for p in index_dir.glob("v-*") if p.is_dir())
    for p in versions[:-keep] if keep > 0 else versions:
        if p != live:
            shutil.rmtree(p, ignore_errors=True)


def read_manifest(index_dir: Path) -> tuple[Path, dict[str, Any]]:
    version = current_version(index_dir)
    if version is None:
        raise IndexError_(f"no index in {index_dir}: build one with `qa index`")
    path = version / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexError_(
            f"{path} is missing: the index is damaged; rebuild it with `qa index --rebuild`"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise IndexError_(
            f"{path} is not valid JSON: the index is damaged; rebuild it with `qa index --rebuild`"
        ) from None
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise IndexError_(
            f"{path}: index schema {manifest.get('schema_version')} is not {SCHEMA_VERSION}; "
            "rebuild it with `qa index --rebuild`"
        )
    return version, manifest


def verify(version: Path, manifest: dict[str, Any]) -> None:
    """Every file the manifest lists exists with its size (and checksum where recorded)."""
    for rel, entry in manifest.get("files", {}).items():
        p = version / rel
        if not p.exists():
            raise IndexError_(
                f"{p} is missing: the index is damaged; rebuild it with `qa index --rebuild`"
            )
        size = p.stat().st_size
        if size != entry["bytes"]:
            raise IndexError_(
                f"{p} is {size} bytes, the manifest says {entry['bytes']}: the file is truncated or "
                "damaged; rebuild the index with `qa index --rebuild`"
            )
        if "sha256" in entry and _sha256(p) != entry["sha256"]:
            raise IndexError_(
                f"{p} fails its checksum: the file is damaged; rebuild the index with `qa index --rebuild`"
            )


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load(
    index_dir: Path,
    tokenizer: Tokenizer,
    model: str | None = None,
    dim: int | None = None,
    mmap: bool = True,
) -> Index:
    """Load the live version, checking the manifest against the configured model and dimension."""
    version, manifest = read_manifest(index_dir)
    if model is not None and manifest.get("model") != model:
        raise IndexError_(
            f"{version / 'manifest.json'}: index built with model {manifest.get('model')!r}, "
            f"but the configured model is {model!r}; re-index with `qa index --rebuild` or set QA_EMBEDDING_MODEL"
        )
    if dim is not None and manifest.get("dim") != dim:
        raise IndexError_(
            f"{version / 'manifest.json'}: index has dimension {manifest.get('dim')}, the model gives {dim}; "
            "re-index with `qa index --rebuild`"
        )
    verify(version, manifest)
    try:
        articles = {a["id"]: Article(**a) for a in _read_jsonl(version / "articles.jsonl")}
        rows = _read_jsonl(version / "passages.jsonl")
        hashes = [r.pop("hash") for r in rows]
        passages = [Passage(**r) for r in rows]
        vectors = np.load(version / "vectors.npy", mmap_mode="r" if mmap else None)
        dense = DenseIndex.load(
            version / "dense.faiss",
            manifest["index_type"],
            mmap=mmap and manifest["index_type"] == "flat",
        )
        lexical = LexicalIndex.load(version / "bm25", len(passages), tokenizer, mmap=mmap)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise IndexError_(
            f"{version}: cannot read the index ({type(e).__name__}: {e}); rebuild it with `qa index --rebuild`"
        ) from e
    if (
        len(passages) != manifest.get("passages")
        or dense.size != len(passages)
        or len(vectors) != len(passages)
    ):
        raise IndexError_(
            f"{version}: passage counts disagree between files; rebuild the index with `qa index --rebuild`"
        )
    return Index(articles, passages, hashes, vectors, dense, lexical, manifest, version)
