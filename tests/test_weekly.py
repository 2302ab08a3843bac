"""The camp's weekly cycle, on the real Redis: check-ins and commands go through the real
inbox path (workers.ingest.process_batch with event dicts), time goes by with schedule.tick(ts), and
every outbound post is captured. Three camp weeks: the mid-week pace check naming exactly who is
behind, the weekend review, the leader's register with a 退阶 suggestion after two missed weeks and
its effect from the next week, the admins' overview once a week, a member's own goal proposal, days
off that keep a streak and lower the goal, a 补卡 that flips a closed week, and the final report."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta

import pytest
from events import text_event

from handlers import weekly as hw
from handlers.calendar import day_index
from handlers.streaks import MET, MISSED, OFF, DayBits, WeekResult, leave_goal, week_result
from workers import ingest, keys, schedule, weekly
from workers.register import stats_json

from schedule_helpers import capture_outbound, goals_answered, group_env, local_ts, minutes

SH = "Asia/Shanghai"
CHAT = "chat-xhs01"
NAMES = {"xiaolu": "小鹿", "aqing": "阿青", "momo": "Momo", "tingting": "婷婷", "aqiang": "阿强"}
START = date(2026, 11, 16)  # a Monday: week 1 is 11-16..22, week 2 11-23..29, week 3 11-30..12-06
END = date(2026, 12, 6)

_ids = itertools.count(1)


@pytest.fixture
def sent(env, r, monkeypatch):
    return capture_outbound(monkeypatch)


def camp(env, r, **extra):
    dates = {"CAMP_START": START.isoformat(), "CAMP_END": END.isoformat(), **extra}
    s = env(**group_env(chat=CHAT, members=NAMES, **dates))
    r.hset(keys.names("xhs01"), mapping=NAMES)
    goals_answered(r, "xhs01", NAMES)
    return s


def ev(uid, text, ts, chat=CHAT, msgid=None):
    return text_event(text, uid, chat=chat, ts=ts, msgid=msgid or f"w{next(_ids)}", name=NAMES.get(uid, uid))


def send(r, event):
    assert ingest.process_batch(r, [("1-0", event)]) == ["1-0"]


def checkin(r, uid, d: date, hour=12):
    send(r, ev(uid, "@打卡助手 打卡", local_ts(SH, d.year, d.month, d.day, hour)))


def command(r, uid, text, d: date, hour=12, minute=0, chat=""):
    event = ev(uid, text, local_ts(SH, d.year, d.month, d.day, hour, minute), chat=chat)
    send(r, event)
    return event["msgid"]


def stats(r, s, d: date) -> dict:
    data = stats_json(r, s.groups["xhs01"], day_index(d))
    return {m["userid"]: m for m in data["members"]}


def run(r, events, start: date, end: date, step=30):
    """Tick every `step` minutes from `start` 03:00 to `end` 23:30, carrying out `events`
    ((local instant, function)) as their time comes."""
    events = sorted(events, key=lambda e: e[0])
    t0 = local_ts(SH, start.year, start.month, start.day, 3)
    t1 = local_ts(SH, end.year, end.month, end.day, 23, 30)
    for ts in minutes(t0, t1, step):
        while events and events[0][0] <= ts:
            events.pop(0)[1]()
        schedule.tick(ts)
    for _, fn in events:
        fn()


def at(d: date, hour: int, minute: int = 0) -> float:
    return local_ts(SH, d.year, d.month, d.day, hour, minute)


def day(n: int) -> date:
    return START + timedelta(days=n)


# Who checks in, by camp day (0 = Monday of week 1).
PLAN = {
    "xiaolu": range(0, 21),  # every day: beats the goal week after week
    "aqing": [0, 1, 2, 3, 7, 8, 9, 10],  # 4 a week: beats it too
    "momo": [0, 2, 4, 10, 11, 12],  # week 2: nothing until Thursday (behind on Wednesday)
    "tingting": [1],  # 1/3 in week 1, nothing in week 2: two weeks missed
    "aqiang": [0, 1, 2, 7, 9, 11],  # days off Thu–Sun of week 1 (请假 4), streak kept
}


def test_three_camp_weeks(env, r, sent, capsys, examples):
    s = camp(env, r)
    r.rpush(
        keys.notes("xhs01", "tingting"),
        json.dumps(
            {"text": "最近加班多，周末才有空", "by": "lily", "at": "2026-11-20T10:00:00+08:00"}, ensure_ascii=False
        ),
    )
    events = []
    for uid, days in PLAN.items():
        for n in days:
            events.append((at(day(n), 12), lambda uid=uid, n=n: checkin(r, uid, day(n))))
    events.append((at(day(3), 9), lambda: command(r, "aqiang", "请假 4", day(3), 9)))
    events.append((at(day(1), 10), lambda: command(r, "tingting", "免打扰", day(1), 10)))
    events.append((at(day(2), 10), lambda: command(r, "aqing", "不公开", day(2), 10)))
    run(r, events, START, day(13))  # weeks 1 and 2, to Sunday 23:30

    # --- days off: the streak goes on, the week's goal went down pro rata -----------------------
    wk1 = stats(r, s, day(6))
    assert wk1["aqiang"]["week_count"] == 3 and wk1["aqiang"]["streak"] == 3
    assert stats(r, s, day(7))["aqiang"]["streak"] == 4  # Monday of week 2: bridged Thu–Sun
    base = int(r.get(keys.base("xhs01")))
    off = DayBits(r.get(keys.off("xhs01", "aqiang")), base)
    res = week_result(
        DayBits(r.get(keys.days("xhs01", "aqiang")), base), off, {}, day_index(START), 3, day_index(day(6))
    )
    assert (res.goal, res.off, res.status) == (leave_goal(3, 4), 4, MET) and res.goal == 1  # 3 × 3/7 ≈ 1

    # --- mid-week: exactly the members behind the pace, with numbers and notes --------------------
    mids = [m for m in sent.private("lily", "midweek")]
    assert [m["id"] for m in mids] == ["slot:xhs01:midweek:2026-11-18:lily", "slot:xhs01:midweek:2026-11-25:lily"]
    assert "大家的进度都跟上了" in mids[0]["content"]
    text = mids[1]["content"]
    assert text.startswith("📈 小红书一组 · 第2周周中进度（11月25日 周三）")
    behind = [line for line in text.split("\n") if line.startswith("· ")]
    assert behind == ["· Momo 0/3，本周还剩 4 天", "· 婷婷 0/3，本周还剩 4 天"]
    assert "📒 最近加班多，周末才有空（11月20日 lily）" in text
    nudges = [m for m in sent.msgs if ":midweek:" in m["id"] and ":nudge:" in m["id"]]
    assert [(m["id"], m["users"]) for m in nudges] == [("slot:xhs01:midweek:2026-11-25:nudge:momo", ["momo"])]
    assert "Momo" in nudges[0]["content"] and "0/3" in nudges[0]["content"]  # 婷婷 has 免打扰

    # --- the weekend review in the group ----------------------------------------------------------
    reviews = sent.group_posts("summary")
    assert [m["id"] for m in reviews] == ["slot:xhs01:summary:2026-11-22", "slot:xhs01:summary:2026-11-29"]
    post = reviews[1]["content"]
    assert post.split("\n")[0] == "📊 第2周打卡总结（11月23日—11月29日）"
    assert "✅ 小鹿 7/3 · 连续 14 天" in post
    assert "✅ 🙈 一位同学 4/3" in post and "阿青" not in post  # 不公开
    assert "\n❌ 婷婷 0/3\n" in post
    assert "🏆 本周之星：小鹿（7 天）、一位同学（4 天）" in post
    assert "本周 4/5 人达成目标" in post

    # --- the leader's register with suggestions and exact commands ----------------------------------
    reports = [m for m in sent.private("lily", "summary")]
    assert [m["id"] for m in reports] == ["slot:xhs01:summary:2026-11-22:lily", "slot:xhs01:summary:2026-11-29:lily"]
    assert "💡" not in reports[0]["content"]  # one week is not a pattern yet
    report = reports[1]["content"]
    assert report.startswith("📋 小红书一组 · 第2周周报（11月23日—11月29日）\n完成率 80%（4/5 人达标）")
    assert "❌ 婷婷 0/3｜连续 0 天｜已连续 2 周未达标" in report
    assert "  退阶 婷婷 1" in report and "  目标 小鹿 4" in report and "  目标 阿青 4" in report
    assert "阿青" in report  # the leader sees everyone
    assert "📒 婷婷 的档案：最近加班多，周末才有空（11月20日 lily）" in report
    tips = weekly.suggestions_of(r, s.groups["xhs01"], day_index(day(7)))
    assert {uid: (t["kind"], t["n"]) for uid, t in tips.items()} == {
        "tingting": ("downgrade", 1),
        "xiaolu": ("upgrade", 4),
        "aqing": ("upgrade", 4),
    }

    # --- the admins' overview: once a week -----------------------------------------------------------
    overviews = [m for m in sent.msgs if m["id"].startswith("slot:_camp:overview:")]
    assert [(m["id"], m["users"]) for m in overviews] == [
        ("slot:_camp:overview:2026-11-16:admin1", ["admin1"]),
        ("slot:_camp:overview:2026-11-23:admin1", ["admin1"]),
    ]
    assert "【小红书一组】第2周 完成率 80%（4/5）" in overviews[1]["content"]
    assert "需关注：婷婷（0/3，连续 2 周未达标）" in overviews[1]["content"]
    assert r.exists(keys.slot("_camp", "overview", "2026-11-23"))

    examples.show("the group's review post (第2周)", post)
    examples.show("the leader's weekend report (第2周)", report)
    examples.show("the mid-week check (第2周), to the leader", text)
    examples.show("the mid-week nudge, to Momo", nudges[0]["content"])
    examples.show("the admins' overview (第2周)", overviews[1]["content"])

    # --- the leader applies 退阶 on Sunday night: from the next week, told kindly ----------------------
    sent.clear()
    mid = command(r, "lily", "退阶 婷婷 1", day(13), 21, 40)
    [reply] = [m for m in sent.msgs if m["id"] == f"cmd:{mid}"]
    assert "下周（11月30日起）" in reply["content"] and "3 天调整为 1 天" in reply["content"]
    assert stats(r, s, day(13))["tingting"]["week_goal"] == 3
    assert stats(r, s, day(14))["tingting"]["week_goal"] == 1
    assert sent.private("tingting") == []  # the kind word goes with the next tick
    schedule.tick(at(day(13), 21, 41))
    [kind] = sent.private("tingting")
    assert kind["id"] == f"cmd:{mid}:member" and "调整为 1 天" in kind["content"] and "不是退步" in kind["content"]
    assert r.llen(keys.NOTICES) == 0

    # --- a member proposes their own goal; the leader confirms with the exact command -----------------
    sent.clear()
    pid = command(r, "momo", "目标 4", day(14), 9)
    [to_momo] = [m for m in sent.msgs if m["id"] == f"cmd:{pid}"]
    [to_lily] = [m for m in sent.msgs if m["id"] == f"cmd:{pid}:leader:lily"]
    assert "告诉组长" in to_momo["content"] and to_momo["users"] == ["momo"]
    assert "Momo 想把每周目标定为 4 天" in to_lily["content"] and "\n目标 Momo 4\n" in to_lily["content"]
    assert stats(r, s, day(14))["momo"]["week_goal"] == 3  # waits for the leader
    gid = command(r, "lily", "目标 Momo 4", day(14), 10)
    assert stats(r, s, day(14))["momo"]["week_goal"] == 4
    schedule.tick(at(day(14), 10, 1))
    [told] = [m for m in sent.private("momo") if m["id"] == f"cmd:{gid}:member"]
    assert "同意了你的提议" in told["content"]
    command(r, "lily", "目标 阿青 4", day(14), 11)  # last week's suggestion, applied

    # --- goal history in `wecom-bot audit` ------------------------------------------------------------
    from wecom_bot import cli

    capsys.readouterr()
    assert cli.main(["audit", "xhs01"]) == 0
    out = capsys.readouterr().out
    history = [line for line in out.splitlines() if "目标" in line or "退阶" in line]
    assert [line.split("  ")[1:3] for line in history] == [
        ["lily", "退阶"],
        ["momo", "目标提议"],
        ["lily", "目标"],
        ["lily", "目标"],
    ]
    assert "2026-11-29 21:40  lily  退阶  → tingting  「退阶 婷婷 1」" in out
    assert "→ momo  「目标 4」" in out

    # --- week 3 and the end of the camp ----------------------------------------------------------------
    sent.clear()
    events = [
        (at(day(n), 12), lambda uid=uid, n=n: checkin(r, uid, day(n)))
        for uid, days in PLAN.items()
        for n in days
        if n >= 14
    ]
    events += [(at(day(n), 12), lambda n=n: checkin(r, "tingting", day(n))) for n in (15, 18)]
    run(r, events, day(14), day(21))  # to Monday 12-07, the day after the camp
    [ov] = [m for m in sent.msgs if m["id"].startswith("slot:_camp:overview:")]
    assert ov["id"] == "slot:_camp:overview:2026-11-30:admin1"
    assert "组长跟进：上周建议 3 条，已采纳 2 条" in ov["content"]
    assert "✔ 退阶 婷婷 1" in ov["content"] and "✔ 目标 阿青 4" in ov["content"] and "✘ 目标 小鹿 4" in ov["content"]
    review3 = sent.group_posts("summary")[0]["content"]
    assert "✅ 婷婷 2/1" in review3  # the lower goal, reached
    finals = [m for m in sent.msgs if ":final:" in m["id"]]
    assert [(m["id"], m["users"]) for m in finals] == [("slot:xhs01:final:2026-12-06:lily", ["lily"])]
    final = finals[0]["content"]
    assert final.startswith("🎓 小红书一组 训练营结营报告（11月16日—12月6日）")
    assert "· 小鹿：达标 3/3 周｜累计 21 天｜最长连续 21 天" in final
    assert "· 婷婷：达标 1/3 周｜累计 3 天" in final
    assert "🏆 全程尖子生：小鹿（达标 3 周，21 天）" in final
    examples.show("the kind word to 婷婷", kind["content"])
    examples.show("the proposal, to the leader", to_lily["content"])
    examples.show("the admins' overview (第3周)", ov["content"])
    examples.show("the final report", final)
    # nothing is scheduled after the camp (the final report aside, claimed once)
    assert {m["id"].split(":")[3] for m in sent.msgs if m["id"].startswith("slot:xhs01:")} <= {
        (day(14) + timedelta(days=i)).isoformat() for i in range(7)
    }
    sent.clear()
    for ts in minutes(at(day(21), 23, 40), at(day(23), 23, 0), 60):
        schedule.tick(ts)
    assert sent.msgs == []


def test_credit_flips_a_closed_week_from_missed_to_met(env, r, sent):
    s = camp(env, r)
    for n in (0, 2):  # 2/3 in week 1
        checkin(r, "tingting", day(n))
    for n in (7, 8, 9):
        checkin(r, "xiaolu", day(n))
    for ts in (at(day(6), 20), at(day(6), 21)):
        schedule.tick(ts)
    [post] = sent.group_posts("summary")
    assert "⏳ 婷婷 2/3" in post["content"]  # Sunday evening: still within reach
    week1 = day_index(START)
    group = s.groups["xhs01"]
    members = {m.userid: m for m in weekly.group_weeks(r, group, day_index(day(9)))}
    assert members["tingting"].history[0].status == MISSED

    mid = command(r, "lily", "补卡 婷婷 2026-11-20", day(9), 10)  # Friday of the closed week 1
    [reply] = [m for m in sent.msgs if m["id"] == f"cmd:{mid}"]
    assert "那一周 3/3" in reply["content"] and "那一周的目标算达成啦" in reply["content"]
    members = {m.userid: m for m in weekly.group_weeks(r, group, day_index(day(9)))}
    assert members["tingting"].history[0].status == MET and members["tingting"].history[0].week == week1
    assert stats(r, s, day(6))["tingting"]["week_count"] == 3
    assert stats(r, s, day(2))["tingting"]["streak"] == 1  # Mon, (Tue), Wed
    command(r, "lily", "补卡 婷婷 2026-11-17", day(9), 10, 5)
    assert stats(r, s, day(2))["tingting"]["streak"] == 3  # the runs join: streaks recomputed
    assert stats(r, s, day(6))["tingting"]["week_count"] == 4
    # the week-2 register no longer sees two missed weeks in a row: no 退阶
    for ts in (at(day(13), 20), at(day(13), 21)):
        schedule.tick(ts)
    [report] = [m for m in sent.private("lily", "summary") if "2026-11-29" in m["id"]]
    assert "退阶 婷婷" not in report["content"] and "❌ 婷婷 0/3" in report["content"]


def test_days_off_lower_the_goal_and_a_week_all_off_is_not_missed(env, r, sent):
    s = camp(env, r)
    checkin(r, "aqiang", day(0))
    checkin(r, "aqiang", day(1))
    msgid = command(r, "lily", "请假 阿强 12", day(2), 9)  # Wed of week 1 to Sun of week 2
    [reply] = [m for m in sent.msgs if m["id"] == f"cmd:{msgid}"]
    assert "本周目标由 3 天调为 1 天" in reply["content"] and "第2周整周请假，不计目标" in reply["content"]
    checkin(r, "aqiang", day(14))
    st = stats(r, s, day(14))
    assert st["aqiang"]["streak"] == 3  # Mon, Tue, (12 days off), Mon
    group = s.groups["xhs01"]
    m = {x.userid: x for x in weekly.group_weeks(r, group, day_index(day(13)))}["aqiang"]
    assert [(w.count, w.goal, w.status) for w in m.history] == [(2, 1, MET), (0, 0, OFF)]
    for ts in (at(day(13), 20), at(day(13), 21)):
        schedule.tick(ts)
    [post] = sent.group_posts("summary")
    assert "🌴 阿强 本周请假" in post["content"]
    assert "本周 0/4 人达成目标" in post["content"]  # the member on leave is not counted


def test_no_dates_calendar_weeks_and_the_goal_never_drops_to_zero(env, r, sent):
    s = env(**group_env(chat=CHAT, members=NAMES))
    r.hset(keys.names("xhs01"), mapping=NAMES)
    checkin(r, "xiaolu", day(7))
    for ts in (at(day(13), 20), at(day(13), 21)):
        schedule.tick(ts)
    [post] = sent.group_posts("summary")
    assert post["content"].split("\n")[0] == "📊 本周打卡总结（11月23日—11月29日）"
    # 退阶 to 0 is refused; a stored 0 (a hand edit) still reads as 1
    msgid = command(r, "lily", "退阶 小鹿 0", day(14), 9)
    [reply] = [m for m in sent.msgs if m["id"] == f"cmd:{msgid}"]
    assert "不退到 0" in reply["content"]
    r.hset(keys.goals("xhs01", "xiaolu"), str(day_index(day(14))), "0")
    assert stats(r, s, day(14))["xiaolu"]["week_goal"] == 1
    # 退阶 the same goal twice: told it is already planned; the member is told once
    command(r, "lily", "目标 小鹿 3", day(14), 10)
    first = command(r, "lily", "退阶 小鹿 2", day(14), 11)
    again = command(r, "lily", "退阶 小鹿 2", day(14), 12)
    [twice] = [m for m in sent.msgs if m["id"] == f"cmd:{again}"]
    assert "已经是每周 2 天" in twice["content"]
    schedule.tick(at(day(14), 12, 1))
    told = [m["id"] for m in sent.private("xiaolu")]
    assert f"cmd:{first}:member" in told and f"cmd:{again}:member" not in told


def test_downgrade_after_the_camp_is_refused_with_a_hint(env, r, sent):
    camp(env, r)
    msgid = command(r, "lily", "退阶 婷婷 1", END, 20)
    [reply] = [m for m in sent.msgs if m["id"] == f"cmd:{msgid}"]
    assert "训练营在 12月6日 就结束啦" in reply["content"] and "目标 婷婷 1" in reply["content"]
    assert r.llen(keys.audit("xhs01")) == 0


def test_midweek_nudge_in_quiet_hours_is_dropped_not_kept(env, r, sent):
    """The bot's own notes never go out in quiet hours, and what did not fit is not queued for later
    (workers/initiative.py): the leader still gets the check, without "我已私信"."""
    camp(env, r, MIDWEEK_AT="wed 23:00")
    for ts in (at(day(9), 22), at(day(9), 23)):
        schedule.tick(ts)
    [check] = sent.private("lily", "midweek")
    assert "我已私信" not in check["content"]
    assert [m for m in sent.msgs if ":nudge:" in m["id"]] == []
    assert r.llen(keys.NOTICES) == 0
    for ts in (at(day(10), 7, 30), at(day(10), 8, 0), at(day(10), 12, 0)):
        schedule.tick(ts)
    assert [m for m in sent.msgs if ":midweek:" in m["id"] and ":nudge:" in m["id"]] == []


def test_settings_block_names_the_exact_variable(env):
    from config import settings as settings_mod

    s = settings_mod.load(
        {
            "BOT_ENV_FILE": "/nonexistent",
            "BOT_DOWNGRADE_AFTER_WEEKS": "0",
            "BOT_REPLY_RESERVED": "2",
            "BOT_MIDWEEK_NUDGE": "maybe",
        }
    )
    assert "BOT_DOWNGRADE_AFTER_WEEKS='0': expected a whole number from 1 to 12" in s.problems
    assert "BOT_REPLY_RESERVED: unknown variable; did you mean BOT_REPLY_RESERVE?" in s.problems
    assert any(p.startswith("BOT_MIDWEEK_NUDGE='maybe'") for p in s.problems)
    ok = settings_mod.load({"BOT_ENV_FILE": "/nonexistent", "BOT_DOWNGRADE_AFTER_WEEKS": "3"})
    assert ok.downgrade_after_weeks == 3 and not ok.problems


def test_top_performers_include_ties_up_to_three():
    def mw(uid, count, goal=3, streak=0):
        res = WeekResult(0, count, goal, goal, 0, 0, MET if count >= goal else MISSED)
        return hw.MemberWeek(uid, uid, res, [res], streak)

    tie = [mw("a", 5), mw("b", 5), mw("c", 4), mw("d", 4), mw("e", 1)]
    assert [m.userid for m in hw.top_performers(tie)] == ["a", "b"]  # c and d tie for third: neither
    assert [m.userid for m in hw.top_performers([mw("a", 5), mw("b", 4), mw("c", 4)])] == ["a", "b", "c"]
    many = [mw(u, 6, streak=i) for i, u in enumerate("abcde")]
    assert [m.userid for m in hw.top_performers(many)] == ["e", "d", "c"]  # the longest streaks lead
    assert hw.top_performers([mw("a", 2)]) == []  # only those who met the goal


def test_bot_top_performers_limits_the_review_and_the_leader_report(env, r, sent):
    env(
        BOT_TOP_PERFORMERS="1",
        **group_env(chat=CHAT, members=NAMES, CAMP_START=START.isoformat(), CAMP_END=END.isoformat()),
    )
    r.hset(keys.names("xhs01"), mapping=NAMES)
    for uid, days in {"xiaolu": range(5), "aqing": range(4), "momo": range(3)}.items():  # all meet 3
        for n in days:
            checkin(r, uid, day(n))
    for ts in (at(day(6), 20), at(day(6), 21)):
        schedule.tick(ts)
    [review] = sent.group_posts("summary")
    assert "🏆 本周之星：小鹿（5 天）\n" in review["content"]  # one star, not three
    [report] = sent.private("lily", "summary")
    assert "🏆 尖子生：小鹿（5 天），" in report["content"]


def test_leave_lowers_the_goal_pro_rata_to_the_nearest_day_and_keeps_it_reachable():
    table = {g: [leave_goal(g, off) for off in range(8)] for g in (1, 3, 5, 7)}
    assert table[3] == [3, 3, 2, 2, 1, 1, 1, 0]  # 3 × 5/7 ≈ 2: two days off no longer keep 3
    assert table[7] == [7, 6, 5, 4, 3, 2, 1, 0]  # a daily goal: exactly the days left
    assert table[1] == [1, 1, 1, 1, 1, 1, 1, 0]  # never 0 while one day is left
    for g in range(1, 8):
        for off in range(7):
            assert 1 <= leave_goal(g, off) <= min(g, 7 - off)


def test_midweek_counts_the_days_left_without_the_days_off(env, r, sent):
    camp(env, r)
    checkin(r, "xiaolu", day(7))
    command(r, "tingting", "请假 3", day(9), 9)  # Wed–Fri of week 2 off
    for ts in (at(day(9), 19), at(day(9), 20)):
        schedule.tick(ts)
    [mid] = sent.private("lily", "midweek")
    behind = [line for line in mid["content"].split("\n") if line.startswith("· ")]
    assert "· 婷婷 0/2，本周还剩 2 天（请假 3 天，目标已按比例调为 2，今天请假中）" in behind
    assert "· Momo 0/3，本周还剩 4 天" in behind
    nudges = {m["users"][0]: m["content"] for m in sent.msgs if ":nudge:" in m["id"]}
    assert "tingting" not in nudges  # not on a day off
    assert "0/3" in nudges["momo"] and "4 天" in nudges["momo"]  # the same numbers as the leader's


def test_overview_marks_a_suggestion_that_a_credit_made_moot(env, r, sent):
    s = camp(env, r)
    checkin(r, "tingting", day(1))  # 1/3 in week 1, 0/3 in week 2
    for ts in (at(day(13), 20), at(day(13), 21)):
        schedule.tick(ts)
    tips = weekly.suggestions_of(r, s.groups["xhs01"], day_index(day(7)))
    assert tips["tingting"]["kind"] == "downgrade"
    command(r, "lily", "补卡 婷婷 2026-11-18", day(14), 9)  # week 1 becomes 3/3 after all
    command(r, "lily", "补卡 婷婷 2026-11-19", day(14), 9, 5)
    sent.clear()
    for ts in (at(day(20), 20), at(day(20), 21)):
        schedule.tick(ts)
    [ov] = [m for m in sent.msgs if m["id"].startswith("slot:_camp:overview:")]
    text = ov["content"]  # the others never checked in at all
    assert "组长跟进：上周建议 5 条，已采纳 0 条，1 条因补卡已不需要（" in text
    assert "– 退阶 婷婷 1（已不需要）" in text and "✘ 退阶 Momo 1" in text


def test_a_camp_ending_mid_week_gets_its_last_review_with_the_final_report(env, r, sent):
    camp(env, r, CAMP_END="2026-12-02")  # a Wednesday: that Sunday's summary never fires
    for n in (14, 15, 16):
        checkin(r, "xiaolu", day(n))
    checkin(r, "momo", day(15))
    for ts in minutes(at(day(14), 3), at(day(18), 23), 60):
        schedule.tick(ts)
    ids = [m["id"] for m in sent.msgs if m["id"].startswith("slot:xhs01:final:")]
    assert ids == [
        "slot:xhs01:final:2026-12-02:review",
        "slot:xhs01:final:2026-12-02:week:lily",
        "slot:xhs01:final:2026-12-02:lily",
    ]
    review = sent.msgs[[m["id"] for m in sent.msgs].index(ids[0])]
    assert review["to"] == "group" and review["content"].startswith("📊 第3周打卡总结")
    text = review["content"]
    assert "✅ 小鹿 3/1 · 连续 3 天" in text and "✅ Momo 1/1" in text  # 3 camp days: 3 × 3/7 ≈ 1
    assert "❌ 阿青 0/1" in text and "⏳" not in text and "请假" not in text  # closed; not days off
    assert "训练营圆满收官" in text and "下周" not in text
    [week] = [m for m in sent.msgs if m["id"] == ids[1]]
    assert week["content"].startswith("📋 小红书一组 · 第3周周报") and "💡" not in week["content"]
    assert not sent.group_posts("summary")
