"""Benchmark 2, processing: how fast ONE worker process turns inbox entries into counted check-ins,
and the end-to-end lag under a steady inflow, against RQ's own rate for no-op jobs measured in the
same run with the same worker (`wecom-bot worker`: an RQ SimpleWorker on all queues).

The camp: 1,000 groups of 10 members (the 10,000-member camp of the memory benchmark). One worker
process (`wecom-bot worker`, as the Procfile runs it) is started and warmed up first (a few hundred
messages through the whole path), as a worker that has been running for a while is; its start-up
is reported apart. Then, with that same worker:

- baseline: N no-op jobs (bench/noop.py) enqueued on "default"; rate = N / (first job taken ->
  queue empty and worker idle again).
- throughput: N messages (default 50,000; a realistic mix: per camp day every member posts a
  check-in with probability 0.85 (5 % of them images), chit-chat with 0.15 and `我的` with 0.01,
  over consecutive camp days) are put in the inbox through `workers.ingest.accept` itself while the
  inbox's wake flag is held (so no drain job runs during the load), then one drain job is woken the
  way accept wakes it. messages/s = N / (drain job taken -> inbox empty). The replies it queued are
  drained after it (the inbox queue has priority) and reported apart.
- lag: this process calls `workers.ingest.accept` at a steady rate (1,000 messages/s for 20 s;
  --quick 5 s) with the current time, noting when each message was accepted and polling XLEN
  wb:inbox every 10 ms. Entries are read and acknowledged in stream order and deleted once
  processed, so message k counts as processed at the first poll where accepted - XLEN >= k.

Outbound: BOT_DRY_RUN=1, so replies go through the real outbox code (claim, state, metrics) but are
not sent over HTTP and are not rate-limited; sending is the fan-out benchmark's subject. The worker
runs with `--no-sender`, so that its replies wait for the inbox as they did before the outbox
sender (issue 18) and this figure stays the inbox's alone; post -> reply with the sender is
bench/e2e.py's.
"""

from __future__ import annotations

import random
import time
from contextlib import ExitStack
from datetime import datetime
from zoneinfo import ZoneInfo

from rq import Queue

from bench import common, profiling
from bench.common import InProcessEnv, Procs, Result, fmt_num, met, percentile
from handlers.checkin import detect
from workers import ingest, streams
from workers.connection import get_redis
from workers.jobs import QUEUES

TARGET_RATE = 2000.0
TARGET_LAG_P99 = 2.0
GROUPS, PER_GROUP = 1000, 10

CHECKINS = (
    "@打卡助手 打卡",
    "@打卡助手 今日打卡",
    "@打卡助手 已更 https://www.xiaohongshu.com/explore/{hex}",
    "@打卡助手 打卡 第{n}天 ✅",
    "@打卡助手 今天的笔记 http://xhslink.com/{hex}",
    "@打卡助手 已完成今日打卡",
)
CHAT = (
    "@打卡助手 今天好累啊",
    "@打卡助手 大家加油",
    "@打卡助手 这个怎么用",
    "@打卡助手 谢谢老师",
    "@打卡助手 明天再打卡",
    "@打卡助手 哈哈哈",
)


def make_events(
    n: int, prefix: str, seed: int, start_day: str = "2026-11-02", now_ts: bool = False, groups: int = GROUPS
) -> list[dict]:
    """n inbox events as parse_robot makes them, in time order: per camp day every member posts a
    check-in with probability 0.85 (5 % of them images), chit-chat with 0.15, `我的` with 0.01.
    now_ts: every event carries the current time instead (a morning's posts arriving now)."""
    rnd = random.Random(seed)
    tz = ZoneInfo("Asia/Shanghai")
    d0 = datetime.fromisoformat(start_day).replace(hour=7, tzinfo=tz).timestamp()
    out: list[dict] = []
    day = 0
    members = groups * PER_GROUP
    while len(out) < n:
        today: list[dict] = []
        for m in range(members):
            g = m // PER_GROUP
            posts = []
            if rnd.random() < 0.85:
                if rnd.random() < 0.05:
                    posts.append(("image", ""))
                else:
                    posts.append(("text", rnd.choice(CHECKINS).format(hex=f"{rnd.getrandbits(48):012x}", n=day + 1)))
            if rnd.random() < 0.15:
                posts.append(("text", rnd.choice(CHAT)))
            if rnd.random() < 0.01:
                posts.append(("text", "@打卡助手 我的"))
            for msgtype, text in posts:
                ts = int(d0 + day * 86400 + rnd.uniform(0, 15 * 3600))
                msgid = f"{prefix}{len(out) + len(today):08d}{rnd.getrandbits(32):08x}"
                today.append(
                    {
                        "source": "robot",
                        "msgid": msgid,
                        "chat_id": common.chat_id(g),
                        "chat_type": "group",
                        "userid": common.member_id(m),
                        "name": common.display_name(m),
                        "alias": "",
                        "msgtype": msgtype,
                        "text": text,
                        "has_image": msgtype == "image",
                        "event": "",
                        "ts": ts,
                    }
                )
        today.sort(key=lambda e: e["ts"])
        if now_ts:
            rnd.shuffle(today)
        out += today
        day += 1
    return out[:n]


def _is_checkin(e: dict) -> bool:
    return e["msgtype"] == "image" or any(e["text"].startswith(c.split("{")[0]) for c in CHECKINS)


class _Worker:
    """The one long-running worker process of this benchmark and how to watch it."""

    def __init__(self, procs: Procs, env: dict, r, name: str = "worker"):
        self.procs, self.r, self.name = procs, r, name
        self.t_spawn = time.perf_counter()
        # --no-sender: the inbox alone, its replies drained after it by drain jobs (the inbox queue has
        # priority); the worker as deployed, its outbox sender sending beside it, is bench/e2e.py's subject
        self.proc = procs.start(common.wecom_bot_cmd() + ["worker", "--no-sender"], env, name)
        common.wait_workers(r, 1, 60, [self.proc])
        self.t_registered = time.perf_counter()
        self.key = next(iter(r.smembers("rq:workers"))).decode()

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {self.proc.returncode}\n{self.procs.tail(self.name)}")

    def idle(self) -> bool:
        state = self.r.hget(self.key, "state")
        return state in (b"idle", b"started", None)

    def queues_empty(self) -> bool:
        with self.r.pipeline(transaction=False) as p:
            for q in QUEUES:
                p.llen(f"rq:queue:{q}")
            return not any(p.execute())

    def wait_settled(self, timeout: float, what=lambda: True) -> float:
        """Until `what()` holds, every queue is empty and the worker idle (twice in a row, 20 ms
        apart: a job may be between dequeue and start); returns the instant it first held."""
        deadline = time.perf_counter() + timeout
        first = None
        while time.perf_counter() < deadline:
            self.check()
            now = time.perf_counter()
            if what() and self.queues_empty() and self.idle():
                if first is None:
                    first = now
                elif now - first >= 0.02:
                    return first
            else:
                first = None
            time.sleep(0.005)
        raise RuntimeError(f"the worker did not settle within {timeout:.0f} s\n{self.procs.tail(self.name)}")


def _wait_taken(r, queue: str, initial: int, worker: _Worker, timeout: float) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if r.llen(f"rq:queue:{queue}") < initial:
            return time.perf_counter()
        worker.check()
        time.sleep(0.002)
    raise RuntimeError(f"no job taken from {queue} within {timeout:.0f} s")


def run(quick: bool, opts) -> Result:
    res = Result("processing")
    n = opts.messages or (5000 if quick else 50000)
    n_noop = 1000 if quick else 5000
    n_warm = 300 if quick else 1000
    lag_rate, lag_seconds = 1000, (5.0 if quick else 20.0)
    with ExitStack() as stack:
        workdir, procs, rs, r = common.own_service_redis(stack, "processing", keep=opts.keep)
        env_file = workdir / "groups.env"
        common.write_groups_env(env_file, GROUPS, PER_GROUP, webhook=True)
        svc = common.service_env(rs.url, env_file, BOT_DRY_RUN="1")
        child_env = common.clean_environ()
        child_env.update(svc)
        stack.enter_context(InProcessEnv(svc))
        wr = get_redis()

        # -- one worker, warmed up ------------------------------------------------------------------
        worker = _Worker(procs, child_env, r)
        startup_s = worker.t_registered - worker.t_spawn
        t0 = time.perf_counter()
        for ev in make_events(n_warm, "W", 5, start_day="2026-10-05"):
            ingest.accept(wr, ev)
        worker.wait_settled(120, lambda: r.xlen("wb:inbox") == 0 and r.xlen("wb:outbox") == 0)
        warm_s = time.perf_counter() - t0

        # -- baseline: RQ no-op jobs, same worker ---------------------------------------------------
        q = Queue("default", connection=r)
        with r.pipeline() as p:
            q.enqueue_many(
                [
                    Queue.prepare_data("bench.noop.noop", result_ttl=0, failure_ttl=3600, timeout=60)
                    for _ in range(n_noop)
                ],
                pipeline=p,
            )
            p.execute()
        t_taken = _wait_taken(r, "default", n_noop, worker, 60)
        t_done = worker.wait_settled(max(120.0, n_noop / 20))
        noop_rate = n_noop / max(1e-9, t_done - t_taken)

        # -- throughput -----------------------------------------------------------------------------
        events = make_events(n, "p", 7)
        r.set(streams.INBOX.wake_key, "1", ex=3600)  # hold the wake flag: no drain while loading
        t0 = time.perf_counter()
        for ev in events:
            ingest.accept(wr, ev)
        load_seconds = time.perf_counter() - t0
        xlen = r.xlen("wb:inbox")
        if xlen != n:
            raise RuntimeError(f"loaded {xlen} entries, expected {n}")
        metrics0 = {k.decode(): int(v) for k, v in r.hgetall("wb:metrics").items()}
        used_before = int(r.info("memory")["used_memory"])
        spy = None
        prof = profiling.out_path(opts, "processing-worker") if opts.profile else None
        if prof:
            spy = profiling.start(worker.proc.pid, prof, n / 1500 + 2, subprocesses=False)
        meter = common.CpuMeter()
        worker_cpu0 = common.proc_cpu_seconds(worker.proc.pid)
        r.delete(streams.INBOX.wake_key)
        streams.wake_drain(streams.INBOX)  # what accept does when it finds no flag
        t_taken = _wait_taken(r, "inbox", 1, worker, 60)
        t_done = None
        deadline = t_taken + max(600.0, n / 50)
        while time.perf_counter() < deadline:
            if r.xlen("wb:inbox") == 0:
                t_done = time.perf_counter()
                break
            worker.check()
            time.sleep(0.005)
        if t_done is None:
            raise RuntimeError(f"the inbox was not drained within {deadline - t_taken:.0f} s\n{procs.tail('worker')}")
        cpu_throughput = meter.stop()
        worker_cpu = common.proc_cpu_seconds(worker.proc.pid) - worker_cpu0
        t_replies = worker.wait_settled(max(600.0, n / 50), lambda: r.xlen("wb:outbox") == 0)
        if spy is not None:
            profiling.finish(spy)
        drain_s = t_done - t_taken
        rate = n / max(1e-9, drain_s)
        metrics = {k.decode(): int(v) for k, v in r.hgetall("wb:metrics").items()}
        delta = {k: v - metrics0.get(k, 0) for k, v in metrics.items() if v != metrics0.get(k, 0)}
        replies = delta.get("sends_dry_run", 0) + delta.get("sends_ok", 0)
        reply_s = max(0.0, t_replies - t_done)
        generated_checkins = sum(1 for e in events if _is_checkin(e))
        pending = r.xpending("wb:inbox", "workers")["pending"] if r.exists("wb:inbox") else 0
        dead = r.llen("wb:inbox:dead")
        res.data.update(
            {
                "groups": GROUPS,
                "members": GROUPS * PER_GROUP,
                "messages": n,
                "load_seconds": round(load_seconds, 2),
                "drain_seconds": round(drain_s, 3),
                "rate": rate,
                "worker_startup_seconds": round(startup_s, 3),
                "warmup_messages": n_warm,
                "warmup_seconds": round(warm_s, 2),
                "metrics_delta": delta,
                "replies_drained_seconds": round(reply_s, 3),
                "inbox_pending": pending,
                "inbox_dead": dead,
                "noop_jobs": n_noop,
                "noop_rate": noop_rate,
                "used_memory_before_drain": used_before,
                "cpu_throughput": cpu_throughput,
                "worker_cpu_seconds": worker_cpu,
                "checkin_messages_generated": generated_checkins,
            }
        )

        # -- lag under a steady inflow --------------------------------------------------------------
        lag_events = make_events(int(lag_rate * lag_seconds), "L", 11, now_ts=True)
        for ev in lag_events:
            ev["ts"] = 0
        accepted_at: list[float] = []
        samples: list[tuple[float, int]] = []
        spy = None
        prof = profiling.out_path(opts, "processing-lag-worker") if opts.profile else None
        if prof:
            spy = profiling.start(worker.proc.pid, prof, lag_seconds, subprocesses=False)
        meter = common.CpuMeter()
        start = time.perf_counter()
        sent = 0
        next_poll = start
        total = len(lag_events)
        while True:
            now = time.perf_counter()
            due = min(total, int((now - start) * lag_rate) + 1)
            while sent < due:
                ev = lag_events[sent]
                ev["ts"] = int(time.time())
                ingest.accept(wr, ev)
                accepted_at.append(time.perf_counter())
                sent += 1
            if now >= next_poll:
                samples.append((time.perf_counter(), sent - r.xlen("wb:inbox")))
                next_poll += 0.01
            if sent >= total:
                break
            time.sleep(0.001)
        produce_s = accepted_at[-1] - start
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
        timeline, last_t = [], None  # every 0.1 s: (seconds since start, processed)
        for t_s, k in samples:
            if last_t is None or t_s - last_t >= 0.1:
                timeline.append((round(t_s - start, 2), k))
                last_t = t_s
        stalls = [
            (a[0], round(b[0] - a[0], 2)) for a, b in zip(timeline, timeline[1:], strict=False) if b[0] - a[0] > 0.3
        ]
        flat, run_from = [], None  # periods of 0.5 s or more without progress
        for (t0_, k0), (_t1, k1) in zip(timeline, timeline[1:], strict=False):
            if k1 == k0 and k0 < total:
                run_from = t0_ if run_from is None else run_from
            else:
                if run_from is not None and t0_ - run_from >= 0.5:
                    flat.append((run_from, round(t0_ - run_from, 2)))
                run_from = None
        lags.sort()
        p50, p99 = percentile(lags, 50), percentile(lags, 99)
        mx = lags[-1] if lags else float("nan")
        worker.wait_settled(120, lambda: r.xlen("wb:outbox") == 0)
        lag_checkins = {k.decode(): int(v) for k, v in r.hgetall("wb:metrics").items()}.get(
            "checkins", 0
        ) - metrics.get("checkins", 0)
        res.data.update(
            {
                "lag_rate_target": lag_rate,
                "lag_rate_achieved": total / max(1e-9, produce_s),
                "lag_seconds": lag_seconds,
                "lag_p50": p50,
                "lag_p99": p99,
                "lag_max": mx,
                "lag_unprocessed": unprocessed,
                "lag_timeline": timeline,
                "lag_no_progress": flat,
                "lag_poll_gaps": stalls,
                "lag_checkins_counted": lag_checkins,
                "cpu_lag": cpu_lag,
            }
        )

        res.row(
            "inbox messages/s (1 worker)",
            fmt_num(rate),
            f"RQ no-op jobs {fmt_num(noop_rate)}/s ({rate / noop_rate:.1f}x)" if noop_rate else "",
            f">= {TARGET_RATE:,.0f}/s",
            met(rate >= TARGET_RATE),
        )
        res.row(
            "worker CPU per message",
            f"{worker_cpu / n * 1e6:,.0f} us",
            f"{n / max(1e-9, worker_cpu):,.0f} msg per worker CPU-second (it also waits on Redis); "
            "Redis and the poller "
            f"{cpu_throughput['ours_cpu_s'] - worker_cpu:.1f} s CPU besides",
            "",
            "info",
        )
        res.row(
            "messages drained",
            f"{n:,} in {drain_s:.1f} s",
            f"{delta.get('checkins', 0):,} check-in days counted; {GROUPS * PER_GROUP:,} members, "
            f"{n / (GROUPS * PER_GROUP * 1.01):.1f} camp days",
            "",
            "info",
        )
        res.row(
            "replies drained after (dry run)",
            f"{replies:,} in {reply_s:.1f} s",
            "BOT_DRY_RUN=1: outbox code path, no HTTP",
            "",
            "info",
        )
        res.row(
            "lag p50 / p99 (post to counted)",
            f"{p50:.2f} / {p99:.2f} s",
            f"{total / max(1e-9, produce_s):,.0f} msg/s for {lag_seconds:.0f} s, max {mx:.2f} s",
            f"p99 < {TARGET_LAG_P99:.0f} s",
            met(p99 < TARGET_LAG_P99 and unprocessed == 0),
        )
        if unprocessed:
            res.row("lag: messages not processed within 120 s", unprocessed, "", "0", "missed")
        res.row(
            "worker start-up",
            f"{startup_s:.1f} s to register",
            f"then {n_warm} warm-up messages in {warm_s:.1f} s (imports, scripts)",
            "",
            "info",
        )
        _worst_inputs(res)
        foreign = max(cpu_throughput["foreign_share"], cpu_lag["foreign_share"])
        if foreign > 0.05:
            res.row(
                "other processes' CPU during the measurements",
                f"{foreign:.0%} of the machine",
                "a shared machine: figures are low and noisy",
                "",
                "info",
            )
    return res


# The posts one member could send to stall every group's worker: each is timed against an
# ordinary 200-character post in the same run, per character. Detection is linear by construction (and
# reads only the start and end of a pasted essay), so the ratio stays at or below 1 however long the
# post; a quadratic step would show as a ratio in the tens or hundreds.
WORST_LEN = 20_000
WORST_INPUTS = {
    "URL ending in )": "已更 http://xhslink.com/a/Ab3(x)" + ")" * WORST_LEN,
    "URL ending in ]": "已更 http://xhslink.com/a/Ab3[x]" + "]" * WORST_LEN,
    "URL ending in .)": "已更 http://xhslink.com/a/Ab3" + ".)" * (WORST_LEN // 2),
    "1,000 note links": " ".join(f"http://xhslink.com/a/L{i:05d}" for i in range(1000)),
    "2,200 comma-joined clauses": "今天写了一篇笔记，" * (WORST_LEN // 9),
}
ORDINARY = "今天写了一篇笔记，" * 22


def _worst_inputs(res: Result) -> None:
    def timed(text: str) -> float:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            detect(text, sender_userid="u1", sender_name="小鹿")
            best = min(best, time.perf_counter() - t0)
        return best

    per_char = timed(ORDINARY) / len(ORDINARY)
    worst_name, worst_s, worst_ratio = "", 0.0, 0.0
    for name, text in WORST_INPUTS.items():
        took = timed(text)
        ratio = took / (per_char * len(text))
        if ratio > worst_ratio:
            worst_name, worst_s, worst_ratio = name, took, ratio
    res.data["worst_inputs"] = {"name": worst_name, "seconds": worst_s, "ratio_per_char": worst_ratio}
    res.row(
        "detection, worst input (~20,000 chars)",
        f"{worst_s * 1000:.1f} ms ({worst_name})",
        f"{worst_ratio:.2f}x an ordinary 200-char post's cost per character",
        "< 2x",
        met(worst_ratio < 2),
    )
