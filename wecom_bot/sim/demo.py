"""`wecom-bot demo`: a week of a ten-member camp group, played through the real callback,
worker, schedule and outbound code against the built-in WeCom simulator, printing what the bot
sends as the group and the leader would see it.

It runs on its own throwaway Redis and simulator, so it never touches a configured deployment.
With a CJK font (workers/pictures/fonts.py) the pictures are on: each one sent is saved under
var/demo-pictures/ and its path printed where it arrives. Members answer the first morning's goal
question privately, through the app's callback.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import config.settings as settings_mod
from handlers.calendar import day_of
from wecom_bot import create_app
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import app_xml, robot_xml, sign
from wecom_bot.sim.simulator import SimState, SimulatorServer
from wecom_bot.terminal import pad
from workers import jobs, keys, outbound, schedule
from workers.connection import ensure_embedded, get_redis, reset_clients, stop_embedded
from workers.pictures import fonts
from workers.register import rows

TZ = ZoneInfo("Asia/Shanghai")
KEY = "demo-robot-key-0001"
CHAT = "wrkDemoChat0001"
LEADER = ("tingting", "婷婷")
MEMBERS = [
    ("xiaolu", "小鹿"),
    ("aqing", "阿青"),
    ("momo", "Momo"),
    ("dabai", "大白"),
    ("xiaoyu", "小雨"),
    ("anan", "安安"),
    ("lele", "乐乐"),
    ("guoguo", "果果"),
    ("sisi", "思思"),
    ("yiyi", "一一"),
]
TOKEN, AES = "demotoken", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
APP_TOKEN, APP_AES = "demoapptoken", "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"
CORP = "wwdemocorp"
PICTURES = Path("var") / "demo-pictures"  # relative to the current directory, like ./.env and var/redis

Event = tuple[int, str, str | None, str]  # (day, "HH:MM", userid or None for a tick, text or slot)

# Private messages to the app (the answers to the first morning's goal question), through its callback.
PRIVATE: list[Event] = [
    (0, "08:20", "xiaolu", "4"),
    (0, "08:45", "aqing", "每周3次"),
    (0, "09:50", "momo", "两天吧"),
]

SCRIPT: list[Event] = [
    (0, "09:05", "xiaolu", "@打卡助手 打卡 今天写了一篇探店笔记"),
    (0, "09:30", "aqing", "@打卡助手 已更 http://xhslink.com/a/Qw12Er"),
    (0, "10:10", "momo", "@打卡助手 怎么打卡呀？"),
    (0, "10:12", "momo", "@打卡助手 打卡"),
    (
        0,
        "12:00",
        "dabai",
        "@打卡助手 #接龙\n11月16日 更文打卡\n例 名字 已更/未更 笔记链接\n\n1. 小鹿 已更\n2. 大白 已更 第1天",
    ),
    (0, "19:40", "xiaoyu", "@打卡助手 日更完成 http://xhslink.com/a/Ab3dE9"),
    (1, "08:40", "xiaolu", "@打卡助手 Day 2 打卡✅"),
    (1, "09:00", "anan", "@打卡助手 今天太忙了还没打卡，晚上补"),
    (1, "13:20", "aqing", "@打卡助手 更文打卡+1"),
    (1, "22:50", "anan", "@打卡助手 打卡 补上啦"),
    (2, "09:15", "xiaolu", "@打卡助手 第3天 打卡"),
    (2, "11:00", "momo", "@打卡助手 已更 https://www.xiaohongshu.com/explore/6561c0a5000000003c01b2f1"),
    (2, "20:30", "aqing", "@打卡助手 打卡"),
    (3, "08:30", "tingting", "@打卡助手 档案 乐乐 在职妈妈，孩子睡了才有空写"),
    (3, "08:35", "tingting", "@打卡助手 #通知 周六晚 8 点直播复盘，记得来哦"),
    (3, "09:10", "xiaolu", "@打卡助手 收到"),
    (3, "09:20", "aqing", "@打卡助手 收到，打卡 今天写了选题清单"),
    (3, "12:30", "dabai", "@打卡助手 请假 2"),
    (3, "21:40", "lele", "@打卡助手 打卡"),
    (4, "10:00", "momo", "@打卡助手 打卡 第3篇"),
    (4, "20:00", "xiaoyu", "@打卡助手 我的"),
    (4, "20:05", "xiaoyu", "@打卡助手 已更 http://xhslink.com/a/Xy7zQ2"),
    (5, "09:00", "xiaolu", "@打卡助手 打卡"),
    (5, "10:30", "anan", "@打卡助手 打卡"),
    (6, "10:00", "xiaolu", "@打卡助手 打卡 一周全勤"),
    (6, "16:00", "tingting", "@打卡助手 本周"),
]
SLOTS = [("08:00", "chain"), ("21:00", "remind"), ("22:00", "digest")]
WEEKLY = [(2, "20:00", "midweek"), (6, "20:00", "summary")]  # BOT_MIDWEEK_AT, BOT_SUMMARY_AT


def run(days: int = 7, start: str = "2026-11-16") -> int:
    """Play `days` days of the camp week that starts on Monday `start`; prints as it goes."""
    # A week in the past: the robot's 20-a-minute window is kept in real time, and sends stamped
    # in the future would fill it.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    workdir = tempfile.mkdtemp(prefix="wecom-bot-demo-")
    try:
        return _run(workdir, days, datetime.fromisoformat(start).replace(tzinfo=TZ))
    finally:
        reset_clients()
        stop_embedded(workdir)
        shutil.rmtree(workdir, ignore_errors=True)


def _run(workdir: str, days: int, monday: datetime) -> int:
    state = SimState(corp_id=CORP, secret="demo-secret", agent_id="1000002", valid_keys={KEY})
    server = SimulatorServer(state)
    for name in [n for n in os.environ if n.startswith(("WECOM_", "BOT_", "GROUP_"))]:
        del os.environ[name]
    os.environ.update(
        {
            "REDIS_URL": ensure_embedded(workdir),
            "BOT_ENV_FILE": os.path.join(workdir, "none.env"),
            "WECOM_API_BASE_URL": server.base_url,
            "WECOM_CORP_ID": CORP,
            "WECOM_AGENT_ID": "1000002",
            "WECOM_SECRET": "demo-secret",
            "WECOM_ROBOT_TOKEN": TOKEN,
            "WECOM_ROBOT_ENCODING_AES_KEY": AES,
            "WECOM_TOKEN": APP_TOKEN,
            "WECOM_ENCODING_AES_KEY": APP_AES,
            "BOT_TIMEZONE": "Asia/Shanghai",
            "BOT_ADMINS": "admin",
            "BOT_GROUPS": "demo",
            "GROUP_DEMO_CHAT_ID": CHAT,
            "GROUP_DEMO_NAME": "小红书写作营·1组",
            "GROUP_DEMO_LEADERS": LEADER[0],
            "GROUP_DEMO_MEMBERS": ",".join(f"{uid}:{name}" for uid, name in MEMBERS),
            "GROUP_DEMO_WEBHOOK_KEY": KEY,
            "BOT_QUIET_HOURS": "23:00-08:00",
            "BOT_CALLBACK_MAX_AGE": "0",  # the demo's callbacks are signed on its own clock (a past week)
        }
    )
    settings_mod.reset()
    reset_clients()
    jobs.set_inline(True, defer=("outbox",))
    r = get_redis()
    r.flushdb()
    client = create_app().test_client()
    robot = CallbackCrypto(TOKEN, AES, "")
    app = CallbackCrypto(APP_TOKEN, APP_AES, CORP)
    names = dict(MEMBERS + [LEADER])
    font = fonts.find_font(settings_mod.get_settings().font_path)
    saved = _pictures_dir() if font else None
    shown = 0

    def show(now: datetime) -> None:
        nonlocal shown
        state.offset = now.timestamp() - time.time()
        outbound.process_outbox(r, now=now.timestamp())
        fresh = state.sent_messages()[shown:]
        shown = len(state.sent_messages())
        for m, others in _same_private_texts(fresh, names):
            if m.get("channel") == "robot":
                who = "群里 · 打卡助手"
            else:
                users = m.get("touser") or []
                who = "私聊 → " + "、".join(names.get(u, u) for u in users)
            at = ""
            if m.get("mentioned_list"):
                at = "  (@" + " @".join(names.get(u, u) for u in m["mentioned_list"]) + ")"
            if m.get("msgtype") == "image" and saved is not None:
                print(f"    ⤷ [{who}] 🖼 图片，已存为 {_save_picture(saved, r, m, now)}")
                continue
            print(f"    ⤷ [{who}]{at}")
            for line in str(m.get("content", "")).splitlines():
                print(f"        {line}")
            if others:
                print(f"    ⤷ （另 {len(others)} 位成员也收到了同样的私信：{'、'.join(others)}）")

    print("wecom-bot demo: 小红书写作营·1组, 10 members, leader 婷婷; everything below went through the")
    print("real callback (encrypted as WeCom does), the worker, the schedule and the outbox, into the")
    print("built-in WeCom simulator.")
    if saved is not None:
        print(f"Pictures are on (font {font}): each one is saved under {saved}/.\n")
    else:
        print(f"Pictures are off: {fonts.font_problem()}\n")
    events: list[tuple[int, str, str | None, str, str]] = []  # (day, HH:MM, userid, text, how)
    for day in range(days):
        for hhmm, slot in SLOTS:
            events.append((day, hhmm, None, slot, "tick"))
    events += [(day, hhmm, None, slot, "tick") for day, hhmm, slot in WEEKLY if day < days]
    events += [(*e, "group") for e in SCRIPT if e[0] < days]
    events += [(*e, "app") for e in PRIVATE if e[0] < days]
    events.sort(key=lambda e: (e[0], e[1]))
    current_day: int | None = None
    for day, hhmm, userid, text, how in events:
        h, m = map(int, hhmm.split(":"))
        now = (monday + timedelta(days=day)).replace(hour=h, minute=m)
        if day != current_day:
            current_day = day
            print(f"── {now:%Y-%m-%d} 周{'一二三四五六日'[now.weekday()]} " + "─" * 40)
        # A week played in seconds: the robot's one-minute reply window (kept in real time) is
        # started afresh at each scripted minute, as it would be between real ones.
        r.delete(keys.replies_recent("demo"))
        if userid is None:
            print(f"  {hhmm}  ⏰ tick: {text}")
            schedule.tick(now.timestamp())
            show(now)
            continue
        if how == "app":
            print(f"  {hhmm}  {names[userid]}（私聊打卡助手）: {text}")
            xml = app_xml(CORP, userid, text, create_time=int(now.timestamp()))
            signed = sign(app, "/wecom/callback", xml, int(now.timestamp()))
        else:
            print(f"  {hhmm}  {names[userid]}: {text.replace(chr(10), ' ⏎ ')}")
            signed = sign(robot, "/wecom/robot", robot_xml(CHAT, userid, names[userid], text), int(now.timestamp()))
        status = client.post(signed.path, data=signed.body).status_code
        if status != 200:
            print(f"        (callback answered {status})")
        show(now)
        # cron's next minute: what waits for a tick (a milestone's badge, gathered replies) goes then
        schedule.tick((now + timedelta(minutes=1)).timestamp())
        show(now + timedelta(minutes=1))
    # The demo's own Redis goes when it ends; `wecom-bot stats demo` reads the demo group of the service
    # that `scripts/run` runs (its env file noted under var/, config/running.py), in any terminal.
    print("\nThe register afterwards (this demo's data goes when it ends; while `scripts/run` runs,")
    print("`wecom-bot stats demo` shows its demo group's register the same way, `--json` as JSON):")
    group = settings_mod.get_settings().groups["demo"]
    last = monday + timedelta(days=days - 1, hours=23)
    for row in rows(r, group, day_of(last.timestamp(), TZ)):
        print(
            f"  {pad(row.name, 8)} 连续 {row.streak} 天  最长 {row.longest_streak}  累计 {row.total}  "
            f"本周 {row.week_count}/{row.week_goal}"
        )
    server.stop()
    jobs.set_inline(False)
    return 0


def _pictures_dir() -> Path:
    """var/demo-pictures, emptied of an earlier run's pictures."""
    PICTURES.mkdir(parents=True, exist_ok=True)
    for old in PICTURES.glob("*.png"):
        old.unlink()
    return PICTURES


def _save_picture(folder: Path, r, m: dict, now: datetime) -> Path:
    """The picture a simulator entry shows, found among the rendered ones by its md5 (its render id
    says what it is), saved as <day>-<time>-<what>-<who>.png."""
    md5 = str((m.get("image") or {}).get("md5") or "")
    render_id, data = "picture", b""
    for key in r.scan_iter(keys.picture("*")):
        png = r.get(key)
        if png is not None and hashlib.md5(png).hexdigest() == md5:
            render_id, data = key.decode()[len(keys.PICTURE_PREFIX) :], png
            break
    kinds = {"wall": "week-wall", "register": "leader-register", "month": "my-month", "trend": "camp-trend"}
    what = "badge" if render_id.startswith("badge:") else kinds.get(render_id.rsplit(":", 1)[-1], "picture")
    what = "my-month" if ":month:" in render_id else what
    who = "-".join(m.get("touser") or []) or "group"
    path = folder / f"{now:%m%d-%H%M}-{what}-{who}.png"
    path.write_bytes(data)
    return path


def _same_private_texts(msgs: list[dict], names: dict[str, str]) -> list[tuple[dict, list[str]]]:
    """Each message with the names of the members who got the same private text in the same pass (the
    first morning's ten goal questions, each addressed by name): those are printed once."""
    out: list[tuple[dict, list[str]]] = []
    firsts: dict[str, int] = {}
    for m in msgs:
        users = m.get("touser") or []
        if m.get("channel") != "app" or m.get("msgtype") != "text" or len(users) != 1:
            out.append((m, []))
            continue
        name = names.get(users[0], users[0])
        shape = str(m.get("content", "")).replace(name, "{name}")
        if shape in firsts:
            out[firsts[shape]][1].append(name)
            continue
        firsts[shape] = len(out)
        out.append((m, []))
    return out
