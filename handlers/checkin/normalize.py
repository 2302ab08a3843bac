"""Normalising a post before it is read: NFKC, case, traditional to simplified, Cantonese function
words, misspelt forms of 打卡."""

from __future__ import annotations

import re
import unicodedata

# ---------------------------------------------------------------------------------------------------
# normalisation

_TRAD_PAIRS = (
    "沒没 還还 記记 嗎吗 麼么 麽么 點点 補补 發发 髮发 筆笔 業业 別别 謝谢 們们 這这 週周 請请 過过 時时 "
    "會会 後后 誰谁 讓让 說说 簽签 為为 準准 備备 寫写 條条 該该 裡里 裏里 龍龙 續续 繼继 開开 學学 習习 "
    "課课 題题 問问 幾几 號号 個个 來来 給给 現现 總总 結结 錯错 應应 當当 頭头 從从 與与 紀纪 錄录 曬晒 "
    "貼贴 傳传 趕赶 緊紧 畢毕 佈布 難难 見见 覺觉 連连 遲迟 馬马 劃划 爭争 盡尽 儘尽 試试 夥伙 寶宝 親亲 "
    "務务 標标 規规 則则 計计 統统 幫帮 數数 無无 單单 間间 機机 員员 議议 約约 歡欢 讀读 書书 圖图 鍾钟 "
    "鐘钟 於于 啟启 氣气 喚唤 醒醒 聽听 懂懂 嗯嗯 啦啦 滿满 鬧闹 費费 隊队 經经 組组 長长 師师 絡络 鏈链 "
    "網网 頁页 內内 復复 錶表 紅红 線线 擊击 戰战 級级 積积 極极 堅坚 篇篇 報报 態态 談谈 達达 處处 動动 "
    "愛爱 戲戏 樂乐 燈灯 認认 識识 讚赞 贊赞 棒棒 厲厉 害害 謂谓 歲岁 晚晚 點点 鐘钟 稍稍 兒儿 雲云 東东 "
    "車车 門门 問问 聞闻 鬆松 實实 際际 驗验 險险 養养 飯饭 麵面 颱台 臺台 區区 醫医 藥药 癒愈 況况 離离 "
    "題题 麗丽 陽阳 陰阴 風风 園园 圓圆 鮮鲜 魚鱼 鳥鸟 羅罗 蘭兰 葉叶 萬万 豐丰 嚴严 熱热 歷历 曆历 畫画 "
    "練练 囉啰 剛刚 張张 貓猫 隻只 雞鸡 質质 攝摄 詞词 遊游 繩绳 將将 體体 場场 鍛锻 煉炼 邊边 帶带 換换 "
    "強强 顧顾 飛飞 終终 錢钱 篇篇 線线 塗涂 聲声 讀读 導导 們们 稿稿 賴赖 齊齐 獎奖 章章 張张 專专 題题 "
    "頁页"
)
_TRAD = str.maketrans({p[0]: p[1] for p in _TRAD_PAIRS.split()})
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


def _normalize(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).casefold().translate(_TRAD).translate(_ZERO_WIDTH)
    s = s.replace("打咭", "打卡").replace("甚么", "什么")
    s = _YUE_RE.sub(lambda m: _YUE[m.group(0)], s)
    return _MISSPELT_RE.sub(_fix_misspelt, s) if ("打" in s or "d" in s or "卡" in s) else s


def _fold(s: str) -> str:
    """A name key: NFKC, casefold, single spaces, no leading @."""
    s = unicodedata.normalize("NFKC", s or "").casefold().translate(_ZERO_WIDTH)
    return " ".join(s.split()).lstrip("@")
