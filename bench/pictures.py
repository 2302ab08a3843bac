"""Benchmark: drawing the pictures (workers/pictures) from fixed data, no Redis, no WeCom.

A 10-member week wall (the usual camp group), the leader's register, a month calendar, the trend
chart and a 200-member wall (the largest group we promise under WeCom's 2 MB). Median of N renders.

    .venv/bin/python bench/pictures.py            # full: 30 renders each
    .venv/bin/python bench/pictures.py --quick    # 5 renders each
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Result  # noqa: E402
from workers.pictures import charts, fonts, month, wall  # noqa: E402
from workers.pictures.model import DONE, MISS, OFF, TODO, Month, Trend, Wall, WallRow  # noqa: E402
from workers.sender import IMAGE_LIMIT  # noqa: E402

MARKS = (DONE, MISS, DONE, OFF, DONE, DONE, TODO)


def a_wall(n: int, register: bool = False) -> Wall:
    rows = tuple(WallRow(f"学员{i:03d}", MARKS[i % 7 :] + MARKS[: i % 7], 4, 3, "met", i % 9, i < 3) for i in range(n))
    return Wall("第2周打卡墙", "小红书一组 · 11月23日—11月29日", rows, "本周之星：学员000 · 8/10 人达成目标", register)


def timed(draw, times: int) -> tuple[float, int]:
    """Median milliseconds of `times` renders, and the PNG's size."""
    spent, size = [], 0
    for _ in range(times):
        started = time.perf_counter()
        size = len(draw().png)
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent), size


def run(quick: bool, opts=None) -> Result:
    res = Result("pictures")
    font = fonts.find_font()
    if font is None:
        res.row("font", "no CJK font", "", "scripts/setup installs fonts-wqy-microhei", "error")
        return res
    times = 5 if quick else 30
    trend = Trend(
        "各组每周达成率", tuple(f"第{i}周" for i in range(1, 9)), (("一组", (0.5,) * 8), ("二组", (0.7,) * 8))
    )
    cases = {
        "week wall, 10 members": (lambda: wall.render(a_wall(10), font), 200),
        "leader register, 10 members": (lambda: wall.render(a_wall(10, True), font), 200),
        "month calendar": (lambda: month.render(Month("学员 · 2026年11月", 2026, 11, {1: DONE}), font), 200),
        "trend chart, 2 groups × 8 weeks": (lambda: charts.render_trend(trend, font), 200),
        "week wall, 200 members": (lambda: wall.render(a_wall(200, True), font), 3000),
    }
    for name, (draw, budget_ms) in cases.items():
        ms, size = timed(draw, times if "200" not in name else max(2, times // 5))
        ok = ms < budget_ms and size < IMAGE_LIMIT
        res.row(name, f"{ms:.0f} ms, {size / 1024:.0f} KB", "", f"< {budget_ms} ms, < 2 MB", "met" if ok else "missed")
        res.data[name] = {"median_ms": round(ms, 1), "bytes": size}
    return res


if __name__ == "__main__":
    result = run("--quick" in sys.argv)
    for row in result.rows:
        print(f"{row.metric:34} {row.value:>18}   target {row.target:22} {row.status}")
