"""What the bot says to a member on its own initiative, in answer to a post that is not a check-in:
the "how to check in" hint, and the question "这条算今天的打卡吗？" where detection is unsure, with the
「是」 that answers it. Kept apart from workers/ingest.py because both are about holding back: a hint
must never cost capacity that check-in replies need, and a question must count its post exactly once.
"""

from __future__ import annotations

import json
import time

import redis

from config.settings import Settings
from handlers.router import AskIfCheckin, Checkin, ConfirmCheckin, Hint
from workers import keys, outbound, replies, scripts

HINT_EVERY = 600  # seconds: at most one "how to check in" hint per member in this time
HINT_HEADROOM = 5  # a hint goes out only while the robot keeps this many sends beyond the reserve


def remember_question(r: redis.Redis, ask: AskIfCheckin) -> None:
    """What a 「是」 within keys.ASK_TTL would count: the asked-about post's day and links."""
    r.set(keys.ask(ask.group, ask.userid), json.dumps({"day": ask.day, "links": list(ask.links)}), ex=keys.ASK_TTL)


def allowed_hints(r: redis.Redis, settings: Settings, hints: list[Hint]) -> list[dict]:
    """The hints of a batch that go out, decided in one round trip by workers/lua/hint.lua: one per
    member per HINT_EVERY, and only from capacity nothing else needs (a member who sends 100
    `@打卡助手 哈哈` must not delay anyone's check-in reply or the group's 接龙). The decision is kept
    per post, so a replayed batch decides the same way whatever the robot's load is then."""
    if not hints:
        return []
    keep = replies.reserve(settings) + HINT_HEADROOM
    decide = scripts.script("hint", r)
    now = time.time()
    with r.pipeline(transaction=False) as p:
        for h in hints:
            ch = outbound.channel_of({"to": "group", "group": h.group}, settings)
            decide(
                keys=[
                    keys.hint_decision(h.msg["id"]),
                    keys.hint_gate(h.group, h.userid),
                    keys.hint_budget(h.group),
                    *ch.rate_keys,
                ],
                args=[repr(now), outbound.WINDOW, ch.limit, keep, h.msg["id"], HINT_EVERY, keys.EFFECT_TTL],
                client=p,
            )
        allowed = p.execute()
    return [h.msg for h, ok in zip(hints, allowed, strict=True) if int(ok)]


def resolve_confirms(r: redis.Redis, planned: list[tuple[str, dict, list]]) -> list[str]:
    """Turn each 「是」 (ConfirmCheckin) into the Checkin of the post the bot asked about, in place;
    a 「是」 with nothing waiting becomes nothing. Returns the ask keys used (deleted once counted).
    A question asked earlier in the same batch counts too, as it would in a batch of its own."""
    wanted = [(i, a) for i, (_, _, actions) in enumerate(planned) for a in actions if isinstance(a, ConfirmCheckin)]
    if not wanted:
        return []
    with r.pipeline(transaction=False) as p:
        for _, a in wanted:
            for g in a.groups:
                p.get(keys.ask(g, a.userid))
        stored = iter(p.execute())
    # `stored` is one iterator over every answer, each ConfirmCheckin taking as many as it has groups
    waiting: dict[tuple[str, str], AskIfCheckin | bytes | None] = {
        (g, a.userid): raw for _, a in wanted for g, raw in zip(a.groups, stored, strict=False)
    }
    used: list[str] = []
    answered: set[int] = set()  # questions of this batch already answered: neither asked nor kept
    for index, (entry_id, event, actions) in enumerate(planned):
        out = []
        for a in actions:
            if isinstance(a, AskIfCheckin):
                waiting[(a.group, a.userid)] = a
            if not isinstance(a, ConfirmCheckin):
                out.append(a)
                continue
            for g in a.groups:
                asked = waiting.get((g, a.userid))
                if not asked:
                    continue
                if isinstance(asked, AskIfCheckin):
                    day, links = asked.day, asked.links
                    answered.add(id(asked))
                else:
                    found = json.loads(asked)
                    day, links = int(found["day"]), tuple(found.get("links") or ())
                out.append(Checkin(g, a.userid, a.name, day, links, reply_to=a.reply_to))
                used.append(keys.ask(g, a.userid))
                waiting[(g, a.userid)] = None
                break
        planned[index] = (entry_id, event, out)
    if answered:
        planned[:] = [(e, ev, [a for a in acts if id(a) not in answered]) for e, ev, acts in planned]
    return used
