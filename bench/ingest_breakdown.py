"""Where one robot callback's time goes, in one thread, without gunicorn: the floor app, the real
Flask app, and each step of the real callback on its own (CPU per request, microseconds).

    .venv/bin/python -m bench.ingest_breakdown [N]

Starts its own redis-server (for the accept step and the full app) and cleans up. A diagnostic for
the ingest benchmark (bench/ingest.py), not one of the benchmarks of bench/run.py.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import time
from contextlib import ExitStack
from urllib.parse import urlsplit

from flask import Flask

from bench import common
from bench.common import InProcessEnv, Procs, RedisServer
from bench.ingest import write_requests
from wecom_bot import create_app
from wecom_bot.crypto import CallbackCrypto
from wecom_bot.xmlparse import parse_envelope, parse_robot
from workers import ingest
from workers.connection import get_redis


def _environ(path_qs: str, body: bytes) -> dict:
    u = urlsplit(path_qs)
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": u.path,
        "QUERY_STRING": u.query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "text/xml; charset=utf-8",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "REMOTE_ADDR": "127.0.0.1",
    }


def _time(fn, items, label, out):
    c, t = time.process_time(), time.perf_counter()
    for it in items:
        fn(it)
    us = (time.perf_counter() - t) / len(items) * 1e6
    cpu = (time.process_time() - c) / len(items) * 1e6
    out.append((label, us, cpu))
    print(f"  {us:8.1f} us wall {cpu:8.1f} us CPU  {label}", flush=True)


def main(n: int = 5000) -> None:
    with ExitStack() as stack:
        workdir = common.temp_workdir(stack, "breakdown")
        procs = Procs(stack, workdir)
        rs = RedisServer(workdir, procs)
        env_file = workdir / "groups.env"
        common.write_groups_env(env_file, 200, 10, webhook=True)
        stack.enter_context(InProcessEnv(common.service_env(rs.url, env_file)))
        os.environ.setdefault("WECOM_ROBOT_TOKEN", common.ROBOT_TOKEN)
        reqfile = workdir / "req.tsv"
        warm = 500
        write_requests(reqfile, n * 4 + warm, 200, 10, "x", 3)
        lines = [line.rstrip("\n").split("\t", 1) for line in reqfile.read_text(encoding="utf-8").splitlines()]
        reqs = [(p, b.encode()) for p, b in lines]
        chunks = [reqs[i * n : (i + 1) * n] for i in range(4)]
        warmup = reqs[4 * n :]

        from bench import floor_app  # here: it reads WECOM_ROBOT_TOKEN from the environment as it loads

        app = create_app()
        logging.getLogger("gunicorn.access").disabled = True
        out: list[tuple[str, float]] = []

        def start_response(status, headers, exc_info=None):
            if not status.startswith("200"):
                raise RuntimeError(status)

        for rq in warmup:  # first requests import and load things (RQ for the wake job, Lua scripts)
            floor_app.app(_environ(*rq), start_response)
            b"".join(app(_environ(*rq), start_response))
        print(f"one thread, {n} distinct callbacks each (after {len(warmup)} warm-up requests):")
        _time(
            lambda rq: floor_app.app(_environ(*rq), start_response), chunks[0], "floor app (wechatpy + xmltodict)", out
        )
        _time(
            lambda rq: b"".join(app(_environ(*rq), start_response)),
            chunks[1],
            "real app (create_app(): the whole callback)",
            out,
        )

        crypto = CallbackCrypto(common.ROBOT_TOKEN, common.ROBOT_AES_KEY, "")
        parsed = []
        for path, body in chunks[2]:
            q = dict(kv.split("=", 1) for kv in urlsplit(path).query.split("&"))
            parsed.append((q, body))
        envs = [parse_envelope(b) for _, b in parsed]
        _time(lambda qb: parse_envelope(qb[1]), parsed, "  parse_envelope (defusedxml)", out)
        plain = []
        for (q, _), enc in zip(parsed, envs, strict=True):
            plain.append(crypto.decrypt(q["msg_signature"], q["timestamp"], q["nonce"], enc))
        it = iter(envs)
        _time(
            lambda qb: crypto.decrypt(qb[0]["msg_signature"], qb[0]["timestamp"], qb[0]["nonce"], next(it)),
            parsed,
            "  CallbackCrypto.decrypt (sha1 + AES)",
            out,
        )
        events = [parse_robot(x, 1_700_000_000) for x in plain]
        _time(lambda x: parse_robot(x, 1_700_000_000), plain, "  parse_robot (defusedxml)", out)
        r = get_redis()
        for i, ev in enumerate(events):
            ev["msgid"] = "bd" + str(i) + ev["msgid"]
        _time(
            lambda ev: ingest.accept(r, ev, count_as="callbacks:robot:200"),
            events,
            "  ingest.accept (1 Lua round trip)",
            out,
        )
        _time(lambda ev: r.ping(), events[:n], "  (a bare PING round trip, for scale)", out)

        bare = Flask("bare")
        bare.add_url_rule("/wecom/robot", "robot", lambda: "", methods=["POST"])
        _time(
            lambda rq: b"".join(bare(_environ(*rq), start_response)), chunks[3], "  Flask overhead (empty route)", out
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
