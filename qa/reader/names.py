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
named in a neighbouring paragraph); with two, 1 (bench/RESULTS.md). A name jieba tags a person's
and its dictionary has never seen (张峰, 梅桂敏; also a village such as 尚家沟村) counts with a
single mention (``qa.tokens.unknown_people``): asked what 张峰 won, the article on 牡丹江's video contest was
answered from while the one that names him once was retrieved beside it. An article mentions
a name when it holds the name, the name without its administrative suffix (烟台市 -> 烟台), or the
name's characters in order a few apart (乌市 -> 乌鲁木齐市, 港工联 -> 香港工会联合会).

A well-known place (a city, province or country jieba's dictionary has seen ``WELL_KNOWN`` times:
杭州, 深圳) that no retrieved article mentions at all means the paper does not report on it: asked
about 深圳顺丰 or 杭州's rider flats, the reader answered from the articles on 佛山顺丰 and 上海's.
Every article is then foreign and the question is a near miss. On CMRC 2018 / DRCD, 5 of the
6,743 questions name such a place that their own paragraph leaves out (台湾 twice, 欧洲, and 长度 and
海洋, which jieba tags as places), against 52 for places of any frequency.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from qa.tokens import dictionary_frequency, simplified_aligned, tagged, unknown_people

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
# A place jieba's dictionary knows this well is a real place (杭州 2,806, 深圳 2,801; the words it
# tags ``ns`` by mistake are rarer: 大洋 788, 都市 692).
WELL_KNOWN = 1_000
_ASKED_KIND = ("什么", "甚么", "哪", "哪个", "哪一", "哪些", "哪种", "何种", "何")


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


def _salient(text: str, name: str, person: bool = False) -> bool:
    title, _, body = text.partition("\n")
    return name in title or body.count(name) >= (1 if person else SALIENT)


@lru_cache(maxsize=4096)
def asked_places(question: str) -> tuple[str, ...]:
    """The well-known places a question names (杭州, 深圳: ``ns`` names of dictionary frequency
    ``WELL_KNOWN`` or more, see the module's docstring)."""
    out, seen = [], ""
    for word, flag in tagged(simplified_aligned(question)):
        # 什么海洋, 哪个省: the kind of thing asked for, not a place the question names
        asked_for = seen.endswith(_ASKED_KIND)
        seen += word
        if (
            flag == "ns"
            and not asked_for
            and dictionary_frequency(word) >= WELL_KNOWN
            and word in asked_names(question)
        ):
            out.append(word)
    return tuple(out)


def foreign_articles(question: str, articles: Sequence[str]) -> list[bool]:
    """For each article (its title, a newline, its text): whether it leaves out a name of the
    question that another of the ``articles`` names in its title or ``SALIENT`` times (once, a
    person jieba's dictionary has never seen); all of them when the question names a well-known
    place that none of them mentions."""
    texts = [simplified_aligned(t) for t in articles]
    for place in asked_places(question):
        if not any(mentions(t, place) for t in texts):
            return [True] * len(texts)
    out = [False] * len(texts)
    people = unknown_people(question)  # one mention makes an article about them
    for name in asked_names(question):
        says = [mentions(t, name) for t in texts]
        if name in people and len(name) == 3:
            # jieba may glue the next character to a name (杜拜曾於1973年 -> 杜拜曾): an article
            # with the name's first two characters may be about it all the same
            says = [s or name[:2] in t for s, t in zip(says, texts, strict=True)]
        if any(says) and any(_salient(t, name, name in people) for t in texts):
            out = [o or not s for o, s in zip(out, says, strict=True)]
    return out
