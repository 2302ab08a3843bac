"""The camp's routine beyond the slots (issue: the camp's SOP): goals asked privately, the tight-day
and weekend nudges, the bot's own 夺命连环call after a #通知, 开小灶, and one daily budget for every
note the bot sends a member on its own initiative.

The pure decisions (handlers/routine.py) are tables; the budget (workers/initiative.py) is a
property on the real Redis; and a two-week camp is played end to end through encrypted callbacks and
`wecom-bot tick --at`, reading what arrived in the WeCom simulator."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
from camp_driver import TZ, Camp, local, start_camp, with_text

from config.settings import get_settings
from handlers import messages
from handlers import routine as hr
from handlers.calendar import day_index, week_start
from handlers.streaks import DayBits, week_result
from workers import initiative, keys, schedule
from workers.register import stats_json

from schedule_helpers import group_env

# --- the goal answer ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,n",
    [
        ("3", 3),
        ("3天", 3),
        ("每周3次", 3),
        ("三次", 3),
        ("一周四篇", 4),
        ("两天吧", 2),
        ("每天", 7),
        ("５", 5),  # a full-width digit
        ("好的，4天", 4),
        ("一次", 1),
        ("7 天！", 7),
    ],
)
def test_a_goal_answer_is_read_in_the_ways_members_write_it(text, n):
    assert hr.parse_goal_answer(text) == n


@pytest.mark.parametrize("text", ["8", "0", "打卡", "今天3篇", "3.5", "第3周", "30", "收到", "我的", ""])
def test_anything_else_is_not_a_goal_answer(text):
    assert hr.parse_goal_answer(text) is None


# --- the morning's decisions ---------------------------------------------------------------------------

MONDAY = day_index(date(2026, 11, 2))


def member(uid, count_days, goal, day, off=(), **kw) -> hr.MorningMember:
    """A member on the morning of `day`, checked in on `count_days` (days of the same week, 0 = Monday)."""
    base = MONDAY - 35
    bits = bytearray(64)
    for d in count_days:
        i = MONDAY + d - base
        bits[i // 8] |= 0x80 >> (i % 8)
    days = DayBits(bytes(bits), base)
    offbits = bytearray(64)
    for d in off:
        i = MONDAY + d - base
        offbits[i // 8] |= 0x80 >> (i % 8)
    week = week_result(days, DayBits(bytes(offbits), base), {0: goal}, week_start(day), goal, day)
    return hr.MorningMember(
        uid, uid, week, ask="done:0", has_goal=True, off_today=day in [MONDAY + d for d in off], **kw
    )


@pytest.mark.parametrize(
    "weekday,done,goal,off,want",
    [
        (5, [], 2, [], ("tight", "今天和明天各打一次卡")),  # Saturday: Sat and Sun left, 2 needed
        (6, [5], 2, [], ("tight", "今天打一次卡")),  # Sunday: one left, one needed
        (4, [0, 1], 5, [], ("tight", "还差 3 次")),  # Friday: Fri, Sat, Sun for 3
        (3, [0], 5, [], None),  # Thursday: 4 needed in 4 days... see below
        (2, [0, 1], 5, [], None),  # Wednesday: 3 needed, 5 days left: time enough
        (5, [0, 1], 3, [], ("weekend", "还差 1 次")),  # Saturday, reachable with a day to spare
        (5, [0, 1, 2], 3, [], None),  # met: nothing
        (5, [], 3, [], None),  # 3 needed in 2 days: out of reach, the leader's 退阶 talk
        (4, [0], 3, [5], ("tight", "接下来每个能打卡的日子都打一次（还差 2 次）")),  # Saturday off: Fri and Sun
        (4, [0], 3, [4], None),  # on leave today: never
    ],
)
def test_tight_day_and_weekend_nudges_go_to_exactly_the_right_members(weekday, done, goal, off, want):
    day = MONDAY + weekday
    m = member("lulu", done, goal, day, off)
    plan = hr.morning_plan([m], day, "小红书一组", 3, asking=True)
    if want is None and weekday == 3:  # Thursday, 1 of 5 done: 4 needed, Thu–Sun left: that is tight
        assert [p.tag for p in plan] == ["tight"]
        return
    if want is None:
        assert plan == []
        return
    [p] = plan
    assert (p.tag, p.userid) == (want[0], "lulu") and want[1] in p.text


def test_never_a_nudge_to_a_muted_member_or_twice_in_one_morning():
    day = MONDAY + 5
    m = member("lulu", [], 2, day, muted=True)
    assert hr.morning_plan([m], day, "g", 3, asking=True) == []
    both = member("lulu", [], 2, day)  # tight on a Saturday: the tight note, not the weekend one too
    assert [p.kind for p in hr.morning_plan([both], day, "g", 3, asking=True)] == [hr.Kind.TIGHT_DAY]


def test_the_goal_question_once_then_one_reminder_after_two_days():
    day = MONDAY
    fresh = hr.MorningMember("lulu", "小鹿", member("x", [], 3, day).week, ask=None, has_goal=False)
    [q] = hr.morning_plan([fresh], day, "小红书一组", 3, asking=True)
    assert q.kind == hr.Kind.GOAL_ASK and "每周打卡几天" in q.text and "小红书一组" in q.text

    def plan(state, d, has_goal=False):
        m = hr.MorningMember("lulu", "小鹿", member("x", [], 3, d).week, ask=state, has_goal=has_goal)
        return [p.kind for p in hr.morning_plan([m], d, "g", 3, asking=True) if p.tag.startswith("goal")]

    assert plan(f"asked:{day}", day) == [hr.Kind.GOAL_ASK]  # a retried slot asks the same again
    assert plan(f"asked:{day}", day + 1) == []
    assert plan(f"asked:{day}", day + 2) == [hr.Kind.GOAL_REMIND]
    assert plan(f"reminded:{day + 2}", day + 2) == [hr.Kind.GOAL_REMIND]  # retried
    assert plan(f"reminded:{day + 2}", day + 3) == []
    assert plan(f"asked:{day}", day + 2, has_goal=True) == []  # a leader set it meanwhile
    assert plan(f"done:{day}", day + 5) == []
    with_goal = hr.MorningMember("lulu", "小鹿", fresh.week, ask=None, has_goal=True)
    assert hr.morning_plan([with_goal], day, "g", 3, asking=True) == []


@pytest.mark.parametrize(
    "streak,previous,want",
    [(5, 4, "best"), (4, 4, None), (7, 2, "streak"), (14, 20, "streak"), (6, 2, None), (3, 2, None)],
)
def test_feats_a_new_personal_best_or_a_long_streak_milestone(streak, previous, want):
    feat = hr.feat_of_day("lulu", "小鹿", streak, True, previous, (3, 7, 14, 21, 30))
    assert (feat.what if feat else None) == want
    assert hr.feat_of_day("lulu", "小鹿", streak, False, previous, (3, 7, 14)) is None


# --- the budget: a property on the real Redis ----------------------------------------------------------


def test_the_daily_budget_holds_whatever_the_bot_wants_to_send(env, r):
    """Random days of notes from every moment of a day: each member gets at most two a day, none in
    quiet hours, none when muted; within one moment the most useful go first; the same notes asked
    again (a retried slot) change nothing."""
    settings = env(BOT_GROUPS="g1", GROUP_G1_CHAT_ID="c1", GROUP_G1_MEMBERS="a,b,c,d", GROUP_G1_LEADERS="lily")
    group = settings.groups["g1"]
    r.hset(keys.prefs("g1"), "d:mute", "1")
    rng = random.Random(7)
    kinds = list(hr.Kind)
    for trial in range(40):
        d = date(2026, 11, 2) + timedelta(days=trial)
        sent: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for hour in sorted(rng.sample(range(24), 6)):
            ts = datetime(d.year, d.month, d.day, hour, 30, tzinfo=TZ).timestamp()
            notes = [
                initiative.Note(kind, uid, messages.to_user(f"t{trial}:{hour}:{kind.name}:{uid}", uid, "x"))
                for uid in "abcd"
                for kind in rng.sample(kinds, rng.randint(0, 4))
            ]
            first = initiative.admit(r, settings, group, notes, ts)
            assert initiative.admit(r, settings, group, notes, ts) == first  # a retry: the same, nothing more
            quiet = hour >= 23 or hour < 8 or (hour == 22)  # 22:30–08:00
            if quiet:
                assert first == []
            wanted = defaultdict(list)
            for n in notes:
                wanted[n.userid].append(n)
            for m in first:
                uid = m["users"][0]
                kind = hr.Kind[m["id"].split(":")[2]]
                sent[uid].append((hour, kind))
            for uid, ns in wanted.items():
                got = {m["id"] for m in first if m["users"][0] == uid}
                best = sorted(ns, key=lambda n: n.kind)
                if got and not quiet:  # nothing more useful than what went was left out
                    worst_sent = max(n.kind for n in ns if n.msg["id"] in got)
                    assert all(n.msg["id"] in got or n.kind >= worst_sent for n in best)
        for uid, items in sent.items():
            assert uid != "d"  # 免打扰
            assert len(items) <= hr.DAILY, (trial, uid, items)
            assert len(initiative.spent(r, uid, d.isoformat())) == len(items)
            for i, (_, kind) in enumerate(items):
                if kind in hr.FIRST_PLACE_ONLY:
                    assert i == 0


# --- a two-week camp through WeCom ---------------------------------------------------------------------

START, END = date(2026, 11, 2), date(2026, 11, 15)
NAMES = {"xiaolu": "小鹿", "aqing": "阿青", "momo": "Momo", "tingting": "婷婷", "aqiang": "阿强", "dabai": "大白"}
# who checks in on which camp day (0 = Monday of week 1)
PLAN = {
    "xiaolu": [0, 1, 5, 7, 8, 9],
    "aqing": [0, 1, 2, 3, 7, 8, 9, 10, 11],
    "momo": [5, 6, 12, 13],
    "aqiang": [0, 1, 4, 5, 6, 7, 8, 9, 10, 11],
    "tingting": [],
    "dabai": [0, 2, 4, 7, 9, 11],
}
ANSWERS = {"xiaolu": "3", "aqing": "每周4次", "momo": "一周两篇", "aqiang": "5天"}  # 婷婷 does not answer


def day(n: int) -> date:
    return START + timedelta(days=n)


@pytest.fixture
def camp(sim, env, r, capsys, monkeypatch):
    members = ",".join(f"{uid}:{name}" for uid, name in NAMES.items())
    return start_camp(
        sim,
        env,
        r,
        capsys,
        monkeypatch,
        {**NAMES, "lily": "Lily"},
        START,
        END,
        BOT_NOTICE_CHASE="on",
        GROUP_XHS01_NAME="读书营·3组",
        GROUP_XHS01_MEMBERS=members,
        GROUP_XHS01_LEADERS="lily",
    )


def play(c: Camp, first: int, last: int, extra=()) -> set[float]:
    """Days `first`..`last`: the plan's check-ins at noon, `extra` ((instant, "group" | "app", userid,
    text)), and a tick at :00:30 of every hour. Returns the instants of the ticks."""
    events = []
    for uid, days in PLAN.items():
        for n in days:
            if first <= n <= last:
                events.append((local(day(n), 12, 0, 10 * list(PLAN).index(uid)), "group", uid, "@打卡助手 打卡"))
    events += list(extra)
    ticks = {local(day(n), hh, 0, 30) for n in range(first, last + 1) for hh in range(24)}
    events += [(ts, "tick", "", "") for ts in ticks]
    for ts, how, uid, text in sorted(events):
        if how == "tick":
            c.tick(ts)
        elif how == "group":
            c.post(uid, text, ts)
        else:
            c.private(uid, text, ts)
    return ticks


def on_day(msgs: list[dict], n: int) -> list[dict]:
    return [m for m in msgs if local(day(n)) <= m["time"] < local(day(n + 1))]


def test_two_weeks_of_the_camp_routine_through_wecom(camp, r, examples):
    c = camp
    extra = [
        (local(day(0), 7, 30), "app", "dabai", "免打扰"),
        *[(local(day(0), 9, 5 * i), "app", uid, text) for i, (uid, text) in enumerate(ANSWERS.items(), 1)],
        (local(day(1), 10), "group", "lily", "@打卡助手 #通知 周四晚 8 点直播，记得来"),
        (local(day(1), 11), "group", "xiaolu", "@打卡助手 收到"),
        (local(day(1), 13), "app", "aqing", "收到"),
        (local(day(1), 15), "app", "momo", "收到"),
        (local(day(8), 10), "app", "lily", "档案 阿青 在带读书会，擅长时间管理"),
    ]
    ticks = play(c, 0, 13, extra)

    # --- 私聊定目标: asked on the first morning, answered privately, the leader told ------------------------
    asked = {uid: with_text(c.to(uid), "每周打卡几天") for uid in NAMES}
    assert {uid for uid, texts in asked.items() if texts} == set(NAMES) - {"dabai"}  # 免打扰 first
    assert all(len(t) == 1 for t in asked.values() if t)
    [question] = asked["xiaolu"]
    [answer] = with_text(c.to("xiaolu"), "监督你")
    assert answer.startswith("好，那我就按每周 3 天监督你哈")
    # the leader reads the goals in that day's digest: no message per answer
    assert not [m for m in on_day(c.to("lily"), 0) if "目标" in m["content"] and "打卡日报" not in m["content"]]
    goals = {
        m["userid"]: m["week_goal"] for m in stats_json(r, get_settings().groups["xhs01"], day_index(day(0)))["members"]
    }
    assert goals == {"xiaolu": 3, "aqing": 4, "momo": 2, "aqiang": 5, "tingting": 3, "dabai": 3}
    [reminder] = with_text(c.to("tingting"), "还没收到回复")
    assert [m["time"] for m in c.to("tingting") if "还没收到回复" in m["content"]][0] >= local(day(2), 8)
    digest0 = with_text(on_day(c.to("lily"), 0), "打卡日报")[0]
    assert "🎯 今天定下每周目标：" in digest0
    assert sorted(digest0.split("🎯 今天定下每周目标：")[1].split("，")[0].split("、")) == [
        "Momo 2 天",
        "小鹿 3 天",
        "阿强 5 天",
        "阿青 4 天",
    ]
    assert "还没回复" not in digest0  # asked this morning: the day to answer first
    digest1 = with_text(on_day(c.to("lily"), 1), "打卡日报")[0]
    assert "🎯 还没回复每周目标：婷婷（" in digest1
    digest3 = with_text(on_day(c.to("lily"), 3), "打卡日报")[0]
    assert "🎯 还没回复每周目标：婷婷" in digest3

    # --- the tight day and the weekend nudge, to exactly the right members --------------------------------
    def nudged(n: int, needle: str) -> set[str]:
        return {uid for uid in NAMES if with_text(on_day(c.to(uid), n), needle)}

    tight = "本周目标就稳了"
    assert nudged(4, tight) == {"aqiang", "tingting"}  # Friday: 3 needed in Fri–Sun
    assert nudged(5, tight) == {"momo", "aqiang"}  # Saturday: 2 needed in Sat–Sun
    assert nudged(6, tight) == {"momo", "aqiang"}  # Sunday: the last one
    assert nudged(5, "周末愉快") == {"xiaolu"}  # reachable with a day to spare; 婷婷 no longer can
    [tight_day] = with_text(on_day(c.to("momo"), 5), tight)
    assert "今天和明天各打一次卡" in tight_day
    for n in range(14):
        for uid in NAMES:
            nudges = [t for t in with_text(on_day(c.to(uid), n), "") if tight in t or "周末愉快" in t]
            assert len(nudges) <= 1, (n, uid)

    # --- the chase: the silent members privately, then the leader who is still silent ---------------------
    chased = {uid for uid in NAMES if with_text(c.to(uid), "可能被消息淹没啦")}
    # not 小鹿 (收到 in the group), 阿青 (a private 收到), 阿强 (posted in the group since), 大白 (免打扰)
    assert chased == {"momo", "tingting"}
    [chase_note] = with_text(c.to("momo"), "可能被消息淹没啦")
    assert "周四晚 8 点直播" in chase_note and "私聊回我「收到」也算" in chase_note
    [notice] = with_text(c.robot_posts(), "群通知")
    assert "我会私信提醒一下" in notice
    [follow] = with_text(c.to("lily"), "发出 ")
    assert "发出 6 小时了（我已私信提醒过 2 位）" in follow and "还没回应：婷婷、大白" in follow
    assert [m["time"] for m in c.to("lily") if "发出 " in m["content"]][0] >= local(day(1), 16)

    # --- 开小灶: stars and a personal best, privately; the leader invited to ask them to share --------------
    week1 = {uid for uid in NAMES if with_text(on_day(c.to(uid), 6), "本周之星🌟")}
    assert week1 == {"aqing"}  # 阿强's Sunday had its tight-day note: recognition only takes a day's first place
    [report1] = with_text(on_day(c.to("lily"), 6), "周报（")
    assert "🏆 尖子生：阿强（5 天）、阿青（4 天）" in report1 and "邀请分享" in report1
    assert "🌟 我已私信为阿青送上本周之星的祝贺" in report1
    assert {uid for uid in NAMES if with_text(on_day(c.to(uid), 13), "本周之星🌟")} == {"aqing", "aqiang"}
    [best] = with_text(c.to("aqing"), "刷新了自己的最长连续打卡纪录")
    assert "5 天" in best and "之前的 4 天" in best
    digest11 = with_text(on_day(c.to("lily"), 11), "打卡日报")[0]
    assert "🌟 可以请TA在群里分享一下心得（邀请分享）：阿青（刷新纪录 5 天）" in digest11
    assert "📒 阿青 的档案：在带读书会，擅长时间管理（11月10日 lily）" in digest11
    assert not with_text(c.robot_posts(), "时间管理")  # a profile never reaches the group

    # --- never a flood: every member, every day -------------------------------------------------------------
    own = [
        (uid, m)
        for uid in NAMES
        for m in c.to(uid)
        if any(abs(m["time"] - t) < 30 for t in ticks)  # sent by a tick, not an answer to the member
    ]
    per_day = Counter((uid, datetime.fromtimestamp(m["time"], TZ).date()) for uid, m in own)
    assert own and max(per_day.values()) <= hr.DAILY, per_day.most_common(3)
    for _, m in own:
        local_time = datetime.fromtimestamp(m["time"], TZ)
        assert (8, 0) <= (local_time.hour, local_time.minute) < (22, 30), m["content"]
    assert not [m for _, m in own if _ == "dabai"]
    for n in range(14):
        for uid in NAMES:
            assert len(initiative.spent(r, uid, day(n).isoformat())) <= hr.DAILY

    examples.show("the goal question, as 小鹿 reads it privately", question)
    examples.show("小鹿's answer 「3」 and the bot's reply", answer)
    examples.show("the one reminder, to 婷婷 on Wednesday", reminder)
    examples.show("the leader's digest on the first day", digest0)
    examples.show("the tight day, as Momo reads it on Saturday morning", tight_day)
    examples.show("the chase, to Momo", chase_note)
    examples.show("the leader after the chase", follow)
    examples.show("a personal best, to 阿青", best)


def test_the_digest_and_the_weekly_report_link_to_the_groups_console_page(env, r):
    settings = env(BOT_PUBLIC_URL="https://camp.example.com", **group_env(CAMP_START=START.isoformat()))
    group = settings.groups["xhs01"]
    sunday = day_index(day(6))
    now = local(day(6), 21, 0, 30)
    page = "https://camp.example.com/console/g/xhs01"
    [digest] = [m for m in schedule.daily_digest(r, group, sunday, now) if m["users"] == ["lily"]]
    assert f"🔗 本组登记表：{page}" in digest["content"]
    [report] = [
        m
        for m in schedule.weekly_summary(r, group, sunday, now)
        if m.get("users") == ["lily"] and "周报" in m.get("content", "")
    ]
    assert page in report["content"]
    unset = env(BOT_PUBLIC_URL="")
    assert "🔗" not in schedule.daily_digest(r, unset.groups["xhs01"], sunday, now)[0]["content"]
