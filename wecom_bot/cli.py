"""The `wecom-bot` command line (also `python -m wecom_bot`).

Each subcommand imports the modules of its own when it runs, so that a quick one (stats, audit) loads
neither RQ, the scheduler, the exporters (openpyxl), the message archive nor the simulator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from config import readiness, running
from config.settings import ConfigError, Group, Settings, get_settings, load, reset
from handlers.calendar import day_index, day_of, parse_instant
from wecom_bot.logs import SecretMasker, configure_logging
from wecom_bot.terminal import display_width, pad, sources_of
from workers.connection import get_redis

SIGPIPE_EXIT = 141  # 128 + SIGPIPE: what a shell reports for a command whose reader went away


def _settings(strict: bool = False) -> Settings:
    if strict:
        try:
            s = load(strict=True)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            sys.exit(2)
        reset(s)
        return s
    return get_settings()


# Commands that choose their settings themselves: `run` decides the env file it runs with (and notes it
# for the others), `demo` brings its own, `check-config` checks what a fresh start would read.
OWN_SETTINGS = frozenset({"run", "demo", "check-config"})


def _find_service_env_file() -> None:
    """With BOT_ENV_FILE unset and no ./.env, read the env file the service on this machine runs with
    (noted by `wecom-bot run` under var/, config/running.py), and say so once, on stderr."""
    if os.environ.get("BOT_ENV_FILE") or running.in_effect(os.environ) is not None:
        return
    path = running.recalled()
    if path is None:
        return
    os.environ["BOT_ENV_FILE"] = str(path)
    reset()
    print(
        f"wecom-bot: using {path}, the env file the service was started with ({running.MARKER}); "
        "set BOT_ENV_FILE to read another",
        file=sys.stderr,
    )


def _group(settings: Settings, key: str) -> Group:
    group = settings.group(key)
    if group is None:
        known = ", ".join(settings.groups) or "none configured"
        print(f"unknown group {key!r} (BOT_GROUPS: {known})", file=sys.stderr)
        sys.exit(2)
    return group


def cmd_worker(args: argparse.Namespace) -> int:
    from rq import SimpleWorker

    from workers.jobs import QUEUES

    settings = _settings(strict=True)
    configure_logging(settings)
    worker = SimpleWorker(list(QUEUES), connection=get_redis())
    sender = None
    if args.sender and not args.burst:
        from workers.outbox_sender import OutboxSender

        # the outbox sent beside the jobs, as soon as it is queued (issue 18)
        sender = OutboxSender(get_redis(), settings)
        sender.start()
    try:
        worker.work(burst=args.burst, with_scheduler=True)
    finally:
        if sender is not None:
            sender.stop()
    return 0


def cmd_cron(args: argparse.Namespace) -> int:
    from rq.cron import CronScheduler

    configure_logging(_settings(strict=True))
    scheduler = CronScheduler(connection=get_redis())
    scheduler.load_config_from_file("workers.cron_config")
    scheduler.start()
    return 0


def cmd_tick(args: argparse.Namespace) -> int:
    from workers import schedule

    settings = _settings(strict=True)
    at = datetime.now(timezone.utc)
    if args.at:
        at = parse_instant(args.at, ZoneInfo(settings.timezone))
    result = schedule.tick(at.timestamp(), force=args.force)
    for line in result.get("lines", []):
        print(line)
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    from workers.register import stats_json

    settings = _settings()
    group = _group(settings, args.group)
    if args.date:
        try:
            day = day_index(date.fromisoformat(args.date))
        except ValueError:
            print(f"--date {args.date!r}: expected YYYY-MM-DD", file=sys.stderr)
            return 2
    else:
        day = day_of(datetime.now(timezone.utc).timestamp(), group.tz)
    data = stats_json(get_redis(), group, day)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    print(f"{group.display}（{group.key}） {data['date']}")
    names = [str(m["name"]) for m in data["members"]]
    width = max([12, *(display_width(n) + 2 for n in names)])
    print(
        pad("成员", width)
        + pad("今日", 6)
        + pad("连续", 6, ">")
        + pad("最长", 6, ">")
        + pad("累计", 6, ">")
        + pad("本周", 8, ">")
    )
    for m in data["members"]:
        mark = "✅" if m["checked_in"] else "—"
        week = f"{m['week_count']}/{m['week_goal']}"
        print(
            pad(str(m["name"]), width)
            + pad(mark, 6)
            + pad(str(m["streak"]), 6, ">")
            + pad(str(m["longest_streak"]), 6, ">")
            + pad(str(m["total"]), 6, ">")
            + pad(week, 8, ">")
        )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from workers import export

    settings = _settings()
    group = _group(settings, args.group)
    export.write(get_redis(), group, args.format, args.output)
    print(f"wrote {args.output}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from workers import audit

    settings = _settings()
    group = _group(settings, args.group)
    r = get_redis()
    if args.json:
        for entry in audit.entries(r, group.key, args.limit):
            print(json.dumps(entry, ensure_ascii=False))
        return 0
    lines = audit.lines(r, group.key, group.tz, args.limit)
    if not lines:
        print(f"{group.display}（{group.key}）: no changes recorded")
        return 0
    for line in lines:
        print(line)
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from workers import backup

    _settings()
    n = backup.dump(get_redis(), args.output)
    print(f"saved {n} keys to {args.output}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from workers import backup

    _settings()
    n = backup.load(get_redis(), args.file)
    print(f"restored {n} keys from {args.file}")
    return 0


def cmd_failed(args: argparse.Namespace) -> int:
    from workers import outbound

    _settings()
    r = get_redis()
    items = outbound.failed_list(r)
    if not items:
        print("no failed sends")
        return 0
    for item in items:
        msg = item.get("msg", {})
        target = msg.get("group") or ",".join(msg.get("users", []))
        print(
            f"{item.get('id', msg.get('id'))}  to {msg.get('to')}:{target}  error {item.get('error')}  "
            f"attempts {item.get('attempts')}  {msg.get('content', '')[:40]!r}"
        )
    if args.resend:
        print(f"re-queued {outbound.resend_failed(r)} message(s)")
    return 0


def cmd_dead(args: argparse.Namespace) -> int:
    """Inbox and outbox entries that failed MAX_DELIVERIES times; --requeue processes them again."""
    from workers import streams

    settings = _settings()
    r = get_redis()
    mask = SecretMasker(settings.secrets()).mask
    total = 0
    for stream in (streams.INBOX, streams.OUTBOX):
        items = streams.dead_entries(r, stream)
        total += len(items)
        for item in items:
            what = item.get("text") if stream is streams.INBOX else item.get("content")
            print(
                mask(
                    f"{stream.key}  {item.get('msgid') or item.get('id', '?')}  "
                    f"{item.get('source') or item.get('to', '')}  {item.get('userid') or item.get('group', '')}  "
                    f"{str(what or '')[:40]!r}"
                )
            )
        if args.requeue and items:
            print(f"re-queued {streams.requeue_dead(r, stream)} {stream.key} entr(y/ies)")
    if not total:
        print("no dead entries")
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    from workers import archive
    from workers.pictures import fonts

    settings = load()
    settings.problems.extend(archive.library_problems(settings))  # the SDK loads and has its functions
    sources = sources_of(settings)
    missing = [] if settings.problems else readiness.gaps(settings, sources)
    for note in settings.notes:
        if not (missing and settings.simulated and note.startswith("no WECOM_CORP_ID")):  # a warning says more
            print(f"note: {note}")
    print(f"sources: {sources}")
    if (font := fonts.font_problem(settings.font_path)) is not None:  # only the pictures need it: a note
        print(f"note: {font}")
    if settings.problems:
        for problem in settings.problems:
            print(f"error: {problem}", file=sys.stderr)
        print(f"{len(settings.problems)} problem(s); fix the variables named above", file=sys.stderr)
        return 1
    for tip in readiness.advice(settings):
        print(f"note: {tip}")
    if missing:
        # valid, so exit 0 (1 is for wrong variables), but not called OK: a camp of nobody is no camp
        for gap in missing:
            print(f"warning: {gap}")
        print(
            f"configuration valid but not ready for a camp ({len(missing)} warning(s) above): "
            f"{len(settings.groups)} group(s), timezone {settings.timezone}"
        )
        return 0
    print(f"configuration OK: {len(settings.groups)} group(s), timezone {settings.timezone}")
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    """The message archive: which source is active, the cursor, and the records parked because they
    did not decrypt (fetched again with --retry-parked once the key is fixed); --rooms: the room ids
    where configured members posted, with counts (never content), to map with GROUP_<KEY>_ROOM_ID."""
    from workers import archive, keys

    settings, r = get_settings(), get_redis()
    print(f"sources: {archive.sources_line(settings)}")
    if not archive.is_configured(settings):
        return 0
    if args.rooms:
        return _archive_rooms(settings, r)
    print(f"cursor: seq {int(r.get(keys.ARCHIVE_SEQ) or 0)}")
    seen = archive.rooms(r, settings)
    if seen:
        unmapped = sum(1 for room in seen if not room["group"])
        print(f"rooms: {len(seen) - unmapped} mapped, {unmapped} unmapped (`wecom-bot archive --rooms` lists them)")
    parked = archive.parked(r)
    for p in parked:
        print(
            f"parked: seq {p.get('seq')} msgid {p.get('msgid')} key version {p.get('publickey_ver')}: {p.get('error')}"
        )
    if args.retry_parked and parked:
        try:
            sdk = archive.get_sdk(settings)
        except archive.ArchiveSdkError as exc:  # a library that is not the SDK, or Init refused
            print(f"retry not possible: {exc}", file=sys.stderr)
            return 1
        report = archive.retry_parked_report(r, sdk, settings)
        for seq, error in report.closed[:20]:
            print(f"still parked: seq {seq}: {error}")
        if len(report.closed) > 20:
            print(f"still parked: {len(report.closed) - 20} more")
        if report.gone:
            print(f"no longer kept by WeCom (stay parked): seq {', '.join(map(str, report.gone))}")
        if report.failed:
            print(f"retry stopped: {report.failed}; the records stay parked, run this again later")
        print(f"retried: {len(report.opened)} record(s) fetched again, {report.added} post(s) queued")
        return 1 if report.failed else 0
    if not parked:
        print("parked: none")
    return 0


def _archive_rooms(settings: Settings, r) -> int:
    from workers import archive

    seen = archive.rooms(r, settings)
    if not seen:
        print("rooms: none seen yet (the puller counts them as it reads records)")
        return 0
    print("rooms where configured members posted (set GROUP_<KEY>_ROOM_ID to map one to a group):")
    for room in seen:
        group = settings.groups.get(room["group"])
        where = f"group {group.key} ({group.display})" if group else "unmapped"
        last = datetime.fromtimestamp(room["last"], ZoneInfo(settings.timezone)).strftime("%Y-%m-%d %H:%M")
        print(f"  {room['room']}  {room['posts']} post(s), latest {last}  {where}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from wecom_bot.sim import demo

    return demo.run(days=args.days)


def cmd_run(args: argparse.Namespace) -> int:
    from wecom_bot.sim import devserver

    return devserver.run(port=args.port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wecom-bot", description="WeCom check-in bot for training camps")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="an RQ worker on all of the service's queues")
    p.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    p.add_argument(
        "--sender",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send the outbox from a thread of this process as soon as it is queued (default); with "
        "--no-sender replies wait for `drain_outbox` jobs between the other jobs (docs/PERFORMANCE.md, issue 18)",
    )
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("cron", help="`rq cron` with the service's Redis: enqueues the tick every minute")
    p.set_defaults(func=cmd_cron)

    p = sub.add_parser("tick", help="enqueue what is due at that instant (default now)")
    p.add_argument("--at", help="ISO-8601 instant; without an offset it is read in BOT_TIMEZONE")
    p.add_argument(
        "--force",
        choices=["chain", "remind", "digest", "midweek", "summary"],
        help="re-send that slot now for every group",
    )
    p.set_defaults(func=cmd_tick)

    p = sub.add_parser("stats", help="a group's register on a date")
    p.add_argument("group")
    p.add_argument("--date", help="YYYY-MM-DD in the group's timezone (default today)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("export", help="the register as a spreadsheet")
    p.add_argument("group")
    p.add_argument("--format", choices=["xlsx", "csv"], required=True)
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("audit", help="a group's changes of goals, credits, roster and profiles: who, when, why")
    p.add_argument("group")
    p.add_argument("--limit", type=int, default=None, help="only the last N entries")
    p.add_argument("--json", action="store_true", help="one JSON entry per line")
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("backup", help="save all state to a file")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="load all state from a backup file")
    p.add_argument("file")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("failed", help="sends that exhausted their retries")
    p.add_argument("--resend", action="store_true")
    p.set_defaults(func=cmd_failed)

    p = sub.add_parser("dead", help="inbox and outbox entries that failed every retry")
    p.add_argument("--requeue", action="store_true", help="put them back on their stream to be processed again")
    p.set_defaults(func=cmd_dead)

    p = sub.add_parser("archive", help="the message archive: cursor and parked records")
    p.add_argument("--retry-parked", action="store_true", help="fetch the parked records again")
    p.add_argument("--rooms", action="store_true", help="room ids where configured members posted, with counts")
    p.set_defaults(func=cmd_archive)

    p = sub.add_parser("check-config", help="validate the environment")
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("demo", help="a scripted camp week against the built-in WeCom simulator")
    p.add_argument("--days", type=int, default=7, help="how many days of the week to play (1-7)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("run", help="everything on one machine: embedded Redis, web, worker, cron")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_run)

    args = parser.parse_args(argv)
    if args.command not in OWN_SETTINGS:
        _find_service_env_file()
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, while we can still handle it
    except BrokenPipeError:
        # The reader went away (`wecom-bot stats GROUP | head`): stop quietly, as `cat` would. stdout goes
        # to /dev/null so that the interpreter's last flush at exit finds nothing to complain about.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return SIGPIPE_EXIT
    return code


if __name__ == "__main__":
    sys.exit(main())
