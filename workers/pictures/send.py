"""The pictures that go with the texts: rendered by the worker at most once per slot and group (the
PNG cached in Redis, keys.picture, for the send's retries), sent as image messages after their text.

Hooks, each returning outbound messages (empty when there is no CJK font, or when drawing failed:
a picture never costs the text it goes with):
- `summary(...)`: the weekend review's week wall in the group, the register to each leader;
- `month(...)`: `我的`'s month calendar, privately;
- `overview(...)`: the admins' chart of each group's completion rate over the weeks.
Badges are workers/pictures/badges.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date

import redis

from config.settings import Group, Settings, get_settings
from handlers import messages
from handlers import weekly as hw
from handlers.calendar import day_index, day_of, week_start
from handlers.messages import Message
from workers import keys, outbound
from workers.connection import get_redis
from workers.pictures import charts, data, fonts, wall
from workers.pictures import month as month_render
from workers.pictures.canvas import Picture
from workers.register import MemberState, load_members
from workers.sender import IMAGE_LIMIT

log = logging.getLogger(__name__)


def render_once(r: redis.Redis, render_id: str, draw: Callable[[], Picture]) -> str | None:
    """The Redis key holding the picture `render_id`, drawn only if no earlier try of its slot did."""
    key = keys.picture(render_id)
    if r.exists(key):
        return key
    pic = draw()
    if len(pic.png) > IMAGE_LIMIT:
        log.warning("picture %s is %d bytes, over WeCom's 2 MB: sent as text only", render_id, len(pic.png))
        return None
    r.set(key, pic.png, ex=keys.PICTURE_TTL, nx=True)  # NX: a concurrent retry's copy is the same picture
    return key


def _safely(what: str, build: Callable[[], list[Message]]) -> list[Message]:
    try:
        return build()
    except Exception:  # the text goes out regardless; the picture is a bonus
        log.exception("could not draw the %s picture; the text goes without it", what)
        return []


def summary(
    r: redis.Redis, settings: Settings, group: Group, day: int, base_id: str, members: Sequence[hw.MemberWeek]
) -> list[Message]:
    """The week wall for the group and the register for each of its leaders (after their texts)."""
    font = fonts.font_or_log(settings.font_path)
    if font is None or not members:
        return []

    def build() -> list[Message]:
        states = {s.userid: s for s in load_members(r, group)}
        top = settings.top_performers
        wall_key = render_once(
            r, f"{base_id}:wall", lambda: wall.render(data.week_wall(group, day, members, states, top, False), font)
        )
        reg_key = render_once(
            r, f"{base_id}:register", lambda: wall.render(data.week_wall(group, day, members, states, top, True), font)
        )
        out = [messages.image_to_group(f"{base_id}:wall", group.key, wall_key, "week.png")] if wall_key else []
        if reg_key:
            out += [
                messages.image_to_users(f"{base_id}:register:{uid}", [uid], reg_key, "register.png")
                for uid in settings.leaders_of(group)
            ]
        return out

    return _safely("weekly", build)


def month(
    r: redis.Redis, settings: Settings, userid: str, msgid: str, groups: Sequence[Group], ts: float
) -> list[Message]:
    """`我的`: the member's month as a calendar, privately, one per group they are in. Returned as a
    request (handlers.messages.picture_request): drawn by `render_job` once the text has gone."""
    if not groups or fonts.font_or_log(settings.font_path) is None:
        return []
    args = {"msgid": msgid, "groups": [g.key for g in groups], "ts": ts}
    return [messages.picture_request(f"cmd:{msgid}:month", userid, "month", args)]


def render_job(kind: str, userid: str, args: dict) -> int:
    """The RQ job drawing a requested picture and posting it (queue "default", below the inbox and
    the outbox). A retry draws nothing twice (render_once) and posts the same ids (sent once)."""
    r, settings = get_redis(), get_settings()
    if kind != "month":
        raise ValueError(f"unknown picture {kind!r}")
    groups = [g for g in (settings.group(k) for k in args["groups"]) if g is not None]
    msgs = month_messages(r, settings, userid, str(args["msgid"]), groups, float(args["ts"]))
    if msgs:
        outbound.post_many(r, msgs)
    return len(msgs)


def month_messages(
    r: redis.Redis, settings: Settings, userid: str, msgid: str, groups: Sequence[Group], ts: float
) -> list[Message]:
    font = fonts.font_or_log(settings.font_path)
    if font is None:
        return []

    def build() -> list[Message]:
        out = []
        for g in groups:
            state = next((m for m in load_members(r, g) if m.userid == userid), None)
            if state is None:
                continue
            view = data.month_view(g, state, day_of(ts, g.tz))
            render_id = f"cmd:{msgid}:month:{g.key}"
            key = render_once(r, render_id, lambda v=view: month_render.render(v, font))  # type: ignore[misc]
            if key:
                out.append(messages.image_to_users(render_id, [userid], key, "month.png"))
        return out

    return _safely("month", build)


def _first_week(group: Group, states: Sequence[MemberState], week: int) -> int:
    """The group's first week: its camp's, else that of its first check-in."""
    if group.camp_start:
        return week_start(day_index(group.camp_start))
    firsts = [d for s in states if (d := s.days.first) is not None]
    return week_start(min(firsts)) if firsts else week


def overview(r: redis.Redis, settings: Settings, week_iso: str, now: float) -> list[Message]:
    """The admins' camp overview picture: each group's completion rate over the last weeks."""
    font = fonts.font_or_log(settings.font_path)
    if font is None or not settings.admins or not settings.groups:
        return []

    def build() -> list[Message]:
        week = day_index(date.fromisoformat(week_iso))
        rows = []
        for g in settings.groups.values():
            states = load_members(r, g)
            rows.append((g, states, _first_week(g, states, week)))
        today = max(day_of(now, g.tz) for g in settings.groups.values())
        render_id = f"slot:_camp:overview:{week_iso}:trend"
        key = render_once(r, render_id, lambda: charts.render_trend(data.trend(rows, week, today), font))
        if not key:
            return []
        return [messages.image_to_users(f"{render_id}:{uid}", [uid], key, "trend.png") for uid in settings.admins]

    return _safely("trend", build)
