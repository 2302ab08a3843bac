"""What the whole message says, read once, for judging each keyword in it (handlers/checkin/clause.py
and reading.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .lexicon import _REMIND_OPENER_RE
from .subject import (
    _ASK_OPENER_RE,
    _CONDITION_RE,
    _GENERIC_RE,
    _IN_TIME_RE,
    _NEWCOMER_RE,
    _PRAISE_RE,
    _RULE_HEADER_RE,
    _SELF_RE,
)


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
