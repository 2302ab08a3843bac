"""Backup and restore of all the service's state (every `wb:*` key), as JSON lines of DUMP payloads."""
from __future__ import annotations

import base64
import json

import redis


def dump(r: redis.Redis, path: str) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(json.dumps({"format": "wecom-bot-backup", "version": 1}) + "\n")
        for key in r.scan_iter(match="wb:*", count=1000):
            with r.pipeline(transaction=False) as p:
                p.dump(key)
                p.pttl(key)
                payload, ttl = p.execute()
            if payload is None:
                continue
            out.write(json.dumps({"k": base64.b64encode(key).decode(), "v": base64.b64encode(payload).decode(),
                                  "ttl": max(ttl, 0)}) + "\n")
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
