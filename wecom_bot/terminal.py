"""What the command line and `wecom-bot run` print: columns by display width, the inbound sources."""

from __future__ import annotations

from wcwidth import wcswidth

from config.settings import Settings


def display_width(text: str) -> int:
    """Columns `text` takes in a terminal: a Chinese character or an emoji takes two (wcwidth)."""
    width = wcswidth(text)
    return width if width >= 0 else len(text)  # a control character: count it as one


def pad(text: str, width: int, align: str = "<") -> str:
    """`text` padded with spaces to `width` terminal columns (`<` left, `>` right), so that tables of
    Chinese names line up as they do for Latin ones; a longer text is left as it is."""
    fill = " " * max(width - display_width(text), 0)
    return text + fill if align == "<" else fill + text


def sources_of(settings: Settings) -> str:
    """The inbound sources that are set up, e.g. `group robot callback, app callback`; "none"."""
    from workers import archive

    sources = archive.sources_line(settings)
    if settings.aibot_token and settings.aibot_aes_key:  # the 智能机器人 (/wecom/aibot)
        sources = "AI bot callback" if sources == "none" else f"{sources}, AI bot callback"
    return sources
