"""Announcements (#通知) and newcomers, through the inbox worker and the tick, on the real Redis:
answers come from group posts and private 收到, the follow-up names exactly the silent, once."""

from __future__ import annotations

import itertools
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from events import text_event

from handlers import announce as a
from handlers import command_table, command_texts
from workers import announce, audit, commands, ingest, jobs, keys, streams

TZ = ZoneInfo("Asia/Shanghai")
TS = datetime(2024, 5, 8, 10, 0, tzinfo=TZ).timestamp()  # a Wednesday morning
HOUR = 3600
_ids = itertools.count(1)
NAMES = {"lulu": "小鹿", "qing": "阿青", "momo": "Momo", "wang1": "小王"}


@pytest.fixture
def s(env, r, tmp_path):
    settings = env(
        BOT_DATA_DIR=str(tmp_path / "var"),
        BOT_GROUPS="xhs01,xhs02",
        BOT_NOTICE_ACK_HOURS="4",
        GROUP_XHS01_CHAT_ID="wrchat01",
        GROUP_XHS01_NAME="小红书01",
        GROUP_XHS01_LEADERS="leader1",
        GROUP_XHS01_MEMBERS="lulu,qing,momo,wang1",
        GROUP_XHS02_CHAT_ID="wrchat02",
        GROUP_XHS02_NAME="小红书02",
        GROUP_XHS02_LEADERS="leader2",
        GROUP_XHS02_MEMBERS="ben",
    )
    r.hset(keys.names("xhs01"), mapping=NAMES)
    jobs.set_inline(True, defer=("outbox",))  # no sender: what the bot would send stays in the outbox
    return settings


def ev(text, uid, chat="", ts=TS, source=None, msgid=None, name=None):
    name = name or NAMES.get(uid, uid)
    return text_event(text, uid, chat=chat, ts=ts, msgid=msgid or f"a{next(_ids)}", name=name, source=source)


def process(r, *events):
    entries = [(f"{i + 1}-0", e) for i, e in enumerate(events)]
    assert ingest.process_batch(r, entries) == [e for e, _ in entries]


def outbox(r) -> list[dict]:
    return [json.loads(fields[b"p"]) for _id, fields in r.xrange(streams.OUTBOX.key)]


def to_user(r, uid) -> list[dict]:
    return [m for m in outbox(r) if m["to"] == "user" and uid in m["users"]]


# --- wording and parsing (no I/O) -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text,body",
    [
        ("#通知 明晚 8 点直播", "明晚 8 点直播"),
        ("#通知明晚直播", "明晚直播"),
        ("＃通知：周六线下见", "周六线下见"),
        ("通知 xhs01 明晚直播", "xhs01 明晚直播"),
        ("notice live at 8", "live at 8"),
        ("#通知", ""),
    ],
)
def test_split_header(text, body):
    assert a.split_header(text) == body


@pytest.mark.parametrize("text", ["大家好", "notices are good", "我收到通知了吗"])
def test_not_an_announcement(text):
    assert a.split_header(text) is None


@pytest.mark.parametrize("text", ["收到", "收到！", "好的", "+1", "👌", "OK", "收到🙏", "知道了～", "１"])
def test_acknowledgements(text):
    assert a.is_ack(text)


@pytest.mark.parametrize("text", ["打卡", "收到了吗？明天几点", "好的我明天打卡", "", "今天更了"])
def test_not_acknowledgements(text):
    assert not a.is_ack(text)


def test_glued_header_parses_as_the_command():
    assert command_table.parse("#通知明晚直播").word == "通知"
    assert command_table.parse("@打卡助手 ＃通知 明晚直播").word == "通知"
    assert "#通知" in command_texts.help_text(True) and "#通知" not in command_texts.help_text(False)


# --- the command -----------------------------------------------------------------------------------


def test_private_announcement_is_posted_to_the_group_and_tracked(r, s):
    out = commands.execute(r, s, ev("通知 明晚 8 点直播，记得来", "leader1", msgid="n1"), "通知 明晚 8 点直播，记得来")
    post = next(m for m in out if m["to"] == "group")
    assert post["id"] == "notice:n1" and post["group"] == "xhs01"
    assert "明晚 8 点直播，记得来" in post["content"] and "收到" in post["content"]
    confirm = next(m for m in out if m["to"] == "user")
    assert confirm["users"] == ["leader1"] and "4 小时" in confirm["content"]
    assert r.sismember(keys.ann_open("xhs01"), "n1")
    assert r.zscore(keys.ANN_DUE, "xhs01|n1") == pytest.approx(TS + 4 * HOUR)
    assert [e["what"] for e in audit.entries(r, "xhs01")] == ["notice"]
    # the same message processed again: same messages, nothing new
    again = commands.execute(
        r, s, ev("通知 明晚 8 点直播，记得来", "leader1", msgid="n1"), "通知 明晚 8 点直播，记得来"
    )
    assert [m["id"] for m in again] == [m["id"] for m in out]
    assert r.llen(keys.audit("xhs01")) == 1


def test_in_the_group_the_bot_asks_for_answers_without_reposting(r, s):
    out = commands.execute(
        r, s, ev("@打卡助手 #通知 周六线下见面会", "leader1", chat="wrchat01", msgid="n2"), "#通知 周六线下见面会"
    )
    post = next(m for m in out if m["to"] == "group")
    assert "周六线下见面会" not in post["content"] and "收到" in post["content"]
    assert r.sismember(keys.ann_open("xhs01"), "n2")


def _with_archive(env, tmp_path):
    from wecom_bot.sim.archive import generate_private_key, pem_of

    sdk = tmp_path / "libWeWorkFinanceSdk_C.so"
    sdk.write_bytes(b"")
    return env(
        WECOM_ARCHIVE_SDK_PATH=str(sdk),
        WECOM_ARCHIVE_SECRET="archive-secret-0123456789",
        WECOM_ARCHIVE_PRIVATE_KEY=pem_of(generate_private_key(1024)),
    )


@pytest.mark.parametrize("archive", [False, True], ids=["robot only", "with the message archive"])
def test_the_prompt_asks_for_an_at_unless_the_archive_sees_every_post(r, s, env, tmp_path, archive):
    """Without the message archive only posts that @ the robot reach the bot: the prompt says so."""
    if archive:
        s = _with_archive(env, tmp_path)
    out = commands.execute(r, s, ev("通知 明晚 8 点直播", "leader1", msgid="p1"), "通知 明晚 8 点直播")
    posted = next(m for m in out if m["to"] == "group")["content"]
    text = "@打卡助手 #通知 周六线下见面会"
    out = commands.execute(r, s, ev(text, "leader1", chat="wrchat01", msgid="p2"), "#通知 周六线下见面会")
    asked = next(m for m in out if m["to"] == "group")["content"]
    if archive:  # every plain post is seen: the wording of before
        assert (
            posted.endswith("看到的伙伴回个「收到」🙏") and asked == "📢 这是一条群通知，看到的伙伴回个「收到」就好🙏"
        )
    else:
        assert posted.endswith("看到的伙伴 @我 回个「收到」🙏") and "明晚 8 点直播" in posted
        assert asked == "📢 这是一条群通知，看到的伙伴 @我 回个「收到」就好🙏"
    for content in (posted, asked):
        assert len(content) < 60


def test_a_leader_of_several_groups_names_the_group(r, s, env):
    s = env(BOT_ADMINS="boss")
    out = commands.execute(r, s, ev("通知 明晚直播", "boss", msgid="n3"), "通知 明晚直播")
    assert len(out) == 1 and "xhs01" in out[0]["content"]  # asked which group
    out = commands.execute(r, s, ev("通知 xhs02 明晚直播", "boss", msgid="n4"), "通知 xhs02 明晚直播")
    assert next(m for m in out if m["to"] == "group")["group"] == "xhs02"
    assert r.sismember(keys.ann_open("xhs02"), "n4")
    out = commands.execute(r, s, ev("通知 周六休息 xhs01", "boss", msgid="n6"), "通知 周六休息 xhs01")
    post = next(m for m in out if m["to"] == "group")
    assert post["group"] == "xhs01" and "周六休息" in post["content"] and "xhs01" not in post["content"]


@pytest.mark.parametrize(
    "uid,text,answer",
    [
        ("lulu", "#通知 明天放假", "组长命令"),
        ("leader1", "#通知", "空"),
        ("leader2", "#通知 明晚直播", "组长"),
    ],
)
def test_refusals(r, s, uid, text, answer):
    out = commands.execute(r, s, ev("@打卡助手 " + text, uid, chat="wrchat01"), text)
    assert len(out) == 1 and answer in out[0]["content"]
    assert not r.exists(keys.ann_open("xhs01"))


def test_undo_stops_the_follow_up(r, s):
    commands.execute(r, s, ev("通知 明晚直播", "leader1", msgid="n5"), "通知 明晚直播")
    reply = commands.execute(r, s, ev("撤销", "leader1", ts=TS + 60), "撤销")[0]["content"]
    assert "撤" in reply
    assert not r.sismember(keys.ann_open("xhs01"), "n5")
    assert announce.follow_up(r, s, TS + 5 * HOUR) == 0
    assert not to_user(r, "leader1")


# --- answers and the follow-up ---------------------------------------------------------------------


def test_follow_up_names_exactly_the_silent_once(r, s):
    commands.execute(
        r, s, ev("档案 Momo 在职妈妈，晚上才有空", "leader1", ts=TS - 60), "档案 Momo 在职妈妈，晚上才有空"
    )
    process(r, ev("#通知 明晚 8 点直播", "leader1", msgid="ann"))
    process(
        r,
        ev("@打卡助手 打卡 今天更了", "lulu", chat="wrchat01", ts=TS + 60),  # any group post answers
        ev("收到", "qing", ts=TS + 120),  # a private 收到 answers
        ev("打卡", "momo", ts=TS + 180),  # a private check-in does not
        ev("@打卡助手 收到", "ben", chat="wrchat02", ts=TS + 200),
    )  # another group's member
    process(r, ev("@打卡助手 收到", "wang1", chat="wrchat01", ts=TS - 2 * HOUR))  # before the announcement
    assert r.smembers(keys.ann_acks("xhs01", "ann")) == {b"lulu", b"qing"}
    assert announce.follow_up(r, s, TS + 3 * HOUR) == 0  # not due yet
    assert announce.follow_up(r, s, TS + 4 * HOUR + 30) == 1
    (msg,) = [m for m in to_user(r, "leader1") if m["id"].startswith("notice-followup:")]
    assert "还没回应：Momo、小王" in msg["content"] and "2/4" in msg["content"]
    assert "小鹿" not in msg["content"] and "阿青" not in msg["content"]
    assert "📒 Momo 的档案：" in msg["content"] and "在职妈妈" in msg["content"]
    assert announce.follow_up(r, s, TS + 5 * HOUR) == 0  # once
    assert not r.sismember(keys.ann_open("xhs01"), "ann")


def test_a_replayed_batch_answers_once_and_everyone_answered(r, s):
    process(r, ev("#通知 周末休息", "leader1", msgid="ann2"))
    posts = [ev("@打卡助手 收到", uid, chat="wrchat01", ts=TS + 60) for uid in ("lulu", "qing", "momo", "wang1")]
    process(r, *posts)
    process(r, *posts)
    assert r.scard(keys.ann_acks("xhs01", "ann2")) == 4
    announce.follow_up(r, s, TS + 4 * HOUR + 30)
    (msg,) = [m for m in to_user(r, "leader1") if m["id"].startswith("notice-followup:")]
    assert "全都回应" in msg["content"]


def test_follow_up_waits_for_the_end_of_quiet_hours(r, s):
    late = datetime(2024, 5, 8, 21, 0, tzinfo=TZ).timestamp()
    process(r, ev("#通知 明早 7 点早读", "leader1", msgid="ann3", ts=late))
    assert announce.follow_up(r, s, late + 4 * HOUR + 30) == 0  # 01:00: quiet
    morning = datetime(2024, 5, 9, 8, 1, tzinfo=TZ).timestamp()
    assert announce.follow_up(r, s, morning) == 1


def test_the_archive_tracks_a_leaders_plain_announcement(r, s):
    event = ev("#通知 明晚直播", "leader1", chat="wrchat01", source="archive", msgid="ann4")
    out = commands.execute(r, s, event, "#通知 明晚直播")
    assert [m["to"] for m in out] == ["user"]  # no group post: it is there
    assert r.sismember(keys.ann_open("xhs01"), "ann4")
    member = ev("#通知 我也来通知", "lulu", chat="wrchat01", source="archive")
    assert commands.execute(r, s, member, "#通知 我也来通知") == []
    assert r.scard(keys.ann_open("xhs01")) == 1


def test_the_tick_follows_up(r, s):
    from workers import schedule

    process(r, ev("#通知 明晚直播", "leader1", msgid="ann5"))
    result = schedule.tick(TS + 4 * HOUR + 60)
    assert any("announcements: 1" in line for line in result["lines"])


# --- newcomers ---------------------------------------------------------------------------------------


def test_a_newcomer_is_confirmed_to_the_leaders_once(r, s):
    process(
        r,
        ev("@打卡助手 打卡", "stranger", chat="wrchat01", name="路人甲"),
        ev("@打卡助手 打卡", "lulu", chat="wrchat01"),
    )
    (msg,) = [m for m in to_user(r, "leader1") if m["id"].startswith("newcomer:")]
    assert "路人甲（stranger）" in msg["content"] and "移除 stranger xhs01" in msg["content"]
    assert "小鹿" not in msg["content"]
    process(r, ev("@打卡助手 打卡", "stranger", chat="wrchat01", name="路人甲", ts=TS + 86400))
    assert len([m for m in to_user(r, "leader1") if m["id"].startswith("newcomer:")]) == 1


def test_a_removed_member_is_not_announced_again(r, s):
    r.sadd(keys.removed("xhs01"), "gone")
    process(r, ev("@打卡助手 打卡", "gone", chat="wrchat01", name="离开的人"))
    assert not [m for m in to_user(r, "leader1") if m["id"].startswith("newcomer:")]
