"""Scale-out and operability: the service spread over processes as it would be over machines,
on one Redis; and what /healthz and /metrics show.

- Two gunicorn masters (the Procfile's flags, two workers each: four web processes, as on two
  machines), three `wecom-bot worker` processes, and the minute tick run by two `wecom-bot tick --at`
  processes started at the same instant (two cron machines firing the same minute), over three camp
  days. Every check-in is delivered to *both* web machines at the same moment (WeCom's retry reaching
  another machine). Counted once: the register, the `checkins` metric, one private reply per message;
  each slot (接龙, reminder, each leader's digest) claimed and posted once per group and day.
- /healthz and /metrics through gunicorn: Redis reachability, inbox/outbox depths and RQ queue
  lengths, the Prometheus text format, the figures matching what was done, no secret; with Redis down
  /healthz answers 503 and /metrics says wecom_bot_redis_up 0.

Rows for docs/RELIABILITY.md (tests/reliability_report.py).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from zoneinfo import ZoneInfo

import redis
import requests

from handlers.calendar import day_of
from handlers.streaks import DayBits
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import app_xml, robot_xml, sign
from wecom_bot.sim.simulator import SimState, SimulatorServer
from workers import keys, streams

from reliability_report import clean_environ, start_gunicorn, start_worker, wait_for, wecom_bot

pytest_plugins = ["reliability_report"]

TZ = ZoneInfo("Asia/Shanghai")
CORP, AGENT, SECRET = "wwscalecorp01", "1000002", "scale-app-secret-4e8a1c9b7d"
APP_TOKEN, APP_AES = "scaleAppTok3n", "ScaleAppAesKey0123456789abcdefghijklmnopqrs"
ROBOT_TOKEN, ROBOT_AES = "scaleRobTok3n", "ScaleRobAesKey0123456789abcdefghijklmnopqrs"
APP = CallbackCrypto(APP_TOKEN, APP_AES, CORP)
ROBOT = CallbackCrypto(ROBOT_TOKEN, ROBOT_AES, "")
GROUPS, MEMBERS = 8, 10
DAYS = [date(2026, 3, 19), date(2026, 3, 20), date(2026, 3, 21)]  # Thursday to Saturday


def gkey(g: int) -> str:
    return f"sc{g:02d}"


def member(g: int, m: int) -> str:
    return f"sc{g:02d}m{m:02d}"


def hook(g: int) -> str:
    return f"scale-hook-{g:02d}-77aa"


def leader(g: int) -> str:
    return f"sclead{g:02d}"


def service_env(redis_url: str, api: str) -> dict[str, str]:
    env = clean_environ()
    env.update(
        {
            "REDIS_URL": redis_url,
            "BOT_ENV_FILE": "/nonexistent/.env",
            "BOT_TIMEZONE": "Asia/Shanghai",
            "BOT_CALLBACK_MAX_AGE": "0",  # replays callbacks signed at fixed instants
            "BOT_ADMINS": "admin1",
            "WECOM_CORP_ID": CORP,
            "WECOM_AGENT_ID": AGENT,
            "WECOM_SECRET": SECRET,
            "WECOM_API_BASE_URL": api,
            "WECOM_TOKEN": APP_TOKEN,
            "WECOM_ENCODING_AES_KEY": APP_AES,
            "WECOM_ROBOT_TOKEN": ROBOT_TOKEN,
            "WECOM_ROBOT_ENCODING_AES_KEY": ROBOT_AES,
            "BOT_HTTP_TIMEOUT": "2",
            "BOT_GROUPS": ",".join(gkey(g) for g in range(GROUPS)),
        }
    )
    for g in range(GROUPS):
        p = f"GROUP_{gkey(g).upper()}_"
        env.update(
            {
                p + "CHAT_ID": f"scchat{g:02d}",
                p + "NAME": f"扩容{g:02d}组",
                p + "LEADERS": leader(g),
                p + "MEMBERS": ",".join(member(g, m) for m in range(MEMBERS)),
                p + "WEBHOOK_KEY": hook(g),
            }
        )
    return env


def at(d: date, hhmm: str, second: int = 0) -> int:
    return int(datetime.fromisoformat(f"{d.isoformat()} {hhmm}").replace(second=second, tzinfo=TZ).timestamp())


def web_env(env: dict, tmp, name: str) -> dict:
    """Each gunicorn master as on its own machine: its own control socket directory."""
    own = dict(env, XDG_RUNTIME_DIR=str(tmp / name))
    (tmp / name).mkdir(parents=True, exist_ok=True)
    return own


# =====================================================================================================
# Scale-out
# =====================================================================================================
def test_several_web_worker_and_cron_processes_count_once_and_fire_each_slot_once(own_redis, procs, report, tmp_path):
    server = own_redis("--appendonly", "yes")
    r = redis.Redis.from_url(server.url, socket_timeout=10)
    sim = SimulatorServer(SimState(corp_id=CORP, secret=SECRET, agent_id=AGENT, timeout_seconds=2.0))
    try:
        _run_scaleout(r, sim, procs, report, tmp_path, server.url)
    finally:
        sim.stop()


def _run_scaleout(r, sim, procs, report, tmp_path, redis_url):
    env = service_env(redis_url, sim.base_url)
    webs = [start_gunicorn(procs, web_env(env, tmp_path, f"web{i}"), f"web{i}", workers=2)[1] for i in range(2)]
    for i in range(3):
        start_worker(procs, env, f"worker{i}", r)
    local = threading.local()

    def post(base, signed) -> int:
        if not hasattr(local, "s"):
            local.s = requests.Session()
        s = local.s
        for _ in range(20):
            try:
                code = s.post(base + signed.path, data=signed.body, timeout=15).status_code
            except requests.RequestException:
                code = -1
            if code == 200:
                return 200
        return code

    expected: dict[tuple[str, str], set[int]] = defaultdict(set)
    messages_of: Counter = Counter()  # userid -> messages sent (each gets exactly one private reply)
    codes: Counter = Counter()
    ticks = 0
    mid = 9_600_000_000

    def tick_pair(instant: str) -> None:
        """Two tick runners at the same instant, as two cron processes on two machines."""
        nonlocal ticks
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda i: procs.run(wecom_bot("tick", "--at", instant), env, f"tick{i}"), range(2)))
        ticks += len(results)

    for d_i, d in enumerate(DAYS):
        tick_pair(f"{d.isoformat()}T08:00:20")
        batch = []
        for g in range(GROUPS):
            for m in range(MEMBERS):
                if (m + d_i) % 4 == 3:
                    continue  # some members skip a day: the reminder names them
                reps = 2 if (g + m + d_i) % 5 == 0 else 1  # and some check in twice (a new MsgId: counted once)
                for k in range(reps):
                    mid += 1
                    ts = at(d, "09:00") + m * 60 + k * 600
                    uid = member(g, m)
                    xml = app_xml(CORP, uid, "打卡", msgid=str(mid), create_time=ts)
                    signed = sign(APP, "/wecom/callback", xml, ts)
                    batch.append(signed)
                    messages_of[uid] += 1
                    expected[(gkey(g), uid)].add(day_of(ts, TZ))
        # every message to both web machines at once: WeCom's retry lands on the other machine
        with ThreadPoolExecutor(16) as pool:
            for code in pool.map(lambda sw: post(webs[sw[1]], sw[0]), [(s, w) for s in batch for w in (0, 1)]):
                codes[code] += 1
        tick_pair(f"{d.isoformat()}T21:00:20")
        tick_pair(f"{d.isoformat()}T22:00:20")
    callbacks = sum(codes.values())

    def settled():
        return (
            r.xlen(streams.INBOX.key) == 0
            and r.xlen(streams.OUTBOX.key) == 0
            and r.zcard(keys.OUT_DELAYED) == 0
            and streams.depth(r, streams.OUTBOX)["pending"] == 0
            and streams.depth(r, streams.INBOX)["pending"] == 0
            and sum(r.llen(f"rq:queue:{q}") for q in ("tick", "inbox", "outbox", "default")) == 0
        )

    wait_for(settled, timeout=180, interval=0.25, what="everything to be processed and sent")
    wait_for(
        lambda: len(sim.state.sent_messages("message/send")) >= sum(messages_of.values()),
        timeout=60,
        what="the replies",
    )

    # -- check-ins: the register, the metric, the replies ----------------------------------------------------
    lost = extra = 0
    for (g, uid), days in expected.items():
        base = r.get(keys.base(g))
        got = set(DayBits(r.get(keys.days(g, uid)), int(base)).days()) if base is not None else set()
        lost += len(days - got)
        extra += len(got - days)
    distinct = sum(len(v) for v in expected.values())
    metric = int(r.hget(keys.METRICS, "checkins") or 0)
    sent = sim.state.sent_messages()
    members_all = {member(g, m) for g in range(GROUPS) for m in range(MEMBERS)}
    replies = Counter(u for msg in sent if msg["path"] == "message/send" for u in msg["touser"] if u in members_all)
    # the bot's own private notes (nudges, goal questions...): each is in its member's daily budget
    nudged = Counter(k.decode().split(":")[2] for k in r.scan_iter(keys.initiative("*", "*")) for _ in range(r.hlen(k)))
    replies_lost = sum(max(0, n - (replies[u] - nudged[u])) for u, n in messages_of.items())
    replies_doubled = sum(max(0, replies[u] - nudged[u] - n) for u, n in messages_of.items())
    report.row(
        "Scale-out",
        "2 gunicorn masters x 2 workers, 3 `wecom-bot worker`, ticks by 2 processes at once; "
        "every callback to both web machines",
        callbacks,
        lost + max(0, distinct - metric) + replies_lost,
        extra + max(0, metric - distinct) + replies_doubled,
        f"{sum(messages_of.values())} messages of {len(messages_of)} members over {len(DAYS)} days, "
        f"{distinct} member-days; metric {metric}; answers {dict(codes)}",
    )

    # -- slots: each (group, slot, day) claimed once and posted once --------------------------------------
    posts = defaultdict(list)  # robot key -> contents
    for msg in sent:
        if msg["path"] == "webhook/send":
            posts[msg["key"]].append(msg["content"])
    to_leaders = Counter(
        u for msg in sent if msg["path"] == "message/send" for u in msg["touser"] if u.startswith("sclead")
    )
    slot_problems = []
    slots_expected = lost_slots = doubled_slots = 0
    for g in range(GROUPS):
        contents = posts.get(hook(g), [])
        for d in DAYS:
            marker = f"{d.month}月{d.day}日"
            chains = [c for c in contents if c.startswith("#接龙") and marker in c]
            slots_expected += 3  # the 接龙, the reminder, the leader's digest
            lost_slots += len(chains) == 0
            doubled_slots += max(0, len(chains) - 1)
            if len(chains) != 1:
                slot_problems.append(f"{gkey(g)} {d}: {len(chains)} 接龙")
            claims = [r.get(keys.slot(gkey(g), s, d.isoformat())) for s in ("chain", "remind", "digest")]
            if any(c is None for c in claims):
                lost_slots += sum(c is None for c in claims)
                slot_problems.append(f"{gkey(g)} {d}: unclaimed {claims}")
        # every group post is one distinct outbound message: 接龙 and reminders (the check-in replies are
        # private here); a slot posted twice would be two posts for one id
        states = [  # slot:<group>:<slot>:<date>, the group's own post (more parts: private messages)
            k
            for k in r.scan_iter(keys.OUT_STATE_PREFIX + f"slot:{gkey(g)}:*")
            if b":digest:" not in k and k.decode()[len(keys.OUT_STATE_PREFIX) :].count(":") == 3
        ]
        sent_states = sum(1 for k in states if r.hget(k, "status") == b"sent")
        if len(contents) != sent_states:
            doubled_slots += max(0, len(contents) - sent_states)
            lost_slots += max(0, sent_states - len(contents))
            slot_problems.append(f"{gkey(g)}: {len(contents)} group posts for {sent_states} outbound ids")
        if to_leaders[leader(g)] != len(DAYS):
            doubled_slots += max(0, to_leaders[leader(g)] - len(DAYS))
            lost_slots += max(0, len(DAYS) - to_leaders[leader(g)])
            slot_problems.append(f"{leader(g)}: {to_leaders[leader(g)]} digests for {len(DAYS)} days")
    report.row(
        "Scale-out",
        "each slot (接龙, reminder, digest) fires once per group and day: 2 tick processes at the same instant",
        slots_expected,
        lost_slots,
        doubled_slots,
        f"{ticks} tick processes for {len(DAYS) * 3} instants, {GROUPS} groups"
        + (f"; {slot_problems[:3]}" if slot_problems else ""),
    )
    assert codes == Counter({200: callbacks})
    assert (lost, extra, replies_lost, replies_doubled) == (0, 0, 0, 0)
    assert metric == distinct
    assert slot_problems == []


# =====================================================================================================
# Operability: /healthz and /metrics
# =====================================================================================================
SAMPLE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)$'
)
TYPE = re.compile(r"^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$")


def prometheus(text: str) -> dict[str, float]:
    """Parse the Prometheus text exposition format strictly: every line a TYPE/HELP comment or a sample of
    a declared metric; returns {"name{labels}": value}. Raises on anything else."""
    declared: dict[str, str] = {}
    out = {}
    assert text.endswith("\n"), "the exposition must end with a newline"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        m = TYPE.match(line)
        if m:
            assert m.group(1) not in declared, f"TYPE declared twice: {line}"
            declared[m.group(1)] = m.group(2)
            continue
        m = SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name = m.group(1)
        assert name in declared, f"sample of an undeclared metric: {line}"
        if declared[name] == "counter":
            assert name.endswith("_total"), f"a counter not named *_total: {name}"
        key = name + (m.group(2) or "")
        assert key not in out, f"sample twice: {key}"
        out[key] = float(m.group(5))
    return out


def test_healthz_and_metrics_show_redis_queues_and_figures_without_secrets(own_redis, procs, report, tmp_path):
    server = own_redis("--appendonly", "yes")
    r = redis.Redis.from_url(server.url, socket_timeout=10)
    sim = SimulatorServer(SimState(corp_id=CORP, secret=SECRET, agent_id=AGENT))
    try:
        env = service_env(server.url, sim.base_url)
        _web, base = start_gunicorn(procs, web_env(env, tmp_path, "web"), "web")
        http = requests.Session()
        d = DAYS[0]
        n_app, n_robot = 12, 6
        for i in range(n_app):
            ts = at(d, "09:00") + i
            s = sign(
                APP,
                "/wecom/callback",
                app_xml(CORP, member(0, i % MEMBERS), "打卡", msgid=str(9_700_000_000 + i), create_time=ts),
                ts,
            )
            assert http.post(base + s.path, data=s.body, timeout=15).status_code == 200
        for i in range(n_robot):
            ts = at(d, "10:00") + i
            s = sign(
                ROBOT,
                "/wecom/robot",
                robot_xml(
                    "scchat01", member(1, i), f"学员{i}", "@打卡助手 打卡", msgid=f"ops-{i}", webhook_key=hook(1)
                ),
                ts,
            )
            assert http.post(base + s.path, data=s.body, timeout=15).status_code == 200
            assert http.post(base + s.path, data=s.body, timeout=15).status_code == 200  # WeCom's retry
        bad = http.post(base + s.path.replace("msg_signature=", "msg_signature=f"), data=s.body, timeout=15).status_code
        assert bad == 403
        assert http.post(base + s.path, data=b"<xml>", timeout=15).status_code == 400
        time.sleep(1.2)  # the oldest entry is now more than a second old

        # queued, no worker yet: the depths show it
        health = http.get(base + "/healthz", timeout=10)
        queued = health.json()
        metrics_text = http.get(base + "/metrics", timeout=10)
        before = prometheus(metrics_text.text)
        problems = []
        if not (health.status_code == 200 and queued["ok"] and queued["redis"] == "up"):
            problems.append(f"/healthz {health.status_code} {queued}")
        if queued["inbox"]["length"] != n_app + n_robot or queued["queues"].get("inbox") != 1:
            problems.append(f"/healthz depths {queued['inbox']} {queued['queues']}")
        if before.get('wecom_bot_queue_depth{queue="inbox"}') != n_app + n_robot:
            problems.append("queue_depth inbox " + str(before.get('wecom_bot_queue_depth{queue="inbox"}')))
        if not before.get('wecom_bot_queue_lag_seconds{queue="inbox"}', 0) >= 1.0:
            problems.append("queue_lag inbox " + str(before.get('wecom_bot_queue_lag_seconds{queue="inbox"}')))
        if before.get("wecom_bot_redis_up") != 1:
            problems.append("redis_up")
        robot_200 = before.get('wecom_bot_callbacks_total{endpoint="robot",status="200"}')
        if robot_200 != 2 * n_robot:
            problems.append(f"callbacks robot 200 {robot_200}")
        if before.get('wecom_bot_callbacks_total{endpoint="app",status="200"}') != n_app:
            problems.append("callbacks app 200")
        # every stored callback went through a shared inbox write (group commit): at least one write,
        # never more writes than stored callbacks
        writes = before.get("wecom_bot_inbox_writes_total", 0)
        if not 1 <= writes <= 2 * n_robot + n_app:
            problems.append(f"inbox writes {writes}")
        if (
            before.get('wecom_bot_callbacks_total{endpoint="robot",status="403"}') != 1
            or before.get('wecom_bot_callbacks_total{endpoint="robot",status="400"}') != 1
        ):
            problems.append("callbacks refused")

        # a worker processes and sends everything: the depths go to 0, the counters follow
        procs.run(wecom_bot("worker", "--burst"), env, "worker", timeout=120)
        wait_for(
            lambda: r.xlen(streams.OUTBOX.key) == 0 and r.zcard(keys.OUT_DELAYED) == 0, timeout=60, what="the sends"
        )
        after_health = http.get(base + "/healthz", timeout=10).json()
        after_text = http.get(base + "/metrics", timeout=10).text
        after = prometheus(after_text)
        distinct = len({member(0, i % MEMBERS) for i in range(n_app)}) + n_robot
        sent_ok = len(sim.state.sent_messages())
        if after_health["inbox"]["length"] != 0 or after_health["outbox"]["length"] != 0:
            problems.append(f"/healthz after {after_health}")
        if after.get("wecom_bot_checkins_total") != distinct:
            problems.append(f"checkins_total {after.get('wecom_bot_checkins_total')} != {distinct}")
        sends_ok = after.get('wecom_bot_sends_total{result="ok"}')
        if sends_ok != sent_ok:
            problems.append(f"sends ok {sends_ok} != {sent_ok}")
        if (
            after.get('wecom_bot_queue_depth{queue="inbox"}') != 0
            or after.get('wecom_bot_queue_lag_seconds{queue="inbox"}') != 0
        ):
            problems.append("depth/lag after")

        # Redis down: /healthz 503 (a load balancer takes the machine out), /metrics says so
        server.stop()
        down = http.get(base + "/healthz", timeout=15)
        down_metrics = http.get(base + "/metrics", timeout=15)
        if down.status_code != 503 or down.json().get("redis") != "down":
            problems.append(f"/healthz with Redis down: {down.status_code} {down.text[:80]}")
        if prometheus(down_metrics.text).get("wecom_bot_redis_up") != 0 or down_metrics.status_code != 200:
            problems.append(f"/metrics with Redis down: {down_metrics.status_code} {down_metrics.text[:80]}")
        server.start()

        secrets = [
            SECRET,
            APP_TOKEN,
            APP_AES,
            ROBOT_TOKEN,
            ROBOT_AES,
            *[hook(g) for g in range(GROUPS)],
            *sim.state.tokens,
        ]
        bodies = [health.text, metrics_text.text, after_text, str(after_health), down.text, down_metrics.text]
        leaked = [s for s in secrets for b in bodies if s in b]
        report.row(
            "Operability",
            "/healthz and /metrics: Redis up and down, depths and lag, Prometheus format, figures, no secret",
            len(bodies),
            0,
            len(problems) + len(leaked),
            f"checked {len(after)} samples; {distinct} check-ins, {sent_ok} sends"
            + (f"; problems {problems[:3]}" if problems else "")
            + (f"; leaked {len(leaked)}" if leaked else ""),
        )
        assert problems == [] and leaked == []
    finally:
        sim.stop()
