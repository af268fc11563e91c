"""Follow-up questions: what the conversation retrieves with, and the question an elliptical
follow-up (那租金呢？) stands for when it is read."""

from __future__ import annotations

import pytest

from qa.conversation import Message, named, retrieval_query, standalone, subject, with_subject


@pytest.mark.parametrize(
    ("previous", "follow_up", "reads"),
    [
        # the word it replaces: one ending in the same character, or another relative year
        ("云南省总工会主席是谁？", "副主席呢？", "云南省总工会副主席是谁？"),
        ("今年恩平篮球赛筹了多少善款？", "去年呢？", "去年恩平篮球赛筹了多少善款？"),
        ("嘉禾县的群众满意率是多少？", "那武乡县呢？", "武乡县的群众满意率是多少？"),
        # a place jieba tags as something else (龙口 n, 隆回 t, 嘉禾县 nr) for a place
        ("乌鲁木齐建了多少个服务站点？", "龙口呢？", "龙口建了多少个服务站点？"),
        ("武乡县一共解决了多少件信访问题？", "那隆回呢？", "隆回一共解决了多少件信访问题？"),
        ("嘉禾县群众满意率是多少？", "那隆回县呢？", "隆回县群众满意率是多少？"),
        ("冠军是哪支队伍？", "亚军呢", "亚军是哪支队伍？"),
        ("第一场比赛是哪天办的？", "那第二场呢？", "第二场比赛是哪天办的？"),
        # with its modifier, which the follow-up replaces too (not 男女职工)
        ("男职工有多少人？", "那女职工呢？", "女职工有多少人？"),
        ("大型企业有几家？", "小型企业呢？", "小型企业有几家？"),
        # a verb with its aspect particle (赢了 -> 输了)
        ("要是球队赢了得捐多少？", "那输了呢？", "要是球队输了得捐多少？"),
        # nothing to replace: what it asks about, in the previous question's frame
        ("上海普陀区骑手新家有多少套房源？", "那租金呢？", "租金是多少？"),
        ("武乡县的大会是什么时候开的？", "那么闭幕式呢？", "闭幕式是什么时候？"),
        ("比赛的裁判是谁？", "还有评委呢？", "评委是谁？"),
        ("骑手新家在哪？", "那个公寓的租金呢？", "那个公寓的租金是多少？"),  # 那个 stays
        ("活动在哪里办的？", "那日期呢？", "日期是什么时候？"),  # what it names says what it asks
        ("雲南省總工會主席是誰？", "副主席呢？", "云南省总工会副主席是谁？"),  # traditional
        ("上海普陀區騎手新家有多少套房源？", "那租金呢？", "租金是多少？"),
        ("现场发言的那个快递小哥叫啥？", "那他所在的营业部呢？", "他所在的营业部是什么？"),
        # who wrote or photographed it asks a person, places ask which ones, whatever came before
        ("河北省总哪个部门去搞的联学共建？", "那拍照片的记者呢？", "拍照片的记者是谁？"),
        ("调委会是哪天揭牌的？", "那顺丰网络覆盖的城市呢？", "顺丰网络覆盖的城市是哪些？"),
    ],
)
def test_an_elliptical_follow_up_reads_as_the_question_it_stands_for(
    previous: str, follow_up: str, reads: str
) -> None:
    assert standalone(follow_up, previous) == reads


@pytest.mark.parametrize(
    ("previous", "follow_up"),
    [
        ("武乡县解决了多少件信访问题？", "那走访了多少户？"),  # asks on its own
        ("比赛是哪天？", "那在哪办的呢？"),
        ("你好", "好的呢"),  # no question to take a frame from
        ("骑手新家的租金是多少？", "还有呢？"),  # names nothing to ask about
        ("骑手新家的租金是多少？", "那其他的呢？"),
        ("骑手新家的租金是多少？", "你呢？"),
        ("那个活动叫啥？", "那啥时候办的呢？"),  # 啥 asks
        ("骑手新家在哪？", "那它离地铁站远吗？"),
    ],
)
def test_other_follow_ups_are_read_as_asked(previous: str, follow_up: str) -> None:
    assert standalone(follow_up, previous) == follow_up


def test_retrieval_keeps_the_conversation_and_reading_gets_the_standalone_question() -> None:
    msgs = [
        Message("user", "上海普陀区骑手新家有多少套房源？"),
        Message("assistant", "有98套房源。"),
        Message("user", "那租金呢？"),
    ]
    assert retrieval_query(msgs) == ("租金是多少？", "上海普陀区骑手新家有多少套房源？ 那租金呢？")
    # a follow-up of a follow-up takes its frame from the question the first one stood for
    msgs += [Message("assistant", "550元～950元不等"), Message("user", "押金呢？")]
    assert retrieval_query(msgs)[0] == "押金是多少？"
    # a question that stands on its own is asked as it is
    alone = [Message("user", "骑手新家有多少张床位？")]
    assert retrieval_query(alone) == ("骑手新家有多少张床位？", "骑手新家有多少张床位？")


def test_he_or_she_is_the_person_the_last_answer_named() -> None:
    asked = "乌鲁木齐报道里那位环卫工人叫什么？"
    reply = "郭信娃\n\n环卫工人郭信娃说……[1]"
    assert named("他是在哪个社区的站点歇脚的？", asked, reply) == "郭信娃是在哪个社区的站点歇脚的？"
    # the chat front-ends' markdown puts the short answer in bold
    assert named("那她多大了？", "第一位选房的骑手叫啥？", "**纵波**\n\n……") == "纵波多大了？"
    # not a name asked for, not a name answered, or 他们: as asked
    assert (
        named("他是哪年入职的？", "骑手公寓有多少张床位？", "300余张\n\n……") == "他是哪年入职的？"
    )
    # no name answered: the person the previous question described
    long = "资料中没有找到这个问题的答案。"
    assert named("他是哪年入职的？", "那位骑手叫什么？", long) == "那位骑手是哪年入职的？"
    q = "龙口市第一个拿到“齐鲁工匠”称号的职工叫什么？"
    assert (
        named("他在哪家公司上班？", q, long)
        == "龙口市第一个拿到“齐鲁工匠”称号的职工在哪家公司上班？"
    )
    assert named("他在哪家公司上班？", "谁拿到了称号？", long) == "他在哪家公司上班？"
    assert named("他们是哪年入职的？", "那位骑手叫什么？", "纵波") == "他们是哪年入职的？"
    # the one person the previous question names, when it asked for no name
    company = "华电龙口发电有限公司\n\n……"
    assert named("他是什么职务？", "张峰是哪个公司的？", company) == "张峰是什么职务？"
    assert named("他是什么职务？", "张峰和刘伟是哪个公司的？", company) == "他是什么职务？"
    msgs = [
        Message("user", asked),
        Message("assistant", "**郭信娃**\n\n环卫工人郭信娃说……[1]"),
        Message("user", "他是在哪个社区的站点歇脚的？"),
    ]
    assert retrieval_query(msgs)[0] == "郭信娃是在哪个社区的站点歇脚的？"


@pytest.mark.parametrize(
    ("previous", "follow_up", "reads"),
    [
        (
            "万盛经开区那个制造业技能大赛有多少工人参加？",
            "那是哪天比的？",
            "万盛经开区那个制造业技能大赛是哪天比的？",
        ),
        ("普陀骑手新家这次能提供多少张床位？", "它在哪儿？", "普陀骑手新家在哪儿？"),
        ("长岗镇把多少亩冬闲地变成了四季地？", "那他们一共花了多少钱？", "长岗镇一共花了多少钱？"),
        # the verb of a relative clause is not the predicate
        (
            "龙口第一个拿到“齐鲁工匠”的职工是谁？",
            "那是哪年评上的？",
            "龙口第一个拿到“齐鲁工匠”的职工是哪年评上的？",
        ),
        # the first clause, when the question word comes after it
        (
            "恩平篮球赛认捐的单位，要是球队赢了得捐多少？",
            "那他们一共捐了多少？",
            "恩平篮球赛认捐的单位一共捐了多少？",
        ),
        # as asked: it asks about the previous answer, 这个 is not a pronoun, or the previous
        # message asked nothing
        ("长岗镇是贵州哪个市的？", "那是为什么？", "那是为什么？"),
        ("骑手新家在哪？", "那它离地铁站远吗？", "骑手新家离地铁站远吗？"),
        ("骑手新家在哪？", "这个公寓租金多少？", "这个公寓租金多少？"),
        ("你好", "这是什么？", "这是什么？"),
        # no subject at all: the predicate first
        (
            "贵州榕江县那批“两栖农人”是哪天坐直通车去外省打工的？",
            "一共去了多少人？",
            "贵州榕江县那批“两栖农人”一共去了多少人？",
        ),
    ],
)
def test_a_pronoun_subject_is_what_the_previous_question_was_about(
    previous: str, follow_up: str, reads: str
) -> None:
    assert with_subject(follow_up, previous) == reads


def test_the_subject_of_a_question() -> None:
    assert subject("洛阳西工区的信访渠道有几个端口？") == "洛阳西工区的信访渠道"
    assert subject("京港澳厨艺大赛北京这边是谁主办的？") == "京港澳厨艺大赛北京"
    assert subject("谁主办的？") is None  # too little before the question word


def test_a_follow_up_rewritten_and_about_the_person_named() -> None:
    msgs = [
        Message("user", "龙口第一个拿到“齐鲁工匠”的职工是谁？"),
        Message("assistant", "**张峰**\n\n……高级技师张峰榜上有名……[1]"),
        Message("user", "那他的单位呢？"),
    ]
    assert retrieval_query(msgs)[0] == "张峰的单位是什么？"
    msgs[-1] = Message("user", "那是哪年评上的？")
    assert retrieval_query(msgs)[0] == "龙口第一个拿到“齐鲁工匠”的职工是哪年评上的？"


def test_what_only_a_follow_up_opens_on() -> None:
    """一共 / 具体 opening a question, or 他们 in it, mark a follow-up: it is retrieved with the
    question before it."""
    from qa.conversation import is_follow_up

    assert is_follow_up("一共几家企业拿到了？") and is_follow_up("具体是哪几个？")
    assert is_follow_up("黔东南一般组织他们去哪几个省？")
    assert not is_follow_up("普陀区的骑手公寓一共有多少套房源？")
