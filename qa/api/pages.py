"""The permalink page: a whole article as HTML, the cited passage and sentence highlighted.

``GET /articles/{id}?p=3&hl=120-168#hl`` (``qa.links``). It is rendered on the server, so it
works without JavaScript and on a phone: ``#hl`` and ``#p3`` scroll to the sentence or passage.
A hand-written ``#p3:120-168`` fragment is turned into the same query by a two-line script.
Everything from the article is escaped. With API keys set, the page opens with a valid signed
link or with the key; an unknown article is a 404 page, a highlight outside the text is ignored.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from qa.api.deps import LinksDep, SearcherDep, key_of, valid_key
from qa.errors import NotFound
from qa.links import parse_span
from qa.models import Article, Passage

router = APIRouter()

STYLE = """
:root { color-scheme: light dark; --mark: #ffe58a; --cited: rgba(120, 160, 255, .12); }
body { margin: 0; font: 17px/1.85 "Noto Serif CJK SC", "Songti SC", serif; }
main { max-width: 42rem; margin: 0 auto; padding: 1.25rem 1rem 4rem; }
h1 { font-size: 1.5rem; line-height: 1.4; margin: .5rem 0; }
.subtitle { font-size: 1.1rem; margin: 0 0 .5rem; opacity: .85; }
.meta { font: 14px/1.6 system-ui, sans-serif; opacity: .75; margin-bottom: 1.5rem; }
.text { white-space: pre-wrap; word-break: break-word; }
.passage { scroll-margin-top: 4rem; }
.passage.cited { background: var(--cited); border-radius: 4px; }
mark { background: var(--mark); color: #000; padding: 0 .1em; scroll-margin-top: 30vh; }
nav { font: 14px system-ui, sans-serif; }
@media (prefers-color-scheme: dark) { :root { --mark: #b8860b; --cited: rgba(120,160,255,.18); } }
"""

# A fragment written by hand (#p3:120-168) becomes the query the server highlights from.
FRAGMENT = """
(function () {
  var m = location.hash.match(/^#p(\\d+):(\\d+)-(\\d+)$/);
  if (!m) return;
  var q = new URLSearchParams(location.search);
  q.set("p", m[1]); q.set("hl", m[2] + "-" + m[3]);
  location.replace("?" + q.toString() + "#hl");
})();
"""


def _page(title: str, body: str, status: int = 200, noindex: bool = False) -> HTMLResponse:
    robots = '<meta name="robots" content="noindex">' if noindex else ""
    html = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{robots}<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main><script>{FRAGMENT}</script></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _message(title: str, text: str, status: int) -> HTMLResponse:
    body = f'<nav><a href="/">← 问答</a></nav><h1>{escape(title)}</h1><p>{escape(text)}</p>'
    return _page(title, body, status, noindex=True)


def render_text(
    text: str, passages: list[Passage], cited: int | None, span: tuple[int, int] | None
) -> str:
    """The article text as HTML: passages as ``<span id="pN">`` (they never overlap), the
    highlighted sentence as ``<mark>`` (the first piece with ``id="hl"``)."""
    cuts = {0, len(text)}
    for p in passages:
        cuts.update((p.start, p.end))
    if span is not None:
        cuts.update(span)
    bounds = sorted(c for c in cuts if 0 <= c <= len(text))
    opening = {p.start: p for p in passages}
    closing = {p.end for p in passages}
    out: list[str] = []
    marked = False
    for a, b in zip(bounds, bounds[1:], strict=False):
        opens = opening.get(a)
        if opens is not None:
            cls = "passage cited" if opens.ordinal == cited else "passage"
            out.append(f'<span class="{cls}" id="p{opens.ordinal}">')
        piece = escape(text[a:b])
        if span is not None and span[0] <= a and b <= span[1]:
            anchor = "" if marked else ' id="hl"'
            piece = f"<mark{anchor}>{piece}</mark>"
            marked = True
        out.append(piece)
        if b in closing:
            out.append("</span>")
    return "".join(out)


def article_page(
    article: Article, passages: list[Passage], cited: int | None, span: tuple[int, int] | None
) -> HTMLResponse:
    meta = " · ".join(escape(x) for x in (article.byline, article.date, article.source) if x)
    parts = ['<nav><a href="/">← 问答</a></nav>', f"<h1>{escape(article.title)}</h1>"]
    if article.subtitle:
        parts.append(f'<p class="subtitle">{escape(article.subtitle)}</p>')
    if meta:
        parts.append(f'<p class="meta">{meta}</p>')
    parts.append(f'<div class="text">{render_text(article.text, passages, cited, span)}</div>')
    return _page(article.title, "".join(parts), noindex=True)


@router.get("/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False)
async def permalink(
    article_id: str,
    request: Request,
    searcher: SearcherDep,
    links: LinksDep,
    p: str | None = None,
    hl: str | None = None,
    exp: str | None = None,
    sig: str | None = None,
) -> HTMLResponse:
    """The article page a citation links to."""
    keys = request.app.state.settings.api_keys
    if keys and not valid_key(key_of(request), keys):
        refused = links.verify(article_id, exp, sig)
        if refused is not None:
            return _message("链接无效 · Link not valid", refused, 403)
    try:
        article = searcher.article(article_id)
    except NotFound:
        return _message("没有这篇文章 · Not found", f"no article with id {article_id!r}", 404)
    passages = searcher.passages_of(article_id)
    cited = int(p) if p and p.isdigit() else None
    return article_page(article, passages, cited, parse_span(hl, len(article.text)))
