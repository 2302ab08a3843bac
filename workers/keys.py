"""Every Redis key the service writes, in one place (prefix `wb:`)."""


def seen(msgid: str) -> str:
    return f"wb:seen:{msgid}"


def effect(msgid: str, group: str, userid: str) -> str:
    return f"wb:fx:{group}:{userid}:{msgid}"


def days(group: str, userid: str) -> str:
    return f"wb:g:{group}:d:{userid}"


def off(group: str, userid: str) -> str:
    return f"wb:g:{group}:o:{userid}"


def base(group: str) -> str:
    return f"wb:g:{group}:base"


def names(group: str) -> str:
    return f"wb:g:{group}:names"


def links(group: str, day: int) -> str:
    return f"wb:g:{group}:links:{day}"


def goals(group: str, userid: str) -> str:
    return f"wb:g:{group}:goal:{userid}"


def prefs(group: str) -> str:
    """Per-member preferences, e.g. quiet (免打扰), field `<userid>:<pref>`."""
    return f"wb:g:{group}:prefs"


def slot(group: str, slot_name: str, local_day: str) -> str:
    return f"wb:slot:{group}:{slot_name}:{local_day}"


METRICS = "wb:metrics"
UNKNOWN_CHATS = "wb:unknown_chats"


def removed(group: str) -> str:
    """Members taken off the roster (移除): no longer reminded or counted."""
    return f"wb:g:{group}:removed"


def notes(group: str, userid: str) -> str:
    """Profile notes (学员档案记录): a list of JSON {"text", "by", "at"}; leaders and admins only."""
    return f"wb:g:{group}:notes:{userid}"


def paused(group: str) -> str:
    """Set while a group's schedules are paused (暂停)."""
    return f"wb:g:{group}:paused"


def audit(group: str) -> str:
    """Every change of goals, credits, roster and profiles: a list of JSON {who, at, what, why, undo}."""
    return f"wb:g:{group}:audit"
