"""Settings read from the environment and an optional env file.

Real environment variables win over the env file. `load()` never raises for a bad value: it
records a problem naming the exact variable, keeps a safe default, and `check-config` prints
the problems. Anything that runs for real calls `load(strict=True)` instead.
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

DEFAULT_API_BASE_URL = "https://qyapi.weixin.qq.com/cgi-bin/"
SIM_PATH = "/_sim/cgi-bin/"

# Dev-only callback secrets used when none are configured, so that the built-in simulator
# can sign and encrypt callbacks. They are public on purpose and never used with a real corp id.
DEV_TOKEN = "devtoken"
DEV_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
DEV_CORP_ID = "wwsimulator"

DAILY_SLOTS = ("chain", "remind", "digest")
WEEKLY_SLOTS = ("midweek", "summary")
SLOTS = DAILY_SLOTS + WEEKLY_SLOTS
SLOT_DEFAULTS = {
    "chain": "08:00",
    "remind": "21:00",
    "digest": "22:00",
    "midweek": "wed 20:00",
    "summary": "sun 21:00",
}
WEEKDAYS = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "周一": 0, "周二": 1, "周三": 2, "周四": 3, "周五": 4, "周六": 5, "周日": 6, "周天": 6,
}
SECRET_VARS = ("WECOM_SECRET", "WECOM_TOKEN", "WECOM_ENCODING_AES_KEY", "WECOM_ROBOT_TOKEN",
               "WECOM_ROBOT_ENCODING_AES_KEY", "WECOM_ARCHIVE_SECRET", "WECOM_ARCHIVE_PRIVATE_KEY")
_USERID = re.compile(r"^[A-Za-z0-9_.@\-]{1,64}$")
_KEY = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Slot:
    """A daily (weekday None) or weekly time of day, in the group's timezone."""
    hour: int
    minute: int
    weekday: int | None = None

    def __str__(self) -> str:
        day = "" if self.weekday is None else ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self.weekday] + " "
        return f"{day}{self.hour:02d}:{self.minute:02d}"


@dataclass
class Group:
    key: str
    chat_id: str = ""
    name: str = ""
    leaders: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    webhook_key: str = field(default="", repr=False)
    weekly_goal: int = 3
    timezone: str = "Asia/Shanghai"
    slots: dict[str, Slot | None] = field(default_factory=dict)
    camp_start: date | None = None
    camp_end: date | None = None
    # one camp's words (None: the defaults of handlers.checkin / handlers.daily)
    keywords: tuple[str, ...] | None = None
    link_hosts: tuple[str, ...] | None = None
    chain_template: str = ""
    # display names given in the config (`lulu:小鹿`); names learnt from posts take over later
    display_names: dict[str, str] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def display(self) -> str:
        return self.name or self.key


@dataclass
class Settings:
    corp_id: str = ""
    agent_id: str = ""
    secret: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    aes_key: str = field(default="", repr=False)
    robot_token: str = field(default="", repr=False)
    robot_aes_key: str = field(default="", repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    simulated: bool = False
    redis_url: str = ""
    data_dir: str = "var"
    timezone: str = "Asia/Shanghai"
    admins: tuple[str, ...] = ()
    weekly_goal: int = 3
    groups: dict[str, Group] = field(default_factory=dict)
    quiet_hours: tuple[int, int, int, int] | None = (22, 30, 8, 0)
    silent_days: int = 3
    catchup_grace_minutes: int = 120
    dry_run: bool = False
    max_body: int = 256 * 1024
    callback_max_age: int = 3600     # BOT_CALLBACK_MAX_AGE: older signed callbacks are refused (0: no limit)
    notice_ack_hours: int = 4
    # --- message archive (会话内容存档, issue 8): fields; parsed in the block of the same name in load()
    archive_sdk_path: str = ""                                     # WECOM_ARCHIVE_SDK_PATH
    archive_secret: str = field(default="", repr=False)            # WECOM_ARCHIVE_SECRET
    archive_private_key: str = field(default="", repr=False)       # WECOM_ARCHIVE_PRIVATE_KEY, as PEM text
    archive_proxy: str = ""                                        # WECOM_ARCHIVE_PROXY
    archive_proxy_password: str = field(default="", repr=False)    # WECOM_ARCHIVE_PROXY_PASSWORD
    archive_timeout: int = 10                                      # WECOM_ARCHIVE_TIMEOUT, seconds
    archive_batch: int = 1000                                      # WECOM_ARCHIVE_BATCH, records per call
    # --- message archive: end of fields
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def group_by_chat(self, chat_id: str) -> Group | None:
        return self._by_chat().get(chat_id)

    def _by_chat(self) -> dict[str, Group]:
        cache = getattr(self, "_chat_cache", None)
        if cache is None:
            cache = {g.chat_id: g for g in self.groups.values() if g.chat_id}
            object.__setattr__(self, "_chat_cache", cache)
        return cache

    def group(self, key: str) -> Group | None:
        return self.groups.get(key.lower())

    def groups_led_by(self, userid: str) -> list[Group]:
        if userid in self.admins:
            return list(self.groups.values())
        return [g for g in self.groups.values() if userid in g.leaders]

    def secrets(self) -> list[str]:
        """Every configured secret value, for log redaction and leak tests."""
        values = [self.secret, self.token, self.aes_key, self.robot_token, self.robot_aes_key,
                  self.archive_secret, self.archive_proxy_password]
        values += [g.webhook_key for g in self.groups.values()]
        # a PEM key is masked by its body's lines (a log line holds at most one of them)
        values += [line.strip() for line in self.archive_private_key.splitlines()
                   if line.strip() and not line.startswith("-----")]
        return [v for v in values if v and len(v) >= 6]


class ConfigError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").replace("，", ",").split(",") if p.strip())


def parse_slot(text: str, weekly: bool) -> Slot | None:
    """`HH:MM` (daily) or `wed 20:00` / `周三 20:00` (weekly); `off` gives None; ValueError otherwise."""
    text = text.strip()
    if text.lower() == "off":
        return None
    weekday = None
    if weekly:
        parts = text.split()
        if len(parts) != 2 or parts[0].lower()[:3] not in WEEKDAYS and parts[0] not in WEEKDAYS:
            raise ValueError("expected a weekday and a time, e.g. `wed 20:00` or `周三 20:00`, or `off`")
        day = parts[0] if parts[0] in WEEKDAYS else parts[0].lower()[:3]
        weekday, text = WEEKDAYS[day], parts[1]
    m = _HHMM.match(text)
    if not m:
        raise ValueError("expected a time HH:MM (00:00-23:59)" + (" after the weekday" if weekly else "") + ", or `off`")
    return Slot(int(m.group(1)), int(m.group(2)), weekday)


def _parse_quiet(text: str) -> tuple[int, int, int, int] | None:
    if text.strip().lower() == "off":
        return None
    a, sep, b = text.partition("-")
    ma, mb = _HHMM.match(a.strip()), _HHMM.match(b.strip())
    if not sep or not ma or not mb:
        raise ValueError("expected `HH:MM-HH:MM`, e.g. 22:30-08:00, or `off`")
    return int(ma.group(1)), int(ma.group(2)), int(mb.group(1)), int(mb.group(2))


def _people(value: str | None) -> tuple[tuple[str, ...], dict[str, str]]:
    """`lulu:小鹿,qing,momo：Momo` -> (("lulu", "qing", "momo"), {"lulu": "小鹿", "momo": "Momo"})."""
    ids, names = [], {}
    for item in _csv(value):
        uid, _, name = item.replace("：", ":").partition(":")
        uid, name = uid.strip(), name.strip()
        ids.append(uid)
        if name:
            names[uid] = name
    return tuple(ids), names


def _camp_words(get, prefix: str, keywords, hosts, template: str, problems: list[str]):
    """<prefix>CHECKIN_KEYWORDS, <prefix>LINK_HOSTS, <prefix>CHAIN_TEMPLATE over the given defaults.
    A list that starts with `+` adds to the defaults instead of replacing them."""
    raw = get(prefix + "CHECKIN_KEYWORDS")
    if raw:
        words = _csv(raw.lstrip("+").strip())
        if not words:
            problems.append(f"{prefix}CHECKIN_KEYWORDS={raw!r}: expected comma-separated words, e.g. 打卡,已更 "
                            "(start with + to add to the built-in ones)")
        elif raw.startswith("+"):
            keywords = ("+",) + tuple(w for w in (keywords or ()) if w != "+") + words
        else:
            keywords = words
    raw = get(prefix + "LINK_HOSTS")
    if raw:
        from handlers.checkin import DEFAULT_LINK_HOSTS
        found = _csv(raw.lstrip("+").strip())
        bad = [h for h in found if not re.match(r"^(?:https?://)?[A-Za-z0-9.-]+\.[A-Za-z]{2,}/?$", h)]
        if bad or not found:
            problems.append(f"{prefix}LINK_HOSTS={raw!r}: expected comma-separated host names, e.g. "
                            "xhslink.com,mp.weixin.qq.com (start with + to add to the built-in ones)")
        elif raw.startswith("+"):
            hosts = tuple(hosts or DEFAULT_LINK_HOSTS) + found
        else:
            hosts = found
    template = get(prefix + "CHAIN_TEMPLATE") or template
    if len(template) > 60:
        problems.append(f"{prefix}CHAIN_TEMPLATE: at most 60 characters (it is the 例 line of the morning 接龙)")
        template = template[:60]
    return keywords, hosts, template


def read_environment(environ: dict[str, str] | None = None, env_file: str | os.PathLike | None = None) -> dict[str, str]:
    """The env file (BOT_ENV_FILE, default ./.env) overlaid by the real environment."""
    environ = dict(os.environ if environ is None else environ)
    path = Path(env_file or environ.get("BOT_ENV_FILE") or ".env")
    merged: dict[str, str] = {}
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        # python-dotenv's ${VAR} interpolation copies the environment once per variable, which
        # takes minutes for a camp of 10,000 groups: only pay for it when the file uses it.
        values = dotenv_values(stream=io.StringIO(text), interpolate="${" in text)
        merged.update({k: v for k, v in values.items() if v is not None})
    merged.update(environ)
    return merged


def load(environ: dict[str, str] | None = None, env_file: str | os.PathLike | None = None,
         strict: bool = False) -> Settings:
    env = read_environment(environ, env_file)
    s = Settings()
    problems = s.problems

    def get(name: str, default: str = "") -> str:
        return env.get(name, default).strip()

    def integer(name: str, default: int, low: int, high: int) -> int:
        raw = get(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            problems.append(f"{name}={raw!r}: expected a whole number from {low} to {high}")
            return default
        if not low <= value <= high:
            problems.append(f"{name}={raw!r}: expected a whole number from {low} to {high}")
            return default
        return value

    def timezone(name: str, default: str) -> str:
        raw = get(name) or default
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"{name}={raw!r}: not an IANA timezone (e.g. Asia/Shanghai, Europe/Berlin)")
            return default
        return raw

    def day(name: str) -> date | None:
        raw = get(name)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            problems.append(f"{name}={raw!r}: expected a date YYYY-MM-DD")
            return None

    s.corp_id = get("WECOM_CORP_ID")
    s.agent_id = get("WECOM_AGENT_ID")
    s.secret = get("WECOM_SECRET")
    s.token = get("WECOM_TOKEN")
    s.aes_key = get("WECOM_ENCODING_AES_KEY")
    s.robot_token = get("WECOM_ROBOT_TOKEN")
    s.robot_aes_key = get("WECOM_ROBOT_ENCODING_AES_KEY")
    s.redis_url = get("REDIS_URL")
    s.data_dir = get("BOT_DATA_DIR", "var")
    s.dry_run = get("BOT_DRY_RUN").lower() in ("1", "true", "yes", "on")
    # WeCom signs each delivery with the time it sent it and retries within seconds: a callback signed
    # long ago is a replay (a recorded `移除 小鹿` must not run again). 0 turns the window off, for
    # replaying recorded callbacks in tests and the demo.
    s.callback_max_age = integer("BOT_CALLBACK_MAX_AGE", 3600, 0, 366 * 86400)

    base = get("WECOM_API_BASE_URL")
    s.simulated = not s.corp_id and not base
    if s.simulated:
        # Nothing configured: talk to the simulator that the web process serves itself.
        s.api_base_url = f"http://127.0.0.1:{get('PORT', '8000') or '8000'}{SIM_PATH}"
        s.corp_id, s.agent_id, s.secret = DEV_CORP_ID, s.agent_id or "1000002", s.secret or "simsecret"
        s.token, s.aes_key = s.token or DEV_TOKEN, s.aes_key or DEV_AES_KEY
        s.robot_token, s.robot_aes_key = s.robot_token or DEV_TOKEN, s.robot_aes_key or DEV_AES_KEY
        s.notes.append("no WECOM_CORP_ID: running against the built-in WeCom simulator")
    else:
        s.api_base_url = base or DEFAULT_API_BASE_URL
        if not re.match(r"^https?://[^\s/]+", s.api_base_url):
            problems.append(f"WECOM_API_BASE_URL={s.api_base_url!r}: expected an http(s) URL")
        if not s.api_base_url.endswith("/"):
            s.api_base_url += "/"
        for name in ("WECOM_CORP_ID", "WECOM_AGENT_ID", "WECOM_SECRET"):
            if not get(name):
                problems.append(f"{name} is missing: the app needs WECOM_CORP_ID, WECOM_AGENT_ID and WECOM_SECRET")
        if s.agent_id and not s.agent_id.isdigit():
            problems.append(f"WECOM_AGENT_ID={s.agent_id!r}: expected the app's numeric AgentId")
        if not (s.token and s.aes_key) and not (s.robot_token and s.robot_aes_key):
            problems.append("WECOM_TOKEN/WECOM_ENCODING_AES_KEY or WECOM_ROBOT_TOKEN/WECOM_ROBOT_ENCODING_AES_KEY: "
                            "set at least one callback (the app's or the robots')")
    for name, value in (("WECOM_ENCODING_AES_KEY", s.aes_key), ("WECOM_ROBOT_ENCODING_AES_KEY", s.robot_aes_key)):
        if value and (len(value) != 43 or not re.match(r"^[A-Za-z0-9+/]{43}$", value)):
            problems.append(f"{name}: must be exactly 43 letters and digits as WeCom shows it (got {len(value)} characters)")
    for name, token, key in (("WECOM_TOKEN", s.token, s.aes_key), ("WECOM_ROBOT_TOKEN", s.robot_token, s.robot_aes_key)):
        if bool(token) != bool(key):
            other = name.replace("TOKEN", "ENCODING_AES_KEY")
            problems.append(f"{name if not token else other} is missing: {name} and {other} go together")

    s.timezone = timezone("BOT_TIMEZONE", "Asia/Shanghai")
    s.admins = _csv(get("BOT_ADMINS"))
    for uid in s.admins:
        if not _USERID.match(uid):
            problems.append(f"BOT_ADMINS: {uid!r} is not a WeCom userid (letters, digits, _ . @ -)")
    s.weekly_goal = integer("BOT_WEEKLY_GOAL", 3, 1, 7)
    s.silent_days = integer("BOT_SILENT_DAYS", 3, 1, 60)
    s.catchup_grace_minutes = integer("BOT_CATCHUP_GRACE_MINUTES", 120, 0, 24 * 60)
    try:
        s.quiet_hours = _parse_quiet(get("BOT_QUIET_HOURS", "22:30-08:00") or "22:30-08:00")
    except ValueError as exc:
        problems.append(f"BOT_QUIET_HOURS={get('BOT_QUIET_HOURS')!r}: {exc}")

    default_slots: dict[str, Slot | None] = {}
    for slot in SLOTS:
        name = f"BOT_{slot.upper()}_AT"
        raw = get(name, SLOT_DEFAULTS[slot]) or SLOT_DEFAULTS[slot]
        try:
            default_slots[slot] = parse_slot(raw, slot in WEEKLY_SLOTS)
        except ValueError as exc:
            problems.append(f"{name}={raw!r}: {exc}")
            default_slots[slot] = parse_slot(SLOT_DEFAULTS[slot], slot in WEEKLY_SLOTS)
    camp_start, camp_end = day("BOT_CAMP_START"), day("BOT_CAMP_END")

    keys = _csv(get("BOT_GROUPS"))
    seen_chats: dict[str, str] = {}
    for raw_key in keys:
        key = raw_key.lower()
        if not _KEY.match(raw_key):
            problems.append(f"BOT_GROUPS: {raw_key!r} is not a valid group key (letters, digits and _, at most 32)")
            continue
        if key in s.groups:
            problems.append(f"BOT_GROUPS: {raw_key!r} is listed twice (keys are case-insensitive)")
            continue
        p = f"GROUP_{key.upper()}_"
        g = Group(key=key)
        g.chat_id = get(p + "CHAT_ID")
        g.name = get(p + "NAME")
        g.leaders, leader_names = _people(get(p + "LEADERS"))
        g.members, g.display_names = _people(get(p + "MEMBERS"))
        g.display_names = {**leader_names, **g.display_names}
        g.webhook_key = get(p + "WEBHOOK_KEY")
        g.weekly_goal = integer(p + "WEEKLY_GOAL", s.weekly_goal, 1, 7)
        g.timezone = timezone(p + "TIMEZONE", s.timezone)
        g.camp_start = day(p + "CAMP_START") or camp_start
        g.camp_end = day(p + "CAMP_END") or camp_end
        if g.camp_start and g.camp_end and g.camp_end < g.camp_start:
            problems.append(f"{p}CAMP_END: {g.camp_end} is before the camp start {g.camp_start}")
        if not g.chat_id:
            problems.append(f"{p}CHAT_ID is missing: set it to the group's ChatId (the bot reports unknown ChatIds to BOT_ADMINS)")
        elif g.chat_id in seen_chats:
            problems.append(f"{p}CHAT_ID: the same chat id is already used by group {seen_chats[g.chat_id]!r}")
        else:
            seen_chats[g.chat_id] = key
        for role, ids in (("LEADERS", g.leaders), ("MEMBERS", g.members)):
            for uid in ids:
                if not _USERID.match(uid):
                    problems.append(f"{p}{role}: {uid!r} is not a WeCom userid (letters, digits, _ . @ -)")
        if not g.leaders and not s.admins:
            problems.append(f"{p}LEADERS is missing: nobody would receive this group's alerts (or set BOT_ADMINS)")
        if g.webhook_key and not re.match(r"^[A-Za-z0-9\-]{8,64}$", g.webhook_key):
            problems.append(f"{p}WEBHOOK_KEY: expected the key=... part of the robot's webhook URL")
        for slot in SLOTS:
            name = f"{p}{slot.upper()}_AT"
            raw = get(name)
            if not raw:
                g.slots[slot] = default_slots[slot]
                continue
            try:
                g.slots[slot] = parse_slot(raw, slot in WEEKLY_SLOTS)
            except ValueError as exc:
                problems.append(f"{name}={raw!r}: {exc}")
                g.slots[slot] = default_slots[slot]
        s.groups[key] = g

    # A GROUP_<KEY>_* variable for a key that BOT_GROUPS does not list is almost always a typo.
    listed = {k.upper() for k in s.groups}
    for name in sorted(env):
        m = re.match(r"^GROUP_([A-Za-z0-9_]+?)_(CHAT_ID|NAME|LEADERS|MEMBERS|WEBHOOK_KEY|WEEKLY_GOAL|TIMEZONE|CHECKIN_KEYWORDS|LINK_HOSTS|CHAIN_TEMPLATE|CAMP_START|CAMP_END)$", name)
        if m and m.group(1).upper() not in listed:
            problems.append(f"{name}: group {m.group(1).lower()!r} is not listed in BOT_GROUPS")

    # --- message archive (会话内容存档, issue 8): begin ------------------------------------------------
    # All three of WECOM_ARCHIVE_SDK_PATH, WECOM_ARCHIVE_SECRET, WECOM_ARCHIVE_PRIVATE_KEY, or none.
    # The private key is PEM text (literal "\n" allowed in env files) or the path to a PEM file; it
    # may hold several keys (key rotation: each is tried). A problem never quotes the key itself.
    s.archive_sdk_path = get("WECOM_ARCHIVE_SDK_PATH")
    s.archive_secret = get("WECOM_ARCHIVE_SECRET")
    s.archive_proxy = get("WECOM_ARCHIVE_PROXY")
    s.archive_proxy_password = get("WECOM_ARCHIVE_PROXY_PASSWORD")
    s.archive_timeout = integer("WECOM_ARCHIVE_TIMEOUT", 10, 1, 300)
    s.archive_batch = integer("WECOM_ARCHIVE_BATCH", 1000, 1, 1000)
    raw_key = get("WECOM_ARCHIVE_PRIVATE_KEY")
    pem = ""
    if raw_key and "-----BEGIN" in raw_key:
        pem = raw_key.replace("\\n", "\n")
    elif raw_key:
        try:
            pem = Path(raw_key).expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"WECOM_ARCHIVE_PRIVATE_KEY: neither PEM text nor a readable PEM file "
                            f"({type(exc).__name__} reading the path)")
    if pem:
        blocks = re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", pem, re.S)
        try:
            from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
            if not blocks or not all(isinstance(load_pem_private_key(b.encode(), password=None), RSAPrivateKey)
                                     for b in blocks):
                raise ValueError
            s.archive_private_key = "\n".join(blocks)
        except Exception:
            problems.append("WECOM_ARCHIVE_PRIVATE_KEY: not an unencrypted PEM RSA private key (the pair of the "
                            "public key set in 管理后台 → 会话内容存档), nor the path to a file holding one")
    archive_vars = {"WECOM_ARCHIVE_SDK_PATH": s.archive_sdk_path, "WECOM_ARCHIVE_SECRET": s.archive_secret,
                    "WECOM_ARCHIVE_PRIVATE_KEY": raw_key}
    if any(archive_vars.values()):
        for name, value in archive_vars.items():
            if not value:
                problems.append(f"{name} is missing: the message archive needs WECOM_ARCHIVE_SDK_PATH, "
                                "WECOM_ARCHIVE_SECRET and WECOM_ARCHIVE_PRIVATE_KEY (or none of them)")
        if s.archive_sdk_path and not Path(s.archive_sdk_path).expanduser().is_file():
            problems.append(f"WECOM_ARCHIVE_SDK_PATH={s.archive_sdk_path!r}: no such file "
                            "(the path to WeCom's libWeWorkFinanceSdk_C.so)")
        if s.simulated:
            problems.append("WECOM_CORP_ID is missing: the message archive needs the real corp id")
    # --- message archive: end --------------------------------------------------------------------------

    # --- announcements and one camp's words (issue 7): begin ------------------------------------------
    s.notice_ack_hours = integer("BOT_NOTICE_ACK_HOURS", 4, 1, 72)
    words = _camp_words(get, "BOT_", None, None, "", problems)
    for g in s.groups.values():
        g.keywords, g.link_hosts, g.chain_template = _camp_words(get, f"GROUP_{g.key.upper()}_", *words, problems)
    # --- announcements and one camp's words: end ---------------------------------------------------------

    # --- the weekly cycle and praise (issue 6): begin ---------------------------------------------------
    # Read here, set on the settings object; workers.weekly.cfg() supplies these defaults for a
    # Settings built by hand. Every problem names the exact variable; a near-miss name in this family
    # (BOT_DOWNGRADE_AFTER_WEEK, BOT_REPLY_RESERVED, ...) is reported instead of silently ignored.
    weekly_vars = ("BOT_DOWNGRADE_AFTER_WEEKS", "BOT_UPGRADE_AFTER_WEEKS", "BOT_TOP_PERFORMERS",
                   "BOT_MIDWEEK_NUDGE", "BOT_PRAISE_STREAKS", "BOT_REPLY_RESERVE")
    s.downgrade_after_weeks = integer("BOT_DOWNGRADE_AFTER_WEEKS", 2, 1, 12)
    s.upgrade_after_weeks = integer("BOT_UPGRADE_AFTER_WEEKS", 2, 1, 12)
    s.top_performers = integer("BOT_TOP_PERFORMERS", 3, 1, 10)
    s.reply_reserve = integer("BOT_REPLY_RESERVE", 3, 0, 19)
    raw_nudge = get("BOT_MIDWEEK_NUDGE", "on").lower() or "on"
    if raw_nudge not in ("on", "off", "1", "0", "true", "false", "yes", "no"):
        problems.append(f"BOT_MIDWEEK_NUDGE={get('BOT_MIDWEEK_NUDGE')!r}: expected on or off")
        raw_nudge = "on"
    s.midweek_nudge = raw_nudge in ("on", "1", "true", "yes")
    raw_streaks = get("BOT_PRAISE_STREAKS", "3,7,14,21,30") or "3,7,14,21,30"
    try:
        streaks = tuple(sorted({int(p) for p in _csv(raw_streaks)}))
        if not streaks or any(n < 2 or n > 1000 for n in streaks):
            raise ValueError
        s.praise_streaks = streaks
    except ValueError:
        problems.append(f"BOT_PRAISE_STREAKS={raw_streaks!r}: expected comma-separated streak lengths from 2 "
                        "to 1000, e.g. 3,7,14,21,30")
        s.praise_streaks = (3, 7, 14, 21, 30)
    for name in sorted(env):
        if name in weekly_vars or name == "BOT_MIDWEEK_AT":
            continue
        if name.startswith(("BOT_DOWNGRADE", "BOT_UPGRADE", "BOT_TOP_PERFORM", "BOT_MIDWEEK_N", "BOT_PRAISE",
                            "BOT_REPLY")):
            import difflib
            near = difflib.get_close_matches(name, weekly_vars, n=1, cutoff=0.6)
            problems.append(f"{name}: unknown variable" + (f"; did you mean {near[0]}?" if near else ""))
    # --- the weekly cycle and praise: end -----------------------------------------------------------------

    if strict and problems:
        raise ConfigError(problems)
    return s


_cached: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, loaded once. Tests call `reset()` after changing the environment."""
    global _cached
    if _cached is None:
        _cached = load()
    return _cached


def reset(settings: Settings | None = None) -> None:
    global _cached
    _cached = settings
