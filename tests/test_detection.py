"""Check-in detection (handlers.checkin) and 接龙 chains (handlers.chain): pure functions, no Redis."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handlers.chain import Chain, ChainEntry, cut_quote, parse_chain, render_chain
from handlers.checkin import Credit, Detection, detect, find_note_links, strip_mentions

HERE = Path(__file__).resolve().parent
# the product brief's sample posts, kept in tests/data/samples
SAMPLES = Path(__file__).resolve().parent / "data" / "samples"
CASES_FILE = HERE / "data" / "detection_cases.tsv"


def _load_tsv(path: Path, unescape: bool) -> list[tuple[int, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip() or line.startswith("#"):
            continue
        label, _, text = line.partition("\t")
        if unescape:
            text = text.replace("\\r", "\r").replace("\\n", "\n")
        rows.append((int(label), text))
    return rows


CASES = _load_tsv(CASES_FILE, unescape=True)
SAMPLE_CASES = _load_tsv(SAMPLES / "checkin-examples.tsv", unescape=False)


def _id(case: tuple[int, str]) -> str:
    label, text = case
    return f"{label}:{text[:30]!r}"


# ---------------------------------------------------------------------------------------------------
# the tables


def test_table_is_big_enough():
    pos = sum(1 for label, _ in CASES if label == 1)
    neg = sum(1 for label, _ in CASES if label == 0)
    assert pos >= 60 and neg >= 60, (pos, neg)
    texts = [t for _, t in CASES]
    assert len(texts) == len(set(texts)), "duplicate case"


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_detection_table(case):
    label, text = case
    d = detect(text, sender_userid="u1", sender_name="小鹿")
    expected = "checkin" if label else "none"
    assert d.kind == expected, f"{text!r}: {d}"
    if label:
        assert d.credits and d.credits[0] == Credit(None, "u1", d.credits[0].note_links)
    else:
        assert d.credits == ()
    assert d.reason


@pytest.mark.parametrize("case", SAMPLE_CASES or [(0, "")], ids=_id)
def test_shared_samples(case):
    label, text = case
    d = detect(text, sender_userid="u1", sender_name="小鹿")
    assert d.kind == ("checkin" if label else "none"), f"{text!r}: {d}"
    assert d.addressed is ("@" in text)


def test_shared_samples_are_all_there():
    assert len(SAMPLE_CASES) >= 16


@pytest.mark.parametrize(
    "text,reason",
    [
        ("@打卡助手 打卡", "keyword 打卡"),
        ("还没打卡", "negated: 还没打卡"),
        ("今天太忙了还没打卡，晚上补", "negated: 还没打卡"),
        ("怎么打卡呀？", "question"),
        ("大家记得打卡", "reminder"),
        ("补卡", "makeup"),
        ("明天打卡", "later"),
        ("昨天已更", "another day"),
        ("收到", "acknowledgement"),
        ("😂😂", "emoji only"),
        ("", "empty"),
        ("哈哈 今天天气不错", "no keyword"),
    ],
)
def test_reasons(text, reason):
    assert detect(text).reason.startswith(reason)


# ---------------------------------------------------------------------------------------------------
# message types, links, mentions, overrides


def test_image_is_a_checkin():
    d = detect("", "image", sender_userid="u1")
    assert d == Detection("checkin", (Credit(None, "u1"),), "image", False)
    assert detect("whatever", "IMAGE").kind == "checkin"


def test_mixed_with_image():
    assert detect("今天的笔记", "mixed", sender_userid="u1").kind == "checkin"
    assert detect("", "mixed").kind == "checkin"
    assert detect("已更 http://xhslink.com/a/Q1", "mixed").credits[0].note_links == ("http://xhslink.com/a/Q1",)
    for text in ("还没打卡", "这样算打卡吗？", "大家记得打卡", "补卡", "明天打卡"):
        assert detect(text, "mixed").kind == "none", text


def test_other_message_types_read_the_text():
    assert detect("打卡", "markdown").kind == "checkin"
    assert detect("", "voice").kind == "none"
    assert detect("", "emotion").kind == "none"


def test_note_links_credited():
    d = detect(
        "@打卡助手 已更 https://www.xiaohongshu.com/explore/6561c0a5?xsec=1 和 http://xhslink.com/a/Ab3dE9，复制本条",
        sender_userid="u9",
    )
    assert d.kind == "checkin"
    assert d.credits == (
        Credit(None, "u9", ("https://www.xiaohongshu.com/explore/6561c0a5?xsec=1", "http://xhslink.com/a/Ab3dE9")),
    )


def test_other_links_are_not_checkins():
    assert detect("https://example.com/day3").kind == "none"
    assert detect("看这个 https://www.douyin.com/video/1").kind == "none"
    assert detect("我在xiaohongshu.com上看到的").kind == "none"  # a host name without a path is no link


def test_negated_link_is_not_a_checkin():
    assert detect("还没更，先看看这篇 http://xhslink.com/a/Zz").kind == "none"
    assert detect("大家记得打卡，参考这篇 http://xhslink.com/a/Zz").kind == "none"


def test_link_hosts_override():
    hosts = ("douyin.com",)
    assert detect("https://www.douyin.com/video/1", link_hosts=hosts).kind == "checkin"
    assert detect("http://xhslink.com/a/1", link_hosts=hosts).kind == "none"
    assert find_note_links("a https://v.douyin.com/x/ b", ("https://douyin.com/",)) == ("https://v.douyin.com/x/",)
    assert find_note_links("(见 http://xhslink.com/a/1).") == ("http://xhslink.com/a/1",)
    assert find_note_links("http://notxhslink.com/a/1") == ()


def test_keywords_override():
    kws = ("交卷", "Done")
    assert detect("今日交卷", keywords=kws).kind == "checkin"
    assert detect("DONE", keywords=kws).kind == "checkin"
    assert detect("打卡", keywords=kws).kind == "none"
    assert detect("还没交卷", keywords=kws).kind == "none"
    assert detect("交卷了吗", keywords=kws).kind == "none"
    assert detect("打卡", keywords=()).kind == "none"


def test_strip_mentions():
    assert strip_mentions("@打卡助手 打卡") == "打卡"
    assert strip_mentions("@打卡助手\u2005打卡 ") == "打卡"
    assert strip_mentions("@打卡助手 @小王 快打卡 @小李") == "快打卡"
    assert strip_mentions("打卡 @小王 一起") == "打卡 @小王 一起"
    assert strip_mentions("@打卡助手") == ""
    assert strip_mentions("   ") == ""
    assert strip_mentions("") == ""
    assert strip_mentions("mail a@b.com") == "mail a@b.com"
    assert strip_mentions("＠打卡助手　已更") == "已更"
    assert strip_mentions("@" * 5000 + " x") == "x"


def test_addressed():
    assert detect("@打卡助手 打卡").addressed
    assert detect("打卡 @小王").addressed
    assert not detect("打卡").addressed
    assert not detect("mail me a@b.com 打卡").addressed
    assert detect("@打卡助手 #接龙\n1. 小鹿 已更", sender_name="小鹿").addressed


def test_empty_and_none_text():
    assert detect("").kind == "none"
    assert detect(None).kind == "none"  # type: ignore[arg-type]
    assert detect("\r\n\t ").kind == "none"


def test_sender_without_userid():
    assert detect("打卡").credits == (Credit(None, None),)


# ---------------------------------------------------------------------------------------------------
# chains: parsing


def test_sample_chain():
    text = (
        "@打卡助手 #接龙\n11月24日 更文打卡 伙伴们加油💪\n例 名字 已更/未更 笔记链接\n\n"
        "1. 小鹿 已更 http://xhslink.com/a/Qw12Er\n2. 阿青 已更 第5天\n3. Momo 已更"
    )
    c = parse_chain(text)
    assert c == Chain(
        "#接龙",
        ["11月24日 更文打卡 伙伴们加油💪"],
        "名字 已更/未更 笔记链接",
        (
            ChainEntry(1, "小鹿", "已更 http://xhslink.com/a/Qw12Er", True),
            ChainEntry(2, "阿青", "已更 第5天", True),
            ChainEntry(3, "Momo", "已更", True),
        ),
    )


def test_shared_chain_sample():
    text = (SAMPLES / "chain-example.txt").read_text(encoding="utf-8")
    c = parse_chain(text)
    assert c is not None and c.template and c.entries
    assert all(e.done and e.name for e in c.entries)
    assert not any(e.name == "名字" for e in c.entries)
    first = c.entries[0]
    d = detect(text, sender_userid="u1", sender_name=first.name)
    assert d.kind == "chain" and d.credits[0].userid == "u1"
    d = detect(text, sender_is_leader=True, members={e.name: f"u{e.number}" for e in c.entries})
    assert [x.userid for x in d.credits] == [f"u{e.number}" for e in c.entries]


@pytest.mark.parametrize("sep", [".", "．", "、", ")", "）", "。", ":", "：", " ", ""])
def test_entry_separators(sep):
    space = " " if sep != "" else " "
    text = f"#接龙\n主题\n1{sep}{space}小鹿 已更\n2{sep}阿青 已更\n３{sep} Momo 已更"
    if sep == "":
        text = "#接龙\n主题\n1 小鹿 已更\n2 阿青 已更\n3 Momo 已更"
    c = parse_chain(text)
    assert c is not None
    assert [(e.number, e.name, e.content) for e in c.entries] == [
        (1, "小鹿", "已更"),
        (2, "阿青", "已更"),
        (3, "Momo", "已更"),
    ], c
    assert c.topic == ["主题"]


def test_continuation_lines():
    c = parse_chain("#接龙\n今日更文\n1. 小鹿 已更\n今天写了探店\nhttp://xhslink.com/a/1\n\n2. 阿青 未更\n晚上补")
    assert c.entries == (
        ChainEntry(1, "小鹿", "已更\n今天写了探店\nhttp://xhslink.com/a/1", True),
        ChainEntry(2, "阿青", "未更\n晚上补", False),
    )


@pytest.mark.parametrize(
    "status,done",
    [
        ("已更", True),
        ("", True),
        ("未更", False),
        ("未完成", False),
        ("没更", False),
        ("未打卡", False),
        ("请假", False),
        ("還沒更", False),
        ("❌", False),
        ("已更/未更", False),
        ("已完成 ✅", True),
    ],
)
def test_entry_done(status, done):
    c = parse_chain(f"#接龙\n1. 小鹿 {status}".rstrip())
    assert c.entries[0].done is done


@pytest.mark.parametrize("sep", ["- - - -", "------", "- - - - - - - - - - - - - - -", "－－－－"])
def test_quoted_chain_is_ignored(sep):
    text = f"#接龙\n主题\n1. 小鹿 已更\n2. 阿青 已更\n{sep}\n#接龙\n1. 小鹿 已更\n2. 阿青 已更\n3. Momo 已更"
    c = parse_chain(text)
    assert [e.name for e in c.entries] == ["小鹿", "阿青"]
    # a reply that quotes a chain is no chain
    assert parse_chain(f"好的\n{sep}\n#接龙\n1. 小鹿 已更") is None
    assert detect(f"收到\n{sep}\n#接龙\n1. 小鹿 已更", sender_name="小鹿").kind == "none"
    assert cut_quote(f"a\r\n{sep}\r\nb") == "a"


def test_template_line_is_never_an_entry():
    c = parse_chain("#接龙\n例 名字 已更/未更 笔记链接\n1. 小鹿 已更")
    assert c.template == "名字 已更/未更 笔记链接"
    assert [e.name for e in c.entries] == ["小鹿"]
    c = parse_chain("#接龙\n例：1. 名字 已更\n1. 小鹿 已更")
    assert c.template == "1. 名字 已更"
    assert [e.name for e in c.entries] == ["小鹿"]
    # numbered rules in the topic, then the template, then the entries
    c = parse_chain("#接龙\n1. 每天一篇\n2. 带话题\n例 名字 已更\n1. 小鹿 已更\n2. 阿青 已更")
    assert c.topic == ["1. 每天一篇", "2. 带话题"]
    assert [e.name for e in c.entries] == ["小鹿", "阿青"]
    # "例会" is a word, not a template
    c = parse_chain("#接龙\n例会后打卡\n1. 小鹿 已更")
    assert c.template is None and c.topic == ["例会后打卡"]


@pytest.mark.parametrize(
    "first",
    [
        "#接龙",
        "#接龍",
        "#Group Note",
        "#group note",
        "#GROUP NOTE",
        "＃接龙",
        "@打卡助手 #接龙",
        "@打卡助手\u2005#接龙",
        "@打卡助手#接龙",
        "  #接龙  ",
        "@打卡助手 @小王 #接龙",
    ],
)
def test_headers(first):
    c = parse_chain(f"\n{first}\r\n主题\r\n1. 小鹿 已更\r\n")
    assert c is not None, first
    assert c.header.lstrip("#＃").replace(" ", "").lower() in ("接龙", "接龍", "groupnote")
    assert c.topic == ["主题"]
    assert c.entries == (ChainEntry(1, "小鹿", "已更", True),)


def test_header_rest_is_a_topic_line():
    c = parse_chain("#接龙 11月24日 更文打卡\n1. 小鹿 已更")
    assert c.topic == ["11月24日 更文打卡"]


@pytest.mark.parametrize(
    "text",
    ["接龙\n1. 小鹿", "打卡\n#接龙\n1. 小鹿 已更", "今天 #接龙 吗", "#接力\n1. a", "", "   ", "#", "@小王 你看 #接龙"],
)
def test_not_chains(text):
    assert parse_chain(text) is None


def test_chain_without_entries():
    c = parse_chain("#接龙\n11月24日 更文打卡\n例 名字 已更")
    assert c == Chain("#接龙", ["11月24日 更文打卡"], "名字 已更", ())


def test_entry_numbering():
    # times and decimals in the topic are not entries; a number that does not follow on continues the entry
    c = parse_chain("#接龙\n21:00前完成\n1.5倍努力\n1. 小鹿 已更\n写了 3 篇\n2024 年目标\n2. 阿青 已更\n2. Momo 已更")
    assert c.topic == ["21:00前完成", "1.5倍努力"]
    assert [(e.number, e.name) for e in c.entries] == [(1, "小鹿"), (2, "阿青"), (2, "Momo")]
    assert c.entries[0].content == "已更\n写了 3 篇\n2024 年目标"
    # empty slots are skipped; glued status words are split off the name
    c = parse_chain("#接龙\n1. 小鹿已更\n2.\n3. @阿青 已更")
    assert [(e.name, e.content) for e in c.entries] == [("小鹿", "已更"), ("阿青", "已更")]


# ---------------------------------------------------------------------------------------------------
# chains: credits

CHAIN = (
    "@打卡助手 #接龙\n11月24日 更文打卡\n例 名字 已更/未更 笔记链接\n\n"
    "1. 小鹿 已更 http://xhslink.com/a/Qw12Er\n2. 阿青 未更\n3. Momo 已更\n4. Momo Li 已更 xhslink.com/a/ML\n"
    "5. 大橙子 已更"
)
MEMBERS = {"小鹿": "u1", "阿青": "u2", "Momo": "u3", "Momo Li": "u4", "大橙子": "u5", "小白": "u6"}


def test_member_chain_credits_the_sender():
    d = detect(CHAIN, sender_userid="u1", sender_name="小鹿", members=MEMBERS)
    assert d.kind == "chain"
    assert d.credits == (Credit(None, "u1", ("http://xhslink.com/a/Qw12Er",)),)
    assert d.addressed


def test_member_chain_marked_not_done():
    d = detect(CHAIN, sender_userid="u2", sender_name="阿青", members=MEMBERS)
    assert d.kind == "chain" and d.credits == ()


def test_member_chain_without_own_entry():
    d = detect(CHAIN, sender_userid="u6", sender_name="小白", members=MEMBERS)
    assert d.kind == "chain" and d.credits == ()
    assert "no own entry" in d.reason


@pytest.mark.parametrize(
    "name,uid,expected",
    [
        ("momo", "u3", "u3"),  # case-insensitive
        ("Ｍｏｍｏ", "u3", "u3"),  # full-width
        ("Momo Li", "u4", "u4"),  # a name with a space
        ("Momo", "u3", "u3"),  # not taken for "Momo Li"
        ("大橙子🍊", "u5", "u5"),  # entry name contained in the display name
        ("橙子", "u5", "u5"),  # display name contained in the entry name
        ("", "u1", "u1"),  # no display name: found through members
    ],
)
def test_member_chain_name_matching(name, uid, expected):
    d = detect(CHAIN, sender_userid=uid, sender_name=name, members=MEMBERS)
    assert d.credits and d.credits[0].userid == expected, d


def test_member_chain_ambiguous_containment():
    text = "#接龙\n1. 小鹿鹿 已更\n2. 小鹿呀 已更"
    d = detect(text, sender_userid="u1", sender_name="小鹿")
    assert d.kind == "chain" and d.credits == () and "ambiguous" in d.reason
    # exact beats containment
    d = detect(text + "\n3. 小鹿 已更", sender_userid="u1", sender_name="小鹿")
    assert d.credits == (Credit(None, "u1"),)


def test_member_chain_last_entry_wins_and_userid_match():
    d = detect("#接龙\n1. 小鹿 已更\n2. 小鹿 未更", sender_userid="u1", sender_name="小鹿")
    assert d.credits == ()
    d = detect("#接龙\n1. xiaolu 已更", sender_userid="XiaoLu", sender_name="鹿鹿")
    assert d.credits == (Credit(None, "XiaoLu"),)


def test_leader_chain_credits_known_members():
    d = detect(CHAIN, sender_userid="lead", sender_name="组长", sender_is_leader=True, members=MEMBERS)
    assert d.kind == "chain"
    assert d.credits == (
        Credit("小鹿", "u1", ("http://xhslink.com/a/Qw12Er",)),
        Credit("Momo", "u3", ()),
        Credit("Momo Li", "u4", ("xhslink.com/a/ML",)),
        Credit("大橙子", "u5", ()),
    )


def test_leader_chain_case_insensitive_and_ambiguous():
    members = {"Momo": "u3", "MOMO": "u7", "Anna": "u8", "小鹿": "u1"}
    d = detect(
        "#Group Note\n1. momo 已更\n2. anna 已更\n3. Momo 已更\n4. 路人 已更\n5. 小鹿 请假",
        sender_is_leader=True,
        members=members,
    )
    # "momo" fits Momo and MOMO equally: skipped; "Momo" is an exact match; 路人 is unknown; 小鹿 is on leave
    assert [(c.name, c.userid) for c in d.credits] == [("anna", "u8"), ("Momo", "u3")]


def test_leader_chain_without_members():
    d = detect(CHAIN, sender_is_leader=True)
    assert d.kind == "chain" and d.credits == ()


def test_chain_keywords_do_not_make_a_checkin():
    # the topic says 打卡 but the sender has no entry: a chain, no credit
    d = detect("#接龙\n今天打卡\n1. 阿青 已更", sender_userid="u1", sender_name="小鹿")
    assert d.kind == "chain" and d.credits == ()


# ---------------------------------------------------------------------------------------------------
# render_chain


def test_render_format():
    text = render_chain(
        ["11月24日 更文打卡 伙伴们加油💪"],
        "名字 已更/未更 笔记链接",
        [("小鹿", "已更 http://xhslink.com/a/Qw12Er"), ("阿青", ""), ("Momo", "已更")],
    )
    assert text == (
        "#接龙\n11月24日 更文打卡 伙伴们加油💪\n例 名字 已更/未更 笔记链接\n\n"
        "1. 小鹿 已更 http://xhslink.com/a/Qw12Er\n2. 阿青\n3. Momo 已更"
    )
    assert render_chain([], None, []) == "#接龙"
    assert render_chain(["主题"], "名字 已更", []) == "#接龙\n主题\n例 名字 已更"


@pytest.mark.parametrize(
    "topic,template,entries",
    [
        (["11月24日 更文打卡"], "名字 已更/未更 笔记链接", [("小鹿", "已更 http://xhslink.com/a/1"), ("阿青", "未更")]),
        ([], None, [("小鹿", "已更")]),
        (["第一周", "目标：每周3更"], None, []),
        (["1. 每天一篇", "2. 带话题"], "名字 已更", [("Momo", "已更\n今天写了探店"), ("小鹿", "")]),
        (["主题"], "", [("a", "b")]),
    ],
)
def test_round_trip(topic, template, entries):
    c = parse_chain(render_chain(topic, template, entries))
    assert c.header == "#接龙"
    assert c.topic == topic
    assert c.template == template
    assert [(e.name, e.content) for e in c.entries] == entries
    assert [e.number for e in c.entries] == list(range(1, len(entries) + 1))


_word = st.text(alphabet=st.sampled_from("小鹿阿青橙子写笔记今天ABCxyz🍊"), min_size=1, max_size=8)
_content_line = st.lists(_word, min_size=1, max_size=4).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    topic=st.lists(_content_line, max_size=3),
    template=st.one_of(st.none(), _content_line),
    entries=st.lists(st.tuples(_word, st.lists(_content_line, max_size=3).map("\n".join)), max_size=12),
)
def test_round_trip_property(topic, template, entries):
    c = parse_chain(render_chain(topic, template, entries))
    assert c is not None
    assert c.topic == topic and c.template == template
    assert [(e.name, e.content) for e in c.entries] == entries


# ---------------------------------------------------------------------------------------------------
# robustness


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.text(max_size=2000),
    msgtype=st.sampled_from(["text", "image", "mixed", "voice", ""]),
    leader=st.booleans(),
    name=st.text(max_size=8),
)
def test_detect_never_raises_nor_backtracks(text, msgtype, leader, name):
    t0 = time.perf_counter()
    d = detect(
        text,
        msgtype,
        sender_userid="u1",
        sender_name=name,
        sender_is_leader=leader,
        members={name or "x": "u1", "小鹿": "u2"},
    )
    assert time.perf_counter() - t0 < 5.0  # catastrophic backtracking takes minutes, not seconds
    assert d.kind in ("checkin", "chain", "none")
    assert isinstance(d.reason, str) and d.reason
    strip_mentions(text)
    parse_chain(text)


_chainish = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "#接龙",
                "@打卡助手 #接龍",
                "#Group Note",
                "例 名字 已更",
                "- - - -",
                "",
                "已更",
                "未更",
                "1. 小鹿 已更",
                "2、阿青 未更",
                "3 Momo",
                "http://xhslink.com/a/1",
                "怎么打卡？",
                "还没打卡",
            ]
        ),
        st.text(max_size=30),
        st.builds(
            lambda n, s, r: f"{n}{s}{r}",
            st.integers(0, 12),
            st.sampled_from([".", "．", "、", ")", "）", " ", ""]),
            st.text(max_size=15),
        ),
    ),
    max_size=30,
).map("\n".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_chainish, leader=st.booleans())
def test_chainish_text_never_raises(text, leader):
    t0 = time.perf_counter()
    d = detect(text, sender_userid="u1", sender_name="小鹿", sender_is_leader=leader, members={"小鹿": "u1"})
    assert time.perf_counter() - t0 < 5.0  # catastrophic backtracking takes minutes, not seconds
    c = parse_chain(text)
    if c is not None:
        assert d.kind == "chain"
        assert all(isinstance(e.number, int) and e.name for e in c.entries)


ADVERSARIAL = [
    # URL trimming once recounted the brackets per character stripped: quadratic
    "已更 http://xhslink.com/a/Ab3(x)" + ")" * 20000,
    "已更 http://xhslink.com/a/Ab3[x]" + "]" * 20000,
    "已更 http://xhslink.com/a/Ab3" + ".)" * 10000,
    " ".join(f"http://xhslink.com/a/L{i:05d}" for i in range(1000)),
    "今天写了一篇笔记，" * 2300,  # once rescanned the sentence so far per clause: quadratic
    "打卡" * 5000,
    "还没" * 5000 + "打卡",
    "怎么" * 3000 + "打卡？" * 1000,
    "@" * 10000,
    "@a " * 3300,
    " " * 10000 + "打卡",
    "-" * 10000,
    "- " * 5000,
    "a." * 5000 + "xhslink.com/a/1",
    "http://" * 1400,
    "http://xhslink.com/" + "a" * 10000,
    "xhslink.com" * 900,
    "day" * 3000 + "1",
    "第" * 5000 + "天",
    "1. 小鹿 已更\n" * 800,
    "#接龙\n" + "".join(f"{i}. 名字{i} 已更 http://xhslink.com/a/{i}\n" for i in range(1, 600)),
    "#接龙\n" + "1. 小鹿 " + "已更\n" * 3000,
    "#接龙\n" + "例 " * 5000,
    "😀" * 10000,
    "，" * 10000,
    "打卡，" * 3000,
    "\r\n" * 5000,
    "补" * 10000,
    "第1天 " * 2000,
    "谢" * 10000 + "x",
    "谢" * 40 + "x",
    "辛苦了" * 20 + "好的好" * 10 + "x",
    "打卡 " * 3000 + "?",
    "打卡" * 3000 + "吗",
    "还没 " * 2000 + "打卡",
    "今天" * 2500 + "打卡",
    "1" * 20000,
    "三 " * 6000 + "个人跑完了",
    "刚" * 6000 + "发的笔记 http://xhslink.com/a/1",
    "「a：" + "b" * 20000 + "\n- - - -\n打卡",
    "《" * 5000 + "打卡" + "》" * 5000,
    "Lily" * 4000 + " 今天打卡",
    "打卡" + "的" * 10000,
]


@pytest.mark.parametrize("text", ADVERSARIAL, ids=lambda t: f"{t[:12]!r}x{len(t)}")
def test_long_text_does_not_backtrack(text):
    members = {f"名字{i}": f"u{i}" for i in range(1, 200)}
    for leader in (False, True):
        t0 = time.perf_counter()
        detect(text, sender_userid="u1", sender_name="名字1", sender_is_leader=leader, members=members)
        strip_mentions(text)
        parse_chain(text)
        assert time.perf_counter() - t0 < 5.0, len(text)  # a guard against catastrophic backtracking


def test_crlf_fullwidth_and_whitespace():
    assert detect("\r\n  ＠打卡助手　今日打卡✅\r\n").kind == "checkin"
    assert detect("ＤＡＹ　３").kind == "checkin"
    assert detect("怎么打卡？？？").kind == "none"
    assert detect("怎么打卡?").kind == "none"


def test_keywords_and_hosts_may_be_lists():
    assert detect("今日交卷", keywords=["交卷"]).kind == "checkin"  # type: ignore[arg-type]
    assert detect("https://v.douyin.com/x/", link_hosts=["douyin.com"]).kind == "checkin"  # type: ignore[arg-type]


def test_leader_who_is_a_member_is_credited_like_the_others():
    members = {"组长小A": "lead", "小鹿": "u1"}
    d = detect(
        "#接龙\n1. 组长小A 已更\n2. 小鹿 已更",
        sender_userid="lead",
        sender_name="组长小A",
        sender_is_leader=True,
        members=members,
    )
    assert [c.userid for c in d.credits] == ["lead", "u1"]


def test_today_word_lifts_an_earlier_negation_or_day():
    assert detect("昨天忘了 今天打卡").kind == "checkin"
    assert detect("昨天没更 今天已更").kind == "checkin"
    assert detect("今天还没打卡").kind == "none"
    assert detect("今天晚上打卡").kind == "none"
    assert detect("今晚打卡了").kind == "checkin"


# ---------------------------------------------------------------------------------------------------
# the labeled corpus (tests/data/detection_corpus): four writers, split by a stable hash of the id into a
# development part (rules are tuned on it) and a held-out part (reported by bench/detection.py only)

import importlib.util  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "detection_corpus_split", HERE / "data" / "detection_corpus" / "split.py"
)
corpus_split = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus_split)

# the dev figures of the trained scorer with the rules, on 36 writers (0.9997 / 0.983), less a small margin
DEV_PRECISION_FLOOR = 0.985
DEV_RECALL_FLOOR = 0.975


def _predicted(text: str) -> bool:
    d = detect(text, "text", sender_userid="u1", sender_name="小鹿")
    return d.kind == "checkin" or (d.kind == "chain" and bool(d.credits))


def test_corpus_split_is_stable_and_covers_every_hand_and_class():
    assert corpus_split.part_of("A-0001") == corpus_split.part_of("A-0001")
    dev, held = corpus_split.load("dev"), corpus_split.load("heldout")
    assert len(dev) + len(held) == len(corpus_split.load("all")) >= 1000
    assert not {r["id"] for r in dev} & {r["id"] for r in held}
    assert 0.5 < len(dev) / (len(dev) + len(held)) < 0.7
    assert {(r["hand"], r["cls"]) for r in dev} == {(r["hand"], r["cls"]) for r in held}


def test_corpus_dev_precision_and_recall():
    rows = corpus_split.load("dev")
    pairs = [(bool(r["label"]), _predicted(r["text"])) for r in rows]
    tp = sum(1 for y, p in pairs if y and p)
    fp = sum(1 for y, p in pairs if not y and p)
    fn = sum(1 for y, p in pairs if y and not p)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= DEV_PRECISION_FLOOR and recall >= DEV_RECALL_FLOOR, (precision, recall, fp, fn)


# ---------------------------------------------------------------------------------------------------
# classes of error (written for these tests, not taken from the corpus): (label, text, reason prefix)

SOMEONE_ELSE = [
    (0, "小琪今天又打卡了，好自律", "someone else"),
    (0, "阿坤已更，写得比我好多了", "someone else"),
    (0, "组长五点就打卡了，我还没起", "someone else"),
    (0, "我老公比我还积极，6点就起来打卡了", "someone else"),
    (0, "恭喜@豆豆 连续打卡50天！", "someone else"),
    (0, "Wow Lisa finished the whole book this week, impressive", "praise of someone else"),
    (0, "她今天也更了，封面超好看", "someone else"),
    (1, "群里大家都好拼，我也打个卡", "keyword"),
    (1, "看到阿坤已更，我今天也更了", "keyword"),
    # a capitalised Latin given name, a role, a number of people, a name with a title; the subject carries over
    (0, "Tom 今天6点就起了，太拼了", "someone else"),
    (0, "学委今天又刷完了三套题", "someone else"),
    (0, "看到群里已经有5个人跑完了", "someone else"),
    (0, "李姐早上练完太极，还是来打卡了", "someone else"),
    (0, "yyds！连续打卡一百天了", "praise of someone else"),
    # 他 in 吉他, 想 in 冥想 are no pronoun and no wish
    (1, "吉他今天练完了，左手还是疼", "done"),
    (1, "冥想打卡 第3天", "keyword"),
]
PLANS_AND_CONDITIONS = [
    (0, "等娃睡了再打卡", "plan or condition"),
    (0, "如果今晚能写完就打卡", "later"),
    (0, "先去健身，回来再打卡", "plan or condition"),
    (0, "准备午休时读一章，读完来打卡", "plan or condition"),
    (0, "I'll check in after dinner", "plan or condition"),
    (0, "初稿写好了，明天改完再发", "later"),
    (0, "练完后然后打卡", "plan or condition"),
    (1, "今晚打卡了", "keyword"),
    # a step after another act (a connector: 就/再/回来), unless that act is behind us (刚)
    (0, "跑完就来打卡", "plan or condition"),
    (0, "背完单词回来打卡", "plan or condition"),
    (1, "刚跑完就来打卡啦", "keyword"),
    # epistemic modals and habits scope over the act
    (0, "估计十点前能搞定", "later"),
    (0, "我通常6点起", "task or rule"),
    (0, "稿子改完了，到家再发", "later"),
]
LINKS_NOT_OWN = [
    (0, "同桌写的这篇超赞 http://xhslink.com/a/Xy12", "note link shared for others"),
    (0, "这是我上个月的旧笔记，不算今天的 http://xhslink.com/a/Xy13", "note link shared for others"),
    (0, "班长发的范文 http://xhslink.com/a/Xy14", "note link shared for others"),
    (0, "帮我闺蜜点个赞吧 http://xhslink.com/a/Xy15", "note link shared for others"),
    (0, "小桃的作业 http://xhslink.com/a/Xy16 大家去看看", "note link shared for others"),
    (0, "刷到一篇讲番茄钟的 http://xhslink.com/a/Xy17", "note link shared for others"),
    (0, "Found this on 小红书 http://xhslink.com/a/Xy18", "note link shared for others"),
    (1, "今天写的读书心得，分享给大家 http://xhslink.com/a/Xy19", "note link"),
    # when: "N units ago", a previous term; whose: for a friend; what for: a popular-science piece one read
    (0, "五天前画的 http://xhslink.com/a/Ab1", "note link shared for others"),
    (0, "上一期的作品合集 http://xhslink.com/a/Ab2", "note link shared for others"),
    (0, "帮同事拉个票 http://xhslink.com/a/Ab3", "note link shared for others"),
    (0, "护眼科普，值得一看 http://xhslink.com/a/Ab6", "note link shared for others"),
    # one's own today is read in its own sentence: an old-time word in another sentence does not count
    (1, "刚发的新笔记 http://xhslink.com/a/Ab4 以前一直不敢写这个话题", "note link"),
    (1, "今天整理的学习方法 http://xhslink.com/a/Ab5 大家可以参考", "note link"),
]
TASKS_AND_RULES = [
    (0, "本周作业：每天画一张速写，画完发群里打卡", "task or rule"),
    (0, "打卡说明：截图加字数即可", "no keyword"),
    (0, "阅读营规则：每日读20页，拍照就算打卡", "task or rule"),
    (0, "流程：写稿→发布→复制链接→打卡", "task or rule"),
    (0, "坚持打卡满30天返学费哦", "task or rule"),
    (0, "明天的任务是跑3公里，跑完截图打卡", "task or rule"),
    (0, "发布后在群里打卡，每篇不少于300字", "task or rule"),
    # a header (any task noun, English too, or "是这样的："), words to newcomers, permission and limit words
    (0, "新朋友看这里～每天跑步3公里，跑完截图就算打卡", "task or rule"),
    (0, "Day 3 task: 跟读 lesson 2 两遍，录音发群里", "task or rule"),
    (0, "群里的玩法是这样的：\n起床后拍张窗外，发群里打卡就行", "task or rule"),
    (0, "今日画题：一只杯子 限时15分钟 画完打卡", "task or rule"),
    # a keyword in quotes is mentioned, not said; a keyword before 的 + noun or 后 is no act
    (0, "打卡说明：用「打卡」两个字或者 ✅ 都可以", "task or rule"),
    (0, "连续打卡的纪录今天要断了", "no keyword"),
    (0, "完成后@打卡助手", "no keyword"),
]
DONE_WITHOUT_KEYWORD = [
    (1, "今天的三页摘抄写完了", "done"),
    (1, "口语录音录好了，两分钟", "done"),
    (1, "今天骑了20公里", "done"),
    (1, "刚刚练完瑜伽", "done"),
    (1, "5:50 起的，天还没亮", "done"),
    (1, "Finished today's vocab list", "done"),
    (1, "第六章看完啦", "done"),
    (0, "第六章还没看完", "negated"),
    (0, "她今天画完了三张", "someone else"),
    # the whole class of practice verbs and completion complements (完/好/出来/通/过/上去), sleep as well as waking
    (1, "今天的两道题都调通了", "done"),
    (1, "算法题终于写出来了", "done"),
    (1, "今日作业交上去啦", "keyword"),
    (1, "今天唱了二十分钟音阶", "done"),
    (1, "今晚10点就上床了", "done"),
    (1, "今天 23:10 上床，比昨天早了半小时", "done"),
    (1, "11:58 卡点成功 今天的单词背完了", "done"),
    (1, "打卡✅ 今天读完《为什么要睡觉》第二章", "keyword"),
    (0, "6:30前起床，起来后在群里说一声", "no keyword"),
]
MISSPELLED = [
    (1, "打咔 今天读了一章", "keyword"),
    (1, "打qia～", "keyword"),
    (1, "da卡 跑步5公里", "keyword"),
    (1, "DK 单词50个", "keyword"),
    (1, "打个咔啦", "keyword"),
    (1, "打kaaa 起床啦", "keyword"),
    (1, "Da Ka ✍️", "keyword"),
    (0, "还没打咔", "negated"),
    (0, "明天再打qia", "later"),
    (1, "哒卡 今天练了半小时琴", "keyword"),
    (1, "达卡～", "keyword"),
    (1, "大卡 22点就睡了", "keyword"),
    # a calorie count is no 打卡 (a diet camp's meal log with its calories may be a check-in: not this table's case)
    (0, "一杯奶茶居然有500大卡", "no keyword"),
]
IN_TIME_AND_TODAY_MAKEUP = [
    (1, "赶在零点前打卡！今天的单词背完了", "keyword"),
    (1, "踩着点打卡😮‍💨", "keyword"),
    (1, "补个今天的卡，早上就跑完了", "today's make-up"),
    (1, "今天的卡补上，白天一直忘了发", "today's make-up"),
    (1, "补一下今天的卡 中午练过了", "today's make-up"),
    (1, "还有两分钟，赶紧打卡", "keyword"),
    (1, "今天的份补上！", "today's make-up"),
    (0, "补一下昨天的卡", "makeup"),
    (0, "补周三的卡可以吗", "makeup"),
    (1, "今天的卡差点忘了，补上：跑步5公里", "today's make-up"),
    (1, "补一下今天的卡\n写的是昨天那本书的后半部分", "today's make-up"),
    (1, "ddl前打卡 今天的单词背完了", "keyword"),
]
# Cantonese and HK written forms (咗 = 了, 冇 = 没, 聽日 = 明天, 尋日 = 昨天, 而家 = 现在, 搞掂 = 搞定), and replies
# under a quoted message (「name：...」 above the separator: the reply is what follows it)
DIALECT_AND_REPLIES = [
    (1, "搞掂 今日嘅功課做完咗", "keyword"),
    (0, "聽日先打卡啦 今日好攰", "later"),
    (0, "尋日冇打卡 而家補返", "makeup"),
    (0, "今日打咗卡未呀", "question"),
    (1, "「小米：今天的跑步打卡了」\n- - - -\n我也跑完了 5公里", "done"),
    (0, "「小米：跑完了」\n- - - -\n太强了吧", "no keyword"),
    (0, "「阿豪：今天谁读完了？」\n- - - -\n我还没读完", "negated"),
]
ERROR_CLASSES = {
    "someone else": SOMEONE_ELSE,
    "plans and conditions": PLANS_AND_CONDITIONS,
    "links not own": LINKS_NOT_OWN,
    "tasks and rules": TASKS_AND_RULES,
    "done without keyword": DONE_WITHOUT_KEYWORD,
    "misspelled": MISSPELLED,
    "in time and today's make-up": IN_TIME_AND_TODAY_MAKEUP,
    "dialect and replies": DIALECT_AND_REPLIES,
}
CLASS_CASES = [(cls, *case) for cls, cases in ERROR_CLASSES.items() for case in cases]


def test_error_class_tables_are_big_enough():
    for cls, cases in ERROR_CLASSES.items():
        assert len(cases) >= 6, cls
    texts = [c[2] for c in CLASS_CASES]
    assert len(texts) == len(set(texts))


@pytest.mark.parametrize("cls,label,text,reason", CLASS_CASES, ids=[f"{c[0]}:{c[2][:20]}" for c in CLASS_CASES])
def test_error_classes(cls, label, text, reason):
    d = detect(text, sender_userid="u1", sender_name="小鹿")
    assert d.kind == ("checkin" if label else "none"), f"{cls}: {text!r}: {d}"
    assert d.reason.startswith(reason), f"{cls}: {text!r}: {d.reason}"
    assert not d.unsure


def test_unsure_done_sentence():
    for text in ("看完了", "写好了", "画完啦"):
        d = detect(text, sender_userid="u1")
        assert d.kind == "none" and d.unsure and d.credits == () and d.reason.startswith("unsure"), d
    assert detect("今天的两章读完啦").unsure is False
    assert detect("还没打卡").unsure is False
    assert detect("看完了 http://xhslink.com/a/Xy20").kind == "checkin"
    # a check-in said for a weekday: today may be that day, so the member is asked
    for text in ("周六打卡✅", "礼拜三的已更了"):
        d = detect(text, sender_userid="u1")
        assert d.kind == "none" and d.unsure and d.reason.startswith("unsure, which day"), d
    assert detect("昨天打卡✅").unsure is False
