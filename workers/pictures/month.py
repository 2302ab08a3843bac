"""A member's month as a calendar heatmap (`我的`, privately): a square per day, green where they
checked in, blue for days off, grey for days gone by without one."""

from __future__ import annotations

import calendar

from workers.pictures.canvas import BLUE_SOFT, GREEN, GREY, INK, LINE, MUTED, PAPER, Box, Canvas, Picture
from workers.pictures.model import DONE, MISS, OFF, Month

PAD = 24
HEAD = 96
CELL = 52
GAP = 8
FOOT = 86
FILL = {DONE: GREEN, OFF: BLUE_SOFT, MISS: GREY}
LEGEND = ((GREEN, "已打卡"), (BLUE_SOFT, "请假"), (GREY, "未打卡"))


def size(weeks: int) -> tuple[int, int]:
    return PAD * 2 + 7 * CELL + 6 * GAP, HEAD + weeks * (CELL + GAP) + FOOT


def day_box(year: int, month: int, day: int) -> Box:
    """Where day `day` of the month is drawn (weeks start on Monday): shared with the tests."""
    first = calendar.weekday(year, month, 1)
    slot = first + day - 1
    x = PAD + (slot % 7) * (CELL + GAP)
    y = HEAD + (slot // 7) * (CELL + GAP)
    return (x, y, x + CELL, y + CELL)


def render(m: Month, font_path: str) -> Picture:
    days = calendar.monthrange(m.year, m.month)[1]
    weeks = (calendar.weekday(m.year, m.month, 1) + days + 6) // 7
    c = Canvas(font_path, *size(weeks))
    c.text((PAD, 20), c.fit(m.title, 24, c.image.width - 2 * PAD), 24, INK)
    for i, label in enumerate("一二三四五六日"):
        c.text((PAD + i * (CELL + GAP) + CELL / 2, HEAD - 16), label, 14, MUTED, anchor="mm")
    for d in range(1, days + 1):
        mark = m.marks.get(d)
        box = day_box(m.year, m.month, d)
        c.cell(box, FILL.get(mark or "", PAPER), outline=None if mark in FILL else LINE, radius=8)
        colour = PAPER if mark == DONE else (INK if mark in FILL else MUTED)
        c.text((box[0] + 7, box[1] + 5), str(d), 13, colour)
        if mark == DONE:
            c.tick((box[0] + 10, box[1] + 12, box[2] - 6, box[3] - 4), PAPER)
    _legend(c, m)
    return c.finish()


def _legend(c: Canvas, m: Month) -> None:
    y = c.image.height - FOOT + 14
    x = PAD
    for colour, label in LEGEND:
        c.cell((x, y, x + 16, y + 16), colour, radius=4)
        box = c.text((x + 22, y + 8), label, 13, MUTED, anchor="lm")
        x = box[2] + 16
    if m.footer:
        c.text((PAD, y + 34), c.fit(m.footer, 16, c.image.width - 2 * PAD), 16, INK)
