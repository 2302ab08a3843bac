"""Benchmark 7, end to end: post -> reply latency as members feel it, through the deployed processes.

The processes of the Procfile, each its own: gunicorn with the Procfile's flags serving
`wecom_bot:create_app()`, ONE `wecom-bot worker`, `wecom-bot cron` (the minute tick), a redis-server
of our own (config/redis.conf), and the WeCom simulator as the API stand-in (bench/sim_server.py, its
own process, LATENCY on every call, WeCom's 20-a-minute robot limit enforced). A load generator (two
processes of this one, keep-alive http.client connections) sends signed, AES-encrypted robot
callbacks at fixed rates, open loop: callback k leaves at start + k / rate whatever the answers.

The camp: for each step a fresh set of 100 groups of 10 members, each with its own robot (webhook
key), so that a step starts with empty robot windows and no step inherits another's backlog. Within
a step the callbacks go round the groups (member m of group g posts as callback m * 100 + g), so a
group receives at most 10 check-ins per step, each member posts once: every reply fits the robot's
20 a minute (less BOT_REPLY_RESERVE) and goes out on its own. Steps: 50, 100, 200, 300, 400
check-ins/s, each 1,000 callbacks (the whole camp; --quick: 3 s each, at most 1,000), after a
warm-up; the next step starts when the last one's replies are all in (or 60 s passed).

Latency of a check-in = the time the stand-in recorded the reply that answers it (a webhook/send to
that group's robot whose content names the member: its own reply, or a gathered reply listing it)
minus the time the load generator sent the callback. The stand-in records a message after its
LATENCY, as WeCom shows it in the group after processing the call. Reported per rate: p50, p99, max,
the callbacks' own 200 latency, and replies missing; the knee is the highest rate whose p99 stays
<= 1 s. Baseline in the same run, same processes: the unloaded pipeline, 5 check-ins/s one at a
time (what a check-in costs with nothing queued), and the stand-in's fixed LATENCY.

A separate gathered-reply probe (not part of the knee): one group's 30 members all post within a
second, more than its robot's minute allows; it reports when the last of them is answered (the
gathered ones wait for the next minute tick, up to 60 s; --quick waits 15 s for them).

The worker runs as the Procfile starts it, its outbox sender included (workers/outbox_sender.py);
`--e2e-no-sender` (bench/run.py) starts it with `--no-sender`, the drain-job path, for comparison.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import re
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import requests

from bench import common, profiling
from bench.common import Result, met, percentile
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.sim.builders import robot_xml, sign

LATENCY = 0.1  # the stand-in's time per API call (as the fan-out benchmark)
GROUPS, PER_GROUP = 100, 10
RATES = (50, 100, 200, 300, 400)
TARGET_P99 = 1.0
TARGET_RATE = 300
BASE_RATE, BASE_N = 5, 20
PROBE_MEMBERS = 30
LOADGEN_PROCS, LOADGEN_THREADS = 2, 12
TEXTS = (
    "@打卡助手 打卡",
    "@打卡助手 今日打卡",
    "@打卡助手 已更 https://www.xiaohongshu.com/explore/{hex}",
    "@打卡助手 打卡 第{n}天 ✅",
)
_NAME = re.compile(r"[A-Za-z\u4e00-\u9fff]+?(\d{5})")


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


# -- the camp ------------------------------------------------------------------------------------------
def write_env(path: Path, steps: int, per_step: int, probe_members: int) -> None:
    """Groups g00000.. : `steps` sets of `per_step` groups x 10 members, then one probe group of
    `probe_members` members."""
    groups = common.write_groups_env(path, steps * per_step, PER_GROUP, webhook=True)
    g = steps * per_step
    key = common.group_key(g)
    p = f"GROUP_{key.upper()}_"
    first = g * PER_GROUP
    members = [common.member_id(first + m) for m in range(probe_members)]
    with open(path, "a", encoding="utf-8") as f:
        f.write(
            f"{p}CHAT_ID={common.chat_id(g)}\n{p}NAME=训练营{g:05d}组\n{p}LEADERS=lead{g:05d}\n"
            f"{p}MEMBERS={','.join(members)}\n{p}WEBHOOK_KEY={common.webhook_key(g)}\n"
        )
    text = path.read_text(encoding="utf-8")
    line = next(t for t in text.splitlines() if t.startswith("BOT_GROUPS="))
    path.write_text(text.replace(line, line + "," + key, 1), encoding="utf-8")
    assert len(groups) == steps * per_step


def make_callbacks(crypto: CallbackCrypto, plan: list[tuple[int, int]], tag: str) -> list[dict]:
    """One signed, encrypted robot callback per (group index, member index)."""
    ts = int(time.time())
    out = []
    for k, (g, m) in enumerate(plan):
        text = TEXTS[k % len(TEXTS)].format(hex=f"{k:012x}", n=k % 90 + 1)
        msgid = f"e2e{tag}{k:06d}"
        xml = robot_xml(
            common.chat_id(g),
            common.member_id(m),
            common.display_name(m),
            text,
            msgid=msgid,
            webhook_key=common.webhook_key(g),
        )
        s = sign(crypto, "/wecom/robot", xml, ts)
        out.append({"path": s.path, "body": s.body, "group": g, "member": m, "msgid": msgid})
    return out


def step_plan(step: int, n: int, per_step: int) -> list[tuple[int, int]]:
    """n callbacks round the step's `per_step` groups: member m of the step's group g is callback
    m * per_step + g."""
    plan = []
    for k in range(min(n, per_step * PER_GROUP)):
        g = step * per_step + k % per_step
        plan.append((g, g * PER_GROUP + k // per_step))
    return plan


# -- the load generator ----------------------------------------------------------------------------------
def _sender(port, calls, indices, start, rate, lock, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "text/xml; charset=utf-8", "Connection": "keep-alive"}
    while True:
        with lock:
            if not indices:
                break
            k = indices.pop()
        due = start + k / rate
        wait = due - time.time()
        if wait > 0:
            time.sleep(wait)
        c = calls[k]
        for _attempt in (1, 2):  # gunicorn closes a keep-alive connection idle for 2 s: once more on a new one
            t0 = time.time()
            try:
                conn.request("POST", c["path"], c["body"], headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
                break
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        out.append((k, t0, time.time() - t0, status, t0 - due))
    conn.close()


def _proc_main(port, calls, proc_index, procs, threads, start, rate, out_path):
    mine = [k for k in range(len(calls)) if k % procs == proc_index]
    mine.reverse()  # pop() from the end: in order
    lock = threading.Lock()
    out: list = []
    ts = [
        threading.Thread(target=_sender, args=(port, calls, mine, start, rate, lock, out), daemon=True)
        for _ in range(threads)
    ]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    Path(out_path).write_text(json.dumps(out))


def send_at_rate(port: int, calls: list[dict], rate: float, workdir: Path, tag: str) -> dict[int, tuple]:
    """Send `calls` open loop at `rate`; returns {k: (sent wall time, 200 latency, status, lateness)}."""
    ctx = mp.get_context("fork")
    start = time.time() + 0.3
    outs = [workdir / f"lg-{tag}-{i}.json" for i in range(LOADGEN_PROCS)]
    ps = [
        ctx.Process(
            target=_proc_main,
            args=(port, calls, i, LOADGEN_PROCS, LOADGEN_THREADS, start, rate, str(outs[i])),
        )
        for i in range(LOADGEN_PROCS)
    ]
    for p in ps:
        p.start()
    for p in ps:
        p.join(len(calls) / rate + 120)
        if p.is_alive():
            p.terminate()
            raise RuntimeError("the load generator did not finish")
    got = {}
    for o in outs:
        for k, t0, dt, status, late in json.loads(o.read_text()):
            got[k] = (t0, dt, status, late)
    return got


# -- waiting and matching -----------------------------------------------------------------------------------
def wait_answered(r, calls: list[dict], timeout: float) -> float:
    """Until every call's reply is sent on its own, or gathered and the gathering posted (outbox,
    delayed set and reply buffers empty); returns the seconds waited."""
    t0 = time.monotonic()
    remaining = {c["msgid"]: common.group_key(c["group"]) for c in calls}
    while time.monotonic() - t0 < timeout:
        ids = list(remaining)
        with r.pipeline(transaction=False) as p:
            for mid in ids:
                p.hget(f"wb:out:state:reply:{mid}", "status")
                p.get(f"wb:g:{remaining[mid]}:rr:{mid}")
            p.xlen("wb:outbox")
            p.zcard("wb:out:delayed")
            p.smembers("wb:reply:groups")
            p.xlen("wb:inbox")
            *found, outbox, delayed, buffered, inbox = p.execute()
        buffered = {b.decode() for b in buffered}
        for j, mid in enumerate(ids):
            status, route = found[2 * j], found[2 * j + 1]
            if status in (b"sent", b"failed") or (route == b"buf" and remaining[mid] not in buffered):
                del remaining[mid]
        if not remaining and not outbox and not delayed and not inbox:
            break
        time.sleep(0.2)
    return time.monotonic() - t0


def reply_times(sent: list[dict]) -> dict[tuple[str, int], float]:
    """(robot key, member index) -> the first time the stand-in recorded a post naming that member."""
    out: dict[tuple[str, int], float] = {}
    for s in sent:
        if s.get("path") != "webhook/send":
            continue
        for m in _NAME.finditer(s.get("content") or ""):
            k = (s["key"], int(m.group(1)))
            if k not in out or s["time"] < out[k]:
                out[k] = s["time"]
    return out


MISSING_SEEN: list[str] = []  # a few unanswered callbacks, for the JSON


def latencies(calls, got, times) -> tuple[list[float], int]:
    lats, missing = [], 0
    for k, c in enumerate(calls):
        if k not in got:
            missing += 1
            continue
        t = times.get((common.webhook_key(c["group"]), c["member"]))
        if t is None:
            missing += 1
            if len(MISSING_SEEN) < 20:
                MISSING_SEEN.append(f"{c['msgid']} status {got[k][2]} g{c['group']} m{c['member']}")
            continue
        lats.append(t - got[k][0])
    lats.sort()
    return lats, missing


def fetch_sent(sim_url: str) -> list[dict]:
    return requests.get(sim_url + "_control/sent", params={"path": "webhook/send"}, timeout=60).json()


# -- the run ------------------------------------------------------------------------------------------------
def run(quick: bool, opts) -> Result:
    res = Result("e2e")
    groups = getattr(opts, "e2e_groups", None) or GROUPS  # per step
    rates = tuple(getattr(opts, "e2e_rates", None) or RATES)
    seconds = 3.0 if quick else None  # None: the whole camp (groups x 10 callbacks) per step
    settle = 30.0 if quick else 70.0
    steps = len(rates) + 1  # set 0: warm-up and baseline
    with ExitStack() as stack:
        workdir, procs, rs, r = common.own_service_redis(stack, "e2e", keep=opts.keep)

        sim, sim_url = common.start_sim_server(procs, workdir, LATENCY)

        env_file = workdir / "groups.env"
        write_env(env_file, steps, groups, PROBE_MEMBERS)
        env = common.clean_environ()
        env.update(common.service_env(rs.url, env_file, api_base_url=sim_url))
        port = common.free_port()
        web_args = common.procfile_web_args(port, None, env)
        web = procs.start(web_args, env, "web")
        worker_args = ["worker"] + (["--no-sender"] if getattr(opts, "e2e_no_sender", False) else [])
        worker = procs.start(common.wecom_bot_cmd() + worker_args, env, "worker")
        cron = procs.start(common.wecom_bot_cmd() + ["cron"], env, "cron")
        try:
            common.wait_port(port, 30, web)
            common.wait_workers(r, 1, 60, [worker])
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{procs.tail('web')}\n{procs.tail('worker')}") from None

        crypto = CallbackCrypto(common.ROBOT_TOKEN, common.ROBOT_AES_KEY, "")

        def check_alive():
            for p, name in ((web, "web"), (worker, "worker"), (cron, "cron"), (sim, "simulator")):
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}\n{procs.tail(name)}")

        # -- warm-up, then the baseline: 5 a second on set 0 ------------------------------------------------
        plan0 = step_plan(0, 2 * BASE_N + 40, groups)
        warm = make_callbacks(crypto, plan0[:40], "w")
        send_at_rate(port, warm, 40, workdir, "warm")
        wait_answered(r, warm, settle)
        base_calls = make_callbacks(crypto, plan0[40:], "b")
        got = send_at_rate(port, base_calls, BASE_RATE, workdir, "base")
        wait_answered(r, base_calls, settle)
        base_lats, base_missing = latencies(base_calls, got, reply_times(fetch_sent(sim_url)))
        check_alive()

        # -- the rates ----------------------------------------------------------------------------------------
        per_rate = []
        for i, rate in enumerate(rates, 1):
            n = groups * PER_GROUP if seconds is None else int(rate * seconds)
            calls = make_callbacks(crypto, step_plan(i, n, groups), f"s{i}")
            prof = profiling.out_path(opts, f"e2e-worker-{rate}") if opts.profile else None
            spy = profiling.start(worker.pid, prof, len(calls) / rate + 2, subprocesses=False) if prof else None
            load0 = loadavg()
            meter = common.CpuMeter()
            worker_cpu0 = common.proc_cpu_seconds(worker.pid)
            t0 = time.monotonic()
            got = send_at_rate(port, calls, rate, workdir, f"s{i}")
            waited = wait_answered(r, calls, settle)
            cpu = meter.stop()
            worker_cpu = common.proc_cpu_seconds(worker.pid) - worker_cpu0
            if spy is not None:
                profiling.finish(spy)
            lats, missing = latencies(calls, got, reply_times(fetch_sent(sim_url)))
            acks = sorted(v[1] for v in got.values())
            late = sorted(v[3] for v in got.values())
            non200 = sum(1 for v in got.values() if v[2] != 200)
            span = max(v[0] for v in got.values()) - min(v[0] for v in got.values()) if got else 0.0
            per_rate.append(
                {
                    "rate": rate,
                    "callbacks": len(calls),
                    "achieved_rate": (len(got) - 1) / span if span > 0 else float("nan"),
                    "p50": percentile(lats, 50),
                    "p90": percentile(lats, 90),
                    "p99": percentile(lats, 99),
                    "max": lats[-1] if lats else float("nan"),
                    "missing": missing,
                    "ack_p50_ms": percentile(acks, 50) * 1000,
                    "ack_p99_ms": percentile(acks, 99) * 1000,
                    "non200": non200,
                    "sender_late_p99_ms": percentile(late, 99) * 1000,
                    "settle_seconds": round(waited, 2),
                    "step_seconds": round(time.monotonic() - t0, 2),
                    "worker_cpu_per_checkin_us": worker_cpu / max(1, len(calls)) * 1e6,
                    "cpu": cpu,
                    "loadavg_before": load0,
                }
            )
            check_alive()

        # -- the gathered-reply probe: one group, 30 members in one second -----------------------------------
        g = steps * groups
        probe = make_callbacks(crypto, [(g, g * PER_GROUP + m) for m in range(PROBE_MEMBERS)], "p")
        got = send_at_rate(port, probe, PROBE_MEMBERS, workdir, "probe")
        wait_answered(r, probe, 15.0 if quick else 75.0)
        probe_lats, probe_missing = latencies(probe, got, reply_times(fetch_sent(sim_url)))
        sent = fetch_sent(sim_url)
        probe_posts = sum(1 for s in sent if s.get("key") == common.webhook_key(g))
        calls_log = requests.get(sim_url + "_control/calls", timeout=60).json()
        refused = sum(1 for c in calls_log if c.get("errcode") == 45009)
        by_key: dict[str, list[float]] = {}
        for s in sent:
            by_key.setdefault(s["key"], []).append(s["time"])
        from bench.fanout import max_per_minute

        worst = max((max_per_minute(t) for t in by_key.values()), default=0)
        failed_jobs = sum(r.zcard(f"rq:failed:{q}") for q in ("inbox", "outbox", "default", "tick"))
        metrics = {k.decode(): int(v) for k, v in r.hgetall("wb:metrics").items()}
        check_alive()

    knee = max((x["rate"] for x in per_rate if x["p99"] <= TARGET_P99 and not x["missing"]), default=0)
    res.data.update(
        {
            "latency": LATENCY,
            "groups_per_step": groups,
            "members_per_group": PER_GROUP,
            "rates": per_rate,
            "baseline": {
                "rate": BASE_RATE,
                "n": len(base_calls),
                "p50": percentile(base_lats, 50),
                "p99": percentile(base_lats, 99),
                "missing": base_missing,
            },
            "probe": {
                "members": PROBE_MEMBERS,
                "p50": percentile(probe_lats, 50),
                "max": probe_lats[-1] if probe_lats else float("nan"),
                "missing": probe_missing,
                "posts": probe_posts,
            },
            "knee": knee,
            "web_command": " ".join(web_args),
            "worker_command": " ".join(worker_args),
            "max_per_robot_minute": worst,
            "rate_limited_calls": refused,
            "failed_jobs": failed_jobs,
            "metrics": metrics,
            "loadavg_end": loadavg(),
            "missing_examples": MISSING_SEEN,
        }
    )
    base = f"unloaded {percentile(base_lats, 50) * 1000:,.0f} / {percentile(base_lats, 99) * 1000:,.0f} ms"
    for x in per_rate:
        ok = x["p99"] <= TARGET_P99 and not x["missing"]
        res.row(
            f"reply latency p50 / p99 at {x['rate']}/s",
            f"{x['p50'] * 1000:,.0f} / {x['p99'] * 1000:,.0f} ms"
            + (f" ({x['missing']} unanswered)" if x["missing"] else ""),
            f"{base} ({BASE_RATE}/s); sent {x['achieved_rate']:,.0f}/s, 200 p99 {x['ack_p99_ms']:.0f} ms, "
            f"worker {x['worker_cpu_per_checkin_us']:,.0f} us/check-in, "
            f"others {x['cpu']['foreign_share']:.0%}, load {x['loadavg_before']}",
            f"p99 <= {TARGET_P99:.0f} s",
            met(ok),
        )
    res.row(
        "knee (highest rate with p99 <= 1 s)",
        f"{knee}/s",
        f"{groups} groups x {PER_GROUP} members per step, stand-in {LATENCY * 1000:.0f} ms/call, "
        f"1 worker ({' '.join(worker_args)})",
        f">= {TARGET_RATE}/s",
        met(knee >= TARGET_RATE),
    )
    res.row(
        f"gathered replies: {PROBE_MEMBERS} members of one group in 1 s",
        f"last answered after {res.data['probe']['max']:.1f} s"
        + (f" ({probe_missing} unanswered)" if probe_missing else ""),
        f"p50 {res.data['probe']['p50']:.1f} s; {probe_posts} posts to that robot",
        "",
        "info",
    )
    res.row(
        "max messages / minute to one robot",
        worst,
        f"{refused} calls refused 45009 by the stand-in",
        "<= 20",
        met(worst <= 20 and refused == 0),
    )
    if failed_jobs:
        res.row("failed RQ jobs", failed_jobs, "", "0", "missed")
    res.row("load average (1, 5, 15 min) at the end", res.data["loadavg_end"], f"{os.cpu_count()} CPUs", "", "info")
    return res
