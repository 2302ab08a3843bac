"""The ingest benchmark's load generators: wrk with bench/wrk_cycle.lua when it is installed, else a
multi-process Python generator with keep-alive http.client connections (closed loop, one request
in flight per connection), both reading pre-generated requests from a file of "path<TAB>body" lines.

Both report the same dict: requests, seconds, rps, p50/p90/p99/max latency (ms), errors (every
non-200 answer plus connection errors), statuses, wraps (a connection ran out of distinct requests
and started again from its first).
"""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import shutil
import subprocess
import threading
import time
from pathlib import Path

from bench.common import BENCH, percentile

WRK_SCRIPT = BENCH / "wrk_cycle.lua"


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(port: int, request_file: Path, seconds: float, threads: int, connections: int) -> dict:
    args = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, int(round(seconds)))}s",
        "--timeout",
        "5s",
        "-s",
        str(WRK_SCRIPT),
        f"http://127.0.0.1:{port}",
        "--",
        str(request_file),
        str(threads),
    ]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 120)
    line = next((text for text in proc.stdout.splitlines() if text.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stderr.strip()[:500]} {proc.stdout.strip()[-500:]}")
    d = json.loads(line[len("WRKJSON ") :])
    statuses = {int(k): v for k, v in d["statuses"].items()}
    secs = d["duration_us"] / 1e6
    non200 = sum(v for k, v in statuses.items() if k != 200)
    conn_errors = d["connect_errors"] + d["read_errors"] + d["write_errors"] + d["timeouts"]
    return {
        "tool": "wrk",
        "requests": d["requests"],
        "seconds": secs,
        "rps": d["requests"] / secs,
        "p50_ms": d["p50_us"] / 1000,
        "p90_ms": d["p90_us"] / 1000,
        "p99_ms": d["p99_us"] / 1000,
        "max_ms": d["max_us"] / 1000,
        "mean_ms": d["mean_us"] / 1000,
        "errors": non200 + conn_errors,
        "non200": non200,
        "conn_errors": conn_errors,
        "statuses": statuses,
        "wraps": d["wraps"],
        "threads": threads,
        "connections": connections,
    }


# -- the Python fallback ---------------------------------------------------------------------------
def _read_share(request_file: Path, index: int, total: int) -> list[tuple[str, bytes]]:
    out = []
    with open(request_file, "rb") as f:
        for n, line in enumerate(f):
            if n % total == index:
                path, _, body = line.rstrip(b"\n").partition(b"\t")
                out.append((path.decode(), body))
    return out


def _conn_loop(port: int, reqs, start: float, stop: float, lat: list, statuses: dict, errors: list, wraps: list):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {"Content-Type": "text/xml; charset=utf-8", "Connection": "keep-alive"}
    i = 0
    while time.time() < start:
        time.sleep(0.001)
    pc = time.perf_counter
    while time.time() < stop:
        if i >= len(reqs):
            i = 0
            wraps[0] += 1
        path, body = reqs[i]
        i += 1
        t0 = pc()
        try:
            conn.request("POST", path, body, headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            errors[0] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            continue
        lat.append(pc() - t0)
        statuses[status] = statuses.get(status, 0) + 1
    conn.close()


def _proc_main(port, request_file, proc_index, procs, conns, start, stop, out_path):
    threads = []
    lats, sts, errs, wraps = [], [], [], []
    for c in range(conns):
        reqs = _read_share(Path(request_file), proc_index * conns + c, procs * conns)
        lat, st, er, wr = [], {}, [0], [0]
        lats.append(lat)
        sts.append(st)
        errs.append(er)
        wraps.append(wr)
        threads.append(threading.Thread(target=_conn_loop, args=(port, reqs, start, stop, lat, st, er, wr)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses: dict[int, int] = {}
    for st in sts:
        for k, v in st.items():
            statuses[k] = statuses.get(k, 0) + v
    Path(out_path).write_text(
        json.dumps(
            {
                "lat": [x for lat in lats for x in lat],
                "statuses": statuses,
                "errors": sum(e[0] for e in errs),
                "wraps": sum(w[0] for w in wraps),
            }
        )
    )


def run_python(port: int, request_file: Path, seconds: float, procs: int, conns_per_proc: int, workdir: Path) -> dict:
    ctx = mp.get_context("fork")
    start = time.time() + 1.5  # every process has read its share by then
    stop = start + seconds
    outs = [workdir / f"loadgen-{i}.json" for i in range(procs)]
    ps = [
        ctx.Process(
            target=_proc_main, args=(port, str(request_file), i, procs, conns_per_proc, start, stop, str(outs[i]))
        )
        for i in range(procs)
    ]
    for p in ps:
        p.start()
    for p in ps:
        p.join(seconds + 60)
        if p.is_alive():
            p.terminate()
            p.join(5)
            raise RuntimeError("python load generator did not finish")
    lat: list[float] = []
    statuses: dict[int, int] = {}
    conn_errors = wraps = 0
    for o in outs:
        d = json.loads(o.read_text())
        lat += d["lat"]
        for k, v in d["statuses"].items():
            statuses[int(k)] = statuses.get(int(k), 0) + v
        conn_errors += d["errors"]
        wraps += d["wraps"]
    lat.sort()
    n = len(lat)
    non200 = sum(v for k, v in statuses.items() if k != 200)
    return {
        "tool": f"python ({procs} processes x {conns_per_proc} keep-alive connections)",
        "requests": n,
        "seconds": seconds,
        "rps": n / seconds,
        "p50_ms": percentile(lat, 50) * 1000,
        "p90_ms": percentile(lat, 90) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": (lat[-1] * 1000) if lat else float("nan"),
        "mean_ms": (sum(lat) / n * 1000) if n else float("nan"),
        "errors": non200 + conn_errors,
        "non200": non200,
        "conn_errors": conn_errors,
        "statuses": statuses,
        "wraps": wraps,
        "threads": procs,
        "connections": procs * conns_per_proc,
    }


def run_load(
    port: int, request_file: Path, seconds: float, connections: int, workdir: Path, use_wrk: bool = True
) -> dict:
    if use_wrk and have_wrk():
        return run_wrk(port, request_file, seconds, threads=2, connections=connections)
    procs = 2
    return run_python(port, request_file, seconds, procs, max(1, connections // procs), workdir)
