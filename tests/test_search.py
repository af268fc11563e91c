"""Fusion, BM25 tokenization, script folding, filters."""

from __future__ import annotations

import pytest

from qa.errors import BadRequest
from qa.search import RRF_K, Searcher, reciprocal_rank_fusion
from qa.tokens import tokenize


class TestFusion:
    def test_item_high_in_both_lists_wins(self) -> None:
        fused = reciprocal_rank_fusion([([1, 2, 3], 1.0), ([2, 3, 1], 1.0)])
        assert max(fused, key=fused.__getitem__) == 2

    def test_scores_follow_the_formula(self) -> None:
        fused = reciprocal_rank_fusion([([5], 1.0), ([7, 5], 2.0)])
        assert fused[5] == pytest.approx(1 / (RRF_K + 1) + 2 / (RRF_K + 2))
        assert fused[7] == pytest.approx(2 / (RRF_K + 1))

    def test_weights_shift_the_winner(self) -> None:
        lists = [([1, 2], 1.0), ([2, 1], 3.0)]
        fused = reciprocal_rank_fusion(lists)
        assert max(fused, key=fused.__getitem__) == 2

    def test_hits_keep_component_scores(self, searcher: Searcher) -> None:
        hits = searcher.search("嘉禾县群众满意率", top_k=3)
        top = hits[0]
        assert top.article.title == "嘉禾县信访工作提质增效"
        assert (
            top.dense_score is not None and top.lexical_score is not None and top.lexical_score > 0
        )
        assert top.dense_rank == 1 or top.lexical_rank == 1
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


class TestTokens:
    @pytest.mark.parametrize("term", ["98.93%", "99.67%", "1+1+4", "ba", "410"])
    def test_numbers_and_latin_stay_whole(self, term: str) -> None:
        text = "满意率分别达到98.93%和99.67%，“1+1+4”体系，“工BA”筹集逾410万元"
        assert term in tokenize(text)

    def test_percent_query_matches_bare_number(self) -> None:
        assert "99.67" in tokenize("99.67%")

    def test_stopwords_dropped(self) -> None:
        toks = tokenize("嘉禾县的满意率是多少？")
        assert "的" not in toks and "多少" not in toks and "是" not in toks
        assert "满意率" in toks

    def test_quoted_term_kept(self) -> None:
        assert "骑手新家" in tokenize("举办“骑手新家”入住仪式")

    def test_traditional_folds_to_simplified(self) -> None:
        assert tokenize("嘉禾縣群眾滿意率") == tokenize("嘉禾县群众满意率")

    @pytest.mark.parametrize(
        ("query", "title"),
        [
            ("98.93%", "嘉禾县信访工作提质增效"),
            ("1+1+4", "“工BA”撬动百万善款"),
            ("工BA", "“工BA”撬动百万善款"),
        ],
    )
    def test_exact_terms_retrieved_lexically(
        self, searcher: Searcher, query: str, title: str
    ) -> None:
        hits = searcher.search(query, top_k=1, mode="lexical")
        assert hits and hits[0].article.title == title


class TestSearcher:
    def test_traditional_query_finds_simplified_text(self, searcher: Searcher) -> None:
        simp = searcher.search("外卖骑手公寓月租金", top_k=1)[0]
        trad = searcher.search("外賣騎手公寓月租金", top_k=1)[0]
        assert trad.passage.id == simp.passage.id

    def test_filter_by_source(self, searcher: Searcher) -> None:
        hits = searcher.search("善款", top_k=5, sources=["other.txt"])
        assert hits and {h.article.source for h in hits} == {"other.txt"}

    def test_filter_by_article(self, searcher: Searcher, articles) -> None:
        aid = articles[0].id
        hits = searcher.search("满意率", top_k=5, article_ids=[aid])
        assert hits and {h.article.id for h in hits} == {aid}

    def test_unknown_source_gives_nothing(self, searcher: Searcher) -> None:
        assert searcher.search("善款", sources=["nope.txt"]) == []

    @pytest.mark.parametrize("top_k", [0, 51, -1])
    def test_top_k_out_of_range(self, searcher: Searcher, top_k: int) -> None:
        with pytest.raises(BadRequest, match=f"top_k must be between 1 and 50, got {top_k}"):
            searcher.search("善款", top_k=top_k)

    @pytest.mark.parametrize("query", ["", "   "])
    def test_empty_query(self, searcher: Searcher, query: str) -> None:
        with pytest.raises(BadRequest, match="non-empty"):
            searcher.search(query)

    def test_modes_rank_differently_but_return_hits(self, searcher: Searcher) -> None:
        for mode in ("dense", "lexical", "fused"):
            hits = searcher.search("恩平篮球赛企业捐资", top_k=2, mode=mode)
            assert hits[0].article.title == "“工BA”撬动百万善款", mode
