"""The real models on the seed corpus: retrieval targets, answers (the trained reader),
follow-ups, not-found."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

from qa.answer import NOT_FOUND, Message, answer_messages
from qa.evaluate import evaluate, load_questions
from qa.search import Searcher
from qa.text import compact

pytestmark = pytest.mark.model
DATA = ROOT / "tests" / "data"


def test_seed_retrieval_targets(seed_searcher: Searcher) -> None:
    report = evaluate(seed_searcher, load_questions(DATA / "seed_questions.jsonl"), modes=["fused"])
    fused = report["modes"]["fused"]
    assert report["questions"] >= 50
    assert fused["recall@1"] >= 0.90
    assert fused["answer_in_top3"] >= 0.95


def test_sample_questions_answered(seed_searcher: Searcher, seed_answerer) -> None:
    rows = (
        [
            json.loads(line)
            for line in (ROOT.parent / "shared" / "data" / "seed_questions_sample.jsonl").open(
                encoding="utf-8"
            )
        ]
        if (ROOT.parent / "shared" / "data" / "seed_questions_sample.jsonl").exists()
        else [json.loads(line) for line in (DATA / "seed_questions.jsonl").open(encoding="utf-8")][
            :10
        ]
    )
    answered = 0
    missed = []
    for row in rows:
        ans = answer_messages(seed_searcher, [Message("user", row["question"])], 3, seed_answerer)
        if not ans.found:
            missed.append(row["question"])
            continue
        assert ans.citations[0].article.title == row["article_title"], row["question"]
        answered += compact(row["answer"]) in compact(ans.text)
        for hit in ans.citations:
            for s, e in hit.highlights:
                assert hit.passage.text[s:e] in ans.text
    # the target is 95% found; the shipped reader refuses one of the shared ten
    # (骑手新家的房间里配了什么洗衣设备？ reads 0.029 against its threshold 0.045: bench/RESULTS.md)
    assert len(missed) <= max(1, len(rows) // 10), missed
    assert answered >= 0.7 * len(rows)


@pytest.mark.parametrize(
    ("first", "reply", "follow_up", "read_as", "holds"),
    [
        # a question word of its own: read as asked, retrieved with the question before it
        (
            "武乡县解决了多少件信访问题？",
            "全县各级领导干部深入基层接待群众2353人次，解决信访问题375件。[1]",
            "那走访了多少户？",
            "那走访了多少户？",
            "2150户",
        ),
        # no question word: read as 租金是多少？, not as the sentence's other clause
        # (面向刚入行的骑手提供4人间价廉质优房型, which it was before)
        ("上海普陀区骑手新家有多少套房源？", "98套房源[1]", "那租金呢？", "租金是多少？", "550元"),
        # a pronoun for the contest the previous question was about
        (
            "万盛经开区那个制造业技能大赛有多少工人参加？",
            "200余名[1]",
            "那是哪天比的？",
            "万盛经开区那个制造业技能大赛是哪天比的？",
            "11月28日",
        ),
        # another place, which jieba tags a common noun (龙口)
        (
            "乌鲁木齐建了多少个户外劳动者服务站点？",
            "479个[1]",
            "龙口呢？",
            "龙口建了多少个户外劳动者服务站点？",
            "13个",
        ),
        # 他: the one person the previous question named
        (
            "张峰是哪个公司的？",
            "华电龙口发电有限公司[1]",
            "他是什么职务？",
            "张峰是什么职务？",
            "班长",
        ),
    ],
)
def test_follow_up(
    seed_searcher: Searcher,
    seed_answerer,
    first: str,
    reply: str,
    follow_up: str,
    read_as: str,
    holds: str,
) -> None:
    msgs = [Message("user", first), Message("assistant", reply), Message("user", follow_up)]
    ans = answer_messages(seed_searcher, msgs, 3, seed_answerer)
    assert ans.question == read_as
    assert ans.found and ans.short_answer is not None and holds in ans.short_answer


@pytest.mark.parametrize(
    "question", ["今天北京天气怎么样？", "怎么用Python写快速排序？", "推荐一部好看的科幻电影"]
)
def test_off_topic_not_found(seed_searcher: Searcher, seed_answerer, question: str) -> None:
    ans = answer_messages(seed_searcher, [Message("user", question)], 3, seed_answerer)
    assert not ans.found and ans.text == NOT_FOUND and ans.citations == []


@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("嘉禾县的满意率有多高？", "99.67%"),  # the value of the item asked, of a 分别 clause
        ("今年恩平篮球赛有几支队伍参赛？", "16支"),  # read on past 红、蓝两队
        ("龙口有多少个省级以上劳模？", "24人"),  # 劳模 are people
        ("梅桂敏在哪家公司上班？", "茅世原酿酒集团"),  # a person the articles name is on topic
        ("北京调解员培训班是哪天办的？", "10月24日～26日"),  # the day, with its range's end
        ("恩平篮球赛有多少家企业捐资？", "102家企业"),  # the count with the noun asked
        ("双龙给企业办了几场HR技能提升培训？", "３场"),  # the source's full-width digit
        ("聊城经开区有几个户外劳动者服务站点？", "4个户外劳动者服务站点"),
        # not from a sentence that names the base among platforms, giving it no title
        ("贵阳学院和双龙的协同创业创新基地获得了什么称号？", "国家小型微型企业创业创新示范基地"),
    ],
)
def test_short_answers_of_questions_put_as_people_ask(
    seed_searcher: Searcher, seed_answerer, question: str, short: str
) -> None:
    ans = answer_messages(seed_searcher, [Message("user", question)], 3, seed_answerer)
    assert ans.found and ans.short_answer is not None and short in ans.short_answer, ans.text
    assert len(ans.short_answer) <= len(short) + 8  # the answer, not a clause around it


def test_traditional_question(seed_searcher: Searcher, seed_answerer) -> None:
    ans = answer_messages(
        seed_searcher, [Message("user", "嘉禾縣的群眾滿意率是多少？")], 3, seed_answerer
    )
    assert ans.found and "99.67%" in ans.text


def test_heuristic_fallback_still_answers(seed_searcher: Searcher) -> None:
    ans = answer_messages(seed_searcher, [Message("user", "武乡县解决了多少件信访问题？")])
    assert ans.found and "375" in ans.text and ans.short_answer is None
