"""Announcements and one camp's words: <prefix>CHECKIN_KEYWORDS, <prefix>LINK_HOSTS, <prefix>CHAIN_TEMPLATE.

The BOT_ words apply to every group; a group's GROUP_<KEY>_ words apply over them. A list that starts
with `+` adds to what it applies over instead of replacing it; over the built-in words (which live in
handlers.checkin, not here) it is kept as a tuple whose first item is "+", which handlers.checkin reads
as "the built-in ones and these".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.env import Env, csv
from config.model import Settings

_HOST = re.compile(r"^(?:https?://)?[A-Za-z0-9.-]+\.[A-Za-z]{2,}/?$")


@dataclass(frozen=True)
class CampWords:
    """<prefix>CHECKIN_KEYWORDS, <prefix>LINK_HOSTS and <prefix>CHAIN_TEMPLATE as Group holds them."""

    keywords: tuple[str, ...] | None = None
    link_hosts: tuple[str, ...] | None = None
    chain_template: str = ""


def load_camp_words(env: Env, s: Settings) -> None:
    """BOT_NOTICE_ACK_HOURS; the BOT_ words, then each group's GROUP_<KEY>_ words over them."""
    s.notice_ack_hours = env.integer("BOT_NOTICE_ACK_HOURS", 4, 1, 72)
    camp = camp_words(env, "BOT_", CampWords())
    for g in s.groups.values():
        words = camp_words(env, f"GROUP_{g.key.upper()}_", camp)
        g.keywords, g.link_hosts, g.chain_template = words.keywords, words.link_hosts, words.chain_template


def camp_words(env: Env, prefix: str, base: CampWords) -> CampWords:
    """The words under `prefix` over `base`. A list that starts with `+` adds to `base` (or to the
    built-in ones: a leading "+" item, which handlers.checkin resolves) instead of replacing it."""
    return CampWords(
        _keywords(env, prefix + "CHECKIN_KEYWORDS", base.keywords),
        _link_hosts(env, prefix + "LINK_HOSTS", base.link_hosts),
        _chain_template(env, prefix + "CHAIN_TEMPLATE", base.chain_template),
    )


def _keywords(env: Env, name: str, base: tuple[str, ...] | None) -> tuple[str, ...] | None:
    raw = env.get(name)
    if not raw:
        return base
    words = csv(raw.lstrip("+").strip())
    if not words:
        env.problem(
            f"{name}={raw!r}: expected comma-separated words, e.g. 打卡,已更 (start with + to add to the built-in ones)"
        )
        return base
    if raw.startswith("+"):
        return ("+",) + tuple(w for w in (base or ()) if w != "+") + words
    return words


def _link_hosts(env: Env, name: str, base: tuple[str, ...] | None) -> tuple[str, ...] | None:
    raw = env.get(name)
    if not raw:
        return base
    found = csv(raw.lstrip("+").strip())
    if not found or any(not _HOST.match(h) for h in found):
        env.problem(
            f"{name}={raw!r}: expected comma-separated host names, e.g. "
            "xhslink.com,mp.weixin.qq.com (start with + to add to the built-in ones)"
        )
        return base
    if raw.startswith("+"):
        return (base or ("+",)) + found
    return found


def _chain_template(env: Env, name: str, base: str) -> str:
    template = env.get(name) or base
    if len(template) > 60:
        env.problem(f"{name}: at most 60 characters (it is the 例 line of the morning 接龙)")
        template = template[:60]
    return template
