"""The daily rhythm: morning 接龙, evening reminder, leader digest, weekly slots — each once
per group per slot, on the real Redis, through the real outbox (and the real WeCom simulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from config import settings as settings_mod
from config.settings import SLOT_DEFAULTS, WEEKLY_SLOTS, Group, Settings, parse_slot
from handlers import calendar, daily
from handlers.calendar import day_index
from handlers.chain import parse_chain
from handlers.routine import Kind
from workers import jobs, keys, schedule
from workers.register import MemberRow

from schedule_helpers import (
    NAMES,
    capture_outbound,
    checkin,
    goals_answered,
    group_env,
    local_ts,
    minutes,
    name_members,
    outbox_ids,
)

SH = "Asia/Shanghai"
CAMP = {"CAMP_START": "2026-11-16"}  # a Monday: 2026-11-24 is 第2周 周二
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sent(env, r, monkeypatch):
    return capture_outbound(monkeypatch)


def camp(env, r, **extra):
    s = env(**group_env(**{**CAMP, **extra}))
    name_members(r, "xhs01")
    goals_answered(r, "xhs01", NAMES)
    return s


def row(uid, name, streak=0, week_count=0, goal=3, checked=False, last=None):
    return MemberRow(uid, name, streak, streak, week_count, week_count, goal, checked, last)


# --- pure texts -----------------------------------------------------------------------------------


def test_chain_text_is_the_format_members_know_and_parses_back():
    day = day_index(date(2026, 11, 24))
    text = daily.chain_text(day, date(2026, 11, 16), [("小鹿", "已更 http://xhslink.com/a/Qw12Er"), ("阿青", "已更")])
    lines = text.split("\n")
    assert lines[0] == "#接龙"
    assert lines[1].startswith("11月24日 第2周 周二")
    assert lines[2] == "例 名字 已更 笔记链接"
    chain = parse_chain(text)
    assert chain is not None and chain.template == "名字 已更 笔记链接"
    assert [(e.number, e.name, e.content, e.done) for e in chain.entries] == [
        (1, "小鹿", "已更 http://xhslink.com/a/Qw12Er", True),
        (2, "阿青", "已更", True),
    ]
    empty = daily.chain_text(day, None, [])
    assert empty.split("\n")[1].startswith("11月24日 周二")
    assert parse_chain(empty).entries == ()


def test_quiet_hours_span_midnight():
    q = (22, 30, 8, 0)
    assert calendar.in_quiet_hours(22, 30, q) and calendar.in_quiet_hours(3, 0, q) and calendar.in_quiet_hours(7, 59, q)
    assert not calendar.in_quiet_hours(8, 0, q) and not calendar.in_quiet_hours(21, 0, q)
    assert not calendar.in_quiet_hours(22, 29, q)
    assert calendar.in_quiet_hours(13, 0, (12, 0, 14, 0)) and not calendar.in_quiet_hours(14, 0, (12, 0, 14, 0))
    assert not calendar.in_quiet_hours(3, 0, None)


def test_remind_mentions_exactly_the_missing_and_nudges_long_streaks():
    rows = [
        row("a", "小鹿", 5, checked=True),
        row("b", "阿青", 4),
        row("c", "Momo", 1),
        row("d", "婷婷", 6),
        row("e", "阿强", 3),
    ]
    rem = daily.remind(rows, muted={"d"}, on_leave={"e"})
    assert rem.mentions == [["b", "阿青"], ["c", "Momo"]]
    assert "小鹿" in rem.content and "@" not in rem.content.replace("@我", "")
    assert [(uid, kind) for uid, _, kind in rem.nudges] == [("b", Kind.STREAK)]  # not the muted 婷婷, not 阿强 on leave
    assert "连续打卡 4 天" in rem.nudges[0][1]
    assert daily.remind(rows, muted={"d"}, on_leave={"e"}, quiet=True).nudges == []
    done = daily.remind([row("a", "小鹿", 5, checked=True), row("b", "阿青", 1, checked=True)])
    assert done.mentions == [] and "全员打卡完成" in done.content
    assert daily.remind([]) is None


# --- a simulated week -----------------------------------------------------------------------------

# day (Mon=0) -> [(hour, userid, links)]
WEEK_PLAN = {
    0: [(7, "xiaolu", "http://xhslink.com/a/mon"), (12, "aqing", ""), (12, "momo", "")],
    1: [(7, "xiaolu", ""), (12, "aqing", "")],
    2: [(7, "xiaolu", ""), (12, "aqing", ""), (12, "momo", "")],
    3: [(7, "xiaolu", ""), (12, "aqing", "")],
    4: [(7, "xiaolu", ""), (12, "momo", "")],
    5: [(7, "xiaolu", ""), (12, "aqiang", "")],
    6: [(7, "xiaolu", ""), (12, "aqiang", "")],
}


def run_week(r, s, start=date(2026, 11, 23), step=10, plan=WEEK_PLAN, tz=SH, until_day=7):
    events = sorted(
        (local_ts(tz, start.year, start.month, start.day + d, h), uid, links)
        for d, items in plan.items()
        for h, uid, links in items
    )
    t0 = local_ts(tz, start.year, start.month, start.day)
    t1 = t0 + until_day * 86400 + 1800
    ticks = []
    for ts in minutes(t0 + 3 * 3600, t1, step):  # from 03:00: the day before is out of the catch-up window
        while events and events[0][0] <= ts:
            ets, uid, links = events.pop(0)
            checkin(r, s, "xhs01", uid, schedule.datetime.fromtimestamp(ets, s.groups["xhs01"].tz).date(), links)
        schedule.tick(ts)
        ticks.append(ts)
    return ticks


def test_a_week_of_ticks_posts_each_slot_once(env, r, sent):
    s = camp(env, r)
    ticks = run_week(r, s)
    ids = sent.ids()
    assert len(ids) == len(set(ids)), "a message was posted twice"

    chains = sent.group_posts("chain")
    assert [m["id"] for m in chains] == [f"slot:xhs01:chain:2026-11-{d}" for d in range(23, 30)]
    assert chains[0]["content"].split("\n")[1].startswith("11月23日 第2周 周一")
    assert chains[1]["content"].split("\n")[1].startswith("11月24日 第2周 周二")
    first = parse_chain(chains[0]["content"])
    assert [(e.name, e.content) for e in first.entries] == [("小鹿", "已更 http://xhslink.com/a/mon")]

    reminds = sent.group_posts("remind")
    assert [m["id"] for m in reminds] == [f"slot:xhs01:remind:2026-11-{d}" for d in range(23, 30)]
    missing = {d: sorted(uid for uid in NAMES if uid not in {u for _, u, _ in WEEK_PLAN[d]}) for d in range(7)}
    for d, m in enumerate(reminds):
        assert sorted(uid for uid, _ in m["mentions"]) == missing[d]
    nudges = [m for m in sent.private(slot="remind")]
    assert [(m["id"], m["users"]) for m in nudges] == [("slot:xhs01:remind:2026-11-27:nudge:aqing", ["aqing"])]

    digests = sent.private("lily", "digest")
    assert [m["id"] for m in digests] == [f"slot:xhs01:digest:2026-11-{d}:lily" for d in range(23, 30)]
    assert "1. 小鹿（连续 1 天） http://xhslink.com/a/mon" in digests[0]["content"]

    midweek = sent.private("lily", "midweek")
    assert [m["id"] for m in midweek] == ["slot:xhs01:midweek:2026-11-25:lily"]
    assert "婷婷 0/3，本周还剩 4 天" in midweek[0]["content"]
    assert "阿强 0/3，本周还剩 4 天" in midweek[0]["content"]

    summary = sent.group_posts("summary")
    assert [m["id"] for m in summary] == ["slot:xhs01:summary:2026-11-29"]
    assert "✅ 小鹿 7/3 · 连续 7 天" in summary[0]["content"]
    assert "❌ 婷婷 0/3" in summary[0]["content"]
    assert "✅ 阿青 4/3" in summary[0]["content"]

    # Replaying every tick of the week adds nothing, and the outbox holds each message once.
    before = len(sent.msgs)
    for ts in ticks[::7]:
        assert schedule.tick(ts)["queued"] == 0
    assert len(sent.msgs) == before
    assert sorted(outbox_ids(r)) == sorted(ids)


def test_replaying_the_same_tick_adds_nothing(env, r, sent):
    camp(env, r)
    ts = local_ts(SH, 2026, 11, 24, 8, 0, 20)
    first = schedule.tick(ts)
    assert first["queued"] == 1 and "chain 2026-11-24: queued for xhs01" in first["lines"]
    for _ in range(3):
        again = schedule.tick(ts)
        assert again["queued"] == 0 and again["lines"] == ["nothing due"]
    assert [m["id"] for m in sent.msgs] == ["slot:xhs01:chain:2026-11-24"]


def test_concurrent_ticks_in_threads_post_once(env, r, sent):
    camp(env, r)
    schedule.tick(local_ts(SH, 2026, 11, 24, 7, 0))
    ts = local_ts(SH, 2026, 11, 24, 8, 0, 5)
    barrier = threading.Barrier(8)
    results = []

    def run():
        barrier.wait()
        results.append(schedule.tick(ts)["queued"])

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 1
    assert [m["id"] for m in sent.msgs] == ["slot:xhs01:chain:2026-11-24"]


CHILD = r"""
import json, os, sys, time
sys.path.insert(0, os.environ["ROOT"])
from workers import jobs, schedule, streams
jobs.set_inline(True)
streams.wake_drain = lambda stream: None
start = float(os.environ["START_AT"])
while time.time() < start:
    time.sleep(0.001)
out = [schedule.tick(float(t))["queued"] for t in os.environ["TICKS"].split(",")]
print(json.dumps(out))
"""


def test_concurrent_cron_processes_post_once(env, r, redis_server):
    camp(env, r)
    ticks = [
        local_ts(SH, 2026, 11, 24, 8, 0, 1),
        local_ts(SH, 2026, 11, 24, 8, 1, 1),
        local_ts(SH, 2026, 11, 24, 21, 0, 2),
        local_ts(SH, 2026, 11, 24, 22, 0, 2),
    ]
    child_env = {
        **os.environ,
        "ROOT": str(ROOT),
        "START_AT": str(time.time() + 2.0),
        "TICKS": ",".join(map(repr, ticks)),
    }
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD],
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(4)
    ]
    queued = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
        queued.append(json.loads(out.strip().splitlines()[-1]))
    # chain, remind, digest: each claimed by exactly one process
    assert [sum(q[i] for q in queued) for i in range(4)] == [1, 0, 1, 1]
    assert sorted(outbox_ids(r)) == sorted(
        ["slot:xhs01:chain:2026-11-24", "slot:xhs01:remind:2026-11-24", "slot:xhs01:digest:2026-11-24:lily"]
    )


# --- what the evening says --------------------------------------------------------------------------


def test_reminder_names_exactly_the_missing_members(env, r, sent):
    members = {**NAMES, "dada": "大大"}
    s = env(**group_env(members=members, **CAMP))
    name_members(r, "xhs01", members)
    tue = date(2026, 11, 24)
    for d in (21, 22, 23):  # 大大 and 婷婷 on a 3-day streak, not yet today
        checkin(r, s, "xhs01", "dada", date(2026, 11, d))
        checkin(r, s, "xhs01", "tingting", date(2026, 11, d))
    checkin(r, s, "xhs01", "xiaolu", tue)
    checkin(r, s, "xhs01", "momo", tue)
    r.hset(keys.prefs("xhs01"), "tingting:mute", "1")  # 免打扰
    r.sadd(keys.removed("xhs01"), "aqing")  # taken off the roster
    base = int(r.get(keys.base("xhs01")))
    r.setbit(keys.off("xhs01", "aqiang"), day_index(tue) - base, 1)  # 请假 today
    schedule.tick(local_ts(SH, 2026, 11, 24, 20, 0))
    schedule.tick(local_ts(SH, 2026, 11, 24, 21, 0, 3))
    [post] = sent.group_posts("remind")
    assert post["mentions"] == [["dada", "大大"]]
    assert "小鹿" in post["content"] and "Momo" in post["content"]
    assert [m["users"] for m in sent.private(slot="remind")] == [["dada"]]
    assert "连续打卡 3 天" in sent.private("dada")[0]["content"]


def test_everyone_checked_in_gets_a_celebration(env, r, sent):
    s = camp(env, r)
    for uid in NAMES:
        checkin(r, s, "xhs01", uid, date(2026, 11, 24))
    schedule.tick(local_ts(SH, 2026, 11, 24, 21, 0))
    [post] = sent.group_posts("remind")
    assert post["mentions"] == [] and "全员打卡完成（5/5）" in post["content"]


def test_no_private_nudge_in_quiet_hours(env, r, sent):
    s = camp(env, r, REMIND_AT="23:00")
    for d in (21, 22, 23):
        checkin(r, s, "xhs01", "aqing", date(2026, 11, d))
    schedule.tick(local_ts(SH, 2026, 11, 24, 22, 0))
    schedule.tick(local_ts(SH, 2026, 11, 24, 23, 0))
    [post] = sent.group_posts("remind")
    assert ["aqing", "阿青"] in post["mentions"]
    assert sent.private(slot="remind") == []


def test_digest_goes_to_each_leader(env, r, sent):
    s = camp(env, r, LEADERS="lily,jack")
    tue = date(2026, 11, 24)
    checkin(r, s, "xhs01", "tingting", date(2026, 11, 20))  # silent since: 4 days by Tuesday
    for d in (21, 22, 23):
        checkin(r, s, "xhs01", "aqing", date(2026, 11, d))  # streak at risk
    checkin(r, s, "xhs01", "xiaolu", tue, "http://xhslink.com/a/Qw12Er")
    checkin(r, s, "xhs01", "momo", tue)
    r.rpush(
        keys.notes("xhs01", "tingting"),
        json.dumps(
            {"text": "最近加班多，周末才有空", "by": "lily", "at": "2026-11-20T10:00:00+08:00"}, ensure_ascii=False
        ),
    )
    schedule.tick(local_ts(SH, 2026, 11, 24, 21, 30))
    schedule.tick(local_ts(SH, 2026, 11, 24, 22, 0))
    digests = sent.private(slot="digest")
    assert sorted((m["id"], tuple(m["users"])) for m in digests) == [
        ("slot:xhs01:digest:2026-11-24:jack", ("jack",)),
        ("slot:xhs01:digest:2026-11-24:lily", ("lily",)),
    ]
    text = digests[0]["content"]
    assert digests[1]["content"] == text
    assert text.startswith("📋 小红书一组 · 11月24日（第2周 周二）打卡日报")
    assert "✅ 已打卡 2/5" in text and "小鹿（连续 1 天） http://xhslink.com/a/Qw12Er" in text
    assert "⏳ 未打卡 3：阿青、婷婷、阿强" in text
    assert "连续记录快断了：阿青（已连续 3 天）" in text
    assert "💤 好几天没打卡：婷婷（4 天）" in text and "约时间私聊" in text
    assert "💤 开营 9 天还没打过卡：阿强" in text and "🔕" not in text  # 🔕 is 免打扰
    assert "婷婷 的档案：最近加班多，周末才有空（11月20日 lily）" in text


def test_the_digest_names_silence_once_and_waits_for_bot_silent_days():
    """Silence is flagged from BOT_SILENT_DAYS on, counted from the first day of the group's record
    (the camp's start, else its first check-in), each kind on one line; 🔕 stays 免打扰's sign."""
    start = day_index(date(2026, 11, 23))
    rows = [row("a", "安安", 0), row("b", "乐乐", 0), row("c", "果果", 0, checked=True, last=start)]

    def digest(day, since, camp=True):
        return daily.digest(
            "一组", day, rows, {}, silent_days=3, camp_start=date(2026, 11, 23) if camp else None, since=since
        )

    assert "💤" not in digest(start, start) and "还没打过卡" not in digest(start, start)  # day one
    assert "💤" not in digest(start + 1, start)
    third = digest(start + 2, start)
    assert third.count("还没打过卡") == 1 and "💤 开营 3 天还没打过卡：安安、乐乐" in third
    assert third.count("约时间私聊") == 1 and "🔕" not in third
    assert "💤" not in digest(start + 5, None, camp=False)  # nobody ever checked in: no record to count from
    assert "💤 3 天来还没打过卡：安安、乐乐" in digest(start + 2, start, camp=False)


# --- downtime, midnight, weeks --------------------------------------------------------------------


def test_catch_up_within_grace(env, r, sent):
    camp(env, r)
    schedule.tick(local_ts(SH, 2026, 11, 24, 7, 0))
    res = schedule.tick(local_ts(SH, 2026, 11, 24, 9, 45))  # 165 min gap, chain 105 min late
    assert res["queued"] == 1 and any("caught up 105 min late" in line for line in res["lines"])
    [post] = sent.group_posts("chain")
    assert post["id"] == "slot:xhs01:chain:2026-11-24" and "11月24日" in post["content"]
    assert sent.private() == []


def test_skip_beyond_grace_tells_the_leaders_once(env, r, sent):
    camp(env, r, LEADERS="lily,jack")
    schedule.tick(local_ts(SH, 2026, 11, 24, 7, 0))
    res = schedule.tick(local_ts(SH, 2026, 11, 24, 10, 30))  # chain 150 min late: too late
    assert res["queued"] == 0 and res["skipped"] == 1
    assert sent.group_posts() == []
    told = sent.private()
    assert sorted(m["users"][0] for m in told) == ["jack", "lily"]
    assert "11月24日 08:00 早间接龙" in told[0]["content"] and "跳过" in told[0]["content"]
    schedule.tick(local_ts(SH, 2026, 11, 24, 10, 31))
    schedule.tick(local_ts(SH, 2026, 11, 24, 10, 30))
    assert len(sent.private()) == 2
    schedule.tick(local_ts(SH, 2026, 11, 24, 21, 0))  # the evening goes on as usual
    assert len(sent.group_posts("remind")) == 1


def test_long_downtime_skips_several_slots_in_one_notice(env, r, sent):
    camp(env, r)
    schedule.tick(local_ts(SH, 2026, 11, 23, 12, 0))
    schedule.tick(local_ts(SH, 2026, 11, 24, 11, 0))  # missed Mon 21:00, 22:00 and Tue 08:00
    [notice] = sent.private("lily")
    lines = notice["content"].split("\n")
    assert lines[1:4] == ["· 11月23日 21:00 晚间提醒", "· 11月23日 22:00 组长日报", "· 11月24日 08:00 早间接龙"]
    assert sent.group_posts() == []


def test_first_tick_ever_skips_old_slots_silently(env, r, sent):
    camp(env, r)
    res = schedule.tick(local_ts(SH, 2026, 11, 24, 15, 0))
    assert res["skipped"] == 4 and res["queued"] == 0  # Mon chain, remind, digest + Tue chain
    assert sent.msgs == []  # (the service was not running then)


def test_a_slot_caught_up_after_midnight_speaks_of_its_own_day(env, r, sent):
    s = camp(env, r, REMIND_AT="23:30", DIGEST_AT="23:50")
    for d in (21, 22, 23):
        checkin(r, s, "xhs01", "aqing", date(2026, 11, d))
    checkin(r, s, "xhs01", "xiaolu", date(2026, 11, 24))
    schedule.tick(local_ts(SH, 2026, 11, 24, 23, 0))
    res = schedule.tick(local_ts(SH, 2026, 11, 25, 0, 40))  # down from 23:00 to 00:40
    assert res["queued"] == 2
    [remind] = sent.group_posts("remind")
    assert remind["id"] == "slot:xhs01:remind:2026-11-24"
    assert sorted(u for u, _ in remind["mentions"]) == ["aqiang", "aqing", "momo", "tingting"]
    assert sent.private(slot="remind") == []  # 00:40 is in quiet hours
    [digest] = sent.private("lily", "digest")
    assert digest["id"] == "slot:xhs01:digest:2026-11-24:lily"
    assert "11月24日（第2周 周二）" in digest["content"] and "✅ 已打卡 1/5" in digest["content"]
    # the new day's own slots are untouched
    schedule.tick(local_ts(SH, 2026, 11, 25, 8, 0))
    assert [m["id"] for m in sent.group_posts("chain")] == ["slot:xhs01:chain:2026-11-25"]


def test_off_slots_never_fire(env, r, sent):
    camp(env, r, REMIND_AT="off", SUMMARY_AT="off", MIDWEEK_AT="off")
    run_week(r, settings_mod.get_settings(), step=30)
    assert len(sent.group_posts("chain")) == 7 and len(sent.private("lily", "digest")) == 7
    assert sent.group_posts("remind") == [] and sent.group_posts("summary") == []
    assert sent.private(slot="midweek") == [] and sent.private(slot="remind") == []


def test_midnight_and_week_boundaries(env, r, sent):
    s = camp(env, r, CHAIN_AT="00:00", SUMMARY_AT="sun 23:59", MIDWEEK_AT="mon 00:00")
    checkin(r, s, "xhs01", "xiaolu", date(2026, 11, 22))  # previous week's Sunday
    checkin(r, s, "xhs01", "xiaolu", date(2026, 11, 28))
    checkin(r, s, "xhs01", "xiaolu", date(2026, 11, 29))
    schedule.tick(local_ts(SH, 2026, 11, 29, 23, 58))
    schedule.tick(local_ts(SH, 2026, 11, 29, 23, 59, 59))
    [summary] = sent.group_posts("summary")
    assert summary["id"] == "slot:xhs01:summary:2026-11-29"
    assert "❌ 小鹿 2/3 · 连续 2 天" in summary["content"] and "11月23日—11月29日" in summary["content"]
    assert sent.group_posts("chain") == []  # 23:59:59 is still Sunday: Monday's chain waits
    schedule.tick(local_ts(SH, 2026, 11, 30, 0, 0, 0))
    [chain] = sent.group_posts("chain")
    assert chain["id"] == "slot:xhs01:chain:2026-11-30"
    assert chain["content"].split("\n")[1].startswith("11月30日 第3周 周一")
    [mid] = sent.private("lily", "midweek")  # a new week: 小鹿's Sunday does not count
    assert mid["id"] == "slot:xhs01:midweek:2026-11-30:lily"


# --- timezones and DST -----------------------------------------------------------------------------


def _tick_range(start, end, step_minutes=1):
    fired = []
    for ts in minutes(start, end, step_minutes):
        res = schedule.tick(ts)
        if res["queued"]:
            fired.append((ts, res["lines"]))
    return fired


@pytest.mark.parametrize(
    "tz,day,slot_at,expect_utc",
    [
        # spring forward, 02:30 does not exist: fires once, at 03:30 CEST = 01:30 UTC
        ("Europe/Berlin", date(2026, 3, 29), "02:30", (1, 30)),
        # fall back, 02:30 happens twice: fires once, at the first (CEST) = 00:30 UTC
        ("Europe/Berlin", date(2026, 10, 25), "02:30", (0, 30)),
        # New York: 02:15 does not exist on 8 March (fires at 03:15 EDT = 07:15 UTC) ...
        ("America/New_York", date(2026, 3, 8), "02:15", (7, 15)),
        # ... and 01:30 happens twice on 1 November (first one, EDT = 05:30 UTC)
        ("America/New_York", date(2026, 11, 1), "01:30", (5, 30)),
    ],
)
def test_dst_switch_day_fires_once(env, r, sent, tz, day, slot_at, expect_utc):
    env(
        **group_env(TIMEZONE=tz, CHAIN_AT=slot_at, REMIND_AT="off", DIGEST_AT="off", MIDWEEK_AT="off", SUMMARY_AT="off")
    )
    eve = day - timedelta(days=1)
    start = local_ts(tz, eve.year, eve.month, eve.day, 22, 0)
    fired = _tick_range(start, start + 9 * 3600)
    assert len(fired) == 1
    ts, lines = fired[0]
    when = schedule.datetime.fromtimestamp(ts, schedule.timezone.utc)
    assert (when.hour, when.minute) == expect_utc
    assert [m["id"] for m in sent.msgs] == [f"slot:xhs01:chain:{day.isoformat()}"]
    # the day after fires at its usual local time, once
    sent.clear()
    fired = _tick_range(start + 9 * 3600, start + 86400 + 9 * 3600, 5)
    assert len(fired) == 1 and len(sent.msgs) == 1
    local = schedule.datetime.fromtimestamp(fired[0][0], ZoneInfo(tz))
    assert local.strftime("%H:%M") == slot_at and local.date() == day + timedelta(days=1)


def test_two_groups_in_different_timezones(env, r, sent):
    env(**{**group_env("sh", "chat-sh"), **group_env("de", "chat-de", TIMEZONE="Europe/Berlin"), "BOT_GROUPS": "sh,de"})
    start = local_ts("UTC", 2026, 11, 24, 0, 0)
    fired = {}
    for ts in minutes(start - 600, start + 86400, 10):
        before = len(sent.msgs)
        schedule.tick(ts)
        for m in sent.msgs[before:]:
            fired[m["id"]] = ts

    def utc(ts: float) -> str:
        return schedule.datetime.fromtimestamp(ts, schedule.timezone.utc).strftime("%d %H:%M")

    assert utc(fired["slot:sh:chain:2026-11-24"]) == "24 00:00"  # 08:00 in Shanghai
    assert utc(fired["slot:de:chain:2026-11-24"]) == "24 07:00"  # 08:00 in Berlin (CET)
    assert utc(fired["slot:sh:remind:2026-11-24"]) == "24 13:00"
    assert utc(fired["slot:de:remind:2026-11-24"]) == "24 20:00"
    assert utc(fired["slot:de:digest:2026-11-24:lily"]) == "24 21:00"
    assert "slot:sh:chain:2026-11-25" in fired and "slot:de:chain:2026-11-25" not in fired
    for key in ("sh", "de"):
        [chain] = sent.group_posts("chain", key)[:1]
        assert "11月24日" in chain["content"]


# --- paused, camp dates, force, retries ------------------------------------------------------------


def test_paused_group_gets_nothing_and_nothing_fires_late_on_resume(env, r, sent):
    camp(env, r)
    schedule.tick(local_ts(SH, 2026, 11, 24, 7, 0))
    r.set(keys.paused("xhs01"), "1")
    res = schedule.tick(local_ts(SH, 2026, 11, 24, 8, 0))
    assert res["paused"] == 1 and sent.msgs == []
    r.delete(keys.paused("xhs01"))
    schedule.tick(local_ts(SH, 2026, 11, 24, 9, 0))
    assert sent.msgs == []
    schedule.tick(local_ts(SH, 2026, 11, 24, 21, 0))
    assert len(sent.group_posts("remind")) == 1


def test_nothing_outside_camp_dates(env, r, sent):
    camp(env, r, CAMP_START="2026-11-23", CAMP_END="2026-11-24")
    run_week(r, settings_mod.get_settings(), start=date(2026, 11, 21), step=30, plan={}, until_day=5)
    assert sorted({m["id"].split(":")[3] for m in sent.msgs}) == ["2026-11-23", "2026-11-24"]


def test_force_resends_with_new_ids(env, r, sent):
    camp(env, r)
    schedule.tick(local_ts(SH, 2026, 11, 24, 8, 0))
    ts = local_ts(SH, 2026, 11, 24, 8, 5)
    res = schedule.tick(ts, force="chain")
    assert res["queued"] == 1 and "re-sent (force1)" in res["lines"][0]
    schedule.tick(ts, force="chain")
    schedule.tick(ts, force="digest")
    assert sent.ids() == [
        "slot:xhs01:chain:2026-11-24",
        "slot:xhs01:chain:2026-11-24:force1",
        "slot:xhs01:chain:2026-11-24:force2",
        "slot:xhs01:digest:2026-11-24:force3:lily",
    ]
    assert outbox_ids(r) == sent.ids()
    with pytest.raises(ValueError):
        schedule.tick(ts, force="lunch")


def test_a_retried_batch_job_posts_nothing_twice(env, r, sent):
    camp(env, r)
    ts = local_ts(SH, 2026, 11, 24, 22, 0)
    for _ in range(2):
        schedule.run_slot_batch("digest", "2026-11-24", ["xhs01"], ts)
        schedule.run_slot_batch("chain", "2026-11-24", ["xhs01"], ts)
    assert outbox_ids(r) == ["slot:xhs01:digest:2026-11-24:lily", "slot:xhs01:chain:2026-11-24"]


def test_cli_tick_at_and_replay(env, r, sent, capsys):
    from wecom_bot import cli

    camp(env, r)
    assert cli.main(["tick", "--at", "2026-11-24T08:00:30"]) == 0
    assert "chain 2026-11-24: queued for xhs01" in capsys.readouterr().out
    assert cli.main(["tick", "--at", "2026-11-24T08:00:30"]) == 0
    assert capsys.readouterr().out.strip() == "nothing due"
    assert cli.main(["tick", "--at", "2026-11-24T09:00+08:00", "--force", "chain"]) == 0
    assert "re-sent (force1)" in capsys.readouterr().out
    assert sent.ids() == ["slot:xhs01:chain:2026-11-24", "slot:xhs01:chain:2026-11-24:force1"]


# --- scale ----------------------------------------------------------------------------------------


def test_ten_thousand_groups_share_the_morning_slot(env, r, redis_server):
    """Each of 10,000 groups gets its slot claimed and enqueued once, in 40 batch jobs. How fast is
    measured by bench/fanout.py (a timed test would only be flaky on a busy machine)."""
    env()
    slots = {name: parse_slot(SLOT_DEFAULTS[name], name in WEEKLY_SLOTS) for name in SLOT_DEFAULTS}
    s = Settings(redis_url=redis_server.url, timezone=SH, admins=("admin1",))
    for i in range(10_000):
        key = f"g{i:05d}"
        s.groups[key] = Group(key=key, chat_id=f"chat{i}", leaders=("lily",), slots=dict(slots))
    settings_mod.reset(s)
    jobs.set_inline(False)  # enqueue for real workers: the tick only claims and enqueues
    schedule.tick(local_ts(SH, 2026, 11, 24, 7, 59))
    res = schedule.tick(local_ts(SH, 2026, 11, 24, 8, 0, 2))
    assert res["queued"] == 10_000 and res["jobs"] == 40
    again = schedule.tick(local_ts(SH, 2026, 11, 24, 8, 1, 2))
    assert again["queued"] == 0
    assert r.llen("rq:queue:default") == 40


# --- end to end, through the outbox to the WeCom simulator ------------------------------------------


def test_a_day_through_the_simulator(env, r):
    from wecom_bot.sim.simulator import SimulatorServer

    with SimulatorServer() as sim:
        s = env(
            WECOM_API_BASE_URL=sim.base_url,
            WECOM_CORP_ID="wwtest",
            WECOM_AGENT_ID="1000002",
            WECOM_SECRET="simsecret",
            WECOM_ROBOT_TOKEN="devtoken",
            WECOM_ROBOT_ENCODING_AES_KEY="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            **group_env(WEBHOOK_KEY="simkey-xhs01-0001", **CAMP),
        )
        name_members(r, "xhs01")
        goals_answered(r, "xhs01", NAMES)
        for d in (21, 22, 23):
            checkin(r, s, "xhs01", "aqing", date(2026, 11, d))
        checkin(r, s, "xhs01", "xiaolu", date(2026, 11, 24), "http://xhslink.com/a/Qw12Er")
        for ts in minutes(local_ts(SH, 2026, 11, 24, 7, 0), local_ts(SH, 2026, 11, 24, 22, 30), 15):
            schedule.tick(ts)
        robot = sim.state.sent_messages("webhook/send")
        assert [m["content"].split("\n")[0] for m in robot] == ["#接龙", "🌙 今天已有 1 位伙伴打卡：小鹿，给你们点赞👏"]
        assert parse_chain(robot[0]["content"]).entries[0].name == "小鹿"
        assert sorted(robot[1]["mentioned_list"]) == ["aqiang", "aqing", "momo", "tingting"]
        app = sim.state.sent_messages("message/send")
        assert [m["touser"] for m in app] == [["aqing"], ["lily"]]
        assert app[0]["content"].startswith("阿青，你已经连续打卡 3 天啦")
        assert app[1]["content"].startswith("📋 小红书一组 · 11月24日（第2周 周二）打卡日报")
        for ts in minutes(local_ts(SH, 2026, 11, 24, 7, 0), local_ts(SH, 2026, 11, 24, 22, 30), 60):
            schedule.tick(ts)
        assert len(sim.state.sent_messages()) == 4
        print("\n--- a member sees in the group ---")
        for m in robot:
            print(m["content"], "\n   @", m["mentioned_list"], "\n")
        print("--- privately ---")
        for m in app:
            print("to", m["touser"], ":\n" + m["content"] + "\n")


def test_a_failing_group_does_not_hold_up_the_others_and_is_retried(env, r, sent, monkeypatch):
    env(**{**group_env("ok1", "chat-ok1"), **group_env("bad", "chat-bad"), "BOT_GROUPS": "ok1,bad"})
    real = schedule.daily_chain
    calls = {"bad": 0}

    def flaky(rr, group, day, *args, **kwargs):
        if group.key == "bad":
            calls["bad"] += 1
            if calls["bad"] == 1:
                raise RuntimeError("boom")
        return real(rr, group, day, *args, **kwargs)

    monkeypatch.setattr(schedule, "daily_chain", flaky)
    goals_answered(r, "ok1", NAMES)
    goals_answered(r, "bad", NAMES)
    schedule.tick(local_ts(SH, 2026, 11, 24, 7, 0))
    schedule.tick(local_ts(SH, 2026, 11, 24, 8, 0))
    assert sent.ids() == ["slot:ok1:chain:2026-11-24"]
    schedule.tick(local_ts(SH, 2026, 11, 24, 8, 1))  # the claim was given back: tried again
    schedule.tick(local_ts(SH, 2026, 11, 24, 8, 2))
    assert sorted(outbox_ids(r)) == ["slot:bad:chain:2026-11-24", "slot:ok1:chain:2026-11-24"]
    assert calls["bad"] == 2


# --- a tick that dies between winning a claim and enqueueing its batch ------------------------------


def test_a_claim_whose_batch_never_ran_is_recovered_once(env, r, sent):
    from workers import keys

    s = camp(env, r)
    at = local_ts(SH, 2026, 11, 24, 8, 0, 5)
    schedule.tick(at - 60)
    due = [d for d in schedule.due_slots(s, at, at - 120) if d.slot == "chain"]
    # the tick's claim step ran, then its process died: claimed, nothing enqueued, nothing posted
    assert schedule._claim(r, due, [f"sent:{at:.0f}"] * len(due), at) == [1]
    assert r.zcard(keys.SLOTS_PENDING) == 1 and not sent.group_posts("chain")
    schedule.tick(at + 60)  # the next minute: claimed already
    assert not sent.group_posts("chain")
    res = schedule.tick(at + schedule.PENDING_AFTER + 60)  # ten minutes on: enqueued again
    assert any("enqueued again" in line for line in res["lines"])
    assert [m["id"] for m in sent.group_posts("chain")] == ["slot:xhs01:chain:2026-11-24"]
    assert r.zcard(keys.SLOTS_PENDING) == 0
    schedule.tick(at + 3 * schedule.PENDING_AFTER)
    assert len(sent.group_posts("chain")) == 1


def test_a_normal_tick_leaves_nothing_pending(env, r, sent):
    from workers import keys

    camp(env, r)
    at = local_ts(SH, 2026, 11, 24, 8, 0, 5)
    schedule.tick(at - 60)
    schedule.tick(at)
    assert sent.group_posts("chain") and r.zcard(keys.SLOTS_PENDING) == 0


def test_a_pending_claim_past_the_window_is_given_up_loudly(env, r, sent, caplog):
    from workers import keys

    s = camp(env, r)
    at = local_ts(SH, 2026, 11, 24, 8, 0, 5)
    schedule.tick(at - 60)
    due = [d for d in schedule.due_slots(s, at, at - 120) if d.slot == "chain"]
    schedule._claim(r, due, [f"sent:{at:.0f}"] * len(due), at)
    schedule.tick(at + 5 * 3600)
    assert not sent.group_posts("chain") and r.zcard(keys.SLOTS_PENDING) == 0
    assert "given up" in caplog.text


@pytest.mark.parametrize("groups", [3, 600, 10_000])
def test_a_big_camps_private_notes_wait_for_the_group_posts(groups):
    """A slot's group posts go before its private notes; in a camp whose group posts take more than a few
    seconds to send, the notes wait that long on the real clock, so the last group's morning does not
    queue behind the first groups' goal questions (bench/fanout.py: 145 s -> 23 s for 10,000 groups)."""
    from types import SimpleNamespace

    camp = SimpleNamespace(groups={f"g{i}": None for i in range(groups)})
    msgs = [
        {"id": "slot:g1:chain:d:goal:u1", "to": "user", "users": ["u1"]},
        {"id": "slot:g1:chain:d", "to": "group", "group": "g1"},
        {"id": "slot:g2:chain:d:goal:u2", "to": "user", "users": ["u2"], "not_before": 1.0},
        {"id": "slot:g2:chain:d", "to": "group", "group": "g2"},
    ]
    before = time.time()
    out = schedule._groups_first(msgs, camp)
    assert [m["to"] for m in out] == ["group", "group", "user", "user"]
    lag = groups / schedule.GROUP_POSTS_PER_SECOND
    for m in out:
        if m["to"] == "group" or lag < schedule.NOTES_LAG_MIN:
            assert float(m.get("not_before") or 0) < before  # at once
        else:
            assert before + lag <= m["not_before"] <= time.time() + lag
