"""The 25 seed articles, pinned: headline, deck, byline, kind, first and last sentence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qa.ingest import ingest
from qa.models import Article
from qa.text import compact
from qa.tokens import fold

# (page, title, subtitle, byline, kind, start of the first sentence, end of the last sentence)
SEEDS = [
    (
        "000",
        "“四步工作法”化解矛盾在基层",
        None,
        "常东升 赵君宇",
        "article",
        "近年来，山西省武乡县坚持和发展新时代",
        "化解在基层、解决在萌芽状态。",
    ),
    (
        "000",
        "源头治理助推信访工作提质增效",
        None,
        "李鹏 李军锋",
        "article",
        "今年来，湖南郴州市嘉禾县充分发挥法治",
        "访、维权不违法”的社会共识。",
    ),
    (
        "000",
        "做强特色产业 重视品牌培育",
        None,
        "肖钰",
        "article",
        "近年来，贵州省仁怀市长岗镇充分利用第",
        "度高的“茅乡源”豌豆尖品牌。",
    ),
    (
        "000",
        "产才融合 激活创新创业“新引擎”",
        None,
        "简小玉",
        "article",
        "今年以来，贵州双龙航空港经济区不断深",
        "招聘、用工管理等方面的问题。",
    ),
    (
        "000",
        "上海普陀区300多名外卖小哥将入住“星级公寓”",
        "月租金最低仅550元，换电、停车充电也方便",
        "本报讯 记者裴龙翔",
        "article",
        "“第一个幸运小哥是8号，在吗？",
        "的区域设置“随心换”换电柜。",
    ),
    (
        "000",
        "联学共建",
        None,
        "本报记者 李昱霖 摄",
        "photo",
        "近日，河北省总工会宣教和网络工作部党",
        "部演示自己创新研制的机器人。",
    ),
    (
        "000",
        "聊城经开区总多举措维护新就业形态劳动者权益",
        "提升“向心力” 增强“归属感”",
        "本报讯 通讯员李阳",
        "article",
        "今年以来，山东聊城经济技术开发区总工",
        "货运司机更好找货，更好找活。",
    ),
    (
        "000",
        "2023京港澳青年职工厨艺技能交流大赛举办",
        None,
        "本报讯 记者赖志凯",
        "article",
        "“铛”！",
        "，共同推动职工职业技能提升。",
    ),
    (
        "000",
        "佛山顺丰速运公司劳动争议人民调解委员会揭牌",
        "快递小哥有了一站式矛盾纠纷处理平台",
        "本报讯 记者叶小钟 通讯员柳少华",
        "article",
        "11月22日，由广东佛山顺丰速运有限",
        "权益等方面提供可复制的样本。",
    ),
    (
        "000",
        "乌鲁木齐市总为县级工会补短板、强弱项、增活力",
        "对口联系指导 强化阵地建设",
        "本报讯 记者吴铎思 通讯员景双善",
        "article",
        "“自从米东区总工会建了这个站点，我和",
        "劳动者工会会员11245名。",
    ),
    (
        "000",
        "贵州工会启动“新就业形态劳动者温暖服务季”",
        "“一户一策”帮解困 建立服务联合体",
        "本报讯 记者李丰",
        "article",
        "近日，2023年贵州省工会“新就业形",
        "等服务阵地，让他们备感温暖。",
    ),
    (
        "000",
        "残疾人就业招聘会",
        None,
        "本报通讯员 谢贵明 摄",
        "photo",
        "11月28日，福建省福州市仓山区残疾",
        "度，拓宽残疾人就业创业渠道。",
    ),
    (
        "001",
        "一场聚焦集体协商的短视频大赛",
        None,
        None,
        "article",
        "“集体协商是个宝，企业发展离不了，关",
        "专项服务指导活动，深受欢迎。",
    ),
    (
        "001",
        "“家门口”就业托起搬迁群众幸福生活",
        None,
        "陈倩兰 赵文境",
        "article",
        "就业是最大的民生，保就业就是保民生，",
        "攻坚成果，夯实乡村振兴基础。",
    ),
    (
        "001",
        "下基层办实事 维护百姓权益",
        None,
        "刘珊 游训利",
        "article",
        "湖南隆回县大力弘扬“四下基层”优良传",
        "群众的合法权益得到切实维护。",
    ),
    (
        "001",
        "创新工作方法 提升信访办理质效",
        None,
        "冯国喜",
        "article",
        "今年以来，河南省洛阳市西工区聚焦人民",
        "着力打造信访办理质效共同体。",
    ),
    (
        "001",
        "多措并举 推动信访工作高质量发展",
        None,
        "李宝平",
        "article",
        "近年来，山西省交口县康城镇认真贯彻落",
        "多元化解中心“四中心”合一。",
    ),
    (
        "001",
        "新疆多举措加强基层工会建设",
        "扩大组织覆盖面 提升服务水平",
        "本报讯 记者吴铎思 通讯员马安妮",
        "article",
        "“送了半天外卖，到工会驿站既能休息看",
        "强8个区（县）工会领导班子。",
    ),
    (
        "001",
        "云南省首届云岭工匠论坛举办",
        None,
        "本报讯 记者黄榆",
        "article",
        "近日，由云南省总工会主办，云南广播电",
        "建设，畅通技能人才发展通道。",
    ),
    (
        "001",
        "“点对点”直通车促“两栖农人”增收",
        None,
        "本报通讯员 王炳真 摄",
        "photo",
        "11月28日，贵州省黔东南苗族侗族自",
        "事季节性务工，促进村民增收。",
    ),
    (
        "001",
        "赛场秀“技”",
        None,
        "本报通讯员 王泸州 摄",
        "photo",
        "11月28日，重庆市万盛经开区举办“",
        "能人才、能工巧匠、大国工匠。",
    ),
    (
        "001",
        "山东龙口市总搭平台建阵地",
        "助力职工由“工”到“匠”",
        "本报讯 记者朱欣 通讯员韩浩",
        "article",
        "日前，山东省总工会公布第六届“齐鲁工",
        "职工挽回经济损失40多万元。",
    ),
    (
        "001",
        "北京市总组织劳动争议调解员到法院“实景充电”",
        "“零距离”体验庭审提升解纷能力",
        "本报讯 记者赖志凯",
        "article",
        "日前，北京市总工会2023年劳动争议",
        "升全市调解员队伍的业务能力。",
    ),
    (
        "001",
        "河北武强县总多举措维护职工权益",
        None,
        "本报讯 通讯员时苗苗",
        "article",
        "近年来，河北衡水武强县总工会着力在法",
        "询服务，提升了职工法律意识。",
    ),
    (
        "001",
        "“工BA”撬动百万善款",
        "广东恩平市总推出“体育+公益”模式，以篮球赛为媒同步开展慈善筹款——",
        "本报记者 叶小钟 本报通讯员 许接英 张霞",
        "article",
        "近日，广东江门恩平市沙湖镇圩镇社区主",
        "益活动，赋能“百千万工程”。",
    ),
]


@pytest.fixture(scope="module")
def seeds() -> list[Article]:
    result = ingest(["seeds"])
    assert result.skipped == []
    return result.articles


def test_twenty_five_articles_twelve_and_thirteen(seeds: list[Article]) -> None:
    assert len(seeds) == 25
    assert [a.source[:3] for a in seeds].count("000") == 12
    assert [a.source[:3] for a in seeds].count("001") == 13


@pytest.mark.parametrize("row", SEEDS, ids=[r[1] for r in SEEDS])
def test_article_pinned(seeds: list[Article], row: tuple) -> None:
    page, title, subtitle, byline, kind, first, last = row
    by_title = {a.title: a for a in seeds}
    assert title in by_title, f"missing article {title!r}"
    a = by_title[title]
    assert (a.source[:3], a.subtitle, a.byline, a.kind) == (page, subtitle, byline, kind)
    assert a.text.startswith(first)
    assert a.text.endswith(last)


def test_order_follows_the_pages(seeds: list[Article]) -> None:
    assert [a.title for a in seeds] == [r[1] for r in SEEDS]


def test_no_neighbour_or_debris_in_any_text(seeds: list[Article]) -> None:
    titles = {a.title for a in seeds}
    for a in seeds:
        for other in titles - {a.title}:
            assert other not in a.text, (a.title, other)
        assert "本报讯" not in a.text and " 摄" not in a.text
        assert not re.search(r"（[\u4e00-\u9fff]{2,3}(?: [\u4e00-\u9fff]{2,3})*）$", a.text), (
            a.title
        )
        assert "\n广\n" not in a.text and not a.text.endswith("告")


def test_paragraphs_end_sentences_and_lines_are_joined(seeds: list[Article]) -> None:
    for a in seeds:
        for para in a.text.split("\n"):
            assert re.search(r"[。！？”」）]$", para), (a.title, para[-20:])
    text = {a.title: a.text for a in seeds}
    assert "走访群众2150户（人）" in text["“四步工作法”化解矛盾在基层"]
    assert "长岗镇高粱基地" in text["做强特色产业 重视品牌培育"]
    assert "恩平“工BA”如何撬动百万善款" in text["“工BA”撬动百万善款"]
    assert "开展３场HR技能提升培训" in text["产才融合 激活创新创业“新引擎”"]  # as printed


def test_ids_stable_and_unique(seeds: list[Article]) -> None:
    again = ingest(["seeds"]).articles
    assert [a.id for a in seeds] == [a.id for a in again]
    assert len({a.id for a in seeds}) == 25


@pytest.mark.parametrize(
    "name",
    [
        "seed_questions.jsonl",
        "seed_questions_2.jsonl",
        "fresh_questions.jsonl",
        "fresh_questions_2.jsonl",
    ],
)
def test_question_sets_answers_are_in_their_articles(seeds: list[Article], name: str) -> None:
    """Every gold answer of the answerable question sets is in the article it names (its text
    or its byline)."""
    texts = {a.title: compact(fold(f"{a.byline or ''} {a.text}")) for a in seeds}
    path = Path(__file__).parent / "data" / name
    rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    assert len(rows) >= 40
    for row in rows:
        assert row["article_title"] in texts, row
        assert compact(fold(row["answer"])) in texts[row["article_title"]], row
