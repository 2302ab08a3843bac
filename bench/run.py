"""Run the benchmarks and print one table; write the figures as JSON to docs/<date>.json (a full run, kept
with the docs) or var/bench/<date>-quick.json (a smoke run: not part of the checkout).

    .venv/bin/python bench/run.py            # the full run (a few minutes)
    .venv/bin/python bench/run.py --quick    # a smoke run for CI (about a minute)
    .venv/bin/python bench/run.py --only ingest,memory --profile

Benchmarks (each starts its own redis-server on a free port in a temp dir, its own processes, and
cleans up): ingest, processing, fanout, memory, e2e (post -> reply latency through the deployed
processes); detection (precision and recall on the labeled corpus, no processes). See
docs/PERFORMANCE.md for what each measures.

Targets are reported as met / missed, never asserted: the exit status is 0 when every benchmark ran
(a benchmark that cannot run yet reports "skipped: ..."), 1 when one crashed, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import time
import traceback
import unicodedata
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `python bench/run.py` puts bench/ first on sys.path: import its modules as bench.* only.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import common, profiling  # noqa: E402
from bench.common import Result  # noqa: E402

BENCHMARKS = ("ingest", "processing", "fanout", "memory", "detection", "pictures", "e2e")


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: small sizes, short durations")
    p.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {', '.join(BENCHMARKS)} (default all)"
    )
    p.add_argument("--no-wrk", action="store_true", help="use the Python load generator even if wrk is installed")
    p.add_argument(
        "--connections",
        type=int,
        default=8,
        help="ingest: concurrent keep-alive connections (default 8 = the Procfile's 2 workers x 4 threads)",
    )
    p.add_argument("--fanout-workers", type=int, default=2, help="fanout: worker processes (default 2, one per core)")
    p.add_argument("--fanout-groups", type=int, default=None, help="fanout: groups (default 10,000; --quick 500)")
    p.add_argument("--messages", type=int, default=None, help="processing: messages (default 50,000; --quick 5,000)")
    p.add_argument("--members", type=int, default=None, help="memory: members (default 10,000; --quick 1,000)")
    p.add_argument(
        "--e2e-groups",
        type=int,
        default=None,
        help="e2e: groups of 10 members per step (default 100: 1,000 check-ins a step; 300 holds 300/s for 10 s)",
    )
    p.add_argument(
        "--e2e-rates",
        default=None,
        help="e2e: comma-separated check-ins per second (default 50,100,200,300,400)",
    )
    p.add_argument(
        "--e2e-no-sender",
        action="store_true",
        help="e2e: run the worker with --no-sender (replies sent by drain_outbox jobs: the path before issue 18)",
    )
    p.add_argument(
        "--redis-unix",
        action="store_true",
        help="give the service its Redis on a unix socket, as the embedded Redis is (default TCP)",
    )
    p.add_argument("--profile", action="store_true", help="sample the processes under test with py-spy")
    p.add_argument("--profile-dir", default=None, help="where profiles go (default bench/results/profiles-<date>)")
    p.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each benchmark, wait up to SECONDS for the machine to be idle (< 15%% busy)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dirs (logs of every process)")
    p.add_argument(
        "--output",
        default=None,
        help="JSON output file (default docs/<date>.json; --quick: var/bench/<date>-quick.json)",
    )
    args = p.parse_args(argv)
    args.only = [b.strip() for b in args.only.split(",") if b.strip()]
    if args.e2e_rates:
        args.e2e_rates = [int(x) for x in args.e2e_rates.split(",") if x.strip()]
    unknown = [b for b in args.only if b not in BENCHMARKS]
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(unknown)}")
    return args


BUSY = 0.15


def _idle_check(opts) -> float:
    """How busy the machine is before a benchmark starts (other processes skew every figure)."""
    busy = common.cpu_busy(1.0)
    deadline = time.monotonic() + opts.wait_idle
    while busy >= BUSY and time.monotonic() < deadline:
        print(f"#   machine {busy:.0%} busy before the start; waiting for it to settle", flush=True)
        time.sleep(5)
        busy = common.cpu_busy(1.0)
    return busy


def _run_one(name: str, quick: bool, opts) -> tuple[Result, bool]:
    busy = _idle_check(opts)
    started = time.perf_counter()
    try:
        mod = importlib.import_module(f"bench.{name}")
        res = mod.run(quick, opts)
        ok = True
    except Exception as exc:
        res = Result(name)
        res.row(
            "crashed", f"{type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''}", status="error"
        )
        res.data["traceback"] = traceback.format_exc()
        print(res.data["traceback"], file=sys.stderr)
        ok = False
    res.data["wall_seconds"] = round(time.perf_counter() - started, 1)
    res.data["cpu_busy_before"] = round(busy, 3)
    if busy >= BUSY:
        res.row(
            "machine busy before the start",
            f"{busy:.0%} of all CPUs",
            "other processes were running: figures are low and noisy",
            f"< {BUSY:.0%}",
            "info",
        )
    return res, ok


def table(results: list[Result]) -> str:
    headers = ("benchmark", "metric", "value", "baseline (same run)", "target", "status")
    rows = [(r.bench, r.metric, r.value, r.baseline, r.target, r.status) for res in results for r in res.rows]
    widths = [max(len(h), *(_width(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = [
        "| " + " | ".join(_pad(h, w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for row in rows:
        out.append("| " + " | ".join(_pad(c, w) for c, w in zip(row, widths, strict=True)) + " |")
    return "\n".join(out)


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _pad(s: str, w: int) -> str:
    return s + " " * (w - _width(s))


def _commit() -> str:
    """The checkout measured: HEAD, plus "+changes" when files outside bench/ and docs/ differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        return ""
    dirty = [line for line in status if not line[3:].startswith(("bench/", "docs/"))]
    return head + ("+changes" if dirty else "")


def default_output(date: str, quick: bool) -> Path:
    """A full run's figures go with the docs; a quick (CI, scripts/test) run's under var/, out of the checkout."""
    return ROOT / "var" / "bench" / f"{date}-quick.json" if quick else ROOT / "docs" / f"{date}.json"


def main(argv=None) -> int:
    opts = parse_args(argv)
    if opts.redis_unix:
        os.environ["BENCH_REDIS_SOCKET"] = "unix"
    date = datetime.now().strftime("%Y-%m-%d")
    results_dir = ROOT / "bench" / "results"
    if opts.profile_dir is None:
        opts.profile_dir = str(results_dir / f"profiles-{date}{'-quick' if opts.quick else ''}")
    machine = common.machine_info()
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    print(f"# wecom-bot benchmarks {'(quick) ' if opts.quick else ''}{started}")
    print(
        f"# machine: {machine['nproc']} cores (nproc), {machine['cpu_model']}, {machine['memory']}, "
        f"Python {machine['python']}, redis-server {machine['redis_server']}, "
        f"wrk: {machine['wrk'] or 'not installed'}"
    )
    print(f"# checkout: {_commit() or 'unknown'}")
    results: list[Result] = []
    all_ok = True
    for name in BENCHMARKS:
        if name not in opts.only:
            continue
        print(f"# running {name} ...", flush=True)
        res, ok = _run_one(name, opts.quick, opts)
        all_ok &= ok
        results.append(res)
        for row in res.rows:
            print(f"#   {row.metric}: {row.value}  [{row.status}]", flush=True)
        if opts.profile:
            for prof in sorted(Path(opts.profile_dir).glob(f"{name}-*.txt")):
                print(profiling.summarize(prof, 12), flush=True)
    print()
    print(table(results))
    out = Path(opts.output) if opts.output else default_output(date, opts.quick)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "date": date,
        "utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": opts.quick,
        "argv": sys.argv[1:] if argv is None else list(argv),
        "machine": machine,
        "commit": _commit(),
        "rows": [asdict(r) for res in results for r in res.rows],
        "benchmarks": {res.name: res.as_json() for res in results},
    }
    out.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    print(f"\nwrote {out}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
