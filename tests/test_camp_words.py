"""One camp's words: check-in keywords, note-link hosts and the 接龙 template, set per camp or group."""

from __future__ import annotations

from config.settings import load
from handlers import daily
from handlers.checkin import DEFAULT_LINK_HOSTS, detect, note_link_hosts

BASE = {
    "BOT_ENV_FILE": "/nonexistent",
    "BOT_GROUPS": "read01,xhs01",
    "GROUP_READ01_CHAT_ID": "c1",
    "GROUP_READ01_LEADERS": "lead",
    "GROUP_XHS01_CHAT_ID": "c2",
    "GROUP_XHS01_LEADERS": "lead",
}


def settings(**extra):
    return load({**BASE, **extra})


def test_defaults_are_the_built_in_words():
    s = settings()
    g = s.groups["read01"]
    assert g.keywords is None and g.link_hosts is None and g.chain_template == ""
    assert detect("今天已更 http://xhslink.com/a/x1", "text", link_hosts=g.link_hosts).kind == "checkin"


def test_plus_adds_to_the_defaults_and_a_group_can_replace_them():
    s = settings(BOT_CHECKIN_KEYWORDS="+读完了,已读", GROUP_XHS01_CHECKIN_KEYWORDS="更文")
    read, xhs = s.groups["read01"], s.groups["xhs01"]
    assert not s.problems
    assert detect("今天的书读完了", "text", keywords=read.keywords).kind == "checkin"
    assert detect("打卡", "text", keywords=read.keywords).kind == "checkin"  # defaults kept
    assert detect("今天的书读完了", "text", keywords=xhs.keywords).kind == "none"
    assert detect("更文", "text", keywords=xhs.keywords).kind == "checkin"
    # what is not a check-in stays so with the camp's own words
    assert detect("还没读完了", "text", keywords=read.keywords).kind == "none"
    assert detect("读完了吗？", "text", keywords=read.keywords).kind == "none"


def test_link_hosts():
    s = settings(BOT_LINK_HOSTS="+mp.weixin.qq.com", GROUP_XHS01_LINK_HOSTS="https://www.douyin.com/")
    read, xhs = s.groups["read01"], s.groups["xhs01"]
    assert note_link_hosts(read.link_hosts) == DEFAULT_LINK_HOSTS + ("mp.weixin.qq.com",)
    found = detect("https://mp.weixin.qq.com/s/abc", "text", link_hosts=read.link_hosts)
    assert found.kind == "checkin" and found.credits[0].note_links == ("https://mp.weixin.qq.com/s/abc",)
    assert detect("http://xhslink.com/a/x1", "text", link_hosts=xhs.link_hosts).kind == "none"
    assert detect("https://www.douyin.com/video/1", "text", link_hosts=xhs.link_hosts).kind == "checkin"


def test_a_groups_plus_adds_to_the_camps_hosts():
    s = settings(BOT_LINK_HOSTS="+mp.weixin.qq.com", GROUP_READ01_LINK_HOSTS="+douyin.com")
    assert note_link_hosts(s.groups["read01"].link_hosts) == DEFAULT_LINK_HOSTS + ("mp.weixin.qq.com", "douyin.com")
    assert note_link_hosts(s.groups["xhs01"].link_hosts) == DEFAULT_LINK_HOSTS + ("mp.weixin.qq.com",)
    s = settings(BOT_LINK_HOSTS="a.com", GROUP_READ01_LINK_HOSTS="+b.com")  # over a camp's own list
    assert note_link_hosts(s.groups["read01"].link_hosts) == ("a.com", "b.com")
    assert note_link_hosts(s.groups["xhs01"].link_hosts) == ("a.com",)


def test_bad_values_name_the_variable():
    s = settings(
        BOT_LINK_HOSTS="not a host",
        GROUP_READ01_CHECKIN_KEYWORDS="+ ,",
        BOT_CHAIN_TEMPLATE="例" * 61,
        GROUP_XHS02_LINK_HOSTS="a.com",
    )
    text = "\n".join(s.problems)
    assert "BOT_LINK_HOSTS='not a host'" in text
    assert "GROUP_READ01_CHECKIN_KEYWORDS" in text
    assert "BOT_CHAIN_TEMPLATE" in text
    assert "GROUP_XHS02_LINK_HOSTS: group 'xhs02' is not listed in BOT_GROUPS" in text


def test_the_morning_chain_uses_the_camps_template():
    s = settings(BOT_CHAIN_TEMPLATE="名字 读了第几章", GROUP_XHS01_CHAIN_TEMPLATE="名字 已更 链接")
    assert s.groups["read01"].chain_template == "名字 读了第几章"
    text = daily.chain_text(2000, None, [("小鹿", "第三章")], s.groups["read01"].chain_template)
    assert "例 名字 读了第几章" in text and "1. 小鹿 第三章" in text
    assert "例 名字 已更 链接" in daily.chain_text(2000, None, [], s.groups["xhs01"].chain_template)


def test_the_inbox_worker_uses_the_groups_words(env, r):
    from workers import ingest, jobs, keys

    env(**{k: v for k, v in BASE.items() if k != "BOT_ENV_FILE"}, BOT_CHECKIN_KEYWORDS="+读完了")
    jobs.set_inline(True, defer=("outbox",))
    event = {
        "source": "robot",
        "msgid": "w1",
        "chat_id": "c1",
        "chat_type": "group",
        "userid": "lulu",
        "name": "小鹿",
        "alias": "",
        "msgtype": "text",
        "text": "@打卡助手 今天的书读完了",
        "has_image": False,
        "event": "",
        "ts": 1715133600.0,
    }
    assert ingest.process_batch(r, [("1-0", event)]) == ["1-0"]
    assert r.exists(keys.days("read01", "lulu"))
