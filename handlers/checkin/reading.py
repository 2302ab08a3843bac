"""Reading one check-in word where it stands in its clause: is it asked, a reminder, negated, about
another day or later, a habit, for someone else, a plan, a rule, someone else's act, praise of someone?

`read_keywords` runs the readers below in that order on each keyword of the clause; the first reader
with a verdict decides (a "none" with its reason), and a clause whose keywords all pass is a check-in.
What the readers look at is found once per clause (`_Scan`) and once per keyword (`_Word`).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass

from .context import _Context
from .lexicon import (
    _BARE_DAY_RE,
    _DONE_AFTER_RE,
    _LATER_NEAR_RE,
    _LATER_RE,
    _MODAL_NEAR_RE,
    _NEG_AFTER_RE,
    _NEG_BU_RE,
    _NEG_FAR_RE,
    _NEG_NEAR_RE,
    _PAST_RE,
    _PROXY_RE,
    _Q_SUFFIX_RE,
    _REMIND_NEAR_RE,
    _REMIND_RE,
    _SOFT_LATER_RE,
    _TODAY_RE,
    _WH_AFTER_RE,
    _WH_BEFORE_RE,
)
from .spans import _Spans, _Verdict
from .subject import (
    _BARE_LATER_RE,
    _EN_LATER_AFTER_RE,
    _EN_LATER_BEFORE_RE,
    _EN_PROXY_AFTER_RE,
    _HABIT_RE,
    _IF_RE,
    _IN_TIME_RE,
    _JUST_DONE_RE,
    _NAME_RE,
    _OTHER_RE,
    _PLAN_AFTER_STEP_RE,
    _PLAN_NEAR_RE,
    _REDUP_COMMON,
    _RULE_AFTER_RE,
    _RULE_NEAR_RE,
    _RULE_STEP_RE,
    _SELF_RE,
    _VOCATIVE_END_RE,
    _WEAK_RE,
    _WS_RE,
)

_HURRY = ("赶紧", "赶快", "抓紧")  # hurry words: to others, or to oneself after 我
SUBJECT_REACH = 200  # characters back that a sentence's subject carries over to a clause without one


def _names(c: str) -> _Spans:
    sp = _Spans(_NAME_RE, c)
    keep = [(a, b) for a, b in zip(sp.starts, sp.ends, strict=True) if c[a] != c[a + 1] or c[a] not in _REDUP_COMMON]
    sp.starts = [a for a, _ in keep]
    sp.ends = [b for _, b in keep]
    return sp


def _last_before(spans: _Spans, hi: int) -> int:
    """Start of the last span ending at or before hi, else -1."""
    i = bisect_left(spans.starts, hi) - 1
    while i >= 0:
        if spans.ends[i] <= hi:
            return spans.starts[i]
        i -= 1
    return -1


def _first_end(regex: re.Pattern[str], c: str, start: bool = False) -> int:
    """End (or start) of the first match of regex in c, len(c) + 1 when none: "a match ending by p" is
    first_end <= p, so a keyword loop need not rescan the clause for each keyword."""
    m = regex.search(c)
    return (m.start() if start else m.end() - 1) if m else len(c) + 1


def _other_subject(c: str) -> str:
    """Someone else named last in a clause (its subject for the next clause), else ""."""
    if _VOCATIVE_END_RE.search(c):
        return ""
    o = max(_last_before(_Spans(_OTHER_RE, c), len(c)), _last_before(_names(c), len(c)))
    if o < 0 or _last_before(_Spans(_SELF_RE, c), len(c)) > o:
        return ""
    return c[o : o + 4].strip()


@dataclass
class _Scan:
    """One clause and the words the readers look for in it, each found once."""

    c: str
    at: int  # the clause's start in the whole text
    q_end: int  # 1: the clause ends with a question mark; 2: a piece of an alternative question
    ctx: _Context
    wh: _Spans
    remind: _Spans
    neg_far: _Spans
    past: _Spans
    later: _Spans
    proxy: _Spans
    today: _Spans
    soft_later: _Spans
    selves: _Spans
    others: _Spans
    names: _Spans
    ws: list[int]
    # first positions (len(c) when absent) of words that count wherever they stand before a keyword
    first_in_time: int
    first_if: int
    first_en_later: int
    tail: str

    @classmethod
    def of(cls, c: str, at: int, q_end: int, ctx: _Context) -> _Scan:
        return cls(
            c,
            at,
            q_end,
            ctx,
            wh=_Spans(_WH_BEFORE_RE, c),
            remind=_Spans(_REMIND_RE, c),
            neg_far=_Spans(_NEG_FAR_RE, c),
            past=_Spans(_PAST_RE, c),
            later=_Spans(_LATER_RE, c),
            proxy=_Spans(_PROXY_RE, c),
            today=_Spans(_TODAY_RE, c),
            soft_later=_Spans(_SOFT_LATER_RE, c),
            selves=_Spans(_SELF_RE, c),
            others=_Spans(_OTHER_RE, c),
            names=_names(c),
            ws=[w.start() for w in _WS_RE.finditer(c)],
            first_in_time=_first_end(_IN_TIME_RE, c),
            first_if=_first_end(_IF_RE, c, start=True),
            first_en_later=_first_end(_EN_LATER_BEFORE_RE, c),
            tail=c.rstrip(),
        )


@dataclass
class _Word:
    """One keyword of the clause and what stands right around it."""

    m: re.Match[str]
    p: int  # start
    e: int  # end
    done: bool  # a "done" sentence ("读完了"), not a check-in word
    marked: bool  # said as done: a completion marker right after it, or it ends in 了/啦
    near: str  # the four characters before it, spaces dropped
    before: str  # the six characters before it
    in_time: bool  # "踩点", "还有两分钟": the sender hurries themself
    reset: int  # end of the last "today" word before it: what stands before that is about another time

    @classmethod
    def of(cls, s: _Scan, m: re.Match[str]) -> _Word:
        p, e, c = m.start(), m.end(), s.c
        return cls(
            m,
            p,
            e,
            done=m.lastgroup == "done",
            marked=bool(_DONE_AFTER_RE.match(c, e)) or m.group(0).rstrip()[-1:] in ("了", "啦"),
            near=c[max(0, p - 4) : p].replace(" ", ""),
            before=c[max(0, p - 6) : p],
            in_time=s.ctx.in_time or s.first_in_time < p,
            reset=s.today.last_end_before(p),
        )


def _asked(s: _Scan, w: _Word) -> _Verdict | None:
    c, p, e = s.c, w.p, w.e
    k = bisect_left(s.ws, e)
    seg_end = s.ws[k] if k < len(s.ws) else len(c)
    after_seg = c[e : min(seg_end, e + 12)]
    if (
        s.q_end == 2
        or s.wh.inside(0, p) is not None
        or _WH_AFTER_RE.search(after_seg)
        or _Q_SUFFIX_RE.match(c, e)
        or (s.q_end and (seg_end >= len(s.tail) or (len(c) - e <= 12 and len(c[e:].replace(" ", "")) <= 3)))
        or (0 <= s.ctx.asking_from <= s.at + p and not w.marked)  # "想问一下：打卡是每天发在群里就行吗"
    ):
        return _Verdict("neg", f"question: {c[max(0, p - 4) : e + 3].strip()}", "question")
    return None


def _reminder(s: _Scan, w: _Word) -> _Verdict | None:
    """To others - unless the sender turns to themself after it: "大家都好卷 我也来打个卡"."""
    c, p = s.c, w.p
    r = s.remind.inside(0, p)
    if r is not None and (
        s.selves.inside(r + 1, p) is not None
        or (c[r : r + 2] in _HURRY and (w.in_time or _last_before(s.selves, r) > _last_before(s.others, r)))
    ):
        r = None  # the sender turns to themself, or hurries themself: "我也赶紧打个卡"
    if (
        r is not None
        or (_REMIND_NEAR_RE.search(w.near) and not w.in_time and not w.done)
        or (s.ctx.opener_end and s.at + p >= s.ctx.opener_end)
    ):
        return _Verdict("neg", f"reminder: {c[r if r is not None else max(0, p - 3) : w.e].strip()}", "reminder")
    return None


def _negated(s: _Scan, w: _Word) -> _Verdict | None:
    c, p, e = s.c, w.p, w.e
    near = _NEG_NEAR_RE.search(c, max(0, p - 6, w.reset), p)
    bu = _NEG_BU_RE.search(c, max(0, p - 3, w.reset), p)
    found = [x for x in (near, bu) if x]
    nf = s.neg_far.inside(w.reset, p)
    na = _NEG_AFTER_RE.match(c[e : e + 8].lstrip())
    if found or nf is not None or na:
        start = min([x.start() for x in found] + ([nf] if nf is not None else []) + [p])
        return _Verdict("neg", f"negated: {c[start : e + (5 if na else 0)].strip()}", "negated")
    return None


def _another_time(s: _Scan, w: _Word) -> _Verdict | None:
    """Another day ("昨天的卡"), or later ("晚上再打卡", "估计十点能搞定")."""
    c, p, e = s.c, w.p, w.e
    x = s.past.inside(w.reset, p)
    if x is not None:
        if _BARE_DAY_RE.match(c, x) and w.marked:  # "周日打卡✅": today may be that Sunday - ask
            return _Verdict("neutral", f"unsure, which day: {c[x:e].strip()}", "unsure")
        return _Verdict("neg", f"another day: {c[x:e].strip()}", "past")
    x = s.later.inside(w.reset, p)
    if x is None and not _DONE_AFTER_RE.match(c, e) and not w.done:
        x = s.soft_later.inside(w.reset, p)
    if x is not None or _LATER_NEAR_RE.search(w.near) or (not w.marked and _MODAL_NEAR_RE.search(c, max(0, p - 6), p)):
        return _Verdict("neg", f"later: {c[x if x is not None else max(0, p - 2) : e].strip()}", "later")
    return None


def _habit(s: _Scan, w: _Word) -> _Verdict | None:
    """A habit, not today's act: "我一般6点起", "平时都是晚上打卡"."""
    habit = _HABIT_RE.search(s.c, max(0, w.p - 8), w.p)
    if habit is not None:
        return _Verdict("neg", f"task or rule: habitual: {s.c[habit.start() : w.e].strip()}", "rule")
    return None


def _for_someone_else(s: _Scan, w: _Word) -> _Verdict | None:
    x = s.proxy.inside(0, w.p)
    if x is not None:
        return _Verdict("neg", f"for someone else: {s.c[x : w.e].strip()}", "proxy")
    if _EN_PROXY_AFTER_RE.match(s.c, w.e):
        return _Verdict("neg", f"for someone else: {s.c[w.p : w.e + 16].strip()}", "proxy")
    return None


def _plan(s: _Scan, w: _Word) -> _Verdict | None:
    """A plan or a condition: "再打卡", "然后打卡", "读完来打卡" after a plan, "如果...就打卡", "check in later"."""
    c, p, e = s.c, w.p, w.e
    cond = s.first_if if s.first_if < p else None
    step = _PLAN_AFTER_STEP_RE.search(c[max(0, p - 10) : p]) if not w.done and not w.marked else None
    if step and _JUST_DONE_RE.search(c, max(0, p - 10), p):  # "刚吃完就来打卡": the step is behind us
        step = None
    if (
        _PLAN_NEAR_RE.search(w.before)
        or cond is not None
        or s.first_en_later < p
        or _EN_LATER_AFTER_RE.match(c, e)
        # "读完就打卡", "跑完回来打卡": a step after another act (a connector says so), or after a plan
        or (step and (step.lastindex or s.ctx.condition))
        # "画完了到酒店再发": done, but the act that counts comes later
        or (w.done and _BARE_LATER_RE.search(c, e))
    ):
        start = cond if cond is not None else max(0, p - 3)
        return _Verdict("neg", f"plan or condition: {c[start:e].strip()}", "later")
    return None


def _rule(s: _Scan, w: _Word) -> _Verdict | None:
    """A task description or rule: "打卡说明：... 即可", "发布后打卡", "满21天退押金"."""
    c, p, e = s.c, w.p, w.e
    if (
        (s.ctx.rule_from >= 0 and s.at + p >= s.ctx.rule_from)
        or _RULE_NEAR_RE.search(c, max(0, p - 12), p)
        or (_RULE_STEP_RE.search(w.before) and not _DONE_AFTER_RE.match(c, e))
        or _RULE_AFTER_RE.match(c, e)
    ):
        return _Verdict("neg", f"task or rule: {c[max(0, p - 4) : e].strip()}", "rule")
    return None


def _someone_elses(s: _Scan, w: _Word) -> _Verdict | None:
    """Whose act: the last subject before the keyword in the clause; without one, the subject named
    last in the sentence so far (or in the previous clause) carries over."""
    c, p, e, ctx, at = s.c, w.p, w.e, s.ctx, s.at
    who_other = max(_last_before(s.others, p), _last_before(s.names, p))
    who_self = _last_before(s.selves, p)
    if who_other > who_self:
        return _Verdict("neg", f"someone else: {c[who_other:e].strip()}", "other")
    prev_other = ""
    if who_other < 0 and who_self < 0 and at > 0:
        # within SUBJECT_REACH characters only: a comma-joined post of 20,000 characters must not make
        # every clause rescan everything before it (quadratic)
        reach = max(0, at - SUBJECT_REACH)
        lo = max(reach, max(ctx.text.rfind(ch, reach, at) for ch in "\n.!?;。；") + 1)
        prev_other = _other_subject(ctx.text[max(reach, min(lo, ctx.prev_at)) : at])
    if prev_other:  # "我妈比我还早，5点就起来打卡了"
        return _Verdict("neg", f"someone else: {prev_other} ... {c[max(0, p - 4) : e].strip()}", "other")
    return None


def _praise(s: _Scan, w: _Word) -> _Verdict | None:
    """Praise scopes over what comes before it and its own line ("Kelly 早起打卡一个月 膜拜"), not a
    later line of one's own post ("da卡 今天读了三章 ... 路遥好佩服")."""
    ctx, e = s.ctx, w.e
    pr = ctx.praise
    if (
        _last_before(s.selves, w.p) < 0
        and pr
        and not ctx.self_anywhere
        and (pr.start() < s.at + e or ctx.text.find("\n", s.at + e, pr.start()) < 0)
    ):
        return _Verdict("neg", f"praise of someone else: {s.c[max(0, w.p - 4) : e].strip()}", "other")
    return None


# in this order: the first with a verdict decides
READERS: tuple[Callable[[_Scan, _Word], _Verdict | None], ...] = (
    _asked,
    _reminder,
    _negated,
    _another_time,
    _habit,
    _for_someone_else,
    _plan,
    _rule,
    _someone_elses,
    _praise,
)


MINE_REASON = "keyword, said by me:"
# not "(如果…)我就打卡" (a promise) nor "看我打卡" (someone else watching)
_MINE_BEFORE_RE = re.compile(
    r"(?<![看等让叫陪带帮和跟])(?:我|俺|本人)(?:也|先|来|今天|今日|赶紧|赶快|终于|准时|按时|顺便){0,2}$"
)


def read_keywords(c: str, at: int, q_end: int, words: list[re.Match[str]], ctx: _Context) -> _Verdict:
    """The verdict on a clause's keywords (`words`, in order): the first reader's "none", else a check-in
    named after the first keyword."""
    scan = _Scan.of(c, at, q_end, ctx)
    for m in words:
        word = _Word.of(scan, m)
        for read in READERS:
            verdict = read(scan, word)
            if verdict is not None:
                return verdict
    first = words[0]
    if first.lastgroup == "done":
        return _Verdict("pos", f"done: {first.group(0).strip()}", "done")
    if _MINE_BEFORE_RE.search(c, max(0, first.start() - 6), first.start()):
        # "我也打个卡", "俺今天打卡": the sender names themself the subject - see scorer._KEEP_REASONS
        return _Verdict("pos", f"{MINE_REASON} {first.group(0).strip()}", "")
    return _Verdict("pos", f"keyword {first.group(0).strip()}", "weak" if _WEAK_RE.match(first.group(0)) else "")
