"""Benchmark 3, fan-out: the morning 接龙 of 10,000 groups (--quick 500) that share the chain slot,
each with its own robot webhook key and 5 members, sent to the WeCom simulator (its own process,
100 ms latency on every call, WeCom's 20-a-minute robot limit enforced) by worker processes
(`wecom-bot worker`, 2 by default).

Measured: `workers.schedule.tick(ts)` itself at the chain instant, called in this process with
warm settings, the minute after a previous tick (the cron steady state; a first tick a minute
earlier is timed too, it claims the past days' slots as skipped); then the time from the start of
the tick until the simulator has received the last post, and the most messages any one robot
received within a minute (from the simulator's own record).

If the tick fails, the benchmark reports "skipped: ..." instead of failing.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import datetime
from zoneinfo import ZoneInfo

import requests

import config.settings as settings_mod
from bench import common, profiling
from bench.common import InProcessEnv, Result, met
from config.settings import get_settings, load
from workers import jobs, keys, streams
from workers.schedule import tick

TARGET_TICK = 1.0
TARGET_DELIVERY = 60.0
ROBOT_LIMIT = 20
LATENCY = 0.1


def _outbox_empty(r) -> bool:
    """Nothing queued, delayed or being sent, and no job waiting to post more."""
    with r.pipeline(transaction=False) as p:
        p.xlen(streams.OUTBOX.key)
        p.zcard(keys.OUT_DELAYED)
        for queue in jobs.QUEUES:
            p.llen(f"rq:queue:{queue}")
        lengths = p.execute()
    return not any(lengths) and streams.depth(r, streams.OUTBOX)["pending"] == 0


def max_per_minute(times: list[float], window: float = 60.0) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def run(quick: bool, opts) -> Result:
    res = Result("fanout")
    n_groups = opts.fanout_groups or (500 if quick else 10_000)
    n_workers = max(1, opts.fanout_workers)
    timeout = 90.0 if quick else 300.0
    with ExitStack() as stack:
        workdir, procs, rs, r = common.own_service_redis(stack, "fanout", keep=opts.keep)

        sim, sim_url = common.start_sim_server(procs, workdir, LATENCY)

        env_file = workdir / "groups.env"
        t0 = time.perf_counter()
        common.write_groups_env(env_file, n_groups, 5, webhook=True)
        write_s = time.perf_counter() - t0
        svc = common.service_env(rs.url, env_file, api_base_url=sim_url)
        child_env = common.clean_environ()
        child_env.update(svc)
        stack.enter_context(InProcessEnv(svc))

        # The workers read the env file as they start (as long as this process does, below).
        t_workers = time.perf_counter()
        workers = [procs.start(common.wecom_bot_cmd() + ["worker"], child_env, f"worker{i}") for i in range(n_workers)]

        t0 = time.perf_counter()
        settings = load(strict=True)
        settings_s = time.perf_counter() - t0
        settings_mod.reset(settings)
        assert len(get_settings().groups) == n_groups
        common.wait_workers(r, n_workers, 900, workers)
        workers_s = time.perf_counter() - t_workers

        tz = ZoneInfo("Asia/Shanghai")
        chain = settings.groups[common.group_key(0)].slots.get("chain")
        ts = datetime(2026, 11, 25, chain.hour, chain.minute, tzinfo=tz).timestamp()
        try:
            t0 = time.perf_counter()
            first = tick(ts - 60)
            first_s = time.perf_counter() - t0
        except Exception as exc:
            res.row(
                "fan-out", f"skipped: schedule.tick() failed ({type(exc).__name__}: {str(exc)[:120]})", status="skipped"
            )
            return res
        sends0 = int(r.hget("wb:metrics", "sends_ok") or 0)

        prof_s = 30 if not quick else 5
        prof = (
            [
                profiling.start(w.pid, profiling.out_path(opts, f"fanout-worker{i}"), prof_s, subprocesses=False)
                for i, w in enumerate(workers)
            ]
            if opts.profile
            else []
        )
        if opts.profile:
            prof.append(
                profiling.start(sim.pid, profiling.out_path(opts, "fanout-simulator"), prof_s, subprocesses=False)
            )
        wall0 = time.time()
        meter = common.CpuMeter()
        t0 = time.perf_counter()
        result = tick(ts)
        tick_s = time.perf_counter() - t0
        queued = int(result.get("queued", 0))
        expected = queued
        delivered_at = None
        last_progress = (time.perf_counter(), 0)
        # The chain's morning also asks members without a goal privately (workers/routine.py): those
        # notes share the outbox with the chain posts, so wait for the outbox to be empty, not for a
        # count of sends; the chain posts' own times come from the simulator's record below.
        while time.perf_counter() - t0 < timeout:
            m = {k.decode(): int(v) for k, v in r.hgetall("wb:metrics").items()}
            done = m.get("sends_ok", 0) - sends0
            finished = done + m.get("sends_failed", 0)
            if finished >= expected and _outbox_empty(r):
                delivered_at = time.perf_counter()
                break
            if done != last_progress[1]:
                last_progress = (time.perf_counter(), done)
            elif time.perf_counter() - last_progress[0] > 60:
                break  # no progress for a minute
            time.sleep(0.1)
        wait_s = time.perf_counter() - t0
        cpu = meter.stop()
        for p in prof:
            profiling.finish(p)

        sent = requests.get(sim_url + "_control/sent", params={"path": "webhook/send"}, timeout=60).json()
        calls = requests.get(sim_url + "_control/calls", timeout=60).json()
        chain_posts = [s for s in sent if s.get("time", 0) >= wall0 - 1]
        times_by_key: dict[str, list[float]] = {}
        for s in sent:
            times_by_key.setdefault(s["key"], []).append(s["time"])
        worst = max((max_per_minute(t) for t in times_by_key.values()), default=0)
        last = max((s["time"] for s in chain_posts), default=float("nan")) - wall0
        first_post = min((s["time"] for s in chain_posts), default=float("nan")) - wall0
        rate_limited = sum(1 for c in calls if c.get("errcode") == 45009)
        m = {k.decode(): int(v) for k, v in r.hgetall("wb:metrics").items()}
        failed_jobs = r.zcard("rq:failed:default") if r.exists("rq:failed:default") else 0
        res.data.update(
            {
                "groups": n_groups,
                "workers": n_workers,
                "latency": LATENCY,
                "ts": ts,
                "env_file_write_seconds": round(write_s, 2),
                "settings_load_seconds": round(settings_s, 3),
                "workers_ready_seconds": round(workers_s, 2),
                "first_tick_seconds": round(first_s, 3),
                "first_tick": {k: v for k, v in first.items() if k != "lines"},
                "tick_seconds": round(tick_s, 3),
                "tick": {k: v for k, v in result.items() if k != "lines"},
                "delivered": len(chain_posts),
                "expected": expected,
                "last_delivery_seconds": last,
                "first_delivery_seconds": first_post,
                "wait_seconds": round(wait_s, 2),
                "max_per_robot_minute": worst,
                "rate_limited_calls": rate_limited,
                "metrics": m,
                "failed_jobs": failed_jobs,
                "all_delivered": delivered_at is not None,
                "cpu": cpu,
            }
        )

        res.row(
            "schedule.tick(ts) at the chain slot",
            f"{tick_s:.3f} s",
            f"{queued:,} groups queued in {result.get('jobs', 0)} jobs; first tick {first_s:.2f} s",
            f"< {TARGET_TICK:.0f} s",
            met(tick_s < TARGET_TICK),
        )
        ok_all = delivered_at is not None and len(chain_posts) >= expected and expected == n_groups
        res.row(
            "last post delivered",
            f"{last:.1f} s" if ok_all else f"{len(chain_posts):,} of {n_groups:,} in {wait_s:.0f} s",
            f"{n_groups:,} robots, {LATENCY * 1000:.0f} ms/call, {n_workers} worker(s); first post {first_post:.1f} s; "
            f"{done - len(chain_posts):,} private notes sent with them (the goal question)",
            f"< {TARGET_DELIVERY:.0f} s",
            met(ok_all and last < TARGET_DELIVERY),
        )
        res.row(
            "max messages / minute to one robot",
            worst,
            f"{rate_limited} calls refused 45009 by the simulator",
            f"<= {ROBOT_LIMIT}",
            met(worst <= ROBOT_LIMIT and rate_limited == 0),
        )
        res.row(
            "settings load (env file)",
            f"{settings_s:.2f} s",
            f"{n_groups:,} groups; {n_workers} workers registered after {workers_s:.1f} s",
            "",
            "info",
        )
        if failed_jobs:
            res.row("failed RQ jobs", failed_jobs, "", "0", "missed")
        if cpu["foreign_share"] > 0.05:
            res.row(
                "other processes' CPU during the measurement",
                f"{cpu['foreign_share']:.0%} of the machine",
                "a shared machine: figures are low and noisy",
                "",
                "info",
            )
    return res
