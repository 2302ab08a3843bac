"""A Pillow image that remembers every text it draws (`Picture.texts`: what the tests read for
privacy) and never draws a character its font lacks (no tofu: such characters are left out)."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from workers.pictures.fonts import has_glyph

Box = tuple[int, int, int, int]
Colour = tuple[int, int, int]

INK = (38, 42, 51)
MUTED = (120, 126, 138)
PAPER = (255, 255, 255)
LINE = (226, 229, 235)
GREEN = (46, 164, 79)
GREEN_SOFT = (225, 244, 230)
GREY = (232, 234, 238)
BLUE_SOFT = (214, 232, 250)
GOLD = (240, 173, 32)
RED_SOFT = (252, 228, 226)
COLOURS = 64  # a palette this small keeps 200 members' walls far under WeCom's 2 MB


@dataclass
class Picture:
    png: bytes
    size: tuple[int, int]
    texts: list[str] = field(default_factory=list)  # every string drawn, in order
    boxes: list[Box] = field(default_factory=list)  # where each was drawn


class Canvas:
    def __init__(self, font_path: str, width: int, height: int):
        self.font_path = font_path
        self.image = Image.new("RGB", (width, height), PAPER)
        self.draw = ImageDraw.Draw(self.image)
        self._fonts: dict[int, ImageFont.FreeTypeFont] = {}
        self.texts: list[str] = []
        self.boxes: list[Box] = []

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        if size not in self._fonts:
            self._fonts[size] = ImageFont.truetype(self.font_path, size)
        return self._fonts[size]

    def drawable(self, text: str) -> str:
        """`text` without the characters the font has no glyph for (an emoji in a name, say)."""
        return "".join(ch for ch in text if has_glyph(self.font_path, ch))

    def fit(self, text: str, size: int, width: int) -> str:
        """`text` cut (with …) to fit `width` pixels at `size`."""
        text = self.drawable(text)
        font = self.font(size)
        if font.getlength(text) <= width:
            return text
        while text and font.getlength(text + "…") > width:
            text = text[:-1]
        return text + "…"

    def text(self, xy: tuple[float, float], text: str, size: int, fill: Colour = INK, anchor: str = "la") -> Box:
        text = self.drawable(text)
        box = self.draw.textbbox(xy, text, font=self.font(size), anchor=anchor)
        self.draw.text(xy, text, font=self.font(size), fill=fill, anchor=anchor)
        self.texts.append(text)
        self.boxes.append((int(box[0]), int(box[1]), int(box[2]), int(box[3])))
        return self.boxes[-1]

    def cell(self, box: Box, fill: Colour, outline: Colour | None = None, radius: int = 6) -> None:
        self.draw.rounded_rectangle(box, radius=radius, fill=fill, outline=outline)

    def tick(self, box: Box, colour: Colour = PAPER) -> None:
        """A check mark drawn with lines (fonts differ in their ✓), in the lower middle of `box`."""
        x0, y0, x1, y1 = box
        w, h = x1 - x0, y1 - y0
        points = [(x0 + w * 0.28, y0 + h * 0.52), (x0 + w * 0.44, y0 + h * 0.68), (x0 + w * 0.72, y0 + h * 0.34)]
        self.draw.line(points, fill=colour, width=max(2, w // 10), joint="curve")

    def star(self, centre: tuple[float, float], r: float, fill: Colour = GOLD) -> None:
        """A five-pointed star (本周之星), drawn as a polygon rather than a glyph."""
        cx, cy = centre
        points = []
        for i in range(10):
            radius = r if i % 2 == 0 else r * 0.45
            angle = math.pi / 2 + i * math.pi / 5
            points.append((cx + radius * math.cos(angle), cy - radius * math.sin(angle)))
        self.draw.polygon(points, fill=fill)

    def finish(self) -> Picture:
        """PNG bytes, on a small adaptive palette (flat colours and text: no visible loss)."""
        small = self.image.quantize(colors=COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        buf = io.BytesIO()
        small.save(buf, format="PNG", optimize=True)
        return Picture(buf.getvalue(), self.image.size, list(self.texts), list(self.boxes))
