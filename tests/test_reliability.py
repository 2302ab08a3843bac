"""Nothing lost, nothing doubled: delivery, crashes, durability and WeCom API faults, proven by
breaking real processes (redis-server, gunicorn with the Procfile's flags, `wecom-bot worker` and
`wecom-bot tick` subprocesses, the WeCom simulator on loopback). No mocks.

Every test computes the expected outcome independently (from the messages it generated) and records a
row {fault, cases, lost, doubled} for docs/RELIABILITY.md (tests/reliability_report.py) before asserting.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis
import requests

from config.settings import get_settings
from handlers.calendar import day_of
from handlers.streaks import DayBits
from wecom_bot import create_app
from wecom_bot.cli import main as cli
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import app_xml, robot_xml, sign
from wecom_bot.sim.simulator import SimState, SimulatorServer
from wecom_bot.xmlparse import parse_app, parse_robot
from workers import backup, ingest, jobs, keys, outbound, streams

from reliability_report import clean_environ, redis_conf_args, start_gunicorn, start_worker, wait_for, wecom_bot

pytest_plugins = ["reliability_report"]

TZ = ZoneInfo("Asia/Shanghai")
CORP, AGENT = "wwrelcorp001", "1000002"
SECRET = "rel-app-secret-7f3a9c1e5b2d4a60"
ROBOT_TOKEN, ROBOT_AES = "relRobotTok3n9Q", "R3lRobotAesKey0123456789abcdefghijklmnopqrs"
APP_TOKEN, APP_AES = "relAppTok3n5W", "R3lAppAesKey0123456789abcdefghijklmnopqrstu"
ROBOT = CallbackCrypto(ROBOT_TOKEN, ROBOT_AES, "")
APP = CallbackCrypto(APP_TOKEN, APP_AES, CORP)
DEAD_API = "http://127.0.0.1:9/cgi-bin/"  # nothing listens: used where nothing may be sent


# -- configuration shared by the test process and the processes it starts ------------------------------
def gkey(i: int) -> str:
    return f"g{i:02d}"


def chat(i: int) -> str:
    return f"relchat{i:02d}"


def member(g: int, m: int) -> str:
    return f"u{g:02d}x{m:03d}"


def webhook(i: int) -> str:
    return f"relhook-{i:02d}-5e1f0c9a7b"


def service_vars(
    redis_url: str, api: str = DEAD_API, groups: int = 2, members: int = 10, webhooks: bool = True, **extra
) -> dict[str, str]:
    """The service's variables for a test: its Redis, the simulator, `groups` groups of `members`."""
    v = {
        "REDIS_URL": redis_url,
        "BOT_ENV_FILE": "/nonexistent/.env",
        "BOT_TIMEZONE": "Asia/Shanghai",
        "BOT_CALLBACK_MAX_AGE": "0",  # replays callbacks signed at fixed instants
        "BOT_ADMINS": "admin1",
        "WECOM_CORP_ID": CORP,
        "WECOM_AGENT_ID": AGENT,
        "WECOM_SECRET": SECRET,
        "WECOM_API_BASE_URL": api,
        "WECOM_ROBOT_TOKEN": ROBOT_TOKEN,
        "WECOM_ROBOT_ENCODING_AES_KEY": ROBOT_AES,
        "WECOM_TOKEN": APP_TOKEN,
        "WECOM_ENCODING_AES_KEY": APP_AES,
        "BOT_HTTP_TIMEOUT": "0.5",
        "BOT_GROUPS": ",".join(gkey(i) for i in range(groups)),
    }
    for i in range(groups):
        p = f"GROUP_{gkey(i).upper()}_"
        v[p + "CHAT_ID"] = chat(i)
        v[p + "NAME"] = f"可靠性{i:02d}组"
        v[p + "LEADERS"] = f"lead{i:02d}"
        v[p + "MEMBERS"] = ",".join(member(i, m) for m in range(members))
        if webhooks:
            v[p + "WEBHOOK_KEY"] = webhook(i)
    v.update({k: str(x) for k, x in extra.items()})
    return v


def child_env(values: dict[str, str]) -> dict[str, str]:
    env = clean_environ()
    env.update(values)
    return env


def local_ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=TZ).timestamp())


def redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=10)


def counted_days(r: redis.Redis, group: str, userid: str) -> list[int]:
    base = r.get(keys.base(group))
    if base is None:
        return []
    return DayBits(r.get(keys.days(group, userid)), int(base)).days()


def compare_days(r: redis.Redis, expected: dict[tuple[str, str], set[int]]) -> tuple[int, int]:
    """(lost, doubled) between the expected member-days and the bitmaps in Redis: a day missing is lost;
    a day counted that no message carried is an extra (doubled) one."""
    lost = extra = 0
    with r.pipeline(transaction=False) as p:
        for g, u in expected:
            p.get(keys.days(g, u))
        raws = p.execute()
    bases = {}
    for ((g, _u), days), raw in zip(expected.items(), raws, strict=True):
        if g not in bases:
            b = r.get(keys.base(g))
            bases[g] = int(b) if b is not None else 0
        got = set(DayBits(raw, bases[g]).days())
        lost += len(days - got)
        extra += len(got - days)
    return lost, extra


def metric(r: redis.Redis, name: str) -> int:
    return int(r.hget(keys.METRICS, name) or 0)


def inbox_msgids(r: redis.Redis) -> list[str]:
    return [json.loads(f[b"p"])["msgid"] for _id, f in r.xrange(streams.INBOX.key)]


def load_inbox(r: redis.Redis, events: list[dict]) -> None:
    """Put events into the inbox exactly as the callback does (`ingest.accept`: dedupe on MsgId and append,
    one Lua call each). The first call wakes a drain job, which waits for a worker."""
    for ev in events:
        ingest.accept(r, ev)


def checkin_events(
    n: int, groups: int, users: int, first_day: str, days: int, repeat_every: int = 5, prefix: int = 7_000_000_000
):
    """n private check-ins ("打卡" sent to the app by configured members; each is answered privately, one
    reply per message) through the real parser; every `repeat_every`-th message is a second check-in of
    a member on a day they already checked in (a new MsgId: counted once, answered "already").
    Returns (events, expected {(group, user): {day}})."""
    start = local_ts(first_day + " 09:00:00")
    events, expected = [], defaultdict(set)
    combos = [(g, u, d) for d in range(days) for g in range(groups) for u in range(users)]
    ci = 0
    for i in range(n):
        if repeat_every and i % repeat_every == repeat_every - 1 and ci:
            g, u, d = combos[(i * 7919) % ci]
        else:
            g, u, d = combos[ci]
            ci += 1
        ts = start + d * 86400 + (i % 3600)
        ev = parse_app(app_xml(CORP, member(g, u), "打卡", msgid=str(prefix + i), create_time=ts), ts)
        events.append(ev)
        expected[(gkey(g), member(g, u))].add(day_of(ts, TZ))
    return events, expected


def rel_snapshot(r: redis.Redis) -> dict:
    """Every wb:* key's type and value (no TTLs), except the streams' own bookkeeping."""
    out = {}
    for key in sorted(r.scan_iter("wb:*", count=1000)):
        k = key.decode()
        if k in (streams.INBOX.key, streams.OUTBOX.key) or k.endswith(":wake"):
            continue
        t = r.type(key).decode()
        if t == "string":
            v = r.get(key)
        elif t == "hash":
            v = sorted(r.hgetall(key).items())
        elif t == "list":
            v = r.lrange(key, 0, -1)
        elif t == "set":
            v = sorted(r.smembers(key))
        elif t == "zset":
            v = r.zrange(key, 0, -1, withscores=True)
        else:
            v = t
        out[k] = (t, v)
    return out


def consumer_of(proc) -> str:
    """The stream consumer name a worker process reads under (workers.streams.consumer_name)."""
    return f"{socket.gethostname()}-{proc.pid}"


def sent_replies(r: redis.Redis) -> int:
    """Replies sent, a reply sent twice counted twice: sends_dry_run (every message sent, each time)
    less the other messages sent (an admin's alert, a hint), so a double of any message shows here."""
    others = 0
    for key in r.scan_iter(keys.OUT_STATE_PREFIX + "*", count=5000):
        if not key.decode().startswith(keys.OUT_STATE_PREFIX + "reply:") and r.hget(key, "status") == b"sent":
            others += 1
    return metric(r, "sends_dry_run") - others


def outbox_consumers(r: redis.Redis) -> list[dict]:
    streams.ensure_group(r, streams.OUTBOX)
    return r.xinfo_consumers(streams.OUTBOX.key, streams.GROUP)


def inbox_effect_key(ev: dict) -> str:
    """The check-in's exactly-once key (member ids are u<group>x<n>)."""
    return keys.effect(ev["msgid"], gkey(int(ev["userid"][1:3])), ev["userid"])


def freeze_mid_batch(proc, r: redis.Redis, stream, consumer: str, count_done, tries: int = 600) -> tuple[int, int]:
    """Stop the worker (SIGSTOP) at random instants until it is caught holding a batch it has partly
    done: entries read but not acknowledged, some of which already took effect (`count_done(ids)` > 0
    for the entries' ids: msgid for the inbox, outbound id for the outbox). Returns (entries held, entries
    done); the worker is left stopped, to be killed."""
    rnd = random.Random(4)
    for _ in range(tries):
        time.sleep(rnd.uniform(0.0, 0.03))
        os.kill(proc.pid, signal.SIGSTOP)
        pending = r.xpending_range(stream.key, streams.GROUP, "-", "+", 5000, consumername=consumer)
        if pending:
            with r.pipeline(transaction=False) as p:
                for item in pending:
                    p.xrange(stream.key, item["message_id"], item["message_id"])
                rows = p.execute()
            payloads = [json.loads(row[0][1][b"p"]) for row in rows if row]
            done = count_done([pl.get("msgid") or pl.get("id") for pl in payloads])
            if done:
                return len(pending), done
        os.kill(proc.pid, signal.SIGCONT)
    raise AssertionError("could not catch the worker in the middle of a batch")


def count_existing(r: redis.Redis, names: list[str]) -> int:
    with r.pipeline(transaction=False) as p:
        for n in names:
            p.exists(n)
        return sum(p.execute())


def count_sent(r: redis.Redis, ids: list[str]) -> int:
    with r.pipeline(transaction=False) as p:
        for i in ids:
            p.hget(keys.out_state(i), "status")
        return sum(1 for s in p.execute() if s == b"sent")


@pytest.fixture
def simulator():
    """The WeCom API simulator on loopback, for the processes the test starts (rate limits on)."""
    state = SimState(corp_id=CORP, secret=SECRET, agent_id=AGENT, timeout_seconds=1.5)
    server = SimulatorServer(state)
    yield server
    server.stop()


@pytest.fixture
def live(env):
    """The test process talks to RQ for real (no inline jobs): the workers it starts do the work."""
    jobs.set_inline(False)
    yield env
    jobs.set_inline(False)


# =====================================================================================================
# 1. Delivery: a worker killed with SIGKILL in the middle of a batch
# =====================================================================================================
CRASH_N = int(os.environ.get("CRASH_MESSAGES", "20000"))
CRASH_METRIC_N = 5000  # the metric's own, smaller crash


@dataclass
class WorkerCrash:
    """What a worker killed mid-batch left, once a second worker, the tick and the reclaim are done."""

    messages: int
    distinct: int  # member-days the messages carry
    held: int  # entries the killed worker held
    applied: int  # ... of which it had already counted
    stranded: int  # entries reclaimed from the dead consumer
    lost_days: int
    extra_days: int
    dead: int  # entries in the dead-letter lists
    replies: int  # replies queued
    sent_replies: int  # replies marked sent (dry run)
    checkins: int  # the `checkins` metric
    api_calls: int  # calls that reached the simulator (BOT_DRY_RUN: none)
    cut_sends: int  # replies the killed worker's sender had claimed and not recorded (retried once)


def crash_a_worker_mid_batch(live, own_redis, procs, simulator, n: int) -> WorkerCrash:
    """n check-ins in the inbox; a worker SIGKILLed while it holds a half-done batch; a second worker and
    a real `wecom-bot tick` process; then the dead consumer's entries reclaimed."""
    server = own_redis()
    r = redis_client(server.url)
    values = service_vars(server.url, api=simulator.base_url, groups=10, members=100, BOT_DRY_RUN="1")
    live(**values)
    events, expected = checkin_events(n, groups=10, users=100, first_day="2026-03-02", days=20)
    load_inbox(r, events)
    assert r.xlen(streams.INBOX.key) == n

    w1 = start_worker(procs, child_env(values), "worker1", r)
    wait_for(
        lambda: r.xlen(streams.INBOX.key) <= n * 0.7,
        timeout=120,
        interval=0.005,
        what="worker1 to process 30% of the inbox",
    )
    by_msgid = {ev["msgid"]: ev for ev in events}
    dead_consumer = consumer_of(w1)
    held, applied = freeze_mid_batch(
        w1, r, streams.INBOX, dead_consumer, lambda ids: count_existing(r, [inbox_effect_key(by_msgid[m]) for m in ids])
    )
    procs.kill(w1, signal.SIGKILL)  # kill -9 while it holds a half-done batch
    killed_at = time.time()
    left = r.xlen(streams.INBOX.key)
    assert 0 < left < n and held > 0

    # A second worker, and the minute tick (a real `wecom-bot tick` process): it finds undelivered entries
    # and no drain pending, and wakes one; the second worker drains everything but the dead one's entries.
    start_worker(procs, child_env(values), "worker2", r)
    procs.run(wecom_bot("tick", "--at", "2026-03-25T05:00:00"), child_env(values), "tick")

    def only_the_dead_ones_left():
        holders = {c["name"].decode(): c["pending"] for c in r.xinfo_consumers(streams.INBOX.key, streams.GROUP)}
        live_pending = sum(k for name, k in holders.items() if name != dead_consumer)
        return (
            streams.depth(r, streams.INBOX)["lag"] == 0
            and live_pending == 0
            and r.xlen(streams.INBOX.key) == holders.get(dead_consumer, 0)
        )

    wait_for(only_the_dead_ones_left, timeout=120, what="worker2 to drain all but the dead worker's entries")
    stranded = r.xlen(streams.INBOX.key)
    # The next tick after RECLAIM_IDLE_MS (60 s) reclaims what the dead consumer held (maintenance.run).
    # RECLAIM_IDLE_MS is a constant, not configurable: instead of waiting a minute, run the same reclaim
    # now with min_idle_ms=0 (safe here: no live consumer holds anything).
    reclaimed = streams.reclaim(r, streams.INBOX, lambda e: ingest.process_batch(r, e), min_idle_ms=0)
    assert reclaimed == stranded
    # The dead worker's outbox sender left its sends under way pending too. The tick reclaims them once
    # idle RECLAIM_IDLE_MS, by then past outbound.STALE_SENDING: a send cut off between its claim and its
    # record is retried once (outcome unknown), one that finished is skipped. Same shortcut as above, but
    # only as soon as they are stale (a live sender's entries are younger and stay where they are).
    if any(c["name"].decode() == dead_consumer + "-sender" and c["pending"] for c in outbox_consumers(r)):
        time.sleep(max(0.0, killed_at + outbound.STALE_SENDING + 1 - time.time()))
        streams.reclaim(r, streams.OUTBOX, outbound.handle_entries, min_idle_ms=int(outbound.STALE_SENDING * 1000))
    wait_for(
        lambda: (
            r.xlen(streams.INBOX.key) == 0
            and r.xlen(streams.OUTBOX.key) == 0
            and streams.depth(r, streams.OUTBOX)["pending"] == 0
            and metric(r, "sends_dry_run") >= n
        ),
        timeout=180,
        interval=0.1,
        what="the outbox to drain",
    )
    time.sleep(0.3)

    lost_days, extra_days = compare_days(r, expected)
    return WorkerCrash(
        messages=n,
        distinct=sum(len(d) for d in expected.values()),
        held=held,
        applied=applied,
        stranded=stranded,
        lost_days=lost_days,
        extra_days=extra_days,
        dead=r.llen(streams.INBOX.dead_key) + r.llen(streams.OUTBOX.dead_key),
        replies=sum(1 for _ in r.scan_iter(keys.OUT_STATE_PREFIX + "reply:*", count=5000)),
        sent_replies=sent_replies(r),
        checkins=metric(r, "checkins"),
        api_calls=simulator.state.call_count(),
        cut_sends=metric(r, "sends_unknown"),
    )


def test_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(live, own_redis, procs, simulator, report):
    crash = crash_a_worker_mid_batch(live, own_redis, procs, simulator, CRASH_N)
    lost = crash.lost_days + max(0, CRASH_N - crash.replies) + crash.dead
    doubled = crash.extra_days + max(0, crash.sent_replies - CRASH_N)
    report.row(
        "Delivery",
        "worker SIGKILLed mid-batch; second worker + tick reclaim",
        CRASH_N,
        lost,
        doubled,
        f"{crash.distinct} member-days; killed holding {crash.held} entries, {crash.applied} of them already "
        f"counted but not acknowledged; {crash.stranded} reclaimed; {crash.cut_sends} replies cut off mid-send "
        "by the kill, retried once",
    )
    report.row(
        "Outbound",
        "BOT_DRY_RUN=1: nothing sent",
        CRASH_N,
        0,
        crash.api_calls,
        "replies marked sent (dry run), no API call reached the simulator",
    )
    assert (crash.lost_days, crash.extra_days, crash.dead) == (0, 0, 0)
    assert crash.replies == CRASH_N and crash.sent_replies == CRASH_N
    assert crash.api_calls == 0


def test_checkins_metric_is_exact_after_the_worker_crash(live, own_redis, procs, simulator, report):
    """The `checkins` counter of wb:metrics (exported as wecom_bot_checkins_total) after a worker crash of
    its own (smaller than the one above)."""
    crash = crash_a_worker_mid_batch(live, own_redis, procs, simulator, CRASH_METRIC_N)
    distinct, checkins = crash.distinct, crash.checkins
    report.row(
        "Delivery",
        "`checkins` metric (wb:metrics, /metrics) after a worker crash",
        distinct,
        max(0, distinct - checkins),
        max(0, checkins - distinct),
        f"metric {checkins}, member-days counted {distinct}; counted by checkin.lua in the same atomic "
        "step as the day, so a worker killed between two commands cannot lose or double it",
    )
    assert checkins == distinct


# =====================================================================================================
# 1. Delivery: job retries, WeCom's retries, Redis down / frozen / killed under load
# =====================================================================================================
def mixed_events(day_text: str = "2026-03-11") -> list[dict]:
    """One of every kind of inbox event: check-ins and repeats, a leader's 接龙, an image, leader commands
    in the group and in private, a member's private check-in and 我的, an unknown chat, the robot joining,
    an unrecognised mention (a hint)."""
    ts = local_ts(day_text + " 09:00:00")

    def robot(chat_id: str, userid: str, name: str, text: str = "", at: int = 0, **kw) -> dict:
        return parse_robot(robot_xml(chat_id, userid, name, text, **kw), ts + at)

    def app(userid: str, text: str, msgid: str, at: int) -> dict:
        return parse_app(app_xml(CORP, userid, text, msgid=msgid, create_time=ts + at), ts + at)

    evs = [robot(chat(0), member(0, u), f"学员{u}", "@打卡助手 打卡", u, msgid=f"mx-c{u}") for u in range(6)]
    chain_text = (
        "@打卡助手 #接龙\n3月11日 更文打卡\n例 名字 已更/未更 笔记链接\n\n"
        "1. 学员0 已更\n2. u00x008 已更\n3. u00x009 已更"
    )
    evs += [
        robot(chat(0), member(0, 0), "学员0", "@打卡助手 今日打卡✅", 60, msgid="mx-rep"),
        robot(chat(0), member(0, 7), "学员7", "", 61, msgtype="image", msgid="mx-img"),
        robot(chat(0), "lead00", "组长", chain_text, 62, msgid="mx-chain"),
        robot(chat(0), "lead00", "组长", f"@打卡助手 目标 {member(0, 1)} 4", 63, msgid="mx-goal"),
        robot(chat(0), "lead00", "组长", f"@打卡助手 档案 {member(0, 2)} 本周出差", 64, msgid="mx-note"),
        app("lead00", f"请假 {member(0, 3)} 2", "9000000001", 65),
        app("lead00", f"补卡 {member(0, 4)} 2026-03-10", "9000000002", 66),
        app(member(1, 0), "打卡", "9000000003", 67),
        app(member(1, 1), "我的", "9000000004", 68),
        app(member(1, 2), "目标 u01x003 5", "9000000005", 69),
        robot("relUNKNOWN", "x1", "陌生人", "@打卡助手 打卡", 70, msgid="mx-unknown"),
        robot(chat(1), "lead01", "组长", "", 71, msgtype="event", event="add_to_chat"),
        robot(chat(1), member(1, 5), "学员", "@打卡助手 怎么打卡呀？", 72, msgid="mx-hint"),
    ]
    return evs


def inbox_side(snap: dict) -> dict:
    """A snapshot without what the outbox's own sending changes (states, rate windows, send metrics)."""
    out = {}
    for k, (t, v) in snap.items():
        if k.startswith(
            (
                "wb:out:state:",
                "wb:out:rate:",
                "wb:out:delayed",
                "wb:out:streak:",
                "wb:out:alerted",
                "wb:out:failed",
                "wb:out:seq",
                "wb:token:",
                # the admins' alert about the failing sends (DEAD_API): queued by the sending
                # itself, once a day per problem, whatever the inbox does
                "wb:out:seen:alert:",
            )
        ):
            continue
        if k == keys.METRICS:
            v = [(f, n) for f, n in v if not f.startswith(b"sends_")]
        out[k] = (t, v)
    return out


def test_a_batch_processed_twice_changes_nothing_twice(live, own_redis, procs, report):
    server = own_redis()
    r = redis_client(server.url)
    values = service_vars(server.url, groups=2, members=10)
    live(**values)
    events = mixed_events()
    entries = [(f"{i + 1}-0", ev) for i, ev in enumerate(events)]
    assert ingest.process_batch(r, entries) == [e for e, _ in entries]
    first, posted = rel_snapshot(r), r.xlen(streams.OUTBOX.key)
    assert metric(r, "checkins") >= 9 and posted >= len(events) - 2
    # The job retried (RQ retry, or the batch reclaimed from a worker that died after finishing it):
    assert ingest.process_batch(r, entries) == [e for e, _ in entries]
    second = rel_snapshot(r)
    # ...and once more through the real queue: the same events appended to the inbox again (as a replayed
    # stream would deliver them) and drained by a `wecom-bot worker --burst` process.
    for ev in events:
        r.xadd(streams.INBOX.key, {"p": json.dumps(ev, ensure_ascii=False)})
    streams.wake_drain(streams.INBOX)
    procs.run(wecom_bot("worker", "--burst"), child_env(values), "burst", timeout=120)
    assert r.xlen(streams.INBOX.key) == 0
    third = rel_snapshot(r)
    changed = [k for k in set(first) | set(second) if first.get(k) != second.get(k)]
    a, c = inbox_side(first), inbox_side(third)
    changed += [k for k in set(a) | set(c) if a.get(k) != c.get(k)]
    report.row(
        "Delivery",
        "job retried: the same batch processed again (in process, and by a worker)",
        2 * len(events),
        0,
        len(changed),
        "state compared key by key" + (f"; changed: {sorted(changed)[:5]}" if changed else ""),
    )
    assert changed == []
    assert r.xlen(streams.OUTBOX.key) <= posted  # nothing new was queued to send


def _signed(kind: str, xml: str, ts: int):
    crypto, path = (ROBOT, "/wecom/robot") if kind == "robot" else (APP, "/wecom/callback")
    return sign(crypto, path, xml, ts)


_local = threading.local()


def _session() -> requests.Session:
    s = getattr(_local, "s", None)
    if s is None:
        s = _local.s = requests.Session()
    return s


def post(base: str, signed, timeout: float = 15.0) -> int:
    try:
        return _session().post(base + signed.path, data=signed.body, timeout=timeout).status_code
    except requests.RequestException:
        return -1


def test_wecom_retries_count_once_through_gunicorn(live, own_redis, procs, simulator, report):
    """WeCom retries a MsgId up to three times when it thinks it got no answer; retries come one after
    the other or at the same moment (here: from three threads at once, against two gunicorn workers)."""
    server = own_redis("--appendonly", "yes")
    r = redis_client(server.url)
    values = service_vars(server.url, api=simulator.base_url, groups=5, members=15)
    live(**values)
    _web, base = start_gunicorn(procs, child_env(values), "web")
    ts_robot, ts_app = local_ts("2026-03-16 09:00:00"), local_ts("2026-03-17 09:00:00")
    msgs = []  # (kind, msgid, user, signed)
    for g in range(5):
        for u in range(15):
            mid = f"rt-{g}-{u}"
            xml = robot_xml(chat(g), member(g, u), f"学员{g}{u}", "@打卡助手 打卡", msgid=mid)
            msgs.append(("robot", mid, member(g, u), _signed("robot", xml, ts_robot + u)))
    for i in range(50):
        mid = str(8_100_000_000 + i)
        uid = member(i % 5, i // 5)
        xml = app_xml(CORP, uid, "打卡", msgid=mid, create_time=ts_app + i)
        msgs.append(("app", mid, uid, _signed("app", xml, ts_app + i)))

    statuses: list[int] = []
    lock = threading.Lock()

    def deliver(i_msg):
        i, (_kind, _mid, _uid, signed) = i_msg
        if i % 2 == 0:  # three retries at the same moment
            barrier = threading.Barrier(3)

            def one():
                barrier.wait()
                return post(base, signed)

            with ThreadPoolExecutor(3) as pool:
                got = list(pool.map(lambda _: one(), range(3)))
        else:  # three one after the other
            got = [post(base, signed) for _ in range(3)]
        with lock:
            statuses.extend(got)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(deliver, enumerate(msgs)))
    stored = Counter(inbox_msgids(r))
    expected_ids = {m[1] for m in msgs}
    lost = len(expected_ids - set(stored))
    doubled = sum(n - 1 for n in stored.values() if n > 1) + len(set(stored) - expected_ids)

    # and each is counted once, and answered at most once, by a worker. (Private check-ins get one private
    # reply each; group replies may be gathered into one post while a robot is near its limit, so for them
    # only "never the same post twice" is checked.)
    start_worker(procs, child_env(values), "worker", r)
    wait_for(
        lambda: (
            r.xlen(streams.INBOX.key) == 0
            and r.xlen(streams.OUTBOX.key) == 0
            and len(simulator.state.sent_messages("message/send")) >= 50
        ),
        timeout=60,
        what="replies",
    )
    time.sleep(0.5)
    sent = simulator.state.sent_messages()
    per_user = Counter(u for m in sent if m["path"] == "message/send" for u in m["touser"])
    same_post = Counter((m["path"], m.get("key"), tuple(m.get("touser") or ()), m["content"]) for m in sent)
    replies_lost = sum(1 for _k, _m, uid, _s in msgs if _k == "app" and per_user[uid] == 0)
    replies_doubled = sum(per_user[uid] - 1 for _k, _m, uid, _s in msgs if _k == "app" and per_user[uid] > 1) + sum(
        n - 1 for n in same_post.values() if n > 1
    )
    counted = metric(r, "checkins")
    report.row(
        "Delivery",
        "WeCom retries: same MsgId x3, sequential and concurrent, 2 gunicorn workers",
        len(statuses),
        lost + replies_lost + max(0, len(msgs) - counted),
        doubled + replies_doubled + max(0, counted - len(msgs)),
        f"{len(msgs)} messages (robot and app), {len(statuses)} callbacks; counted {counted}, replies {len(sent)}",
    )
    assert set(statuses) == {200}
    assert (lost, doubled, replies_lost, replies_doubled) == (0, 0, 0, 0)
    assert counted == len(msgs)


def test_redis_down_503_and_the_retry_is_counted_once(live, own_redis, procs, report):
    server = own_redis("--appendonly", "yes", "--appendfsync", "always")
    r = redis_client(server.url)
    values = service_vars(server.url)
    live(**values)
    _web, base = start_gunicorn(procs, child_env(values), "web")
    ts = local_ts("2026-03-16 10:00:00")
    msg = {
        k: _signed("robot", robot_xml(chat(0), member(0, i), "学员", "@打卡助手 打卡", msgid=k), ts + i)
        for i, k in enumerate(["down-A", "down-B", "down-C"])
    }
    answers: dict[str, list[int]] = defaultdict(list)

    def send(k):
        code = post(base, msg[k])
        answers[k].append(code)
        return code

    def until_200(k, tries=10):
        for _ in range(tries):  # WeCom retries; we allow a few more, a pool may hold dead connections
            if send(k) == 200:
                return True
            time.sleep(0.2)
        return False

    assert send("down-A") == 200
    server.stop()  # Redis down (SIGTERM)
    assert send("down-B") == 503 and send("down-A") == 503
    server.start()  # back, same port and directory (AOF reloads A)
    assert until_200("down-B") and until_200("down-A")
    assert sorted(inbox_msgids(r)) == ["down-A", "down-B"]

    # Redis frozen (SIGSTOP) while it holds the write: the callback times out and answers 503, yet the
    # write lands once Redis runs again. WeCom's retry then finds it stored: 200, still stored once.
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        assert send("down-C") == 503
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    assert until_200("down-C")
    stored = Counter(inbox_msgids(r))
    # A body over 256 KiB is refused with 413, with and without Content-Length (chunked)
    big = b"<xml>" + b"x" * (300 * 1024) + b"</xml>"
    q = msg["down-A"].path
    assert requests.post(base + q, data=big, timeout=15).status_code == 413
    assert (
        requests.post(
            base + q, data=iter([big[i : i + 8192] for i in range(0, len(big), 8192)]), timeout=15
        ).status_code
        == 413
    )
    codes = [c for v in answers.values() for c in v]
    report.row(
        "Delivery",
        "Redis down (stopped, frozen mid-write) → 503, WeCom's retry → 200 once",
        len(codes),
        sum(1 for k in msg if stored[k] == 0),
        sum(n - 1 for n in stored.values() if n > 1),
        f"answers {dict(Counter(codes))}",
    )
    assert set(codes) <= {200, 503}
    assert stored == Counter({"down-A": 1, "down-B": 1, "down-C": 1})


def test_redis_killed_under_load_every_200_is_stored_once(live, own_redis, procs, report):
    server = own_redis("--appendonly", "yes", "--appendfsync", "always")
    r = redis_client(server.url)
    values = service_vars(server.url, groups=4, members=60)
    live(**values)
    _web, base = start_gunicorn(procs, child_env(values), "web")
    ts = local_ts("2026-03-18 08:00:00")
    msgs = [
        (
            f"load-{g}-{u}",
            _signed("robot", robot_xml(chat(g), member(g, u), "学员", "@打卡助手 打卡", msgid=f"load-{g}-{u}"), ts + u),
        )
        for g in range(4)
        for u in range(60)
    ]
    acked: set[str] = set()
    codes: list[int] = []
    lock = threading.Lock()

    def client(part):
        for mid, signed in part:
            for _ in range(400):
                code = post(base, signed, timeout=10)
                with lock:
                    codes.append(code)
                    if code == 200:
                        acked.add(mid)
                if code == 200:
                    break
                time.sleep(0.02)

    parts = [msgs[i::6] for i in range(6)]
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(client, p) for p in parts]
        wait_for(lambda: len(acked) >= len(msgs) // 3, timeout=60, interval=0.001, what="a third acknowledged")
        server.stop(kill=True)  # kill -9 under load
        killed_at = len(acked)
        time.sleep(0.5)
        server.start()
        for f in futures:
            f.result()
    stored = Counter(inbox_msgids(r))
    lost = len(acked - set(stored)) + (len(msgs) - len(acked))
    doubled = sum(n - 1 for n in stored.values() if n > 1)
    report.row(
        "Durability",
        "redis-server SIGKILLed under concurrent callbacks (AOF always), clients retry",
        len(msgs),
        lost,
        doubled,
        f"{killed_at} acknowledged before the kill; answers {dict(Counter(codes))}",
    )
    assert set(codes) <= {200, 503}
    assert lost == 0 and doubled == 0 and len(stored) == len(msgs)


# =====================================================================================================
# 2. Durability: acknowledged messages survive a Redis restart; backup/restore round-trips all state
# =====================================================================================================
@pytest.mark.parametrize(
    "mode",
    ["appendfsync always, SIGKILL", "config/redis.conf (everysec), SIGKILL", "config/redis.conf (everysec), SIGTERM"],
)
def test_acknowledged_callbacks_survive_a_redis_restart(mode, live, own_redis, report):
    """With `appendfsync always` nothing acknowledged is lost, whatever kills Redis. With everysec (the
    production config/redis.conf) Redis may hold its AOF writes back for up to 2 s while an earlier fsync is
    slow (a busy disk), so even a kill -9 of Redis alone can lose what it acknowledged in its last two
    seconds (seen on this CI machine under load). That window is measured here, not counted as a loss of
    this class; everything acknowledged before it must survive."""
    extra = ("--appendonly", "yes", "--appendfsync", "always") if "always" in mode else redis_conf_args()
    window = "everysec" in mode and "SIGKILL" in mode
    server = own_redis(*extra)
    r = redis_client(server.url)
    live(**service_vars(server.url, groups=4, members=50))
    client = create_app().test_client()
    n, ts = 200, local_ts("2026-03-19 09:00:00")
    signed = []
    for i in range(n):
        g, u = i % 4, i // 4
        s = _signed("robot", robot_xml(chat(g), member(g, u), "学员", "@打卡助手 打卡", msgid=f"dur-{i}"), ts + i)
        signed.append(s)
        assert client.post(s.path, data=s.body).status_code == 200
        if window and i == n // 2 - 1:
            # a worker counted part of the first half; then more than the 2 s everysec may hold writes back
            assert streams.drain(r, streams.INBOX, lambda e: ingest.process_batch(r, e), batch=60, max_batches=1) == 60
            time.sleep(3.0)
    # a worker counted part of them before the crash
    if not window:
        done = streams.drain(r, streams.INBOX, lambda e: ingest.process_batch(r, e), batch=60, max_batches=1)
        assert 0 < done < n
    server.stop(kill="SIGKILL" in mode)
    server.start()
    r = redis_client(server.url)
    ids = [f"dur-{i}" for i in range(n)]
    in_inbox = set(inbox_msgids(r))
    counted = {m for k, m in enumerate(ids) if r.exists(keys.effect(m, gkey(k % 4), member(k % 4, k // 4)))}
    missing = set(ids) - in_inbox - counted
    recent = {f"dur-{i}" for i in range(n // 2, n)} if window else set()  # the last two seconds
    in_window = missing & recent
    missing -= in_window
    # WeCom's retries after the restart are recognised (the dedupe keys survived too): nothing re-added
    # (but what the everysec window lost, whose dedupe keys went with it)
    re_added = -len(in_window)
    for s in signed:
        before = r.xlen(streams.INBOX.key)
        assert client.post(s.path, data=s.body).status_code == 200
        re_added += r.xlen(streams.INBOX.key) - before
    streams.drain(r, streams.INBOX, lambda e: ingest.process_batch(r, e))
    expected = {(gkey(k % 4), member(k % 4, k // 4)): {day_of(ts + k, TZ)} for k in range(n)}
    lost_days, extra_days = compare_days(r, expected)
    what = (
        f"Redis restart ({mode}): callbacks acknowledged more than 2 s before the kill"
        if window
        else f"Redis restart ({mode}) after {n} acknowledged callbacks"
    )
    report.row(
        "Durability",
        what,
        n // 2 if window else n,
        len(missing) + lost_days,
        re_added + extra_days,
        f"{len(in_inbox)} still queued, {len(counted)} already counted at the crash"
        + (
            f"; of the {n - n // 2} acknowledged in the last moment before the kill, {len(in_window)} were "
            "lost: the everysec window (Redis holds AOF writes back up to 2 s while an fsync is slow); "
            "appendfsync always loses none (row above)"
            if window
            else ""
        ),
    )
    assert (len(missing), lost_days, re_added, extra_days) == (0, 0, 0, 0)
    assert metric(r, "checkins") == n


def _key_dump(r: redis.Redis) -> dict:
    """Every wb:* key: DUMP-independent value view, including streams, and whether it has a TTL."""
    snap = rel_snapshot(r)
    for sk in (streams.INBOX.key, streams.OUTBOX.key):
        if r.exists(sk):
            snap[sk] = ("stream", [(i, f) for i, f in r.xrange(sk)], streams.depth(r, streams.Stream(sk, "", "")))
    return {k: (v, r.ttl(k) > 0) for k, v in snap.items()}


def test_backup_and_restore_round_trip_all_state(env, own_redis, procs, capsys, report, tmp_path):
    server = own_redis()
    r = redis_client(server.url)
    values = service_vars(server.url, groups=3, members=8)
    env(**values)  # inline jobs: each callback is processed at once
    client = create_app().test_client()
    first = local_ts("2026-03-02 09:00:00")
    k = 0
    for day in range(12):
        for g in range(3):
            for u in range(8):
                if (day + u + g) % 3 == 0:
                    continue
                k += 1
                s = _signed(
                    "robot",
                    robot_xml(chat(g), member(g, u), f"学员{g}{u}", "@打卡助手 打卡", msgid=f"bk-{k}"),
                    first + day * 86400 + u * 60,
                )
                assert client.post(s.path, data=s.body).status_code == 200
    for i, text in enumerate(
        [f"目标 {member(0, 1)} 5", f"档案 {member(0, 2)} 周末出差", f"请假 {member(1, 3)} 3", f"退阶 {member(2, 4)} 2"]
    ):
        lead = f"lead0{[0, 0, 1, 2][i]}"
        s = _signed(
            "app",
            app_xml(CORP, lead, text, msgid=str(9_200_000_000 + i), create_time=first + 12 * 86400 + i),
            first + 12 * 86400 + i,
        )
        assert client.post(s.path, data=s.body).status_code == 200
    outbound.post(r, {"id": "bk-fail", "to": "group", "group": "nosuch", "content": "x"})  # a failed send

    def stats_all() -> dict:
        out = {}
        for g in range(3):
            for d in ("2026-03-05", "2026-03-13", "2026-03-15"):
                capsys.readouterr()
                assert cli(["stats", gkey(g), "--date", d, "--json"]) == 0
                out[(g, d)] = json.loads(capsys.readouterr().out)
        return out

    before_stats, before_keys = stats_all(), _key_dump(r)
    assert sum(m["total"] for m in before_stats[(0, "2026-03-15")]["members"]) > 20
    # caches are left out of a backup by design (the access_token, dedupe keys, rate windows)
    assert any(k.startswith(backup.CACHE_PREFIXES) for k in before_keys)
    before_keys = {k: v for k, v in before_keys.items() if not k.startswith(backup.CACHE_PREFIXES)}
    path = tmp_path / "state.backup"
    child = child_env({k: v for k, v in os.environ.items() if k.startswith(("WECOM_", "BOT_", "GROUP_", "REDIS_URL"))})
    procs.run(wecom_bot("backup", "--output", str(path)), child, "backup")
    assert path.stat().st_mode & 0o777 == 0o600  # names and profile notes: the owner's eyes only
    r.flushall()
    assert stats_all() != before_stats
    procs.run(wecom_bot("restore", str(path)), child, "restore")
    after_stats, after_keys = stats_all(), _key_dump(r)
    missing = [k for k in before_keys if k not in after_keys]
    different = [k for k in before_keys if k in after_keys and after_keys[k] != before_keys[k]]
    extra = [k for k in after_keys if k not in before_keys]
    report.row(
        "Durability",
        "`wecom-bot backup` → FLUSHALL → `wecom-bot restore`",
        len(before_keys),
        len(missing) + len(different),
        len(extra),
        f"stats --json of {len(before_stats)} group-dates compared, every wb:* key by value"
        + (f"; differ: {(missing + different + extra)[:5]}" if missing or different or extra else ""),
    )
    assert after_stats == before_stats
    assert (missing, different, extra) == ([], [], [])


# =====================================================================================================
# 3. WeCom API faults: token refetch, retries with backoff, timeouts, revoked keys, exhausted retries
# =====================================================================================================
def _api_msgs(prefix: str, n_robot: int, n_chat: int, n_user: int) -> list[dict]:
    msgs = [
        {"id": f"{prefix}-r{i}", "to": "group", "group": "xhs01", "msgtype": "text", "content": f"{prefix} robot {i}"}
        for i in range(n_robot)
    ]
    msgs += [
        {"id": f"{prefix}-c{i}", "to": "group", "group": "xhs02", "msgtype": "text", "content": f"{prefix} chat {i}"}
        for i in range(n_chat)
    ]
    msgs += [
        {
            "id": f"{prefix}-u{i}",
            "to": "user",
            "users": [f"user{i % 7}"],
            "msgtype": "text",
            "content": f"{prefix} user {i}",
        }
        for i in range(n_user)
    ]
    return msgs


def _run_outbox_forward(r, start: float, seconds: float = 1500, step: float = 5.0) -> None:
    """Run the outbox on a simulated clock (backoffs 2, 8, 30, 120 s; robot windows of a minute)."""
    clock = start
    while clock < start + seconds:
        due = outbound.next_due(r)
        if due is None and r.xlen(streams.OUTBOX.key) == 0:
            return
        clock = max(clock + step, (due or clock) + 0.5)
        outbound.process_outbox(r, now=clock)


def _deliveries(sim, msgs: list[dict]) -> Counter:
    contents = Counter(m["content"] for m in sim.state.sent_messages())
    return Counter({m["id"]: contents[m["content"]] for m in msgs})


def test_wecom_api_faults_lose_nothing_and_double_only_what_timed_out(sim, r, report):
    """The WeCom API misbehaving, through the real sender and outbox against the simulator (over HTTP).
    Phase 1, transient faults: every message is delivered; a duplicate is only possible after a timeout
    whose request did arrive (outcome unknown: retried once and counted, docs/DESIGN.md). Phase 2, faults that
    do not pass: a revoked robot key, retries exhausted, a token WeCom keeps rejecting; each message ends
    in the failed registry (never dropped), the admins are alerted once per problem, and `resend` after
    the fix delivers each exactly once."""
    sim.state.rate_limits = False  # the robot's minute limit is tested in test_outbound.py
    s = sim.state
    # -- phase 1: transient faults, FIFO per API path, interleaved with normal sends
    s.add_fault(
        {"path": "message/send", "errcode": 40014},
        {"path": "message/send", "errcode": 42001},
        {"path": "message/send", "errcode": 45009},
        {"path": "message/send", "errcode": -1},
        {"path": "message/send", "http": 502},
        {"path": "message/send", "timeout": True, "delivered": True},
        {"path": "message/send", "timeout": True, "delivered": False},
        {"path": "webhook/send", "errcode": 45009},
        {"path": "webhook/send", "errcode": -1},
        {"path": "webhook/send", "http": 503},
        {"path": "webhook/send", "timeout": True, "delivered": True},
        {"path": "webhook/send", "timeout": True, "delivered": False},
        {"path": "appchat/send", "errcode": -1},
        {"path": "appchat/send", "http": 502},
        {"path": "appchat/send", "timeout": True, "delivered": True},
    )
    delivered_timeouts = 3
    t = time.time()
    msgs = _api_msgs("p1", 30, 15, 35)
    for m in msgs:
        outbound.post(r, m)
    _run_outbox_forward(r, t)
    got = _deliveries(sim, msgs)
    lost1 = sum(1 for m in msgs if got[m["id"]] == 0)
    dups = sum(n - 1 for n in got.values() if n > 1)
    doubled1 = max(0, dups - delivered_timeouts)
    m1 = outbound.metrics(r)
    report.row(
        "WeCom API",
        "40014/42001 refetch, 45009, -1, HTTP 502/503, timeouts (delivered or not): all retried",
        len(msgs),
        lost1,
        doubled1,
        f"{s.call_count()} API calls, {s.token_fetches} token fetches; {dups} known duplicate(s) from the "
        f"{delivered_timeouts} timeouts whose request arrived (retried once and counted: sends_unknown "
        f"{m1.get('sends_unknown', 0)}); failed registry {len(outbound.failed_list(r))}",
    )
    assert lost1 == 0 and doubled1 == 0 and outbound.failed_list(r) == []
    assert s.faults == []  # every injected fault was met

    # -- phase 2: faults that do not pass
    key = sim_robot_key()
    alerts_before = sum(1 for m in s.sent_messages("message/send") if "发送告警" in m["content"])
    msgs2 = _api_msgs("p2", 12, 1, 1)
    robot2, chat2, user2 = msgs2[:12], msgs2[12:13], msgs2[13:]
    calls_before = len(s.calls)
    s.add_fault({"path": "message/send", "errcode": 40014, "times": 10})  # WeCom rejects every token
    for m in user2:
        outbound.post(r, m)
    _run_outbox_forward(r, time.time())
    s.add_fault({"path": "appchat/send", "http": 503, "times": 5})  # 5 attempts, all 503
    for m in chat2:
        outbound.post(r, m)
    _run_outbox_forward(r, time.time())
    s.revoke_key(key)  # the robot was removed
    for m in robot2:
        outbound.post(r, m)
    _run_outbox_forward(r, time.time())
    failed = {f["id"]: f for f in outbound.failed_list(r)}
    in_registry = sum(1 for m in msgs2 if m["id"] in failed)
    calls_40014 = sum(1 for c in s.calls[calls_before:] if c["path"] == "message/send" and c["errcode"] == 40014)
    alerts = [m for m in s.sent_messages("message/send") if "发送告警" in m["content"]][alerts_before:]
    # the fix: the key is valid again, WeCom is well again; the operator resends
    s.valid_keys.add(key)
    s.faults.clear()
    before = _deliveries(sim, msgs2)
    resent = outbound.resend_failed(r)
    _run_outbox_forward(r, time.time())
    after = _deliveries(sim, msgs2)
    lost2 = sum(1 for m in msgs2 if after[m["id"]] == 0)
    doubled2 = sum(n - 1 for n in after.values() if n > 1) + sum(
        1 for m in msgs2 if before[m["id"]] and m["id"] in failed
    )
    report.row(
        "WeCom API",
        "revoked webhook key (93000), retries exhausted (HTTP 503 x5), token rejected every time "
        "(40014): failed registry, one alert, resend",
        len(msgs2),
        lost2,
        doubled2,
        f"{in_registry}/{len(msgs2)} kept in the failed registry, {len(alerts)} admin alert(s) for "
        f"{len(msgs2)} failures, 40014 answered {calls_40014} times for one message (bounded: one refetch "
        f"and one repeat per attempt); {resent} resent, each delivered once",
    )
    assert in_registry == len(msgs2)
    assert len(alerts) == 1 and "93000" in alerts[0]["content"]
    assert calls_40014 == 2 * outbound.MAX_ATTEMPTS
    assert resent == len(msgs2) and lost2 == 0 and doubled2 == 0


def sim_robot_key() -> str:
    return get_settings().group("xhs01").webhook_key
