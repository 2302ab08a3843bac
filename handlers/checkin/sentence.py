"""Reading a whole post: clauses, the today's make-up, and how clause verdicts add up."""

from __future__ import annotations

import re

from .clause import _analyse_clause, _clauses
from .context import _Context
from .lexicon import _NEUTRAL_RE, _PAST_RE, _PROXY_RE, _keyword_re
from .normalize import _normalize
from .spans import _blank, _is_ack, _Verdict
from .subject import _CLOCK_RE, _DONE_EVIDENCE_RE, _Q_MARK_RE, _QUOTED_RE, _TODAY_MAKEUP_RE

NO_KEYWORD = "no keyword"  # the reading's answer when no clause held a check-in word or a done sentence


def _core(t: str) -> str:
    """Letters and digits only (emoji, punctuation and spaces dropped)."""
    return _NOT_CORE_RE.sub("", t)


_NOT_CORE_RE = re.compile(r"[\W_]+")


# a capitalised Latin given name followed by what a subject is followed by ("Lily 今天5点就起了", "Kevin 刚提交"):
# marked as a name (@) before case is folded
_LATIN_NAME_RE = re.compile(r"(?<![A-Za-z@])[A-Z][a-z]{1,9}(?=\s*(?:的|已|也|今|连|每|还|又|都|就|说|太|真|比|刚|早))")


def _analyse(body: str, keywords: tuple[str, ...] | None) -> _Verdict:
    """Keyword analysis of a message body (mentions stripped, quote cut, URLs removed)."""
    if body.lower() != body:  # capital letters: maybe a Latin name
        body = _LATIN_NAME_RE.sub(r"@\g<0>", body)
    t = _normalize(body).strip()
    if not t:
        return _Verdict("neg", "empty", "empty")
    kw_re = _keyword_re(keywords)
    core = _core(t)
    if not core and not kw_re.search(t):
        return _Verdict("neg", "emoji only", "emoji")
    if core and _is_ack(core):
        return _Verdict("neg", "acknowledgement", "ack")
    t = _blank(_NEUTRAL_RE, _CLOCK_RE.sub("点", t))
    if "《" in t or "「" in t or "“" in t or '"' in t or "'" in t:
        t = _blank(_QUOTED_RE, t)
    ctx = _Context(text=t)
    mk = _TODAY_MAKEUP_RE.search(t)
    line_end = t.find("\n", mk.end()) if mk else -1
    if (
        mk
        and not _PAST_RE.search(t, t.rfind("\n", 0, mk.start()) + 1, line_end if line_end >= 0 else len(t))
        and not _Q_MARK_RE.search(t, mk.end(), mk.end() + 8)
        and not _PROXY_RE.search(t, max(0, mk.start() - 8), mk.start())
    ):
        return _Verdict("pos", f"today's make-up: {mk.group(0).strip()}", "makeup_today")
    first_neg: _Verdict | None = None
    weak: _Verdict | None = None
    done: _Verdict | None = None
    unsure: _Verdict | None = None
    cats: set[str] = set()
    for clause, at, q_end in _clauses(t):
        v = _analyse_clause(clause, at, q_end, kw_re, ctx)
        ctx.prev_at = at
        if v is None:
            continue
        if v.status == "pos":
            if v.category == "weak":
                weak = weak or v
            elif v.category == "done":
                done = done or v
            else:
                return v
        elif v.category == "unsure":
            unsure = unsure or v
        else:
            cats.add(v.category)
            first_neg = first_neg or v
    # a day count ("今天是第21天了，大家一起坚持，记得打卡") and a done sentence ("线稿画完了，明天再打卡") are
    # weaker evidence than a check-in word: a reminder, rule, plan, negation or someone else's act outweighs them
    if done and not cats & {"negated", "later", "other", "rule", "makeup", "past", "proxy"}:
        if not _DONE_EVIDENCE_RE.search(t):  # "看完了" alone: done, but what, and when?
            return _Verdict("neutral", f"unsure, {done.reason}", "unsure")
        return done
    if weak and not cats & {"reminder", "rule", "other", "later", "question"}:
        return weak
    return first_neg or unsure or _Verdict("neutral", NO_KEYWORD)
