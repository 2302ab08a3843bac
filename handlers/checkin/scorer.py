"""The learned second opinion: a small logistic scorer over the post's characters and the word classes.

The rules (clause, sentence, ownlink) read the sentence and give a verdict with its reason; they were
written against one set of posts and miss phrasings they never saw. The scorer reads the same post
as a bag of features - character 1-3-grams of the normalised text (a note link is one mark, digits
are 0) and which word classes of the rules occur, and whether before or after the first check-in
word (someone else, another day, a plan, a rule header ...) - with weights learned on the
development part of the corpus (bench/train_detection_scorer.py writes handlers/checkin/weights.py).

detect() adds the rules' vote (RULE_WEIGHT, + for a check-in, - for none; weaker when the rules read
nothing, stronger for an explicit keyword) to the scorer's sum: the scorer overrules the rules only when
it is clearly of the other mind, and then the reason names the features that decided (`scorer 0.93:
+读完 +今天 -等; rules: no keyword`). A few answers of the rules stand whatever the scorer says
(vetoed()): who the act is for or by (a proxy, praise of someone else), the sender's own word that the
work is theirs (今天整理的 <link>, 我也打个卡), and a post with no words to read. Where the rules are
unsure (a bare 练完了), the scorer decides only when it is sure (CONFIDENT), else the member is asked.
Pure and dependency-free: a post costs one pass over its characters and one search per word class.
"""

from __future__ import annotations

import math
import re

from .lexicon import (
    _BARE_NEG_RE,
    _KEYWORDS_RE,
    _LATER_RE,
    _MADE_UP_RE,
    _MAKEUP_RE,
    _NEG_FAR_RE,
    _NEG_NEAR_RE,
    _PAST_RE,
    _PROXY_RE,
    _REMIND_OPENER_RE,
    _REMIND_RE,
    _TODAY_RE,
    _WH_BEFORE_RE,
)
from .ownlink import _NOT_OWN_NOTE_RE, _OWN_TODAY_RE, _SHARE_NOTE_RE, OWN_NOTE_REASON
from .reading import MINE_REASON
from .sentence import NO_KEYWORD
from .subject import (
    _ASK_OPENER_RE,
    _BARE_LATER_RE,
    _CONDITION_RE,
    _DONE_EVIDENCE_RE,
    _EN_LATER_BEFORE_RE,
    _GENERIC_RE,
    _HABIT_RE,
    _IF_RE,
    _IN_TIME_RE,
    _JUST_DONE_RE,
    _NAME_RE,
    _NEWCOMER_RE,
    _OTHER_RE,
    _PRAISE_RE,
    _RULE_HEADER_RE,
    _SELF_RE,
    _TODAY_MAKEUP_RE,
)
from .weights import BIAS, RULE_WEIGHT, SILENT_RULE_WEIGHT, STRONG_RULE_WEIGHT, WEIGHTS

LINK_MARK = "\u2023"  # a note link in the scorer's text
URL_MARK = "\u2043"  # any other URL
# the rules' answers that the scorer needs more to overrule: an explicit check-in word of the sender's, the
# sender's own note link, and an act whose subject is someone else
_STRONG_REASONS = ("keyword", "note link", "someone else", "praise of someone else")
# the rules' answers the scorer may not turn into the sender's check-in: the sentence reading found someone
# else doing it (character n-grams cannot tell "Lisa finished the book" from "finished the book")
# (a bare "someone else" is not among them: the subject carried over from an earlier clause is wrong as
# often as not - "群里好多大佬，我也..." - and the scorer reads those posts better; its strong vote stays)
_VETO_REASONS = ("praise of someone else", "for someone else")
# the rules' answers the scorer may not turn into "none": the sender's own word that the work is theirs
# ("今天整理的学习方法 <link> 大家可以参考" - its share words read like someone else's resource to n-grams)
_KEEP_REASONS = (OWN_NOTE_REASON, MINE_REASON)
MAX_CHARS = 400  # characters read by the scorer: a long post's start carries its point
# where the rules are unsure (a bare 练完了, a check-in said for a weekday) the member is asked - unless the
# scorer is this sure either way (19 in 20): cross-validated on 17,215 development posts, 43 of the rules'
# 57 unsure posts were check-ins; the scorer was this sure of 30 of them and of 9 of the 14 others, wrong on none
CONFIDENT = math.log(0.95 / 0.05)

# the word classes the scorer sees (name: the rules' regex); a name is part of the weights: keep them stable
WORD_CLASSES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("self", _SELF_RE),
    ("other", _OTHER_RE),
    ("name", _NAME_RE),
    ("praise", _PRAISE_RE),
    ("past", _PAST_RE),
    ("later", _LATER_RE),
    ("condition", _CONDITION_RE),
    ("if", _IF_RE),
    ("en_later", _EN_LATER_BEFORE_RE),
    ("remind", _REMIND_RE),
    ("remind_opener", _REMIND_OPENER_RE),
    ("neg", _NEG_NEAR_RE),
    ("neg_far", _NEG_FAR_RE),
    ("bare_neg", _BARE_NEG_RE),
    ("bare_later", _BARE_LATER_RE),
    ("wh", _WH_BEFORE_RE),
    ("ask", _ASK_OPENER_RE),
    ("generic", _GENERIC_RE),
    ("rule_header", _RULE_HEADER_RE),
    ("newcomer", _NEWCOMER_RE),
    ("proxy", _PROXY_RE),
    ("today", _TODAY_RE),
    ("makeup", _MAKEUP_RE),
    ("made_up", _MADE_UP_RE),
    ("today_makeup", _TODAY_MAKEUP_RE),
    ("in_time", _IN_TIME_RE),
    ("not_own_note", _NOT_OWN_NOTE_RE),
    ("share_note", _SHARE_NOTE_RE),
    ("own_today", _OWN_TODAY_RE),
    ("habit", _HABIT_RE),
    ("just_done", _JUST_DONE_RE),
    ("done_evidence", _DONE_EVIDENCE_RE),
)
_DIGITS_RE = re.compile(r"[0-9]+")
_SPACES_RE = re.compile(r"\s+")
_WORD_RE = re.compile(r"[^\W_]")  # a letter, a digit or a CJK character (the link marks are not)


def scorer_text(normalised: str) -> str:
    """The scorer's view of a normalised post (links already LINK_MARK): digits 0, single spaces."""
    t = _DIGITS_RE.sub("0", normalised[:MAX_CHARS])
    return _SPACES_RE.sub(" ", t).strip()


def features(t: str) -> set[str]:
    """The features of a scorer text: character n-grams, the first check-in word's kind, word classes."""
    s = "^" + t + "$"
    out = {s[i : i + n] for n in (1, 2, 3) for i in range(len(s) - n + 1)}
    out.discard(" ")
    kw = _KEYWORDS_RE.search(t)
    at = kw.start() if kw else len(t)
    if kw:
        out.add("K:done" if kw.lastgroup == "done" else "K:kw")
    for name, regex in WORD_CLASSES:
        m = regex.search(t)
        if m:
            out.add(f"L:{name}:{'<' if m.start() < at else '>'}")
    return out


def has_words(t: str) -> bool:
    """False for a scorer text of links, emoji and punctuation alone: nothing for the scorer to read, so
    the rules' answer stands (a bare non-note URL is no check-in, whatever URLs meant in training)."""
    return _WORD_RE.search(t) is not None


def score(t: str) -> float:
    """The scorer's logit for a scorer text (> 0: a check-in)."""
    get = WEIGHTS.get
    # fsum: exactly rounded whatever the set's order (string hashing differs by process), so a sum on a
    # threshold gives the same answer in every worker
    return BIAS + math.fsum(get(f, 0.0) for f in features(t))


def contributions(t: str) -> list[tuple[float, str]]:
    """The features of a scorer text with their weights (for the reason of an overruling)."""
    return [(WEIGHTS[f], f) for f in features(t) if f in WEIGHTS]


def rule_vote(checkin: bool, reason: str) -> float:
    """The rules' vote in the scorer's sum: + for a check-in, - for none; stronger for a decided reason."""
    if reason == NO_KEYWORD:
        return -SILENT_RULE_WEIGHT  # the rules read nothing: a weaker "none" (the scorer reads what they missed)
    weight = STRONG_RULE_WEIGHT if reason.startswith(_STRONG_REASONS) else RULE_WEIGHT
    return weight if checkin else -weight


def vetoed(checkin: bool, reason: str) -> bool:
    """True when the rules' answer stands whatever the scorer says: a "none" for someone else's act, a
    check-in for a note link the sender calls today's own."""
    return reason.startswith(_KEEP_REASONS) if checkin else reason.startswith(_VETO_REASONS)


def stands(checkin: bool, reason: str, t: str) -> bool:
    """True when the rules' answer is the decision whatever the scorer's sum for scorer text t: vetoed,
    or nothing in t for the scorer to read."""
    return vetoed(checkin, reason) or not has_words(t)


def confident(z: float) -> bool:
    """True when the scorer's logit z decides a post the rules are unsure of (see CONFIDENT)."""
    return abs(z) >= CONFIDENT


def _readable(f: str) -> str:
    return f.replace("^", "").replace("$", "").replace(LINK_MARK, "<link>").strip()


def explain(contrib: list[tuple[float, str]], positive: bool, top: int = 3) -> str:
    """The features that pushed most towards the decision: "+读完 +今天 -L:later:<"."""
    side = [c for c in contrib if (c[0] > 0) == positive and _readable(c[1]).strip("，。,.!！?？~～ ")]
    side.sort(key=lambda c: (-abs(c[0]), c[1]))  # ties by name: the same reason in every process
    return " ".join(("+" if w > 0 else "-") + _readable(f) for w, f in side[:top])


def probability(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
