"""Benchmark 2, processing: how fast ONE worker process turns inbox entries into counted check-ins,
and the end-to-end lag under a steady inflow, against RQ's own rate for no-op jobs measured in the
same run with the same worker (`wecom-bot worker --burst`: an RQ SimpleWorker on all queues).

- throughput: N messages (default 50,000; a realistic mix: ~2,000 members in 200 groups, mostly
  check-ins, some images, chit-chat and `我的`, spread over consecutive camp days) are put in the
  inbox through the same Lua as `workers.ingest.accept` (pipelined), one drain job is woken, and one
  burst worker drains it. messages/s = N / (inbox empty - drain job dequeued); the worker then drains
  the replies it queued (reported apart).
- lag: a fresh worker (`wecom-bot worker`) runs while this process calls `workers.ingest.accept` at a
  steady rate (1,000 messages/s for 20 s; --quick 5 s), noting when each message was accepted and
  polling XLEN wb:inbox every 10 ms. Entries are read and acknowledged in stream order and deleted
  once processed, so message k counts as processed at the first poll where accepted - XLEN >= k.
- baseline: N no-op jobs (bench/noop.py) enqueued on "default", one burst worker drains them.

Outbound: BOT_DRY_RUN=1, so replies go through the real outbox code (claim, state, metrics) but are
not sent over HTTP and are not rate-limited; sending is the fan-out benchmark's subject.
"""
from __future__ import annotations

import random
import time
from contextlib import ExitStack
from datetime import datetime
from zoneinfo import ZoneInfo

from bench import common, profiling
from bench.common import InProcessEnv, Procs, RedisServer, Result, fmt_num, met, percentile

TARGET_RATE = 2000.0
TARGET_LAG_P99 = 2.0
GROUPS, PER_GROUP = 200, 10

CHECKINS = ("@打卡助手 打卡", "@打卡助手 今日打卡", "@打卡助手 已更 https://www.xiaohongshu.com/explore/{hex}",
            "@打卡助手 打卡 第{n}天 ✅", "@打卡助手 今天的笔记 http://xhslink.com/{hex}", "@打卡助手 已完成今日打卡")
CHAT = ("@打卡助手 今天好累啊", "@打卡助手 大家加油", "@打卡助手 这个怎么用", "@打卡助手 谢谢老师",
        "@打卡助手 明天再打卡", "@打卡助手 哈哈哈")


def make_events(n: int, prefix: str, seed: int, start_day: str = "2026-11-02", now_ts: bool = False) -> list[dict]:
    """n inbox events as parse_robot makes them, in time order: per camp day every member posts a
    check-in with probability 0.85 (5 % of them images), chit-chat with 0.15, `我的` with 0.01."""
    rnd = random.Random(seed)
    tz = ZoneInfo("Asia/Shanghai")
    d0 = datetime.fromisoformat(start_day).replace(hour=7, tzinfo=tz).timestamp()
    out: list[dict] = []
    day = 0
    members = GROUPS * PER_GROUP
    while len(out) < n:
        today: list[dict] = []
        for m in range(members):
            g = m // PER_GROUP
            posts = []
            if rnd.random() < 0.85:
                if rnd.random() < 0.05:
                    posts.append(("image", ""))
                else:
                    posts.append(("text", rnd.choice(CHECKINS).format(hex=f"{rnd.getrandbits(48):012x}",
                                                                      n=day + 1)))
            if rnd.random() < 0.15:
                posts.append(("text", rnd.choice(CHAT)))
            if rnd.random() < 0.01:
                posts.append(("text", "@打卡助手 我的"))
            for msgtype, text in posts:
                ts = int(time.time()) if now_ts else int(d0 + day * 86400 + rnd.uniform(0, 15 * 3600))
                today.append({"source": "robot", "msgid": f"{prefix}{len(out) + len(today):08d}{rnd.getrandbits(32):08x}",
                              "chat_id": common.chat_id(g), "chat_type": "group", "userid": common.member_id(m),
                              "name": common.display_name(m), "alias": "", "msgtype": msgtype, "text": text,
                              "has_image": msgtype == "image", "event": "", "ts": ts})
        today.sort(key=lambda e: e["ts"])
        out += today
        day += 1
    return out[:n]


def load_inbox(r, events: list[dict]) -> None:
    """Put events in the inbox through workers.ingest.accept itself (dedupe on msgid, XADD, wake one
    drain job), one call per message as the web process makes it."""
    from workers import ingest
    for ev in events:
        ingest.accept(r, ev)


def _burst(procs: Procs, env: dict, name: str, r, queue: str, initial: int, count_fn, timeout: float, opts=None,
           profile_name: str | None = None, expect_seconds: float = 30.0):
    """Start a burst worker and poll until it exits; returns the timeline: spawned, first job taken
    from `queue` (which held `initial` jobs), count_fn() reached 0, exited."""
    t_spawn = time.perf_counter()
    proc = procs.start(common.wecom_bot_cmd() + ["worker", "--burst"], env, name)
    spy = None
    prof = profiling.out_path(opts, profile_name) if (opts is not None and profile_name and opts.profile) else None
    if prof:
        spy = profiling.start(proc.pid, prof, expect_seconds, subprocesses=False)
    t_dequeued = t_done = None
    while True:
        now = time.perf_counter()
        if t_dequeued is None and r.llen(f"rq:queue:{queue}") < initial:
            t_dequeued = now
        if t_dequeued is not None and t_done is None and count_fn() == 0:
            t_done = now
        if proc.poll() is not None:
            break
        if now - t_spawn > timeout:
            procs.stop(proc)
            raise RuntimeError(f"{name}: burst worker still running after {timeout:.0f} s\n{procs.tail(name)}")
        time.sleep(0.005)
    t_exit = time.perf_counter()
    if spy is not None:
        spy.terminate()
        profiling.finish(spy)
    if proc.returncode != 0:
        raise RuntimeError(f"{name}: worker exited with {proc.returncode}\n{procs.tail(name)}")
    return {"spawn": t_spawn, "dequeued": t_dequeued or t_exit, "done": t_done or t_exit, "exit": t_exit}


def run(quick: bool, opts) -> Result:
    res = Result("processing")
    n = opts.messages or (5000 if quick else 50000)
    n_noop = 1000 if quick else 5000
    lag_rate, lag_seconds = 1000, (5.0 if quick else 20.0)
    with ExitStack() as stack:
        workdir = common.temp_workdir(stack, "processing", keep=opts.keep)
        procs = Procs(stack, workdir)
        rs = RedisServer(workdir, procs)
        r = rs.client()
        stack.callback(r.close)
        env_file = workdir / "groups.env"
        common.write_groups_env(env_file, GROUPS, PER_GROUP, webhook=True)
        svc = common.service_env(rs.url, env_file, BOT_DRY_RUN="1")
        child_env = common.clean_environ()
        child_env.update(svc)
        stack.enter_context(InProcessEnv(svc))

        # -- baseline: RQ no-op jobs, same worker ---------------------------------------------------
        from rq import Queue
        q = Queue("default", connection=r)
        for i in range(0, n_noop, 1000):
            with r.pipeline() as p:
                q.enqueue_many([Queue.prepare_data("bench.noop.noop", result_ttl=0, failure_ttl=3600, timeout=60)
                                for _ in range(min(1000, n_noop - i))], pipeline=p)
                p.execute()
        tl = _burst(procs, child_env, "noop-worker", r, "default", n_noop, lambda: r.llen("rq:queue:default"), 300)
        noop_rate = n_noop / max(1e-9, tl["exit"] - tl["dequeued"])
        noop_startup = tl["dequeued"] - tl["spawn"]
        r.flushall()

        # -- throughput -----------------------------------------------------------------------------
        from workers.connection import get_redis
        t0 = time.perf_counter()
        events = make_events(n, "p", 7)
        load_inbox(get_redis(), events)
        load_seconds = time.perf_counter() - t0
        xlen = r.xlen("wb:inbox")
        if xlen != n:
            raise RuntimeError(f"loaded {xlen} entries, expected {n}")
        used_before = int(r.info("memory")["used_memory"])
        meter = common.CpuMeter()
        tl = _burst(procs, child_env, "worker", r, "inbox", r.llen("rq:queue:inbox"), lambda: r.xlen("wb:inbox"), 1800, opts,
                    "processing-worker", expect_seconds=n / 1500)
        cpu_throughput = meter.stop()
        drain_s = tl["done"] - tl["dequeued"]
        rate = n / max(1e-9, drain_s)
        metrics = {k.decode(): int(v) for k, v in r.hgetall("wb:metrics").items()}
        outbox_left = r.xlen("wb:outbox")
        replies = metrics.get("sends_dry_run", 0) + metrics.get("sends_ok", 0)
        reply_s = tl["exit"] - tl["done"]
        generated_checkins = sum(1 for e in events if e["msgtype"] == "image" or any(
            e["text"].startswith(c.split("{")[0]) for c in CHECKINS))
        pending = r.xpending("wb:inbox", "workers")["pending"] if r.exists("wb:inbox") else 0
        dead = r.llen("wb:inbox:dead")
        res.data.update({"messages": n, "load_seconds": round(load_seconds, 2), "drain_seconds": round(drain_s, 3),
                         "rate": rate, "worker_startup_seconds": round(tl["dequeued"] - tl["spawn"], 3),
                         "metrics": metrics, "replies_drained_seconds": round(reply_s, 3),
                         "outbox_left": outbox_left, "inbox_pending": pending, "inbox_dead": dead,
                         "noop_jobs": n_noop, "noop_rate": noop_rate, "noop_worker_startup_seconds": round(noop_startup, 3),
                         "used_memory_before_drain": used_before, "cpu_throughput": cpu_throughput, "checkin_messages_generated": generated_checkins})

        # -- lag under a steady inflow --------------------------------------------------------------
        r.flushall()
        from workers import ingest
        lag_events = make_events(int(lag_rate * lag_seconds), "L", 11, now_ts=True)
        worker = procs.start(common.wecom_bot_cmd() + ["worker"], child_env, "lag-worker")
        common.wait_workers(r, 1, 30, [worker])
        wr = get_redis()
        accepted_at: list[float] = []
        samples: list[tuple[float, int]] = []
        spy = None
        prof = profiling.out_path(opts, "processing-lag-worker") if opts.profile else None
        if prof:
            spy = profiling.start(worker.pid, prof, lag_seconds, subprocesses=False)
        meter = common.CpuMeter()
        start = time.perf_counter()
        sent = 0
        next_poll = start
        total = len(lag_events)
        while True:
            now = time.perf_counter()
            elapsed = now - start
            due = min(total, int(elapsed * lag_rate))
            while sent < due:
                ingest.accept(wr, lag_events[sent])
                accepted_at.append(time.perf_counter())
                sent += 1
            if now >= next_poll:
                samples.append((time.perf_counter(), sent - r.xlen("wb:inbox")))
                next_poll += 0.01
            if sent >= total:
                break
            time.sleep(0.001)
        produce_s = time.perf_counter() - start
        deadline = time.perf_counter() + 120
        while samples[-1][1] < total and time.perf_counter() < deadline:
            time.sleep(0.01)
            samples.append((time.perf_counter(), total - r.xlen("wb:inbox")))
        cpu_lag = meter.stop()
        if spy is not None:
            profiling.finish(spy)
        lags = []
        j = 0
        for k, t_acc in enumerate(accepted_at):
            while j < len(samples) and samples[j][1] < k + 1:
                j += 1
            if j == len(samples):
                break
            lags.append(max(0.0, samples[j][0] - t_acc))
        unprocessed = total - len(lags)
        lags.sort()
        p50, p99 = percentile(lags, 50), percentile(lags, 99)
        mx = lags[-1] if lags else float("nan")
        lag_metrics = {k.decode(): int(v) for k, v in r.hgetall("wb:metrics").items()}
        procs.stop(worker)
        res.data.update({"lag_rate_target": lag_rate, "lag_rate_achieved": total / produce_s,
                         "lag_seconds": lag_seconds, "lag_p50": p50, "lag_p99": p99, "lag_max": mx,
                         "lag_unprocessed": unprocessed, "lag_metrics": lag_metrics, "cpu_lag": cpu_lag})

        res.row("inbox messages/s (1 worker)", fmt_num(rate),
                f"RQ no-op jobs {fmt_num(noop_rate)}/s ({rate / noop_rate:.1f}x)" if noop_rate else "",
                f">= {TARGET_RATE:,.0f}/s", met(rate >= TARGET_RATE))
        res.row("messages drained", f"{n:,} in {drain_s:.1f} s",
                f"{metrics.get('checkins', 0):,} check-ins counted of {generated_checkins:,} posted",
                "", "info")
        res.row("replies drained after (dry run)", f"{replies:,} in {reply_s:.1f} s ({fmt_num(replies / max(reply_s, 1e-9))}/s)",
                "BOT_DRY_RUN=1: outbox code path, no HTTP", "", "info")
        res.row("lag p50 / p99 (post to counted)", f"{p50:.2f} / {p99:.2f} s",
                f"{total / produce_s:,.0f} msg/s for {lag_seconds:.0f} s, max {mx:.2f} s",
                f"p99 < {TARGET_LAG_P99:.0f} s", met(p99 < TARGET_LAG_P99 and unprocessed == 0))
        if unprocessed:
            res.row("lag: messages not processed within 120 s", unprocessed, "", "0", "missed")
        foreign = max(cpu_throughput["foreign_share"], cpu_lag["foreign_share"])
        if foreign > 0.05:
            res.row("other processes' CPU during the measurements", f"{foreign:.0%} of the machine",
                    "a shared machine: figures are low and noisy", "", "info")
    return res
