"""Benchmark 4, memory: Redis bytes per member for the check-in state of a 90-day camp of 10,000
members (--quick 1,000) in groups of 10, written through the real code paths:

- check-ins: `workers.ingest._apply_checkins` (the checkin.lua script, pipelined, exactly as a drain
  batch applies them), every member on 80 % of the 90 days, 30 % of them with a 小红书 note link,
  display names learnt from the posts; the camp dates are configured (BOT_CAMP_START/END), so each
  group's base day is the camp start minus 7 days, as the ingest code sets it;
- goals: keys.goals hashes {week: goal}, every member one goal, 20 % also a lowered goal (退阶);
- days off: 10 % of members 2-3 days off (请假) as SETBITs on keys.off, as the command does;
- one day's messages accepted through `workers.ingest.accept` for the 24-hour dedupe window
  (`wb:seen:*`) and the inbox stream (what a day of backlog would cost; drained, it is empty).

Measured with MEMORY USAGE (SAMPLES 0) per key, grouped by kind. The member state (days bitmap,
days off, share of the names hash, goals, share of the base key) is the target; note links (kept 14
days), effect keys `wb:fx:*` (kept 8 days), the dedupe window and the inbox are reported apart, as
their steady-state size over their retention window.
"""
from __future__ import annotations

import random
import re
import time
from collections import defaultdict
from contextlib import ExitStack
from datetime import date, timedelta

from bench import common
from bench.common import InProcessEnv, Procs, RedisServer, Result, fmt_num, met

TARGET = 512
DAYS = 90
PER_GROUP = 10
CAMP_START = date(2026, 9, 1)
FX_DAYS = 8        # workers.ingest.EFFECT_TTL
LINK_DAYS = 14     # checkin.lua: EXPIRE 1209600

KINDS = [
    ("days bitmap", re.compile(rb"^wb:g:[^:]+:d:")),
    ("days off", re.compile(rb"^wb:g:[^:]+:o:")),
    ("names hash", re.compile(rb"^wb:g:[^:]+:names$")),
    ("goals", re.compile(rb"^wb:g:[^:]+:goal:")),
    ("base", re.compile(rb"^wb:g:[^:]+:base$")),
    ("note links", re.compile(rb"^wb:g:[^:]+:links:")),
    ("effects wb:fx", re.compile(rb"^wb:fx:")),
    ("dedupe wb:seen", re.compile(rb"^wb:seen:")),
    ("inbox stream", re.compile(rb"^wb:inbox$")),
]
STATE_KINDS = ("days bitmap", "days off", "names hash", "goals", "base")


def classify(key: bytes) -> str:
    for name, rx in KINDS:
        if rx.match(key):
            return name
    return "other"


def usage_by_kind(r, sample_fx: int = 20000) -> dict[str, dict]:
    """{kind: {keys, bytes}}; effect keys are sampled (their count is exact)."""
    by: dict[str, list[bytes]] = defaultdict(list)
    for key in r.scan_iter(match="wb:*", count=10000):
        by[classify(key)].append(key)
    out = {}
    rnd = random.Random(5)
    for kind, ks in by.items():
        sample = ks if kind != "effects wb:fx" or len(ks) <= sample_fx else rnd.sample(ks, sample_fx)
        total = 0
        for i in range(0, len(sample), 5000):
            with r.pipeline(transaction=False) as p:
                for k in sample[i:i + 5000]:
                    p.memory_usage(k, samples=0)
                total += sum(int(x or 0) for x in p.execute())
        scale = len(ks) / len(sample) if sample else 0
        out[kind] = {"keys": len(ks), "bytes": int(total * scale), "sampled": len(sample)}
    return out


def run(quick: bool, opts) -> Result:
    res = Result("memory")
    members = opts.members or (1000 if quick else 10_000)
    n_groups = max(1, members // PER_GROUP)
    members = n_groups * PER_GROUP
    with ExitStack() as stack:
        workdir = common.temp_workdir(stack, "memory", keep=opts.keep)
        procs = Procs(stack, workdir)
        rs = RedisServer(workdir, procs)
        r = rs.client()
        stack.callback(r.close)
        env_file = workdir / "groups.env"
        camp_end = CAMP_START + timedelta(days=DAYS - 1)
        groups = common.write_groups_env(env_file, n_groups, PER_GROUP, webhook=True,
                                         extra={"BOT_CAMP_START": CAMP_START.isoformat(),
                                                "BOT_CAMP_END": camp_end.isoformat()})
        stack.enter_context(InProcessEnv(common.service_env(rs.url, env_file)))

        from config.settings import get_settings
        from handlers.calendar import day_index, week_start
        from handlers.router import Checkin
        from workers import ingest, keys
        from workers.connection import get_redis
        settings = get_settings()
        wr = get_redis()
        used0 = int(r.info("memory")["used_memory"])

        rnd = random.Random(3)
        day0 = day_index(CAMP_START)
        t0 = time.perf_counter()
        checkins = 0
        links = 0
        for d in range(DAYS):
            actions = []
            for g in range(n_groups):
                gk = common.group_key(g)
                for uid in groups[gk]:
                    if rnd.random() >= 0.8:
                        continue
                    m = int(uid[1:])
                    note = (f"https://www.xiaohongshu.com/explore/{rnd.getrandbits(96):024x}",) if rnd.random() < 0.3 else ()
                    links += bool(note)
                    msgid = f"CAIQ{rnd.getrandbits(112):028x}"
                    actions.append((msgid, Checkin(gk, uid, common.display_name(m), day0 + d, note)))
            for i in range(0, len(actions), 2000):
                ingest._apply_checkins(wr, settings, actions[i:i + 2000])
            checkins += len(actions)
        write_s = time.perf_counter() - t0

        base = day0 - 7
        with r.pipeline(transaction=False) as p:
            for g in range(n_groups):
                gk = common.group_key(g)
                for uid in groups[gk]:
                    p.hset(keys.goals(gk, uid), str(week_start(day0)), 3)
                    if rnd.random() < 0.2:
                        p.hset(keys.goals(gk, uid), str(week_start(day0) + 7 * rnd.randrange(2, 12)), 2)
                    if rnd.random() < 0.1:
                        start = rnd.randrange(DAYS - 3)
                        for k in range(rnd.choice((2, 3))):
                            p.setbit(keys.off(gk, uid), day0 + start + k - base, 1)
            p.execute()

        state_usage = usage_by_kind(r)
        used1 = int(r.info("memory")["used_memory"])

        # one day of messages through the web's accept: the 24 h dedupe window and the inbox
        day_msgs = 0
        t1 = time.perf_counter()
        for g in range(n_groups):
            gk = common.group_key(g)
            for uid in groups[gk]:
                for kind in ("checkin", "chat"):
                    if rnd.random() >= (0.8 if kind == "checkin" else 0.3):
                        continue
                    ev = {"source": "robot", "msgid": f"CAIQ{rnd.getrandbits(112):028x}", "chat_id": common.chat_id(g),
                          "chat_type": "group", "userid": uid, "name": common.display_name(int(uid[1:])), "alias": "",
                          "msgtype": "text", "text": "@打卡助手 打卡" if kind == "checkin" else "@打卡助手 今天好累啊",
                          "has_image": False, "event": "", "ts": int(time.time())}
                    ingest.accept(wr, ev)
                    day_msgs += 1
        accept_s = time.perf_counter() - t1
        usage = usage_by_kind(r)
        for kind in ("dedupe wb:seen", "inbox stream"):
            state_usage[kind] = usage.get(kind, {"keys": 0, "bytes": 0})
        used2 = int(r.info("memory")["used_memory"])

        def b(kind):
            return state_usage.get(kind, {}).get("bytes", 0)

        per_member = {k: b(k) / members for k in STATE_KINDS}
        total_pm = sum(per_member.values())
        # steady state over each retention window
        links_per_day = b("note links") / DAYS
        fx_per_day = b("effects wb:fx") / DAYS
        links_pm = links_per_day * LINK_DAYS / members
        fx_pm = fx_per_day * FX_DAYS / members
        seen_pm = b("dedupe wb:seen") / members
        inbox_entry = b("inbox stream") / max(1, day_msgs)
        res.data.update({"members": members, "groups": n_groups, "days": DAYS, "checkins": checkins,
                         "checkins_with_links": links, "write_seconds": round(write_s, 1),
                         "accept_seconds": round(accept_s, 1), "day_messages": day_msgs,
                         "usage": state_usage, "per_member": per_member, "state_bytes_per_member": total_pm,
                         "links_bytes_per_member_14d": links_pm, "fx_bytes_per_member_8d": fx_pm,
                         "seen_bytes_per_member_24h": seen_pm, "inbox_bytes_per_entry": inbox_entry,
                         "used_memory_delta_state_and_90d_fx_links": used1 - used0,
                         "used_memory_delta_one_day_accepts": used2 - used1})
        breakdown = ", ".join(f"{k} {v:.0f}" for k, v in per_member.items())
        res.row("check-in state bytes/member", f"{total_pm:.0f}", breakdown,
                f"< {TARGET}", met(total_pm < TARGET))
        res.row("note links (14-day window)", f"{links_pm:.0f} B/member",
                f"{fmt_num(links_per_day * LINK_DAYS / 1e6, 1)} MB for {members:,} members", "", "info")
        res.row("effect keys wb:fx (8-day window)", f"{fx_pm:.0f} B/member",
                f"{b('effects wb:fx') / max(1, state_usage.get('effects wb:fx', {}).get('keys', 1)):.0f} B/key, "
                f"{fmt_num(fx_per_day * FX_DAYS / 1e6, 1)} MB", "", "info")
        res.row("dedupe wb:seen (24-hour window)", f"{seen_pm:.0f} B/member",
                f"{state_usage['dedupe wb:seen']['keys']:,} keys for {day_msgs:,} messages/day", "", "info")
        res.row("inbox stream (undrained backlog)", f"{inbox_entry:.0f} B/message",
                f"{fmt_num(b('inbox stream') / 1e6, 1)} MB for a day's {day_msgs:,}; 0 once drained", "", "info")
        res.row("camp total, steady state", f"{fmt_num((total_pm + links_pm + fx_pm + seen_pm) * members / 1e6, 1)} MB",
                f"{members:,} members, 90 days", "", "info")
    return res
