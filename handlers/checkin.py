"""Is this post a check-in? Pure functions, no I/O.

detect() looks at one inbound message and answers with a Detection:
- "checkin": the sender checked in (keyword post, note link, image post);
- "chain":   a 接龙 chain (see handlers.chain), with the credits it earns (possibly none);
- "none":    anything else - questions, negations, postponements, 补卡 requests, reminders to others,
             acknowledgements, chit-chat, emoji.

How text is read (all linear time; no regular expression can backtrack badly):
1. Text after a quote separator (``- - - -``) is someone else's message and is dropped; leading and
   trailing @mentions are stripped; URLs are taken out before looking for words.
2. The text is normalised: NFKC (full-width letters, digits and punctuation become ASCII), casefold,
   common traditional characters to simplified (沒→没, 還→还, 發→发, 記→记 ...), 打咭→打卡.
3. It is cut into clauses at punctuation, line breaks and contrast words (但是, 不过, 还是 ...).
4. In each clause every keyword occurrence is checked against what surrounds it: a question (怎么/在哪/
   吗/？...), a reminder to others (大家/记得/别忘/快...), a negation (没/还没/未/不/忘了...), a 补卡 (补卡,
   晚上补, 补昨天的...), another day (昨天/明天/晚点/马上/准备...), a check-in for someone else (帮小王打卡).
   A "today" word (今天/今日/现在/刚刚) between such a time or negation word and the keyword lifts it:
   "昨天忘了 今天打卡" is a check-in. A keyword used as a noun (打卡规则, 打卡时间, 打卡群...) is not one.
5. A clause with a keyword and nothing against any of its keywords makes the post a check-in.
6. A note link makes a check-in unless the text negates, postpones, reminds, asks for 补卡 or shares
   someone else's note (推荐/参考...); an image is a check-in; a "mixed" post is taken to carry an
   image and is one unless its text says otherwise (that, or a question).
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache

from .chain import MAX_TEXT, Chain, ChainEntry, cut_quote, parse_chain, strip_mentions

__all__ = ["Credit", "Detection", "detect", "strip_mentions", "find_note_links", "DEFAULT_LINK_HOSTS"]

DEFAULT_LINK_HOSTS: tuple[str, ...] = ("xhslink.com", "xiaohongshu.com")


@dataclass(frozen=True)
class Credit:
    name: str | None      # display name as written in a chain entry; None = the sender themself
    userid: str | None    # resolved userid (sender's, or a known member's for leader chains), else None
    note_links: tuple[str, ...] = ()   # 小红书 links found for this credit


@dataclass(frozen=True)
class Detection:
    kind: str   # "checkin" | "chain" | "none"
    credits: tuple[Credit, ...] = ()
    reason: str = ""   # short English why (for logs/tests)
    addressed: bool = False  # the original text @-mentions someone (e.g. the robot)


# ---------------------------------------------------------------------------------------------------
# normalisation

_TRAD_PAIRS = (
    "沒没 還还 記记 嗎吗 麼么 麽么 點点 補补 發发 髮发 筆笔 業业 別别 謝谢 們们 這这 週周 請请 過过 時时 會会 後后 誰谁 "
    "讓让 說说 簽签 為为 準准 備备 寫写 條条 該该 裡里 裏里 龍龙 續续 繼继 開开 學学 習习 課课 題题 問问 幾几 號号 個个 "
    "來来 給给 現现 總总 結结 錯错 應应 當当 頭头 從从 與与 紀纪 錄录 曬晒 貼贴 傳传 趕赶 緊紧 畢毕 佈布 難难 見见 覺觉 "
    "連连 遲迟 馬马 劃划 爭争 盡尽 儘尽 試试 夥伙 寶宝 親亲 務务 標标 規规 則则 計计 統统 幫帮 數数 無无 單单 間间 "
    "機机 員员 議议 約约 歡欢 讀读 書书 圖图 鍾钟 鐘钟 於于 啟启 氣气 喚唤 醒醒 聽听 懂懂 嗯嗯 啦啦 滿满 鬧闹 費费 "
    "隊队 經经 組组 長长 師师 絡络 鏈链 網网 頁页 內内 復复 錶表 紅红 線线 擊击 戰战 級级 積积 極极 堅坚 篇篇 報报 態态 "
    "談谈 達达 處处 動动 愛爱 戲戏 樂乐 燈灯 認认 識识 讚赞 贊赞 棒棒 厲厉 害害 謂谓 歲岁 晚晚 點点 鐘钟 稍稍 兒儿 "
    "雲云 東东 車车 門门 問问 聞闻 鬆松 實实 際际 驗验 險险 養养 飯饭 麵面 颱台 臺台 區区 醫医 藥药 癒愈 況况 "
    "離离 題题 麗丽 陽阳 陰阴 風风 園园 圓圆 鮮鲜 魚鱼 鳥鸟 羅罗 蘭兰 葉叶 萬万 豐丰 嚴严 熱热 歷历 曆历"
)
_TRAD = str.maketrans({p[0]: p[1] for p in _TRAD_PAIRS.split()})
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\ufe0e\ufe0f"), None)


def _normalize(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).casefold().translate(_TRAD).translate(_ZERO_WIDTH)
    return s.replace("打咭", "打卡").replace("甚么", "什么")


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


def _trim_url(u: str) -> str:
    while u:
        if u[-1] in _TRAILING:
            u = u[:-1]
        elif u[-1] == ")" and u.count("(") < u.count(")"):
            u = u[:-1]
        elif u[-1] == "]" and u.count("[") < u.count("]"):
            u = u[:-1]
        else:
            break
    return u


def _links_in(text: str, hosts: tuple[str, ...]) -> tuple[list[str], list[tuple[int, int]]]:
    """(note links, spans of every URL-looking run) in NFKC text."""
    links: list[str] = []
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
                host = stripped[:slash.start()].split(":", 1)[0].lower().rstrip(".")
                candidate = stripped
                if not _host_matches(host, hosts):
                    continue
                is_url = True
            if host and _host_matches(host, hosts):
                link = _trim_url(candidate)
                if link and link not in links:
                    links.append(link)
        if is_url:
            spans.append(run.span())
    return links, spans


def _hosts(link_hosts: tuple[str, ...] | None) -> tuple[str, ...]:
    if link_hosts is None:
        return DEFAULT_LINK_HOSTS
    out = []
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


def find_note_links(text: str, link_hosts: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Note links (URLs on the 小红书 hosts, or on link_hosts when given) in the order they appear."""
    if not text:
        return ()
    links, _ = _links_in(unicodedata.normalize("NFKC", text[:MAX_TEXT]), _hosts(link_hosts))
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
    | (?<![a-z])(?:done|check(?:ed)?[ -]?in)(?![a-z])
    | [✅☑✔✓]
"""
_KEYWORDS_RE = re.compile(_DEFAULT_KEYWORDS, re.VERBOSE)


@lru_cache(maxsize=64)
def _keyword_re(keywords: tuple[str, ...] | None) -> re.Pattern:
    if keywords is None:
        return _KEYWORDS_RE
    extend = bool(keywords) and keywords[0] == "+"      # ("+", words...): the defaults and these
    words = sorted({_normalize(k).strip() for k in keywords[extend:] if k and k.strip()}, key=len, reverse=True)
    if extend:
        return re.compile(_DEFAULT_KEYWORDS + "".join(" | " + re.escape(w) for w in words), re.VERBOSE)
    if not words:
        return re.compile(r"(?!x)x")  # matches nothing
    return re.compile("|".join(re.escape(w) for w in words))


# a keyword followed by one of these is a noun ("打卡规则"), not the act
_NOUN_AFTER_RE = re.compile(
    r"\s*(?:规则|要求|时间|方式|方法|格式|链接|群|表|记录|天数|次数|率|情况|统计|提醒|截止|入口|功能|小程序|机器人"
    r"|助手|的人|的同学|的小伙伴|的伙伴|的宝|的朋友|名单|开始|接龙|任务|目标|计划|活动|内容|模板|这件事|的事|制度|标准)"
)
# phrases that look like a marker below but are not ("不错", "没想到", "大家好")
_NEUTRAL_RE = re.compile(
    r"没想到|不错|不少|不仅|不停|不断|不知不觉|不管|不得不|没事|没问题|不容易|了不起|忍不住|不一样|差不多|不然|一不小心"
    r"|大家好|和大家|跟大家|陪大家|与大家|谢谢大家|感谢大家|不知道(?:怎么|什么|咋|如何|写什么)?|没什么|什么的"
    r"|开会|开完会|会议|会员|学会|体会|机会|社会|约会|聚会|不会吧|去年|过去|目前|没关系|别人|特别|区别|分别|告别"
)
_CLAUSE_RE = re.compile(r"([^,.;!?:，。；！？：、~…\n]*)([,.;!?:，。；！？：、~…\n]*)")
_CONTRAST_RE = re.compile(r"但是|但|不过|可是|然而|还是")

_WH_BEFORE_RE = re.compile(
    r"怎么|怎样|如何|咋|在哪|哪里|哪儿|哪个|哪天|什么|何时|几点|是否|能否|能不能|可不可以|要不要|需不需要|用不用"
    r"|有没有|是不是|会不会|谁|为什么|为啥|多久|啥|(?<![a-z])(?:how|where|when|should|do i|can i)(?![a-z])"
)
_WH_AFTER_RE = re.compile(
    r"怎么|怎样|如何|咋|在哪|哪里|哪儿|哪个|什么|何时|几点|是否|能否|谁|为什么|为啥|多久|啥|吗|么|嘛|呢"
)
_Q_SUFFIX_RE = re.compile(r"\s*了?\s*(?:吗|么|嘛|没有?|木有|呢|不|与否|否)")
_REMIND_RE = re.compile(
    r"大家|各位|同学们|伙伴们|宝子们|宝宝们|家人们|姐妹们|朋友们|亲们|小伙伴|你们|记得|别忘|不要忘|莫忘|提醒|督促|催"
    r"|抓紧|赶紧|赶快|(?<!申)请(?!假)|麻烦|(?<![a-z])(?:remember|don't forget|please)(?![a-z])"
)
_REMIND_NEAR_RE = re.compile(r"(?:快(?:去|点|来)?|一起|前)$")
# message-level reminder openers: "提醒一下，今晚12点前打卡"
_REMIND_OPENER_RE = re.compile(r"提醒一下|提醒大家|温馨提示|温馨提醒|友情提示|友情提醒|小提醒|通知")
_NEG_NEAR_RE = re.compile(r"还没有?|没有?|未|无法|没法|不能|忘")     # within 6 chars before
_NEG_BU_RE = re.compile(r"不|别")                                    # within 3 chars before
_NEG_FAR_RE = re.compile(r"忘|(?<![a-z])(?:not|no|never|haven't|havent|didn't|didnt|won't|can't|cannot)(?![a-z])")
_NEG_AFTER_RE = re.compile(r"还没|没有|没写|没更|没发|没打|没成功|没交|未完成|未更|不了|不上|失败|不成|没法|不行")
_MAKEUP_RE = re.compile(r"补(?:卡|打|签|更|交|发|一下|一个|个|上|昨|前|做|写|一篇|回|到|[哈呀啊哦吧的]|\s*$)")
# "打卡 补上啦" said the same day reports a done check-in, not a request to credit another day.
_MADE_UP_RE = re.compile(r"补(?:上|好|完|交)(?:了|啦|咯|喽)")
_BARE_MAKEUP_RE = re.compile(r"补(?:打?卡|签到?|更|交作业)")
_BARE_NEG_RE = re.compile(r"(?:还)?没有?(?:更|发笔记|写完|写)|未(?:更|完成|发)|不更|停更|断更")
_PAST_RE = re.compile(r"昨天|昨日|昨晚|前天|前日|上周|上礼拜|之前|那天")
_LATER_RE = re.compile(
    r"晚点|晚些|晚一点|等会|等下|等一下|待会|一会|稍后|稍等|明天|明日|明早|明晚|后天|下次|下周|改天|回头|马上|这就"
    r"|立刻|立马|准备|打算|计划|争取|尽量|尽快|努力|等我|即将|将要|今晚(?:再|会|要)|晚上(?:再|会|要)"
)
_LATER_NEAR_RE = re.compile(r"(?:会|去|想|将|要|应该|应当|该|可以)$")
_PROXY_RE = re.compile(r"(?:帮|替|代)(?!我)")
_TODAY_RE = re.compile(r"今天|今日|今儿|现在|刚刚|刚才|今早|today")
# an evening or after-work time before the keyword is a plan, unless the keyword says it is done ("今晚打卡了")
_SOFT_LATER_RE = re.compile(r"今晚|晚上|夜里|睡前|下班|下课|下午|中午|等下班")
_DONE_AFTER_RE = re.compile(r"\s*(?:了|啦|完|好|成功|[✅☑✔✓])")
# a link shared for others to read is not the sender's own note
_OTHERS_NOTE_RE = re.compile(r"推荐|参考|学习一下|大家看|大家可以看|值得一看|转发|别人的|这位博主|这个博主")

# acknowledgement words; a message made only of these (and emoji/punctuation) is an acknowledgement
_ACK_WORDS = (
    "收到", "好的", "好哒", "好滴", "好嘞", "好哦", "好呀", "好吧", "好", "okay", "okk", "ok", "嗯", "哦", "噢", "谢谢",
    "多谢", "感谢", "谢", "thankyou", "thanks", "thx", "明白", "了解", "知道了", "知道", "老师", "辛苦了", "辛苦",
    "啦", "呀", "了", "哈", "呵", "1", "yes", "是的", "对的", "对", "没问题", "可以", "行", "收", "滴", "哒", "嘞",
    "耶", "加油", "真棒", "棒", "厉害", "赞", "您", "你", "大家",
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

    def __init__(self, regex: re.Pattern, text: str):
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
    status: str   # "pos" | "neg" | "neutral"
    reason: str
    category: str = ""  # for "neg": question, reminder, negated, makeup, past, later, proxy, ack, emoji, empty


def _blank(regex: re.Pattern, s: str) -> str:
    return regex.sub(lambda m: "_" * len(m.group(0)), s)


def _clauses(t: str):
    """(clause, absolute start, ends with a question mark) for each clause of normalised text t."""
    for m in _CLAUSE_RE.finditer(t):
        body, delim = m.group(1), m.group(2)
        if not body and not delim:
            continue
        question = "?" in delim
        start = m.start(1)
        pieces = []
        last = 0
        for cm in _CONTRAST_RE.finditer(body):
            pieces.append((body[last:cm.start()], start + last))
            last = cm.end()
        pieces.append((body[last:], start + last))
        for i, (piece, at) in enumerate(pieces):
            if piece.strip():
                yield piece, at, question and i == len(pieces) - 1


def _analyse_clause(c: str, at: int, q_end: bool, kw_re: re.Pattern, opener_end: int) -> _Verdict | None:
    occs = [m for m in kw_re.finditer(c) if not _NOUN_AFTER_RE.match(c, m.end())]
    if not occs:
        # no keyword, but "补卡" is a 补卡 request and "还没更" a negation all the same
        bare = _BARE_MAKEUP_RE.search(c)
        if bare:
            return _Verdict("neg", f"makeup: {bare.group(0)}", "makeup")
        bare = _BARE_NEG_RE.search(c)
        if bare:
            return _Verdict("neg", f"negated: {bare.group(0)}", "negated")
        return None
    makeup = _MAKEUP_RE.search(c)
    if makeup and _MADE_UP_RE.search(c) and not _PAST_RE.search(c):
        makeup = None
    if makeup:
        return _Verdict("neg", f"makeup: {c[makeup.start():makeup.end() + 2].strip()}", "makeup")
    wh = _Spans(_WH_BEFORE_RE, c)
    remind = _Spans(_REMIND_RE, c)
    neg_far = _Spans(_NEG_FAR_RE, c)
    past = _Spans(_PAST_RE, c)
    later = _Spans(_LATER_RE, c)
    proxy = _Spans(_PROXY_RE, c)
    today = _Spans(_TODAY_RE, c)
    soft_later = _Spans(_SOFT_LATER_RE, c)
    ws = [i for i, ch in enumerate(c) if ch.isspace()]
    tail = c.rstrip()
    for m in occs:
        p, e = m.start(), m.end()
        # question
        k = bisect_left(ws, e)
        seg_end = ws[k] if k < len(ws) else len(c)
        after_seg = c[e:min(seg_end, e + 12)]
        if (wh.inside(0, p) is not None or _WH_AFTER_RE.search(after_seg) or _Q_SUFFIX_RE.match(c, e)
                or (q_end and (seg_end >= len(tail) or (len(c) - e <= 12 and len(c[e:].replace(" ", "")) <= 3)))):
            return _Verdict("neg", f"question: {c[max(0, p - 4):e + 3].strip()}", "question")
        near = c[max(0, p - 4):p].replace(" ", "")
        # reminder to others
        r = remind.inside(0, p)
        if r is not None or _REMIND_NEAR_RE.search(near) or (opener_end and at + p >= opener_end):
            return _Verdict("neg", f"reminder: {c[r if r is not None else max(0, p - 3):e].strip()}", "reminder")
        reset = today.last_end_before(p)
        # negation
        found = [x for x in (_NEG_NEAR_RE.search(c, max(0, p - 6, reset), p),
                             _NEG_BU_RE.search(c, max(0, p - 3, reset), p)) if x]
        nf = neg_far.inside(reset, p)
        na = _NEG_AFTER_RE.search(c[e:e + 5].lstrip())
        if found or nf is not None or na:
            start = min([x.start() for x in found] + ([nf] if nf is not None else []) + [p])
            return _Verdict("neg", f"negated: {c[start:e + (5 if na else 0)].strip()}", "negated")
        # another day, later, for someone else
        x = past.inside(reset, p)
        if x is not None:
            return _Verdict("neg", f"another day: {c[x:e].strip()}", "past")
        x = later.inside(reset, p)
        if x is None and not _DONE_AFTER_RE.match(c, e):
            x = soft_later.inside(reset, p)
        if x is not None or _LATER_NEAR_RE.search(near):
            return _Verdict("neg", f"later: {c[x if x is not None else max(0, p - 2):e].strip()}", "later")
        x = proxy.inside(0, p)
        if x is not None:
            return _Verdict("neg", f"for someone else: {c[x:e].strip()}", "proxy")
    return _Verdict("pos", f"keyword {occs[0].group(0).strip()}")


def _core(t: str) -> str:
    """Letters and digits only (emoji, punctuation and spaces dropped)."""
    return "".join(ch for ch in t if unicodedata.category(ch)[0] in "LN")


def _analyse(body: str, keywords: tuple[str, ...] | None) -> _Verdict:
    """Keyword analysis of a message body (mentions stripped, quote cut, URLs removed)."""
    t = _normalize(body).strip()
    if not t:
        return _Verdict("neg", "empty", "empty")
    kw_re = _keyword_re(keywords)
    core = _core(t)
    if not core and not kw_re.search(t):
        return _Verdict("neg", "emoji only", "emoji")
    if core and _is_ack(core):
        return _Verdict("neg", "acknowledgement", "ack")
    t = _blank(_NEUTRAL_RE, t)
    opener = _REMIND_OPENER_RE.search(t)
    opener_end = opener.end() if opener else 0
    first_neg: _Verdict | None = None
    for clause, at, q_end in _clauses(t):
        v = _analyse_clause(clause, at, q_end, kw_re, opener_end)
        if v is None:
            continue
        if v.status == "pos":
            return v
        if first_neg is None:
            first_neg = v
    return first_neg or _Verdict("neutral", "no keyword")


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


class _Names:
    """Known names prepared for matching: (exact form, folded form, userid)."""

    def __init__(self, members: dict[str, str]):
        self.items = [(_exact(n), _fold(n), u) for n, u in members.items() if n and n.strip()]


def _resolve_member(entry: ChainEntry, names: _Names) -> tuple[str, str] | None:
    """(userid, name as written) of the known member an entry names: exact (longest name) first, then
    case-insensitive; None when unknown or ambiguous."""
    raw_line = _entry_line(entry)
    for form, line in ((0, _exact(raw_line)), (1, _fold(raw_line))):
        hits = [(len(item[form]), item[2], len(item[0].split())) for item in names.items
                if _starts_with_name(line, item[form])]
        if not hits:
            continue
        best = max(h[0] for h in hits)
        found = {(u, words) for length, u, words in hits if length == best}
        if len({u for u, _ in found}) != 1:
            return None  # two members fit equally well
        uid, words = found.pop()
        return uid, " ".join(raw_line.split()[:words])  # "Momo Li", not just "Momo"
    return None


def _sender_entry(chain: Chain, sender_name: str, sender_userid: str,
                  members: dict[str, str]) -> tuple[ChainEntry | None, str]:
    """The sender's own entry and how it was found (or why not)."""
    mine_raw = [sender_name] if sender_name and sender_name.strip() else []
    if sender_userid:
        mine_raw += [n for n, u in members.items() if u == sender_userid and n.strip()]
    mine = [(_exact(n), _fold(n)) for n in mine_raw]
    mine_exact = {m[0] for m in mine}
    others = [(_exact(n), _fold(n)) for n, u in members.items()
              if n.strip() and u != sender_userid and _exact(n) not in mine_exact]
    lines = [(_exact(_entry_line(e)), _fold(_entry_line(e))) for e in chain.entries]

    for form, how in ((0, "exact"), (1, "case-insensitive")):
        hits = []
        for entry, line in zip(chain.entries, lines):
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
    for entry, line in zip(chain.entries, lines):
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


def _chain_detection(chain: Chain, *, sender_userid: str, sender_name: str, sender_is_leader: bool,
                     members: dict[str, str], hosts: tuple[str, ...], addressed: bool) -> Detection:
    if sender_is_leader:
        last: dict[str, tuple[ChainEntry, str]] = {}
        order: list[str] = []
        names = _Names(members)
        for entry in chain.entries:
            found = _resolve_member(entry, names)
            if found is None:
                continue
            uid, written = found
            if uid not in last:
                order.append(uid)
            last[uid] = (entry, written)  # the last entry of a person wins
        credits = tuple(Credit(last[u][1], u, _links_of(last[u][0], hosts)) for u in order if last[u][0].done)
        return Detection("chain", credits, f"chain by leader: {len(credits)} credited", addressed)
    entry, how = _sender_entry(chain, sender_name, sender_userid, members)
    if entry is None:
        return Detection("chain", (), f"chain: {how}", addressed)
    if not entry.done:
        return Detection("chain", (), f"chain: own entry not done ({how})", addressed)
    credit = Credit(None, sender_userid or None, _links_of(entry, hosts))
    return Detection("chain", (credit,), f"chain: own entry ({how})", addressed)


# ---------------------------------------------------------------------------------------------------
# the entry point

_MENTION_RE = re.compile(r"(?:^|\s)[@＠][^\s@＠]")


def detect(text: str, msgtype: str = "text", *, sender_userid: str = "", sender_name: str = "",
           sender_is_leader: bool = False, members: dict[str, str] | None = None,
           keywords: tuple[str, ...] | None = None, link_hosts: tuple[str, ...] | None = None) -> Detection:
    """Classify one inbound message.

    members maps display name -> userid for the group's known members (for chain entries).
    keywords / link_hosts override the default check-in keywords and note-link hosts (per-camp wording).
    msgtype "image" is a check-in; "mixed" is taken to carry an image and is a check-in unless its text
    says otherwise (a question, negation, reminder, 补卡 or another day).
    """
    raw = text if isinstance(text, str) else ("" if text is None else str(text))
    raw = raw[:MAX_TEXT]
    addressed = bool(_MENTION_RE.search(raw))
    mt = (msgtype or "text").strip().lower()
    uid = sender_userid or None
    hosts = _hosts(link_hosts)
    members = members or {}

    if mt == "image":
        return Detection("checkin", (Credit(None, uid),), "image", addressed)

    chain = parse_chain(raw)
    if chain is not None:
        return _chain_detection(chain, sender_userid=sender_userid or "", sender_name=sender_name or "",
                                sender_is_leader=sender_is_leader, members=members, hosts=hosts,
                                addressed=addressed)

    body = strip_mentions(cut_quote(raw))
    nbody = unicodedata.normalize("NFKC", body)
    links, spans = _links_in(nbody, hosts)
    if spans:  # words inside URLs ("/day3") are not words
        parts, last = [], 0
        for s, e in spans:
            parts.append(nbody[last:s])
            parts.append(" ")
            last = e
        parts.append(nbody[last:])
        nbody = "".join(parts)
    verdict = _analyse(nbody, tuple(keywords) if keywords is not None else None)
    decisive = verdict.status == "neg" and verdict.category in ("negated", "makeup", "later", "past",
                                                                "reminder", "proxy")

    if mt == "mixed":
        if decisive or (verdict.status == "neg" and verdict.category == "question"):
            return Detection("none", (), f"mixed, {verdict.reason}", addressed)
        return Detection("checkin", (Credit(None, uid, tuple(links)),), "mixed with image", addressed)
    if links:
        if decisive:
            return Detection("none", (), f"note link, {verdict.reason}", addressed)
        if verdict.status != "pos":
            shared = _OTHERS_NOTE_RE.search(_normalize(nbody))
            if shared:
                return Detection("none", (), f"note link shared for others: {shared.group(0)}", addressed)
        return Detection("checkin", (Credit(None, uid, tuple(links)),), "note link", addressed)
    if verdict.status == "pos":
        return Detection("checkin", (Credit(None, uid),), verdict.reason, addressed)
    return Detection("none", (), verdict.reason, addressed)
