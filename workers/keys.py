"""Every Redis key of the service (prefix `wb:`): the check-in state, the schedule, commands and
announcements, the inbox and outbox streams, the outbox (`wb:out:*`), the WeCom API client, names
from the directory (`wb:dir:*`), the AI bot's open userids and response_urls, and the message archive
(`wb:archive:*`), with the fixed lifetimes (TTLs) of those keys. The other modules
take their keys and TTLs from here and spell none of their own. The `Stream` objects of the inbox and
outbox live in workers/streams.py, on the keys defined here."""

EFFECT_TTL = 8 * 24 * 3600  # how long per-message effect keys live: longer than any replay comes back

ALL = "wb:*"  # every key of the service (what a backup takes)

SEEN_PREFIX = "wb:seen:"  # inbox dedupe per msgid (a cache: left out of backups)
TOKEN_PREFIX = "wb:token:"  # the app's access_token (a credential: never in a backup)
RATE_PREFIX = "wb:out:rate:"  # the outbox's rate-limit windows (a cache)


SEEN_TTL = 24 * 3600  # a msgid seen in the last day is a duplicate (callbacks and archive posts alike)


def seen(msgid: str) -> str:
    return f"{SEEN_PREFIX}{msgid}"


ASK_TTL = 24 * 3600  # a 「是」 counts the asked-about post for this long


def ask(group: str, userid: str) -> str:
    """The post the bot asked a member about (这条算今天的打卡吗？): JSON {day, links}, kept ASK_TTL."""
    return f"wb:g:{group}:ask:{userid}"


def hint_gate(group: str, userid: str) -> str:
    """The msgid of the last "how to check in" hint a member got (expires after prompts.HINT_EVERY)."""
    return f"wb:hint:{group}:{userid}"


def hint_budget(group: str) -> str:
    """Hints let through in the group's current rate window (workers/lua/hint.lua)."""
    return f"wb:hintsent:group:{group}"


def hint_decision(reply_id: str) -> str:
    """Whether the hint answering one post was sent ("1") or held back ("0"): replays decide the same."""
    return f"wb:hintsent:{reply_id}"


def effect(msgid: str, group: str, userid: str) -> str:
    return f"wb:fx:{group}:{userid}:{msgid}"


def days(group: str, userid: str) -> str:
    return f"wb:g:{group}:d:{userid}"


def off(group: str, userid: str) -> str:
    return f"wb:g:{group}:o:{userid}"


def base(group: str) -> str:
    """The group's base day: bit 0 of every member's day bitmaps (checkin.lua sets it: handlers.streaks.first_base)."""
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


SLOT_CLAIM_TTL = 8 * 24 * 3600  # longer than a week: weekly slots and `tick --at` replays stay claimed


def slot(group: str, slot_name: str, local_day: str) -> str:
    """The claim of one slot of a group on a local day (workers/schedule.py), kept SLOT_CLAIM_TTL."""
    return f"wb:slot:{group}:{slot_name}:{local_day}"


METRICS = "wb:metrics"  # the service's counters (a hash), shown by /metrics
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


# --- the schedule (workers/schedule.py) -------------------------------------------------------------
LAST_TICK = "wb:tick:last"  # the latest instant ticked
FORCE_COUNTER = "wb:slot:force"  # INCR per forced re-send (`tick --force`)
SLOTS_PENDING = "wb:slot:pending"  # won claims whose posts have not reached the outbox yet (zset, score = when)


# --- the weekly cycle (workers/weekly.py) and the check-in replies (workers/replies.py) -------------
NOTICES = "wb:notices"  # private notices waiting for the next tick (and the end of quiet hours)
REPLY_GROUPS = "wb:reply:groups"  # groups with gathered check-in replies waiting to be posted


def proposals(group: str) -> str:
    """A member's own goal proposal waiting for a leader: field userid, value JSON {n, at, msgid}."""
    return f"wb:g:{group}:proposals"


SUGGESTION_TTL = 21 * 24 * 3600  # read back by the next week's overview ("were they applied?")
REPLY_ROUTE_TTL = 8 * 24 * 3600  # how long a check-in reply's route is kept (a replay goes the same way)


def suggestions(group: str, week_iso: str) -> str:
    """The weekend report's suggestions (退阶 / 目标) for the week starting `week_iso`: userid -> JSON."""
    return f"wb:g:{group}:suggest:{week_iso}"


def praise_last(group: str) -> str:
    """The praise each member read last: field userid, value `<msgid>|<kind>:<template index>`."""
    return f"wb:g:{group}:praise_last"


PRAISE_GROUP_TTL = 8 * 24 * 3600  # the group's last praise: past that, a repeat is no longer "in a row"


def praise_group_last(group: str) -> str:
    """The praise the group read last, whoever it was for: `<msgid>|<kind>:<template index>` (kept
    PRAISE_GROUP_TTL), so that two members in a row are not praised in the same words."""
    return f"wb:g:{group}:praise_group"


def replies_recent(group: str) -> str:
    """Instant replies queued for the group's robot in the last minute (sorted set, score = time)."""
    return f"wb:g:{group}:replies"


def reply_route(group: str, msgid: str) -> str:
    """How one check-in's reply went out: `post` (on its own) or `buf` (gathered with others), kept
    REPLY_ROUTE_TTL."""
    return f"wb:g:{group}:rr:{msgid}"


def reply_buffer(group: str) -> str:
    """Check-in replies gathered while the robot is near its limit: a list of JSON {id, name, words, at}."""
    return f"wb:g:{group}:reply_buf"


def reply_flushing(group: str) -> str:
    """The gathered replies being posted as one message (kept until it is queued, for a retry)."""
    return f"wb:g:{group}:reply_flush"


# --- announcements (#通知) ---------------------------------------------------------------------------
ANN_DUE = "wb:ann:due"  # "<group>|<msgid>" scored by when to tell the announcer who is silent


def ann(group: str) -> str:
    """Announcements: field msgid, value JSON {by, at, due, text}."""
    return f"wb:g:{group}:ann"


def ann_open(group: str) -> str:
    """Announcements still waiting for their follow-up."""
    return f"wb:g:{group}:ann:open"


def ann_acks(group: str, msgid: str) -> str:
    """userids who posted anything in the group (or 收到 privately) after the announcement."""
    return f"wb:g:{group}:ann:ack:{msgid}"


def confirmed(group: str) -> str:
    """Members learnt from their posts whom the leaders have been told about (workers.newcomers)."""
    return f"wb:g:{group}:confirmed"


CMD_GUARD_TTL = 8 * 24 * 3600  # a command's guard outlives any replay of its message


def cmd_guard(msgid: str) -> str:
    """Set, with the reply, by the transaction that carried out a command's change (exactly once)."""
    return f"wb:cmd:{msgid}"


# --- the leader console (wecom_bot/console/, workers/console_store.py) -------------------------------
# The key that signs console cookies when BOT_SECRET_KEY is unset: generated once, kept without a TTL
# under TOKEN_PREFIX, so that (like the access_token, a credential) it never goes into a backup.
CONSOLE_SECRET = f"{TOKEN_PREFIX}console:secret"
CONSOLE_STATE_TTL = 600  # an OAuth state not come back from WeCom within ten minutes is refused
CONSOLE_SESSION_TTL = 12 * 3600  # a console session (its signed cookie) lasts twelve hours


def console_state(state: str) -> str:
    """One OAuth `state`: JSON {browser (a hash of the browser's cookie), next}; taken once (GETDEL)."""
    return f"wb:console:state:{state}"


# --- the inbox and outbox streams (their Stream objects: workers/streams.py) -----------------------
INBOX = "wb:inbox"  # callbacks and archive posts waiting for ingest
OUTBOX = "wb:outbox"  # messages waiting to be sent (workers/outbound.py)


STREAM_WAKE_TTL = 30  # a wake flag whose drain job never started is set again after this


def stream_wake(stream_key: str) -> str:
    """The wake flag: set (STREAM_WAKE_TTL) by the writer that woke a drain job, cleared when the drain starts."""
    return stream_key + ":wake"


def stream_dead(stream_key: str) -> str:
    """Entries that failed streams.MAX_DELIVERIES times (a list, the newest kept): `wecom-bot dead`."""
    return stream_key + ":dead"


# --- the outbox (workers/outbound.py) --------------------------------------------------------------
OUT_DELAYED = "wb:out:delayed"  # messages waiting for their time: zset of "<seq>:<payload>", score = due
OUT_FAILED = "wb:out:failed"  # the failed registry: hash id -> JSON (`wecom-bot failed`)
OUT_SEQ = "wb:out:seq"  # orders delayed messages due at the same time
OUT_RESENDS = "wb:out:resends"  # resends of a failed message so far: hash origin id -> n
OUT_STATE_PREFIX = "wb:out:state:"  # per message: queued / sending / retry / sent / failed (out_state)
OUT_STATE_TTL = 7 * 24 * 3600  # how long a message's state stays readable after its last change
OUT_SEEN_TTL = 7 * 24 * 3600  # how long a second post of the same message id is a no-op


def out_state(msg_id: str) -> str:
    """One outbound message's state: a hash {status, updated, attempts, unknown}."""
    return OUT_STATE_PREFIX + msg_id


def out_seen(msg_id: str) -> str:
    """Set once a message id was posted to the outbox: a second post of the same id is a no-op."""
    return "wb:out:seen:" + msg_id


def out_streak(alert: str) -> str:
    """Sends failed in a row on one channel (named as its admin alert names it)."""
    return "wb:out:streak:" + alert


def out_alerted(day: str) -> str:
    """The problems the admins were told about on a local day (YYYY-MM-DD): once per problem a day."""
    return f"wb:out:alerted:{day}"


def rate_user(userid: str) -> str:
    """The send times of app messages to one user (the outbox's rate window, RATE_PREFIX)."""
    return f"{RATE_PREFIX}user:{userid}"


def rate_robot(webhook_hash: str) -> str:
    """The send times of one group robot, named by a hash of its webhook key (never the key)."""
    return f"{RATE_PREFIX}robot:{webhook_hash}"


def rate_chat(chatid: str) -> str:
    """The send times of one appchat chat."""
    return f"{RATE_PREFIX}chat:{chatid}"


# --- the WeCom API client (workers/sender.py) ------------------------------------------------------
def token(corp_id: str, agent_id) -> str:
    """The app's cached access_token (TOKEN_PREFIX: left out of backups)."""
    return f"{TOKEN_PREFIX}{corp_id}:{agent_id}"


TOKEN_LOCK_MS = 10_000  # the token fetch lock: a fetch that dies lets the next one in after this


def token_lock(corp_id: str, agent_id) -> str:
    """Held (TOKEN_LOCK_MS) by the one process fetching a new access_token."""
    return token(corp_id, agent_id) + ":lock"


# --- names from the directory (workers/directory.py) ----------------------------------------------
DIR_NAMES = "wb:dir:names"  # userid -> display name from user/get (corp-wide: one name per userid)
DIR_CHECKED = "wb:dir:checked"  # userid -> when user/get last answered for it (a name or "no such user")
DIR_MISSES = "wb:dir:misses"  # group key -> when a miss last fetched its names (zset, score = unix time)
DIR_MISS_EVERY = 60.0  # seconds: a group's names are fetched on a miss at most this often


def dir_daily(local_day: str) -> str:
    """The claim of the daily directory refresh of a local day (YYYY-MM-DD), kept SLOT_CLAIM_TTL."""
    return f"wb:dir:daily:{local_day}"


# --- the AI bot (智能机器人, workers/aibot.py) --------------------------------------------------------
AIBOT_URL_TTL = 3600  # WeCom's response_url is usable once, within an hour of the post


def aibot_url(msgid: str) -> str:
    """The response_url of one AI-bot post: a hash {url, spent, tried} (a capability URL: under
    TOKEN_PREFIX, so a credential left out of backups), marked spent once it answered, expiring with
    the hour WeCom gives it."""
    return f"{TOKEN_PREFIX}aibot:{msgid}"


OPENID_TTL = 30 * 24 * 3600  # an open userid's userid: stable for the corp and app
OPENID_MISS_TTL = 3600  # an open userid WeCom would not convert: asked again after this


def openid(open_userid: str) -> str:
    """The userid an encrypted open userid converts to ("" when WeCom would not convert it)."""
    return f"wb:openid:{open_userid}"


# --- the message archive (workers/archive/) ----------------------------------------------------------
ARCHIVE_SEQ = "wb:archive:seq"  # the cursor: the last seq whose record is done
ARCHIVE_LOCK = "wb:archive:lock"  # the pull lock: a random token with a TTL (ARCHIVE_LOCK_TTL_MS)
ARCHIVE_AGAIN = "wb:archive:again"  # set by a puller that found the lock taken: the holder pulls once more
ARCHIVE_QUEUED = "wb:archive:queued"  # a pull job is queued and has not started yet (tick, msgaudit_notify)
ARCHIVE_PARKED = "wb:archive:parked"  # hash seq -> JSON {seq, msgid, publickey_ver, error, at}
ARCHIVE_FROM = "wb:archive:from"  # ms when the cursor was found missing: the catch-up skips older posts
ARCHIVE_ROOMS = "wb:archive:rooms"  # hash roomid -> posts of configured people seen there (no content)
ARCHIVE_ROOMS_LAST = "wb:archive:rooms:last"  # hash roomid -> epoch seconds of the latest such post

ARCHIVE_LOCK_TTL_MS = 60_000  # the pull lock (and the "pull again" flag), renewed per batch
ARCHIVE_QUEUED_TTL = 120  # a queued pull that never starts (workers down) is queued again after this
ARCHIVE_MARK_TTL = 26 * 3600  # a recall counts only on the same local day: a day and some slack
ARCHIVE_RECALLED_TTL = 8 * 24 * 3600  # how long a recall is remembered for a parked post fetched again
ARCHIVE_ROOMS_TTL = 30 * 24 * 3600  # the room tally (`wecom-bot archive --rooms`), renewed as posts come


def archive_posted(msgid: str) -> str:
    """`<group> <userid> <day>` of an archive post, kept while a recall can still un-count it
    (ARCHIVE_MARK_TTL, like the two sets below)."""
    return f"wb:archive:m:{msgid}"


def archive_member_day(group: str, userid: str, day: int) -> str:
    """The archive msgids a member posted on a day (the other posts that may carry a recalled day)."""
    return f"wb:archive:ud:{group}:{userid}:{day}"


def archive_day_chains(group: str, day: int) -> str:
    """The archive msgids of the 接龙 posts of a group's day: a leader's chain credits others, so it
    may carry the day of a member whose own post was recalled, and its own recall un-counts them."""
    return f"wb:archive:ch:{group}:{day}"


def archive_recalled(msgid: str) -> str:
    """Set once a post was recalled (ARCHIVE_RECALLED_TTL): a crash re-read that files it again never
    lets it carry a day."""
    return f"wb:archive:x:{msgid}"


# --- the camp's routine: the bot's own private notes, goals asked privately ------------------------

INITIATIVE_TTL = 2 * 24 * 3600  # a member's day budget outlives the local day in every timezone


def initiative(userid: str, local_day: str) -> str:
    """The private notes the bot sent `userid` on its own initiative on one local day (hash note id ->
    1; workers/lua/initiative.lua keeps it within the day's budget, workers/initiative.py)."""
    return f"wb:init:{userid}:{local_day}"


GOAL_ASK_TTL = 400 * 24 * 3600  # a camp's question state outlives the camp; renewed on each write


def goal_ask(group: str) -> str:
    """Hash userid -> `asked:<day>` / `reminded:<day>` / `done:<day>`: the private question about a
    member's weekly goal (workers/goal_ask.py)."""
    return f"wb:g:{group}:goalask"


def ann_chased(group: str) -> str:
    """Hash announcement msgid -> how many silent members the bot chased privately (workers.announce)."""
    return f"wb:g:{group}:ann:chased"


# --- pictures (workers/pictures) -------------------------------------------------------------------

PICTURE_PREFIX = "wb:pic:"  # rendered pictures (a cache: rendered again if lost)
PICTURE_TTL = 6 * 3600  # outlives a send's retries (~3 min) and rate-limit delays; short, the bytes are big
BADGE_DAY_TTL = 2 * 24 * 3600  # one badge picture per member and local day, in every timezone


def picture(render_id: str) -> str:
    """The PNG bytes of one rendered picture (`slot:xhs01:summary:2026-11-29:wall`, ...): rendered at
    most once per slot and group, read by every send and retry of the messages that show it."""
    return f"{PICTURE_PREFIX}{render_id}"


def badge_day(group: str, userid: str, local_day: str) -> str:
    """The decision (a check-in's msgid, or the weekly slot's id for 本周之星) that earned a member's
    badge picture on one local day, kept BADGE_DAY_TTL (workers/lua/badge_claim.lua: one a day; the
    same decision asked again is granted again, so its retry re-sends the same message id)."""
    return f"wb:badge:{group}:{userid}:{local_day}"


# A milestone's badge waits for the next minute tick (after its text reply, off the reply's path):
BADGE_PENDING = "wb:badge:pending"  # list of JSON badges claimed, not yet queued; kept BADGE_QUEUE_TTL
BADGE_SENDING = "wb:badge:sending"  # the batch a tick took and is queueing (taken again by a retry)
BADGE_QUEUE_TTL = 24 * 3600  # refreshed at each push; a badge a day late is noise, dropped with the key
