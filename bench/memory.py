"""Benchmark 4, memory: Redis bytes per member for the check-in state of a 90-day camp of 10,000
members (--quick 1,000) in groups of 10, written through the real code paths:

- leader commands (workers.commands.execute, as a drain runs them): every member gets a personal
  goal (`目标`) in the first week, 20 % a lowered goal later (`退阶`), 10 % two or three days off
  (`请假`), 30 % one or two profile notes (`档案`);
- check-ins: `workers.ingest._apply_checkins` (the checkin.lua script, pipelined, exactly as a drain
  batch applies them) on 90 days: a quarter of the members keen (85 % of days), half about their
  goal, a quarter struggling (half their goal); 30 % of check-ins with a 小红书 note link,
  display names learnt from the posts; the camp dates are configured (BOT_CAMP_START/END);
- the instant reply's praise (`workers.replies.checkin_reply`) for the check-ins of the last two
  days: what it keeps per member (the praise read last) is there for (almost) everyone;
- the weekend review (`workers.schedule.weekly_summary`) of each of the last weeks whose results
  are still kept (workers.keys.SUGGESTION_TTL): the stored weekly results;
- one day's messages accepted through `workers.ingest.accept` for the 24-hour dedupe window
  (`wb:seen:*`) and the inbox stream (what a day of backlog would cost; drained, it is empty).

Measured with MEMORY USAGE (SAMPLES 0) per key, grouped by kind. The member state (days bitmap,
days off, goals, weekly results, the praise read last, shares of the names hash and the base key)
is the target; notes, the audit log, note links (kept 14 days), effect keys `wb:fx:*` (8 days),
command guards `wb:cmd:*` (8 days), the dedupe window and the inbox are reported apart, each as its
steady-state size over its retention window.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections import defaultdict
from contextlib import ExitStack
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench import common
from bench.common import InProcessEnv, Result, fmt_num, met
from config.settings import get_settings
from handlers.calendar import day_index
from handlers.router import Checkin
from workers import commands, ingest, keys, replies, schedule
from workers.connection import get_redis

TARGET = 512
DAYS = 90
PER_GROUP = 10
CAMP_START = date(2026, 8, 31)  # a Monday; the camp's 90 days end on Saturday 2026-11-28
LINK_DAYS = 14  # checkin.lua: EXPIRE 1209600
DAY = 24 * 3600


def retention() -> dict[str, int]:
    """How long the service keeps what this benchmark reports over its retention window, read from
    the code (days; weeks of weekly results), so the figures follow the code when it changes."""
    return {
        "fx_days": round(keys.EFFECT_TTL / DAY),
        "guard_days": round(commands.GUARD_TTL / DAY),
        "link_days": LINK_DAYS,
        "summary_weeks": max(1, math.ceil(keys.SUGGESTION_TTL / (7 * DAY))),
    }


# Members differ: keen ones check in on 85 % of days, steady ones about their weekly goal, those who
# struggle on about half of it (weights of the three kinds). The weekly results stored are the
# review's suggestions (upgrade / 退阶 / talk), so they grow with the members flagged each week.
MIX = (0.25, 0.5, 0.25)
NOTE = "本周状态不错，笔记质量有提升，周末约时间聊聊选题方向"  # a leader's profile note (档案)

KINDS = [
    ("days bitmap", re.compile(rb"^wb:g:[^:]+:d:")),
    ("days off", re.compile(rb"^wb:g:[^:]+:o:")),
    ("names hash", re.compile(rb"^wb:g:[^:]+:names$")),
    ("goals", re.compile(rb"^wb:g:[^:]+:goal:")),
    ("base", re.compile(rb"^wb:g:[^:]+:base$")),
    ("weekly results", re.compile(rb"^wb:g:[^:]+:suggest:")),
    ("praise read last", re.compile(rb"^wb:g:[^:]+:praise_(last|group)$")),
    ("notes", re.compile(rb"^wb:g:[^:]+:notes:")),
    ("audit log", re.compile(rb"^wb:g:[^:]+:audit$")),
    ("note links", re.compile(rb"^wb:g:[^:]+:links:")),
    ("effects wb:fx", re.compile(rb"^wb:fx:")),
    ("command guards wb:cmd", re.compile(rb"^wb:cmd:")),
    ("dedupe wb:seen", re.compile(rb"^wb:seen:")),
    ("inbox stream", re.compile(rb"^wb:inbox$")),
]
STATE_KINDS = ("days bitmap", "days off", "goals", "weekly results", "praise read last", "names hash", "base")


def classify(key: bytes) -> str:
    for name, rx in KINDS:
        if rx.match(key):
            return name
    return "other"


def usage_by_kind(r, sample: int = 20000) -> dict[str, dict]:
    """{kind: {keys, bytes}}; kinds with more than `sample` keys are sampled (their count is exact)."""
    by: dict[str, list[bytes]] = defaultdict(list)
    for key in r.scan_iter(match="wb:*", count=10000):
        by[classify(key)].append(key)
    out = {}
    rnd = random.Random(5)
    for kind, ks in by.items():
        chosen = ks if len(ks) <= sample else rnd.sample(ks, sample)
        total = 0
        for i in range(0, len(chosen), 5000):
            with r.pipeline(transaction=False) as p:
                for k in chosen[i : i + 5000]:
                    p.memory_usage(k, samples=0)
                total += sum(int(x or 0) for x in p.execute())
        scale = len(ks) / len(chosen) if chosen else 0
        out[kind] = {"keys": len(ks), "bytes": int(total * scale), "sampled": len(chosen)}
    return out


def run(quick: bool, opts) -> Result:
    res = Result("memory")
    members = opts.members or (1000 if quick else 10_000)
    n_groups = max(1, members // PER_GROUP)
    members = n_groups * PER_GROUP
    with ExitStack() as stack:
        workdir, procs, rs, r = common.own_service_redis(stack, "memory", keep=opts.keep)
        env_file = workdir / "groups.env"
        camp_end = CAMP_START + timedelta(days=DAYS - 1)
        groups = common.write_groups_env(
            env_file,
            n_groups,
            PER_GROUP,
            webhook=True,
            extra={"BOT_CAMP_START": CAMP_START.isoformat(), "BOT_CAMP_END": camp_end.isoformat()},
        )
        stack.enter_context(InProcessEnv(common.service_env(rs.url, env_file)))
        settings = get_settings()
        wr = get_redis()
        tz = ZoneInfo("Asia/Shanghai")
        rnd = random.Random(3)
        day0 = day_index(CAMP_START)
        timings = {}

        # -- leader commands -------------------------------------------------------------------------
        def command(g: int, d: int, text: str) -> None:
            ts = datetime.combine(CAMP_START + timedelta(days=d), datetime.min.time(), tz).timestamp() + 9 * 3600
            ev = {
                "source": "robot",
                "msgid": f"CMD{rnd.getrandbits(96):024x}",
                "chat_id": common.chat_id(g),
                "chat_type": "group",
                "userid": f"lead{g:05d}",
                "name": f"组长{g:05d}",
                "alias": "",
                "msgtype": "text",
                "text": "@打卡助手 " + text,
                "has_image": False,
                "event": "",
                "ts": ts,
            }
            commands.execute(wr, settings, ev, text)

        t0 = time.perf_counter()
        n_cmds = 0
        p_day: dict[str, float] = {}  # each member's chance to check in on a day
        for g in range(n_groups):
            for uid in groups[common.group_key(g)]:
                goal = rnd.choice((2, 3, 3, 4, 5))
                command(g, rnd.randrange(0, 3), f"目标 {uid} {goal}")
                n_cmds += 1
                p_day[uid] = rnd.choices((0.85, min(1.0, (goal + 0.5) / 7), 0.5 * goal / 7), MIX)[0]
                if rnd.random() < 0.2:
                    command(g, rnd.randrange(14, DAYS - 7), f"退阶 {uid} {rnd.choice((1, 2))}")
                    n_cmds += 1
                if rnd.random() < 0.1:
                    command(g, rnd.randrange(3, DAYS - 4), f"请假 {uid} {rnd.choice((2, 3))}")
                    n_cmds += 1
                if rnd.random() < 0.3:
                    for _ in range(rnd.choice((1, 2))):
                        command(g, rnd.randrange(0, DAYS), f"档案 {uid} {NOTE}")
                        n_cmds += 1
        timings["commands"] = time.perf_counter() - t0

        # -- 90 days of check-ins, praise for the last two --------------------------------------------
        t0 = time.perf_counter()
        checkins = links = praised = 0
        for d in range(DAYS):
            actions = []
            for g in range(n_groups):
                gk = common.group_key(g)
                for uid in groups[gk]:
                    if rnd.random() >= p_day[uid]:
                        continue
                    m = int(uid[1:])
                    note = (
                        (f"https://www.xiaohongshu.com/explore/{rnd.getrandbits(96):024x}",)
                        if rnd.random() < 0.3
                        else ()
                    )
                    links += bool(note)
                    msgid = f"CAIQ{rnd.getrandbits(112):028x}"
                    actions.append((msgid, Checkin(gk, uid, common.display_name(m), day0 + d, note)))
            for i in range(0, len(actions), 2000):
                chunk = actions[i : i + 2000]
                results = ingest._apply_checkins(wr, settings, chunk)
                if d >= DAYS - 2:
                    for (msgid, a), res_ in zip(chunk, results, strict=False):
                        replies.checkin_reply(wr, settings, a, res_, msgid)
                        praised += 1
            checkins += len(actions)
        timings["checkins"] = time.perf_counter() - t0

        # -- the weekend reviews whose results are still kept ------------------------------------------
        t0 = time.perf_counter()
        keep = retention()
        summary_weeks, fx_days, guard_days = keep["summary_weeks"], keep["fx_days"], keep["guard_days"]
        sundays = [day0 + d for d in range(DAYS) if (CAMP_START + timedelta(days=d)).weekday() == 6][-summary_weeks:]
        for day in sundays:
            for g in range(n_groups):
                schedule.weekly_summary(wr, settings.groups[common.group_key(g)], day)
        timings["summaries"] = time.perf_counter() - t0

        state_usage = usage_by_kind(r)

        # -- one day of messages through the web's accept: the 24 h dedupe window and the inbox --------
        day_msgs = 0
        t1 = time.perf_counter()
        for g in range(n_groups):
            gk = common.group_key(g)
            for uid in groups[gk]:
                for kind in ("checkin", "chat"):
                    if rnd.random() >= (0.8 if kind == "checkin" else 0.3):
                        continue
                    ev = {
                        "source": "robot",
                        "msgid": f"CAIQ{rnd.getrandbits(112):028x}",
                        "chat_id": common.chat_id(g),
                        "chat_type": "group",
                        "userid": uid,
                        "name": common.display_name(int(uid[1:])),
                        "alias": "",
                        "msgtype": "text",
                        "text": "@打卡助手 打卡" if kind == "checkin" else "@打卡助手 今天好累啊",
                        "has_image": False,
                        "event": "",
                        "ts": int(time.time()),
                    }
                    ingest.accept(wr, ev)
                    day_msgs += 1
        timings["accept"] = time.perf_counter() - t1
        usage = usage_by_kind(r)
        for kind in ("dedupe wb:seen", "inbox stream"):
            state_usage[kind] = usage.get(kind, {"keys": 0, "bytes": 0})

        def b(kind):
            return state_usage.get(kind, {}).get("bytes", 0)

        def n_keys(kind):
            return state_usage.get(kind, {}).get("keys", 0)

        per_member = {k: b(k) / members for k in STATE_KINDS}
        total_pm = sum(per_member.values())
        # steady state over each retention window (what was written over 90 days, scaled)
        links_pm = b("note links") / DAYS * LINK_DAYS / members
        fx_pm = b("effects wb:fx") / DAYS * fx_days / members
        guards_pm = b("command guards wb:cmd") / DAYS * guard_days / members
        notes_pm = b("notes") / members
        audit_pm = b("audit log") / members
        seen_pm = b("dedupe wb:seen") / members
        inbox_entry = b("inbox stream") / max(1, day_msgs)
        res.data.update(
            {
                "members": members,
                "groups": n_groups,
                "days": DAYS,
                "checkins": checkins,
                "checkins_with_links": links,
                "commands": n_cmds,
                "praised": praised,
                "summaries": len(sundays) * n_groups,
                "seconds": {k: round(v, 1) for k, v in timings.items()},
                "day_messages": day_msgs,
                "retention": keep,
                "usage": state_usage,
                "per_member": per_member,
                "state_bytes_per_member": total_pm,
                "links_bytes_per_member_14d": links_pm,
                "fx_bytes_per_member_8d": fx_pm,
                "command_guards_bytes_per_member_8d": guards_pm,
                "notes_bytes_per_member": notes_pm,
                "audit_bytes_per_member": audit_pm,
                "seen_bytes_per_member_24h": seen_pm,
                "inbox_bytes_per_entry": inbox_entry,
            }
        )
        breakdown = ", ".join(f"{k} {v:.0f}" for k, v in per_member.items())
        res.row("check-in state bytes/member", f"{total_pm:.0f}", breakdown, f"< {TARGET}", met(total_pm < TARGET))
        with r.pipeline(transaction=False) as p:
            for k in r.scan_iter(match="wb:g:*:suggest:*", count=10000):
                p.hlen(k)
            flagged = sum(p.execute())
        per_flag = b("weekly results") / max(1, flagged)
        res.data.update({"weekly_results_entries": flagged, "weekly_results_bytes_per_entry": per_flag})
        res.row(
            "weekly results if every member is flagged every week",
            f"{per_flag * summary_weeks:.0f} B/member",
            f"{flagged:,} suggestions kept ({flagged / max(1, members * len(sundays)):.0%} of member-weeks), "
            f"{per_flag:.0f} B each, {summary_weeks} weeks kept",
            "",
            "info",
        )
        res.row(
            "profile notes (档案)",
            f"{notes_pm:.0f} B/member",
            f"{n_keys('notes'):,} members with notes, {b('notes') / max(1, n_keys('notes')):.0f} B each",
            "",
            "info",
        )
        res.row(
            "audit log (every command)",
            f"{audit_pm:.0f} B/member",
            f"{n_cmds:,} commands over the camp, never expires",
            "",
            "info",
        )
        res.row(
            f"note links ({LINK_DAYS}-day window)",
            f"{links_pm:.0f} B/member",
            f"{fmt_num(links_pm * members / 1e6, 1)} MB for {members:,} members",
            "",
            "info",
        )
        res.row(
            f"effect keys wb:fx ({fx_days}-day window)",
            f"{fx_pm:.0f} B/member",
            f"{b('effects wb:fx') / max(1, n_keys('effects wb:fx')):.0f} B/key, {fmt_num(fx_pm * members / 1e6, 1)} MB",
            "",
            "info",
        )
        res.row(
            f"command guards wb:cmd ({guard_days}-day window)",
            f"{guards_pm:.0f} B/member",
            f"{b('command guards wb:cmd') / max(1, n_keys('command guards wb:cmd')):.0f} B/command",
            "",
            "info",
        )
        res.row(
            "dedupe wb:seen (24-hour window)",
            f"{seen_pm:.0f} B/member",
            f"{n_keys('dedupe wb:seen'):,} keys for {day_msgs:,} messages/day",
            "",
            "info",
        )
        res.row(
            "inbox stream (undrained backlog)",
            f"{inbox_entry:.0f} B/message",
            f"{fmt_num(b('inbox stream') / 1e6, 1)} MB for a day's {day_msgs:,}; 0 once drained",
            "",
            "info",
        )
        other = b("other")
        camp_total = (total_pm + notes_pm + audit_pm + links_pm + fx_pm + guards_pm + seen_pm) * members + other
        res.row(
            "camp total, steady state",
            f"{fmt_num(camp_total / 1e6, 1)} MB",
            f"{members:,} members, 90 days; other keys {fmt_num(other / 1e3, 0)} kB",
            "",
            "info",
        )
    return res
