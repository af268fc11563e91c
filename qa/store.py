"""The index on disk: versioned folders of immutable segments, a manifest, atomic swap, and
checked loading.

Layout::

    index_dir/CURRENT            name of the live version, replaced atomically by rename
    index_dir/v-<time>-<rand>/   manifest.json (its segments, in row order, and every file's size
                                 and checksum), columns.npz (the live articles, where each one's
                                 record is, and the article of every passage row: -1 = deleted)
        seg-<rand>/              articles.jsonl, passages.jsonl, rows.npz (line offsets),
                                 hashes.npy, vectors.npy (float16), dense.faiss, bm25/ (postings),
                                 ml_vectors.npy and ml_hashes.npy (the multilingual field)

Passage rows are numbered across the segments laid end to end and never move while a segment
lives. An edit writes a new version that shares the unchanged segments with the live one (hard
links: no copy, no rewrite), adds one small segment with the passages of the added and edited
articles, and marks the old passages of edited and removed articles deleted in columns.npz. Once
deleted rows and small segments pass a share of the corpus, the next write compacts everything
into one segment (``qa.stores.files``).

A new version is written in a hidden temporary folder, fsynced, renamed into place, and only then
named in CURRENT, so a crash at any point leaves the previous version whole and live.

Loading memory-maps what it can: the article and passage tables are read row by row, on demand,
through the line offsets in rows.npz, so a million passages load in well under a second.
"""

from __future__ import annotations

import bisect
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
from typing import Any, Literal, TypeVar, overload

import numpy as np

from qa.dense import DenseIndex, SegmentedDense
from qa.errors import IndexError_
from qa.lexical import LexicalIndex, Postings, Tokenizer
from qa.models import Article, Passage

SCHEMA_VERSION = 2
T = TypeVar("T")
CURRENT = "CURRENT"
# Files up to this size are checksummed at load; larger ones are checked by size only, so a
# million-passage index still loads in seconds.
VERIFY_BYTES = 64 * 1024 * 1024
HASH_DTYPE = "S40"

Columns = tuple[np.ndarray, list[str], np.ndarray]


@dataclass
class Segment:
    """One immutable folder of a version: passage rows ``start`` to ``start + size - 1``."""

    name: str
    start: int
    article_lines: _Lines
    article_ids: list[str]
    passage_lines: _Lines
    hashes: np.ndarray  # S40, one per row
    vectors: np.ndarray  # float16 rows
    dense: DenseIndex
    postings: Postings
    ml_vectors: np.ndarray | None = None
    ml_hashes: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.passage_lines)


@dataclass
class Index:
    """Everything a search needs, in memory (or memory-mapped).

    Built in memory (``qa.stores.files`` on a full write) it is one segment to be; loaded from
    disk it spans the version's segments, and ``passages``, ``hashes``, ``vectors``, ``dense`` and
    ``lexical`` read across them by row. Rows of deleted passages stay in those sequences; they are
    listed in ``deleted`` and never returned by a search or a filter."""

    articles: Mapping[str, Article]
    passages: Sequence[Passage]
    hashes: Sequence[str]
    vectors: Any  # float16 rows (an array, or a _RowStack over segments), same order as passages
    dense: DenseIndex | SegmentedDense
    lexical: LexicalIndex
    manifest: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None
    # Filter columns: each passage's article (a row of article_ids; -1 when deleted) and each
    # article's source. Loaded from columns.npz, or computed on the first filtered search.
    columns: Columns | None = None
    # The multilingual signal (``qa.multilingual``): a second set of unit vectors, one per passage,
    # from another model, with the content hash each was cached under; None when not built.
    ml_vectors: Any = None
    ml_hashes: Sequence[str] | None = None
    segments: list[Segment] = field(default_factory=list)
    deleted: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    # where each live article's record is: (segment, line), aligned with columns' ids
    article_at: tuple[np.ndarray, np.ndarray] | None = None
    _positions: dict[str, int] | None = field(default=None, repr=False)

    @property
    def model(self) -> str:
        return str(self.manifest.get("model", ""))

    @property
    def ml_model(self) -> str:
        """The multilingual model of the second dense field ("" without one)."""
        return str(self.manifest.get("ml_model", "")) if self.ml_vectors is not None else ""

    @property
    def live(self) -> int:
        """Passages a search can return (rows less deleted ones)."""
        return len(self.passages) - len(self.deleted)

    def hash_array(self) -> np.ndarray:
        """Every row's content hash as one S40 array."""
        return hash_array(self.hashes)

    def _columns(self) -> Columns:
        if self.columns is None:
            self.columns = filter_columns(self.articles, self.passages)
        return self.columns

    def rows_of(
        self, sources: Iterable[str] | None = None, article_ids: Iterable[str] | None = None
    ) -> np.ndarray:
        """Rows of the live passages of any of the sources or articles, ascending."""
        passage_article, ids, article_source = self._columns()
        wanted = np.zeros(len(ids) + 1, dtype=bool)  # the last one stands for "deleted" (-1)
        if sources is not None:
            wanted[:-1] |= np.isin(article_source, np.array(list(sources), dtype=np.str_))
        if article_ids is not None:
            if self._positions is None:  # article id -> row of ids, built once per index
                self._positions = {a: i for i, a in enumerate(ids)}
            position = self._positions
            hits = [position[a] for a in article_ids if a in position]
            wanted[np.array(hits, dtype=np.int64)] = True
        return np.flatnonzero(wanted[passage_article]).astype(np.int64)


def hash_array(hashes: Sequence[str]) -> np.ndarray:
    """Content hashes as one S40 array (the stored one when they were loaded)."""
    if isinstance(hashes, _Strings):
        return hashes.array
    return np.array(list(hashes), dtype=HASH_DTYPE)


def filter_columns(articles: Mapping[str, Article], passages: Sequence[Passage]) -> Columns:
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

    def raw(self, i: int) -> bytes:
        """Line ``i`` as stored, newline included."""
        return bytes(self._mm[self._offsets[i] : self._offsets[i + 1]])

    def _row(self, i: int) -> dict[str, Any]:
        row: dict[str, Any] = json.loads(self._mm[self._offsets[i] : self._offsets[i + 1]])
        return row


class _LazyColumn(Sequence[T]):
    """A read-only sequence that builds each item from its JSON line when asked."""

    def __init__(self, lines: _Lines | _Rows, make: Callable[[dict[str, Any]], T]) -> None:
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


class _Rows:
    """The lines of several segments' tables as one sequence of rows."""

    def __init__(self, parts: Sequence[_Lines]) -> None:
        self.parts = list(parts)
        self.starts = [0]
        for p in self.parts:
            self.starts.append(self.starts[-1] + len(p))

    def __len__(self) -> int:
        return self.starts[-1]

    def get(self, i: int) -> dict[str, Any]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        i %= n
        k = bisect.bisect_right(self.starts, i) - 1
        return self.parts[k].row(i - self.starts[k])


class _Strings(Sequence[str]):
    """A byte-string array read as str, one item at a time."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array

    def __len__(self) -> int:
        return len(self.array)

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [bytes(b).decode() for b in self.array[i]]
        return bytes(self.array[i]).decode()


class _RowStack:
    """Row arrays of several segments read as one (by row, by row list, by slice)."""

    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        self.parts = list(parts)
        self.starts = np.cumsum([0, *(len(p) for p in self.parts)])
        self.dtype = self.parts[0].dtype
        self.shape = (int(self.starts[-1]), *self.parts[0].shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = np.concatenate(self.parts)
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            i = int(key) % len(self)
            k = int(np.searchsorted(self.starts, i, side="right")) - 1
            return np.asarray(self.parts[k][i - self.starts[k]])
        if isinstance(key, slice):
            return np.asarray(self)[key]
        rows = np.asarray(key, dtype=np.int64)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        seg = np.searchsorted(self.starts, rows, side="right") - 1
        for k in np.unique(seg):
            sel = seg == k
            out[sel] = self.parts[k][rows[sel] - self.starts[k]]
        return out


def stack(parts: Sequence[np.ndarray]) -> Any:
    return parts[0] if len(parts) == 1 else _RowStack(parts)


def _passage(row: dict[str, Any]) -> Passage:
    return Passage(**{k: v for k, v in row.items() if k != "hash"})


class LazyArticles(Mapping[str, Article]):
    """The live articles, each parsed from its segment's table when asked."""

    def __init__(self, parts: Sequence[_Lines], ids: list[str], at: tuple[np.ndarray, np.ndarray]):
        self._parts = list(parts)
        self._at = {aid: (int(s), int(r)) for aid, s, r in zip(ids, at[0], at[1], strict=True)}

    def __len__(self) -> int:
        return len(self._at)

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def __getitem__(self, key: str) -> Article:
        s, r = self._at[key]
        return Article(**self._parts[s].row(r))

    def line(self, key: str) -> bytes:
        """The article's stored JSON line, unparsed."""
        s, r = self._at[key]
        return self._parts[s].raw(r)


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


def _json_line(row: dict[str, Any]) -> bytes:
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def _write_lines(path: Path, lines: Iterable[bytes]) -> np.ndarray:
    """Write the lines; returns the byte offset of each line and of the end."""
    offsets = [0]
    with path.open("wb") as f:
        for line in lines:
            f.write(line)
            offsets.append(offsets[-1] + len(line))
    return np.array(offsets, dtype=np.int64)


@dataclass
class SegmentData:
    """A segment to write: its articles' and passages' JSON lines and its row arrays."""

    article_ids: list[str]
    article_lines: Sequence[bytes]
    passage_lines: Sequence[bytes]
    hashes: np.ndarray  # S40
    vectors: np.ndarray
    dense: DenseIndex  # ids are global rows
    postings: Postings
    ml_vectors: np.ndarray | None = None
    ml_hashes: np.ndarray | None = None


@dataclass
class VersionColumns:
    """columns.npz: the live articles in order, where each one's line is, and every row's
    article (-1: deleted)."""

    article_ids: list[str]
    article_source: np.ndarray
    article_segment: np.ndarray
    article_row: np.ndarray
    passage_article: np.ndarray


def _write_segment(folder: Path, seg: SegmentData) -> None:
    folder.mkdir()
    article_rows = _write_lines(folder / "articles.jsonl", seg.article_lines)
    passage_rows = _write_lines(folder / "passages.jsonl", seg.passage_lines)
    np.savez(
        folder / "rows.npz",
        articles=article_rows,
        passages=passage_rows,
        article_ids=np.array(seg.article_ids, dtype=np.str_),
    )
    np.save(folder / "hashes.npy", np.asarray(seg.hashes, dtype=HASH_DTYPE))
    np.save(folder / "vectors.npy", np.asarray(seg.vectors, dtype=np.float16))
    if seg.ml_vectors is not None and seg.ml_hashes is not None:
        np.save(folder / "ml_vectors.npy", np.asarray(seg.ml_vectors, dtype=np.float16))
        np.save(folder / "ml_hashes.npy", np.asarray(seg.ml_hashes, dtype=HASH_DTYPE))
    seg.dense.save(folder / "dense.faiss")
    seg.postings.save(folder / "bm25")


def _link_segment(source: Path, folder: Path) -> None:
    """The segment's files in another version: hard links (the files never change), or copies
    where the file system has no links."""
    for p in sorted(source.rglob("*")):
        target = folder / p.relative_to(source)
        if p.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(p, target)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                raise
            shutil.copy2(p, target)


def save(index: Index, index_dir: Path, manifest: dict[str, Any], keep: int = 2) -> Path:
    """Write an in-memory index as a new version of one segment and swap it in."""
    passage_article, ids, article_source = index._columns()
    seg = SegmentData(
        article_ids=ids,
        article_lines=[_json_line(index.articles[a].to_dict()) for a in ids],
        passage_lines=[_json_line(p.to_dict()) for p in index.passages],
        hashes=index.hash_array(),
        vectors=np.asarray(index.vectors, dtype=np.float16),
        dense=index.dense,  # type: ignore[arg-type]
        postings=index.lexical.segments[0][1],
        ml_vectors=None if index.ml_vectors is None else np.asarray(index.ml_vectors),
        ml_hashes=None
        if index.ml_hashes is None
        else np.array(list(index.ml_hashes), dtype=HASH_DTYPE),
    )
    columns = VersionColumns(
        ids,
        article_source,
        np.zeros(len(ids), np.int32),
        np.arange(len(ids), dtype=np.int32),
        passage_article,
    )
    return write_version(index_dir, manifest, [], seg, columns, keep=keep)


def write_version(
    index_dir: Path,
    manifest: dict[str, Any],
    linked: Sequence[tuple[Path, dict[str, Any], str]],
    new: SegmentData | None,
    columns: VersionColumns,
    keep: int = 2,
) -> Path:
    """Write a new version beside the live one and swap it in; returns the version folder.

    ``linked`` are segment folders of the live version kept as they are (with their entries of
    its manifest's file list); ``new`` is written after them.

    A failure at any step (a full disk, an I/O error) leaves the live version as it was and the
    half-written one is removed at once (or by the next run, if removing fails too)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
    tmp = index_dir / f".tmp-{name}"
    try:
        return _save(index_dir, manifest, linked, new, columns, keep, name, tmp)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        (index_dir / f".{CURRENT}.{name}").unlink(missing_ok=True)
        raise _disk_error(e, index_dir, tmp) from None


def _save(
    index_dir: Path,
    manifest: dict[str, Any],
    linked: Sequence[tuple[Path, dict[str, Any], str]],
    new: SegmentData | None,
    columns: VersionColumns,
    keep: int,
    name: str,
    tmp: Path,
) -> Path:
    tmp.mkdir()
    names: list[str] = []
    kinds: dict[str, str] = {}
    files: dict[str, Any] = {}
    for folder, entries, kind in linked:
        _link_segment(folder, tmp / folder.name)
        names.append(folder.name)
        kinds[folder.name] = kind
        files |= entries
    written: list[Path] = []
    if new is not None:
        seg_name = f"seg-{secrets.token_hex(4)}"
        _write_segment(tmp / seg_name, new)
        names.append(seg_name)
        kinds[seg_name] = new.dense.kind
        written.append(tmp / seg_name)
    np.savez(
        tmp / "columns.npz",
        article_ids=np.array(columns.article_ids, dtype=np.str_),
        article_source=columns.article_source,
        article_segment=np.asarray(columns.article_segment, dtype=np.int32),
        article_row=np.asarray(columns.article_row, dtype=np.int32),
        passage_article=np.asarray(columns.passage_article, dtype=np.int32),
    )
    written.append(tmp / "columns.npz")
    for root in written:
        for p in sorted([root, *root.rglob("*")] if root.is_dir() else [root]):
            if p.is_file():
                size = p.stat().st_size
                entry: dict[str, Any] = {"bytes": size}
                if size <= VERIFY_BYTES:
                    entry["sha256"] = _sha256(p)
                files[str(p.relative_to(tmp))] = entry
    manifest = {
        **manifest,
        "schema_version": SCHEMA_VERSION,
        "segments": names,
        "segment_kinds": kinds,
        "files": files,
    }
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


def segment_files(index: Index, name: str) -> dict[str, Any]:
    """The live manifest's entries for one segment's files."""
    prefix = name + "/"
    return {k: v for k, v in index.manifest.get("files", {}).items() if k.startswith(prefix)}


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


def legacy_vectors(index_dir: Path) -> dict[str, np.ndarray]:
    """The embeddings of a live version written in schema 1 (one folder, hashes inside
    passages.jsonl) by content hash, so moving to the current layout encodes nothing again;
    empty when there is none or it cannot be read."""
    version = current_version(index_dir)
    if version is None:
        return {}
    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("schema_version") != 1:
            return {}
        out: dict[str, np.ndarray] = {}
        vectors = np.load(version / "vectors.npy", mmap_mode="r")
        with (version / "passages.jsonl").open(encoding="utf-8") as f:
            for row, line in zip(vectors, f, strict=True):
                out[str(json.loads(line)["hash"])] = np.asarray(row, dtype=np.float32)
        if manifest.get("ml_model"):
            ml = np.load(version / "ml_vectors.npy", mmap_mode="r")
            for h, row in zip(np.load(version / "ml_hashes.npy"), ml, strict=True):
                out[bytes(h).decode()] = np.asarray(row, dtype=np.float32)
        return out
    except (OSError, ValueError, KeyError, TypeError):
        return {}


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


def _load_segment(folder: Path, start: int, kind: str, with_ml: bool, mmap: bool) -> Segment:
    mode: Literal["r"] | None = "r" if mmap else None
    with np.load(folder / "rows.npz") as z:
        a_off, p_off = z["articles"], z["passages"]
        ids = z["article_ids"].tolist()
    article_lines = _Lines(folder / "articles.jsonl", a_off)
    if len(ids) != len(article_lines):
        raise ValueError(f"{folder.name}: articles.jsonl and its id list disagree")
    passage_lines = _Lines(folder / "passages.jsonl", p_off)
    seg = Segment(
        name=folder.name,
        start=start,
        article_lines=article_lines,
        article_ids=ids,
        passage_lines=passage_lines,
        hashes=np.load(folder / "hashes.npy", mmap_mode=mode),
        vectors=np.load(folder / "vectors.npy", mmap_mode=mode),
        dense=DenseIndex.load(folder / "dense.faiss", kind, mmap=mmap),
        postings=Postings.load(folder / "bm25", mmap=mmap),
    )
    if with_ml:
        seg.ml_vectors = np.load(folder / "ml_vectors.npy", mmap_mode=mode)
        seg.ml_hashes = np.load(folder / "ml_hashes.npy")
    n = seg.size
    if (
        len(seg.hashes) != n
        or len(seg.vectors) != n
        or seg.postings.size != n
        or (with_ml and (len(seg.ml_vectors) != n or len(seg.ml_hashes) != n))  # type: ignore[arg-type]
    ):
        raise ValueError(f"{folder.name}: passage counts disagree between files")
    return seg


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
    with_ml = bool(manifest.get("ml_model"))
    try:
        segments: list[Segment] = []
        start = 0
        for name in manifest["segments"]:
            seg_kind = str(manifest["segment_kinds"][name])
            seg = _load_segment(version / name, start, seg_kind, with_ml, mmap)
            segments.append(seg)
            start += seg.size
        with np.load(version / "columns.npz") as z:
            ids = z["article_ids"].tolist()
            article_source = z["article_source"]
            at = (z["article_segment"], z["article_row"])
            passage_article = z["passage_article"]
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise IndexError_(
            f"{version}: cannot read the index ({type(e).__name__}: {e}); rebuild it with `qa index --rebuild`"
        ) from e
    rows = start
    deleted = np.flatnonzero(passage_article < 0).astype(np.int64)
    if (
        not segments
        or len(passage_article) != rows
        or rows - len(deleted) != manifest.get("passages")
        or any(s < 0 or s >= len(segments) for s in np.unique(at[0]))
    ):
        raise IndexError_(
            f"{version}: passage counts disagree between files; rebuild the index with `qa index --rebuild`"
        )
    parts = [s.dense for s in segments]
    dense: DenseIndex | SegmentedDense = (
        parts[0]
        if len(parts) == 1 and not len(deleted)
        else SegmentedDense(list(zip([s.start for s in segments], parts, strict=True)), deleted)
    )
    lexical = LexicalIndex([(s.start, s.postings) for s in segments], rows, tokenizer, deleted)
    passage_rows = _Rows([s.passage_lines for s in segments])
    hashes = (
        segments[0].hashes if len(segments) == 1 else np.concatenate([s.hashes for s in segments])
    )
    ml_vectors = ml_hashes = None
    if with_ml:
        ml_vectors = stack([s.ml_vectors for s in segments])  # type: ignore[misc]
        ml_hashes = _Strings(np.concatenate([s.ml_hashes for s in segments]))  # type: ignore[misc]
    return Index(
        articles=LazyArticles([s.article_lines for s in segments], ids, at),
        passages=_LazyColumn(passage_rows, _passage),
        hashes=_Strings(hashes),
        vectors=stack([s.vectors for s in segments]),
        dense=dense,
        lexical=lexical,
        manifest=manifest,
        path=version,
        columns=(passage_article, ids, article_source),
        ml_vectors=ml_vectors,
        ml_hashes=ml_hashes,
        segments=segments,
        deleted=deleted,
        article_at=at,
    )
