"""Files -> Articles: format detection, encodings, and per-file error reporting."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from qa.errors import IngestError
from qa.models import Article, stable_id
from qa.newspaper import looks_like_page, parse_page
from qa.text import clean_line

log = logging.getLogger(__name__)

Format = Literal["auto", "page", "text", "jsonl"]
FORMATS: tuple[str, ...] = ("auto", "page", "text", "jsonl")
SUFFIXES = {".txt", ".md", ".markdown", ".jsonl"}
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


@dataclass
class Skipped:
    """A file that was reported and left out, with the reason."""

    path: str
    reason: str


@dataclass
class IngestResult:
    articles: list[Article] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0


def decode(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM) or GB18030/GBK; refuse binary data."""
    if not data.strip():
        raise IngestError(f"{name}: file is empty")
    if b"\x00" in data[:8192]:
        raise IngestError(f"{name}: looks like a binary file (NUL bytes), not text")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "gb18030" and _mostly_unprintable(text):
            break
        return text
    raise IngestError(f"{name}: cannot decode as UTF-8 or GB18030/GBK")


def _mostly_unprintable(text: str) -> bool:
    # Random bytes often decode as GB18030; real text has few control or private-use characters.
    bad = sum(1 for c in text if (ord(c) < 32 and c not in "\r\n\t") or 0xE000 <= ord(c) <= 0xF8FF)
    return bad > len(text) * 0.01


def parse_plain(text: str, source: str) -> Article:
    """A plain .txt/.md file is one article; its first heading or first non-empty line is the title."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    title_idx = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if title_idx is None:
        raise IngestError(f"{source}: file is empty")
    for i, ln in enumerate(lines):
        if ln.lstrip().startswith("#"):
            title_idx = i
            break
    title = lines[title_idx].strip().lstrip("#").strip()
    body_lines = lines[:title_idx] + lines[title_idx + 1 :]
    paragraphs: list[str] = []
    current: list[str] = []
    for ln in body_lines:
        if ln.strip():
            current.append(clean_line(ln.lstrip("#"), keep_phrase_gaps=True))
        elif current:
            paragraphs.append("".join(current))
            current = []
    if current:
        paragraphs.append("".join(current))
    body = "\n".join(p for p in paragraphs if p)
    if not body:
        raise IngestError(f"{source}: has a title but no text")
    return Article(id=stable_id(source, title), title=title, text=body, source=source)


def parse_jsonl(text: str, source: str) -> tuple[list[Article], list[Skipped]]:
    """One article per line: ``title`` and ``text`` required, the rest optional."""
    articles: list[Article] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            skipped.append(Skipped(where, f"invalid JSON ({e.msg})"))
            continue
        if not isinstance(obj, dict):
            skipped.append(Skipped(where, "line is not a JSON object"))
            continue
        title, body = obj.get("title"), obj.get("text")
        if not isinstance(title, str) or not title.strip():
            skipped.append(Skipped(where, "missing 'title'"))
            continue
        if not isinstance(body, str) or not body.strip():
            skipped.append(Skipped(where, "missing 'text'"))
            continue
        key = obj.get("id") or stable_id(source, title.strip(), body.strip()[:200])
        if key in seen:
            skipped.append(Skipped(where, f"duplicate article {title.strip()!r}"))
            continue
        seen.add(key)

        def opt(key: str, obj: dict = obj) -> str | None:
            value = obj.get(key)
            return (value.strip() or None) if isinstance(value, str) else None

        articles.append(
            Article(
                id=str(obj["id"]) if obj.get("id") else stable_id(source, title.strip(), str(n)),
                title=title.strip(),
                text=body.strip(),
                source=opt("source") or source,
                subtitle=opt("subtitle"),
                byline=opt("byline"),
                url=opt("url"),
                date=opt("date"),
            )
        )
    return articles, skipped


def read_file(
    path: Path, fmt: Format = "auto", max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[list[Article], list[Skipped]]:
    """Read one file into articles; raises IngestError when the whole file is unusable."""
    name = path.name
    size = path.stat().st_size
    if size > max_bytes:
        raise IngestError(f"{name}: {size} bytes is over the {max_bytes}-byte limit")
    text = decode(path.read_bytes(), name)
    if not any(c.isalnum() for c in text):
        raise IngestError(f"{name}: no words or numbers in the file, nothing to ingest")
    kind = fmt
    if kind == "auto":
        if path.suffix.lower() == ".jsonl":
            kind = "jsonl"
        elif path.suffix.lower() == ".txt" and looks_like_page(text):
            kind = "page"
        else:
            kind = "text"
    if kind == "jsonl":
        articles, skipped = parse_jsonl(text, name)
        if not articles:
            raise IngestError(f"{name}: no valid article lines")
        return articles, skipped
    if kind == "page":
        return parse_page(text, name), []
    return [parse_plain(text, name)], []


def expand(paths: Iterable[str | Path]) -> tuple[list[Path], list[Skipped]]:
    """Files named directly, and supported files found under directories (sorted)."""
    files: list[Path] = []
    missing: list[Skipped] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUFFIXES)
            )
        elif p.is_file():
            files.append(p)
        else:
            missing.append(Skipped(str(p), "no such file or directory"))
    return files, missing


def ingest(
    paths: Iterable[str | Path], fmt: Format = "auto", max_bytes: int = DEFAULT_MAX_BYTES
) -> IngestResult:
    """Read every file; a bad file is reported and skipped, the rest of the batch goes on."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    files, skipped = expand(paths)
    result = IngestResult(skipped=skipped, files=len(files))
    seen: dict[str, str] = {}
    for path in files:
        try:
            articles, bad = read_file(path, fmt, max_bytes)
        except IngestError as e:
            result.skipped.append(Skipped(str(path), str(e).split(": ", 1)[-1]))
            continue
        except OSError as e:
            result.skipped.append(Skipped(str(path), e.strerror or str(e)))
            continue
        result.skipped.extend(bad)
        for a in articles:
            if a.id in seen:
                result.skipped.append(
                    Skipped(f"{path}", f"duplicate of article {a.id} ({a.title!r})")
                )
                continue
            seen[a.id] = a.title
            result.articles.append(a)
    for s in result.skipped:
        log.warning("skipped %s: %s", s.path, s.reason)
    return result
