"""Links to the leader console (wecom_bot/console/) for the texts leaders read: the digest and the
weekly report end with their group's page. Pure: the public address is BOT_PUBLIC_URL, passed in;
without it there is no page to link to and every function answers None.
"""

from __future__ import annotations

from urllib.parse import quote

CONSOLE_PATH = "/console"


def console_url(public_url: str) -> str | None:
    """The console's home (my groups), or None when BOT_PUBLIC_URL is unset."""
    base = (public_url or "").strip().rstrip("/")
    return f"{base}{CONSOLE_PATH}/" if base else None


def group_page_url(public_url: str, group_key: str) -> str | None:
    """The group's week (`/console/g/<KEY>`), or None when BOT_PUBLIC_URL is unset."""
    home = console_url(public_url)
    return f"{home}g/{quote(group_key.lower(), safe='')}" if home else None


def member_page_url(public_url: str, group_key: str, userid: str) -> str | None:
    """One member's history in the group (`/console/g/<KEY>/m/<userid>`), or None without BOT_PUBLIC_URL."""
    page = group_page_url(public_url, group_key)
    return f"{page}/m/{quote(userid, safe='')}" if page else None
