"""Permalinks: the address of a cited passage, opening its article with the sentence highlighted.

A link is ``{base}/articles/{article_id}?p={ordinal}&hl={start}-{end}#hl``: ``p`` is the passage,
``hl`` the quoted sentence as offsets in the article's text, and ``#hl`` scrolls to it without
JavaScript. ``#p3`` alone scrolls to a passage.

With API keys the service is private, and a chat front-end that shows a link cannot send the key
when someone clicks it. So links then carry an expiry and a signature (``exp``, ``sig``: HMAC-SHA256
of the article id and the expiry, with ``QA_LINK_SECRET`` or a secret derived from the keys);
the page opens with a valid signature or with the key itself, and nothing else. The highlight is
not signed: changing it shows the same article differently, nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from qa.models import Hit

DEFAULT_TTL_SECONDS = 30 * 24 * 3600


def link_secret(explicit: str, api_keys: tuple[str, ...]) -> bytes | None:
    """The signing secret: ``QA_LINK_SECRET``, else one derived from the API keys, else none
    (no keys: the service and its links are public)."""
    if explicit:
        return explicit.encode()
    if not api_keys:
        return None
    return hashlib.sha256(("qa-links\x1f" + "\x1f".join(sorted(api_keys))).encode()).digest()


def parse_span(raw: str | None, length: int) -> tuple[int, int] | None:
    """``"120-168"`` -> (120, 168) clipped to the text; None for anything malformed or outside."""
    if not raw:
        return None
    start, sep, end = raw.partition("-")
    if not sep or not start.isdigit() or not end.isdigit():
        return None
    s, e = int(start), min(int(end), length)
    return (s, e) if 0 <= s < e else None


def hit_span(hit: Hit) -> tuple[int, int]:
    """What a citation quotes, in article offsets: the evidence sentence, else the first
    highlighted sentence, else the whole passage."""
    p = hit.passage
    local = hit.evidence_span or (hit.highlights[0] if hit.highlights else None)
    if local is None:
        return p.start, p.end
    return p.start + local[0], p.start + local[1]


@dataclass(frozen=True)
class Links:
    """Builds and checks permalinks for one base URL (``QA_PUBLIC_URL`` or the request's)."""

    base: str
    secret: bytes | None = None
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def _signature(self, article_id: str, expires: int) -> str:
        assert self.secret is not None
        msg = f"{article_id}\x1f{expires}".encode()
        return hmac.new(self.secret, msg, hashlib.sha256).hexdigest()[:32]

    def article(
        self, article_id: str, ordinal: int | None = None, span: tuple[int, int] | None = None
    ) -> str:
        # every value is digits, "start-end" or hex: nothing to escape (urlencode cost more than
        # the rest of a search result's JSON, five links a response)
        params: list[str] = []
        if ordinal is not None:
            params.append(f"p={int(ordinal)}")
        if span is not None:
            params.append(f"hl={int(span[0])}-{int(span[1])}")
        if self.secret is not None:
            expires = int(self.clock()) + self.ttl_seconds
            params.append(f"exp={expires}")
            params.append(f"sig={self._signature(article_id, expires)}")
        url = f"{self.base.rstrip('/')}/articles/{quote(article_id, safe='')}"
        if params:
            url += "?" + "&".join(params)
        if span is not None:
            url += "#hl"
        elif ordinal is not None:
            url += f"#p{ordinal}"
        return url

    def for_hit(self, hit: Hit) -> str:
        """The permalink of a citation: its article, its passage, the sentence it quotes."""
        return self.article(hit.article.id, hit.passage.ordinal, hit_span(hit))

    def verify(self, article_id: str, expires: str | None, signature: str | None) -> str | None:
        """None when the link may open the page, else why not (for the 403 page)."""
        if self.secret is None:
            return None
        if not expires or not signature or not expires.isdigit():
            return "this link is not signed"
        if int(expires) < self.clock():
            return "this link has expired; ask the question again for a fresh link"
        if not hmac.compare_digest(self._signature(article_id, int(expires)), signature):
            return "this link's signature does not match"
        return None
