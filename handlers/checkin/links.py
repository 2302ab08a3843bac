"""Note links (小红书 and per-camp hosts): finding them in a post."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from ..chain import MAX_TEXT
from .model import DEFAULT_LINK_HOSTS

# ---------------------------------------------------------------------------------------------------
# note links

_URL_RUN_RE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_SCHEME_SPLIT_RE = re.compile(r"(?=https?://)", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*"


def _host_matches(host: str, hosts: tuple[str, ...]) -> bool:
    return any(host == h or host.endswith("." + h) for h in hosts)


_PAIRS = {")": "(", "]": "["}


def _trim_url(u: str) -> str:
    """Trailing punctuation off, and a closing bracket that the URL did not open. Linear: the brackets
    are counted once (a URL ending in 10,000 `)` must not cost 10,000 recounts)."""
    opened = {c: u.count(o) for c, o in _PAIRS.items()}
    closed = {c: u.count(c) for c in _PAIRS}
    end = len(u)
    while end:
        ch = u[end - 1]
        if ch in _TRAILING:
            end -= 1
        elif ch in _PAIRS and opened[ch] < closed[ch]:
            closed[ch] -= 1
            end -= 1
        else:
            break
    return u[:end]


def _links_in(text: str, hosts: tuple[str, ...]) -> tuple[list[str], list[tuple[int, int]]]:
    """(note links, spans of every URL-looking run) in NFKC text."""
    links: list[str] = []
    seen: set[str] = set()
    spans: list[tuple[int, int]] = []
    for run in _URL_RUN_RE.finditer(text):
        r = run.group(0)
        if "." not in r:
            continue
        is_url = False
        for part in _SCHEME_SPLIT_RE.split(r):
            if not part:
                continue
            low = part.lower()
            if low.startswith(("http://", "https://")):
                is_url = True
                rest = part.split("://", 1)[1]
                authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
                host = authority.rsplit("@", 1)[-1].split(":", 1)[0].lower().rstrip(".")
                candidate = part
            else:
                stripped = part.lstrip("-._~:/?#[]@!$&'()*+,;=%")
                slash = re.search(r"[/?#]", stripped)
                if not slash:
                    continue
                host = stripped[: slash.start()].split(":", 1)[0].lower().rstrip(".")
                candidate = stripped
                if not _host_matches(host, hosts):
                    continue
                is_url = True
            if host and _host_matches(host, hosts):
                link = _trim_url(candidate)
                if link and link not in seen:
                    seen.add(link)
                    links.append(link)
        if is_url:
            spans.append(run.span())
    return links, spans


def note_link_hosts(link_hosts: Sequence[str] | None) -> tuple[str, ...]:
    """The hosts whose links are note links, normalised (no scheme, path or www.): DEFAULT_LINK_HOSTS
    for None; for a list that starts with "+" (`BOT_LINK_HOSTS=+mp.weixin.qq.com`, as config keeps
    it) DEFAULT_LINK_HOSTS and the rest; any other list on its own."""
    if link_hosts is None:
        return DEFAULT_LINK_HOSTS
    if link_hosts and link_hosts[0] == "+":
        link_hosts = DEFAULT_LINK_HOSTS + tuple(link_hosts[1:])
    out: list[str] = []
    for h in link_hosts:
        h = (h or "").strip().lower()
        if "://" in h:
            h = h.split("://", 1)[1]
        h = h.split("/", 1)[0].strip(".")
        if h.startswith("www."):
            h = h[4:]
        if h and h not in out:
            out.append(h)
    return tuple(out)


def find_note_links(text: str, link_hosts: Sequence[str] | None = None) -> tuple[str, ...]:
    """Note links (URLs on the 小红书 hosts, or on link_hosts as note_link_hosts reads them) in the order
    they appear."""
    if not text:
        return ()
    links, _ = _links_in(unicodedata.normalize("NFKC", text[:MAX_TEXT]), note_link_hosts(link_hosts))
    return tuple(links)
