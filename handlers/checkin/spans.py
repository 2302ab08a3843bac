"""Small helpers of the clause reading: acknowledgements, match spans, the verdict of a clause."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass

# acknowledgement words; a message made only of these (and emoji/punctuation) is an acknowledgement
_ACK_WORDS = (
    "收到",
    "好的",
    "好哒",
    "好滴",
    "好嘞",
    "好哦",
    "好呀",
    "好吧",
    "好",
    "okay",
    "okk",
    "ok",
    "嗯",
    "哦",
    "噢",
    "谢谢",
    "多谢",
    "感谢",
    "谢",
    "thankyou",
    "thanks",
    "thx",
    "明白",
    "了解",
    "知道了",
    "知道",
    "老师",
    "辛苦了",
    "辛苦",
    "啦",
    "呀",
    "了",
    "哈",
    "呵",
    "1",
    "yes",
    "是的",
    "对的",
    "对",
    "没问题",
    "可以",
    "行",
    "收",
    "滴",
    "哒",
    "嘞",
    "耶",
    "加油",
    "真棒",
    "棒",
    "厉害",
    "赞",
    "您",
    "你",
    "大家",
)
_ACK_TOKEN_RE = re.compile("|".join(re.escape(w) for w in sorted(_ACK_WORDS, key=len, reverse=True)))


def _is_ack(core: str) -> bool:
    """Greedy longest-first tokenising (no backtracking, so linear): only acknowledgement words?"""
    if len(core) > 60:
        return False
    pos = 0
    while pos < len(core):
        m = _ACK_TOKEN_RE.match(core, pos)
        if not m:
            return False
        pos = m.end()
    return True


class _Spans:
    """Sorted, non-overlapping match spans with "is there one inside [lo, hi]" in O(log n)."""

    __slots__ = ("starts", "ends")

    def __init__(self, regex: re.Pattern[str], text: str):
        self.starts: list[int] = []
        self.ends: list[int] = []
        for m in regex.finditer(text):
            if m.end() > m.start():
                self.starts.append(m.start())
                self.ends.append(m.end())

    def inside(self, lo: int, hi: int) -> int | None:
        """Start of the first span with lo <= start and end <= hi, else None."""
        i = bisect_left(self.starts, lo)
        if i < len(self.starts) and self.ends[i] <= hi:
            return self.starts[i]
        return None

    def last_end_before(self, hi: int) -> int:
        """End of the last span ending at or before hi, else 0."""
        i = bisect_left(self.starts, hi) - 1
        while i >= 0:
            if self.ends[i] <= hi:
                return self.ends[i]
            i -= 1  # spans do not overlap, so this steps back at most once
        return 0


@dataclass
class _Verdict:
    status: str  # "pos" | "neg" | "neutral"
    reason: str
    category: str = ""  # for "neg": question, reminder, negated, makeup, past, later, proxy, ack, emoji, empty


def _blank(regex: re.Pattern[str], s: str) -> str:
    return regex.sub(lambda m: "_" * len(m.group(0)), s)
