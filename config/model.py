"""What the settings hold: the Settings and Group dataclasses, each field declared once with its default."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

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
    "summary": "sun 20:00",  # before the evening reminder (21:00), not in the same minute
}
SECRET_VARS = (
    "WECOM_SECRET",
    "WECOM_TOKEN",
    "WECOM_ENCODING_AES_KEY",
    "WECOM_ROBOT_TOKEN",
    "WECOM_ROBOT_ENCODING_AES_KEY",
    "WECOM_AIBOT_TOKEN",
    "WECOM_AIBOT_ENCODING_AES_KEY",
    "WECOM_ARCHIVE_SECRET",
    "WECOM_ARCHIVE_PRIVATE_KEY",
    "BOT_SECRET_KEY",
)
DEFAULT_PRAISE_STREAKS = (3, 7, 14, 21, 30)


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
    room_id: str = ""  # GROUP_<KEY>_ROOM_ID: its roomid in the message archive (the loader defaults it to chat_id)
    name: str = ""
    leaders: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    webhook_key: str = field(default="", repr=False)
    weekly_goal: int = 3
    timezone: str = "Asia/Shanghai"
    slots: dict[str, Slot | None] = field(default_factory=dict)
    camp_start: date | None = None
    camp_end: date | None = None
    # One camp's words; None: the built-in ones of handlers.checkin / handlers.daily. A tuple that
    # starts with "+" means the built-in ones and the rest (`BOT_CHECKIN_KEYWORDS=+读完了`,
    # `BOT_LINK_HOSTS=+mp.weixin.qq.com`); handlers.checkin applies the built-in ones.
    keywords: tuple[str, ...] | None = None
    link_hosts: tuple[str, ...] | None = None
    chain_template: str = ""
    notice_chase: bool | None = None  # GROUP_<KEY>_NOTICE_CHASE; None: BOT_NOTICE_CHASE
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
    # the self-built app, the group robots and the AI bot (WECOM_*)
    corp_id: str = ""
    agent_id: str = ""
    secret: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    aes_key: str = field(default="", repr=False)
    robot_token: str = field(default="", repr=False)
    robot_aes_key: str = field(default="", repr=False)
    aibot_token: str = field(default="", repr=False)  # WECOM_AIBOT_TOKEN: the 智能机器人's callback
    aibot_aes_key: str = field(default="", repr=False)  # WECOM_AIBOT_ENCODING_AES_KEY
    api_base_url: str = DEFAULT_API_BASE_URL
    simulated: bool = False
    # the service
    redis_url: str = ""
    data_dir: str = "var"
    font_path: str = ""  # BOT_FONT_PATH: a CJK font file for the pictures; "off": text only; unset: fontconfig
    dry_run: bool = False
    max_body: int = 256 * 1024
    callback_max_age: int = 3600  # BOT_CALLBACK_MAX_AGE: older signed callbacks are refused (0: no limit)
    # the leader console (wecom_bot/console/)
    public_url: str = ""  # BOT_PUBLIC_URL: https://host[/prefix] WeCom reaches, no trailing slash
    secret_key: str = field(default="", repr=False)  # BOT_SECRET_KEY: signs console cookies (else kept in Redis)
    ww_verify: tuple[str, str] | None = field(default=None, repr=False)  # BOT_WW_VERIFY_FILE: (name, content)
    # the camp and its groups
    timezone: str = "Asia/Shanghai"
    admins: tuple[str, ...] = ()
    weekly_goal: int = 3
    groups: dict[str, Group] = field(default_factory=dict)
    quiet_hours: tuple[int, int, int, int] | None = (22, 30, 8, 0)
    silent_days: int = 3
    catchup_grace_minutes: int = 120
    notice_ack_hours: int = 4
    # the weekly cycle and praise
    downgrade_after_weeks: int = 2  # BOT_DOWNGRADE_AFTER_WEEKS
    upgrade_after_weeks: int = 2  # BOT_UPGRADE_AFTER_WEEKS
    top_performers: int = 3  # BOT_TOP_PERFORMERS
    midweek_nudge: bool = True  # BOT_MIDWEEK_NUDGE
    notice_chase: bool = False  # BOT_NOTICE_CHASE: the bot asks the silent members of a #通知 privately
    praise_streaks: tuple[int, ...] = DEFAULT_PRAISE_STREAKS  # BOT_PRAISE_STREAKS
    reply_reserve: int = 3  # BOT_REPLY_RESERVE
    # the message archive (会话内容存档)
    archive_sdk_path: str = ""  # WECOM_ARCHIVE_SDK_PATH
    archive_secret: str = field(default="", repr=False)  # WECOM_ARCHIVE_SECRET
    archive_private_key: str = field(default="", repr=False)  # WECOM_ARCHIVE_PRIVATE_KEY, as PEM text
    archive_proxy: str = ""  # WECOM_ARCHIVE_PROXY
    archive_proxy_password: str = field(default="", repr=False)  # WECOM_ARCHIVE_PROXY_PASSWORD
    archive_timeout: int = 10  # WECOM_ARCHIVE_TIMEOUT, seconds
    archive_batch: int = 1000  # WECOM_ARCHIVE_BATCH, records per call
    # what load() found wrong (each naming the exact variable) and what it wants said
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _chat_cache: dict[str, Group] | None = field(default=None, init=False, repr=False, compare=False)

    def group_by_chat(self, chat_id: str) -> Group | None:
        return self._by_chat().get(chat_id)

    def _by_chat(self) -> dict[str, Group]:
        if self._chat_cache is None:
            self._chat_cache = {g.chat_id: g for g in self.groups.values() if g.chat_id}
        return self._chat_cache

    def group(self, key: str) -> Group | None:
        return self.groups.get(key.lower())

    def leaders_of(self, group: Group) -> list[str]:
        """Who hears about `group` privately (digests, alerts, reports): its leaders, else the admins."""
        return list(group.leaders) or list(self.admins)

    def leads(self, userid: str, group: Group) -> bool:
        """May `userid` act as a leader of `group` (its leaders and every admin may)."""
        return userid in self.admins or userid in group.leaders

    def archive_configured(self) -> bool:
        """The message archive sees every group post (else only posts that @ the robot reach the bot)."""
        return bool(self.archive_sdk_path and self.archive_secret and self.archive_private_key)

    def chases(self, group: Group) -> bool:
        """Does the bot chase the members who have not answered `group`'s #通知 (夺命连环call)."""
        return self.notice_chase if group.notice_chase is None else group.notice_chase

    def groups_led_by(self, userid: str) -> list[Group]:
        if userid in self.admins:
            return list(self.groups.values())
        return [g for g in self.groups.values() if userid in g.leaders]

    def secrets(self) -> list[str]:
        """Every configured secret value, for log redaction and leak tests."""
        values = [
            self.secret,
            self.token,
            self.aes_key,
            self.robot_token,
            self.robot_aes_key,
            self.aibot_token,
            self.aibot_aes_key,
            self.archive_secret,
            self.archive_proxy_password,
            self.secret_key,
        ]
        values += [g.webhook_key for g in self.groups.values()]
        # a PEM key is masked by its body's lines (a log line holds at most one of them)
        values += [
            line.strip()
            for line in self.archive_private_key.splitlines()
            if line.strip() and not line.startswith("-----")
        ]
        return [v for v in values if v and len(v) >= 6]


class ConfigError(Exception):
    def __init__(self, problems: list[str]):
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems
