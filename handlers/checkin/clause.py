"""Reading one clause: each check-in keyword in its sentence - mood, day, whose act."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .context import _Context
from .lexicon import (
    _BARE_MAKEUP_RE,
    _BARE_NEG_RE,
    _CLAUSE_RE,
    _CONTRAST_RE,
    _MADE_UP_RE,
    _MAKEUP_RE,
    _NOUN_AFTER_RE,
    _PAST_RE,
)
from .reading import read_keywords
from .spans import _Verdict
from .subject import (
    _BARE_LATER_RE,
)


def _clauses(t: str) -> Iterator[tuple[str, int, int]]:
    """(clause, absolute start, question) for each clause of normalised text t: question is 1 (true)
    when the clause ends with a question mark, 2 for every piece of an alternative question
    ("是6点前还是6点半前？"), else 0 (false)."""
    for m in _CLAUSE_RE.finditer(t):
        body, delim = m.group(1), m.group(2)
        if not body and not delim:
            continue
        question = "?" in delim
        start = m.start(1)
        pieces = []
        last = 0
        alternative = False
        for cm in _CONTRAST_RE.finditer(body):
            pieces.append((body[last : cm.start()], start + last))
            last = cm.end()
            alternative = alternative or cm.group(0) == "还是"
        pieces.append((body[last:], start + last))
        tail = body.rstrip()
        alt_q = alternative and (question or tail.endswith(("呀", "呢", "吗", "啊")))
        for i, (piece, at) in enumerate(pieces):
            if piece.strip():
                yield piece, at, 2 if alt_q else (question and i == len(pieces) - 1)


def _analyse_clause(c: str, at: int, q_end: int, kw_re: re.Pattern[str], ctx: _Context) -> _Verdict | None:
    """The verdict on one clause: its keywords read where they stand (handlers/checkin/reading.py), or
    without a keyword a 补卡 request, a negation or a "later" all the same; None when it says nothing."""
    # (a keyword ending in a measure word, "发了篇", is followed by the noun it counts: no noun use)
    found_all = [m for m in kw_re.finditer(c) if m.group(0)[-1] in "篇条" or not _NOUN_AFTER_RE.match(c, m.end())]
    # a check-in word decides; "done" sentences count only in a clause without one
    words = [m for m in found_all if m.lastgroup != "done"] or found_all
    if not words:
        return _bare_verdict(c)
    if not ctx.ready:
        ctx.fill()
    makeup = _MAKEUP_RE.search(c)
    if makeup and not (_MADE_UP_RE.search(c) and not _PAST_RE.search(c)):
        return _Verdict("neg", f"makeup: {c[makeup.start() : makeup.end() + 2].strip()}", "makeup")
    return read_keywords(c, at, q_end, words, ctx)


def _bare_verdict(c: str) -> _Verdict | None:
    """No keyword, but "补卡" is a 补卡 request and "还没更" a negation all the same."""
    bare = _BARE_MAKEUP_RE.search(c)
    if bare:
        return _Verdict("neg", f"makeup: {bare.group(0)}", "makeup")
    bare = _BARE_NEG_RE.search(c)
    if bare:
        return _Verdict("neg", f"negated: {bare.group(0)}", "negated")
    bare = _BARE_LATER_RE.search(c)
    if bare:
        return _Verdict("neg", f"later: {bare.group(0)}", "later")
    return None
