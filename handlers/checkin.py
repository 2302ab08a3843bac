"""Is this post a check-in? Pure functions, no I/O.

detect() looks at one inbound message and answers with a Detection:
- "checkin": the sender checked in (keyword post, done sentence, note link, image post);
- "chain":   a 接龙 chain (see handlers.chain), with the credits it earns (possibly none);
- "none":    anything else - questions, negations, postponements, 补卡 requests, reminders to others,
             rules, someone else's act, acknowledgements, chit-chat, emoji. A "none" may carry
             unsure=True: the evidence for a check-in is real but its day or object is unclear, and the
             caller may ask the member (这条算今天的打卡吗？).

The rules read the sentence - who acts, in which mood, on which day - with word CLASSES (all pronouns,
all time words, all modal verbs, all completion complements ...) rather than phrases. All linear time:
no regular expression can backtrack badly (repetitions are bounded or over a class that cannot overlap
what follows), and a keyword loop never rescans its clause.
1. Own words: text after a quote separator (``- - - -``) is someone else's message and is dropped -
   unless what stands before the separator is itself a quoted message (「阿杰：...」), then the reply
   after it is the sender's. Leading and trailing @mentions are stripped; URLs become line breaks.
2. Normalising: NFKC, casefold, traditional to simplified, Cantonese function words to Mandarin (咗 了,
   冇 没, 唔 不, 聽日 明天, 尋日 昨天, 而家 现在, 搞掂 搞定 ...), misspelt and same-sound forms of 打卡 (打咔
   打qia da卡 dk 哒卡 达卡, 大卡 unless a calorie count); a capitalised Latin given name before a subject's
   verb ("Lily 今天...") is marked as a name; "5:33" is a time; titles and quoted words (《...》 「...」
   "...") are blanked: mentioned, not said.
3. Clauses: cut at punctuation, line breaks and contrast words; an alternative question is a question
   in all its pieces.
4. Evidence: check-in keywords (打卡, 已更, 签到, ✅, checked in, day 5 ...) and "done" sentences: a practice
   verb (the whole class: read, write, draw, run, sing, play, code, meditate, eat ...) with a completion
   complement (V完 V好 V出来了 V通了 V过了 交上去), a today/time word and V了, getting up or going to bed
   at a clock time (5:40就起了, 10点就上床了; "6:30前起床" with no 了 is a deadline), in-time words with
   success (卡点成功), English done words. A keyword is not the act when used as a noun (打卡规则, 打卡法,
   打卡是..., 打卡的记录), in a subordinate "after" clause (完成后...), or inside quotes.
   Each occurrence is read in its sentence:
   - mood: a question (wh-words, 吗, a trailing 未, a question opener 想问一下 before an unmarked
     keyword), a reminder to others (大家/记得/...; not when the sender turns to themself or hurries
     themself: 赶在12点前, ddl前, 差点), a negation (没/还没/忘 ... before, or right after it), another day
     (昨天, 上周, 三个月前, 上一期; a comparison 比昨天早 is about today; a bare weekday or date with a
     done marker is unsure), later (明天, 晚点, a modal: 要/想/会, an epistemic 能/估计/可能 unless marked
     done), a habit (一般/平时/通常: not today's report), a plan or condition (如果, 再, a step after another
     act with a connector: 读完就来打卡, 跑完回来打卡 - unless that act is behind us: 刚吃完就来打卡 - or
     a done sentence followed by a later act: 画完了到酒店再发);
   - who: for someone else (帮小王打卡), or someone else as the subject: the nearest person mention
     before the act - a pronoun (not the 他 of 吉他), a relation, a role (组长, 学委, 教练), a name (小雨,
     阿杰, 王姐, @阿花, Lily), a number of people (8个人) - rather than 我; when the clause names nobody,
     the subject named last in the sentence (or the previous clause) carries over; praise (恭喜, 膜拜,
     yyds) with no 我 scopes over what precedes it and its own line;
   - what: a task description or rule - a header line (本周任务：, 今日画题：, Day 5 task:, 是这样的：) or
     words to newcomers (新同学, 新朋友) with generic wording (每天, 每人, 即可, 就行, 都可以, 不用, 限时,
     发群里, →), or a rule's phrasing near the keyword (就算打卡, 才能打卡, 发布后在群里打卡, 满21天).
   A "today" word (今天/今日/现在/刚刚) between a time or negation word and the keyword lifts it.
5. A clause with a check-in keyword and nothing against any of its keywords makes the post a check-in.
   A day count alone (第21天) and a done sentence are weaker: a reminder, rule, plan, negation or
   someone else's act anywhere in the post outweighs them. A done sentence with no sign of what or when
   (a bare 看完了) is unsure, and so is a check-in said for a bare weekday (周六打卡✅).
6. A make-up for today made now (补个今天的卡, 今天的卡差点忘了，补上) is a late check-in unless an
   other-day word stands on its line; other 补卡 are not.
7. A note link makes a check-in unless the text negates, postpones, reminds, asks for 补卡, or - when
   no check-in keyword of the sender's own decides - says the link is not the sender's own new work of
   today: whose (朋友/她的/小林的, 帮朋友求个赞, X的这篇 not preceded by 我/今天/刚/新), what for (示例, 范文,
   科普, 合集, 刷到, 拉票, an appraisal: 整理得很好), or when (上个月, 三个月前, 上一期, 第一天写的 - an
   old-time word counts only in the same sentence as the sender's own 今天写的/刚发的); a mere share
   (分享/干货/大家看看) with the sender's own today (今天分享的...) is still theirs. An image is a
   check-in; a "mixed" post is taken to carry an image and is one unless its text says otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from .chain import (
    MAX_TEXT,
    Chain,
    ChainEntry,
    cut_quote,
    is_quote_separator,
    parse_chain,
    strip_mentions,
)

__all__ = [
    "Credit",
    "Detection",
    "detect",
    "strip_mentions",
    "find_note_links",
    "note_link_hosts",
    "DEFAULT_LINK_HOSTS",
]

DEFAULT_LINK_HOSTS: tuple[str, ...] = ("xhslink.com", "xiaohongshu.com")


@dataclass(frozen=True)
class Credit:
    name: str | None  # display name as written in a chain entry; None = the sender themself
    userid: str | None  # resolved userid (sender's, or a known member's for leader chains), else None
    note_links: tuple[str, ...] = ()  # 小红书 links found for this credit


@dataclass(frozen=True)
class Detection:
    kind: str  # "checkin" | "chain" | "none"
    credits: tuple[Credit, ...] = ()
    reason: str = ""  # short English why (for logs/tests)
    addressed: bool = False  # the original text @-mentions someone (e.g. the robot)
    # a leader's chain entries whose name two or more members share: (name as written, their userids);
    # nobody is credited for them, the leader is asked
    unclear: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # may be a check-in, but the evidence is weak (a bare "看完了"): kind stays "none" and the caller may
    # ask the member (这条算今天的打卡吗？)
    unsure: bool = False


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


# ---------------------------------------------------------------------------------------------------
# note links

_URL_RUN_RE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_SCHEME_SPLIT_RE = re.compile(r"(?=https?://)", re.IGNORECASE)
_TRAILING = ".,;:!?'\"*"


def _host_matches(host: str, hosts: tuple[str, ...]) -> bool:
    return any(host == h or host.endswith("." + h) for h in hosts)


_PAIRS = {")": "(", "]": "["}


def _trim_url(u: str) -> str:
    """Trailing punctuation off, and a closing bracket that the URL did not open. Linear: the brackets
    are counted once (a URL ending in 10,000 `)` must not cost 10,000 recounts)."""
    opened = {c: u.count(o) for c, o in _PAIRS.items()}
    closed = {c: u.count(c) for c in _PAIRS}
    end = len(u)
    while end:
        ch = u[end - 1]
        if ch in _TRAILING:
            end -= 1
        elif ch in _PAIRS and opened[ch] < closed[ch]:
            closed[ch] -= 1
            end -= 1
        else:
            break
    return u[:end]


def _links_in(text: str, hosts: tuple[str, ...]) -> tuple[list[str], list[tuple[int, int]]]:
    """(note links, spans of every URL-looking run) in NFKC text."""
    links: list[str] = []
    seen: set[str] = set()
    spans: list[tuple[int, int]] = []
    for run in _URL_RUN_RE.finditer(text):
        r = run.group(0)
        if "." not in r:
            continue
        is_url = False
        for part in _SCHEME_SPLIT_RE.split(r):
            if not part:
                continue
            low = part.lower()
            if low.startswith(("http://", "https://")):
                is_url = True
                rest = part.split("://", 1)[1]
                authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
                host = authority.rsplit("@", 1)[-1].split(":", 1)[0].lower().rstrip(".")
                candidate = part
            else:
                stripped = part.lstrip("-._~:/?#[]@!$&'()*+,;=%")
                slash = re.search(r"[/?#]", stripped)
                if not slash:
                    continue
                host = stripped[: slash.start()].split(":", 1)[0].lower().rstrip(".")
                candidate = stripped
                if not _host_matches(host, hosts):
                    continue
                is_url = True
            if host and _host_matches(host, hosts):
                link = _trim_url(candidate)
                if link and link not in seen:
                    seen.add(link)
                    links.append(link)
        if is_url:
            spans.append(run.span())
    return links, spans


def note_link_hosts(link_hosts: Sequence[str] | None) -> tuple[str, ...]:
    """The hosts whose links are note links, normalised (no scheme, path or www.): DEFAULT_LINK_HOSTS
    for None; for a list that starts with "+" (`BOT_LINK_HOSTS=+mp.weixin.qq.com`, as config keeps
    it) DEFAULT_LINK_HOSTS and the rest; any other list on its own."""
    if link_hosts is None:
        return DEFAULT_LINK_HOSTS
    if link_hosts and link_hosts[0] == "+":
        link_hosts = DEFAULT_LINK_HOSTS + tuple(link_hosts[1:])
    out: list[str] = []
    for h in link_hosts:
        h = (h or "").strip().lower()
        if "://" in h:
            h = h.split("://", 1)[1]
        h = h.split("/", 1)[0].strip(".")
        if h.startswith("www."):
            h = h[4:]
        if h and h not in out:
            out.append(h)
    return tuple(out)


def find_note_links(text: str, link_hosts: Sequence[str] | None = None) -> tuple[str, ...]:
    """Note links (URLs on the 小红书 hosts, or on link_hosts as note_link_hosts reads them) in the order
    they appear."""
    if not text:
        return ()
    links, _ = _links_in(unicodedata.normalize("NFKC", text[:MAX_TEXT]), note_link_hosts(link_hosts))
    return tuple(links)


# ---------------------------------------------------------------------------------------------------
# keyword analysis

_DEFAULT_KEYWORDS = r"""
      打(?:个|一下|一个|下|了|完|上|好)?卡 | 卡已打 | 签到
    | 已更(?!改|换|正|名|替|衣) | 日更 | 更文 | 连更 | 双更 | (?<![变更断停])更(?:了|完|好了)
    | 第\ *[0-9一二两三四五六七八九十]+\ *更
    | 已更新 | 更新(?:了|完|好) | 今[日天]更新
    | 已发(?!现|生|烧|展|育|言|送|誓|财|火|芽|给) | 已发布 | 已发表 | 发布了 | 发完
    | 发了(?:[0-9一二两三四五六七八九十几]*[篇条]|笔记|新笔记|小红书) | (?:我|今天|今日|也|都)(?:已经?)?发了 | 已投稿
    | 笔记(?:已经?|都)?(?:发|发布|更新|发好|写好)(?:了|啦|好)
    | 交作业 | 交了作业 | 作业(?:已经?|都)?(?:交|提交) | 提交(?:了)?作业 | 已提交 | 已交
    | 完成(?!度|率|情况) | 搞定
    | (?<![a-z])day\ *\d+ | 第\ *[0-9零〇一二两三四五六七八九十百千]+\ *[天篇]
    | (?<![a-z])(?:done|check(?:ed|ing)?[ -]?in)(?![a-z])
    | [✅☑✔✓]
    | 交稿 | 交付(?!时间|日期)
"""
# Today's work reported done without a check-in word ("今天的两章读完啦", "素描作业画完了", "跑完5公里",
# "今天游了1000米", "5:40就起了", "finished today's reading"). Read with the same checks as a keyword
# (question, negation, another day, plan, someone else...), and named "done" in the reason.
# practice verbs of the camps (reading, writing, drawing, sport, music, language, coding, meditation, diet)
# (one-character verbs as a character class: one test per position, which keeps the keyword scan fast)
_ACTS = (
    r"(?:跟读|朗读|背诵|复习|预习|临摹|默写|上色|冥想|拉伸|训练|练习|健身|翻译|撸铁"
    r"|[读看写画练跑背做跟拍学听录游跳啃煮烤抄弹骑剪走爬描唱吹拉敲刷念吃喝坐码改修调算解记])"
)
_DONE_WORDS = rf"""
      {_ACTS} \s* (?:完 (?=[了啦咯喽啰嘞哒发交0-9一二两三四五六七八九十半]|\s|$) | (?:出来|通|过) \s* [了啦咯])
    | [写画拍做录剪烤煮] \s* 好 (?=[了啦咯喽啰嘞哒]|\s|$)
    | (?:交|发|传|贴|晒|提交|上传) \s* (?:上去|出去) \s* (?:了|啦|咯)?
    | (?:全部|都|已经?|终于)\s*通过 | (?:卡点|卡着点|踩点|踩着点|掐点|压线)\s*(?:成功|来了|到了|完成)
    | (?:刚刚?|已经|终于|总算) \s* {_ACTS} \s* 完
    | 上完色
    | (?:今天|今日|今早|今儿|早上|上午|中午|下午|刚刚?) [^,.!?;:\n没不未别想要准打会再如等]{{0,10}}?
      (?:{_ACTS}|聊|[a-z]{{2,12}}\ ?) 了 (?!一半)
    | (?:写|业|稿|品|图|录音) 交了 | 交(?:了)?(?:今天|今日)的[^,.!?;:\s]{{0,6}}作业 | 发出去(?:了|啦)?
    | (?:\d{{1,2}} \s* (?::|点) \s* (?:\d{{1,2}}|半)? \s* 分? \s* (?:就|才|已经)? \s* | 早早就 | 就 | 已经)
      (?:起床|起来|醒来|醒|起|上床|躺下|躺床|躺平|入睡|睡下) (?:了|啦|的|成功)?
    | \d{{1,2}} \s* (?::|点) \s* (?:\d{{1,2}}|半)? \s* 分? \s* 前 \s* (?:就|才|已经)? \s*
      (?:起床|起来|醒来|醒|起|上床|躺下|躺床|躺平|入睡|睡下|睡) (?:了|啦|的|成功)
    | (?:起床|上床|躺下|睡下|睡觉|睡) \s* (?:了|啦|成功)(?![解])| 起来了
    | (?<![a-z])(?:finished|completed|complete|posted|published|submitted|uploaded|nailed\ it
        |(?:post|note|video|article|essay|homework|workout)s?\ +(?:is|are)\ +up
        |up\ +at\ +\d|woke\ +up\ +at)(?![a-z])
"""
_KEYWORDS_RE = re.compile(_DEFAULT_KEYWORDS + " | (?P<done>" + _DONE_WORDS + ")", re.VERBOSE)


@lru_cache(maxsize=64)
def _keyword_re(keywords: tuple[str, ...] | None) -> re.Pattern[str]:
    if keywords is None:
        return _KEYWORDS_RE
    extend = bool(keywords) and keywords[0] == "+"  # ("+", words...): the defaults and these
    words = sorted({_normalize(k).strip() for k in keywords[extend:] if k and k.strip()}, key=len, reverse=True)
    if extend:
        return re.compile(
            _DEFAULT_KEYWORDS + " | (?P<done>" + _DONE_WORDS + ")" + "".join(" | " + re.escape(w) for w in words),
            re.VERBOSE,
        )
    if not words:
        return re.compile(r"(?!x)x")  # matches nothing
    return re.compile("|".join(re.escape(w) for w in words))


# a keyword followed by one of these is a noun ("打卡规则"), not the act
_NOUN_AFTER_RE = re.compile(
    r"\s*(?:规则|要求|时间|方式|方法|格式|链接|群|表|记录|天数|次数|率|情况|统计|提醒|截止|入口|功能|小程序|机器人"
    r"|助手|的人|的同学|的小伙伴|的伙伴|的宝|的朋友|名单|开始|接龙|任务|目标|计划|活动|内容|模板|这件事|的事|制度|标准"
    r"|笔记|步骤|说明|流程|须知|指南|教程|法|是(?!不是)|的(?=[\u4e00-\u9fff])(?!第|我|人)"
    # a subordinate "after ..." clause ("完成后@打卡助手", "打卡之后"): a step, not the act
    r"|之后|以后|后(?![天面来悔续悔]))"
)
# phrases that look like a marker below but are not ("不错", "没想到", "大家好")
_NEUTRAL_RE = re.compile(
    r"没想到|不错|不少|不仅|不停|不断|不知不觉|不管|不得不|没事|没问题|不容易|了不起|忍不住|不一样|差不多|不然|一不小心"
    r"|大家好|和大家|跟大家|陪大家|与大家|谢谢大家|感谢大家|不知道(?:怎么|什么|咋|如何|写什么)?|没什么|什么的"
    r"|开会|开完会|会议|会员|学会|体会|机会|社会|约会|聚会|不会吧|去年|过去|目前|没关系|别人|特别|区别|分别|告别"
    # a comparison with another day is about today: "比昨天早了20分钟"
    r"|比(?:昨天|昨晚|前天|上周|之前|以前|平时|平常)"
)
_CLAUSE_RE = re.compile(r"([^,.;!?:，。；！？：、~…\n]*)([,.;!?:，。；！？：、~…\n]*)")
_CONTRAST_RE = re.compile(r"但是|但|不过|可是|然而|还是")

_WH_BEFORE_RE = re.compile(
    r"怎么|怎样|如何|咋|在哪|哪里|哪儿|哪个|哪天|什么|何时|几点|是否|能否|能不能|可不可以|要不要|需不需要|用不用"
    r"|有没有|是不是|会不会|谁|为什么|为啥|多久|啥|(?<![a-z])(?:how|where|when|should|do i|can i)(?![a-z])"
)
_WH_AFTER_RE = re.compile(
    r"怎么|怎样|如何|咋|在哪|哪里|哪儿|哪个|什么|何时|几点|是否|能否|谁|为什么|为啥|多久|啥|吗|么|嘛|呢"
    r"|对吧|是吧|对不对|对嘛|是嘛"
)
_Q_SUFFIX_RE = re.compile(
    r"\s*了?\s*(?:吗|么|嘛|没有?|木有|呢|不(?![\u4e00-\u9fff])|与否|否"
    r"|未(?:呀|啊|吖|呢)?(?![\u4e00-\u9fff]))"
)  # Cantonese "打咗卡未呀"
_REMIND_RE = re.compile(
    r"大家|各位|同学们|伙伴们|宝子们|宝宝们|家人们|姐妹们|朋友们|亲们|小伙伴|你们|记得|别忘|不要忘|莫忘|提醒|督促|催"
    r"|抓紧|赶紧|赶快|(?<!申)请(?!假)|麻烦|(?<![a-z])(?:remember|don't forget|please)(?![a-z])"
)
_REMIND_NEAR_RE = re.compile(r"(?:快(?:去|点|来)?|一起|前)$")
# message-level reminder openers: "提醒一下，今晚12点前打卡"
_REMIND_OPENER_RE = re.compile(r"提醒一下|提醒大家|温馨提示|温馨提醒|友情提示|友情提醒|小提醒|通知")
_NEG_NEAR_RE = re.compile(r"还没有?|没有?|未|无法|没法|不能|忘|不好意思|没脸|不敢|懒得")  # within 6 chars before
_NEG_BU_RE = re.compile(r"不|别")  # within 3 chars before
_NEG_FAR_RE = re.compile(
    r"忘|(?<![a-z])(?:not|no|never|haven't|havent|didn't|didnt|won't|can't|cannot|forgot|forget)"
    r"(?![a-z])"
)
# right after the keyword (a filler like 了/都/还 allowed): "打卡还没成功", "更新失败"
_NEG_AFTER_RE = re.compile(
    r"(?:了|都|也|却|又)?\s*(?:还没|没有|没写|没更|没发|没打|没成功|没交|未完成|未更"
    r"|不了|不上|失败|不成|没法|不行)"
)
_MAKEUP_RE = re.compile(
    r"补(?:卡|打|签|更|交|发|一下|一个|个|上|昨|前|做|写|一篇|回|到|记|[哈呀啊哦吧的]|\s*$"
    r"|\s*(?:day\s*\d|第|\d+\s*号|周|星期|礼拜))"
)
# "打卡 补上啦" said the same day reports a done check-in, not a request to credit another day.
_MADE_UP_RE = re.compile(r"补(?:上|好|完|交)(?:了|啦|咯|喽)")
_BARE_MAKEUP_RE = re.compile(
    r"补(?:打?卡|签到?|更|交作业|记|登记)"
    r"|补(?:个|一下|一个|打)?\s*[^,.!?;:\s]{0,6}的\s*(?:打?卡|签到?|更)"
)
_BARE_NEG_RE = re.compile(
    r"(?:还)?没有?(?:更|发笔记|写完|写|读|背|练|跑|画|做|看)|未(?:更|完成|发)|不更|停更|断更"
    r"|卡\s*(?:还)?(?:没|不)[^,.!?;:\s]{0,3}打"
)  # "这卡没脸打"
# a weekday or a date with nothing saying it is not today ("周日", "3号"): a check-in for it may be today's
_BARE_DAY_RE = re.compile(r"(?:周|星期|礼拜)[一二三四五六日天]|\d{1,2}\s*号")
_PAST_RE = re.compile(
    r"昨天|昨日|昨晚|前天|前日|上周|上礼拜|之前|那天|上个月|去年|以前|上一?(?:期|轮|届)"
    r"|[0-9一二两三四五六七八九十几半]{1,4}\s{0,2}个?\s{0,2}(?:天|周|星期|礼拜|月|年)(?:前|之前)"
    r"|(?<![本这每下])(?:周|星期|礼拜)[一二三四五六日天]|(?<![0-9])\d{1,2}\s*号"
    r"|(?<![a-z])(?:yesterday|last\s+(?:night|week))(?![a-z])"
)
_LATER_RE = re.compile(
    r"晚点|晚些|晚一点|等会|等下|等一下|待会|一会|稍后|稍等|明天|明日|明早|明晚|后天|下次|下周|改天|回头|马上|这就"
    r"|立刻|立马|准备|打算|计划|争取|尽量|尽快|努力|等我|即将|将要|今晚(?:再|会|要)|晚上(?:再|会|要)"
)
_LATER_NEAR_RE = re.compile(
    r"(?:(?<![学开体机社约聚理误])会|(?<![过失回出进上下])去|(?<![冥感理思梦回联构设猜幻])想|将"
    r"|(?<![需重主只想])要|应该|应当|(?<![应活])该|可以)$"
)
# epistemic modals: the act is expected, not reported ("估计11点前能搞定"), unless it is marked done
_MODAL_NEAR_RE = re.compile(r"(?<![不没])能够?|估计|可能|大概|预计|应该能|争取")
# 帮/替/给 someone: "帮小王打卡", "替我同事打个卡"; but "帮我打卡" asks the bot to check the sender in
_PROXY_RE = re.compile(r"(?:帮|替|代|给)(?!我(?![们妈爸家闺朋同室老儿女娃])|大家|自己)")
_TODAY_RE = re.compile(r"今天|今日|今儿|现在|刚刚|刚才|今早|today")
# an evening or after-work time before the keyword is a plan, unless the keyword says it is done ("今晚打卡了")
_SOFT_LATER_RE = re.compile(r"今晚|晚上|夜里|睡前|下班|下课|下午|中午|等下班")
_DONE_AFTER_RE = re.compile(r"\s*(?:了|啦|完|好|成功|[✅☑✔✓])")
# a link that is not the sender's own new work of today: whose (a friend's, a name's), what for (an example,
# a share, likes for someone), or when (an old note)
_NOT_OWN_NOTE_RE = re.compile(
    r"博主|示例|范文|案例|例子|模板|往期|优秀|爆款|刷到|拆解|科普|攻略|教程|合集|翻出来|求赞|求个赞|投票|拉票|票数"
    r"|不是我写|不算今天|(?:写|画|拍|做|剪|录|整理|总结)得(?:真|太|很|超|好|挺|特别)|第[一二三四五六七八九十0-9]+周|第[一二三四五六七八九十0-9]+(?:天|期)(?:写|画|发|做|拍)的"
    r"|(?:她|(?<![吉其])他|你|朋友|闺蜜|同事|组长|班长|老师|别人)(?:的|那篇|这篇|写的|画的|发的|今天这篇)"
    # for someone else: "帮朋友求个赞", "给我闺蜜点个赞"
    r"|(?:帮|替|给)(?:我的?)?(?:朋友|闺蜜|同事|室友|她|他|妈|爸|老公|老婆|孩子|娃|同学|家人|姐妹|我家)"
    r"|(?<![a-z])(?:found|useful|check out|example|someone)(?![a-z])"
)
# weaker: a share, which one's own new note may be too ("今天写的干货，大家看看")
_SHARE_NOTE_RE = re.compile(
    r"推荐|参考|学习一下|大家看|大家可以看|值得一看|转发|分享|干货|自取|围观"
    r"|点赞|点点赞|点个赞"
)
_OWN_TODAY_RE = re.compile(
    r"(?:今天|今日|今早|今晚|刚刚?)[^,.!?;:\n]{0,4}?"
    r"(?:写|画|发|做|拍|更|用|分享|整理|录|剪|总结)"
)
# "X的这篇/笔记" made by whom: someone's unless the words before it say the sender or today (我, 今天新发的)
_MADE_THE_RE = re.compile(r"(?:写|画|发)的(?:这篇|那篇|笔记|文章)")
_MADE_BY_ME_RE = re.compile(r"我|今|刚|新")
_NAME_OWNS_RE = re.compile(r"\s*(?:的|那篇|这篇|写的|画的|发的|今天这篇)")


def _not_own_note(t: str) -> str | None:
    """Why a note link in normalised text t is not the sender's own work of today, else None."""
    m = _NOT_OWN_NOTE_RE.search(t)
    if m:
        return m.group(0)
    own = _OWN_TODAY_RE.search(t)
    if own:  # the sender's own today: only an old-time word on that same line says otherwise
        lo = t.rfind("\n", 0, own.start()) + 1
        hi = t.find("\n", own.end())
        m = _PAST_RE.search(t, lo, hi if hi >= 0 else len(t))
    else:
        m = _PAST_RE.search(t)
    if m:
        return m.group(0)
    for m in _MADE_THE_RE.finditer(t):
        if not _MADE_BY_ME_RE.search(t, max(0, m.start() - 4), m.start()):
            return m.group(0)
    for n in _NAME_RE.finditer(t):
        if (
            n.group(0)[0] == "@" or n.group(0)[0] != n.group(0)[-1] or n.group(0)[0] not in _REDUP_COMMON
        ) and _NAME_OWNS_RE.match(t, n.end()):
            return t[n.start() : n.end() + 2]
    m = _SHARE_NOTE_RE.search(t)
    if m and not own:  # "今天用了新标题，大家看看效果" is one's own
        return m.group(0)
    return None


# acknowledgement words; a message made only of these (and emoji/punctuation) is an acknowledgement
_ACK_WORDS = (
    "收到",
    "好的",
    "好哒",
    "好滴",
    "好嘞",
    "好哦",
    "好呀",
    "好吧",
    "好",
    "okay",
    "okk",
    "ok",
    "嗯",
    "哦",
    "噢",
    "谢谢",
    "多谢",
    "感谢",
    "谢",
    "thankyou",
    "thanks",
    "thx",
    "明白",
    "了解",
    "知道了",
    "知道",
    "老师",
    "辛苦了",
    "辛苦",
    "啦",
    "呀",
    "了",
    "哈",
    "呵",
    "1",
    "yes",
    "是的",
    "对的",
    "对",
    "没问题",
    "可以",
    "行",
    "收",
    "滴",
    "哒",
    "嘞",
    "耶",
    "加油",
    "真棒",
    "棒",
    "厉害",
    "赞",
    "您",
    "你",
    "大家",
)
_ACK_TOKEN_RE = re.compile("|".join(re.escape(w) for w in sorted(_ACK_WORDS, key=len, reverse=True)))


def _is_ack(core: str) -> bool:
    """Greedy longest-first tokenising (no backtracking, so linear): only acknowledgement words?"""
    if len(core) > 60:
        return False
    pos = 0
    while pos < len(core):
        m = _ACK_TOKEN_RE.match(core, pos)
        if not m:
            return False
        pos = m.end()
    return True


class _Spans:
    """Sorted, non-overlapping match spans with "is there one inside [lo, hi]" in O(log n)."""

    __slots__ = ("starts", "ends")

    def __init__(self, regex: re.Pattern[str], text: str):
        self.starts: list[int] = []
        self.ends: list[int] = []
        for m in regex.finditer(text):
            if m.end() > m.start():
                self.starts.append(m.start())
                self.ends.append(m.end())

    def inside(self, lo: int, hi: int) -> int | None:
        """Start of the first span with lo <= start and end <= hi, else None."""
        i = bisect_left(self.starts, lo)
        if i < len(self.starts) and self.ends[i] <= hi:
            return self.starts[i]
        return None

    def last_end_before(self, hi: int) -> int:
        """End of the last span ending at or before hi, else 0."""
        i = bisect_left(self.starts, hi) - 1
        while i >= 0:
            if self.ends[i] <= hi:
                return self.ends[i]
            i -= 1  # spans do not overlap, so this steps back at most once
        return 0


@dataclass
class _Verdict:
    status: str  # "pos" | "neg" | "neutral"
    reason: str
    category: str = ""  # for "neg": question, reminder, negated, makeup, past, later, proxy, ack, emoji, empty


def _blank(regex: re.Pattern[str], s: str) -> str:
    return regex.sub(lambda m: "_" * len(m.group(0)), s)


# --- the sentence around a keyword: who does it, in which mood ---------------------------------------

# "赶在12点前打卡", "踩着点打卡": made it in time, not a deadline told to others
_IN_TIME_RE = re.compile(
    r"赶在|赶着|踩着?点|掐点|卡点|卡着点|压线|差点|差一点|险些|ddl|deadline"
    r"|还有\s*[0-9一二两三四五六七八九十几]+\s*分钟"
)
# the subject of the act: the sender ...
_SELF_RE = re.compile(
    r"(?<![比给帮替跟和像让叫陪向对带])(?:我(?![们妈爸家闺朋同室老儿女娃姐哥弟妹])|本人|俺|自己)"
    r"|(?<![a-z])(?:i|i'm|im|i've|ive|my)(?![a-z])"
)
# ... or someone else: a pronoun, a relation, a role, a name ("小雨", "阿杰", "老王", "佳佳姐", "@阿花")
_OTHER_RE = re.compile(
    r"她|(?<![吉其])他|(?<![谢])你(?!一下|一声)|我妈|我爸|我家|闺蜜|朋友|同事|室友|队友|组长|班长|老师|隔壁|全员|大佬|别人"
    r"|人家|老公|老婆|姐妹|有人|好几个|大家都|那位|这位|卷王|大神|学委|班委|课代表|群主|管理员|助教|教练|队长|团长|营长"
    # a number of people: "8个人", "三位同学", "好多人"
    r"|(?:[0-9一二两三四五六七八九十几好多]{1,4}\s{0,2}(?:个|位|名))(?:人|同学|小伙伴|伙伴|成员|学员|姐妹)?(?=都|已|也|今|早|就|跑|读|写|画|打|交|完)"
    # a surname or given name with a kinship or role title: "王姐", "李哥", "张老师", "陈总"
    r"|(?<![我你他她大小老师学表堂])[\u4e00-\u9fff](?:姐|哥|叔|姨|婶|伯)(?![们妹弟])"
    r"|(?<![a-z])(?:she|he|they|her|his|their|you|your)(?![a-z])"
)
_NAME_RE = re.compile(
    r"@(?!打卡|机器人|助手|bot)[^\s@]{1,12}"
    r"|(?<![谢感和跟陪向比])(?:小(?![时组红书伙朋孩宝程目半学说区心姐妹点事候卡面份技窍白猫狗时])"
    r"|阿(?![姨])|老(?![师公婆是实了年家板大人爸妈样])"
    r")[\u4e00-\u9fff](?=[^\u4e00-\u9fff]|$|的|已|也|今|连|每|还|又|都|就|姐|哥|说|太|真|比|这|那|和|跟|在|是|发|写|画|打"
    r"|更|完|早|同学)"
    r"|([\u4e00-\u9fff])\1(?:姐|哥|子|酱)?"
)
_REDUP_COMMON = frozenset(
    "哈嘿呵嘻天刚常慢好默渐满多试看读点谢嗯乖早稍偷悄宝妈爸姐哥弟妹爷奶个人每久"
    "冲棒呜啊嗷咔打练写画跑背走想聊等一二三四五六七八九十了啦呀哦噢嗯滴哒嘞"
)
# praise or news about someone else ("恭喜小夏完成21天打卡", "Kelly 早起打卡一个月没断过 膜拜", "Well done Ray")
_PRAISE_RE = re.compile(
    r"恭喜|膜拜|佩服|羡慕|太强了|好强|太卷了|好厉害|真厉害|太厉害|服了|快去看|去围观|学习一下|向.{0,3}学习|好认真"
    r"|(?<![a-z])(?:yyds|tql|nb)(?![a-z0-9])|卷王|大神"
    r"|(?<![a-z])(?:well done|congrats|congratulations|good job|great job|proud of|respect|impressive|amazing)(?![a-z])"
)
# a plan or a condition: the act comes after something not done yet
_CONDITION_RE = re.compile(
    r"如果|要是|假如|万一|只要|的话|等(?!等)|准备|打算|计划|争取|回家|下班|睡了|睡前|明天|晚上|今晚|待会|一会"
    r"|(?<![a-z])(?:will|gonna|going to|i'll|ill|if|when|later|tonight|after)(?![a-z])"
)
_PLAN_NEAR_RE = re.compile(r"(?:再|然后|到时候?再?|才)\s*(?:来|去)?\s*(?:打个|打)?\s*$")
_PLAN_AFTER_STEP_RE = re.compile(
    r"(?:完|好)[^,.!?;:\s]{1,4}?(就|再|回来|然后)\s*(?:来|去)?\s*$"  # "背完单词回来打卡"
    r"|(?:完|了|后|起来|好)\s*(就|再|回来|来|去|然后)?\s*(?:来|去)?\s*$"
)
_JUST_DONE_RE = re.compile(r"刚|已经|终于|总算")
# habitual adverbs scope over the act: a habit or a rule, not a report of today
_HABIT_RE = re.compile(r"一般|平时|平常|通常|经常|总是|往往|一向|向来|习惯(?!了)|每次都|基本上都")
_IF_RE = re.compile(r"如果|要是|假如|万一|只要|的话|(?<![a-z])if(?![a-z])")
_EN_LATER_BEFORE_RE = re.compile(
    r"(?<![a-z])(?:will|gonna|going to|i'll|ill|plan to|want to|need to|have to|should|must)(?![a-z])"
)
_EN_LATER_AFTER_RE = re.compile(r"\s*(?:later|tonight|tomorrow|after|soon|when)(?![a-z])")
_EN_PROXY_AFTER_RE = re.compile(
    r"\s*for\s+(?:my\s+)?(?:sister|brother|mom|mum|dad|mother|father|friend|wife|husband|son|daughter|kid"
    r"|colleague|roommate|her|him|them)(?![a-z])"
)
# no check-in word, but a later act: "明天早上修改完再发"
_BARE_LATER_RE = re.compile(r"再(?:发|更|交)|(?:明天|明早|明晚|晚点|回头|下次)[^,.!?;:\n]{0,6}?(?:发|更|交)")
# a vocative clause ("老师好", "各位晚上好") names the hearer, not the one who acts
_VOCATIVE_END_RE = re.compile(
    r"(?:老师|各位|大家|姐妹们|宝子们|家人们|组长|班长|亲们|你|您)\s*(?:早上|晚上|中午|下午)?\s*(?:好|早|辛苦了|辛苦啦)\W*$"
)
# task descriptions and rules: a header ("本周任务：", "打卡说明：") and generic wording, or a rule's phrasing
# the header nouns of a task or rule text, in Chinese and English, and an explanation frame ("是这样的：")
_RULE_HEADER_RE = re.compile(
    r"(?:规则|说明|步骤|流程|安排|任务|作业|主题|格式|要求|须知|示例|题目|画题|题|课表|日程|计划表|时间表|清单|玩法|方式|训练"
    r"|(?<![a-z])(?:task|tasks|rules?|homework|assignment|todo|to-do|challenge))\s*(?::|是)"
    r"|(?:这样的|如下|以下)\s*:"
)
# words addressed to newcomers ("新同学别慌", "新朋友看这里"): with generic wording, a description of the rules
_NEWCOMER_RE = re.compile(r"新(?:同学|朋友|人|来的|成员|伙伴|学员|小伙伴|进群)")
# a question opener: what follows asks, unless it says something is done
_ASK_OPENER_RE = re.compile(r"请问|想问|问一下|问下|求问|请教|求助|(?<![a-z])(?:question|quick q)(?![a-z])")
_GENERIC_RE = re.compile(
    r"每天|每日|每篇|每周|每次|每晚|每早|每人|即可|就算|才算|才能|必须|需要|缺一不可|可以领|满\s*\d+\s*天|后\s*(?:在群里|发群里|群里)?"
    r"\s*打卡|打卡时|\d\s*\.\s*\S|→|->|例如|明天|下周|本周|这周"
    # permission, requirement and limit words of a rule: 都可以, 就行, 不用, 限时, 不少于, 至少, 哪怕
    r"|都可以|均可|也可以|也行|就行|不用|无需|不需要|不要求|限时|不少于|不超过|至少|以内|哪怕|(?:发|传|交)(?:到|在)?群里"
)
_RULE_STEP_RE = re.compile(r"后\s*(?:在|发)?\s*群里?\s*$")  # "发布后在群里打卡": a step
_RULE_NEAR_RE = re.compile(r"即可|就算|才算|才能|必须|需要|每天|每日|每篇|每周|每次|每晚")
_RULE_AFTER_RE = re.compile(r"\s*(?:时|的时候|满\s*\d|[0-9一二两三四五六七八九十]+\s*天\s*(?:可以|就|才|退|领|送))")
# a make-up for TODAY, made now ("补个今天的卡", "今天的卡补上"): a late check-in, not a 补卡 request
_TODAY_MAKEUP_RE = re.compile(
    r"补(?:个|一下|一个|打一下|打个|打|上)?\s*(?:今天|今日)"
    r"|(?:今天|今日)的[^,.!?;:\n晚明等待会再要想昨]{0,6}?补(?:一下|上|个|打|卡)?(?![不吗得])"
    r"|(?:今天|今日)的(?:打卡|卡)[^.!?;\n晚明等待会再要想昨]{0,10}?补(?:上|好|完)"
)
# what makes a done sentence today's task: a today/time word, a number, a task word, a first person
_DONE_EVIDENCE_RE = re.compile(
    r"今天|今日|今早|今晚|今儿|刚|早上|上午|中午|下午|晚上|[0-9一二两三四五六七八九十半]|作业|章|页|单词|公里|km|分钟|min|字"
    r"|篇|课|组|遍|张|题|道|首|曲|段|集|套|任务|训练|书|笔记|文章|稿|起|醒|我|today|finished|posted|published|submitted|up"
)
_WS_RE = re.compile(r"\s")
_CLOCK_RE = re.compile(r"(?<=\d):(?=\d)")  # 5:33 is a time, not a clause break
# a title or quoted words (《原子习惯》, 「打卡」, "why"): mentioned, not said - blanked before reading moods
_QUOTED_RE = re.compile(r"《[^《》\n]{1,30}》|「[^「」\n]{1,30}」|“[^“”\n]{1,30}”|\"[^\"\n]{1,30}\"|'[^'\n]{1,30}'")
_Q_MARK_RE = re.compile(r"[?吗]")
_WEAK_RE = re.compile(r"(?:day\s*\d+|第\s*[0-9零〇一二两三四五六七八九十百千]+\s*[天篇])$")


@dataclass
class _Context:
    """What the whole message says, for judging each keyword in it."""

    opener_end: int = 0  # end of a reminder opener ("提醒一下")
    condition: bool = False  # a plan or condition somewhere ("准备睡前读两章，读完来打卡")
    rule_from: int = -1  # start of a rule text (header + generic wording), else -1
    praise: re.Match[str] | None = None  # the first praise or news about someone
    text: str = ""
    self_anywhere: bool = False
    prev_at: int = 0  # start of the previous clause (its last-named person may be this clause's subject)
    in_time: bool = False  # "还有两分钟，赶紧打卡": hurrying oneself
    asking_from: int = -1  # end of a question opener ("想问一下"), else -1
    ready: bool = False  # filled in (on the first keyword: a post without one never needs it)

    def fill(self) -> None:
        t = self.text
        opener = _REMIND_OPENER_RE.search(t)
        header = _RULE_HEADER_RE.search(t) or _NEWCOMER_RE.search(t)
        asking = _ASK_OPENER_RE.search(t)
        self.opener_end = opener.end() if opener else 0
        self.condition = bool(_CONDITION_RE.search(t))
        self.rule_from = t.rfind("\n", 0, header.start()) + 1 if header and _GENERIC_RE.search(t) else -1
        self.praise = _PRAISE_RE.search(t)
        self.self_anywhere = bool(_SELF_RE.search(t))
        self.in_time = bool(_IN_TIME_RE.search(t)) and not opener
        self.asking_from = asking.end() if asking else -1
        self.ready = True


def _names(c: str) -> _Spans:
    sp = _Spans(_NAME_RE, c)
    keep = [(a, b) for a, b in zip(sp.starts, sp.ends, strict=True) if c[a] != c[a + 1] or c[a] not in _REDUP_COMMON]
    sp.starts = [a for a, _ in keep]
    sp.ends = [b for _, b in keep]
    return sp


def _clauses(t: str) -> Iterator[tuple[str, int, int]]:
    """(clause, absolute start, question) for each clause of normalised text t: question is 1 (true)
    when the clause ends with a question mark, 2 for every piece of an alternative question
    ("是6点前还是6点半前？"), else 0 (false)."""
    for m in _CLAUSE_RE.finditer(t):
        body, delim = m.group(1), m.group(2)
        if not body and not delim:
            continue
        question = "?" in delim
        start = m.start(1)
        pieces = []
        last = 0
        alternative = False
        for cm in _CONTRAST_RE.finditer(body):
            pieces.append((body[last : cm.start()], start + last))
            last = cm.end()
            alternative = alternative or cm.group(0) == "还是"
        pieces.append((body[last:], start + last))
        tail = body.rstrip()
        alt_q = alternative and (question or tail.endswith(("呀", "呢", "吗", "啊")))
        for i, (piece, at) in enumerate(pieces):
            if piece.strip():
                yield piece, at, 2 if alt_q else (question and i == len(pieces) - 1)


def _first_end(regex: re.Pattern[str], c: str, start: bool = False) -> int:
    """End (or start) of the first match of regex in c, len(c) + 1 when none: "a match ending by p" is
    first_end <= p, so a keyword loop need not rescan the clause for each keyword."""
    m = regex.search(c)
    return (m.start() if start else m.end() - 1) if m else len(c) + 1


def _last_before(spans: _Spans, hi: int) -> int:
    """Start of the last span ending at or before hi, else -1."""
    i = bisect_left(spans.starts, hi) - 1
    while i >= 0:
        if spans.ends[i] <= hi:
            return spans.starts[i]
        i -= 1
    return -1


def _analyse_clause(c: str, at: int, q_end: int, kw_re: re.Pattern[str], ctx: _Context) -> _Verdict | None:
    # (a keyword ending in a measure word, "发了篇", is followed by the noun it counts: no noun use)
    found_all = [m for m in kw_re.finditer(c) if m.group(0)[-1] in "篇条" or not _NOUN_AFTER_RE.match(c, m.end())]
    # a check-in word decides; "done" sentences count only in a clause without one
    occs = [m for m in found_all if m.lastgroup != "done"] or found_all
    if not occs:
        # no keyword, but "补卡" is a 补卡 request and "还没更" a negation all the same
        bare = _BARE_MAKEUP_RE.search(c)
        if bare:
            return _Verdict("neg", f"makeup: {bare.group(0)}", "makeup")
        bare = _BARE_NEG_RE.search(c)
        if bare:
            return _Verdict("neg", f"negated: {bare.group(0)}", "negated")
        bare = _BARE_LATER_RE.search(c)
        if bare:
            return _Verdict("neg", f"later: {bare.group(0)}", "later")
        return None
    if not ctx.ready:
        ctx.fill()
    makeup = _MAKEUP_RE.search(c)
    if makeup and _MADE_UP_RE.search(c) and not _PAST_RE.search(c):
        makeup = None
    if makeup:
        return _Verdict("neg", f"makeup: {c[makeup.start() : makeup.end() + 2].strip()}", "makeup")
    wh = _Spans(_WH_BEFORE_RE, c)
    remind = _Spans(_REMIND_RE, c)
    neg_far = _Spans(_NEG_FAR_RE, c)
    past = _Spans(_PAST_RE, c)
    later = _Spans(_LATER_RE, c)
    proxy = _Spans(_PROXY_RE, c)
    today = _Spans(_TODAY_RE, c)
    soft_later = _Spans(_SOFT_LATER_RE, c)
    selves = _Spans(_SELF_RE, c)
    others = _Spans(_OTHER_RE, c)
    names = _names(c)
    ws = [w.start() for w in _WS_RE.finditer(c)]
    # first positions (len(c) when absent) of words that count wherever they stand before a keyword: one scan
    first_in_time = _first_end(_IN_TIME_RE, c)
    first_if = _first_end(_IF_RE, c, start=True)
    first_en_later = _first_end(_EN_LATER_BEFORE_RE, c)
    tail = c.rstrip()
    for m in occs:
        p, e = m.start(), m.end()
        # question
        k = bisect_left(ws, e)
        seg_end = ws[k] if k < len(ws) else len(c)
        after_seg = c[e : min(seg_end, e + 12)]
        if (
            q_end == 2
            or wh.inside(0, p) is not None
            or _WH_AFTER_RE.search(after_seg)
            or _Q_SUFFIX_RE.match(c, e)
            or (q_end and (seg_end >= len(tail) or (len(c) - e <= 12 and len(c[e:].replace(" ", "")) <= 3)))
        ):
            return _Verdict("neg", f"question: {c[max(0, p - 4) : e + 3].strip()}", "question")
        # said as done: a completion marker right after the keyword, or one that ends in 了/啦
        marked = bool(_DONE_AFTER_RE.match(c, e)) or m.group(0).rstrip()[-1:] in ("了", "啦")
        if 0 <= ctx.asking_from <= at + p and not marked:  # "想问一下：打卡是每天发在群里就行吗"
            return _Verdict("neg", f"question: {c[max(0, p - 4) : e + 3].strip()}", "question")
        near = c[max(0, p - 4) : p].replace(" ", "")
        in_time = ctx.in_time or first_in_time < p
        # reminder to others (unless the sender turns to themself after it: "大家都好卷 我也来打个卡")
        r = remind.inside(0, p)
        if r is not None and (selves.inside(r + 1, p) is not None or (in_time and c[r : r + 2] in ("赶紧", "赶快"))):
            r = None
        if (
            r is not None
            or (_REMIND_NEAR_RE.search(near) and not in_time and m.lastgroup != "done")
            or (ctx.opener_end and at + p >= ctx.opener_end)
        ):
            return _Verdict("neg", f"reminder: {c[r if r is not None else max(0, p - 3) : e].strip()}", "reminder")
        reset = today.last_end_before(p)
        # negation
        found = [
            x
            for x in (_NEG_NEAR_RE.search(c, max(0, p - 6, reset), p), _NEG_BU_RE.search(c, max(0, p - 3, reset), p))
            if x
        ]
        nf = neg_far.inside(reset, p)
        na = _NEG_AFTER_RE.match(c[e : e + 8].lstrip())
        if found or nf is not None or na:
            start = min([x.start() for x in found] + ([nf] if nf is not None else []) + [p])
            return _Verdict("neg", f"negated: {c[start : e + (5 if na else 0)].strip()}", "negated")
        # another day, later, for someone else
        x = past.inside(reset, p)
        if x is not None:
            if _BARE_DAY_RE.match(c, x) and marked:  # "周日打卡✅": today may be that Sunday - ask
                return _Verdict("neutral", f"unsure, which day: {c[x:e].strip()}", "unsure")
            return _Verdict("neg", f"another day: {c[x:e].strip()}", "past")
        x = later.inside(reset, p)
        if x is None and not _DONE_AFTER_RE.match(c, e) and m.lastgroup != "done":
            x = soft_later.inside(reset, p)
        if x is not None or _LATER_NEAR_RE.search(near) or (not marked and _MODAL_NEAR_RE.search(c, max(0, p - 6), p)):
            return _Verdict("neg", f"later: {c[x if x is not None else max(0, p - 2) : e].strip()}", "later")
        # a habit, not today's act: "我一般6点起", "平时都是晚上打卡"
        habit = _HABIT_RE.search(c, max(0, p - 8), p)
        if habit is not None:
            return _Verdict("neg", f"task or rule: habitual: {c[habit.start() : e].strip()}", "rule")
        x = proxy.inside(0, p)
        if x is not None:
            return _Verdict("neg", f"for someone else: {c[x:e].strip()}", "proxy")
        if _EN_PROXY_AFTER_RE.match(c, e):
            return _Verdict("neg", f"for someone else: {c[p : e + 16].strip()}", "proxy")
        # a plan or a condition: "再打卡", "然后打卡", "读完来打卡" after a plan, "如果...就打卡", "check in later"
        before = c[max(0, p - 6) : p]
        cond = first_if if first_if < p else None
        step = _PLAN_AFTER_STEP_RE.search(c[max(0, p - 10) : p]) if m.lastgroup != "done" and not marked else None
        if step and _JUST_DONE_RE.search(c, max(0, p - 10), p):  # "刚吃完就来打卡": the step is behind us
            step = None
        if (
            _PLAN_NEAR_RE.search(before)
            or cond is not None
            or first_en_later < p
            or _EN_LATER_AFTER_RE.match(c, e)
            # "读完就打卡", "跑完回来打卡": a step after another act (a connector says so), or after a plan
            or (step and (step.lastindex or ctx.condition))
            # "画完了到酒店再发": done, but the act that counts comes later
            or (m.lastgroup == "done" and _BARE_LATER_RE.search(c, e))
        ):
            w = cond if cond is not None else max(0, p - 3)
            return _Verdict("neg", f"plan or condition: {c[w:e].strip()}", "later")
        # a task description or rule: "打卡说明：... 即可", "发布后打卡", "满21天退押金"
        if (
            (ctx.rule_from >= 0 and at + p >= ctx.rule_from)
            or _RULE_NEAR_RE.search(c, max(0, p - 12), p)
            or (_RULE_STEP_RE.search(before) and not _DONE_AFTER_RE.match(c, e))
            or _RULE_AFTER_RE.match(c, e)
        ):
            return _Verdict("neg", f"task or rule: {c[max(0, p - 4) : e].strip()}", "rule")
        # whose act: the last subject before the keyword in the clause
        who_other = max(_last_before(others, p), _last_before(names, p))
        who_self = _last_before(selves, p)
        if who_other > who_self:
            return _Verdict("neg", f"someone else: {c[who_other:e].strip()}", "other")
        # no subject here: the subject named last in the sentence so far (or in the previous clause) carries over
        prev_other = ""
        if who_other < 0 and who_self < 0 and at > 0:
            # within SUBJECT_REACH characters only: a comma-joined post of 20,000 characters must not make
            # every clause rescan everything before it (quadratic)
            reach = max(0, at - SUBJECT_REACH)
            lo = max(reach, max(ctx.text.rfind(ch, reach, at) for ch in "\n.!?;。；") + 1)
            prev_other = _other_subject(ctx.text[max(reach, min(lo, ctx.prev_at)) : at])
        if prev_other:  # "我妈比我还早，5点就起来打卡了"
            return _Verdict("neg", f"someone else: {prev_other} ... {c[max(0, p - 4) : e].strip()}", "other")
        # praise scopes over what comes before it and its own line ("Kelly 早起打卡一个月 膜拜"), not a
        # later line of one's own post ("da卡 今天读了三章 ... 路遥好佩服")
        pr = ctx.praise
        if (
            who_self < 0
            and pr
            and not ctx.self_anywhere
            and (pr.start() < at + e or ctx.text.find("\n", at + e, pr.start()) < 0)
        ):
            return _Verdict("neg", f"praise of someone else: {c[max(0, p - 4) : e].strip()}", "other")
    first = occs[0]
    if first.lastgroup == "done":
        return _Verdict("pos", f"done: {first.group(0).strip()}", "done")
    return _Verdict("pos", f"keyword {first.group(0).strip()}", "weak" if _WEAK_RE.match(first.group(0)) else "")


def _core(t: str) -> str:
    """Letters and digits only (emoji, punctuation and spaces dropped)."""
    return _NOT_CORE_RE.sub("", t)


_NOT_CORE_RE = re.compile(r"[\W_]+")


# a capitalised Latin given name followed by what a subject is followed by ("Lily 今天5点就起了", "Kevin 刚提交"):
# marked as a name (@) before case is folded
_LATIN_NAME_RE = re.compile(r"(?<![A-Za-z@])[A-Z][a-z]{1,9}(?=\s*(?:的|已|也|今|连|每|还|又|都|就|说|太|真|比|刚|早))")


def _analyse(body: str, keywords: tuple[str, ...] | None) -> _Verdict:
    """Keyword analysis of a message body (mentions stripped, quote cut, URLs removed)."""
    if body.lower() != body:  # capital letters: maybe a Latin name
        body = _LATIN_NAME_RE.sub(r"@\g<0>", body)
    t = _normalize(body).strip()
    if not t:
        return _Verdict("neg", "empty", "empty")
    kw_re = _keyword_re(keywords)
    core = _core(t)
    if not core and not kw_re.search(t):
        return _Verdict("neg", "emoji only", "emoji")
    if core and _is_ack(core):
        return _Verdict("neg", "acknowledgement", "ack")
    t = _blank(_NEUTRAL_RE, _CLOCK_RE.sub("点", t))
    if "《" in t or "「" in t or "“" in t or '"' in t or "'" in t:
        t = _blank(_QUOTED_RE, t)
    ctx = _Context(text=t)
    mk = _TODAY_MAKEUP_RE.search(t)
    line_end = t.find("\n", mk.end()) if mk else -1
    if (
        mk
        and not _PAST_RE.search(t, t.rfind("\n", 0, mk.start()) + 1, line_end if line_end >= 0 else len(t))
        and not _Q_MARK_RE.search(t, mk.end(), mk.end() + 8)
        and not _PROXY_RE.search(t, max(0, mk.start() - 8), mk.start())
    ):
        return _Verdict("pos", f"today's make-up: {mk.group(0).strip()}", "makeup_today")
    first_neg: _Verdict | None = None
    weak: _Verdict | None = None
    done: _Verdict | None = None
    unsure: _Verdict | None = None
    cats: set[str] = set()
    for clause, at, q_end in _clauses(t):
        v = _analyse_clause(clause, at, q_end, kw_re, ctx)
        ctx.prev_at = at
        if v is None:
            continue
        if v.status == "pos":
            if v.category == "weak":
                weak = weak or v
            elif v.category == "done":
                done = done or v
            else:
                return v
        elif v.category == "unsure":
            unsure = unsure or v
        else:
            cats.add(v.category)
            first_neg = first_neg or v
    # a day count ("今天是第21天了，大家一起坚持，记得打卡") and a done sentence ("线稿画完了，明天再打卡") are
    # weaker evidence than a check-in word: a reminder, rule, plan, negation or someone else's act outweighs them
    if done and not cats & {"negated", "later", "other", "rule", "makeup", "past", "proxy"}:
        if not _DONE_EVIDENCE_RE.search(t):  # "看完了" alone: done, but what, and when?
            return _Verdict("neutral", f"unsure, {done.reason}", "unsure")
        return done
    if weak and not cats & {"reminder", "rule", "other", "later", "question"}:
        return weak
    return first_neg or unsure or _Verdict("neutral", "no keyword")


SUBJECT_REACH = 200  # characters back that a sentence's subject carries over to a clause without one


def _other_subject(c: str) -> str:
    """Someone else named last in a clause (its subject for the next clause), else ""."""
    if _VOCATIVE_END_RE.search(c):
        return ""
    o = max(_last_before(_Spans(_OTHER_RE, c), len(c)), _last_before(_names(c), len(c)))
    if o < 0 or _last_before(_Spans(_SELF_RE, c), len(c)) > o:
        return ""
    return c[o : o + 4].strip()


# ---------------------------------------------------------------------------------------------------
# chains


def _exact(s: str) -> str:
    return " ".join((s or "").split()).lstrip("@＠")


def _entry_line(entry: ChainEntry) -> str:
    first = entry.content.split("\n", 1)[0] if entry.content else ""
    return f"{entry.name} {first}".strip()


def _starts_with_name(line: str, name: str) -> bool:
    """The entry line is the name, or starts with it followed by a space (names may hold spaces)."""
    return bool(name) and (line == name or (line.startswith(name) and line[len(name)] == " "))


def _links_of(entry: ChainEntry, hosts: tuple[str, ...]) -> tuple[str, ...]:
    return find_note_links(f"{entry.name} {entry.content}", hosts)


class _KnownName(NamedTuple):
    forms: tuple[str, str]  # (exact form, folded form)
    userid: str | None  # None: a name several members share


class _Names:
    """Known names prepared for matching; a name several members share has userid None."""

    def __init__(self, members: dict[str, str], shared: dict[str, tuple[str, ...]] | None = None):
        self.items = [_KnownName((_exact(n), _fold(n)), u) for n, u in members.items() if n and n.strip()]
        self.items += [_KnownName((_exact(n), _fold(n)), None) for n in (shared or {}) if n and n.strip()]


def _resolve_member(entry: ChainEntry, names: _Names) -> tuple[str, str] | None:
    """(userid, name as written) of the known member an entry names: exact (longest name) first, then
    case-insensitive; None when unknown or ambiguous; ("", the shared name) when the name is one
    that several members share."""
    raw_line = _entry_line(entry)
    for form, line in ((0, _exact(raw_line)), (1, _fold(raw_line))):
        hits = [
            (len(item.forms[form]), item.userid, len(item.forms[0].split()))
            for item in names.items
            if _starts_with_name(line, item.forms[form])
        ]
        if not hits:
            continue
        best = max(h[0] for h in hits)
        found = {(u, words) for length, u, words in hits if length == best}
        if None in {u for u, _ in found}:
            shared = next(
                item.forms[0]
                for item in names.items
                if item.userid is None and len(item.forms[form]) == best and _starts_with_name(line, item.forms[form])
            )
            return "", shared
        known = {(u, words) for u, words in found if u is not None}
        if len({u for u, _ in known}) != 1:
            return None  # two members fit equally well
        uid, words = known.pop()
        return uid, " ".join(raw_line.split()[:words])  # "Momo Li", not just "Momo"
    return None


def _sender_entry(
    chain: Chain, sender_name: str, sender_userid: str, members: dict[str, str]
) -> tuple[ChainEntry | None, str]:
    """The sender's own entry and how it was found (or why not)."""
    mine_raw = [sender_name] if sender_name and sender_name.strip() else []
    if sender_userid:
        mine_raw += [n for n, u in members.items() if u == sender_userid and n.strip()]
    mine = [(_exact(n), _fold(n)) for n in mine_raw]
    mine_exact = {m[0] for m in mine}
    others = [
        (_exact(n), _fold(n))
        for n, u in members.items()
        if n.strip() and u != sender_userid and _exact(n) not in mine_exact
    ]
    lines = [(_exact(_entry_line(e)), _fold(_entry_line(e))) for e in chain.entries]

    for form, how in ((0, "exact"), (1, "case-insensitive")):
        hits = []
        for entry, line in zip(chain.entries, lines, strict=True):
            best_mine = max((len(m[form]) for m in mine if _starts_with_name(line[form], m[form])), default=-1)
            if best_mine < 0:
                continue
            if any(len(o[form]) > best_mine and _starts_with_name(line[form], o[form]) for o in others):
                continue  # "Momo Li 已更" belongs to the member "Momo Li", not to "Momo"
            hits.append(entry)
        if hits:
            return hits[-1], how  # a person's last entry wins
    if sender_userid:
        uid = _fold(sender_userid)
        hits = [e for e in chain.entries if _fold(e.name) == uid]
        if hits:
            return hits[-1], "userid"
    # containment: unambiguous only, never an entry that names another known member
    keys = [m[1] for m in mine if m[1]]
    hits = []
    for entry, line in zip(chain.entries, lines, strict=True):
        en = _fold(entry.name)
        if not en or any(_starts_with_name(line[1], o[1]) for o in others):
            continue
        if any(min(len(en), len(k)) >= 2 and (en in k or k in en) for k in keys):
            hits.append(entry)
    if len(hits) == 1:
        return hits[0], "name contains"
    if len(hits) > 1:
        return None, "ambiguous own entry"
    return None, "no own entry"


def _chain_detection(
    chain: Chain,
    *,
    sender_userid: str,
    sender_name: str,
    sender_is_leader: bool,
    members: dict[str, str],
    hosts: tuple[str, ...],
    addressed: bool,
    shared: dict[str, tuple[str, ...]] | None = None,
) -> Detection:
    if sender_is_leader:
        last: dict[str, tuple[ChainEntry, str]] = {}
        order: list[str] = []
        unclear: dict[str, tuple[str, ...]] = {}
        shared = shared or {}
        names = _Names(members, shared)
        for entry in chain.entries:
            found = _resolve_member(entry, names)
            if found is None:
                continue
            uid, written = found
            if not uid:
                if entry.done:
                    unclear[written] = tuple(shared[written])
                continue
            if uid not in last:
                order.append(uid)
            last[uid] = (entry, written)  # the last entry of a person wins
        credits = tuple(Credit(last[u][1], u, _links_of(last[u][0], hosts)) for u in order if last[u][0].done)
        why = f"chain by leader: {len(credits)} credited" + (f", {len(unclear)} unclear" if unclear else "")
        return Detection("chain", credits, why, addressed, tuple(unclear.items()))
    own, how = _sender_entry(chain, sender_name, sender_userid, members)
    if own is None:
        return Detection("chain", (), f"chain: {how}", addressed)
    if not own.done:
        return Detection("chain", (), f"chain: own entry not done ({how})", addressed)
    credit = Credit(None, sender_userid or None, _links_of(own, hosts))
    return Detection("chain", (credit,), f"chain: own entry ({how})", addressed)


# ---------------------------------------------------------------------------------------------------
# the entry point

READ_HEAD, READ_TAIL = 1500, 500  # characters of a long post's start and end that are read for words

_MENTION_RE = re.compile(r"(?:^|\s)[@＠][^\s@＠]")
# a quoted message put above the separator: 「阿杰：今天谁读完了」 (name, colon, the quoted words)
_QUOTE_BLOCK_RE = re.compile(r"\s*[「『“\"][^\n「『]{1,24}?[:：][^\n]*[」』”\"]\s*")


def _own_text(raw: str) -> str:
    """The sender's own words: the text before a quote separator, unless what stands before it is a
    quoted message (「name：...」), in which case the reply is what follows it."""
    head = cut_quote(raw)
    if len(head) < len(raw) and _QUOTE_BLOCK_RE.fullmatch(head):
        lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        for i, line in enumerate(lines):
            if is_quote_separator(line):
                return cut_quote("\n".join(lines[i + 1 :]))
    return head


def detect(
    text: str,
    msgtype: str = "text",
    *,
    sender_userid: str = "",
    sender_name: str = "",
    sender_is_leader: bool = False,
    members: dict[str, str] | None = None,
    keywords: Sequence[str] | None = None,
    link_hosts: Sequence[str] | None = None,
    shared_names: dict[str, tuple[str, ...]] | None = None,
) -> Detection:
    """Classify one inbound message.

    members maps display name -> userid for the group's known members (for chain entries);
    shared_names maps a display name several members share -> their userids (never credited by guess).
    keywords / link_hosts override the default check-in keywords and note-link hosts (per-camp wording).
    msgtype "image" is a check-in; "mixed" is taken to carry an image and is a check-in unless its text
    says otherwise (a question, negation, reminder, 补卡 or another day).
    """
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    raw = raw[:MAX_TEXT]
    addressed = bool(_MENTION_RE.search(raw))
    mt = (msgtype or "text").strip().lower()
    uid = sender_userid or None
    hosts = note_link_hosts(link_hosts)
    members = members or {}

    if mt == "image":
        return Detection("checkin", (Credit(None, uid),), "image", addressed)

    chain = parse_chain(raw)
    if chain is not None:
        return _chain_detection(
            chain,
            sender_userid=sender_userid or "",
            sender_name=sender_name or "",
            sender_is_leader=sender_is_leader,
            members=members,
            hosts=hosts,
            addressed=addressed,
            shared=shared_names,
        )

    body = strip_mentions(_own_text(raw))
    nbody = unicodedata.normalize("NFKC", body)
    links, spans = _links_in(nbody, hosts)
    if spans:  # words inside URLs ("/day3") are not words
        parts, last = [], 0
        for s, e in spans:
            parts.append(nbody[last:s])
            parts.append("\n")  # a link ends a sentence
            last = e
        parts.append(nbody[last:])
        nbody = "".join(parts)
    if len(nbody) > READ_HEAD + READ_TAIL:
        # a pasted essay: its check-in words are at its start or its end; reading every clause of 20,000
        # characters would cost a worker ~0.2 s per post (links are found in the whole text above)
        nbody = nbody[:READ_HEAD] + "\n" + nbody[-READ_TAIL:]
    verdict = _analyse(nbody, tuple(keywords) if keywords is not None else None)
    decisive = verdict.status == "neg" and verdict.category in (
        "negated",
        "makeup",
        "later",
        "past",
        "reminder",
        "proxy",
    )

    if mt == "mixed":
        if decisive or (verdict.status == "neg" and verdict.category == "question"):
            return Detection("none", (), f"mixed, {verdict.reason}", addressed)
        return Detection("checkin", (Credit(None, uid, tuple(links)),), "mixed with image", addressed)
    if links:
        if decisive:
            return Detection("none", (), f"note link, {verdict.reason}", addressed)
        if verdict.status != "pos" or verdict.category in ("done", "weak"):  # a keyword of one's own decides
            shared = _not_own_note(_normalize(nbody))
            if shared:
                return Detection("none", (), f"note link shared for others: {shared.strip()}", addressed)
        return Detection("checkin", (Credit(None, uid, tuple(links)),), "note link", addressed)
    if verdict.status == "pos":
        return Detection("checkin", (Credit(None, uid),), verdict.reason, addressed)
    return Detection("none", (), verdict.reason, addressed, unsure=verdict.category == "unsure")
