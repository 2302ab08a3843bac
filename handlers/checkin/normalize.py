"""Normalising a post before it is read: NFKC, case, traditional to simplified, Cantonese function
words, misspelt forms of 打卡."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

# ---------------------------------------------------------------------------------------------------
# normalisation

# traditional to simplified by OpenCC's character and phrase tables (t2s), not a table of our own;
# 係 is read first as Cantonese 是 (OpenCC would make it 系)
_T2S = opencc.OpenCC("t2s")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f"), None)
# Cantonese (and HK written) function words to their Mandarin forms, so every rule reads them: the aspect
# marker 咗 (= 了), negation 冇/唔, the day words (聽日 明天, 尋日/琴日 昨天, 而家 现在), 搞掂 (= 搞定) ...
_YUE_PAIRS = (
    ("搞掂", "搞定"),
    ("听日", "明天"),
    ("寻日", "昨天"),
    ("尋日", "昨天"),
    ("琴日", "昨天"),
    ("而家", "现在"),
    ("宜家", "现在"),
    ("补返", "补回"),
    ("做返", "做回"),
    ("未曾", "还没"),
    ("咗", "了"),
    ("仲有", "还有"),
    ("啲", "点"),
    ("嚟", "来"),
    ("冇", "没"),
    ("唔", "不"),
    ("嘅", "的"),
    ("佢", "他"),
    ("係", "是"),
    ("喺", "在"),
    ("畀", "给"),
    ("乜嘢", "什么"),
    ("点解", "为什么"),
    ("边度", "哪里"),
)
_YUE_RE = re.compile("|".join(a for a, _ in _YUE_PAIRS))
_YUE = dict(_YUE_PAIRS)


# misspelt and cute forms of 打卡: 打咔 打咖 打佧 打卞 打🃏 打qia 打kaa da卡 da ka daka dk
_MISSPELT_RE = re.compile(
    r"打(个|一下|下)?\s*(?:咔|咖(?!啡)|佧|卞|🃏|qia(?![a-z])|ka+(?![a-z]))"
    r"|(?<![a-z])da\s*(?:卡|ka+(?![a-z]))|(?<![a-z0-9])dk(?![a-z0-9])"
    # the same sound written with another character: 哒卡 达卡 搭卡 答卡, and 大卡 when it is no calorie count
    r"|(?:哒|达|搭|答|(?<![0-9一二两三四五六七八九十百千万几多少])大)(?=卡(?![路片车通]))()"
)


def _fix_misspelt(m: re.Match[str]) -> str:
    if m.group(2) is not None:  # a look-alike 打 before 卡: the 卡 stays in the text
        return "打"
    return "打" + (m.group(1) or "") + "卡"


@lru_cache(maxsize=4096)  # a post is normalised by several readers in turn: once is enough
def _normalize(s: str) -> str:
    s = _T2S.convert(unicodedata.normalize("NFKC", s).casefold().translate(_ZERO_WIDTH).replace("係", "是"))
    s = s.replace("打咭", "打卡").replace("甚么", "什么")
    s = _YUE_RE.sub(lambda m: _YUE[m.group(0)], s)
    return _MISSPELT_RE.sub(_fix_misspelt, s) if ("打" in s or "d" in s or "卡" in s) else s


def _fold(s: str) -> str:
    """A name key: NFKC, casefold, single spaces, no leading @."""
    s = unicodedata.normalize("NFKC", s or "").casefold().translate(_ZERO_WIDTH)
    return " ".join(s.split()).lstrip("@")
