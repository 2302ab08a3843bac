"""The week's wall (members × Mon–Sun, the group's picture with the weekend review) and the leader's
register (the same grid with leave and a profile-note hint, sent privately). Drawn from a `Wall`."""

from __future__ import annotations

from workers.pictures.canvas import (
    BLUE_SOFT,
    GOLD,
    GREEN,
    GREY,
    INK,
    LINE,
    MUTED,
    PAPER,
    Box,
    Canvas,
    Picture,
)
from workers.pictures.model import DONE, MISS, OFF, Wall, WallRow

PAD = 24
HEAD = 92  # title and subtitle
COLHEAD = 34  # the weekday labels
ROW = 36
NAME_W = 156
CELL = 30
DAY_W = 38
NUM_W = 78  # 完成 and 连续
SMALL_W = 56  # 请假 and 档案 (register)
FOOT = 64
WEEKDAYS = "一二三四五六日"
CELL_FILL = {DONE: GREEN, OFF: BLUE_SOFT, MISS: GREY}
STATUS_COLOUR = {"met": GREEN, "missed": MUTED, "open": INK, "off": MUTED}


def width(register: bool) -> int:
    return PAD * 2 + NAME_W + 7 * DAY_W + 2 * NUM_W + (2 * SMALL_W if register else 0)


def height(rows: int) -> int:
    return HEAD + COLHEAD + max(rows, 1) * ROW + FOOT


def cell_box(row: int, day: int) -> Box:
    """Where row `row`'s cell for weekday `day` (0 Monday) is drawn: shared with the tests."""
    x = PAD + NAME_W + day * DAY_W
    y = HEAD + COLHEAD + row * ROW + (ROW - CELL) // 2
    return (x, y, x + CELL, y + CELL)


def render(wall: Wall, font_path: str) -> Picture:
    c = Canvas(font_path, width(wall.register), height(len(wall.rows)))
    _header(c, wall)
    for i, row in enumerate(wall.rows):
        _row(c, wall, i, row)
    if not wall.rows:
        c.text((PAD, HEAD + COLHEAD + 8), "本周还没有打卡记录", 16, MUTED)
    _footer(c, wall)
    return c.finish()


def _columns(register: bool) -> list[tuple[str, int]]:
    """(label, centre x) of the columns right of the days."""
    x = PAD + NAME_W + 7 * DAY_W
    labels = ["完成", "连续"] + (["请假", "档案"] if register else [])
    widths = [NUM_W, NUM_W] + ([SMALL_W, SMALL_W] if register else [])
    out = []
    for label, w in zip(labels, widths, strict=True):
        out.append((label, x + w // 2))
        x += w
    return out


def _header(c: Canvas, wall: Wall) -> None:
    c.text((PAD, 22), c.fit(wall.title, 26, c.image.width - 2 * PAD), 26, INK)
    c.text((PAD, 60), c.fit(wall.subtitle, 15, c.image.width - 2 * PAD), 15, MUTED)
    y = HEAD + COLHEAD // 2
    c.text((PAD, y), "成员", 14, MUTED, anchor="lm")
    for d, label in enumerate(WEEKDAYS):
        x0, _, x1, _ = cell_box(0, d)
        c.text(((x0 + x1) / 2, y), label, 14, MUTED, anchor="mm")
    for label, x in _columns(wall.register):
        c.text((x, y), label, 14, MUTED, anchor="mm")
    c.draw.line((PAD, HEAD + COLHEAD - 1, c.image.width - PAD, HEAD + COLHEAD - 1), fill=LINE, width=1)


def _row(c: Canvas, wall: Wall, i: int, row: WallRow) -> None:
    top = HEAD + COLHEAD + i * ROW
    mid = top + ROW / 2
    name_w = NAME_W - (30 if row.star else 12)
    box = c.text((PAD, mid), c.fit(row.name, 16, name_w), 16, INK, anchor="lm")
    if row.star:
        c.star((box[2] + 12, mid), 9, GOLD)
    for d, mark in enumerate(row.days[:7]):
        cell = cell_box(i, d)
        c.cell(cell, CELL_FILL.get(mark, PAPER), outline=None if mark in CELL_FILL else LINE)
        if mark == DONE:
            c.tick(cell, PAPER)
    values = [_count(row), f"{row.streak}天" if row.streak else "-"]
    if wall.register:
        values += [f"{row.leave}天" if row.leave else "-", "有" if row.note else "-"]
    colours = [STATUS_COLOUR.get(row.status, INK), INK, MUTED, GREEN if row.note else MUTED]
    for (_, x), value, colour in zip(_columns(wall.register), values, colours, strict=False):
        c.text((x, mid), value, 16, colour, anchor="mm")
    if i % 2 == 1:  # faint rule between pairs of rows helps the eye across a long wall
        c.draw.line((PAD, top, c.image.width - PAD, top), fill=LINE, width=1)


def _count(row: WallRow) -> str:
    if row.status == "off":
        return "请假"
    return f"{row.count}/{row.goal}"


def _footer(c: Canvas, wall: Wall) -> None:
    y = c.image.height - FOOT + 20
    c.draw.line((PAD, y - 12, c.image.width - PAD, y - 12), fill=LINE, width=1)
    if wall.footer:
        c.text((PAD, y), c.fit(wall.footer, 15, c.image.width - 2 * PAD), 15, INK)
