"""The audit trail: every change of goals, credits, roster and profiles, with who, when and why.

One Redis list per group (`keys.audit`), oldest first, of JSON entries:
    {"id", "who", "at", "what", "why", "target", "undo": [op, ...], "undoes"?, "via"?}
`via` is the channel the change came through ("console" for the leader console's web page).
`undo` holds the operations that restore the state from before the change; each carries what the
change left behind ("expect"), so an undo that would clobber a later change is refused instead.
An undo is itself an entry (what "undo", undoes = the entry's id), so the trail stays append-only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import redis

from workers import keys

MAX_ENTRIES = 10_000

# The channel the change came through ("robot", "app", "aibot", "console"), set by
# workers.commands.execute around one command, so that every entry it writes says where it came from
# without each handler passing it along.
_VIA: ContextVar[str] = ContextVar("audit_via", default="")


@contextmanager
def via(channel: str) -> Iterator[None]:
    token = _VIA.set(channel)
    try:
        yield
    finally:
        _VIA.reset(token)


WHAT_CN = {
    "goal": "目标",
    "downgrade": "退阶",
    "note": "档案",
    "delnote": "删除档案",
    "credit": "补卡",
    "leave": "请假",
    "add": "加入",
    "remove": "移除",
    "pause": "暂停",
    "resume": "恢复",
    "undo": "撤销",
    "uncheckin": "撤回打卡",
    "mute": "免打扰",
    "private": "不公开",
    "notice": "通知",
    "propose": "目标提议",
    "choose": "自定目标",
}
OTHER_CN = "其他改动"  # a kind without a label (tests/test_rough_edges.py guards that none lacks one)


def record(
    r,
    group: str,
    who: str,
    what: str,
    why: str,
    undo: list[dict],
    *,
    at: float | None = None,
    id: str = "",
    target: str = "",
    undoes: str = "",
) -> dict:
    """Append one entry; `r` may be a client or a pipeline inside MULTI (the change's own transaction)."""
    entry = {
        "id": id,
        "who": who,
        "at": int(at if at is not None else time.time()),
        "what": what,
        "why": why,
        "target": target,
        "undo": undo,
    }
    if undoes:
        entry["undoes"] = undoes
    if _VIA.get():
        entry["via"] = _VIA.get()
    r.rpush(keys.audit(group), json.dumps(entry, ensure_ascii=False, separators=(",", ":")))
    r.ltrim(keys.audit(group), -MAX_ENTRIES, -1)
    return entry


def entries(r: redis.Redis, group: str, limit: int | None = None) -> list[dict]:
    """The group's entries, oldest first (the last `limit` when given)."""
    raw = r.lrange(keys.audit(group), -limit if limit else 0, -1)
    out = []
    for item in raw:
        try:
            out.append(json.loads(item))
        except (TypeError, ValueError):
            continue
    for e in out:
        e.setdefault("group", group)
    return out


def undone_ids(items: list[dict]) -> set[str]:
    return {e["undoes"] for e in items if e.get("what") == "undo" and e.get("undoes")}


def last_undoable(items: list[dict], who: str) -> dict | None:
    """`who`'s latest change that can still be undone. Within a group the list order is the order in
    which changes were committed; across groups (a leader of several) the latest time wins."""
    done = undone_ids(items)
    latest: dict[str, dict] = {}
    for e in items:
        if e.get("who") == who and e.get("what") != "undo" and e.get("undo") and e.get("id") not in done:
            latest[e.get("group", "")] = e
    if not latest:
        return None
    return max(latest.values(), key=lambda e: e.get("at", 0))


# --- undo operations ------------------------------------------------------------------------------
# {"op": "hset", key, field, value} {"op": "hdel", key, field} {"op": "setbit", key, offset, value}
# {"op": "sadd"|"srem", key, member} {"op": "set", key, value} {"op": "del", key}
# {"op": "rpush"|"lrem", key, value} {"op": "lpush_all", key, values} {"op": "zadd", key, member, score}
# plus "expect" (see check()).


def apply(p, ops: list[dict]) -> None:
    """Queue the operations on a pipeline (inside MULTI)."""
    for op in ops:
        kind, key = op["op"], op["key"]
        if kind == "hset":
            p.hset(key, op["field"], op["value"])
        elif kind == "hdel":
            p.hdel(key, op["field"])
        elif kind == "setbit":
            p.setbit(key, op["offset"], op["value"])
        elif kind == "sadd":
            p.sadd(key, op["member"])
        elif kind == "srem":
            p.srem(key, op["member"])
        elif kind == "set":
            p.set(key, op["value"])
        elif kind == "del":
            p.delete(key)
        elif kind == "rpush":
            p.rpush(key, op["value"])
        elif kind == "lrem":
            p.lrem(key, 1, op["value"])
        elif kind == "zadd":
            p.zadd(key, {op["member"]: op["score"]})
        elif kind == "lpush_all":
            if op["values"]:
                p.lpush(key, *reversed(op["values"]))
        else:
            raise ValueError(f"unknown audit op {kind!r}")


def watch_keys(ops: list[dict]) -> list[str]:
    return sorted({op["key"] for op in ops})


def check(p, ops: list[dict]) -> bool:
    """True when every key still holds what the change left behind (`p` in immediate mode)."""
    for op in ops:
        if "expect" not in op:
            continue
        kind, key, want = op["op"], op["key"], op["expect"]
        if kind in ("hset", "hdel"):
            cur = p.hget(key, op["field"])
            if (cur.decode() if cur is not None else None) != want:
                return False
        elif kind == "setbit":
            if p.getbit(key, op["offset"]) != want:
                return False
        elif kind in ("sadd", "srem"):
            if bool(p.sismember(key, op["member"])) != want:
                return False
        elif kind in ("set", "del") and bool(p.exists(key)) != want:
            return False
    return True


def format_entry(e: dict, tz: ZoneInfo, undone: bool = False) -> str:
    when = datetime.fromtimestamp(e.get("at", 0), tz=timezone.utc).astimezone(tz).strftime("%Y-%m-%d %H:%M")
    what = WHAT_CN.get(e.get("what", ""), OTHER_CN)  # never the raw English kind
    target = f"  → {e['target']}" if e.get("target") else ""
    tail = "  (已撤销)" if undone else ""
    if e.get("via") == "console":
        tail += "  [控制台]"
    if e.get("what") == "undo" and e.get("undoes"):
        tail += f"  [撤销 {e['undoes']}]"
    return f"{when}  {e.get('who', '')}  {what}{target}  「{e.get('why', '')}」{tail}"


def lines(r: redis.Redis, group: str, tz: ZoneInfo, limit: int | None = None) -> list[str]:
    items = entries(r, group, limit)
    done = undone_ids(entries(r, group)) if limit else undone_ids(items)
    return [format_entry(e, tz, e.get("id") in done) for e in items]
