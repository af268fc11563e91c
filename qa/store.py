"""The index on disk: versioned folders, a manifest, atomic swap, and checked loading.

Layout::

    index_dir/CURRENT          name of the live version, replaced atomically by rename
    index_dir/v-<time>-<rand>/ manifest.json, articles.jsonl, passages.jsonl,
                               vectors.npy (float16 embedding cache), dense.faiss, bm25/,
                               rows.npz (line offsets of the two .jsonl files, article ids)

A new version is written in a hidden temporary folder, fsynced, renamed into place, and only then
named in CURRENT, so a crash at any point leaves the previous version whole and live.

Loading memory-maps what it can: the article and passage tables are read row by row, on demand,
through the line offsets in rows.npz, so a million passages load in well under a second (parsing
every JSON line up front took twenty).
"""

from __future__ import annotations

import errno
import hashlib
import json
import mmap
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, overload

import numpy as np

from qa.dense import DenseIndex
from qa.errors import IndexError_
from qa.lexical import LexicalIndex, Tokenizer
from qa.models import Article, Passage

SCHEMA_VERSION = 1
T = TypeVar("T")
CURRENT = "CURRENT"
# Files up to this size are checksummed at load; larger ones are checked by size only, so a
# million-passage index still loads in seconds.
VERIFY_BYTES = 64 * 1024 * 1024


@dataclass
class Index:
    """Everything a search needs, in memory (or memory-mapped)."""

    articles: Mapping[str, Article]
    passages: Sequence[Passage]
    hashes: Sequence[str]
    vectors: np.ndarray  # float16 rows, same order as passages
    dense: DenseIndex
    lexical: LexicalIndex
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    # Filter columns: each passage's article (a row of article_ids) and each article's source.
    # Loaded from rows.npz, or computed on the first filtered search.
    columns: tuple[np.ndarray, list[str], np.ndarray] | None = None
    # BM25 tokens of each passage, kept so an edit re-tokenizes only what changed (tokens.jsonl)
    tokens: Sequence[list[str]] | None = None
    # The multilingual signal (``qa.multilingual``): a second set of unit vectors, one per passage,
    # from another model, with the content hash each was cached under; None when not built.
    ml_vectors: np.ndarray | None = None
    ml_hashes: Sequence[str] | None = None
    _positions: dict[str, int] | None = field(default=None, repr=False)

    @property
    def model(self) -> str:
        return str(self.manifest.get("model", ""))

    @property
    def ml_model(self) -> str:
        """The multilingual model of the second dense field ("" without one)."""
        return str(self.manifest.get("ml_model", "")) if self.ml_vectors is not None else ""

    def _columns(self) -> tuple[np.ndarray, list[str], np.ndarray]:
        if self.columns is None:
            self.columns = filter_columns(self.articles, self.passages)
        return self.columns

    def rows_of(
        self, sources: Iterable[str] | None = None, article_ids: Iterable[str] | None = None
    ) -> np.ndarray:
        """Rows of the passages that belong to any of the sources or articles, ascending."""
        passage_article, ids, article_source = self._columns()
        wanted = np.zeros(len(ids), dtype=bool)
        if sources is not None:
            wanted |= np.isin(article_source, np.array(list(sources), dtype=np.str_))
        if article_ids is not None:
            if self._positions is None:  # article id -> row of ids, built once per index
                self._positions = {a: i for i, a in enumerate(ids)}
            position = self._positions
            hits = [position[a] for a in article_ids if a in position]
            wanted[np.array(hits, dtype=np.int64)] = True
        return np.flatnonzero(wanted[passage_article]).astype(np.int64)


def filter_columns(
    articles: Mapping[str, Article], passages: Sequence[Passage]
) -> tuple[np.ndarray, list[str], np.ndarray]:
    ids = list(articles)
    position = {a: i for i, a in enumerate(ids)}
    passage_article = np.fromiter((position[p.article_id] for p in passages), dtype=np.int32)
    sources = np.array([articles[a].source for a in ids], dtype=np.str_)
    return passage_article, ids, sources


class _Lines:
    """The lines of a JSON-lines file, memory-mapped and parsed on demand."""

    def __init__(self, path: Path, offsets: np.ndarray | None = None) -> None:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            self._mm: mmap.mmap | bytes = (
                mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
            )
        if offsets is None:  # an index written before rows.npz existed: find the line ends
            ends = np.flatnonzero(np.frombuffer(self._mm, dtype=np.uint8) == 10) + 1
            offsets = np.concatenate([[0], ends]).astype(np.int64)
        if len(offsets) == 0 or offsets[-1] != size:
            raise ValueError(f"{path.name}: line offsets do not match the file")
        self._offsets = offsets
        self.row = lru_cache(maxsize=8192)(self._row)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def get(self, i: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        return self.row(i % n)

    def _row(self, i: int) -> dict[str, Any]:
        row: dict[str, Any] = json.loads(self._mm[self._offsets[i] : self._offsets[i + 1]])
        return row


class _LazyColumn(Sequence[T]):
    """A read-only sequence that builds each item from its JSON line when asked."""

    def __init__(self, lines: _Lines, make: Callable[[dict[str, Any]], T]) -> None:
        self._lines = lines
        self._make = make

    def __len__(self) -> int:
        return len(self._lines)

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self._make(self._lines.get(i))

    def __iter__(self) -> Iterator[T]:
        return (self[i] for i in range(len(self)))


def _passage(row: dict[str, Any]) -> Passage:
    return Passage(**{k: v for k, v in row.items() if k != "hash"})


def _hash(row: dict[str, Any]) -> str:
    return str(row["hash"])


class LazyArticles(Mapping[str, Article]):
    def __init__(self, lines: _Lines, ids: list[str] | None = None) -> None:
        self._lines = lines
        if ids is None:
            ids = [str(lines.row(i)["id"]) for i in range(len(lines))]
        if len(ids) != len(lines):
            raise ValueError("articles.jsonl and its id list disagree")
        self._rows = {aid: i for i, aid in enumerate(ids)}

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __getitem__(self, key: str) -> Article:
        row = self._lines.row(self._rows[key])
        return Article(**row)


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


def _write_jsonl(path: Path, rows: Iterator[dict[str, Any]]) -> np.ndarray:
    """Write one JSON object per line; returns the byte offset of each line and of the end."""
    offsets = [0]
    with path.open("wb") as f:
        for row in rows:
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
            f.write(line)
            offsets.append(offsets[-1] + len(line))
    return np.array(offsets, dtype=np.int64)


def current_version(index_dir: Path) -> Path | None:
    pointer = index_dir / CURRENT
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    return index_dir / name if name else None


def _disk_error(e: OSError, index_dir: Path, tmp: Path) -> IndexError_:
    """A failed write as one clear error: which disk, what happened, what to free."""
    live = current_version(index_dir)
    kept = f"the live version {live.name} is untouched" if live else "no index was live"
    try:
        usage = shutil.disk_usage(index_dir)
        free = f"{usage.free / 2**20:,.0f} MB free of {usage.total / 2**20:,.0f} MB"
    except OSError:
        free = "free space unknown"
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        what = (
            f"no space left on the disk holding {index_dir} ({free}); free space there "
            "(old files, or remove older index versions) or set QA_INDEX_DIR to another disk"
        )
    elif e.errno == errno.EIO:
        what = f"an I/O error on the disk holding {index_dir} ({free}); check the disk"
    else:
        what = f"{e.strerror or e} on {index_dir} ({free})"
    return IndexError_(f"writing the new index version failed: {what}; {kept}")


def save(index: Index, index_dir: Path, manifest: dict[str, Any], keep: int = 2) -> Path:
    """Write a new version beside the live one and swap it in; returns the version folder.

    A failure at any step (a full disk, an I/O error) leaves the live version as it was and the
    half-written one is removed at once (or by the next run, if removing fails too)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = index_dir / f".tmp-{name}"
    try:
        return _save(index, index_dir, manifest, keep, name, tmp)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        (index_dir / f".{CURRENT}.{name}").unlink(missing_ok=True)
        raise _disk_error(e, index_dir, tmp) from None


def _save(
    index: Index, index_dir: Path, manifest: dict[str, Any], keep: int, name: str, tmp: Path
) -> Path:
    tmp.mkdir()
    passage_article, ids, article_source = index._columns()
    article_rows = _write_jsonl(tmp / "articles.jsonl", (index.articles[a].to_dict() for a in ids))
    passage_rows = _write_jsonl(
        tmp / "passages.jsonl",
        ({**p.to_dict(), "hash": h} for p, h in zip(index.passages, index.hashes, strict=True)),
    )
    np.savez(
        tmp / "rows.npz",
        articles=article_rows,
        passages=passage_rows,
        article_ids=np.array(ids, dtype=np.str_),
        article_source=article_source,
        passage_article=passage_article,
    )
    np.save(tmp / "vectors.npy", np.asarray(index.vectors, dtype=np.float16))
    if index.ml_vectors is not None and index.ml_hashes is not None:
        np.save(tmp / "ml_vectors.npy", np.asarray(index.ml_vectors, dtype=np.float16))
        np.save(tmp / "ml_hashes.npy", np.array(index.ml_hashes, dtype="S40"))
    if index.tokens is not None:
        with (tmp / "tokens.jsonl").open("w", encoding="utf-8") as f:
            for toks in index.tokens:
                f.write(json.dumps(toks, ensure_ascii=False, separators=(",", ":")) + "\n")
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


def cached_tokens(index: Index, fingerprint: str) -> dict[str, list[str]]:
    """Tokens of the passages of a loaded version by content hash, when they were made by the same
    tokenizer (``qa.tokens.fingerprint``); empty otherwise."""
    path = index.path / "tokens.jsonl" if index.path else None
    if path is None or not path.is_file() or index.manifest.get("tokenizer") != fingerprint:
        return {}
    out: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        for h, line in zip(index.hashes, f, strict=False):
            out[h] = json.loads(line)
    return out


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


def _tables(
    version: Path,
) -> tuple[
    LazyArticles,
    _LazyColumn[Passage],
    _LazyColumn[str],
    tuple[np.ndarray, list[str], np.ndarray] | None,
]:
    rows = version / "rows.npz"
    columns = None
    a_off = p_off = None
    ids = None
    if rows.exists():
        with np.load(rows) as z:
            a_off, p_off = z["articles"], z["passages"]
            ids = z["article_ids"].tolist()
            columns = (z["passage_article"], ids, z["article_source"])
    articles = _Lines(version / "articles.jsonl", a_off)
    passages = _Lines(version / "passages.jsonl", p_off)
    return (
        LazyArticles(articles, ids),
        _LazyColumn(passages, _passage),
        _LazyColumn(passages, _hash),
        columns,
    )


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
    try:
        verify(version, manifest)
    except OSError as e:
        raise IndexError_(f"{version}: cannot read the index ({e}); check the disk") from None
    try:
        articles, passages, hashes, columns = _tables(version)
        vectors = np.load(version / "vectors.npy", mmap_mode="r" if mmap else None)
        dense = DenseIndex.load(
            version / "dense.faiss",
            manifest["index_type"],
            mmap=mmap,
        )
        lexical = LexicalIndex.load(version / "bm25", len(passages), tokenizer, mmap=mmap)
        ml_vectors = ml_hashes = None
        if manifest.get("ml_model"):
            ml_vectors = np.load(version / "ml_vectors.npy", mmap_mode="r" if mmap else None)
            ml_hashes = [h.decode() for h in np.load(version / "ml_hashes.npy")]
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise IndexError_(
            f"{version}: cannot read the index ({type(e).__name__}: {e}); rebuild it with `qa index --rebuild`"
        ) from e
    if (
        len(passages) != manifest.get("passages")
        or dense.size - int(manifest.get("dense_retired", 0)) != len(passages)
        or len(vectors) != len(passages)
        or (ml_vectors is not None and (len(ml_vectors) != len(passages) or ml_hashes is None))
    ):
        raise IndexError_(
            f"{version}: passage counts disagree between files; rebuild the index with `qa index --rebuild`"
        )
    return Index(
        articles,
        passages,
        hashes,
        vectors,
        dense,
        lexical,
        manifest,
        version,
        columns,
        ml_vectors=ml_vectors,
        ml_hashes=ml_hashes,
    )
