"""Raw newspaper page text -> Articles.

The pages come from a layout extractor that keeps every printed line on a line of its own.
Undoing it takes four steps:

1. read the printed lines, drop layout debris (a stray ``广`` / ``告``), and recognise the
   markers: ``本报讯 （记者…）`` and ``本报记者 …`` open an article, ``（常东升 赵君宇）`` and
   ``本报记者 李昱霖 摄`` close one, and a photo caption is a block of lines printed without
   the blank lines that separate body lines;
2. find the headline lines: a headline follows the body it belongs to, so it is a line that does
   not end a sentence, standing after a line that does, and followed by the next article's
   opening (or printed narrower than the column it sits under);
3. cut the page after each headline group, and pick the title among two or three headline lines
   (a kicker ends with ``——``, a deck carries a comma or two parallel phrases);
4. join each article's lines into paragraphs and clean the letter-spacing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from qa.errors import IngestError
from qa.models import Article, stable_id
from qa.text import clean_line, display_width, ends_sentence, join_lines

_NEWS_OPENING = re.compile(r"^本报讯\s*[（(]([^）)]{1,40})[）)]\s*")
_BYLINE_LINE = re.compile(r"^本报(?:特约)?(?:记者|通讯员)\s*\S.*$")
_CREDIT = re.compile(
    r"^(.*?)\s*((?:本报)?(?:特约)?(?:记者|通讯员|摄影)\s*[\u4e00-\u9fff· ]{2,24}?\s*摄)$"
)
_END_BYLINE = re.compile(
    r"^(.*?)\s*[（(]\s*([\u4e00-\u9fff·]{1,4}(?:\s+[\u4e00-\u9fff·]{1,4}){0,5})\s*[）)]$"
)
_PAGE_DEBRIS = re.compile(r"^(?:广\s*告|(?:上接|下转|接)第?\s*\S{1,3}\s*版.*)$")
_INNER_STOP = re.compile(r"[。！？；]")
_CLAUSE_END = "，,、；;：:"

MAX_HEADLINE_LINES = 3
HEADLINE_WIDTH_RATIO = 0.72


@dataclass
class Line:
    """One printed line of the page."""

    number: int  # 1-based line number in the file
    raw: str
    text: str  # cleaned for body use
    width: float
    joined_next: bool  # the next printed line follows without a blank line
    opening: str | None = None  # byline of an article opening on this line
    closing: str | None = None  # byline or photo credit that closes an article on this line
    is_credit: bool = False


@dataclass
class _Draft:
    lines: list[Line] = field(default_factory=list)
    heads: list[Line] = field(default_factory=list)
    byline_top: str | None = None
    byline_end: str | None = None
    photo: bool = False
    closed: bool = False


def _clean(raw: str) -> str:
    # Body lines keep a space between two multi-character phrases (“金秋助学 爱心圆梦”).
    return clean_line(raw, keep_phrase_gaps=True)


def _merge_name_tokens(names: str) -> str:
    """``李 鹏 李军锋`` -> ``李鹏 李军锋``: single characters spaced to fill a name's width."""
    out: list[str] = []
    pending = ""
    for tok in names.split():
        if len(tok) == 1:
            pending += tok
            continue
        if pending:
            out.append(pending)
            pending = ""
        out.append(tok)
    if pending:
        out.append(pending)
    return " ".join(out)


def _read_lines(raw: str) -> list[Line]:
    rows = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines: list[Line] = []
    for i, row in enumerate(rows):
        stripped = row.strip()
        if not stripped:
            continue
        if len(stripped) <= 1 or _PAGE_DEBRIS.match(stripped):
            continue  # layout debris: advertisement marker, page-jump text
        joined = i + 1 < len(rows) and bool(rows[i + 1].strip()) and len(rows[i + 1].strip()) > 1
        line = Line(i + 1, stripped, _clean(stripped), display_width(stripped), joined)
        _mark(line)
        lines.append(line)
    return lines


def _mark(line: Line) -> None:
    """Recognise the markers that open or close an article."""
    m = _NEWS_OPENING.match(line.raw)
    if m:
        line.opening = "本报讯 " + _merge_name_tokens(m.group(1))
        line.text = _clean(line.raw[m.end() :])
        return
    if _BYLINE_LINE.match(line.raw) and not _INNER_STOP.search(line.raw) and "，" not in line.raw:
        if line.raw.endswith("摄"):
            line.closing, line.is_credit, line.text = line.raw, True, ""
        else:
            line.opening, line.text = line.raw, ""
        return
    m = _CREDIT.match(line.raw)
    if m and (not m.group(1) or ends_sentence(m.group(1))):
        line.closing, line.is_credit = re.sub(r"\s+", " ", m.group(2)), True
        line.text = _clean(m.group(1))
        return
    m = _END_BYLINE.match(line.raw)
    if m and (not m.group(1).strip() or ends_sentence(m.group(1))):
        line.closing = _merge_name_tokens(m.group(2))
        line.text = _clean(m.group(1))


def _headlineish(line: Line) -> bool:
    """Could be a headline: a short line that neither ends a sentence nor breaks one."""
    if line.opening or line.closing:
        return False
    t = line.text
    if not t or len(t) > 40 or ends_sentence(t) or t[-1] in _CLAUSE_END:
        return False
    return not _INNER_STOP.search(t)


def _boundary(line: Line) -> bool:
    """A line after which a new paragraph, headline or article may begin."""
    return bool(line.closing) or ends_sentence(line.text)


def _caption_starts(lines: list[Line]) -> set[int]:
    """Indexes where a photo caption begins.

    A caption is printed as blocks of consecutive lines (no blank line between them) and
    ends with a photographer's credit; walk back from each credit over such blocks.
    """
    starts = set()
    for c, line in enumerate(lines):
        if not line.is_credit:
            continue
        k = c
        while k > 0 and lines[k - 1].joined_next:
            k -= 1  # the block the credit is printed in
        first = k
        while first > 0:
            j = first - 1
            if not _boundary(lines[j]):
                break
            k = j
            while k > 0 and lines[k - 1].joined_next:
                k -= 1
            if k == j:  # a single line: not part of a caption block
                break
            first = k
        starts.add(first)
    return starts


def _column_width(lines: list[Line], upto: int, heads: list[bool]) -> float:
    """Width of the text column above line ``upto``: the upper quartile of the body lines
    printed since the last headline (at most twelve)."""
    widths: list[float] = []
    for k in range(upto - 1, max(-1, upto - 13), -1):
        if heads[k]:
            break
        if not lines[k].closing and not lines[k].opening:
            widths.append(lines[k].width)
    if not widths:
        return 0.0
    widths.sort()
    return widths[(len(widths) * 3) // 4]


def _find_headlines(lines: list[Line]) -> list[bool]:
    n = len(lines)
    heads = [False] * n
    captions = _caption_starts(lines)
    starts = {i for i, ln in enumerate(lines) if ln.opening} | captions

    # Headlines right before the next article's opening (or the end of the page).
    for s in sorted(starts | {n}):
        k = s - 1
        run: list[int] = []
        while (
            k >= 0 and k not in starts and _headlineish(lines[k]) and len(run) < MAX_HEADLINE_LINES
        ):
            run.append(k)
            k -= 1
        if run and k >= 0 and (_boundary(lines[k]) or heads[k]):
            for i in run:
                heads[i] = True

    # Headlines after a closing byline, and headlines narrower than the column above them.
    for i in range(1, n):
        line, prev = lines[i], lines[i - 1]
        if heads[i] or i in starts or not _headlineish(line):
            continue
        if prev.closing and not prev.opening:
            heads[i] = True
        elif heads[i - 1] or _boundary(prev):
            if line.text.endswith("——"):
                heads[i] = True
            elif "，" not in line.text and not line.joined_next:
                # A paragraph's first line is indented by two ems; a headline set in a
                # different measure is much narrower than the column it follows.
                column = _column_width(lines, i, heads)
                heads[i] = column > 0 and line.width < HEADLINE_WIDTH_RATIO * column
    return heads


def _subtitle_score(text: str) -> int:
    """How much a headline line looks like a kicker or a deck rather than the main title."""
    score = 0
    if text.endswith("——"):
        score += 2
    if "，" in text:
        score += 1
    if " " in text:
        score += 1
    return score


def _title_and_subtitle(heads: list[Line]) -> tuple[str, str | None]:
    texts = [clean_line(h.raw, keep_phrase_gaps=True) for h in heads]
    if len(texts) == 1:
        return texts[0], None
    best = min(range(len(texts)), key=lambda i: (_subtitle_score(texts[i]), i))
    rest = [t for i, t in enumerate(texts) if i != best]
    return texts[best], " ".join(rest)


def _paragraphs(lines: list[Line]) -> list[str]:
    """Join printed lines into paragraphs; a paragraph ends with a sentence on a short line,
    or before an indented (narrower) line."""
    body = [ln for ln in lines if ln.text]
    if not body:
        return []
    widths = sorted(ln.width for ln in body)
    column = widths[(len(widths) * 3) // 4]
    paragraphs: list[str] = []
    current: list[str] = []
    for j, ln in enumerate(body):
        current.append(ln.text)
        nxt = body[j + 1] if j + 1 < len(body) else None
        if nxt is None:
            break
        if ends_sentence(ln.text) and (
            ln.width < column - 1 or nxt.width < column - 1 or ln.closing or nxt.opening
        ):
            paragraphs.append(join_lines(current))
            current = []
    if current:
        paragraphs.append(join_lines(current))
    return paragraphs


def _fallback_title(text: str) -> str:
    first = re.split(r"[。！？\n]", text, maxsplit=1)[0]
    return first[:24] + ("…" if len(first) > 24 else "")


def parse_page(raw: str, source: str) -> list[Article]:
    """Split one raw newspaper page into clean articles."""
    lines = _read_lines(raw)
    heads = _find_headlines(lines)
    starts = {i for i, ln in enumerate(lines) if ln.opening} | _caption_starts(lines)

    drafts: list[_Draft] = []
    cur = _Draft()
    for i, line in enumerate(lines):
        if heads[i]:
            cur.heads.append(line)
            continue
        if cur.heads or cur.closed or (i in starts and cur.lines):
            drafts.append(cur)
            cur = _Draft()
        if line.opening:
            cur.byline_top = line.opening
        cur.lines.append(line)
        if line.closing:
            cur.byline_end = line.closing
            cur.photo = line.is_credit
            cur.closed = True
    drafts.append(cur)

    articles: list[Article] = []
    seen: Counter[str] = Counter()
    for d in drafts:
        text = "\n".join(_paragraphs(d.lines))
        if not text:
            continue
        if d.heads:
            title, subtitle = _title_and_subtitle(d.heads)
        else:
            title, subtitle = _fallback_title(text), None
        byline_parts = [b for b in (d.byline_top, d.byline_end) if b]
        seen[title] += 1
        suffix = "" if seen[title] == 1 else f"#{seen[title]}"
        articles.append(
            Article(
                id=stable_id(source, title + suffix),
                title=title,
                subtitle=subtitle,
                byline=" ".join(byline_parts) or None,
                source=source,
                kind="photo" if d.photo else "article",
                text=text,
            )
        )
    if not articles:
        raise IngestError(f"{source}: no articles recognised on this page")
    return articles


def looks_like_page(raw: str) -> bool:
    """Whether a .txt file is a laid-out newspaper page rather than one plain article.

    Printed pages have many short lines, most of which break a sentence in the middle.
    """
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    if len(lines) < 20:
        return False
    short = sum(1 for ln in lines if len(ln) <= 40)
    broken = sum(1 for ln in lines if not ends_sentence(ln))
    return short / len(lines) >= 0.8 and broken / len(lines) >= 0.5
