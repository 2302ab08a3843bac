"""接龙 chains: which entries of a chain credit whom."""

from __future__ import annotations

from typing import NamedTuple

from ..chain import Chain, ChainEntry
from .links import find_note_links
from .model import Credit, Detection
from .normalize import _fold

# ---------------------------------------------------------------------------------------------------
# chains


def _exact(s: str) -> str:
    return " ".join((s or "").split()).lstrip("@＠")


def _entry_line(entry: ChainEntry) -> str:
    first = entry.content.split("\n", 1)[0] if entry.content else ""
    return f"{entry.name} {first}".strip()


def _starts_with_name(line: str, name: str) -> bool:
    """The entry line is the name, or starts with it followed by a space (names may hold spaces)."""
    return bool(name) and (line == name or (line.startswith(name) and line[len(name)] == " "))


def _links_of(entry: ChainEntry, hosts: tuple[str, ...]) -> tuple[str, ...]:
    return find_note_links(f"{entry.name} {entry.content}", hosts)


class _KnownName(NamedTuple):
    forms: tuple[str, str]  # (exact form, folded form)
    userid: str | None  # None: a name several members share


class _Names:
    """Known names prepared for matching; a name several members share has userid None."""

    def __init__(self, members: dict[str, str], shared: dict[str, tuple[str, ...]] | None = None):
        self.items = [_KnownName((_exact(n), _fold(n)), u) for n, u in members.items() if n and n.strip()]
        self.items += [_KnownName((_exact(n), _fold(n)), None) for n in (shared or {}) if n and n.strip()]


def _resolve_member(entry: ChainEntry, names: _Names) -> tuple[str, str] | None:
    """(userid, name as written) of the known member an entry names: exact (longest name) first, then
    case-insensitive; None when unknown or ambiguous; ("", the shared name) when the name is one
    that several members share."""
    raw_line = _entry_line(entry)
    for form, line in ((0, _exact(raw_line)), (1, _fold(raw_line))):
        hits = [
            (len(item.forms[form]), item.userid, len(item.forms[0].split()))
            for item in names.items
            if _starts_with_name(line, item.forms[form])
        ]
        if not hits:
            continue
        best = max(h[0] for h in hits)
        found = {(u, words) for length, u, words in hits if length == best}
        if None in {u for u, _ in found}:
            shared = next(
                item.forms[0]
                for item in names.items
                if item.userid is None and len(item.forms[form]) == best and _starts_with_name(line, item.forms[form])
            )
            return "", shared
        known = {(u, words) for u, words in found if u is not None}
        if len({u for u, _ in known}) != 1:
            return None  # two members fit equally well
        uid, words = known.pop()
        return uid, " ".join(raw_line.split()[:words])  # "Momo Li", not just "Momo"
    return None


def _sender_entry(
    chain: Chain, sender_name: str, sender_userid: str, members: dict[str, str]
) -> tuple[ChainEntry | None, str]:
    """The sender's own entry and how it was found (or why not)."""
    mine_raw = [sender_name] if sender_name and sender_name.strip() else []
    if sender_userid:
        mine_raw += [n for n, u in members.items() if u == sender_userid and n.strip()]
    mine = [(_exact(n), _fold(n)) for n in mine_raw]
    mine_exact = {m[0] for m in mine}
    others = [
        (_exact(n), _fold(n))
        for n, u in members.items()
        if n.strip() and u != sender_userid and _exact(n) not in mine_exact
    ]
    lines = [(_exact(_entry_line(e)), _fold(_entry_line(e))) for e in chain.entries]

    for form, how in ((0, "exact"), (1, "case-insensitive")):
        hits = []
        for entry, line in zip(chain.entries, lines, strict=True):
            best_mine = max((len(m[form]) for m in mine if _starts_with_name(line[form], m[form])), default=-1)
            if best_mine < 0:
                continue
            if any(len(o[form]) > best_mine and _starts_with_name(line[form], o[form]) for o in others):
                continue  # "Momo Li 已更" belongs to the member "Momo Li", not to "Momo"
            hits.append(entry)
        if hits:
            return hits[-1], how  # a person's last entry wins
    if sender_userid:
        uid = _fold(sender_userid)
        hits = [e for e in chain.entries if _fold(e.name) == uid]
        if hits:
            return hits[-1], "userid"
    # containment: unambiguous only, never an entry that names another known member
    keys = [m[1] for m in mine if m[1]]
    hits = []
    for entry, line in zip(chain.entries, lines, strict=True):
        en = _fold(entry.name)
        if not en or any(_starts_with_name(line[1], o[1]) for o in others):
            continue
        if any(min(len(en), len(k)) >= 2 and (en in k or k in en) for k in keys):
            hits.append(entry)
    if len(hits) == 1:
        return hits[0], "name contains"
    if len(hits) > 1:
        return None, "ambiguous own entry"
    return None, "no own entry"


def _chain_detection(
    chain: Chain,
    *,
    sender_userid: str,
    sender_name: str,
    sender_is_leader: bool,
    members: dict[str, str],
    hosts: tuple[str, ...],
    addressed: bool,
    shared: dict[str, tuple[str, ...]] | None = None,
) -> Detection:
    if sender_is_leader:
        last: dict[str, tuple[ChainEntry, str]] = {}
        order: list[str] = []
        unclear: dict[str, tuple[str, ...]] = {}
        shared = shared or {}
        names = _Names(members, shared)
        for entry in chain.entries:
            found = _resolve_member(entry, names)
            if found is None:
                continue
            uid, written = found
            if not uid:
                if entry.done:
                    unclear[written] = tuple(shared[written])
                continue
            if uid not in last:
                order.append(uid)
            last[uid] = (entry, written)  # the last entry of a person wins
        credits = tuple(Credit(last[u][1], u, _links_of(last[u][0], hosts)) for u in order if last[u][0].done)
        why = f"chain by leader: {len(credits)} credited" + (f", {len(unclear)} unclear" if unclear else "")
        return Detection("chain", credits, why, addressed, tuple(unclear.items()))
    own, how = _sender_entry(chain, sender_name, sender_userid, members)
    if own is None:
        return Detection("chain", (), f"chain: {how}", addressed)
    if not own.done:
        return Detection("chain", (), f"chain: own entry not done ({how})", addressed)
    credit = Credit(None, sender_userid or None, _links_of(own, hosts))
    return Detection("chain", (credit,), f"chain: own entry ({how})", addressed)
