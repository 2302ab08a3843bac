"""The settings section by section: each loader reads its variables from an `Env` into a Settings.

config.settings.load() runs them in this order (the order of the problems check-config prints):
the service, the WeCom app and robots, the camp-wide defaults, the schedule, the groups, the message
archive (config/archive.py), announcements and one camp's words (config/camp_words.py), the weekly
cycle and praise.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from config.env import GROUP_KEY, USERID, Env, csv, parse_quiet, parse_slot, people
from config.model import (
    DEFAULT_API_BASE_URL,
    DEFAULT_PRAISE_STREAKS,
    DEV_AES_KEY,
    DEV_CORP_ID,
    DEV_TOKEN,
    SIM_PATH,
    SLOT_DEFAULTS,
    SLOTS,
    WEEKLY_SLOTS,
    Group,
    Settings,
    Slot,
)

_TRUE = ("1", "true", "yes", "on")
_GROUP_VAR = re.compile(
    r"^GROUP_([A-Za-z0-9_]+?)_(CHAT_ID|ROOM_ID|NAME|LEADERS|MEMBERS|WEBHOOK_KEY|WEEKLY_GOAL|TIMEZONE"
    r"|CHECKIN_KEYWORDS|LINK_HOSTS|CHAIN_TEMPLATE|CAMP_START|CAMP_END|NOTICE_CHASE)$"
)
_AES_KEY = re.compile(r"^[A-Za-z0-9+/]{43}$")
_WEBHOOK_KEY = re.compile(r"^[A-Za-z0-9\-]{8,64}$")
# the weekly family: a near-miss name (BOT_DOWNGRADE_AFTER_WEEK, BOT_REPLY_RESERVED, ...) is reported
WEEKLY_VARS = (
    "BOT_DOWNGRADE_AFTER_WEEKS",
    "BOT_UPGRADE_AFTER_WEEKS",
    "BOT_TOP_PERFORMERS",
    "BOT_MIDWEEK_NUDGE",
    "BOT_PRAISE_STREAKS",
    "BOT_REPLY_RESERVE",
    "BOT_NOTICE_CHASE",
)
_WEEKLY_PREFIXES = (
    "BOT_DOWNGRADE",
    "BOT_UPGRADE",
    "BOT_TOP_PERFORM",
    "BOT_MIDWEEK_N",
    "BOT_PRAISE",
    "BOT_REPLY",
    "BOT_NOTICE_CH",
)


# --- the service ------------------------------------------------------------------------------------


def load_service(env: Env, s: Settings) -> None:
    """REDIS_URL, BOT_DATA_DIR, BOT_FONT_PATH, BOT_DRY_RUN, BOT_CALLBACK_MAX_AGE."""
    s.redis_url = env.get("REDIS_URL")
    s.data_dir = env.get("BOT_DATA_DIR", "var")
    s.font_path = env.get("BOT_FONT_PATH")
    s.dry_run = env.get("BOT_DRY_RUN").lower() in _TRUE
    # WeCom signs each delivery with the time it sent it and retries within seconds: a callback signed
    # long ago is a replay (a recorded `移除 小鹿` must not run again). 0 turns the window off, for
    # replaying recorded callbacks in tests and the demo.
    s.callback_max_age = env.integer("BOT_CALLBACK_MAX_AGE", 3600, 0, 366 * 86400)
    load_console(env, s)


_PUBLIC_URL = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?(/[A-Za-z0-9._~\-/]*)?$")
_WW_VERIFY_NAME = re.compile(r"^WW_verify_[A-Za-z0-9]{1,64}\.txt$")


def load_console(env: Env, s: Settings) -> None:
    """BOT_PUBLIC_URL, BOT_SECRET_KEY, BOT_WW_VERIFY_FILE (the leader console, wecom_bot/console/)."""
    url = env.get("BOT_PUBLIC_URL").rstrip("/")
    if url and not _PUBLIC_URL.match(url):
        env.problem(
            f"BOT_PUBLIC_URL={url!r}: expected the https:// address WeCom reaches, e.g. https://bot.example.com"
        )
    else:
        s.public_url = url
    s.secret_key = env.get("BOT_SECRET_KEY")
    if s.secret_key and len(s.secret_key) < 32:
        env.problem(f"BOT_SECRET_KEY: at least 32 random characters (got {len(s.secret_key)})")
    raw = env.get("BOT_WW_VERIFY_FILE")
    if raw:
        s.ww_verify = _ww_verify(env, raw)


def _ww_verify(env: Env, raw: str) -> tuple[str, str] | None:
    """`WW_verify_<...>.txt:<content>` as WeCom shows them, or the path of the downloaded file."""
    name, sep, content = raw.partition(":")
    if sep and _WW_VERIFY_NAME.match(name.strip()):
        if content.strip():
            return name.strip(), content.strip()
        env.problem("BOT_WW_VERIFY_FILE: the file's content is missing after the colon (WW_verify_<...>.txt:<content>)")
        return None
    path = Path(raw)
    if not _WW_VERIFY_NAME.match(path.name):
        env.problem("BOT_WW_VERIFY_FILE: expected WW_verify_<...>.txt:<content>, or the path of that file")
        return None
    try:
        return path.name, path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        env.problem(f"BOT_WW_VERIFY_FILE: cannot read {raw!r} ({exc.strerror or type(exc).__name__})")
        return None


# --- the WeCom app, the group robots and the AI bot ---------------------------------------------------


def load_wecom(env: Env, s: Settings) -> None:
    """The self-built app (WECOM_CORP_ID, _AGENT_ID, _SECRET, WECOM_API_BASE_URL), its callback
    (WECOM_TOKEN, WECOM_ENCODING_AES_KEY), the robots' (WECOM_ROBOT_*) and the AI bot's (WECOM_AIBOT_*).
    Nothing configured: the built-in simulator, with the public dev secrets."""
    s.corp_id = env.get("WECOM_CORP_ID")
    s.agent_id = env.get("WECOM_AGENT_ID")
    s.secret = env.get("WECOM_SECRET")
    s.token = env.get("WECOM_TOKEN")
    s.aes_key = env.get("WECOM_ENCODING_AES_KEY")
    s.robot_token = env.get("WECOM_ROBOT_TOKEN")
    s.robot_aes_key = env.get("WECOM_ROBOT_ENCODING_AES_KEY")
    s.aibot_token = env.get("WECOM_AIBOT_TOKEN")
    s.aibot_aes_key = env.get("WECOM_AIBOT_ENCODING_AES_KEY")
    base = env.get("WECOM_API_BASE_URL")
    s.simulated = not s.corp_id and not base
    if s.simulated:
        _use_simulator(env, s)
    else:
        _use_wecom_api(env, s, base)
    _check_callback_keys(env, s)


def _use_simulator(env: Env, s: Settings) -> None:
    """Talk to the simulator that the web process serves itself."""
    s.api_base_url = f"http://127.0.0.1:{env.get('PORT', '8000') or '8000'}{SIM_PATH}"
    s.corp_id, s.agent_id, s.secret = DEV_CORP_ID, s.agent_id or "1000002", s.secret or "simsecret"
    s.token, s.aes_key = s.token or DEV_TOKEN, s.aes_key or DEV_AES_KEY
    s.robot_token, s.robot_aes_key = s.robot_token or DEV_TOKEN, s.robot_aes_key or DEV_AES_KEY
    s.aibot_token, s.aibot_aes_key = s.aibot_token or DEV_TOKEN, s.aibot_aes_key or DEV_AES_KEY
    s.notes.append("no WECOM_CORP_ID: running against the built-in WeCom simulator")


def _use_wecom_api(env: Env, s: Settings, base: str) -> None:
    s.api_base_url = base or DEFAULT_API_BASE_URL
    if not re.match(r"^https?://[^\s/]+", s.api_base_url):
        env.problem(f"WECOM_API_BASE_URL={s.api_base_url!r}: expected an http(s) URL")
    if not s.api_base_url.endswith("/"):
        s.api_base_url += "/"
    for name in ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET"):
        if not env.get(name):
            env.problem(f"{name} is missing: the app needs WECOM_CORP_ID, WECOM_AGENT_ID and WECOM_SECRET")
    if s.agent_id and not s.agent_id.isdigit():
        env.problem(f"WECOM_AGENT_ID={s.agent_id!r}: expected the app's numeric AgentId")
    callbacks = ((s.token, s.aes_key), (s.robot_token, s.robot_aes_key), (s.aibot_token, s.aibot_aes_key))
    if not any(token and key for token, key in callbacks):
        env.problem(
            "WECOM_TOKEN/WECOM_ENCODING_AES_KEY, WECOM_ROBOT_TOKEN/WECOM_ROBOT_ENCODING_AES_KEY or "
            "WECOM_AIBOT_TOKEN/WECOM_AIBOT_ENCODING_AES_KEY: set at least one callback (the app's, the robots' "
            "or the AI bot's)"
        )


def _check_callback_keys(env: Env, s: Settings) -> None:
    """Each EncodingAESKey as WeCom shows it, each token with its key. A problem never quotes a secret."""
    keys = (
        ("WECOM_ENCODING_AES_KEY", s.aes_key),
        ("WECOM_ROBOT_ENCODING_AES_KEY", s.robot_aes_key),
        ("WECOM_AIBOT_ENCODING_AES_KEY", s.aibot_aes_key),
    )
    for name, value in keys:
        if value and (len(value) != 43 or not _AES_KEY.match(value)):
            env.problem(
                f"{name}: must be exactly 43 letters and digits as WeCom shows it (got {len(value)} characters)"
            )
    pairs = (
        ("WECOM_TOKEN", s.token, s.aes_key),
        ("WECOM_ROBOT_TOKEN", s.robot_token, s.robot_aes_key),
        ("WECOM_AIBOT_TOKEN", s.aibot_token, s.aibot_aes_key),
    )
    for name, token, key in pairs:
        if bool(token) != bool(key):
            other = name.replace("TOKEN", "ENCODING_AES_KEY")
            env.problem(f"{name if not token else other} is missing: {name} and {other} go together")


# --- the camp-wide defaults ---------------------------------------------------------------------------


def load_camp(env: Env, s: Settings) -> None:
    """BOT_TIMEZONE, BOT_ADMINS, BOT_WEEKLY_GOAL, BOT_SILENT_DAYS, BOT_CATCHUP_GRACE_MINUTES, BOT_QUIET_HOURS."""
    s.timezone = env.timezone("BOT_TIMEZONE", "Asia/Shanghai")
    s.admins = csv(env.get("BOT_ADMINS"))
    for uid in s.admins:
        if not USERID.match(uid):
            env.problem(f"BOT_ADMINS: {uid!r} is not a WeCom userid (letters, digits, _ . @ -)")
    s.weekly_goal = env.integer("BOT_WEEKLY_GOAL", 3, 1, 7)
    s.silent_days = env.integer("BOT_SILENT_DAYS", 3, 1, 60)
    s.catchup_grace_minutes = env.integer("BOT_CATCHUP_GRACE_MINUTES", 120, 0, 24 * 60)
    try:
        s.quiet_hours = parse_quiet(env.get("BOT_QUIET_HOURS", "22:30-08:00") or "22:30-08:00")
    except ValueError as exc:
        env.problem(f"BOT_QUIET_HOURS={env.get('BOT_QUIET_HOURS')!r}: {exc}")


# --- the schedule -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    """The camp-wide slots (BOT_<SLOT>_AT) and camp dates every group starts from."""

    slots: dict[str, Slot | None]
    camp_start: date | None = None
    camp_end: date | None = None


def load_schedule(env: Env) -> Schedule:
    slots = {slot: _default_slot(env, slot) for slot in SLOTS}
    return Schedule(slots, env.day("BOT_CAMP_START"), env.day("BOT_CAMP_END"))


def _default_slot(env: Env, slot: str) -> Slot | None:
    name = f"BOT_{slot.upper()}_AT"
    raw = env.get(name, SLOT_DEFAULTS[slot]) or SLOT_DEFAULTS[slot]
    try:
        return parse_slot(raw, slot in WEEKLY_SLOTS)
    except ValueError as exc:
        env.problem(f"{name}={raw!r}: {exc}")
        return parse_slot(SLOT_DEFAULTS[slot], slot in WEEKLY_SLOTS)


# --- the groups -------------------------------------------------------------------------------------


def load_groups(env: Env, s: Settings, schedule: Schedule) -> None:
    """BOT_GROUPS and each listed group's GROUP_<KEY>_* (its camp words: config/camp_words.py)."""
    seen_chats: dict[str, str] = {}
    for raw_key in csv(env.get("BOT_GROUPS")):
        key = raw_key.lower()
        if not GROUP_KEY.match(raw_key):
            env.problem(f"BOT_GROUPS: {raw_key!r} is not a valid group key (letters, digits and _, at most 32)")
        elif key in s.groups:
            env.problem(f"BOT_GROUPS: {raw_key!r} is listed twice (keys are case-insensitive)")
        else:
            s.groups[key] = _group(env, s, key, schedule, seen_chats)
    _check_room_ids(env, s)
    _check_unlisted_groups(env, s)


def _group(env: Env, s: Settings, key: str, schedule: Schedule, seen_chats: dict[str, str]) -> Group:
    p = f"GROUP_{key.upper()}_"
    g = Group(key=key, chat_id=env.get(p + "CHAT_ID"), name=env.get(p + "NAME"), webhook_key=env.get(p + "WEBHOOK_KEY"))
    g.leaders, leader_names = people(env.get(p + "LEADERS"))
    g.members, member_names = people(env.get(p + "MEMBERS"))
    g.display_names = {**leader_names, **member_names}
    g.weekly_goal = env.integer(p + "WEEKLY_GOAL", s.weekly_goal, 1, 7)
    g.timezone = env.timezone(p + "TIMEZONE", s.timezone)
    g.camp_start = env.day(p + "CAMP_START") or schedule.camp_start
    g.camp_end = env.day(p + "CAMP_END") or schedule.camp_end
    if g.camp_start and g.camp_end and g.camp_end < g.camp_start:
        env.problem(f"{p}CAMP_END: {g.camp_end} is before the camp start {g.camp_start}")
    _check_chat_id(env, p, g, seen_chats)
    g.room_id = env.get(p + "ROOM_ID") or g.chat_id  # the archive's roomid, when it differs from the ChatId
    _check_people(env, p, g, has_admins=bool(s.admins))
    if g.webhook_key and not _WEBHOOK_KEY.match(g.webhook_key):
        env.problem(f"{p}WEBHOOK_KEY: expected the key=... part of the robot's webhook URL")
    g.slots = {slot: _group_slot(env, p, slot, schedule.slots[slot]) for slot in SLOTS}
    if env.get(p + "NOTICE_CHASE"):
        g.notice_chase = _on_off(env, p + "NOTICE_CHASE", s.notice_chase)
    return g


def _check_chat_id(env: Env, p: str, g: Group, seen_chats: dict[str, str]) -> None:
    if not g.chat_id:
        env.problem(
            f"{p}CHAT_ID is missing: set it to the group's ChatId (the bot reports unknown ChatIds to BOT_ADMINS)"
        )
    elif g.chat_id in seen_chats:
        env.problem(f"{p}CHAT_ID: the same chat id is already used by group {seen_chats[g.chat_id]!r}")
    else:
        seen_chats[g.chat_id] = g.key


def _check_room_ids(env: Env, s: Settings) -> None:
    """One group per archive room id (GROUP_<KEY>_ROOM_ID, else the chat id)."""
    seen: dict[str, Group] = {}
    for g in s.groups.values():
        other = seen.setdefault(g.room_id, g) if g.room_id else g
        if other is not g and (g.room_id != g.chat_id or other.room_id != other.chat_id):  # same chat id: said
            env.problem(f"GROUP_{g.key.upper()}_ROOM_ID: group {other.key!r} has the same archive room {g.room_id!r}")


def _check_people(env: Env, p: str, g: Group, has_admins: bool) -> None:
    for role, ids in (("LEADERS", g.leaders), ("MEMBERS", g.members)):
        for uid in ids:
            if not USERID.match(uid):
                env.problem(f"{p}{role}: {uid!r} is not a WeCom userid (letters, digits, _ . @ -)")
    if not g.leaders and not has_admins:
        env.problem(f"{p}LEADERS is missing: nobody would receive this group's alerts (or set BOT_ADMINS)")


def _group_slot(env: Env, p: str, slot: str, default: Slot | None) -> Slot | None:
    name = f"{p}{slot.upper()}_AT"
    raw = env.get(name)
    if not raw:
        return default
    try:
        return parse_slot(raw, slot in WEEKLY_SLOTS)
    except ValueError as exc:
        env.problem(f"{name}={raw!r}: {exc}")
        return default


def _check_unlisted_groups(env: Env, s: Settings) -> None:
    """A GROUP_<KEY>_* variable for a key that BOT_GROUPS does not list is almost always a typo."""
    listed = {k.upper() for k in s.groups}
    for name in env.names():
        m = _GROUP_VAR.match(name)
        if m and m.group(1).upper() not in listed:
            env.problem(f"{name}: group {m.group(1).lower()!r} is not listed in BOT_GROUPS")


# --- the weekly cycle and praise ----------------------------------------------------------------------


def load_weekly(env: Env, s: Settings) -> None:
    """BOT_DOWNGRADE_AFTER_WEEKS, BOT_UPGRADE_AFTER_WEEKS, BOT_TOP_PERFORMERS, BOT_REPLY_RESERVE,
    BOT_MIDWEEK_NUDGE, BOT_PRAISE_STREAKS; a near-miss name in this family is reported."""
    s.downgrade_after_weeks = env.integer("BOT_DOWNGRADE_AFTER_WEEKS", 2, 1, 12)
    s.upgrade_after_weeks = env.integer("BOT_UPGRADE_AFTER_WEEKS", 2, 1, 12)
    s.top_performers = env.integer("BOT_TOP_PERFORMERS", 3, 1, 10)
    s.reply_reserve = env.integer("BOT_REPLY_RESERVE", 3, 0, 19)
    s.midweek_nudge = _on_off(env, "BOT_MIDWEEK_NUDGE", True)
    s.notice_chase = _on_off(env, "BOT_NOTICE_CHASE", False)
    s.praise_streaks = _praise_streaks(env)
    _check_near_misses(env)


def _on_off(env: Env, name: str, default: bool) -> bool:
    raw = env.get(name).strip().lower()
    if not raw:
        return default
    if raw not in ("on", "off", "1", "0", "true", "false", "yes", "no"):
        env.problem(f"{name}={env.get(name)!r}: expected on or off")
        return default
    return raw in _TRUE


def _praise_streaks(env: Env) -> tuple[int, ...]:
    default = ",".join(map(str, DEFAULT_PRAISE_STREAKS))
    raw = env.get("BOT_PRAISE_STREAKS", default) or default
    try:
        streaks = tuple(sorted({int(p) for p in csv(raw)}))
    except ValueError:
        streaks = ()
    if not streaks or any(n < 2 or n > 1000 for n in streaks):
        env.problem(
            f"BOT_PRAISE_STREAKS={raw!r}: expected comma-separated streak lengths from 2 to 1000, e.g. 3,7,14,21,30"
        )
        return DEFAULT_PRAISE_STREAKS
    return streaks


def _check_near_misses(env: Env) -> None:
    for name in env.names():
        if name in WEEKLY_VARS or name == "BOT_MIDWEEK_AT" or not name.startswith(_WEEKLY_PREFIXES):
            continue
        near = difflib.get_close_matches(name, WEEKLY_VARS, n=1, cutoff=0.6)
        env.problem(f"{name}: unknown variable" + (f"; did you mean {near[0]}?" if near else ""))
