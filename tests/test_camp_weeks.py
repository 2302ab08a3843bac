"""Two camp weeks end to end: every member post is an encrypted robot callback,
every leader command an encrypted app callback, time moves with `wecom-bot tick --at`, and what the
bot says is read where it arrives: the built-in WeCom simulator (robot webhook, appchat, app messages).

Group 写作营·1组 has twenty learners and a robot; on the camp's first morning nineteen check in within
one minute, so the replies are gathered under the robot's 20 messages a minute. Week 1: 大白 is behind on
Wednesday, 阿强 takes Thursday–Sunday off (请假 4) and keeps the streak, 婷婷 checks in once. Week 2:
Momo and 婷婷 are behind on Wednesday; the weekend register suggests 退阶 婷婷 1 (two missed weeks) and
a higher goal for 小鹿; the leader applies the 退阶, which takes effect on Monday of week 3. Group
写作营·2组 (no robot: appchat) gives the admins' overview a second group."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from camp_driver import Camp, local, start_camp, with_text

from config.settings import get_settings
from handlers import praise
from handlers.calendar import day_index
from workers import keys
from workers.register import stats_json

START = date(2026, 11, 16)  # Monday of week 1; the camp runs four weeks
END = date(2026, 12, 13)
G1 = {
    "xiaolu": "小鹿",
    "tingting": "婷婷",
    "momo": "Momo",
    "aqiang": "阿强",
    "dabai": "大白",
    "xiaoyu": "小雨",
    "anan": "安安",
    "lele": "乐乐",
    "guoguo": "果果",
    "sisi": "思思",
    "yiyi": "一一",
    "duoduo": "朵朵",
    "mili": "米粒",
    "doudou": "豆豆",
    "tangtang": "糖糖",
    "aqing": "阿青",
    "xiaoqi": "小七",
    "chengzi": "橙子",
    "mumu": "木木",
    "keke": "可可",
}
G2 = {"nana": "娜娜", "beibei": "贝贝"}
APPCHAT = "wrchat02"  # 写作营·2组 has no robot; the robot's group is the driver's default, wrchat01


def plan() -> dict[str, list[int]]:
    """Who checks in on which camp day (0 = Monday of week 1)."""
    out = {uid: [0, 2, 4, 7, 9, 11] for uid in G1}  # Mon/Wed/Fri: 3/3 each week
    out.update(
        {
            "xiaolu": list(range(14)),  # every day: beats the goal twice
            "tingting": [0],  # 1/3, then 0/3: two missed weeks
            "momo": [0, 1, 2, 10, 11, 12],  # week 2: nothing before Thursday
            "aqiang": [0, 1, 2, 7, 8, 9],  # + 请假 4 on Thursday of week 1
            "dabai": [3, 4, 5, 7, 9, 11],  # week 1: nothing before Thursday
        }
    )
    out.update({"nana": [0, 2, 4, 7, 9, 11], "beibei": [0]})
    return out


def day(n: int) -> date:
    return START + timedelta(days=n)


@pytest.fixture
def camp(sim, env, r, capsys, monkeypatch):
    return start_camp(
        sim,
        env,
        r,
        capsys,
        monkeypatch,
        {**G1, **G2},
        START,
        END,
        chats={uid: APPCHAT for uid in G2},
        GROUP_XHS01_NAME="写作营·1组",
        GROUP_XHS01_MEMBERS=",".join(G1),
        GROUP_XHS01_LEADERS="lily",
        GROUP_XHS02_NAME="写作营·2组",
        GROUP_XHS02_MEMBERS=",".join(G2),
        GROUP_XHS02_LEADERS="leader2",
    )


def run_days(c: Camp, first: int, last: int, extra: list[tuple[float, str, str, str]] = ()) -> None:
    """Days `first`..`last`: the plan's check-ins (the first morning's burst aside), `extra` posts
    ((instant, "group" | "app", userid, text)), and a `tick --at` every hour plus the minute after a burst."""
    events: list[tuple[float, int, str, str, str]] = []
    for uid, days in plan().items():
        for n in days:
            if first <= n <= last and not (n == 0 and uid != "dabai"):
                events.append((local(day(n), 12, 0, 2 * list(plan()).index(uid)), 1, "group", uid, "@打卡助手 打卡"))
    events += [(ts, 1, how, uid, text) for ts, how, uid, text in extra]
    for n in range(first, last + 1):
        for hh in range(24):
            events.append((local(day(n), hh, 0, 30), 0, "tick", "", ""))
    for ts, _, how, uid, text in sorted(events):
        if how == "tick":
            c.tick(ts)
        elif how == "group":
            c.post(uid, text, ts)
        else:
            c.private(uid, text, ts)


def stats(c: Camp, d: date) -> dict:
    group = get_settings().groups["xhs01"]
    return {m["userid"]: m for m in stats_json(c.r, group, day_index(d))["members"]}


def test_two_camp_weeks_through_wecom(camp, examples):
    c = camp
    # --- Monday 09:00 of week 1: nineteen check-ins in one minute ------------------------------------
    c.tick(local(day(0), 8, 0, 30))  # the morning 接龙
    burst = [uid for uid in G1 if uid != "dabai"] + ["nana", "beibei"]
    for i, uid in enumerate(burst):
        c.post(uid, "@打卡助手 打卡", local(day(0), 9, 0, 2 * i))
    direct = [m for m in c.robot_posts() if m["time"] >= local(day(0), 9)]
    assert 0 < len(direct) < 19  # the robot kept room for scheduled posts
    assert c.r.llen(keys.reply_buffer("xhs01")) == 19 - len(direct)
    c.tick(local(day(0), 9, 1, 10))  # the next minute: one gathered message
    robot = [m for m in c.robot_posts() if m["time"] >= local(day(0), 9)]
    assert len(robot) == len(direct) + 1
    gathered = robot[-1]["content"]
    assert gathered.startswith("✅ 打卡成功：") and gathered.count("第一次打卡🎉") == 19 - len(direct)
    for uid in burst[:19]:  # every member acknowledged exactly once
        assert sum(1 for m in robot if G1[uid] in m["content"]) == 1, uid
    times = sorted(m["time"] for m in c.robot_posts())
    assert all(b - a >= 60 for a, b in zip(times, times[20:], strict=False)), "over 20 robot messages in a minute"

    # --- weeks 1 and 2 -----------------------------------------------------------------------------
    extra = [
        (local(day(0), 10), "group", "dabai", "@打卡助手 我的"),  # 大白 says hello, no check-in
        (local(day(3), 9), "group", "aqiang", "@打卡助手 请假 4"),  # Thu–Sun of week 1 off
        (local(day(13), 21, 30), "app", "lily", "退阶 婷婷 1"),
    ]  # Sunday night, after the report
    run_days(c, 0, 13, extra)

    # days off keep the streak: Monday of week 2 continues Mon–Wed of week 1
    [leave] = with_text(c.robot_posts(), "已请假 4 天")
    assert "连续天数不会断" in leave and "本周目标由 3 天调为 1 天" in leave
    monday2 = [
        m["content"]
        for m in c.robot_posts()
        if m["content"].startswith("✅ 阿强 打卡成功") and local(day(7)) <= m["time"] < local(day(8))
    ]
    assert monday2 and "连续 4 天" in monday2[0]
    assert stats(c, day(9))["aqiang"]["streak"] == 6

    # the mid-week pace check names exactly the members behind
    mids = with_text(c.to("lily"), "周中进度")
    assert len(mids) == 2
    late1 = [line for line in mids[0].split("\n") if line.startswith("· ")]
    late2 = [line for line in mids[1].split("\n") if line.startswith("· ")]
    assert late1 == ["· 大白 0/3，本周还剩 4 天"]
    assert sorted(late2) == ["· Momo 0/3，本周还剩 4 天", "· 婷婷 0/3，本周还剩 4 天"]
    nudged = {uid: with_text(c.to(uid), "0/3") for uid in G1}
    assert {uid for uid, texts in nudged.items() if texts} == {"dabai", "momo", "tingting"}
    assert all(len(texts) == 1 and "4 天" in texts[0] for texts in nudged.values() if texts)

    # the weekend review in the group, and the leader's register with its suggestions
    reviews = with_text(c.robot_posts(), "打卡总结")
    assert [t.split("\n")[0] for t in reviews] == [
        "📊 第1周打卡总结（11月16日—11月22日）",
        "📊 第2周打卡总结（11月23日—11月29日）",
    ]
    review = reviews[1]
    assert "✅ 小鹿 7/3 · 连续 14 天" in review and "\n❌ 婷婷 0/3\n" in review
    assert "19 位伙伴" in review and "本周 19/20 人达成目标" in review
    assert "✅ 阿强 3/1（请假 4 天）" in reviews[0]
    reports = with_text(c.to("lily"), "周报（")
    assert len(reports) == 2 and "💡" not in reports[0]
    report = reports[1]
    assert "❌ 婷婷 0/3｜连续 0 天｜已连续 2 周未达标" in report
    assert "\n  退阶 婷婷 1" in report and "\n  目标 小鹿 4" in report
    overviews = [m["content"] for m in c.to("admin1") if "训练营周报" in m["content"]]
    assert len(overviews) == 2
    assert "【写作营·1组】第2周 完成率 95%（19/20）" in overviews[1]
    assert "【写作营·2组】第2周 完成率 50%（1/2）" in overviews[1] and "贝贝（0/3，连续 2 周未达标）" in overviews[1]

    # the 退阶: confirmed to the leader, told kindly to the member, in force from Monday of week 3
    [done] = with_text(c.to("lily"), "调整为 1 天")
    assert "下周（11月30日起）" in done
    [kind] = with_text(c.to("tingting"), "调整为 1 天")
    assert "不是退步" in kind
    assert stats(c, day(13))["tingting"]["week_goal"] == 3 and stats(c, day(14))["tingting"]["week_goal"] == 1
    c.post("tingting", "@打卡助手 打卡", local(day(14), 9, 15))
    c.tick(local(day(14), 9, 16))
    monday3s = [
        m["content"]
        for m in c.robot_posts()
        if m["time"] >= local(day(14), 9, 15) and m["content"].startswith("✅ 婷婷")
    ]
    [monday3] = monday3s
    assert "本周 1/1" in monday3 and monday3.split("\n")[1] in {t.format(goal=1) for t in praise.TEMPLATES["goal"]}

    # a member proposes their own goal in private chat; the leader is told and confirms
    c.private("momo", "目标 4", local(day(14), 10))
    [proposal] = with_text(c.to("lily"), "想把每周目标定为 4 天")
    assert "\n目标 Momo 4\n" in proposal
    assert with_text(c.to("momo"), "组长确认后就生效") and stats(c, day(14))["momo"]["week_goal"] == 3
    c.private("lily", "目标 Momo 4", local(day(14), 10, 30))
    c.tick(local(day(14), 10, 31))
    assert with_text(c.to("momo"), "组长同意了你的提议") and stats(c, day(14))["momo"]["week_goal"] == 4

    examples.show("as it arrived in the group (robot webhook), Sunday 11月29日 21:00", review)
    examples.show("as it arrived to the leader lily (app message), Sunday 11月29日 21:00", report)
    examples.show("the mid-week check to lily, Wednesday 11月25日 20:00", mids[1])
    examples.show("the admins' overview, Sunday 11月29日", overviews[1])
    examples.show(f"the first morning's gathered replies (robot message #{len(direct) + 1} of that minute)", gathered)
    examples.show("阿强's leave, and his Monday of week 2", leave + "\n" + monday2[0])
    examples.show("the kind word to 婷婷, and her Monday of week 3", kind + "\n" + monday3)
