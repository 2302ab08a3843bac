"""Members learnt from their posts are confirmed to the group's leaders once.

A post from someone who is not in GROUP_<KEY>_MEMBERS adds them to the roster (the register counts
them from their first check-in). The leaders are told once per person, so that a stranger or a
colleague who dropped by can be taken off with one `移除`. The message is posted with an id fixed by
the group and the people in it before they are marked as confirmed: a batch processed again finds
them confirmed, or finds its message already in the outbox.
"""

from __future__ import annotations

import hashlib

import redis

from config.settings import Settings
from handlers import messages
from workers import keys, outbound


def confirm(r: redis.Redis, settings: Settings, learnt: dict[str, dict[str, str]]) -> int:
    """`learnt`: group key -> userid -> display name, as seen in one batch. Returns people announced."""
    candidates: list[tuple[str, str, str]] = []
    for gkey, people in learnt.items():
        group = settings.groups.get(gkey)
        if group is None:
            continue
        staff = set(group.members) | set(group.leaders) | set(settings.admins)
        candidates += [(gkey, uid, name) for uid, name in sorted(people.items()) if uid not in staff]
    if not candidates:
        return 0
    with r.pipeline(transaction=False) as p:
        for gkey, uid, _ in candidates:
            p.sismember(keys.confirmed(gkey), uid)
            p.sismember(keys.removed(gkey), uid)
        flags = p.execute()
    fresh: dict[str, list[tuple[str, str]]] = {}
    for i, (gkey, uid, name) in enumerate(candidates):
        if not flags[2 * i] and not flags[2 * i + 1]:
            fresh.setdefault(gkey, []).append((uid, name))
    if not fresh:
        return 0
    msgs = []
    for gkey, newcomers in fresh.items():
        group = settings.groups[gkey]
        to = settings.leaders_of(group)
        if not to:
            continue
        digest = hashlib.sha1(",".join(uid for uid, _ in newcomers).encode()).hexdigest()[:12]
        msgs.append(messages.to_users(f"newcomer:{gkey}:{digest}", to, text(group.display, newcomers, gkey)))
    outbound.post_many(r, msgs)
    with r.pipeline(transaction=False) as p:
        for gkey, newcomers in fresh.items():
            p.sadd(keys.confirmed(gkey), *[uid for uid, _ in newcomers])
        p.execute()
    return sum(len(p) for p in fresh.values())


def text(group_name: str, people: list[tuple[str, str]], gkey: str) -> str:
    who = "、".join(f"{name}（{uid}）" if name and name != uid else uid for uid, name in people)
    first = people[0][0]
    return (
        f"🆕「{group_name}」来了新伙伴：{who}，已加进名单，打卡会照常记录。\n"
        f"不是本组学员的话，回我「移除 {first} {gkey}」就好～"
    )
