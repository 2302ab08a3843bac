"""Where one worker's time goes when it drains the inbox, in this process (no RQ): N messages of
the processing benchmark's mix are accepted into a private Redis, a few batches warm up, then
`streams.drain` runs `ingest.process_batch` over the rest. Prints messages/s, Redis round trips
per message and, with --cprofile, the top functions.

    .venv/bin/python -m bench.profile_processing [N] [--cprofile] [--groups G]

A diagnostic for bench/processing.py, not one of the benchmarks of bench/run.py.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from contextlib import ExitStack

from redis.connection import AbstractConnection

from bench import common, processing
from bench.common import InProcessEnv, Procs, RedisServer
from workers import ingest, jobs, streams
from workers.connection import get_redis


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=10000)
    ap.add_argument("--cprofile", action="store_true")
    ap.add_argument("--groups", type=int, default=processing.GROUPS)
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args(argv)
    with ExitStack() as stack:
        wd = common.temp_workdir(stack, "profile-processing")
        procs = Procs(stack, wd)
        rs = RedisServer(wd, procs)
        env_file = wd / "groups.env"
        common.write_groups_env(env_file, args.groups, processing.PER_GROUP, webhook=True)
        stack.enter_context(InProcessEnv(common.service_env(rs.url, env_file, BOT_DRY_RUN="1")))
        r = get_redis()
        r.set(streams.INBOX.wake_key, "1", ex=3600)
        r.set(streams.OUTBOX.wake_key, "1", ex=3600)  # replies stay queued: no RQ here
        warm = 2000
        for ev in processing.make_events(args.n + warm, "p", 7, groups=args.groups):
            ingest.accept(r, ev)
        streams.drain(r, streams.INBOX, lambda e: ingest.process_batch(r, e), max_batches=warm // 500)
        trips = [0]
        orig = AbstractConnection.send_packed_command

        def counting(self, *a, **k):
            trips[0] += 1
            return orig(self, *a, **k)

        AbstractConnection.send_packed_command = counting
        pr = cProfile.Profile() if args.cprofile else None
        t = time.perf_counter()
        if pr:
            pr.enable()
        n = streams.drain(r, streams.INBOX, lambda e: ingest.process_batch(r, e))
        if pr:
            pr.disable()
        el = time.perf_counter() - t
        AbstractConnection.send_packed_command = orig
        print(
            f"{n} messages in {el:.2f} s: {n / el:,.0f} msg/s, {trips[0] / max(1, n):.2f} Redis round trips "
            f"per message{' (under cProfile: slower)' if pr else ''}"
        )
        if pr:
            s = io.StringIO()
            pstats.Stats(pr, stream=s).sort_stats("cumulative").print_stats(args.top)
            print(s.getvalue())
        jobs.set_inline(False)


if __name__ == "__main__":
    main()
