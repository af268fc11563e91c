"""A conversation -> the question to answer and the query to retrieve with.

A follow-up that leaves out its subject (``那租金呢？``) is retrieved together with the question
before it, and answered as the question it stands for (``standalone``: ``租金是多少？``); one whose
subject is a pronoun (``那是哪天比的？``) or missing (``一共去了多少人？``) gets the previous
question's subject (``with_subject``), and 他 / 她 after a question that asked for a name, the name
answered or, when none was, the person the question described (``named``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Literal

from qa.tokens import simplified_aligned, tagged, unknown_people

# How many messages of a conversation are considered (the bound on history).
HISTORY_MESSAGES = 6

Role = Literal["user", "assistant", "system"]


@dataclass(frozen=True)
class Message:
    role: str
    content: str


_FOLLOW_UP = re.compile(
    r"^(那|那么|还有|另外|此外|它|它们|他|她|他们|她们|其|该|这个|这些|那个|那些|这|此外|再|又|呢)"
)


def retrieval_query(messages: Sequence[Message]) -> tuple[str, str]:
    """(question to answer, query to retrieve with). A follow-up that leaves out its subject
    (``那租金呢？``) is retrieved together with the previous user question, and answered as the
    question it stands for (``standalone``)."""
    recent = list(messages)[-HISTORY_MESSAGES:]
    users = [m.content.strip() for m in recent if m.role == "user" and m.content.strip()]
    if not users:
        return "", ""
    question = users[-1]
    if len(users) >= 2 and is_follow_up(question):
        previous = users[-2]
        if len(users) >= 3 and is_follow_up(previous):  # 那租金呢？ then 押金呢？
            previous = standalone(previous, users[-3])
        answered = standalone(question, previous)
        if answered == question:
            answered = with_subject(question, previous)
        # 他 / 她 after a question that asked for a name: also in what standalone made of the
        # follow-up (那他的单位呢？ -> 他的单位是什么？ -> 张峰的单位是什么？)
        answered = named(answered, previous, _last_reply(recent))
        return answered, f"{users[-2]} {question}"
    return question, question


def _last_reply(messages: Sequence[Message]) -> str:
    """The last assistant message before the last user one ("" when there is none)."""
    for m in reversed(messages[:-1]):
        if m.role == "assistant":
            return m.content
    return ""


_ASKS_NAME = re.compile(r"谁|叫什么|叫啥|什么名字|姓名|名字")
_HE_OR_SHE = re.compile(r"^(?:那么?)?[他她](?!们)")
_NAME = re.compile(r"[\u4e00-\u9fff·]{2,4}")


def named(question: str, previous: str, reply: str) -> str:
    """A follow-up about the person the last answer named, with the name for 他 / 她: asked
    乌鲁木齐报道里那位环卫工人叫什么？ and answered 郭信娃, 他是在哪个社区歇脚的？ is read as
    郭信娃是在哪个社区歇脚的？. The name is the reply's first line (the short answer, bold in the
    chat front-ends' markdown) when the previous question asked for a name, or the one person the
    previous question names (张峰是哪个公司的？ then 他是什么职务？: 张峰是什么职务？); else the
    question comes back as it is."""
    m = _HE_OR_SHE.match(question.strip())
    if m is None:
        return question
    first = reply.strip().split("\n", 1)[0].strip().strip("*").strip()
    if _ASKS_NAME.search(simplified_aligned(previous)):
        # no name answered: the one the previous question described (龙口市第一个拿到“齐鲁工匠”
        # 称号的职工叫什么？ + 他在哪家公司上班？ -> 龙口市第一个拿到“齐鲁工匠”称号的职工在哪家公司上班？)
        name = first if _NAME.fullmatch(first) else _described(previous)
    else:
        people = unknown_people(previous)
        name = people[0] if len(people) == 1 else None
    return question if name is None else name + question.strip()[m.end() :]


# What a question that asks for a person's name says about the person (the words before 叫什么)
_DESCRIBED = re.compile(r"^(?P<who>[^？?，,。]{2,30}?)(?:的名字)?(?:叫什么名字|叫什么|叫啥|是谁)")


def _described(question: str) -> str | None:
    m = _DESCRIBED.match(question.strip())
    return m.group("who") if m else None


# A follow-up that is only what it asks about (那租金呢？, 副主席呢？, 去年呢？): no question word
# of its own, so the reader, which reads one question against one sentence, cannot tell what is
# asked (it read `面向刚入行的骑手提供4人间价廉质优房型` for 那租金呢？, not the rent).
_ELLIPTICAL = re.compile(
    r"(?:那么|那(?![个些位边里儿])|还有|另外)?(?P<what>[^，,。；;！!？?]{1,16}?)呢"
)
_ASKS = re.compile(r"多少|几|谁|什么|啥|哪|怎|咋|如何|吗|何|是否|有没有|多大|多长|多久|多高|多远")
_SIDE = re.compile(r"(?:那边|这边|方面)$")  # 澳门那边: 澳门
# 还有呢？ / 然后呢？ / 你呢？ name nothing to ask about: read as typed, not as 还有是多少？
_NOTHING_NAMED = re.compile(
    r"(?:还有|然后|之后|后来|其他|其它|别的|另外|其余|剩下|你|我|他|她|它|这|那)(?:们|个|些|的)?"
)
# Only a word this short stands in for a word of the previous question (两年加起来的善款 does not)
MAX_SWAP_CHARS = 4
_RELATIVE_YEAR = re.compile(r"^(?:今年|去年|明年|前年)$")
_PLACE_OR_TIME = ("ns", "t")  # jieba's flags: a place stands in for a place, a time for a time
# What the follow-up asks about may say what is asked by itself: a time, an amount, or a name
_AMOUNT = re.compile(
    r"人数|数量|金额|总数|费用|善款|租金|房租|钱|价格|价钱|比例|面积|规模|人次|工资|收入"
)
_WHEN = re.compile(r"日期|时间|时候|期限|开始|结束")
_NAMED = re.compile(r"品牌|牌子|名字|名称|单位|公司|企业|机构|组织|部门")
_SOMEONE = re.compile(r"(?:记者|作者|摄影|编辑)$")  # who wrote or photographed it
_PLACES = re.compile(r"(?:城市|地方|地区|省份|国家)$")
# The previous question's question word -> the frame a bare "what" is asked in, first match wins
# (a time before 几, which 几号 / 几月 also hold).
_FRAMES = (
    (re.compile(r"什么时候|何时|哪天|哪一天|几号|哪年|哪一年|几月|什么时间"), "{}是什么时候？"),
    (re.compile(r"多少|几"), "{}是多少？"),
    (re.compile(r"谁"), "{}是谁？"),
    (re.compile(r"哪里|哪儿|在哪|什么地方|啥地方"), "{}在哪里？"),
    (re.compile(r"怎么|怎样|如何|咋"), "{}是怎样的？"),
    (re.compile(r"哪|什么|啥"), "{}是什么？"),
)


_TRAILING = re.compile(r"[\s？?！!。.]+$")


def standalone(question: str, previous: str) -> str:
    """The question an elliptical follow-up stands for, read without the conversation: the
    previous question with the word it replaces swapped out (云南省总工会主席是谁？ + 副主席呢？
    -> 云南省总工会副主席是谁？; 今年…筹了多少善款？ + 去年呢？ -> 去年…: a word ending in the same
    character, another relative year, another place), else what it asks about, asked as a
    time, an amount or a name when it says so (日期, 人数, 品牌), or in the previous question's frame
    (…有多少套房源？ + 那租金呢？ -> 租金是多少？). Any other question comes back as it is."""
    # matched in simplified characters (雲南省總工會主席是誰？); the reader folds what it reads anyway
    core = _TRAILING.sub("", simplified_aligned(question.strip()))
    previous = simplified_aligned(previous)
    m = _ELLIPTICAL.fullmatch(core)
    if m is None or _ASKS.search(m.group("what")) or _NOTHING_NAMED.fullmatch(m.group("what")):
        return question
    what = m.group("what").strip()
    swapped = _swap(_SIDE.sub("", what) or what, previous)
    if swapped is not None:
        return swapped
    if _WHEN.search(what):
        return f"{what}是什么时候？"
    if _SOMEONE.search(what):
        return f"{what}是谁？"  # 那拍照片的记者呢？ asks a person whatever the previous asked
    if _PLACES.search(what):
        return f"{what}是哪些？"
    if _AMOUNT.search(what):
        return f"{what}是多少？"
    if _NAMED.search(what):
        return f"{what}是什么？"
    for asks, frame in _FRAMES:
        if asks.search(previous):
            return frame.format(what)
    return question


def _with_aspect(tags: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A verb and the aspect particle after it as one word (赢 了 -> 赢了), so that 那输了呢？
    stands in for 赢了."""
    out: list[tuple[str, str]] = []
    for word, flag in tags:
        if word in ("了", "过", "着") and out and out[-1][1].startswith("v"):
            out[-1] = (out[-1][0] + word, out[-1][1])
        else:
            out.append((word, flag))
    return out


# jieba tags many places as something else (龙口 n, 隆回 t, 嘉禾县 nr): a word is a place when it
# is tagged one, when it and an administrative suffix are one place word to jieba (龙口市), or
# when it is a name of three or more characters ending in one (嘉禾县, 仓山区)
_ADMINISTRATIVE = "省市县区镇乡村"


def _place(word: str, flag: str) -> bool:
    if flag == "ns":
        return True
    if len(word) >= 2 and any(tagged(word + s) == [(word + s, "ns")] for s in "市县区"):
        return True
    return len(word) >= 3 and word[-1] in _ADMINISTRATIVE and flag.startswith("n")


def _swap(what: str, previous: str) -> str | None:
    """The previous question with ``what`` in place of the word it stands for, if one does."""
    if len(what) > MAX_SWAP_CHARS:
        return None
    body = _TRAILING.sub("", previous.strip())
    tags = _with_aspect(tagged(body))
    words = [w for w, _ in tags]
    starts = list(accumulate(map(len, words), initial=0))
    what_tags = tagged(what)
    kind = what_tags[0][1] if len(what_tags) == 1 and what_tags[0][1] in _PLACE_OR_TIME else None
    if len(what_tags) == 1 and _place(*what_tags[0]):
        kind = "ns"
    for i, (word, flag) in enumerate(tags):
        if word == what or len(word) < 2 or _ASKS.search(word):
            continue
        if (
            word[-1] == what[-1]
            or (_RELATIVE_YEAR.match(word) and _RELATIVE_YEAR.match(what))
            or (kind is not None and flag == kind)
            or (kind == "ns" and _place(word, flag))
        ):
            start, end = starts[i], starts[i] + len(word)
            # 男职工 -> 女职工: the word before, as long as what the follow-up puts before the
            # same word, is its modifier and goes too (云南省总工会主席 + 副主席 keeps 总工会)
            modifier = len(what) - len(word)
            if what.endswith(word) and i > 0 and len(words[i - 1]) == modifier > 0:
                start = starts[i - 1]
            return body[:start] + what + body[end:] + "？"
    return None


# A follow-up whose subject is a pronoun for what the previous question was about, with a
# question word of its own: 那是哪天比的？, 它在哪儿？, 那他们一共花了多少钱？ (他 / 她 alone is
# the person a name question was answered with: ``named``).
_PRONOUN_SUBJECT = re.compile(
    r"^(?:(?:那么?)?(?:他们|她们|它们|它)"
    # a bare 那 / 这 is a pronoun only before what a predicate opens with (那么 and 这个 are not)
    r"|(?:那|这)(?=是|在|有|要|会|能|被|给|把|一共|共|都|还|又|啥|什么|哪|几|多少|怎|咋)"
    # no subject at all, the predicate first (一共去了多少人？)
    r"|(?=一共|总共))"
)
# Words that open the previous question's predicate (jieba's verbs are the rest) and words that
# may stand between its subject and its predicate, which the subject leaves out.
_PREDICATE = frozenset("有是在要能会给把被将得为让到跟对向从叫")
_BETWEEN = re.compile(
    r"一共|共|总共|都|已经?|这次|今年|去年|明年|前年|当时|现在|目前|以后|主要|还|又|再|也|就|能|会|要|是"
    r"|这边|那边"
)


# asks about the previous answer, not about its subject (那是为什么？)
_WHY = re.compile(r"为什么|为啥|什么意思|怎么回事")


def with_subject(question: str, previous: str) -> str:
    """A follow-up with the previous question's subject for its pronoun: asked
    万盛经开区那个制造业技能大赛有多少工人参加？, 那是哪天比的？ is read as
    万盛经开区那个制造业技能大赛是哪天比的？. Any other question comes back as it is."""
    text = question.strip()
    m = _PRONOUN_SUBJECT.match(simplified_aligned(text))
    if m is None or not _ASKS.search(text) or _WHY.search(text):
        return question
    topic = subject(simplified_aligned(previous))
    return question if topic is None else topic + text[m.end() :]


def subject(question: str) -> str | None:
    """What a question is about: its first clause up to the last predicate before its question
    word (万盛经开区那个制造业技能大赛有多少工人参加？ -> 万盛经开区那个制造业技能大赛), without
    the adverbs and time words before that predicate; None when too little is left."""
    if not _ASKS.search(question):
        return None  # not a question (你好)
    clause = re.split(r"[，,；;]", _TRAILING.sub("", question.strip()))[0]
    asks = _ASKS.search(clause)
    words = tagged(clause[: asks.start()] if asks else clause)
    starts = list(accumulate((len(w) for w, _ in words), initial=0))
    # a verb inside a relative clause (第一个拿到“齐鲁工匠”的职工) comes before the last one
    cut = max(
        (
            starts[i]
            for i, (w, f) in enumerate(words)
            if starts[i] >= 2 and (w in _PREDICATE or f == "v")
        ),
        default=None if asks else len(clause),
    )
    if cut is None:
        return None
    kept = [word for word, start in zip(words, starts, strict=False) if start < cut]
    while kept and (_BETWEEN.fullmatch(kept[-1][0]) or kept[-1][1] in ("d", "p", "ul", "uj")):
        kept.pop()
    topic = "".join(w for w, _ in kept)
    return topic if len(topic) >= 2 and not _ASKS.search(topic) else None


# What only a follow-up opens on (一共几家企业拿到了？, 具体是哪几个？) or says of someone named
# before (黔东南一般组织他们去哪几个省？)
_CONTINUES = re.compile(r"^(?:一共|总共|具体|其中|当时|后来|最后|然后|同时)|他们|她们|它们")


def is_follow_up(question: str) -> bool:
    core = re.sub(r"[\s，。？！?!、：:]", "", question)
    return (
        bool(_FOLLOW_UP.match(core))
        or len(core) <= 6
        or core.endswith("呢")
        or bool(_CONTINUES.search(core))
    )
