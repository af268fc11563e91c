"""Span metrics as the CMRC 2018 official script computes them.

Text is segmented into characters, with runs of ASCII letters and digits kept as one token, and
punctuation removed. EM: the segments are equal; F1: from the longest common substring of the two
segment lists (not a bag of tokens), best over the gold answers.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Sequence

_PUNCT = set(string.punctuation) | set(
    "，。：？！；、“”‘’（）《》〈〉【】「」『』—…·～－＂＇／＼｛｝［］＜＞＝＿｜ \t\n\r\u3000"
)


def segments(text: str) -> list[str]:
    out: list[str] = []
    word = ""
    for ch in text.lower():
        if ch in _PUNCT or ch.isspace():
            if word:
                out.append(word)
                word = ""
            continue
        if ch.isascii() and ch.isalnum():
            word += ch
            continue
        if word:
            out.append(word)
            word = ""
        out.append(ch)
    if word:
        out.append(word)
    return out


def common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common contiguous run of segments (or of characters of strings)."""
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


def f1(prediction: str, golds: Iterable[str]) -> float:
    pred = segments(prediction)
    best = 0.0
    for gold in golds:
        ref = segments(gold)
        common = common_run(ref, pred)
        if common == 0:
            continue
        p, r = common / len(pred), common / len(ref)
        best = max(best, 2 * p * r / (p + r))
    return best


def exact(prediction: str, golds: Iterable[str]) -> float:
    pred = segments(prediction)
    return float(any(segments(g) == pred for g in golds))
