"""Pictures end to end against the WeCom simulator: the weekend review's wall in the group (robot:
base64 + md5; without a robot: media/upload + appchat), the register to each leader (media/upload +
message/send), `我的`'s month, the admins' trend; rendered once per slot; text only without a font."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from camp_driver import Camp, local, start_camp

from handlers.calendar import day_index
from handlers.texts import ANONYMOUS
from workers import commands, ingest, keys, outbound, schedule, weekly
from workers.pictures import charts, fonts

from schedule_helpers import checkin

FONT = fonts.find_font()
pytestmark = pytest.mark.skipif(FONT is None, reason="no CJK font: scripts/setup installs fonts-wqy-microhei")

SUNDAY = date(2026, 11, 29)
MEMBERS = {"xhs01": "xiaolu:小鹿,aqing:阿青,momo:Momo", "xhs02": "ben:本本"}


@pytest.fixture
def camp(sim, env, r):
    settings = env(
        BOT_FONT_PATH="",
        GROUP_XHS01_MEMBERS=MEMBERS["xhs01"],
        GROUP_XHS02_MEMBERS=MEMBERS["xhs02"],
        BOT_CAMP_START="2026-11-16",
    )
    for d in (23, 24, 26):
        checkin(r, settings, "xhs01", "xiaolu", date(2026, 11, d))
        checkin(r, settings, "xhs01", "momo", date(2026, 11, d))
    checkin(r, settings, "xhs01", "aqing", date(2026, 11, 25))
    checkin(r, settings, "xhs02", "ben", date(2026, 11, 27))
    r.hset(keys.prefs("xhs01"), "momo:private", "1")  # 不公开
    return settings


def served(sim, entry) -> bytes:
    """The picture's bytes as the simulator serves them at the entry's url."""
    base = sim.base_url.split("/cgi-bin/")[0]
    resp = requests.get(base + entry["image"]["url"], timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "image/png"
    return resp.content


def summary(r, settings, key):
    group = settings.group(key)
    # the review's own hour, not the test run's: a private word waits out the members' quiet night
    now = local(SUNDAY, 20)
    return weekly.summary(r, settings, group, day_index(SUNDAY), schedule.slot_id(key, "summary", SUNDAY), now)


def test_weekend_review_brings_the_wall_to_the_group_and_the_register_to_the_leader(sim, camp, r):
    msgs = summary(r, camp, "xhs01")
    kinds = [(m["to"], m["msgtype"], m.get("group") or m["users"][0]) for m in msgs]
    assert kinds.index(("group", "image", "xhs01")) > kinds.index(("group", "text", "xhs01"))  # after its text
    assert kinds.index(("user", "image", "leader1")) > kinds.index(("user", "text", "leader1"))
    outbound.post_many(r, msgs)
    outbound.process_outbox(r)
    robot = sim.state.sent_messages("webhook/send")
    assert [m["msgtype"] for m in robot] == ["text", "image"] and robot[1]["content"] == "[图片]"
    cached = r.get(keys.picture("slot:xhs01:summary:2026-11-29:wall"))
    picture = served(sim, robot[1])
    assert picture == cached and robot[1]["image"]["md5"] == hashlib.md5(cached).hexdigest()
    assert 0 < r.ttl(keys.picture("slot:xhs01:summary:2026-11-29:wall")) <= keys.PICTURE_TTL
    app = [m for m in sim.state.sent_messages("message/send") if m["msgtype"] == "image"]
    # the register to the leader; the stars' badges (小鹿 and Momo, 3/3) after their word of recognition
    assert sorted(m["touser"][0] for m in app) == ["leader1", "momo", "xiaolu"]
    assert sim.state.call_count("media/upload") == 3
    [register] = [served(sim, m) for m in app if m["touser"] == ["leader1"]]
    assert register == r.get(keys.picture("slot:xhs01:summary:2026-11-29:register")) and register != picture
    star = r.get(keys.picture("badge:xhs01:momo:slot:xhs01:summary:2026-11-29"))
    assert [served(sim, m) for m in app if m["touser"] == ["momo"]] == [star]


def test_a_group_without_a_robot_gets_its_wall_through_appchat(sim, camp, r):
    outbound.post_many(r, summary(r, camp, "xhs02"))
    outbound.process_outbox(r)
    chat = [m for m in sim.state.sent_messages("appchat/send") if m["msgtype"] == "image"]
    assert [m["chatid"] for m in chat] == ["wrchat02"]
    assert served(sim, chat[0]) == r.get(keys.picture("slot:xhs02:summary:2026-11-29:wall"))


def test_rendered_once_per_slot_and_group_whatever_the_retries(sim, camp, r):
    first = summary(r, camp, "xhs01")
    key = keys.picture("slot:xhs01:summary:2026-11-29:wall")
    marker = r.get(keys.picture("slot:xhs01:summary:2026-11-29:register"))  # another valid PNG
    r.set(key, marker, keepttl=True)
    again = summary(r, camp, "xhs01")  # a retried batch: same ids, the cached picture, no new drawing
    assert [m["id"] for m in again] == [m["id"] for m in first] and r.get(key) == marker


def test_the_wall_keeps_private_members_anonymous(sim, camp, r, monkeypatch):
    from workers.pictures import wall

    drawn: list[list[str]] = []
    render = wall.render

    def recording(w, font):
        pic = render(w, font)
        drawn.append(pic.texts)
        return pic

    monkeypatch.setattr(wall, "render", recording)  # our renderer, observed: WeCom is the real simulator
    summary(r, camp, "xhs01")
    group_wall, register = drawn
    assert "Momo" not in "".join(group_wall) and ANONYMOUS in group_wall and "小鹿" in group_wall
    assert "Momo" in register  # the leader's private register names everyone


def test_my_month_comes_privately_after_the_text(sim, camp, r):
    ts = 1764400000.0  # 2026-11-29 15:06 in Shanghai
    event = {"source": "robot", "msgid": "me-1", "chat_id": "wrchat01", "chat_type": "group", "userid": "xiaolu"}
    event.update(name="小鹿", alias="", msgtype="text", text="我的", has_image=False, event="", ts=ts)
    msgs = commands.execute(r, camp, event, "我的")
    assert [(m["to"], m.get("msgtype")) for m in msgs] == [("group", "text"), ("render", None)]  # drawn later
    assert ingest.process_batch(r, [("1-0", event)]) == ["1-0"]  # the worker's path: text posted, then the job
    outbound.process_outbox(r)
    arrived = [m.get("msgtype", "text") for m in sim.state.sent_messages() if m["path"] != "media/upload"]
    assert arrived == ["text", "image"]  # the picture after its text
    [month] = [m for m in sim.state.sent_messages("message/send") if m["msgtype"] == "image"]
    assert month["touser"] == ["xiaolu"]
    assert served(sim, month) == r.get(keys.picture("cmd:me-1:month:xhs01"))


def test_the_admins_overview_carries_the_trend_chart(sim, camp, r):
    weekly.camp_overview("2026-11-23", ts=1764400000.0)
    outbound.process_outbox(r)
    images = [m for m in sim.state.sent_messages("message/send") if m["msgtype"] == "image"]
    assert [m["touser"] for m in images] == [["admin1"]]
    assert served(sim, images[0]) == r.get(keys.picture("slot:_camp:overview:2026-11-23:trend"))


def test_without_a_cjk_font_the_text_goes_alone_and_the_log_says_so_once(sim, camp, env, r, caplog):
    settings = env(BOT_FONT_PATH="/nonexistent/wqy-microhei.ttc")
    with caplog.at_level(logging.WARNING, logger="workers.pictures.fonts"):
        first = summary(r, settings, "xhs01")
        summary(r, settings, "xhs02")
    assert first and all(m["msgtype"] == "text" for m in first)
    warnings = [rec for rec in caplog.records if "pictures are off" in rec.getMessage()]
    assert len(warnings) == 1 and "fonts-wqy-microhei" in warnings[0].getMessage()


def test_check_config_names_the_missing_font_and_its_install_command(env, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("BOT_FONT_PATH=/nonexistent/wqy-microhei.ttc\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "wecom_bot", "check-config"],
        capture_output=True,
        text=True,
        env={"BOT_ENV_FILE": str(env_file), "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    text = out.stdout + out.stderr
    assert "/nonexistent/wqy-microhei.ttc" in text and "apt-get install fonts-wqy-microhei" in text


def test_the_simulator_refuses_a_robot_image_whose_md5_does_not_match(sim, camp):
    body = {"msgtype": "image", "image": {"base64": "iVBORw0KGgo=", "md5": "0" * 32}}
    resp = requests.post(sim.base_url + "webhook/send", params={"key": camp.group("xhs01").webhook_key}, json=body)
    assert resp.json()["errcode"] == 40009 and sim.state.sent_messages("webhook/send") == []


# -- a camp week through encrypted callbacks and `wecom-bot tick --at` (tests/camp_driver.py) -----------

WEEK = [date(2026, 11, 23) + timedelta(days=n) for n in range(7)]  # Monday to Sunday
NAMES = {"xiaolu": "小鹿", "aqing": "阿青", "momo": "Momo", "lily": "Lily", "leader1": "组长一"}


@pytest.fixture
def driven(sim, env, r, capsys, monkeypatch):
    return start_camp(
        sim,
        env,
        r,
        capsys,
        monkeypatch,
        NAMES,
        WEEK[0],
        None,
        BOT_FONT_PATH="",
        GROUP_XHS01_MEMBERS="xiaolu:小鹿,aqing:阿青,momo:Momo",
        GROUP_XHS01_LEADERS="lily,leader1",
    )


def images(msgs: list[dict]) -> list[dict]:
    return [m for m in msgs if m.get("msgtype") == "image"]


def since(msgs: list[dict], ts: float) -> list[dict]:
    return [m for m in msgs if m["time"] >= ts]


def cached(c: Camp, pattern: str) -> list[bytes]:
    return [c.r.get(k) for k in c.r.scan_iter(keys.picture(pattern))]


def drawn_badges(monkeypatch) -> list[tuple[str, ...]]:
    """The texts of every badge drawn (our renderer, observed: WeCom is the real simulator)."""
    drawn: list[tuple[str, ...]] = []
    render = charts.render_badge

    def recording(b, font):
        pic = render(b, font)
        drawn.append(tuple(pic.texts))
        return pic

    monkeypatch.setattr(charts, "render_badge", recording)
    return drawn


def play_week(c: Camp, plan: dict[str, list[int]], last: int = 6) -> None:
    """The plan's check-ins at 09:00 (a member a minute), a tick the minute after each, and the day's
    slots (the 接龙 at 08:00, the review at Sunday 20:00, the reminder and the digest)."""
    for n, d in enumerate(WEEK[: last + 1]):
        c.tick(local(d, 8, 0, 30))
        for i, (uid, days) in enumerate(plan.items()):
            if n in days:
                c.post(uid, "@打卡助手 打卡", local(d, 9, 2 * i, 5))
                c.tick(local(d, 9, 2 * i + 1, 10))
        for hh in (20, 21, 22):
            c.tick(local(d, hh, 0, 30))


def test_a_week_in_the_simulator_brings_the_wall_the_registers_the_month_and_the_badges(driven, monkeypatch):
    """Issue 16's "done when": the weekend review arrives with its picture in the group and the register
    picture with each leader; 我的 brings the month; milestones bring their badges, one a day."""
    c = driven
    drawn = drawn_badges(monkeypatch)
    c.private("momo", "不公开", local(WEEK[0], 7, 30))
    play_week(c, {"xiaolu": [0, 1, 2, 3, 4, 5, 6], "aqing": [0, 2, 4], "momo": [0, 1, 2]})

    # Wednesday: 小鹿's third day in a row brings her badge to the group, after its text reply
    wed = [m for m in c.robot_posts() if local(WEEK[2], 9) <= m["time"] < local(WEEK[2], 10)]
    mine = [m for m in wed if m["msgtype"] == "image" or m["content"].startswith("✅ 小鹿")]
    assert [m["msgtype"] for m in mine] == ["text", "image"] and "连续 3 天" in mine[0]["content"]
    assert served(c.sim, mine[1]) in cached(c, "badge:xhs01:xiaolu:*")
    # Momo (不公开) reached hers too: privately, and no picture in the group ever carries it
    momo_badge, momo_star = images(c.to("momo"))  # her streak's badge, and 本周之星's on Sunday
    assert local(WEEK[2], 9) <= momo_badge["time"] < local(WEEK[2], 10)
    assert served(c.sim, momo_badge) in cached(c, "badge:xhs01:momo:*")
    assert not {served(c.sim, m) for m in images(c.robot_posts())} & {
        served(c.sim, momo_badge),
        served(c.sim, momo_star),
    }
    assert [t for t in drawn if "Momo" in t] == [
        ("连续打卡 3 天", "Momo", "坚持的样子真好看，继续加油"),
        ("本周之星", "Momo", "本周打卡 3/3 天，说到做到"),
    ]
    # one badge a day at most, and only on a milestone: 小鹿's days 3 and 7, Momo's day 3
    assert len(images(c.robot_posts())) == 2 + 1  # two badges and the week's wall

    # Sunday 20:00: the review and its wall in the group, each leader's report and register picture
    sunday = local(WEEK[6], 20)
    evening = [m for m in since(c.arrived(), sunday) if m["time"] < local(WEEK[6], 20, 1)]
    group = [(m["msgtype"], m["content"].split("\n")[0]) for m in evening if m.get("channel") == "robot"]
    assert group == [("text", "📊 第1周打卡总结（11月23日—11月29日）"), ("image", "[图片]")]
    wall = [m for m in evening if m.get("channel") == "robot"][1]
    assert served(c.sim, wall) == c.r.get(keys.picture("slot:xhs01:summary:2026-11-29:wall"))
    register = c.r.get(keys.picture("slot:xhs01:summary:2026-11-29:register"))
    for leader in ("lily", "leader1"):
        got = [m for m in evening if leader in (m.get("touser") or [])]
        assert [m["msgtype"] for m in got] == ["text", "image"] and "周报" in got[0]["content"], leader
        assert served(c.sim, got[1]) == register
    # the stars: 小鹿 had her badge today already (连续 7 天 this morning): her word of recognition only;
    # 阿青 gets hers and, after it, the 本周之星 badge
    assert [m["msgtype"] for m in evening if m.get("touser") == ["xiaolu"]] == ["text"]
    assert [m["msgtype"] for m in evening if m.get("touser") == ["aqing"]] == ["text", "image"]
    assert ("本周之星", "阿青", "本周打卡 3/3 天，说到做到") in drawn
    assert len(images(c.to("xiaolu"))) == 0  # her badges went to the group, where her replies were

    # 我的, privately: the text, then the month
    c.private("xiaolu", "我的", local(WEEK[6], 21, 30))
    mine = [m for m in c.to("xiaolu") if m["time"] >= local(WEEK[6], 21, 30)]
    assert [m["msgtype"] for m in mine] == ["text", "image"]
    assert served(c.sim, mine[1]) in cached(c, "cmd:*:month:xhs01")


def test_the_demo_saves_the_pictures_it_sends_and_prints_where(tmp_path):
    """`wecom-bot demo` (its own Redis and simulator, in a child process: it sets its own environment),
    run in a fresh directory: each picture sent is saved under var/demo-pictures/ and its path printed
    where it arrives; the first morning's ten goal questions are printed once, with who else got one."""
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-m", "wecom_bot", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(root)},
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    printed = re.findall(r"🖼 图片，已存为 (var/demo-pictures/\S+\.png)", out.stdout)
    kinds = {p.rsplit("-", 1)[0].split("-", 3)[-1] for p in printed}
    assert {"badge", "my-month", "week-wall", "leader-register", "camp-trend"} <= kinds, printed
    for path in printed:
        assert (tmp_path / path).read_bytes().startswith(b"\x89PNG"), path
    assert sorted(p.name for p in (tmp_path / "var" / "demo-pictures").iterdir()) == sorted(
        Path(p).name for p in printed
    )
    assert out.stdout.count("你好呀👋") == 1 and "（另 9 位成员也收到了同样的私信：" in out.stdout
    answer = out.stdout.split("小鹿（私聊打卡助手）: 4\n", 1)[1].split("\n  0", 1)[0].split("\n")
    assert answer[0] == "    ⤷ [私聊 → 小鹿]" and "每周 4 天" in answer[1]
    assert "今天定下每周目标：小鹿 4 天、阿青 3 天、Momo 2 天" in out.stdout  # the leader's digest
