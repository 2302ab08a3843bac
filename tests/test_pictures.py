"""The pictures as drawn (workers/pictures): deterministic renders from fixed data. Sizes, the colour
of known cells, real glyphs for Chinese names (never the font's missing-glyph box), 200 members under
WeCom's 2 MB, and 不公开 as a property of every group picture."""

from __future__ import annotations

import io
import os
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFont

from config.model import Group
from handlers import weekly as hw
from handlers.calendar import day_index, week_start
from handlers.streaks import MET, MISSED, OPEN, DayBits, WeekResult
from handlers.streaks import OFF as WEEK_OFF
from handlers.texts import ANONYMOUS
from workers.pictures import charts, data, fonts, month, wall
from workers.pictures.canvas import BLUE_SOFT, GREEN, GREY, PAPER
from workers.pictures.model import DONE, MISS, OFF, TODO, Badge, Month, Trend, Wall, WallRow
from workers.sender import IMAGE_LIMIT

FONT = fonts.find_font()
# in CI (where scripts/setup installed the font) a missing font fails these tests instead of skipping them
pytestmark = pytest.mark.skipif(
    FONT is None and not os.environ.get("CI"), reason="no CJK font: scripts/setup installs fonts-wqy-microhei"
)

SUNDAY = date(2026, 11, 29)
DAY = day_index(SUNDAY)
WEEK = week_start(DAY)
GROUP = Group("xhs01", name="小红书01")


def pixels(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png)).convert("RGB")


def near(actual, expected, tolerance=10) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def sample(img: Image.Image, box) -> tuple[int, int, int]:
    """A cell's colour away from its rounded corners and its tick."""
    x0, y0, _, y1 = box
    return img.getpixel((x0 + 4, (y0 + y1) // 2))


def a_wall(rows=None, register=False) -> Wall:
    rows = rows or (
        WallRow("张三丰", (DONE, MISS, DONE, OFF, DONE, TODO, TODO), 3, 3, MET, 5, star=True),
        WallRow("小鹿", (MISS, MISS, DONE, MISS, MISS, TODO, TODO), 1, 3, OPEN, 1),
    )
    return Wall("第2周打卡墙", "小红书01 · 11月23日—11月29日", rows, "本周之星：张三丰 · 1/2 人达成目标", register)


# -- fonts -------------------------------------------------------------------------------------------
def test_the_font_draws_chinese_with_real_glyphs_and_knows_its_missing_box():
    for ch in "张三丰小鹿打卡训练营一位同学":
        assert fonts.has_glyph(FONT, ch), ch
    assert not fonts.has_glyph(FONT, fonts.MISSING)
    assert fonts.font_problem() is None


def test_a_missing_font_is_named_with_its_install_command_and_off_is_quiet():
    problem = fonts.font_problem("/nonexistent/font.ttc")
    assert problem and "/nonexistent/font.ttc" in problem and "apt-get install fonts-wqy-microhei" in problem
    assert fonts.find_font("/nonexistent/font.ttc") is None
    assert fonts.find_font("off") is None and fonts.font_problem("off") is None


# -- the week wall -----------------------------------------------------------------------------------
def test_wall_size_and_the_colour_of_checked_empty_off_and_future_cells():
    pic = wall.render(a_wall(), FONT)
    img = pixels(pic.png)
    assert img.size == pic.size == (wall.width(False), wall.height(2))
    assert near(sample(img, wall.cell_box(0, 0)), GREEN)  # checked
    assert near(sample(img, wall.cell_box(0, 1)), GREY)  # gone by without a check-in
    assert near(sample(img, wall.cell_box(0, 3)), BLUE_SOFT)  # a day off
    assert near(sample(img, wall.cell_box(0, 5)), PAPER)  # still ahead
    assert near(sample(img, wall.cell_box(1, 0)), GREY) and near(sample(img, wall.cell_box(1, 2)), GREEN)
    # the tick on a checked cell is drawn, in white, inside the green
    x0, y0, x1, y1 = wall.cell_box(0, 0)
    assert any(near(img.getpixel((x, y)), PAPER) for x in range(x0 + 6, x1 - 6) for y in range(y0 + 6, y1 - 6))


def _ink(img: Image.Image, box) -> list[bool]:
    crop = img.crop(box).convert("L")
    return [v < 140 for v in crop.tobytes()]


def test_chinese_names_are_drawn_with_real_glyphs_not_the_missing_glyph_box():
    pic = wall.render(a_wall(), FONT)
    img = pixels(pic.png)
    box = pic.boxes[pic.texts.index("张三丰")]
    xy = (wall.PAD, wall.HEAD + wall.COLHEAD + wall.ROW / 2)  # row 0's name, as wall._row draws it
    font = ImageFont.truetype(FONT, 16)
    expected, tofu = Image.new("RGB", img.size, PAPER), Image.new("RGB", img.size, PAPER)
    ImageDraw.Draw(expected).text(xy, "张三丰", font=font, fill=(0, 0, 0), anchor="lm")
    ImageDraw.Draw(tofu).text(xy, fonts.MISSING * 3, font=font, fill=(0, 0, 0), anchor="lm")
    drawn, real, boxes = _ink(img, box), _ink(expected, box), _ink(tofu, box)
    same_as_real = sum(a == b for a, b in zip(drawn, real, strict=True)) / len(drawn)
    same_as_tofu = sum(a == b for a, b in zip(drawn, boxes, strict=True)) / len(drawn)
    assert any(drawn) and same_as_real > 0.97 and same_as_tofu < same_as_real - 0.1


def test_no_text_in_any_picture_has_a_character_the_font_lacks():
    rows = (WallRow("小鹿🦌", (DONE,) * 7, 7, 3, MET, 9), WallRow("🎉🎉", (MISS,) * 7, 0, 3, MISSED, 0))
    pic = wall.render(a_wall(rows), FONT)
    assert "小鹿" in pic.texts and not any("🦌" in t or "🎉" in t for t in pic.texts)
    for text in pic.texts:
        assert all(fonts.has_glyph(FONT, ch) for ch in text), text


def test_two_hundred_members_stay_under_two_megabytes():
    rows = tuple(
        WallRow(
            f"学员{i:03d}号的名字很长很长", (DONE, MISS, OFF, TODO, DONE, DONE, MISS)[i % 7 :] * 2, i % 5, 3, MET, i
        )
        for i in range(200)
    )
    rows = tuple(
        WallRow(r.name, r.days[:7], r.count, r.goal, r.status, r.streak, i < 3, 1, True) for i, r in enumerate(rows)
    )
    pic = wall.render(a_wall(rows, register=True), FONT)
    assert len(pic.png) < IMAGE_LIMIT and pic.size == (wall.width(True), wall.height(200))
    colour = {DONE: GREEN, MISS: GREY, OFF: BLUE_SOFT, TODO: PAPER}
    img = pixels(pic.png)
    for d in range(7):
        assert near(sample(img, wall.cell_box(199, d)), colour[rows[199].days[d]], 12)


def test_the_register_has_leave_and_note_columns_and_real_names():
    members = [_member("u1", "小鹿", private=True, notes=True, leave=2), _member("u2", "阿青")]
    states = {m.userid: _state(m.userid, m.name, [WEEK, WEEK + 2]) for m in members}
    w = data.week_wall(GROUP, DAY, members, states, 3, register=True)
    pic = wall.render(w, FONT)
    assert "小鹿" in pic.texts and ANONYMOUS not in pic.texts  # the leader's own picture
    assert {"请假", "档案", "有", "2天"} <= set(pic.texts)
    assert pic.size[0] > wall.width(False)


# -- 不公开, as a property -----------------------------------------------------------------------------
def _member(uid, name, private=False, notes=False, leave=0, count=2, status=OPEN) -> hw.MemberWeek:
    res = WeekResult(WEEK, count, 3, 3, leave, 0, status)
    return hw.MemberWeek(
        uid, name, res, [res], streak=count, private=private, notes=["x"] if notes else [], leave=leave
    )


def _state(uid, name, days) -> data.MemberState:
    base = WEEK - 7
    raw = bytearray(4)
    for d in days:
        raw[(d - base) // 8] |= 0x80 >> ((d - base) % 8)
    return data.MemberState(uid, name, DayBits(bytes(raw), base), DayBits(None, base), {})


NAME = st.text(alphabet="甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳", min_size=2, max_size=5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.lists(
        st.tuples(NAME, st.booleans(), st.integers(0, 4), st.sampled_from([MET, OPEN, MISSED, WEEK_OFF])),
        min_size=1,
        max_size=12,
    )
)
def test_private_members_never_appear_by_name_in_the_group_wall(people):
    members = [
        _member(f"u{i}", name, private, count=count, status=status)
        for i, (name, private, count, status) in enumerate(people)
    ]
    states = {m.userid: _state(m.userid, m.name, [WEEK + (i % 7)]) for i, m in enumerate(members)}
    pic = wall.render(data.week_wall(GROUP, DAY, members, states, 3, register=False), FONT)
    drawn = "\n".join(pic.texts)
    public = [m.name for m in members if not m.private]
    for m in members:
        if m.private and not any(m.name in other for other in public):  # else a public name says it, rightly
            assert m.name not in drawn
    assert pic.texts.count(ANONYMOUS) >= sum(1 for m in members if m.private)


# -- the month, the trend, the badge -------------------------------------------------------------------
def test_month_heatmap_cells_and_size():
    m = Month("小鹿 · 2026年11月", 2026, 11, {1: DONE, 2: MISS, 3: OFF, 4: TODO}, "本月打卡 1 天")
    pic = month.render(m, FONT)
    img = pixels(pic.png)
    assert img.size == month.size(6)  # November 2026 starts on a Sunday: six rows
    assert near(sample(img, month.day_box(2026, 11, 1)), GREEN)
    assert near(sample(img, month.day_box(2026, 11, 2)), GREY)
    assert near(sample(img, month.day_box(2026, 11, 3)), BLUE_SOFT)
    assert near(sample(img, month.day_box(2026, 11, 4)), PAPER)
    assert month.day_box(2026, 11, 1)[0] > month.day_box(2026, 11, 2)[0]  # Sunday is the last column
    assert "本月打卡 1 天" in pic.texts


def test_trend_points_are_drawn_in_their_group_colour():
    t = Trend("各组每周达成率", ("11/9", "11/16", "11/23"), (("一组", (0.5, 1.0, 0.25)), ("二组", (None, 0.0, 0.75))))
    pic = charts.render_trend(t, FONT)
    img = pixels(pic.png)
    x, y = charts.trend_point(t, 0, 1)
    assert near(img.getpixel((int(x), int(y))), charts.PALETTE[0], 14)
    x, y = charts.trend_point(t, 1, 2)
    assert near(img.getpixel((int(x), int(y))), charts.PALETTE[1], 14)
    assert charts.trend_point(t, 1, 0) is None and {"一组", "二组", "100%"} <= set(pic.texts)


def test_badge_is_small_and_says_its_milestone():
    pic = charts.render_badge(Badge("连续 7 天", "小鹿", "坚持的样子真好看"), FONT)
    assert pic.size == (charts.BADGE_W, charts.BADGE_H) and len(pic.png) < 50_000
    assert pic.texts == ["连续 7 天", "小鹿", "坚持的样子真好看"]
