"""The register as a spreadsheet: xlsx (学员目标／监督登记 + 学员档案记录) or csv (UTF-8 with BOM).

Excel forbids "/" in a sheet name, so the register sheet is named with the full-width slash
"学员目标／监督登记", which reads the same.
"""

from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import redis
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from config.settings import Group
from handlers.calendar import day_date, day_index, day_of, week_start
from handlers.streaks import MET, MISSED, OFF, OPEN, DayBits, parse_goals, record, week_goal, week_result
from workers import connection, keys
from workers.files import private_file
from workers.register import camp_days, member_ids

REGISTER_SHEET = "学员目标／监督登记"
NOTES_SHEET = "学员档案记录"
FORMATS = ("xlsx", "csv")
WEEK_MARKS = {MET: "✅", MISSED: "❌", OPEN: "⏳", OFF: "🌴"}  # reached, out of reach, still possible, all off


@dataclass
class Note:
    text: str
    by: str
    at: int


@dataclass
class Person:
    userid: str
    name: str
    removed: bool
    days: DayBits
    off: DayBits
    goals: dict[int, int]
    notes: list[Note] = field(default_factory=list)


def people(r: redis.Redis, group: Group) -> list[Person]:
    """Everyone on the roster, then those removed from it (their history stays in the register)."""
    active = member_ids(r, group)
    learnt = {connection.as_text(k): connection.as_text(v) for k, v in r.hgetall(keys.names(group.key)).items()}
    removed = sorted(connection.as_text(m) for m in r.smembers(keys.removed(group.key)))
    roster = [(uid, name, False) for uid, name in active.items()]
    roster += [(uid, learnt.get(uid) or uid, True) for uid in removed if uid not in active]
    with r.pipeline(transaction=False) as p:
        p.get(keys.base(group.key))
        for uid, _, _ in roster:
            p.get(keys.days(group.key, uid))
            p.get(keys.off(group.key, uid))
            p.hgetall(keys.goals(group.key, uid))
            p.lrange(keys.notes(group.key, uid), 0, -1)
        raw = p.execute()
    base = int(raw[0]) if raw[0] is not None else 0
    out = []
    for i, (uid, name, gone) in enumerate(roster):
        days, off, goals, notes = raw[1 + 4 * i : 5 + 4 * i]
        out.append(
            Person(
                uid,
                name or uid,
                gone,
                DayBits(days, base),
                DayBits(off, base),
                parse_goals(goals),
                [_note(n) for n in notes],
            )
        )
    return out


def _note(raw: bytes) -> Note:
    try:
        data = json.loads(raw)
        return Note(str(data.get("text", "")), str(data.get("by_name") or data.get("by", "")), int(data.get("at", 0)))
    except (TypeError, ValueError):
        return Note(raw.decode("utf-8", "replace"), "", 0)


def first_day(group: Group, persons: list[Person], today: int) -> int:
    """The group's first day: the camp start when configured, else the earliest check-in or day off."""
    if group.camp_start:
        return min(day_index(group.camp_start), today)
    firsts = [d for p in persons for d in (p.days.first, p.off.first) if d is not None and d <= today]
    return min(firsts) if firsts else today


def weeks(group: Group, persons: list[Person], today: int) -> list[int]:
    return list(range(week_start(first_day(group, persons, today)), week_start(today) + 1, 7))


def _when(ts: int, group: Group) -> str:
    if not ts:
        return ""
    return datetime.fromtimestamp(ts, tz=timezone.utc).astimezone(group.tz).strftime("%Y-%m-%d %H:%M")


def register_table(
    r: redis.Redis, group: Group, today: int | None = None
) -> tuple[list[str], list[list], list[Person]]:
    """Header and rows of the register, one row per member."""
    if today is None:
        today = day_of(time.time(), group.tz)
    persons = people(r, group)
    wks = weeks(group, persons, today)
    header = ["成员", "userid", "当前目标"]
    for w in wks:
        d = day_date(w)
        header += [f"{d.month}/{d.day}周 打卡", f"{d.month}/{d.day}周 结果"]
    header += ["连续天数", "最长连续", "累计天数", "状态", "档案"]
    rows = []
    this_week = week_start(today)
    camp = camp_days(group)
    for p in persons:
        rec = record(p.days, p.off, today)
        # the goal in force, days off and camp dates included: the one the chat and the review show
        row = [p.name, p.userid, week_goal(p.goals, p.off, this_week, group.weekly_goal, camp)]
        for w in wks:
            res = week_result(p.days, p.off, p.goals, w, group.weekly_goal, today, camp)
            row += [res.count, WEEK_MARKS[res.status]]
        notes = "\n".join(f"{_when(n.at, group)[:10]} {n.text}".strip() for n in p.notes)
        row += [rec.streak, rec.longest_streak, rec.total, "已移除" if p.removed else "在营", notes]
        rows.append(row)
    return header, rows, persons


def write(r: redis.Redis, group: Group, fmt: str, path: str | os.PathLike, today: int | None = None) -> str:
    """Write the register of `group` to `path` as xlsx or csv; returns the path."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    header, rows, persons = register_table(r, group, today)
    path = os.fspath(path)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    # names and profile notes: readable by the file's owner only, from the first byte
    with private_file(tmp, "w", encoding="utf-8-sig", newline="") as f:
        if fmt == "csv":
            w = csv.writer(f)
            w.writerow([as_text(c) for c in header])
            w.writerows([[as_text(c) for c in row] for row in rows])
    if fmt == "xlsx":
        _xlsx(group, header, rows, persons, tmp)  # into the 0600 file: saving keeps its mode
    os.replace(tmp, path)
    return path


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def as_text(cell):
    """A cell a spreadsheet would run as a formula (`=HYPERLINK(...)` in a name or a note, OWASP's
    CSV-injection rule: starts with = + - @ tab or CR) is written as text, with a leading `'`."""
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


def _xlsx(group: Group, header: list[str], rows: list[list], persons: list[Person], path: str) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = REGISTER_SHEET
    ws.append([as_text(c) for c in header])
    for row in rows:
        ws.append([as_text(c) for c in row])
    bold = Font(bold=True)
    for cell in ws[1]:
        cell.font = bold
    ws.freeze_panes = "C2"
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 14
    notes_col = ws.cell(row=1, column=len(header)).column_letter
    ws.column_dimensions[notes_col].width = 40
    for row in ws.iter_rows(min_row=2, min_col=len(header), max_col=len(header)):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    ns = wb.create_sheet(NOTES_SHEET)
    ns.append(["成员", "时间", "记录", "记录人"])
    for cell in ns[1]:
        cell.font = bold
    for p in persons:
        for n in p.notes:
            ns.append([as_text(c) for c in (p.name, _when(n.at, group), n.text, n.by)])
    ns.column_dimensions["A"].width = 14
    ns.column_dimensions["B"].width = 18
    ns.column_dimensions["C"].width = 60
    ns.column_dimensions["D"].width = 14
    wb.save(path)
