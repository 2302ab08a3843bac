"""Where the outbox sender's time goes, in this process: N group replies (one per group in turn, as
check-in replies are) are posted to a private Redis and sent by workers.outbox_sender.OutboxSender
through the WeCom stand-in (bench/sim_server.py, a process of its own, LATENCY per call). Prints the
sends per second and this process's CPU per send (what the sender thread costs the worker whose
jobs share its GIL) and, with --cprofile, the top functions of the send threads.

    .venv/bin/python -m bench.profile_sending [N] [--groups G] [--latency S] [--cprofile]

A diagnostic for bench/e2e.py, not one of the benchmarks of bench/run.py.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import threading
import time
from contextlib import ExitStack

from bench import common
from bench.common import InProcessEnv, Procs, RedisServer
from workers import keys, outbound, streams
from workers.connection import get_redis
from workers.outbox_sender import OutboxSender


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=3000)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--rate", type=float, default=300.0, help="replies posted per second")
    ap.add_argument("--threads", type=int, default=None, help="the sender's send threads (default its THREADS)")
    ap.add_argument("--cprofile", action="store_true")
    ap.add_argument("--top", type=int, default=35)
    ap.add_argument("--callers", default=None, help="with --cprofile: who calls the functions matching this")
    args = ap.parse_args(argv)
    with ExitStack() as stack:
        wd = common.temp_workdir(stack, "profile-sending")
        procs = Procs(stack, wd)
        rs = RedisServer(wd, procs)
        _sim, sim_url = common.start_sim_server(procs, wd, args.latency)
        env_file = wd / "groups.env"
        common.write_groups_env(env_file, args.groups, 10, webhook=True)
        stack.enter_context(InProcessEnv(common.service_env(rs.url, env_file, api_base_url=sim_url)))
        r = get_redis()
        r.set(streams.OUTBOX.wake_key, "1", ex=3600)  # no RQ here: the sender below sends
        msgs = [
            {
                "id": f"reply:p{i}",
                "to": "group",
                "group": common.group_key(i % args.groups),
                "msgtype": "text",
                "content": f"打卡成功✅ 第 {i} 条，继续加油💪",
                "mentions": [[common.member_id(i), common.display_name(i)]],
            }
            for i in range(args.n)
        ]
        sender = OutboxSender(r, **({"threads": args.threads} if args.threads else {}))
        profilers: list[cProfile.Profile] = []
        if args.cprofile:
            original = outbound._run_channel

            def profiled(*a, **k):
                pr = cProfile.Profile(time.thread_time)  # CPU, not wall: waits on sockets and locks left out
                pr.enable()
                try:
                    return original(*a, **k)
                finally:
                    pr.disable()
                    with lock:
                        profilers.append(pr)

            lock = threading.Lock()
            outbound._run_channel = profiled
        cpu0, t0 = time.process_time(), time.perf_counter()
        sender.start()
        # posted in batches of a tenth of a second's worth, as the inbox drain posts replies
        step = max(1, int(args.rate / 10))
        for i in range(0, args.n, step):
            outbound.post_many(r, msgs[i : i + step])
            time.sleep(max(0.0, t0 + (i + step) / args.rate - time.perf_counter()))
        while int(r.hget(keys.METRICS, "sends_ok") or 0) + int(r.hget(keys.METRICS, "sends_delayed") or 0) < args.n:
            time.sleep(0.01)
        el, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        sender.stop()
        sent = int(r.hget(keys.METRICS, "sends_ok") or 0)
        print(
            f"{sent} sent ({args.n - sent} delayed by the robots' minute) in {el:.2f} s at {args.rate:.0f} posted/s: "
            f"{cpu / max(1, sent) * 1e6:,.0f} us of this process's CPU per send"
        )
        if profilers:
            s = io.StringIO()
            stats = pstats.Stats(profilers[0], stream=s)
            for pr in profilers[1:]:
                stats.add(pr)
            stats.sort_stats("tottime").print_stats(args.top)
            if args.callers:
                stats.print_callers(args.callers)
            print(s.getvalue())


if __name__ == "__main__":
    main()
