"""Backup and restore of all the service's state (every `wb:*` key), as JSON lines of DUMP payloads.

A backup holds members' names, profile notes and the audit trail: it is written for its owner only
(0600), and caches are left out: the app's access_token (a live credential), the inbox's dedupe keys
the outbox's rate-limit windows and rendered pictures, all of which rebuild themselves.
"""

from __future__ import annotations

import base64
import json

import redis

from workers import keys
from workers.files import private_file

# key prefixes that are caches, not state (see the module docstring)
CACHE_PREFIXES = (keys.TOKEN_PREFIX, keys.SEEN_PREFIX, keys.RATE_PREFIX, keys.PICTURE_PREFIX)


def dump(r: redis.Redis, path: str) -> int:
    n = 0
    with private_file(path, "w", encoding="utf-8") as out:
        out.write(json.dumps({"format": "wecom-bot-backup", "version": 1}) + "\n")
        for key in r.scan_iter(match=keys.ALL, count=1000):
            if key.decode(errors="replace").startswith(CACHE_PREFIXES):
                continue
            with r.pipeline(transaction=False) as p:
                p.dump(key)
                p.pttl(key)
                payload, ttl = p.execute()
            if payload is None:
                continue
            out.write(
                json.dumps(
                    {"k": base64.b64encode(key).decode(), "v": base64.b64encode(payload).decode(), "ttl": max(ttl, 0)}
                )
                + "\n"
            )
            n += 1
    return n


def load(r: redis.Redis, path: str) -> int:
    n = 0
    with open(path, encoding="utf-8") as src:
        header = json.loads(src.readline() or "{}")
        if header.get("format") != "wecom-bot-backup":
            raise ValueError(f"{path} is not a wecom-bot backup")
        with r.pipeline(transaction=False) as p:
            for line in src:
                item = json.loads(line)
                p.restore(base64.b64decode(item["k"]), item["ttl"], base64.b64decode(item["v"]), replace=True)
                n += 1
                if n % 1000 == 0:
                    p.execute()
            p.execute()
    return n
