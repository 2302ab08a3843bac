"""Operational endpoints: /healthz (Redis reachability, queue depths) and /metrics (Prometheus)."""

from __future__ import annotations

import re
import time
from typing import Any

import redis
from flask import Blueprint, Response, jsonify
from flask.typing import ResponseReturnValue
from rq import Queue

from config.settings import get_settings
from workers import keys, streams
from workers.connection import get_redis
from workers.jobs import QUEUES

bp = Blueprint("ops", __name__)


def _queues(r: redis.Redis) -> dict[str, int]:
    return {name: Queue(name, connection=r).count for name in QUEUES}


def _text(value: bytes | str | None) -> str:
    """A Redis reply as text (the client answers bytes)."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _config() -> dict[str, Any]:
    """Whether the configuration is valid, and the variables that are wrong (names only: a problem's
    text may quote a value). With an invalid configuration the web still stores callbacks (nothing is
    lost) while workers refuse to start: the operator must see it here, not only in a worker's log."""
    problems = get_settings().problems
    names = sorted({m.group(0) for p in problems for m in [_VAR.search(p)] if m})
    return {"valid": not problems, "problems": len(problems), "variables": names}


_VAR = re.compile(r"\b(?:WECOM|BOT|GROUP|REDIS)_[A-Z0-9_]+")


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    config = _config()
    try:
        r = get_redis()
        r.ping()
        # 200 while callbacks can be stored (a 503 would make a load balancer drop them); `ok` false
        # when the configuration is invalid
        body = {
            "ok": config["valid"],
            "redis": "up",
            "config": config,
            "inbox": streams.depth(r, streams.INBOX),
            "outbox": streams.depth(r, streams.OUTBOX),
            "queues": _queues(r),
        }
        return jsonify(body)
    except (redis.RedisError, OSError):
        return jsonify({"ok": False, "redis": "down", "config": config}), 503


@bp.get("/metrics")
def metrics() -> Response:
    lines: list[str] = []
    try:
        r = get_redis()
        counters = {_text(k): int(v) for k, v in r.hgetall(keys.METRICS).items()}
        lines.append("# TYPE wecom_bot_redis_up gauge")
        lines.append("wecom_bot_redis_up 1")
    except (redis.RedisError, OSError):
        valid = int(_config()["valid"])
        return Response(
            "# TYPE wecom_bot_redis_up gauge\nwecom_bot_redis_up 0\n"
            f"# TYPE wecom_bot_config_valid gauge\nwecom_bot_config_valid {valid}\n",
            mimetype="text/plain; version=0.0.4",
        )
    config = _config()
    lines.append("# TYPE wecom_bot_config_valid gauge")
    lines.append(f"wecom_bot_config_valid {int(config['valid'])}")
    lines.append("# TYPE wecom_bot_config_problems gauge")
    lines.append(f"wecom_bot_config_problems {config['problems']}")
    lines.append("# TYPE wecom_bot_callbacks_total counter")
    for name, value in sorted(counters.items()):
        if name.startswith("callbacks:"):
            _, kind, status = name.split(":")
            lines.append(f'wecom_bot_callbacks_total{{endpoint="{kind}",status="{status}"}} {value}')
    # callbacks stored per write (group commit, workers/group_commit.py) = 200s / writes
    lines.append("# TYPE wecom_bot_inbox_writes_total counter")
    lines.append(f"wecom_bot_inbox_writes_total {counters.get(streams.INBOX.key + ':writes', 0)}")
    lines.append("# TYPE wecom_bot_checkins_total counter")
    lines.append(f"wecom_bot_checkins_total {counters.get('checkins', 0)}")
    lines.append("# TYPE wecom_bot_sends_total counter")
    for result in ("ok", "retry", "unknown", "failed"):
        lines.append(f'wecom_bot_sends_total{{result="{result}"}} {counters.get("sends_" + result, 0)}')
    lines.append("# TYPE wecom_bot_archive_records_total counter")
    lines.append(f"wecom_bot_archive_records_total {counters.get('archive:records', 0)}")
    lines.append("# TYPE wecom_bot_archive_parked_total counter")
    lines.append(f"wecom_bot_archive_parked_total {counters.get('archive:parked', 0)}")
    lines.append("# TYPE wecom_bot_dead_entries gauge")
    for stream in (streams.INBOX, streams.OUTBOX):
        lines.append(f'wecom_bot_dead_entries{{queue="{stream.key.split(":")[-1]}"}} {r.llen(stream.dead_key)}')
    lines.append("# TYPE wecom_bot_failed_sends gauge")
    lines.append(f"wecom_bot_failed_sends {r.hlen(keys.OUT_FAILED)}")
    now_ms = int(time.time() * 1000)
    lines.append("# TYPE wecom_bot_queue_depth gauge")
    lines.append("# TYPE wecom_bot_queue_lag_seconds gauge")
    for stream in (streams.INBOX, streams.OUTBOX):
        d = streams.depth(r, stream)
        name = stream.key.split(":")[-1]
        lines.append(f'wecom_bot_queue_depth{{queue="{name}"}} {d["length"]}')
        oldest = r.xrange(stream.key, count=1)
        oldest_id = _text(oldest[0][0]) if oldest else ""  # "<ms>-<seq>"
        lag = max(0, now_ms - int(oldest_id.split("-")[0])) / 1000 if oldest_id else 0
        lines.append(f'wecom_bot_queue_lag_seconds{{queue="{name}"}} {lag:.3f}')
    return Response("\n".join(lines) + "\n", mimetype="text/plain; version=0.0.4")
