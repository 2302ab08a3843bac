"""The admins' trend chart (each group's completion rate over the weeks) and the small badge picture
(勋章) that follows a milestone's reply."""

from __future__ import annotations

from workers.pictures.canvas import GOLD, GREEN, INK, LINE, MUTED, PAPER, Canvas, Colour, Picture
from workers.pictures.model import Badge, Trend

PALETTE: tuple[Colour, ...] = (
    (46, 120, 220),
    (46, 164, 79),
    (230, 120, 30),
    (160, 80, 200),
    (220, 60, 80),
    (30, 170, 170),
    (120, 120, 40),
    (90, 90, 90),
)
W, H = 760, 420
LEFT, RIGHT, TOP, BOTTOM = 64, 170, 70, 56


def trend_point(t: Trend, series: int, week: int) -> tuple[float, float] | None:
    """Where series `series`'s value for week `week` is plotted (None: no value): for the tests."""
    value = t.series[series][1][week]
    if value is None:
        return None
    span = max(len(t.labels) - 1, 1)
    x = LEFT + (W - LEFT - RIGHT) * (week / span if len(t.labels) > 1 else 0.5)
    y = TOP + (H - TOP - BOTTOM) * (1 - max(0.0, min(1.0, value)))
    return x, y


def render_trend(t: Trend, font_path: str) -> Picture:
    c = Canvas(font_path, W, H)
    c.text((LEFT - 40, 20), c.fit(t.title, 22, W - 2 * LEFT), 22, INK)
    _axes(c, t)
    for i, (name, _values) in enumerate(t.series):
        colour = PALETTE[i % len(PALETTE)]
        points = [p for w in range(len(t.labels)) if (p := trend_point(t, i, w)) is not None]
        if len(points) > 1:
            c.draw.line(points, fill=colour, width=3, joint="curve")
        for x, y in points:
            c.draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=colour)
        ly = TOP + i * 24
        c.cell((W - RIGHT + 20, ly, W - RIGHT + 34, ly + 14), colour, radius=3)
        c.text((W - RIGHT + 40, ly + 7), c.fit(name, 14, RIGHT - 50), 14, INK, anchor="lm")
    return c.finish()


def _axes(c: Canvas, t: Trend) -> None:
    bottom = H - BOTTOM
    for pct in (0, 25, 50, 75, 100):
        y = TOP + (bottom - TOP) * (1 - pct / 100)
        c.draw.line((LEFT, y, W - RIGHT, y), fill=LINE, width=1)
        c.text((LEFT - 8, y), f"{pct}%", 12, MUTED, anchor="rm")
    span = max(len(t.labels) - 1, 1)
    step = max(1, (len(t.labels) + 9) // 10)  # at most ten labels under the axis
    for w, label in enumerate(t.labels):
        if w % step == 0 or w == len(t.labels) - 1:
            x = LEFT + (W - LEFT - RIGHT) * (w / span if len(t.labels) > 1 else 0.5)
            c.text((x, bottom + 16), label, 12, MUTED, anchor="mm")


BADGE_W, BADGE_H = 420, 200


def render_badge(b: Badge, font_path: str) -> Picture:
    c = Canvas(font_path, BADGE_W, BADGE_H)
    c.cell((6, 6, BADGE_W - 6, BADGE_H - 6), (255, 248, 230), outline=GOLD, radius=18)
    cx, cy, r = 96, BADGE_H // 2, 62
    c.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=GOLD)
    c.draw.ellipse((cx - r + 8, cy - r + 8, cx + r - 8, cy + r - 8), outline=PAPER, width=3)
    c.star((cx, cy - 4), 30, PAPER)
    x = cx + r + 24
    c.text((x, 44), c.fit(b.headline, 26, BADGE_W - x - 16), 26, INK)
    c.text((x, 92), c.fit(b.name, 18, BADGE_W - x - 16), 18, GREEN)
    c.text((x, 128), c.fit(b.line, 15, BADGE_W - x - 16), 15, MUTED)
    return c.finish()
