"""The one place jieba lives: tokens for BM25, with script folding and stopwords."""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # jieba reaches for pkg_resources where setuptools < 81 is installed (the milvus extra)
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    import jieba
from opencc import OpenCC

from qa.text import FULLWIDTH_ALNUM

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_posseg: Any = None  # jieba.posseg.POSTokenizer over _tokenizer, made on first use
_userdict: Path | None = None
_t2s = OpenCC("t2s")

# Numbers with decimals, percent signs, ranges and sums (98.93%, 1+1+4, 10.7), Latin words,
# and the Han runs between them. Numbers and Latin words are kept whole, never cut by jieba.
_PIECES = re.compile(
    r"(?P<num>\d+(?:[.,]\d+)*%?(?:[+＋]\d+(?:[.,]\d+)*%?)*)"
    r"|(?P<latin>[a-z][a-z0-9\-]*)"
    r"|(?P<han>[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)"
)
_QUOTED = re.compile(r"[“\"「『]([^”\"」』]{2,12})[”\"」』]")

# Function words and question words that would otherwise dominate short queries.
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "和",
        "与",
        "及",
        "或",
        "等",
        "也",
        "都",
        "而",
        "并",
        "对",
        "为",
        "以",
        "将",
        "把",
        "被",
        "从",
        "向",
        "由",
        "于",
        "其",
        "这",
        "那",
        "之",
        "就",
        "还",
        "又",
        "着",
        "过",
        "给",
        "让",
        "个",
        "些",
        "种",
        "有",
        "没",
        "不",
        "很",
        "更",
        "最",
        "已",
        "已经",
        "一",
        "一个",
        "上",
        "下",
        "中",
        "里",
        "后",
        "前",
        "时",
        "年",
        "月",
        "日",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "她们",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "么",
        "什么",
        "多少",
        "几",
        "哪",
        "哪些",
        "哪个",
        "哪里",
        "哪儿",
        "谁",
        "怎么",
        "怎样",
        "如何",
        "为什么",
        "为何",
        "是否",
        "是不是",
        "有没有",
        "请问",
        "请",
        "一下",
        "关于",
        "可以",
        "能",
        "会",
        "要",
        "想",
        "知道",
        "告诉",
        "说",
        "说说",
        "介绍",
        "到底",
        "具体",
        "情况",
        "问题",
        "那么",
        "这个",
        "那个",
        "这些",
        "那些",
        "多",
        "大",
        "共",
    ]
)


def configure(userdict: Path | None = None) -> None:
    """Set a user dictionary of domain terms (one per line, jieba format); resets the tokenizer."""
    global _tokenizer, _userdict, _posseg
    with _lock:
        _userdict = userdict
        _tokenizer = None
        _posseg = None
    _cut.cache_clear()
    _tags.cache_clear()


# Bump when tokenize() changes what it returns (2: full-width digits and letters read as ASCII).
TOKENIZER_VERSION = 2


def fingerprint() -> str:
    """What tokenize() depends on (its version and the user dictionary's content): cached tokens
    are reused only under the same fingerprint."""
    h = hashlib.sha1(f"tokenize-v{TOKENIZER_VERSION}".encode())
    if _userdict is not None and _userdict.is_file():
        h.update(_userdict.read_bytes())
    return h.hexdigest()[:16]


def _jieba() -> jieba.Tokenizer:
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            tk.initialize()
            if _userdict is not None:
                tk.load_userdict(str(_userdict))
            _tokenizer = tk
        return _tokenizer


def fold(text: str) -> str:
    """Text as matched: simplified script, lower case, ASCII digits and letters."""
    return _t2s.convert(text).translate(FULLWIDTH_ALNUM).lower()


@lru_cache(maxsize=65536)
def _cut(run: str) -> tuple[str, ...]:
    return tuple(_jieba().cut_for_search(run, HMM=True))


def tokenize(text: str) -> list[str]:
    """BM25 tokens: jieba words (search mode), whole numbers and Latin words, short quoted terms.

    >>> tokenize("嘉禾县满意率99.67%，“工BA”撬动善款")
    ['嘉禾', '嘉禾县', '满意', '满意率', '99.67%', '99.67', '工', 'ba', '撬动', '善款', '工ba']
    """
    text = fold(text)
    tokens: list[str] = []
    for m in _PIECES.finditer(text):
        if m.lastgroup == "han":
            tokens.extend(t for t in _cut(m.group()) if t not in STOPWORDS and t.strip())
        else:
            tokens.append(m.group())
            if m.lastgroup == "num" and m.group().endswith("%"):
                tokens.append(m.group()[:-1])  # "99.67%" also matches a question about "99.67"
    for m in _QUOTED.finditer(text):
        term = re.sub(r"\s+", "", m.group(1))
        if term not in tokens:
            tokens.append(term)
    return tokens


def simplified(text: str) -> str:
    """Traditional characters folded to simplified and full-width digits and letters to ASCII
    (what the embedder sees); case kept."""
    return _t2s.convert(text).translate(FULLWIDTH_ALNUM)


def simplified_aligned(text: str) -> str:
    """Simplified script (and ASCII for full-width digits and letters) with every character
    where it was, so offsets carry over both ways.

    OpenCC converts some traditional phrases to a different number of characters; where the whole
    text changes length, characters are converted one at a time (a multi-character result keeps
    the original character).
    """
    out = _t2s.convert(text)
    if len(out) != len(text):
        out = "".join(c if len(c := _t2s.convert(ch)) == 1 else ch for ch in text)
    return out.translate(FULLWIDTH_ALNUM)


def tagged(text: str) -> list[tuple[str, str]]:
    """jieba words with their part-of-speech flags (``nr`` person, ``ns`` place, ``m`` number...)."""
    return list(_tags(text))


# A question is tagged once per answer, not once per sentence read and rule that asks (a
# tagging costs about a millisecond, for two to eight of them per answer)
@lru_cache(maxsize=4096)
def _tags(text: str) -> tuple[tuple[str, str], ...]:
    global _posseg
    from jieba import posseg

    tk = _jieba()
    with _lock:
        if _posseg is None:
            _posseg = posseg.POSTokenizer(tk)
        tagger = _posseg
    return tuple((p.word, p.flag) for p in tagger.cut(text))


def dictionary_frequency(word: str) -> int:
    """How often jieba's dictionary has seen ``word`` (0 for a word only its HMM finds: 尚家沟)."""
    return int(_jieba().FREQ.get(word) or 0)


@lru_cache(maxsize=4096)
def unknown_people(text: str) -> tuple[str, ...]:
    """The people a text names that jieba's dictionary has never seen (张峰, 梅桂敏: words it
    tags a person's name, two to four characters, of frequency 0), in simplified script."""
    out = (
        w
        for w, flag in tagged(simplified_aligned(text))
        if flag == "nr" and 2 <= len(w) <= 4 and dictionary_frequency(w) == 0
    )
    return tuple(dict.fromkeys(out))
