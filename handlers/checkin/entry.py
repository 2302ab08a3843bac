"""detect(): one inbound message to a Detection."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from ..chain import MAX_TEXT, cut_quote, is_quote_separator, parse_chain, strip_mentions
from .chains import _chain_detection
from .links import _links_in, note_link_hosts
from .model import Credit, Detection
from .normalize import _normalize
from .ownlink import OWN_NOTE_REASON, _note_owner
from .scorer import (
    LINK_MARK,
    URL_MARK,
    confident,
    contributions,
    explain,
    probability,
    rule_vote,
    score,
    scorer_text,
    stands,
)
from .sentence import _analyse
from .spans import _Verdict
from .weights import UNSURE_MARGIN

# ---------------------------------------------------------------------------------------------------
# the entry point

READ_HEAD, READ_TAIL = 1500, 500  # characters of a long post's start and end that are read for words

_MENTION_RE = re.compile(r"(?:^|\s)[@＠][^\s@＠]")
# a quoted message put above the separator: 「阿杰：今天谁读完了」 (name, colon, the quoted words)
_QUOTE_BLOCK_RE = re.compile(r"\s*[「『“\"][^\n「『]{1,24}?[:：][^\n]*[」』”\"]\s*")


def _own_text(raw: str) -> str:
    """The sender's own words: the text before a quote separator, unless what stands before it is a
    quoted message (「name：...」), in which case the reply is what follows it."""
    head = cut_quote(raw)
    if len(head) < len(raw) and _QUOTE_BLOCK_RE.fullmatch(head):
        lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for i, line in enumerate(lines):
            if is_quote_separator(line):
                return cut_quote("\n".join(lines[i + 1 :]))
    return head


def detect(
    text: str,
    msgtype: str = "text",
    *,
    sender_userid: str = "",
    sender_name: str = "",
    sender_is_leader: bool = False,
    members: dict[str, str] | None = None,
    keywords: Sequence[str] | None = None,
    link_hosts: Sequence[str] | None = None,
    shared_names: dict[str, tuple[str, ...]] | None = None,
) -> Detection:
    """Classify one inbound message.

    members maps display name -> userid for the group's known members (for chain entries);
    shared_names maps a display name several members share -> their userids (never credited by guess).
    keywords / link_hosts override the default check-in keywords and note-link hosts (per-camp wording).
    msgtype "image" is a check-in; "mixed" is taken to carry an image and is a check-in unless its text
    says otherwise (a question, negation, reminder, 补卡 or another day).
    """
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    raw = raw[:MAX_TEXT]
    addressed = bool(_MENTION_RE.search(raw))
    mt = (msgtype or "text").strip().lower()
    uid = sender_userid or None
    hosts = note_link_hosts(link_hosts)
    members = members or {}

    if mt == "image":
        return Detection("checkin", (Credit(None, uid),), "image", addressed)

    chain = parse_chain(raw)
    if chain is not None:
        return _chain_detection(
            chain,
            sender_userid=sender_userid or "",
            sender_name=sender_name or "",
            sender_is_leader=sender_is_leader,
            members=members,
            hosts=hosts,
            addressed=addressed,
            shared=shared_names,
        )

    nbody, links, scored = _read_post(raw, hosts)
    verdict = _analyse(nbody, tuple(keywords) if keywords is not None else None)
    ruled = _rule_detection(verdict, mt, nbody, links, uid, addressed)
    if mt == "mixed" or (keywords is not None and (not keywords or keywords[0] != "+")):
        return ruled  # an image decides; a camp's own keyword list is the camp's word
    return _second_opinion(ruled, scored, links, uid, addressed)


def _read_post(raw: str, hosts: tuple[str, ...]) -> tuple[str, tuple[str, ...], str]:
    """(the sender's own words for the rules, the note links, the scorer's text): mentions stripped,
    the quote cut; each URL ends a sentence for the rules and is one mark for the scorer."""
    nbody = unicodedata.normalize("NFKC", strip_mentions(_own_text(raw)))
    links, spans = _links_in(nbody, hosts)
    parts, marks, last = [], [], 0
    for s, e in spans:  # words inside URLs ("/day3") are not words
        parts.append(nbody[last:s])
        marks.append(LINK_MARK if any(link in nbody[s:e] for link in links) else URL_MARK)
        last = e
    parts.append(nbody[last:])
    scored = scorer_text(_normalize("".join(p + m for p, m in zip(parts, [*marks, ""], strict=True))))
    nbody = "\n".join(parts)
    if len(nbody) > READ_HEAD + READ_TAIL:
        # a pasted essay: its check-in words are at its start or its end; reading every clause of 20,000
        # characters would cost a worker ~0.2 s per post (links are found in the whole text above)
        nbody = nbody[:READ_HEAD] + "\n" + nbody[-READ_TAIL:]
    return nbody, tuple(links), scored


_DECISIVE = frozenset(("negated", "makeup", "later", "past", "reminder", "proxy"))


def _rule_detection(
    verdict: _Verdict, mt: str, nbody: str, links: tuple[str, ...], uid: str | None, addressed: bool
) -> Detection:
    """The rules' answer: the verdict of the sentence reading, with the note links and an image."""
    decisive = verdict.status == "neg" and verdict.category in _DECISIVE
    if mt == "mixed":
        if decisive or (verdict.status == "neg" and verdict.category == "question"):
            return Detection("none", (), f"mixed, {verdict.reason}", addressed)
        return Detection("checkin", (Credit(None, uid, links),), "mixed with image", addressed)
    if links:
        if decisive:
            return Detection("none", (), f"note link, {verdict.reason}", addressed)
        if verdict.status != "pos" or verdict.category in ("done", "weak"):  # a keyword of one's own decides
            shared, own = _note_owner(_normalize(nbody))
            if shared:
                return Detection("none", (), f"note link shared for others: {shared.strip()}", addressed)
            if own:  # the sender says it is today's own work: see scorer._KEEP_REASONS
                return Detection("checkin", (Credit(None, uid, links),), f"{OWN_NOTE_REASON}: {own}", addressed)
        return Detection("checkin", (Credit(None, uid, links),), "note link", addressed)
    if verdict.status == "pos":
        return Detection("checkin", (Credit(None, uid),), verdict.reason, addressed)
    return Detection("none", (), verdict.reason, addressed, unsure=verdict.category == "unsure")


def _second_opinion(
    ruled: Detection, scored: str, links: tuple[str, ...], uid: str | None, addressed: bool
) -> Detection:
    """The rules' answer, unless the scorer is clearly of the other mind (see handlers.checkin.scorer).
    Where the two disagree and the sum is close, the post is unsure: the member is asked. A post the
    rules are unsure about (a bare 看完了, a bare weekday) is the scorer's only when it is sure
    (scorer.confident), else it stays a question."""
    rule_pos = ruled.kind == "checkin"
    if stands(rule_pos, ruled.reason, scored):
        return ruled
    if ruled.unsure:
        z = score(scored)
        return _scorer_decides(ruled, scored, z, links, uid, addressed) if confident(z) else ruled
    total = score(scored) + rule_vote(rule_pos, ruled.reason)
    if (total > 0) == rule_pos:
        return ruled
    return _scorer_decides(ruled, scored, total, links, uid, addressed, unsure=total > -UNSURE_MARGIN)


def _scorer_decides(
    ruled: Detection,
    scored: str,
    total: float,
    links: tuple[str, ...],
    uid: str | None,
    addressed: bool,
    unsure: bool = False,
) -> Detection:
    """The scorer's answer for its sum `total`, its reason naming the features that decided and the rules'."""
    why = f"scorer {probability(total):.2f}: {explain(contributions(scored), total > 0)}; rules: {ruled.reason}"
    if total > 0:
        return Detection("checkin", (Credit(None, uid, links),), why, addressed)
    return Detection("none", (), why, addressed, unsure=unsure)
