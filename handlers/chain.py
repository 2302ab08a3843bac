"""接龙 chains: parse the chain text members re-post, render the morning chain the bot sends.

Pure functions, no I/O. The format is the one WeCom groups use by hand or with the built-in 接龙:

    #接龙                      header (#接龙 / #接龍 / #Group Note, any case), maybe after an @mention
    11月24日 更文打卡           topic lines
    例 名字 已更/未更 笔记链接    optional template line, never an entry

    1. 小鹿 已更 http://xhslink.com/a/Qw12Er
    2. 阿青 已更 第5天
       (an unnumbered line continues the entry above)
    3 Momo 已更                entry separators: . ． 、 ) ） 。 : ： or just a space

A quote of another message comes after a separator line (``- - - -`` or ``------``); everything from
that line on is ignored, so quoting a chain never counts as posting one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

__all__ = [
    "ChainEntry",
    "Chain",
    "parse_chain",
    "render_chain",
    "cut_quote",
    "strip_mentions",
    "is_quote_separator",
    "CHAIN_HEADER",
]

CHAIN_HEADER = "#接龙"

# Text past this many characters is not looked at (inbound bodies are capped far below this anyway).
MAX_TEXT = 20_000

_HSPACE = " \t\u3000\u2005\u00a0"
_DASHES = "-－‐‑–"  # ASCII hyphen, full-width hyphen, hyphen, non-breaking hyphen, en dash

_HEADER_RE = re.compile(r"[#＃][ \t\u3000]*(?:接龙|接龍|group[ \t\u3000]*note)", re.IGNORECASE)
_TEMPLATE_RE = re.compile(r"[ \t\u3000]*例(?:如|子)?(?:[ \t\u3000]*[:：][ \t\u3000]*|[ \t\u3000]+)(.*)\Z")
# number, then either a separator (and optional spaces) or at least one space, then the rest
# ("1.5倍" and "21:00前" are not entries: a dot or colon followed by a digit is a number, not a separator)
_ENTRY_RE = re.compile(
    r"[ \t\u3000]*(\d{1,4})(?:[ \t\u3000]*([.．:：](?!\d)|[、)）。])|(?=[ \t\u3000]))[ \t\u3000]*(.*)\Z"
)
# status words glued to a name without a space: "小鹿已更"
_GLUED_STATUS_RE = re.compile(
    r"已更|未更|没更|沒更|已打卡|未打卡|打卡|已完成|未完成|完成|请假|請假|已发|已發|https?://"
)
_NOT_DONE_RE = re.compile(
    r"未(?:更|完成|打卡|打|发|發|交|做|写|寫)|没有?(?:更|打卡|打|发|發|交|做|写|寫)|沒有?(?:更|打卡|打|發|交|做|寫)"
    r"|还没|還沒|不更|停更|断更|斷更|缺卡|待更|请假|請假|[❌✗✘]"
)


@dataclass(frozen=True)
class ChainEntry:
    number: int
    name: str
    content: str  # rest of the entry (may span continuation lines)
    done: bool  # False when marked 未更 / 未完成 / 没更 / 未打卡 / 请假 etc.


@dataclass(frozen=True)
class Chain:
    header: str  # e.g. "#接龙"
    topic: list[str]  # topic lines between header and entries (excluding 例 line)
    template: str | None  # the `例 …` line content if any
    entries: tuple[ChainEntry, ...]


def is_quote_separator(line: str) -> bool:
    """True for WeCom's quote marker line: only dashes (at least 4) and spaces, e.g. ``- - - -``."""
    dashes = 0
    for ch in line:
        if ch in _DASHES:
            dashes += 1
        elif not ch.isspace():
            return False
    return dashes >= 4


def cut_quote(text: str) -> str:
    """The text before the first quote separator line (the whole text when there is none)."""
    if not text:
        return ""
    text = text[:MAX_TEXT].replace("\r\n", "\n").replace("\r", "\n")
    if "-" not in text and "－" not in text and "–" not in text and "‐" not in text and "‑" not in text:
        return text
    out = []
    for line in text.split("\n"):
        if is_quote_separator(line):
            break
        out.append(line)
    return "\n".join(out)


def _is_mention_token(tok: str) -> bool:
    return len(tok) >= 2 and tok[0] in "@＠"


@lru_cache(maxsize=4096)  # the router's handlers each ask it of the same post
def strip_mentions(text: str) -> str:
    """Remove leading and trailing ``@名字`` mentions; return the rest, stripped.

    A mention is a whitespace-delimited token starting with ``@`` (WeCom puts a U+2005 space after it).
    Mentions in the middle of the text are kept. Linear time; no regular expression.
    """
    if not text:
        return ""
    s = text.strip()
    n = len(s)
    start, end = 0, n
    # leading mentions
    while start < end and s[start] in "@＠":
        j = start + 1
        while j < end and not s[j].isspace():
            j += 1
        if j - start < 2:
            break
        start = j
        while start < end and s[start].isspace():
            start += 1
    # trailing mentions
    while start < end:
        j = end - 1
        while j >= start and not s[j].isspace():
            j -= 1
        tok_start = j + 1
        if not _is_mention_token(s[tok_start:end]):
            break
        end = tok_start
        while end > start and s[end - 1].isspace():
            end -= 1
    return s[start:end].strip()


def _nfkc(s: str) -> str:
    return unicodedata.normalize("NFKC", s)


def _find_header(line: str) -> tuple[str, str] | None:
    """(header as written, rest of the line) when the line is a chain header, else None."""
    m = _HEADER_RE.search(line)
    if not m:
        return None
    before = line[: m.start()]
    # only @mentions may come before the header ("@打卡助手 #接龙", even "@打卡助手#接龙")
    if any(tok[0] not in "@＠" for tok in before.split()):
        return None
    rest = strip_mentions(line[m.end() :])
    return m.group(0), rest


class _EntryLine(NamedTuple):
    """A line that looks like an entry: `3. Momo 已更` -> (3, True, "Momo 已更")."""

    number: int
    had_separator: bool
    rest: str


def _entry_match(line: str) -> _EntryLine | None:
    """The entry-like reading of a line, else None."""
    m = _ENTRY_RE.match(line)
    if not m:
        return None
    return _EntryLine(int(m.group(1)), m.group(2) is not None, (m.group(3) or "").strip())


def _split_name(rest: str) -> tuple[str, str]:
    parts = rest.split(None, 1)
    name = parts[0].lstrip("@＠") if parts else ""
    content = parts[1].strip() if len(parts) > 1 else ""
    if not name and content:  # "1. @ 小鹿" - a lone @
        return _split_name(content)
    m = _GLUED_STATUS_RE.search(name)
    if m and m.start() >= 1:
        glued = name[m.start() :]
        name = name[: m.start()]
        content = f"{glued} {content}".strip() if content else glued
    return name, content


def _is_done(name: str, content: str) -> bool:
    return not _NOT_DONE_RE.search(_nfkc(f"{name} {content}"))


@dataclass
class _Draft:
    """The entry being read: its number and name, and its content lines so far."""

    number: int
    name: str
    lines: list[str] = field(default_factory=list)

    def entry(self) -> ChainEntry:
        content = "\n".join(x for x in self.lines if x)
        return ChainEntry(self.number, self.name, content, _is_done(self.name, content))


def parse_chain(text: str) -> Chain | None:
    """Parse a 接龙 chain; None when the text is not one.

    The header must be the first non-empty line (an @mention before it on that line is fine).
    Entries start after the template line when there is one, at the first line numbered 1 otherwise
    (or the first numbered line when none is numbered 1). After the first entry a numbered line starts a
    new entry when its number follows on (same number up to +3 with a separator, exactly +1 without
    one); every other non-empty line continues the current entry.
    """
    if not text or not isinstance(text, str):
        return None
    found = _header_and_body(cut_quote(text).split("\n"))
    if found is None:
        return None
    header, body = found
    parsed = [_entry_match(line) for line in body]
    template, template_at = _find_template(body, parsed)
    first = _first_entry(parsed, template_at + 1)
    topic_end = first if first >= 0 else len(body)
    topic = [ln.strip() for i, ln in enumerate(body[:topic_end]) if ln.strip() and i != template_at]
    entries = _read_entries(body, parsed, first) if first >= 0 else []
    return Chain(header=header, topic=topic, template=template, entries=tuple(entries))


def _header_and_body(lines: list[str]) -> tuple[str, list[str]] | None:
    """(header as written, the lines after it) when the first line with words is a chain header (the
    rest of the header's line is the body's first line), else None."""
    for idx, line in enumerate(lines):
        if not line.strip():
            continue
        found = _find_header(line)
        if found is not None:
            header, rest_of_header = found
            body = lines[idx + 1 :]
            return header, [rest_of_header, *body] if rest_of_header else body
        if strip_mentions(line):
            return None  # the first line with words in it: no header
        # only @mentions ("@打卡助手" on a line of its own): look further
    return None


def _find_template(body: list[str], parsed: list[_EntryLine | None]) -> tuple[str | None, int]:
    """(the `例 …` line's content, its index) of the first template line, else (None, -1). An entry-like
    line before it does not end the search (a topic line "1. 规则")."""
    for i, line in enumerate(body):
        if parsed[i] is not None:
            continue
        tm = _TEMPLATE_RE.match(line)
        if tm:
            return tm.group(1).strip(), i
    return None, -1


def _first_entry(parsed: list[_EntryLine | None], start: int) -> int:
    """Index of the first entry from `start`: the first line numbered 1, else the first numbered line;
    -1 without one."""
    numbered = [(i, line) for i, line in enumerate(parsed) if i >= start and line is not None]
    return next((i for i, line in numbered if line.number == 1), numbered[0][0] if numbered else -1)


def _starts_entry(line: _EntryLine | None, prev: int | None) -> bool:
    """Whether a line starts a new entry after the entry numbered `prev` (None: the first entry)."""
    if line is None:
        return False
    if prev is None:
        return True
    if line.had_separator:
        return prev <= line.number <= prev + 3
    return line.number == prev + 1


def _read_entries(body: list[str], parsed: list[_EntryLine | None], first: int) -> list[ChainEntry]:
    """The entries from body[first] on; a numbered line without a name starts an entry that is dropped,
    with the lines that continue it."""
    entries: list[ChainEntry] = []
    current: _Draft | None = None
    prev: int | None = None
    for line, pm in zip(body[first:], parsed[first:], strict=True):
        if pm is not None and _starts_entry(pm, prev):
            if current is not None:
                entries.append(current.entry())
            prev = pm.number
            name, content = _split_name(pm.rest)
            current = _Draft(pm.number, name, [content]) if name else None
            continue
        stripped = line.strip()
        if not stripped or _TEMPLATE_RE.match(line):
            continue
        if current is not None:
            current.lines.append(stripped)
    if current is not None:
        entries.append(current.entry())
    return entries


def render_chain(topic_lines: list[str], template: str | None, entries: list[tuple[str, str]]) -> str:
    """The morning chain post, in exactly the format parse_chain reads back.

    ``#接龙``, the topic lines, ``例 <template>`` when given, a blank line, then ``N. 名字 内容``.
    A name should be one word (no spaces) for the entry to read back with the same name.
    """
    out = [CHAIN_HEADER]
    for line in topic_lines or ():
        for part in str(line).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            if part.strip():
                out.append(part.strip())
    if template is not None:
        out.append(f"例 {template.strip()}")
    if entries:
        out.append("")
        for i, (name, content) in enumerate(entries, 1):
            content = (content or "").replace("\r\n", "\n").replace("\r", "\n").strip()
            out.append(f"{i}. {name.strip()} {content}".rstrip())
    return "\n".join(out)
