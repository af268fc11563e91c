"""Does the article an answer comes from mention the names the question asks about?

A question that names a place, organisation or person (武强县, 万盛, 云岭工匠论坛) is not answered by
a sentence of an article that never mentions it while another retrieved article does: the answer
would come from the wrong article. Asked how many mediators 武强县's union hired, the reader reads
``近300人`` from an article about Beijing's mediators with probability 0.26, while the article
about 武强县 is retrieved beside it and says nothing of the kind. The check is on the whole
article, not the sentence, since a sentence's subject is often named sentences before it.

A name is what jieba tags a place (``ns``), person (``nr``), organisation (``nt``) or other proper
noun (``nz``), of two characters or more, that is not an everyday word jieba tags so (城市, 东西,
中国: dictionary frequency ``EVERYDAY`` or more). Only names that a retrieved article is about
count (in its title, or at least twice): jieba also tags plain words as names (长度, 登基, the 赛里
of 技能赛里), and a name no retrieved article is about is no evidence that this one is the wrong
one. Measured end to end on the held-out documents of CMRC 2018 / DRCD, where an "article" is one
paragraph: with a single mention counting, DRCD lost 5 of 340 answers (登基, 东北地区, 滴滴涕
named in a neighbouring paragraph); with two, 1 (bench/RESULTS.md). An article mentions
a name when it holds the name, the name without its administrative suffix (烟台市 -> 烟台), or the
name's characters in order a few apart (乌市 -> 乌鲁木齐市, 港工联 -> 香港工会联合会).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from qa.tokens import dictionary_frequency, simplified_aligned, tagged

NAME_FLAGS = ("ns", "nr", "nt", "nz")
# jieba's dictionary frequency from which a "name" is an everyday word: 城市 25,084, 东西 18,877,
# 中国 129,470 against 杭州 2,806, 烟台市 45.
EVERYDAY = 10_000
# Administrative and team suffixes a question may add to or drop from a name.
SUFFIXES = "省市州县区镇乡村队"
# At most this many characters between two of an abbreviation's (乌市: 乌鲁木齐市).
SPREAD = 3
# A name counts when a retrieved article has it in its title or at least this many times.
SALIENT = 2


@lru_cache(maxsize=4096)
def asked_names(question: str) -> tuple[str, ...]:
    """The names a question asks about (see the module's docstring), in simplified script."""
    out = []
    for word, flag in tagged(simplified_aligned(question)):
        if flag[:2] in NAME_FLAGS and len(word) >= 2 and dictionary_frequency(word) < EVERYDAY:
            out.append(word)
    return tuple(dict.fromkeys(out))


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` (simplified) mentions ``name``: whole, without its suffix, or abbreviated."""
    if name in text:
        return True
    stem = name.rstrip(SUFFIXES)
    if len(stem) >= 2 and stem != name and stem in text:
        return True
    gaps = "".join(f"{re.escape(c)}[^。！？\\n]{{0,{SPREAD}}}?" for c in name[:-1])
    return re.search(gaps + re.escape(name[-1]), text) is not None


def _salient(text: str, name: str) -> bool:
    title, _, body = text.partition("\n")
    return name in title or body.count(name) >= SALIENT


def foreign_articles(question: str, articles: Sequence[str]) -> list[bool]:
    """For each article (its title, a newline, its text): whether it leaves out a name of the
    question that another of the ``articles`` names in its title or ``SALIENT`` times."""
    texts = [simplified_aligned(t) for t in articles]
    out = [False] * len(texts)
    for name in asked_names(question):
        says = [mentions(t, name) for t in texts]
        if any(says) and any(_salient(t, name) for t in texts):
            out = [o or not s for o, s in zip(out, says, strict=True)]
    return out
