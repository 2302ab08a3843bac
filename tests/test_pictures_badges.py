"""勋章 (badges) against the WeCom simulator: one a member and local day, exactly once under retries,
in the group only while the robot keeps room beyond the reserve (else privately), never in the group
for a 不公开 member, never privately to a member with 免打扰. The week played end to end through
callbacks and ticks is in tests/test_pictures_flow.py."""

from __future__ import annotations

import json
import time
from datetime import date

import pytest

from handlers.calendar import day_index
from workers import keys, outbound
from workers.pictures import badges, fonts

FONT = fonts.find_font()
pytestmark = pytest.mark.skipif(FONT is None, reason="no CJK font: scripts/setup installs fonts-wqy-microhei")

DAY = day_index(date(2025, 11, 25))  # a Tuesday


@pytest.fixture
def settings(sim, env):
    return env(BOT_FONT_PATH="", GROUP_XHS01_MEMBERS="xiaolu:小鹿,momo:Momo")


def earned(uid="xiaolu", name="小鹿", msgid="m1", to="group", kind=badges.STREAK, n=3, prev=0):
    c = badges.candidate("xhs01", uid, name, kind, n, prev, DAY, msgid, to)
    assert c is not None
    return c


def sent_images(sim) -> list[dict]:
    return [m for m in sim.state.sent_messages() if m.get("msgtype") == "image"]


def deliver(r, settings) -> int:
    n = badges.send_pending(r, settings)
    outbound.process_outbox(r)
    return n


def test_only_streaks_and_records_earn_a_badge():
    assert badges.candidate("xhs01", "u", "小鹿", "goal", 3, 0, DAY, "m", "group") is None
    assert badges.candidate("xhs01", "u", "小鹿", "first", 1, 0, DAY, "m", "group") is None
    assert badges.candidate("xhs01", "u", "小鹿", badges.BEST, 9, 8, DAY, "m", "group") is not None


def test_one_badge_a_day_and_a_retry_sends_its_same_id_once(settings, sim, r):
    first = earned(msgid="m1")
    badges.claim(r, [first])
    badges.claim(r, [first])  # the same check-in processed again: granted again, queued once
    badges.claim(r, [earned(msgid="m2", kind=badges.BEST, n=9, prev=8)])  # another milestone that day
    assert r.get(keys.badge_day("xhs01", "xiaolu", "2025-11-25")) == b"m1"
    assert 0 < r.ttl(keys.badge_day("xhs01", "xiaolu", "2025-11-25")) <= keys.BADGE_DAY_TTL
    assert [json.loads(e)["msgid"] for e in r.lrange(keys.BADGE_PENDING, 0, -1)] == ["m1"]

    taken = r.lrange(keys.BADGE_PENDING, 0, -1)
    assert deliver(r, settings) == 1
    # a tick that died after queueing: its batch is taken again and queued again, under the same id
    r.set(keys.BADGE_SENDING, "[" + ",".join(e.decode() for e in taken) + "]")
    assert deliver(r, settings) == 1
    [image] = sent_images(sim)
    assert image["channel"] == "robot" and r.get(keys.BADGE_SENDING) is None
    assert outbound.state_of(r, first.id)["status"] == "sent"
    assert deliver(r, settings) == 0  # nothing waits any more


def test_a_private_member_s_badge_never_goes_to_the_group(settings, sim, r, monkeypatch):
    r.hset(keys.prefs("xhs01"), "momo:private", "1")  # 不公开
    drawn: list[list[str]] = []
    render = badges.charts.render_badge
    monkeypatch.setattr(badges.charts, "render_badge", lambda b, f: drawn.append((pic := render(b, f)).texts) or pic)
    badges.claim(r, [earned("momo", "Momo"), earned("xiaolu", "小鹿", msgid="m2")])
    deliver(r, settings)
    by = {(m["channel"], tuple(m.get("touser") or [])) for m in sent_images(sim)}
    assert by == {("app", ("momo",)), ("robot", ())}
    robot = [m for m in sent_images(sim) if m["channel"] == "robot"]
    assert robot[0]["image"]["md5"] != next(m for m in sent_images(sim) if m["channel"] == "app")["image"]["md5"]
    assert ["连续打卡 3 天", "Momo", "坚持的样子真好看，继续加油"] in drawn  # hers, drawn for her alone


def test_a_busy_robot_keeps_its_room_for_replies_and_the_badge_goes_privately(settings, sim, r):
    now = time.time()
    allowed = outbound.ROBOT_PER_MINUTE - settings.reply_reserve - badges.ROOM
    r.zadd(keys.replies_recent("xhs01"), {f"reply:x{i}": now for i in range(allowed)})  # this minute's replies
    badges.claim(r, [earned()])
    deliver(r, settings)
    [image] = sent_images(sim)
    assert image["channel"] == "app" and image["touser"] == ["xiaolu"]
    assert r.zcard(keys.replies_recent("xhs01")) == allowed  # it took no place among the replies


def test_with_room_a_group_badge_takes_its_place_among_the_replies(settings, sim, r):
    allowed = outbound.ROBOT_PER_MINUTE - settings.reply_reserve - badges.ROOM
    now = time.time()
    r.zadd(keys.replies_recent("xhs01"), {f"reply:x{i}": now for i in range(allowed - 1)})
    badges.claim(r, [earned()])
    deliver(r, settings)
    assert [m["channel"] for m in sent_images(sim)] == ["robot"]
    assert r.zcard(keys.replies_recent("xhs01")) == allowed  # the next reply counts it


def test_do_not_disturb_gets_no_private_badge(settings, sim, r):
    r.hset(keys.prefs("xhs01"), "xiaolu:mute", "1")  # 免打扰
    badges.claim(r, [earned(to="user")])  # she checked in privately: her badge could only go privately
    deliver(r, settings)
    assert sent_images(sim) == []


def test_the_star_badge_is_once_a_day_and_its_retry_is_the_same_message(settings, sim, r):
    group = settings.group("xhs01")
    first = badges.star(r, settings, group, "momo", "Momo", 3, 3, "slot:xhs01:summary:2025-11-30", DAY)
    again = badges.star(r, settings, group, "momo", "Momo", 3, 3, "slot:xhs01:summary:2025-11-30", DAY)
    assert [m["id"] for m in first] == [m["id"] for m in again] == ["badge:xhs01:momo:slot:xhs01:summary:2025-11-30"]
    assert first[0]["to"] == "user" and first[0]["users"] == ["momo"]
    badges.claim(r, [earned("momo", "Momo", msgid="later")])  # a streak the same day: no second badge
    assert r.llen(keys.BADGE_PENDING) == 0
    badges.claim(r, [earned("xiaolu", msgid="m9")])
    assert badges.star(r, settings, group, "xiaolu", "小鹿", 7, 3, "slot:xhs01:summary:2025-11-30", DAY) == []
