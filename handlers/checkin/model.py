"""Detection's result types: what detect() answers."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_LINK_HOSTS: tuple[str, ...] = ("xhslink.com", "xiaohongshu.com")


@dataclass(frozen=True)
class Credit:
    name: str | None  # display name as written in a chain entry; None = the sender themself
    userid: str | None  # resolved userid (sender's, or a known member's for leader chains), else None
    note_links: tuple[str, ...] = ()  # 小红书 links found for this credit


@dataclass(frozen=True)
class Detection:
    kind: str  # "checkin" | "chain" | "none"
    credits: tuple[Credit, ...] = ()
    reason: str = ""  # short English why (for logs/tests)
    addressed: bool = False  # the original text @-mentions someone (e.g. the robot)
    # a leader's chain entries whose name two or more members share: (name as written, their userids);
    # nobody is credited for them, the leader is asked
    unclear: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # may be a check-in, but the evidence is weak (a bare "看完了"): kind stays "none" and the caller may
    # ask the member (这条算今天的打卡吗？)
    unsure: bool = False
