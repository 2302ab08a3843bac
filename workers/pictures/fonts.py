"""The CJK font the pictures are drawn with: BOT_FONT_PATH, else what fontconfig offers for Chinese,
else a few well-known Debian paths. A font qualifies only if it draws real glyphs for Chinese (not
its .notdef box): the bot never sends a picture with tofu in it. Without one, it sends text only and
says so once in its log; `wecom-bot check-config` prints `font_problem()`.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
import threading
from pathlib import Path

from PIL import ImageFont

log = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install fonts-wqy-microhei (scripts/setup does it), or set BOT_FONT_PATH"
PROBE = "打卡训练营"  # every one of these must have a glyph
MISSING = "\U0010fffd"  # a private-use code point no font draws: what the .notdef box looks like
KNOWN_PATHS = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)

_warned: set[str] = set()
_warn_lock = threading.Lock()


def _fontconfig_paths() -> list[str]:
    """What fontconfig proposes for Chinese (fc-match sorts by fitness), or nothing without fc-match."""
    exe = shutil.which("fc-match")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "-s", "-f", "%{file}\n", ":lang=zh"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line for line in out.splitlines() if line][:8]


@functools.lru_cache(maxsize=8192)  # names repeat week after week: each character is checked once
def _glyph_mask(path: str, ch: str) -> bytes:
    return bytes(_probe_font(path).getmask(ch))


@functools.lru_cache(maxsize=8)
def _probe_font(path: str) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, 24)


def has_glyph(path: str, ch: str) -> bool:
    """True when the font draws `ch` as itself, not as its missing-glyph box (or nothing at all)."""
    if ch.isspace():
        return True
    mask = _glyph_mask(path, ch)
    return any(mask) and mask != _glyph_mask(path, MISSING)


def usable(path: str) -> bool:
    """A readable font that draws every character of PROBE."""
    try:
        if not Path(path).is_file():
            return False
        return all(has_glyph(path, ch) for ch in PROBE)
    except OSError:
        return False


@functools.lru_cache(maxsize=8)
def find_font(configured: str = "") -> str | None:
    """The path of a usable CJK font: `configured` (BOT_FONT_PATH) when set, else fontconfig's choice,
    else a known path. None when there is none, or when pictures are turned off (`off`)."""
    if configured.strip().lower() == "off":
        return None
    if configured.strip():
        return configured if usable(configured) else None
    for path in [*_fontconfig_paths(), *KNOWN_PATHS]:
        if usable(path):
            return path
    return None


def font_problem(configured: str = "") -> str | None:
    """None when pictures can be drawn; else what is missing and how to install it (check-config)."""
    if configured.strip().lower() == "off":
        return None
    if find_font(configured):
        return None
    if configured.strip():
        return (
            f"BOT_FONT_PATH={configured} is not a readable font with Chinese glyphs; pictures are off ({INSTALL_HINT})"
        )
    return f"no CJK font found (WenQuanYi Micro Hei or Noto Sans CJK); pictures are off: {INSTALL_HINT}"


def font_or_log(configured: str = "") -> str | None:
    """find_font(), logging once per process why pictures are off (they are left out, the text goes)."""
    path = find_font(configured)
    if path is None and configured.strip().lower() != "off":
        with _warn_lock:
            if configured not in _warned:
                _warned.add(configured)
                log.warning("pictures are off, sending text only: %s", font_problem(configured))
    return path
