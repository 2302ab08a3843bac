"""Leader and member commands (workers.commands) against the real Redis, in both channels:
private chat with the app (chat_id "") and @-ing the robot in the group."""

from __future__ import annotations

import itertools
import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from events import text_event

from handlers import command_table, command_texts
from handlers import commands as h
from handlers.calendar import day_index, week_start
from handlers.streaks import DayBits, goal_for_week, parse_goals
from workers import audit, commands, keys
from workers.register import member_ids

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 5, 8, 10, 0, tzinfo=TZ)  # a Wednesday
TS = NOW.timestamp()
TODAY = day_index(NOW.date())
WEEK = week_start(TODAY)
BASE = TODAY - 35

_ids = itertools.count(1)


@pytest.fixture
def s(env, r, tmp_path):
    settings = env(
        BOT_DATA_DIR=str(tmp_path / "var"),
        BOT_GROUPS="xhs01,xhs02",
        GROUP_XHS01_CHAT_ID="wrchat01",
        GROUP_XHS01_NAME="小红书01",
        GROUP_XHS01_LEADERS="leader1,multi",
        GROUP_XHS01_MEMBERS="lulu,qing,momo,wang1,wang2",
        GROUP_XHS02_CHAT_ID="wrchat02",
        GROUP_XHS02_NAME="小红书02",
        GROUP_XHS02_LEADERS="leader2,multi",
        GROUP_XHS02_MEMBERS="ben",
    )
    r.set(keys.base("xhs01"), BASE)
    r.set(keys.base("xhs02"), BASE)
    r.hset(
        keys.names("xhs01"), mapping={"lulu": "小鹿", "qing": "阿青", "momo": "Momo", "wang1": "小王", "wang2": "小王"}
    )
    r.hset(keys.names("xhs02"), mapping={"ben": "本本"})
    return settings


def ev(text, uid="leader1", chat="", msgid=None, ts=TS, name=None, source=None):
    return text_event(text, uid, chat=chat, ts=ts, msgid=msgid or f"m{next(_ids)}", name=name, source=source)


def strip(text):
    try:
        from handlers.chain import strip_mentions
    except ImportError:  # the router's helper; any leading-mention stripper will do here
        return " ".join(t for t in text.split() if not t.startswith("@"))
    return strip_mentions(text)


def run(r, s, text, **kw):
    event = ev(text, **kw)
    return commands.execute(r, s, event, strip(text))


def say(r, s, text, **kw):
    """The one text reply."""
    out = run(r, s, text, **kw)
    assert len(out) == 1, out
    return out[0]["content"]


def group_cmd(text):
    return "@打卡助手 " + text


def check_in(r, group, uid, day):
    r.setbit(keys.days(group, uid), day - BASE, 1)


def goal_now(r, group, uid, week=WEEK, default=3):
    return goal_for_week(parse_goals(r.hgetall(keys.goals(group, uid))), week, default)


def off_days(r, group, uid):
    return DayBits(r.get(keys.off(group, uid)), BASE).days()


def snapshot(r):
    """Everything but the audit trail, the exactly-once guards and the base day."""
    out = {}
    for k in r.scan_iter("wb:*"):
        name = k.decode()
        if name.endswith(":audit") or name.startswith("wb:cmd:") or name.endswith(":base"):
            continue
        t = r.type(k).decode()
        if t == "string":
            v = r.get(k).rstrip(b"\0")
            if v:
                out[name] = v
        elif t == "hash":
            out[name] = r.hgetall(k)
        elif t == "set":
            out[name] = r.smembers(k)
        elif t == "list":
            out[name] = r.lrange(k, 0, -1)
    return out


# --- channels and replies ------------------------------------------------------------------------


def test_private_reply_is_to_the_sender_with_a_deterministic_id(r, s):
    out = run(r, s, "目标 小鹿 4", msgid="abc")
    assert out == [
        {"id": "cmd:abc", "to": "user", "users": ["leader1"], "msgtype": "text", "content": out[0]["content"]}
    ]
    assert "小鹿" in out[0]["content"] and "4" in out[0]["content"]


def test_group_reply_goes_to_the_group_and_mentions_the_sender(r, s):
    out = run(r, s, group_cmd("目标 小鹿 4"), chat="wrchat01", msgid="g1", name="组长")
    assert out[0]["id"] == "cmd:g1" and out[0]["to"] == "group" and out[0]["group"] == "xhs01"
    assert out[0]["mentions"] == [["leader1", "组长"]]
    assert goal_now(r, "xhs01", "lulu") == 4


def test_english_aliases(r, s):
    assert "🎯" in say(r, s, "goal lulu 5")
    assert goal_now(r, "xhs01", "lulu") == 5
    assert "组长命令" in say(r, s, "help")
    assert "📋" in say(r, s, "week")


def test_not_a_command_or_not_our_channel(r, s):
    assert run(r, s, "打卡") == []
    assert run(r, s, "通知是什么") == []  # not `通知 …` (announcements: tests/test_announce.py)
    # the message archive sees every group post: a command there is not addressed to the bot
    assert run(r, s, "目标 小鹿 4", chat="wrchat01", source="archive") == []
    assert run(r, s, group_cmd("目标 小鹿 4"), chat="wrunknown") == []
    assert not r.exists(keys.goals("xhs01", "lulu"))


# --- help ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_help_leader_sees_leader_and_member_commands(r, s, chat):
    text = say(r, s, group_cmd("帮助") if chat else "帮助", chat=chat)
    for usage in (
        "目标 成员 N",
        "退阶 成员 N",
        "档案 成员 文字",
        "补卡 成员 YYYY-MM-DD",
        "本周",
        "导出",
        "撤销",
        "我的",
        "请假 天数",
        "免打扰",
        "不公开",
    ):
        assert usage in text
    assert len(text.encode()) <= 2048  # fits one robot message


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_help_member_sees_member_commands_only(r, s, chat):
    text = say(r, s, group_cmd("帮助") if chat else "帮助", uid="lulu", chat=chat)
    assert "我的" in text and "免打扰" in text and "请假 天数" in text
    assert "目标 成员" not in text and "导出" not in text and "补卡" not in text and "组长命令" not in text


def test_help_in_another_groups_chat_is_the_member_view(r, s):
    assert "组长命令" not in say(r, s, group_cmd("帮助"), uid="leader2", chat="wrchat01")


# --- authorization -------------------------------------------------------------------------------

LEADER_COMMANDS = [
    "目标 小鹿 4",
    "退阶 小鹿 2",
    "档案 小鹿 最近很忙",
    "删除档案 小鹿",
    "补卡 小鹿 2024-05-07",
    "请假 小鹿 2",
    "本周",
    "导出",
    "加入 newbie",
    "移除 小鹿",
    "暂停",
    "恢复",
]


@pytest.mark.parametrize("chat", ["", "wrchat01"])
@pytest.mark.parametrize("cmd", LEADER_COMMANDS)
def test_members_are_refused_leader_commands(r, s, chat, cmd):
    r.rpush(keys.notes("xhs01", "lulu"), json.dumps({"text": "x", "by": "leader1", "at": 1}))
    r.set(keys.paused("xhs01"), "1")
    before = snapshot(r)
    out = run(r, s, group_cmd(cmd) if chat else cmd, uid="qing", chat=chat)
    assert len(out) == 1 and out[0]["msgtype"] == "text"
    assert "组长" in out[0]["content"]
    assert snapshot(r) == before


def test_a_leader_of_another_group_is_refused(r, s):
    text = say(r, s, "本周 xhs01", uid="leader2")
    assert "不是「小红书01」的组长" in text and "小鹿" not in text
    assert "组长" in say(r, s, group_cmd("目标 小鹿 4"), uid="leader2", chat="wrchat01")
    assert not r.exists(keys.goals("xhs01", "lulu"))


def test_a_member_cannot_read_another_groups_register(r, s):
    for text in ("本周 xhs02", "本周", "导出 xhs02"):
        reply = say(r, s, text, uid="lulu")
        assert "组长" in reply and "本本" not in reply


def test_in_a_group_chat_only_that_group(r, s):
    assert "只能操作本群" in say(r, s, group_cmd("本周 xhs02"), uid="multi", chat="wrchat01")


def test_admin_is_allowed_everywhere(r, s):
    assert "组长命令" in say(r, s, "帮助", uid="admin1")
    assert "xhs01" in say(r, s, "本周", uid="admin1") and "xhs02" in say(r, s, "本周", uid="admin1")
    assert "小红书02" in say(r, s, "本周 xhs02", uid="admin1")
    assert "🎯" in say(r, s, group_cmd("目标 本本 2"), uid="admin1", chat="wrchat02")
    assert goal_now(r, "xhs02", "ben") == 2
    assert "🎯" in say(r, s, "目标 小鹿 5 xhs01", uid="admin1")
    assert goal_now(r, "xhs01", "lulu") == 5


def test_multi_group_leader_is_asked_which_group(r, s):
    text = say(r, s, "本周", uid="multi")
    assert "xhs01" in text and "xhs02" in text and "哪个群" in text
    text = say(r, s, "目标 小鹿 4", uid="multi")
    assert "哪个群" in text and not r.exists(keys.goals("xhs01", "lulu"))
    assert "🎯" in say(r, s, "目标 小鹿 4 xhs01", uid="multi")
    assert goal_now(r, "xhs01", "lulu") == 4
    assert "小红书02" in say(r, s, "本周 XHS02", uid="multi")
    # in a group chat the group is the chat's own
    assert "小红书01" in say(r, s, group_cmd("本周"), uid="multi", chat="wrchat01")


# --- names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["小鹿", "lulu", "@小鹿", "＠小鹿", "@lulu", "LULU"])
def test_a_member_is_named_by_display_name_userid_or_at_name(r, s, who):
    say(r, s, f"目标 {who} 2")
    assert goal_now(r, "xhs01", "lulu") == 2


def test_at_name_in_a_group_post(r, s):
    say(r, s, "@打卡助手 目标 @小鹿 6", chat="wrchat01")
    assert goal_now(r, "xhs01", "lulu") == 6
    say(r, s, "@打卡助手 移除 @阿青", chat="wrchat01")  # a trailing @name is kept too
    assert r.sismember(keys.removed("xhs01"), "qing")


def test_ambiguous_name_gets_a_question(r, s):
    before = snapshot(r)
    text = say(r, s, "目标 小王 4")
    assert "哪一位" in text and "wang1" in text and "wang2" in text
    assert snapshot(r) == before
    say(r, s, "目标 wang2 4")
    assert goal_now(r, "xhs01", "wang2") == 4 and goal_now(r, "xhs01", "wang1") == 3


def test_unknown_name_gets_a_question_never_a_guess(r, s):
    before = snapshot(r)
    text = say(r, s, "目标 小 4")  # matches 小鹿 and 小王 partly: ask
    assert "没找到「小」" in text and "小鹿" in text
    text = say(r, s, "补卡 鹿 2024-05-07")  # one partial match: still a question
    assert "没找到「鹿」" in text and "小鹿（lulu）" in text
    text = say(r, s, "请假 张三 2")
    assert "没找到「张三」" in text and "阿青" in text  # nobody close: the roster
    assert snapshot(r) == before


def test_names_with_spaces(r, s):
    r.hset(keys.names("xhs01"), "momo", "Momo Li")
    say(r, s, "目标 Momo Li 2")
    assert goal_now(r, "xhs01", "momo") == 2
    say(r, s, "档案 Momo Li 周末 出差")
    note = json.loads(r.lindex(keys.notes("xhs01", "momo"), 0))
    assert note["text"] == "周末 出差"


# --- goals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_goal_from_this_week(r, s, chat):
    check_in(r, "xhs01", "lulu", TODAY - 1)
    text = say(r, s, group_cmd("目标 小鹿 4") if chat else "目标 小鹿 4", chat=chat)
    assert "1/4" in text
    assert r.hget(keys.goals("xhs01", "lulu"), str(WEEK)) == b"4"


def test_goal_overrides_a_pending_downgrade(r, s):
    say(r, s, "退阶 小鹿 2")
    assert goal_now(r, "xhs01", "lulu", WEEK + 7) == 2
    say(r, s, "目标 小鹿 5")
    assert goal_now(r, "xhs01", "lulu", WEEK) == 5 and goal_now(r, "xhs01", "lulu", WEEK + 7) == 5


@pytest.mark.parametrize("n", ["0", "8", "x"])
def test_goal_out_of_range(r, s, n):
    text = say(r, s, f"目标 小鹿 {n}")
    assert "1" in text and not r.exists(keys.goals("xhs01", "lulu"))


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_downgrade_from_next_week(r, s, chat):
    say(r, s, "目标 小鹿 4")
    text = say(r, s, group_cmd("退阶 小鹿 2") if chat else "退阶 小鹿 2", chat=chat)
    assert "下周" in text and "2" in text
    assert goal_now(r, "xhs01", "lulu", WEEK) == 4
    assert goal_now(r, "xhs01", "lulu", WEEK + 7) == 2
    assert r.hget(keys.goals("xhs01", "lulu"), str(WEEK + 7)) == b"2"


def test_downgrade_refuses_kindly(r, s):
    text = say(r, s, "退阶 小鹿 3")  # the default goal is 3
    assert "比它小" in text and "目标 小鹿 3" in text
    assert "比它小" in say(r, s, "退阶 小鹿 5")
    text = say(r, s, "退阶 小鹿 0")
    assert "不退到 0" in text
    say(r, s, "目标 小鹿 1")
    assert "不能再退" in say(r, s, "退阶 小鹿 1")
    assert goal_now(r, "xhs01", "lulu", WEEK + 7) == 1
    assert r.hlen(keys.goals("xhs01", "lulu")) == 1


# --- profiles ------------------------------------------------------------------------------------


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_note_and_delete(r, s, chat):
    text = say(
        r,
        s,
        group_cmd("档案 小鹿 本周出差，周末补更") if chat else "档案 小鹿 本周出差，周末补更",
        chat=chat,
        name="鹿组长",
    )
    assert "小鹿" in text and "1 条" in text
    say(r, s, "档案 lulu 第二条\n换行也保留")
    notes = [json.loads(n) for n in r.lrange(keys.notes("xhs01", "lulu"), 0, -1)]
    assert notes[0] == {"text": "本周出差，周末补更", "by": "leader1", "by_name": "鹿组长", "at": int(TS)}
    assert notes[1]["text"] == "第二条\n换行也保留"
    text = say(r, s, group_cmd("删除档案 小鹿") if chat else "删除档案 小鹿", chat=chat)
    assert "2 条" in text and not r.exists(keys.notes("xhs01", "lulu"))
    assert "还没有档案" in say(r, s, "删除档案 小鹿")


def test_note_with_group_key(r, s):
    say(r, s, "档案 小鹿 状态不错 xhs01", uid="multi")
    assert json.loads(r.lindex(keys.notes("xhs01", "lulu"), 0))["text"] == "状态不错"


def test_empty_note(r, s):
    assert "空" in say(r, s, "档案 小鹿")


# --- credits and days off ------------------------------------------------------------------------


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_credit_a_missed_day(r, s, chat):
    text = say(r, s, group_cmd("补卡 小鹿 2024-05-06") if chat else "补卡 小鹿 2024-05-06", chat=chat)
    assert "5月6日" in text and "1/3" in text
    assert DayBits(r.get(keys.days("xhs01", "lulu")), BASE).days() == [day_index(date(2024, 5, 6))]
    assert "已经有打卡记录" in say(r, s, "补卡 小鹿 5月6日")


@pytest.mark.parametrize(
    "token, day",
    [
        ("2024/5/7", date(2024, 5, 7)),
        ("5-7", date(2024, 5, 7)),
        ("5月7日", date(2024, 5, 7)),
        ("昨天", date(2024, 5, 7)),
        ("今天", date(2024, 5, 8)),
    ],
)
def test_credit_date_forms(r, s, token, day):
    say(r, s, f"补卡 小鹿 {token}")
    assert day_index(day) in DayBits(r.get(keys.days("xhs01", "lulu")), BASE)


def test_credit_refuses_future_and_before_base_and_bad_dates(r, s):
    assert "还没到" in say(r, s, "补卡 小鹿 2024-05-09")
    old = date.fromordinal(date(2024, 5, 8).toordinal() - 36)
    assert "记录起点" in say(r, s, f"补卡 小鹿 {old.isoformat()}")
    assert "没看懂日期" in say(r, s, "补卡 小鹿 2024-13-01")
    assert not r.exists(keys.days("xhs01", "lulu"))


def test_credit_in_a_group_without_a_base_sets_one(r, s):
    r.delete(keys.base("xhs02"))
    say(r, s, "补卡 本本 2024-05-07", uid="leader2")
    assert int(r.get(keys.base("xhs02"))) == BASE
    assert day_index(date(2024, 5, 7)) in DayBits(r.get(keys.days("xhs02", "ben")), BASE)


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_leader_gives_days_off(r, s, chat):
    text = say(r, s, group_cmd("请假 小鹿 3") if chat else "请假 小鹿 3", chat=chat)
    assert "小鹿" in text and "3 天" in text and "5月8日—5月10日" in text
    assert off_days(r, "xhs01", "lulu") == [TODAY, TODAY + 1, TODAY + 2]


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_member_takes_days_off(r, s, chat):
    text = say(r, s, group_cmd("请假 2天") if chat else "请假 2天", uid="qing", chat=chat)
    assert "已请假 2 天" in text
    assert off_days(r, "xhs01", "qing") == [TODAY, TODAY + 1]
    assert "都请过假" in say(r, s, "请假 1", uid="qing")


@pytest.mark.parametrize("n", ["0", "15", "很多"])
def test_days_off_range(r, s, n):
    assert "1–14" in say(r, s, f"请假 {n}", uid="qing")
    assert not r.exists(keys.off("xhs01", "qing"))


def test_a_leader_who_forgets_the_name(r, s):
    assert "用法" in say(r, s, "请假 3")


# --- register, my week ---------------------------------------------------------------------------


def test_week_register(r, s):
    for d in (WEEK, WEEK + 1, WEEK + 2):
        check_in(r, "xhs01", "lulu", d)
    check_in(r, "xhs01", "qing", TODAY)
    r.setbit(keys.off("xhs01", "momo"), TODAY - BASE, 1)
    text = say(r, s, "本周")
    assert "小红书01" in text
    assert "✅ 小鹿 3/3｜连续 3 天" in text
    assert "⏳ 阿青 1/3｜连续 1 天" in text
    assert "Momo 0/3" in text and "请假中" in text
    assert "本周已达标 1/5 人" in text


def test_week_register_in_the_group_hides_private_members(r, s):
    check_in(r, "xhs01", "lulu", TODAY)
    r.hset(keys.prefs("xhs01"), "lulu:private", "1")
    public = say(r, s, group_cmd("本周"), chat="wrchat01")
    assert "小鹿" not in public and "一位同学" in public
    assert "小鹿" in say(r, s, "本周")  # the leader's private view names everyone


def test_removed_members_leave_the_register(r, s):
    say(r, s, "移除 Momo")
    assert "Momo" not in say(r, s, "本周")


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_my_week(r, s, chat):
    check_in(r, "xhs01", "lulu", TODAY - 1)
    check_in(r, "xhs01", "lulu", TODAY)
    say(r, s, "退阶 小鹿 2")
    text = say(r, s, group_cmd("我的") if chat else "me", uid="lulu", chat=chat)
    assert "小鹿" in text and "本周 2/3" in text and "连续 2 天" in text and "下周起 2 天" in text


def test_my_week_for_someone_without_a_group(r, s):
    assert "打卡群" in say(r, s, "我的", uid="stranger")
    assert "本周" in say(r, s, "我的", uid="leader1")


def test_my_week_across_groups(r, s):
    r.hset(keys.names("xhs02"), "lulu", "小鹿")
    text = say(r, s, "我的", uid="lulu")
    assert "小红书01" in text and "小红书02" in text


# --- preferences ---------------------------------------------------------------------------------


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_mute_and_private_toggle(r, s, chat):
    cmd = (lambda t: group_cmd(t)) if chat else (lambda t: t)
    assert "已开启免打扰" in say(r, s, cmd("免打扰"), uid="lulu", chat=chat)
    assert r.hget(keys.prefs("xhs01"), "lulu:mute") == b"1"
    assert "已关闭免打扰" in say(r, s, cmd("mute"), uid="lulu", chat=chat)
    assert r.hget(keys.prefs("xhs01"), "lulu:mute") is None
    assert "不再显示" in say(r, s, cmd("不公开"), uid="lulu", chat=chat)
    assert r.hget(keys.prefs("xhs01"), "lulu:private") == b"1"
    assert "照常显示" in say(r, s, cmd("不公开 关"), uid="lulu", chat=chat)
    assert r.hget(keys.prefs("xhs01"), "lulu:private") is None


def test_member_of_several_groups_is_asked(r, s):
    r.hset(keys.names("xhs02"), "lulu", "小鹿")
    assert "哪个群" in say(r, s, "免打扰", uid="lulu")
    say(r, s, "免打扰 xhs02", uid="lulu")
    assert r.hget(keys.prefs("xhs02"), "lulu:mute") == b"1" and not r.hget(keys.prefs("xhs01"), "lulu:mute")


# --- roster, pause -------------------------------------------------------------------------------


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_remove_and_add(r, s, chat):
    cmd = (lambda t: group_cmd(t)) if chat else (lambda t: t)
    assert "移出名单" in say(r, s, cmd("移除 阿青"), chat=chat)
    assert "qing" not in member_ids(r, s.group("xhs01"))
    assert "已经不在名单" in say(r, s, cmd("移除 阿青"), chat=chat)
    assert "已恢复" in say(r, s, cmd("加入 阿青"), chat=chat)
    assert "qing" in member_ids(r, s.group("xhs01"))
    assert "已经在名单" in say(r, s, cmd("加入 qing"), chat=chat)


def test_add_a_new_member_by_userid(r, s):
    text = say(r, s, "加入 newbie 新同学")
    assert "新同学" in text
    assert member_ids(r, s.group("xhs01"))["newbie"] == "新同学"
    assert "🎯" in say(r, s, "目标 新同学 2")
    assert "没找到「张三」" in say(r, s, "加入 张三")


def test_removed_member_needs_adding_back_first(r, s):
    say(r, s, "移除 小鹿")
    assert "先发「加入 小鹿」" in say(r, s, "目标 小鹿 4")


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_pause_and_resume(r, s, chat):
    cmd = (lambda t: group_cmd(t)) if chat else (lambda t: t)
    assert "已暂停" in say(r, s, cmd("暂停"), chat=chat)
    assert r.exists(keys.paused("xhs01"))
    assert "已经是暂停" in say(r, s, cmd("pause"), chat=chat)
    assert "已暂停" in say(r, s, "本周")
    assert "恢复" in say(r, s, cmd("恢复"), chat=chat)
    assert not r.exists(keys.paused("xhs01"))
    assert "正常进行" in say(r, s, cmd("resume"), chat=chat)


# --- export through the command ------------------------------------------------------------------


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_export_command_sends_the_file_to_the_sender(r, s, chat):
    from openpyxl import load_workbook

    check_in(r, "xhs01", "lulu", TODAY)
    out = run(r, s, group_cmd("导出") if chat else "导出", chat=chat, msgid="exp1")
    file_msg = out[0]
    assert file_msg["id"] == "cmd:exp1" and file_msg["msgtype"] == "file"
    assert file_msg["to"] == "user" and file_msg["users"] == ["leader1"]
    assert file_msg["file"]["name"] == "小红书01-打卡登记-2024-05-08.xlsx"
    wb = load_workbook(file_msg["file"]["path"])
    assert wb.sheetnames == ["学员目标／监督登记", "学员档案记录"]
    assert "小鹿" in [c.value for c in wb.worksheets[0]["A"]]
    if chat:
        assert out[1]["to"] == "group" and out[1]["id"] == "cmd:exp1:group" and "私信" in out[1]["content"]
    else:
        assert len(out) == 1


# --- undo ----------------------------------------------------------------------------------------

UNDOABLE = [
    "目标 小鹿 4",
    "退阶 小鹿 2",
    "档案 小鹿 新的一条",
    "删除档案 小鹿",
    "补卡 小鹿 2024-05-06",
    "请假 小鹿 3",
    "加入 newbie 新同学",
    "加入 阿青",
    "移除 小鹿",
    "暂停",
    "恢复",
]


@pytest.mark.parametrize("chat", ["", "wrchat01"])
@pytest.mark.parametrize("cmd", UNDOABLE)
def test_leader_undoes_each_kind_of_change(r, s, cmd, chat):
    r.hset(keys.goals("xhs01", "lulu"), str(WEEK - 7), "3")
    r.rpush(keys.notes("xhs01", "lulu"), json.dumps({"text": "旧记录", "by": "leader1", "at": 1}, ensure_ascii=False))
    r.sadd(keys.removed("xhs01"), "qing")
    r.setbit(keys.off("xhs01", "lulu"), TODAY - BASE, 1)  # one of the 3 days off is already off
    if cmd == "恢复":
        r.set(keys.paused("xhs01"), "1")
    before = snapshot(r)
    reply = say(r, s, cmd)
    assert snapshot(r) != before, reply
    c = (lambda t: group_cmd(t)) if chat else (lambda t: t)
    out = run(r, s, c("撤销"), chat=chat)
    assert len(out) == 1, out
    text = out[0]["content"]
    what = audit.entries(r, "xhs01")[-2]["what"]
    assert text.startswith("↩️ 已撤销：") and command_texts.undo_label(what, "").split(" ")[-1] in text
    if len(cmd.split()) > 1:
        assert cmd not in text  # the kind and the member, never the command's words
    profile = what in command_texts.PROFILE_CHANGES
    assert out[0]["to"] == ("user" if profile or not chat else "group")
    assert snapshot(r) == before
    assert "没有找到" in say(r, s, c("undo"), chat=chat)


def test_undo_names_the_kind_and_the_member_and_answers_profiles_privately(r, s):
    say(r, s, "档案 小鹿 在职妈妈，正在做抑郁症复诊，别在群里提")
    out = run(r, s, group_cmd("撤销"), chat="wrchat01", name="组长")
    assert [m["to"] for m in out] == ["user"] and out[0]["users"] == ["leader1"]
    assert out[0]["content"] == "↩️ 已撤销：给 小鹿 的一条档案"
    say(r, s, "目标 小鹿 4")
    assert say(r, s, group_cmd("撤销"), chat="wrchat01", name="组长") == "↩️ 已撤销：小鹿 的目标设置"


def test_undo_walks_back_one_change_at_a_time(r, s):
    say(r, s, "目标 小鹿 4")
    say(r, s, "目标 小鹿 5", ts=TS + 60)
    say(r, s, "撤销", ts=TS + 120)
    assert goal_now(r, "xhs01", "lulu") == 4
    say(r, s, "撤销", ts=TS + 180)
    assert goal_now(r, "xhs01", "lulu") == 3


def test_undo_is_per_leader(r, s):
    say(r, s, "目标 小鹿 4")
    assert "没有找到" in say(r, s, "撤销", uid="multi")  # multi made no change
    assert goal_now(r, "xhs01", "lulu") == 4


def test_undo_refuses_to_clobber_a_later_change(r, s):
    say(r, s, "目标 小鹿 4")
    say(r, s, "目标 小鹿 6 xhs01", uid="admin1", ts=TS + 60)
    text = say(r, s, "撤销", ts=TS + 120)
    assert "又被改过" in text
    assert goal_now(r, "xhs01", "lulu") == 6


def test_multi_group_leader_undoes_their_last_change_anywhere(r, s):
    say(r, s, "目标 小鹿 4 xhs01", uid="multi")
    say(r, s, "目标 本本 2 xhs02", uid="multi", ts=TS + 60)
    say(r, s, "撤销", uid="multi", ts=TS + 120)
    assert goal_now(r, "xhs02", "ben") == 3 and goal_now(r, "xhs01", "lulu") == 4
    say(r, s, "撤销", uid="multi", ts=TS + 180)
    assert goal_now(r, "xhs01", "lulu") == 3


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_member_undoes_todays_checkin(r, s, chat):
    check_in(r, "xhs01", "lulu", TODAY - 1)
    check_in(r, "xhs01", "lulu", TODAY)
    r.hset(keys.links("xhs01", TODAY), "lulu", "http://xhslink.com/a/1")
    text = say(r, s, group_cmd("撤销") if chat else "撤销", uid="lulu", chat=chat, name="小鹿")
    assert "撤回" in text
    days = DayBits(r.get(keys.days("xhs01", "lulu")), BASE)
    assert TODAY not in days and TODAY - 1 in days
    assert not r.hexists(keys.links("xhs01", TODAY), "lulu")
    assert "还没有打卡" in say(r, s, "撤销", uid="lulu")


def test_leader_undoes_own_checkin_with_an_argument(r, s):
    r.hset(keys.names("xhs01"), "leader1", "组长")
    check_in(r, "xhs01", "leader1", TODAY)
    say(r, s, "撤销 打卡")
    assert TODAY not in DayBits(r.get(keys.days("xhs01", "leader1")), BASE)


# --- exactly once --------------------------------------------------------------------------------


@pytest.mark.parametrize("chat", ["", "wrchat01"])
@pytest.mark.parametrize(
    "cmd, uid",
    [
        ("档案 小鹿 只记一次", "leader1"),
        ("免打扰", "lulu"),
        ("请假 小鹿 2", "leader1"),
        ("补卡 小鹿 2024-05-06", "leader1"),
        ("移除 小鹿", "leader1"),
        ("目标 小鹿 4", "leader1"),
    ],
)
def test_reprocessing_the_same_message_changes_nothing_twice(r, s, cmd, uid, chat):
    text = group_cmd(cmd) if chat else cmd
    first = run(r, s, text, uid=uid, chat=chat, msgid="dup1")
    after = snapshot(r)
    audit_len = r.llen(keys.audit("xhs01"))
    second = run(r, s, text, uid=uid, chat=chat, msgid="dup1")
    assert second == first  # same id and same words: the outbox sends it once
    assert snapshot(r) == after
    assert r.llen(keys.audit("xhs01")) == audit_len == 1


def test_reprocessing_an_undo_undoes_once(r, s):
    say(r, s, "目标 小鹿 4")
    say(r, s, "目标 小鹿 5", ts=TS + 60)
    first = run(r, s, "撤销", msgid="u1", ts=TS + 120)
    second = run(r, s, "撤销", msgid="u1", ts=TS + 120)
    assert first == second and goal_now(r, "xhs01", "lulu") == 4


def test_member_undo_is_exactly_once(r, s):
    check_in(r, "xhs01", "lulu", TODAY)
    run(r, s, "撤销", uid="lulu", msgid="u2")
    check_in(r, "xhs01", "lulu", TODAY)  # they check in again
    run(r, s, "撤销", uid="lulu", msgid="u2")  # the old undo, re-processed
    assert TODAY in DayBits(r.get(keys.days("xhs01", "lulu")), BASE)


# --- audit ---------------------------------------------------------------------------------------


def test_audit_records_who_when_why(r, s):
    say(r, s, "目标 小鹿 4", name="组长一")
    say(r, s, group_cmd("档案 小鹿 很努力"), chat="wrchat01", ts=TS + 60)
    say(r, s, "补卡 小鹿 2024-05-06 xhs01", uid="admin1", ts=TS + 120)
    say(r, s, "移除 阿青", ts=TS + 180)
    say(r, s, "撤销", ts=TS + 240)
    items = audit.entries(r, "xhs01")
    assert [e["what"] for e in items] == ["goal", "note", "credit", "remove", "undo"]
    assert [e["who"] for e in items] == ["leader1", "leader1", "admin1", "leader1", "leader1"]
    assert items[0]["at"] == int(TS) and items[0]["why"] == "目标 小鹿 4" and items[0]["target"] == "lulu"
    assert items[1]["why"] == "档案 小鹿 很努力"
    assert items[4]["undoes"] == items[3]["id"]
    lines = audit.lines(r, "xhs01", TZ)
    assert len(lines) == 5 and lines[0].startswith("2024-05-08 10:00  leader1  目标  → lulu  「目标 小鹿 4」")
    assert "(已撤销)" in lines[3] and "(已撤销)" not in lines[2]


def test_refusals_are_not_audited(r, s):
    say(r, s, "目标 小王 4")
    say(r, s, "目标 小鹿 4", uid="qing")
    say(r, s, "退阶 小鹿 5")
    assert r.llen(keys.audit("xhs01")) == 0


def test_cli_audit(r, s, capsys):
    from wecom_bot import cli

    say(r, s, "目标 小鹿 4")
    assert cli.main(["audit", "xhs01"]) == 0
    out = capsys.readouterr().out
    assert "leader1" in out and "目标 小鹿 4" in out
    assert cli.main(["audit", "xhs01", "--json"]) == 0
    entry = json.loads(capsys.readouterr().out.splitlines()[0])
    assert entry["who"] == "leader1" and entry["undo"]
    assert cli.main(["audit", "xhs02"]) == 0
    assert "no changes" in capsys.readouterr().out


# --- parsing -------------------------------------------------------------------------------------


def test_parse_and_values():
    p = command_table.parse("@打卡助手\u2005目标 @小鹿 4")
    assert p.word == "目标" and p.args == ("@小鹿", "4") and p.rest == "@小鹿 4"
    assert command_table.parse("打卡") is None and command_table.parse("@打卡助手") is None
    assert command_table.parse("GOAL lulu 3").word == "目标"
    assert [h.parse_number(t) for t in ("3", "３", "3天", "三", "两", "十", "十四", "x", "-1")] == [
        3,
        3,
        3,
        3,
        2,
        10,
        14,
        None,
        None,
    ]
    today = date(2024, 1, 2)
    assert h.parse_day("12-30", today) == date(2023, 12, 30)
    assert h.parse_day("2024年1月1日", today) == date(2024, 1, 1)
    assert h.parse_day("前天", today) == date(2023, 12, 31)
    assert h.parse_day("2024-02-30", today) is None


def test_every_command_and_role_has_one_handler():
    assert set(commands.COMMANDS) == set(command_table.SPECS)
    for word, spec in command_table.SPECS.items():
        assert set(commands.COMMANDS[word]) == set(spec.roles), word
        assert (spec.decide is None) == (len(spec.roles) == 1), word


def test_router_knows_every_command_word():
    router = pytest.importorskip("handlers.router")
    for word in command_table.ALIASES:
        assert router.command_word(f"@打卡助手 {word} x") is not None, word


def test_concurrent_processing_of_one_message_changes_once(r, s, redis_server):
    from concurrent.futures import ThreadPoolExecutor

    import redis as redis_mod

    def worker(_):
        client = redis_mod.Redis.from_url(redis_server.url)
        try:
            return commands.execute(
                client, s, ev("档案 小鹿 并发也只记一次", msgid="race1"), "档案 小鹿 并发也只记一次"
            )
        finally:
            client.close()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(worker, range(16)))
    assert r.llen(keys.notes("xhs01", "lulu")) == 1
    assert r.llen(keys.audit("xhs01")) == 1
    assert all(res == results[0] for res in results)


def test_concurrent_different_goal_changes_keep_a_consistent_undo(r, s, redis_server):
    from concurrent.futures import ThreadPoolExecutor

    import redis as redis_mod

    def worker(i):
        client = redis_mod.Redis.from_url(redis_server.url)
        try:
            commands.execute(client, s, ev(f"目标 小鹿 {i % 7 + 1}", msgid=f"g{i}", ts=TS + i), "")
        finally:
            client.close()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(worker, range(14)))
    # undoing every change, newest first, walks back to the default
    for i in range(14):
        assert "已撤销" in say(r, s, "撤销", ts=TS + 100 + i)
    assert goal_now(r, "xhs01", "lulu") == 3 and r.hlen(keys.goals("xhs01", "lulu")) == 0


@pytest.mark.parametrize("chat", ["", "wrchat01"])
def test_through_the_inbox_router(r, s, monkeypatch, chat):
    """The router turns the post into a Command and ingest calls execute() and posts its replies."""
    ingest = pytest.importorskip("workers.ingest")
    sent = []
    monkeypatch.setattr(ingest.outbound, "post_many", lambda _r, msgs: sent.extend(msgs))
    text = "@打卡助手\u2005移除 @阿青" if chat else "移除 @阿青"
    event = ev(text, chat=chat, msgid="inbox1")
    assert ingest.process_batch(r, [("1-0", event)]) == ["1-0"]
    assert r.sismember(keys.removed("xhs01"), "qing")
    assert [m["id"] for m in sent] == ["cmd:inbox1"] and "阿青" in sent[0]["content"]
    ingest.process_batch(r, [("2-0", event)])  # the same message again
    assert r.llen(keys.audit("xhs01")) == 1


def test_a_note_sent_in_the_group_is_answered_privately(r, s):
    out = run(r, s, group_cmd("档案 小鹿 在职妈妈，晚上才有空"), chat="wrchat01")
    assert [(m["to"], m.get("users")) for m in out] == [("user", ["leader1"])]
    assert "小鹿" in out[0]["content"] and "私聊" in out[0]["content"]
    assert "在职妈妈" not in out[0]["content"]
