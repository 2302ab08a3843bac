"""Reading one clause: each check-in keyword in its sentence - mood, day, whose act."""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from .lexicon import (
    _BARE_DAY_RE,
    _BARE_MAKEUP_RE,
    _BARE_NEG_RE,
    _CLAUSE_RE,
    _CONTRAST_RE,
    _DONE_AFTER_RE,
    _LATER_NEAR_RE,
    _LATER_RE,
    _MADE_UP_RE,
    _MAKEUP_RE,
    _MODAL_NEAR_RE,
    _NEG_AFTER_RE,
    _NEG_BU_RE,
    _NEG_FAR_RE,
    _NEG_NEAR_RE,
    _NOUN_AFTER_RE,
    _PAST_RE,
    _PROXY_RE,
    _Q_SUFFIX_RE,
    _REMIND_NEAR_RE,
    _REMIND_OPENER_RE,
    _REMIND_RE,
    _SOFT_LATER_RE,
    _TODAY_RE,
    _WH_AFTER_RE,
    _WH_BEFORE_RE,
)
from .spans import _Spans, _Verdict
from .subject import (
    _ASK_OPENER_RE,
    _BARE_LATER_RE,
    _CONDITION_RE,
    _EN_LATER_AFTER_RE,
    _EN_LATER_BEFORE_RE,
    _EN_PROXY_AFTER_RE,
    _GENERIC_RE,
    _HABIT_RE,
    _IF_RE,
    _IN_TIME_RE,
    _JUST_DONE_RE,
    _NAME_RE,
    _NEWCOMER_RE,
    _OTHER_RE,
    _PLAN_AFTER_STEP_RE,
    _PLAN_NEAR_RE,
    _PRAISE_RE,
    _REDUP_COMMON,
    _RULE_AFTER_RE,
    _RULE_HEADER_RE,
    _RULE_NEAR_RE,
    _RULE_STEP_RE,
    _SELF_RE,
    _VOCATIVE_END_RE,
    _WEAK_RE,
    _WS_RE,
)

_HURRY = ("赶紧", "赶快", "抓紧")  # hurry words: to others, or to oneself after 我


@dataclass
class _Context:
    """What the whole message says, for judging each keyword in it."""

    opener_end: int = 0  # end of a reminder opener ("提醒一下")
    condition: bool = False  # a plan or condition somewhere ("准备睡前读两章，读完来打卡")
    rule_from: int = -1  # start of a rule text (header + generic wording), else -1
    praise: re.Match[str] | None = None  # the first praise or news about someone
    text: str = ""
    self_anywhere: bool = False
    prev_at: int = 0  # start of the previous clause (its last-named person may be this clause's subject)
    in_time: bool = False  # "还有两分钟，赶紧打卡": hurrying oneself
    asking_from: int = -1  # end of a question opener ("想问一下"), else -1
    ready: bool = False  # filled in (on the first keyword: a post without one never needs it)

    def fill(self) -> None:
        t = self.text
        opener = _REMIND_OPENER_RE.search(t)
        header = _RULE_HEADER_RE.search(t) or _NEWCOMER_RE.search(t)
        asking = _ASK_OPENER_RE.search(t)
        self.opener_end = opener.end() if opener else 0
        self.condition = bool(_CONDITION_RE.search(t))
        self.rule_from = t.rfind("\n", 0, header.start()) + 1 if header and _GENERIC_RE.search(t) else -1
        self.praise = _PRAISE_RE.search(t)
        self.self_anywhere = bool(_SELF_RE.search(t))
        self.in_time = bool(_IN_TIME_RE.search(t)) and not opener
        self.asking_from = asking.end() if asking else -1
        self.ready = True


def _names(c: str) -> _Spans:
    sp = _Spans(_NAME_RE, c)
    keep = [(a, b) for a, b in zip(sp.starts, sp.ends, strict=True) if c[a] != c[a + 1] or c[a] not in _REDUP_COMMON]
    sp.starts = [a for a, _ in keep]
    sp.ends = [b for _, b in keep]
    return sp


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


def _first_end(regex: re.Pattern[str], c: str, start: bool = False) -> int:
    """End (or start) of the first match of regex in c, len(c) + 1 when none: "a match ending by p" is
    first_end <= p, so a keyword loop need not rescan the clause for each keyword."""
    m = regex.search(c)
    return (m.start() if start else m.end() - 1) if m else len(c) + 1


def _last_before(spans: _Spans, hi: int) -> int:
    """Start of the last span ending at or before hi, else -1."""
    i = bisect_left(spans.starts, hi) - 1
    while i >= 0:
        if spans.ends[i] <= hi:
            return spans.starts[i]
        i -= 1
    return -1


def _analyse_clause(c: str, at: int, q_end: int, kw_re: re.Pattern[str], ctx: _Context) -> _Verdict | None:
    # (a keyword ending in a measure word, "发了篇", is followed by the noun it counts: no noun use)
    found_all = [m for m in kw_re.finditer(c) if m.group(0)[-1] in "篇条" or not _NOUN_AFTER_RE.match(c, m.end())]
    # a check-in word decides; "done" sentences count only in a clause without one
    occs = [m for m in found_all if m.lastgroup != "done"] or found_all
    if not occs:
        # no keyword, but "补卡" is a 补卡 request and "还没更" a negation all the same
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
    if not ctx.ready:
        ctx.fill()
    makeup = _MAKEUP_RE.search(c)
    if makeup and _MADE_UP_RE.search(c) and not _PAST_RE.search(c):
        makeup = None
    if makeup:
        return _Verdict("neg", f"makeup: {c[makeup.start() : makeup.end() + 2].strip()}", "makeup")
    wh = _Spans(_WH_BEFORE_RE, c)
    remind = _Spans(_REMIND_RE, c)
    neg_far = _Spans(_NEG_FAR_RE, c)
    past = _Spans(_PAST_RE, c)
    later = _Spans(_LATER_RE, c)
    proxy = _Spans(_PROXY_RE, c)
    today = _Spans(_TODAY_RE, c)
    soft_later = _Spans(_SOFT_LATER_RE, c)
    selves = _Spans(_SELF_RE, c)
    others = _Spans(_OTHER_RE, c)
    names = _names(c)
    ws = [w.start() for w in _WS_RE.finditer(c)]
    # first positions (len(c) when absent) of words that count wherever they stand before a keyword: one scan
    first_in_time = _first_end(_IN_TIME_RE, c)
    first_if = _first_end(_IF_RE, c, start=True)
    first_en_later = _first_end(_EN_LATER_BEFORE_RE, c)
    tail = c.rstrip()
    for m in occs:
        p, e = m.start(), m.end()
        # question
        k = bisect_left(ws, e)
        seg_end = ws[k] if k < len(ws) else len(c)
        after_seg = c[e : min(seg_end, e + 12)]
        if (
            q_end == 2
            or wh.inside(0, p) is not None
            or _WH_AFTER_RE.search(after_seg)
            or _Q_SUFFIX_RE.match(c, e)
            or (q_end and (seg_end >= len(tail) or (len(c) - e <= 12 and len(c[e:].replace(" ", "")) <= 3)))
        ):
            return _Verdict("neg", f"question: {c[max(0, p - 4) : e + 3].strip()}", "question")
        # said as done: a completion marker right after the keyword, or one that ends in 了/啦
        marked = bool(_DONE_AFTER_RE.match(c, e)) or m.group(0).rstrip()[-1:] in ("了", "啦")
        if 0 <= ctx.asking_from <= at + p and not marked:  # "想问一下：打卡是每天发在群里就行吗"
            return _Verdict("neg", f"question: {c[max(0, p - 4) : e + 3].strip()}", "question")
        near = c[max(0, p - 4) : p].replace(" ", "")
        in_time = ctx.in_time or first_in_time < p
        # reminder to others (unless the sender turns to themself after it: "大家都好卷 我也来打个卡")
        r = remind.inside(0, p)
        if r is not None and (
            selves.inside(r + 1, p) is not None
            or (c[r : r + 2] in _HURRY and (in_time or _last_before(selves, r) > _last_before(others, r)))
        ):
            r = None  # the sender turns to themself, or hurries themself: "我也赶紧打个卡"
        if (
            r is not None
            or (_REMIND_NEAR_RE.search(near) and not in_time and m.lastgroup != "done")
            or (ctx.opener_end and at + p >= ctx.opener_end)
        ):
            return _Verdict("neg", f"reminder: {c[r if r is not None else max(0, p - 3) : e].strip()}", "reminder")
        reset = today.last_end_before(p)
        # negation
        found = [
            x
            for x in (_NEG_NEAR_RE.search(c, max(0, p - 6, reset), p), _NEG_BU_RE.search(c, max(0, p - 3, reset), p))
            if x
        ]
        nf = neg_far.inside(reset, p)
        na = _NEG_AFTER_RE.match(c[e : e + 8].lstrip())
        if found or nf is not None or na:
            start = min([x.start() for x in found] + ([nf] if nf is not None else []) + [p])
            return _Verdict("neg", f"negated: {c[start : e + (5 if na else 0)].strip()}", "negated")
        # another day, later, for someone else
        x = past.inside(reset, p)
        if x is not None:
            if _BARE_DAY_RE.match(c, x) and marked:  # "周日打卡✅": today may be that Sunday - ask
                return _Verdict("neutral", f"unsure, which day: {c[x:e].strip()}", "unsure")
            return _Verdict("neg", f"another day: {c[x:e].strip()}", "past")
        x = later.inside(reset, p)
        if x is None and not _DONE_AFTER_RE.match(c, e) and m.lastgroup != "done":
            x = soft_later.inside(reset, p)
        if x is not None or _LATER_NEAR_RE.search(near) or (not marked and _MODAL_NEAR_RE.search(c, max(0, p - 6), p)):
            return _Verdict("neg", f"later: {c[x if x is not None else max(0, p - 2) : e].strip()}", "later")
        # a habit, not today's act: "我一般6点起", "平时都是晚上打卡"
        habit = _HABIT_RE.search(c, max(0, p - 8), p)
        if habit is not None:
            return _Verdict("neg", f"task or rule: habitual: {c[habit.start() : e].strip()}", "rule")
        x = proxy.inside(0, p)
        if x is not None:
            return _Verdict("neg", f"for someone else: {c[x:e].strip()}", "proxy")
        if _EN_PROXY_AFTER_RE.match(c, e):
            return _Verdict("neg", f"for someone else: {c[p : e + 16].strip()}", "proxy")
        # a plan or a condition: "再打卡", "然后打卡", "读完来打卡" after a plan, "如果...就打卡", "check in later"
        before = c[max(0, p - 6) : p]
        cond = first_if if first_if < p else None
        step = _PLAN_AFTER_STEP_RE.search(c[max(0, p - 10) : p]) if m.lastgroup != "done" and not marked else None
        if step and _JUST_DONE_RE.search(c, max(0, p - 10), p):  # "刚吃完就来打卡": the step is behind us
            step = None
        if (
            _PLAN_NEAR_RE.search(before)
            or cond is not None
            or first_en_later < p
            or _EN_LATER_AFTER_RE.match(c, e)
            # "读完就打卡", "跑完回来打卡": a step after another act (a connector says so), or after a plan
            or (step and (step.lastindex or ctx.condition))
            # "画完了到酒店再发": done, but the act that counts comes later
            or (m.lastgroup == "done" and _BARE_LATER_RE.search(c, e))
        ):
            w = cond if cond is not None else max(0, p - 3)
            return _Verdict("neg", f"plan or condition: {c[w:e].strip()}", "later")
        # a task description or rule: "打卡说明：... 即可", "发布后打卡", "满21天退押金"
        if (
            (ctx.rule_from >= 0 and at + p >= ctx.rule_from)
            or _RULE_NEAR_RE.search(c, max(0, p - 12), p)
            or (_RULE_STEP_RE.search(before) and not _DONE_AFTER_RE.match(c, e))
            or _RULE_AFTER_RE.match(c, e)
        ):
            return _Verdict("neg", f"task or rule: {c[max(0, p - 4) : e].strip()}", "rule")
        # whose act: the last subject before the keyword in the clause
        who_other = max(_last_before(others, p), _last_before(names, p))
        who_self = _last_before(selves, p)
        if who_other > who_self:
            return _Verdict("neg", f"someone else: {c[who_other:e].strip()}", "other")
        # no subject here: the subject named last in the sentence so far (or in the previous clause) carries over
        prev_other = ""
        if who_other < 0 and who_self < 0 and at > 0:
            # within SUBJECT_REACH characters only: a comma-joined post of 20,000 characters must not make
            # every clause rescan everything before it (quadratic)
            reach = max(0, at - SUBJECT_REACH)
            lo = max(reach, max(ctx.text.rfind(ch, reach, at) for ch in "\n.!?;。；") + 1)
            prev_other = _other_subject(ctx.text[max(reach, min(lo, ctx.prev_at)) : at])
        if prev_other:  # "我妈比我还早，5点就起来打卡了"
            return _Verdict("neg", f"someone else: {prev_other} ... {c[max(0, p - 4) : e].strip()}", "other")
        # praise scopes over what comes before it and its own line ("Kelly 早起打卡一个月 膜拜"), not a
        # later line of one's own post ("da卡 今天读了三章 ... 路遥好佩服")
        pr = ctx.praise
        if (
            who_self < 0
            and pr
            and not ctx.self_anywhere
            and (pr.start() < at + e or ctx.text.find("\n", at + e, pr.start()) < 0)
        ):
            return _Verdict("neg", f"praise of someone else: {c[max(0, p - 4) : e].strip()}", "other")
    first = occs[0]
    if first.lastgroup == "done":
        return _Verdict("pos", f"done: {first.group(0).strip()}", "done")
    return _Verdict("pos", f"keyword {first.group(0).strip()}", "weak" if _WEAK_RE.match(first.group(0)) else "")


SUBJECT_REACH = 200  # characters back that a sentence's subject carries over to a clause without one


def _other_subject(c: str) -> str:
    """Someone else named last in a clause (its subject for the next clause), else ""."""
    if _VOCATIVE_END_RE.search(c):
        return ""
    o = max(_last_before(_Spans(_OTHER_RE, c), len(c)), _last_before(_names(c), len(c)))
    if o < 0 or _last_before(_Spans(_SELF_RE, c), len(c)) > o:
        return ""
    return c[o : o + 4].strip()
