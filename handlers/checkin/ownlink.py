"""Whose note link: the sender's own new work of today, or someone else's, an example, an old note."""

from __future__ import annotations

import re

from .lexicon import _PAST_RE
from .subject import _NAME_RE, _REDUP_COMMON

# a link that is not the sender's own new work of today: whose (a friend's, a name's), what for (an example,
# a share, likes for someone), or when (an old note)
_NOT_OWN_NOTE_RE = re.compile(
    r"博主|示例|范文|案例|例子|模板|往期|优秀|爆款|刷到|拆解|科普|攻略|教程|合集|翻出来|求赞|求个赞|投票|拉票|票数"
    r"|不是我写|不算今天|(?:写|画|拍|做|剪|录|整理|总结)得(?:真|太|很|超|好|挺|特别)|第[一二三四五六七八九十0-9]+周|第[一二三四五六七八九十0-9]+(?:天|期)(?:写|画|发|做|拍)的"
    r"|(?:她|(?<![吉其])他|你|朋友|闺蜜|同事|组长|班长|老师|别人)(?:的|那篇|这篇|写的|画的|发的|今天这篇)"
    # for someone else: "帮朋友求个赞", "给我闺蜜点个赞"
    r"|(?:帮|替|给)(?:我的?)?(?:朋友|闺蜜|同事|室友|她|他|妈|爸|老公|老婆|孩子|娃|同学|家人|姐妹|我家)"
    r"|(?<![a-z])(?:found|useful|check out|example|someone)(?![a-z])"
)
# weaker: a share, which one's own new note may be too ("今天写的干货，大家看看")
_SHARE_NOTE_RE = re.compile(
    r"推荐|参考|学习一下|大家看|大家可以看|值得一看|转发|分享|干货|自取|围观"
    r"|点赞|点点赞|点个赞"
)
_OWN_TODAY_RE = re.compile(
    r"(?:今天|今日|今早|今晚|刚刚?)[^,.!?;:\n]{0,4}?"
    r"(?:写|画|发|做|拍|更|用|分享|整理|录|剪|总结)"
)
# "X的这篇/笔记" made by whom: someone's unless the words before it say the sender or today (我, 今天新发的)
_MADE_THE_RE = re.compile(r"(?:写|画|发)的(?:这篇|那篇|笔记|文章)")
_MADE_BY_ME_RE = re.compile(r"我|今|刚|新")
_NAME_OWNS_RE = re.compile(r"\s*(?:的|那篇|这篇|写的|画的|发的|今天这篇)")


# the rules' answer for a note link the sender calls today's own work (it stands: scorer._KEEP_REASONS)
OWN_NOTE_REASON = "note link, today's own"


def _note_owner(t: str) -> tuple[str | None, str | None]:
    """Whose note link in normalised text t: (why it is not the sender's own work of today, else None;
    the words by which the sender calls it today's own, else None)."""
    m = _NOT_OWN_NOTE_RE.search(t)
    if m:
        return m.group(0), None
    own = _OWN_TODAY_RE.search(t)
    if own:  # the sender's own today: only an old-time word on that same line says otherwise
        lo = t.rfind("\n", 0, own.start()) + 1
        hi = t.find("\n", own.end())
        m = _PAST_RE.search(t, lo, hi if hi >= 0 else len(t))
    else:
        m = _PAST_RE.search(t)
    if m:
        return m.group(0), None
    for m in _MADE_THE_RE.finditer(t):
        if not _MADE_BY_ME_RE.search(t, max(0, m.start() - 4), m.start()):
            return m.group(0), None
    for n in _NAME_RE.finditer(t):
        if (
            n.group(0)[0] == "@" or n.group(0)[0] != n.group(0)[-1] or n.group(0)[0] not in _REDUP_COMMON
        ) and _NAME_OWNS_RE.match(t, n.end()):
            return t[n.start() : n.end() + 2], None
    m = _SHARE_NOTE_RE.search(t)
    if m and not own:  # "今天用了新标题，大家看看效果" is one's own
        return m.group(0), None
    return None, own.group(0) if own else None
