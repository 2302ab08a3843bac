"""End to end: encrypted robot callbacks → inbox → worker → Redis → `wecom-bot stats --json`,
with replies delivered to the simulator. Days cross midnight and a week boundary; WeCom's retries
of one MsgId, also concurrent, count once."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from wecom_bot import create_app
from wecom_bot.cli import main as cli
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import robot_xml, sign

TZ = ZoneInfo("Asia/Shanghai")
TOKEN, AES = "robotToken123", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
crypto = CallbackCrypto(TOKEN, AES, "")


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp())


@pytest.fixture
def camp(sim, env):
    env(
        WECOM_ROBOT_TOKEN=TOKEN,
        WECOM_ROBOT_ENCODING_AES_KEY=AES,
        GROUP_XHS01_MEMBERS="xiaolu,aqing,momo",
        GROUP_XHS01_WEEKLY_GOAL="3",
    )
    client = create_app().test_client()

    def post(userid, name, text, when, msgid=None, msgtype="text"):
        s = sign(
            crypto, "/wecom/robot", robot_xml("wrchat01", userid, name, text, msgid=msgid, msgtype=msgtype), at(when)
        )
        res = client.post(s.path, data=s.body)
        assert res.status_code == 200, res.data
        return res

    post.client = client
    return post


def stats(capsys, date: str) -> dict:
    capsys.readouterr()
    assert cli(["stats", "xhs01", "--date", date, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    return {m["userid"]: m for m in data["members"]}


def group_texts(sim) -> list[str]:
    return [m["content"] for m in sim.state.sent_messages() if m.get("channel") == "robot"]


def test_a_week_of_checkins_through_encrypted_callbacks(camp, sim, capsys):
    camp("xiaolu", "小鹿", "@打卡助手 打卡", "2026-11-23 09:00:00", msgid="A1")
    camp("aqing", "阿青", "@打卡助手 已更 http://xhslink.com/a/Qw12Er", "2026-11-23 10:00:00", msgid="A2")
    # WeCom retries one MsgId three times, two of them at once
    threads = [
        threading.Thread(target=camp, args=("momo", "Momo", "@打卡助手 打卡", "2026-11-23 23:59:59", "A3"))
        for _ in range(3)
    ]
    [t.start() for t in threads]
    [t.join() for t in threads]
    camp("momo", "Momo", "@打卡助手 日更完成", "2026-11-24 00:00:01", msgid="A4")  # next day, 2 s later
    camp("xiaolu", "小鹿", "@打卡助手 今日打卡✅", "2026-11-24 08:00:00", msgid="A5")
    camp("xiaolu", "小鹿", "@打卡助手 打卡", "2026-11-24 20:00:00", msgid="A6")  # twice a day counts once

    day1 = stats(capsys, "2026-11-23")
    assert {u: (m["checked_in"], m["total"]) for u, m in day1.items()} == {
        "xiaolu": (True, 1),
        "aqing": (True, 1),
        "momo": (True, 1),
    }
    day2 = stats(capsys, "2026-11-24")
    assert day2["momo"]["streak"] == 2 and day2["momo"]["week_count"] == 2
    assert day2["xiaolu"]["streak"] == 2 and day2["xiaolu"]["total"] == 2
    assert day2["aqing"]["streak"] == 1 and not day2["aqing"]["checked_in"]  # still open today
    assert stats(capsys, "2026-11-25")["aqing"]["streak"] == 0

    # Sunday and the next Monday: the week count starts again, the streak goes on
    for d in range(25, 31):
        camp("xiaolu", "小鹿", "@打卡助手 打卡", f"2026-11-{d:02d} 21:00:00")
    sunday, monday = stats(capsys, "2026-11-29"), stats(capsys, "2026-11-30")
    assert sunday["xiaolu"]["week_count"] == 7 and sunday["xiaolu"]["week_goal"] == 3
    assert monday["xiaolu"]["week_count"] == 1 and monday["xiaolu"]["streak"] == 8
    assert monday["xiaolu"]["longest_streak"] == 8 and monday["xiaolu"]["total"] == 8

    texts = group_texts(sim)
    assert sum("Momo 打卡成功" in t for t in texts) == 2  # one reply per counted day, none for retries
    assert any(t.startswith("✅ 小鹿 打卡成功｜连续 1 天") and "本周 1/3" in t for t in texts)
    assert any("今天已经打过卡" in t for t in texts)


def test_unrecognised_mention_gets_a_hint_and_counts_nothing(camp, sim, capsys):
    camp("xiaolu", "小鹿", "@打卡助手 怎么打卡呀？", "2026-11-23 09:00:00")
    assert not stats(capsys, "2026-11-23")["xiaolu"]["checked_in"]
    assert any("打卡" in t and "帮助" in t for t in group_texts(sim))


def test_robot_added_to_a_group_posts_a_welcome(camp, sim):
    s = sign(
        crypto,
        "/wecom/robot",
        robot_xml("wrchat01", "leader1", "婷婷", msgtype="event", event="add_to_chat"),
        at("2026-11-23 09:01:00"),
    )
    assert camp.client.post(s.path, data=s.body).status_code == 200
    assert sum("我是打卡助手" in t for t in group_texts(sim)) == 1


def test_unknown_chat_is_reported_to_the_admins_once(camp, sim):
    for i in range(3):
        s = sign(crypto, "/wecom/robot", robot_xml("wrUNKNOWN", "x1", "陌生人", "打卡"), at("2026-11-23 09:00:00") + i)
        assert camp.client.post(s.path, data=s.body).status_code == 200
    reports = [m for m in sim.state.sent_messages() if "wrUNKNOWN" in m.get("content", "")]
    assert len(reports) == 1 and reports[0].get("touser") == ["admin1"]


def test_a_leader_chain_credits_every_known_member(camp, sim, capsys):
    camp("xiaolu", "小鹿", "@打卡助手 打卡", "2026-11-23 08:00:00")
    camp("aqing", "阿青", "@打卡助手 打卡", "2026-11-23 08:05:00")
    chain = "@打卡助手 #接龙\n11月24日 更文打卡\n例 名字 已更/未更 笔记链接\n\n1. 小鹿 已更\n2. 阿青 未更\n3. Momo 已更"
    camp("leader1", "婷婷", chain, "2026-11-24 09:00:00")
    day = stats(capsys, "2026-11-24")
    assert day["xiaolu"]["checked_in"] and not day["aqing"]["checked_in"]
    assert day["momo"]["checked_in"]  # never posted, but "Momo" is her configured userid
