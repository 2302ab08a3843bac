"""What members type, made safe to store and echo. No I/O.

A display name or a post may carry control characters and bidi overrides (U+202E turns the rest of a
line around: `小鹿\u202e` makes the register read backwards, and can make a link look like another);
names may be thousands of characters long. Everything the bot keeps or repeats goes through here once,
when a worker first reads the event (workers/ingest.py).
"""

from __future__ import annotations

import unicodedata

NAME_MAX = 32  # characters of a display name we keep

# bidi embeddings, overrides and isolates, and the marks that steer them
_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C], None)
# C0/C1 controls but line breaks and tabs; DEL
_CONTROLS = dict.fromkeys([c for c in (*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x09, 0x0A)], None)
_STRIP = {**_BIDI, **_CONTROLS}
_ONE_LINE = {**_STRIP, 0x09: " ", 0x0A: " ", 0x0D: None}


def clean_text(text: str) -> str:
    """A post's text without bidi controls and control characters (line breaks and tabs stay; a CR
    before a line break goes, a lone CR becomes one)."""
    if not text:
        return text or ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.isascii() and text.isprintable():
        return text
    return text.translate(_STRIP)


def clean_name(name: str) -> str:
    """A display name on one line, without bidi or control characters, at most NAME_MAX characters."""
    if not name:
        return name or ""
    name = " ".join(name.translate(_ONE_LINE).split())
    if len(name) > NAME_MAX:
        name = name[:NAME_MAX]
        if unicodedata.category(name[-1]) == "Cs":  # never cut a surrogate pair in half
            name = name[:-1]
    return name
